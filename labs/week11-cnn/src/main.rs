//! Runs the week 11 lab end to end: `cargo run -p week11-cnn -- --help`.

use anyhow::Result;
use candle_core::{Device, Tensor};
use clap::Parser;
use serde::Serialize;
use std::fmt;
use std::process::ExitCode;
use wb_core::lab::median_ms;
use wb_data::SplitMix64;
use wb_lab::{Lab, LabArgs};
use wb_plot::{Heatmap, ImageGrid, LegendPosition, LinePlot, Series};
use week11_cnn::augment::{Augmentation, augment};
use week11_cnn::conv::{conv2d_direct, conv2d_im2col, max_pool2d, values};
use week11_cnn::data::{self, Which};
use week11_cnn::model::{self, TrainConfig, accuracy, confusion, predict};

/// Week 11: convolution from scratch (direct and im2col) against candle, a CNN on MNIST-10k and
/// Fashion-MNIST, and what data augmentation buys when only 1,000 images are labelled.
#[derive(Debug, Parser)]
#[command(version, allow_negative_numbers = true)]
struct Args {
    /// Epochs of the MNIST and Fashion-MNIST trainings (8,000 images each)
    #[arg(long, default_value_t = 5)]
    epochs: usize,
    /// Epochs of each of the two 1,000-image trainings (with and without augmentation)
    #[arg(long, default_value_t = 12)]
    small_epochs: usize,
    /// Seed of the initial weights, batches and augmentations
    #[arg(long, default_value_t = 11)]
    seed: u64,
    #[command(flatten)]
    lab: LabArgs,
}

#[derive(Serialize)]
struct Report {
    conv_vs_candle_max_abs_diff: ConvDiffs,
    conv_ms: ConvTimes,
    mnist: Training,
    fashion_mnist: Training,
    augmentation_1000: Augmented,
}

#[derive(Serialize)]
struct ConvDiffs {
    direct: f32,
    im2col: f32,
    max_pool: f32,
}

#[derive(Serialize)]
struct ConvTimes {
    direct: f64,
    im2col: f64,
    candle: f64,
}

/// One CNN trained on 8,000 images and tested on 2,000.
#[derive(Serialize)]
struct Training {
    epochs: usize,
    test_accuracy: f64,
    per_epoch: Vec<f64>,
    per_class: Vec<f64>,
    train_seconds: f64,
    /// The most frequent error: (true class, predicted class, count).
    worst_confusion: (usize, usize, usize),
}

#[derive(Serialize)]
struct Augmented {
    epochs: usize,
    without: f64,
    with: f64,
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> Result<f32> {
    let (a, b) = (values(a)?, values(b)?);
    Ok(a.iter()
        .zip(&b)
        .fold(0f32, |m, (x, y)| m.max((x - y).abs())))
}

fn random(shape: &[usize], rng: &mut SplitMix64) -> Result<Tensor> {
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n).map(|_| rng.next_f64() as f32 * 2.0 - 1.0).collect();
    Ok(Tensor::from_vec(v, shape, &Device::Cpu)?)
}

fn main() -> ExitCode {
    let args = Args::parse();
    wb_lab::run(
        "week11-cnn",
        "Week 11 — convolutional networks",
        &args.lab,
        |lab| run(&args, lab),
    )
}

/// The most frequent error of a confusion matrix: (true class, predicted class, count).
fn worst_confusion(m: &[[usize; 10]; 10]) -> (usize, usize, usize) {
    let mut worst = (0, 0, 0);
    for (t, row) in m.iter().enumerate() {
        for (p, &n) in row.iter().enumerate() {
            if t != p && n > worst.2 {
                worst = (t, p, n);
            }
        }
    }
    worst
}

/// Each class's share of right answers (the diagonal over the row sums).
fn per_class(m: &[[usize; 10]; 10]) -> Vec<f64> {
    (0..10)
        .map(|c| m[c][c] as f64 / m[c].iter().sum::<usize>().max(1) as f64)
        .collect()
}

fn run(args: &Args, lab: &mut Lab) -> Result<Report> {
    let show = lab.progress();

    // 1. Convolution and max-pooling from scratch against candle. -------------------------------
    let mut rng = SplitMix64::new(args.seed);
    let x = random(&[2, 3, 9, 9], &mut rng)?;
    let w = random(&[4, 3, 3, 3], &mut rng)?;
    let reference = x.conv2d(&w, 1, 2, 1, 1)?; // padding 1, stride 2
    let diff_direct = max_abs_diff(&conv2d_direct(&x, &w, 2, 1)?, &reference)?;
    let diff_im2col = max_abs_diff(&conv2d_im2col(&x, &w, 2, 1)?, &reference)?;
    let diff_pool = max_abs_diff(&max_pool2d(&x, 2, 2)?, &x.max_pool2d(2)?)?;
    let bx = random(&[16, 16, 14, 14], &mut rng)?;
    let bw = random(&[32, 16, 3, 3], &mut rng)?;
    let ms_direct = median_ms(0, 3, || -> Result<()> {
        conv2d_direct(&bx, &bw, 1, 1)
            .map(|_| ())
            .map_err(Into::into)
    })?;
    let ms_im2col = median_ms(0, 3, || -> Result<()> {
        conv2d_im2col(&bx, &bw, 1, 1)
            .map(|_| ())
            .map_err(Into::into)
    })?;
    let ms_candle = median_ms(0, 3, || -> Result<()> {
        bx.conv2d(&bw, 1, 1, 1, 1).map(|_| ()).map_err(Into::into)
    })?;

    // 2. A CNN on MNIST-10k, 3. the same on Fashion-MNIST. -----------------------------------------
    let cfg = TrainConfig {
        epochs: args.epochs,
        seed: args.seed,
        progress: show,
        ..TrainConfig::default()
    };
    let (mtrain, mtest) = data::load(Which::Mnist)?;
    let mnist = model::train(&mtrain, &mtest, &cfg)?;
    let mpred = predict(&mnist.model, &mtest, &Device::Cpu)?;
    let mconf = confusion(&mtest.labels, &mpred);
    let (ftrain, ftest) = data::load(Which::Fashion)?;
    let fashion = model::train(&ftrain, &ftest, &cfg)?;
    let fpred = predict(&fashion.model, &ftest, &Device::Cpu)?;
    let fconf = confusion(&ftest.labels, &fpred);

    // 4. Augmentation with 1,000 training images. --------------------------------------------------
    let small = mtrain.head(1_000);
    let small_cfg = TrainConfig {
        epochs: args.small_epochs,
        batch_size: 32,
        ..cfg.clone()
    };
    let plain = model::train(&small, &mtest, &small_cfg)?;
    let augmented = model::train(
        &small,
        &mtest,
        &TrainConfig {
            augmentation: Some(Augmentation::default()),
            ..small_cfg.clone()
        },
    )?;

    // 5. Plots. ----------------------------------------------------------------------------------
    let w1 = values(mnist.model.conv1.weight())?; // [32, 1, 3, 3]
    let mut filters = ImageGrid::new(
        "16 of the 32 learned 3 × 3 filters of the first layer (MNIST)",
        8,
    )
    .diverging(true);
    for k in 0..16 {
        filters = filters.image(
            format!("filter {k}"),
            3,
            3,
            w1[k * 9..(k + 1) * 9]
                .iter()
                .map(|&v| f64::from(v))
                .collect(),
        );
    }
    lab.saved(filters.save(lab.plots_dir(), "filters")?);
    let (one, _) = mtest.batch(&[0], &Device::Cpu)?;
    let (a1, a2) = mnist.model.feature_maps(&one)?;
    let (a1, a2) = (values(&a1)?, values(&a2)?);
    let mut maps = ImageGrid::new(
        &format!(
            "Feature maps of a test image (a {}): input, conv1 after ReLU, conv2 after ReLU",
            mtest.labels[0]
        ),
        8,
    )
    .image(
        "input",
        28,
        28,
        mtest.image(0).iter().map(|&v| f64::from(v)).collect(),
    );
    for k in 0..7 {
        maps = maps.image(
            format!("conv1 #{k}"),
            28,
            28,
            a1[k * 784..(k + 1) * 784]
                .iter()
                .map(|&v| f64::from(v))
                .collect(),
        );
    }
    for k in 0..8 {
        maps = maps.image(
            format!("conv2 #{k}"),
            14,
            14,
            a2[k * 196..(k + 1) * 196]
                .iter()
                .map(|&v| f64::from(v))
                .collect(),
        );
    }
    lab.saved(maps.save(lab.plots_dir(), "feature_maps")?);
    let as_rows = |m: &[[usize; 10]; 10]| -> Vec<Vec<f64>> {
        m.iter()
            .map(|r| r.iter().map(|&v| v as f64).collect())
            .collect()
    };
    let names = |w: Which| {
        w.classes()
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
    };
    lab.saved(
        Heatmap::new(
            "MNIST-10k test set (2,000 images): confusion matrix",
            "predicted",
            "true",
            names(Which::Mnist),
            names(Which::Mnist),
            as_rows(&mconf),
        )
        .save(lab.plots_dir(), "confusion_mnist")?,
    );
    lab.saved(
        Heatmap::new(
            "Fashion-MNIST test set (2,000 images): confusion matrix",
            "predicted",
            "true",
            names(Which::Fashion),
            names(Which::Fashion),
            as_rows(&fconf),
        )
        .save(lab.plots_dir(), "confusion_fashion")?,
    );
    let mut aug_demo = ImageGrid::new("One training digit and seven augmented variants", 8);
    let mut arng = SplitMix64::new(args.seed);
    aug_demo = aug_demo.image(
        "original",
        28,
        28,
        mtrain.image(0).iter().map(|&v| f64::from(v)).collect(),
    );
    for k in 1..8 {
        let v = augment(mtrain.image(0), 28, 28, &Augmentation::default(), &mut arng)?;
        aug_demo = aug_demo.image(
            format!("variant {k}"),
            28,
            28,
            v.iter().map(|&p| f64::from(p)).collect(),
        );
    }
    lab.saved(aug_demo.save(lab.plots_dir(), "augmentations")?);
    let curve = |h: &[f64]| -> Vec<(f64, f64)> {
        h.iter()
            .enumerate()
            .map(|(i, &a)| ((i + 1) as f64, 100.0 * a))
            .collect()
    };
    lab.saved(
        LinePlot::new(
            "Test accuracy after each epoch",
            "epoch",
            "test accuracy (%)",
        )
        .series(Series::new(
            "MNIST, 8,000 images",
            curve(&mnist.report.history),
        ))
        .series(Series::new(
            "Fashion-MNIST, 8,000 images",
            curve(&fashion.report.history),
        ))
        .series(Series::new(
            "MNIST, 1,000 images",
            curve(&plain.report.history),
        ))
        .series(Series::new(
            "MNIST, 1,000 images + augmentation",
            curve(&augmented.report.history),
        ))
        .legend(LegendPosition::LowerRight)
        .save(lab.plots_dir(), "accuracy")?,
    );

    lab.record_ms("mnist_training", 1000.0 * mnist.report.seconds);
    lab.record_ms("fashion_training", 1000.0 * fashion.report.seconds);
    let training = |fit: &model::Trained, pred: &[u8], test: &data::Images| {
        let conf = confusion(&test.labels, pred);
        Training {
            epochs: args.epochs,
            test_accuracy: accuracy(&test.labels, pred),
            per_epoch: fit.report.history.clone(),
            per_class: per_class(&conf),
            train_seconds: fit.report.seconds,
            worst_confusion: worst_confusion(&conf),
        }
    };
    Ok(Report {
        conv_vs_candle_max_abs_diff: ConvDiffs {
            direct: diff_direct,
            im2col: diff_im2col,
            max_pool: diff_pool,
        },
        conv_ms: ConvTimes {
            direct: ms_direct,
            im2col: ms_im2col,
            candle: ms_candle,
        },
        mnist: training(&mnist, &mpred, &mtest),
        fashion_mnist: training(&fashion, &fpred, &ftest),
        augmentation_1000: Augmented {
            epochs: args.small_epochs,
            without: plain.test_accuracy,
            with: augmented.test_accuracy,
        },
    })
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (d, t) = (&self.conv_vs_candle_max_abs_diff, &self.conv_ms);
        writeln!(
            f,
            "1. Convolution from scratch against candle's conv2d (x [2, 3, 9, 9], 4 kernels 3 × 3, stride 2, padding 1)"
        )?;
        writeln!(
            f,
            "   largest difference: direct loops {:.1e}, im2col + matmul {:.1e}; max-pool 2 × 2 {:.1e}",
            d.direct, d.im2col, d.max_pool
        )?;
        writeln!(
            f,
            "   time for x [16, 16, 14, 14] * 32 kernels 3 × 3: direct {:.1} ms, im2col {:.1} ms, candle {:.1} ms\n",
            t.direct, t.im2col, t.candle
        )?;
        let m = &self.mnist;
        writeln!(
            f,
            "2. CNN on MNIST-10k: 8,000 training images, {} epochs, AdamW + cosine, batch 64 ({:.0} ms)",
            m.epochs,
            1000.0 * m.train_seconds
        )?;
        writeln!(f, "   test accuracy per epoch: {}", pct_list(&m.per_epoch))?;
        let (mt, mp, mn) = m.worst_confusion;
        writeln!(
            f,
            "   test accuracy {:.2}% on 2,000 images; most frequent error: {mt} read as {mp} ({mn} times)\n",
            100.0 * m.test_accuracy
        )?;
        let fm = &self.fashion_mnist;
        writeln!(
            f,
            "3. The same CNN on Fashion-MNIST ({:.0} ms): test accuracy {:.2}%",
            1000.0 * fm.train_seconds,
            100.0 * fm.test_accuracy
        )?;
        let (worst, worst_acc) = fm
            .per_class
            .iter()
            .enumerate()
            .fold((0, 1.0), |b, (i, &a)| if a < b.1 { (i, a) } else { b });
        let classes = Which::Fashion.classes();
        let (ft, fp, fn_) = fm.worst_confusion;
        writeln!(
            f,
            "   hardest class: {} ({:.1}%); most frequent error: {} read as {} ({fn_} times)\n",
            classes[worst],
            100.0 * worst_acc,
            classes[ft],
            classes[fp]
        )?;
        let a = &self.augmentation_1000;
        writeln!(
            f,
            "4. Only 1,000 training images, {} epochs, batch 32 (same 2,000 test images)",
            a.epochs
        )?;
        writeln!(
            f,
            "   without augmentation {:.2}%, with shifts ±2 px, rotations ±10°, noise σ 0.1: {:.2}% ({:+.2} points)",
            100.0 * a.without,
            100.0 * a.with,
            100.0 * (a.with - a.without)
        )
    }
}

fn pct_list(h: &[f64]) -> String {
    h.iter()
        .map(|a| format!("{:.2}%", 100.0 * a))
        .collect::<Vec<_>>()
        .join(", ")
}
