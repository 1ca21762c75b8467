//! Runs the week 11 lab end to end: `cargo run -p week11-cnn -- --help`.

use anyhow::Result;
use candle_core::{Device, Tensor};
use clap::Parser;
use serde_json::json;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;
use wb_core::lab::{elapsed_ms, median_ms};
use wb_data::SplitMix64;
use wb_plot::{Heatmap, ImageGrid, LegendPosition, LinePlot, Series};
use week11_cnn::augment::{Augmentation, augment};
use week11_cnn::conv::{conv2d_direct, conv2d_im2col, max_pool2d, values};
use week11_cnn::data::{self, Which};
use week11_cnn::model::{self, TrainConfig, accuracy, confusion, predict};

/// Week 11: convolution from scratch (direct and im2col) against candle, a CNN on MNIST-10k and
/// Fashion-MNIST, and what data augmentation buys when only 1,000 images are labelled.
#[derive(Debug, Parser)]
#[command(version)]
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
    /// Folder for the plots (PNG and SVG)
    #[arg(long, value_name = "DIR", default_value = "output/week11-cnn")]
    plots: PathBuf,
    /// Print the key results as one JSON object instead of the report
    #[arg(long)]
    json: bool,
    /// Also write the JSON results to FILE, and print the report as usual
    #[arg(long, value_name = "FILE", value_parser = wb_core::lab::writable_file)]
    json_out: Option<PathBuf>,
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

fn main() -> Result<()> {
    let args = Args::parse();
    let t0 = Instant::now();
    let show = !args.json && std::io::stderr().is_terminal();

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
    let worst_confusion = |m: &[[usize; 10]; 10]| {
        let mut best = (0, 0, 0);
        for (t, row) in m.iter().enumerate() {
            for (p, &n) in row.iter().enumerate() {
                if t != p && n > best.2 {
                    best = (t, p, n);
                }
            }
        }
        best
    };
    let (mt, mp, mn) = worst_confusion(&mconf);
    let (ft, fp, fnn) = worst_confusion(&fconf);
    let fclasses = Which::Fashion.classes();
    let class_acc: Vec<f64> = (0..10)
        .map(|c| fconf[c][c] as f64 / fconf[c].iter().sum::<usize>().max(1) as f64)
        .collect();

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
    let mut plots = Vec::new();
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
    plots.extend(filters.save(&args.plots, "filters")?);
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
    plots.extend(maps.save(&args.plots, "feature_maps")?);
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
    plots.extend(
        Heatmap::new(
            "MNIST-10k test set (2,000 images): confusion matrix",
            "predicted",
            "true",
            names(Which::Mnist),
            names(Which::Mnist),
            as_rows(&mconf),
        )
        .save(&args.plots, "confusion_mnist")?,
    );
    plots.extend(
        Heatmap::new(
            "Fashion-MNIST test set (2,000 images): confusion matrix",
            "predicted",
            "true",
            names(Which::Fashion),
            names(Which::Fashion),
            as_rows(&fconf),
        )
        .save(&args.plots, "confusion_fashion")?,
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
    plots.extend(aug_demo.save(&args.plots, "augmentations")?);
    let curve = |h: &[f64]| -> Vec<(f64, f64)> {
        h.iter()
            .enumerate()
            .map(|(i, &a)| ((i + 1) as f64, 100.0 * a))
            .collect()
    };
    plots.extend(
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
        .save(&args.plots, "accuracy")?,
    );

    let mnist_acc = accuracy(&mtest.labels, &mpred);
    if args.json || args.json_out.is_some() {
        let out = json!({
            "lab": "week11-cnn",
            "conv_vs_candle_max_abs_diff": {"direct": diff_direct, "im2col": diff_im2col, "max_pool": diff_pool},
            "conv_ms": {"direct": ms_direct, "im2col": ms_im2col, "candle": ms_candle},
            "mnist": {"epochs": args.epochs, "test_accuracy": mnist_acc, "per_epoch": mnist.report.history, "train_seconds": mnist.report.seconds},
            "fashion_mnist": {"epochs": args.epochs, "test_accuracy": fashion.test_accuracy, "per_epoch": fashion.report.history, "per_class": class_acc, "train_seconds": fashion.report.seconds},
            "augmentation_1000": {"epochs": args.small_epochs, "without": plain.test_accuracy, "with": augmented.test_accuracy},
            "timings_ms": {"total": elapsed_ms(t0), "mnist_training": 1000.0 * mnist.report.seconds, "fashion_training": 1000.0 * fashion.report.seconds},
            "plots": plots.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        });
        let text = serde_json::to_string_pretty(&out)?;
        if wb_core::lab::emit_json(&text, args.json, args.json_out.as_deref())? {
            return Ok(());
        }
    }

    println!("Week 11 — convolutional networks");
    println!("================================\n");
    println!(
        "1. Convolution from scratch against candle's conv2d (x [2, 3, 9, 9], 4 kernels 3 × 3, stride 2, padding 1)"
    );
    println!(
        "   largest difference: direct loops {diff_direct:.1e}, im2col + matmul {diff_im2col:.1e}; max-pool 2 × 2 {diff_pool:.1e}"
    );
    println!(
        "   time for x [16, 16, 14, 14] * 32 kernels 3 × 3: direct {ms_direct:.1} ms, im2col {ms_im2col:.1} ms, candle {ms_candle:.1} ms\n"
    );
    println!(
        "2. CNN on MNIST-10k: 8,000 training images, {} epochs, AdamW + cosine, batch 64 ({:.0} ms)",
        args.epochs,
        1000.0 * mnist.report.seconds
    );
    println!(
        "   test accuracy per epoch: {}",
        pct_list(&mnist.report.history)
    );
    println!(
        "   test accuracy {:.2}% on 2,000 images; most frequent error: {mt} read as {mp} ({mn} times)\n",
        100.0 * mnist_acc
    );
    println!(
        "3. The same CNN on Fashion-MNIST ({:.0} ms): test accuracy {:.2}%",
        1000.0 * fashion.report.seconds,
        100.0 * fashion.test_accuracy
    );
    let (worst, worst_acc) = class_acc
        .iter()
        .enumerate()
        .fold((0, 1.0), |b, (i, &a)| if a < b.1 { (i, a) } else { b });
    println!(
        "   hardest class: {} ({:.1}%); most frequent error: {} read as {} ({fnn} times)\n",
        fclasses[worst],
        100.0 * worst_acc,
        fclasses[ft],
        fclasses[fp]
    );
    println!(
        "4. Only 1,000 training images, {} epochs, batch 32 (same 2,000 test images)",
        args.small_epochs
    );
    println!(
        "   without augmentation {:.2}%, with shifts ±2 px, rotations ±10°, noise σ 0.1: {:.2}% ({:+.2} points)\n",
        100.0 * plain.test_accuracy,
        100.0 * augmented.test_accuracy,
        100.0 * (augmented.test_accuracy - plain.test_accuracy)
    );
    println!("Plots:");
    for p in &plots {
        println!("   {}", p.display());
    }
    Ok(())
}

fn pct_list(h: &[f64]) -> String {
    h.iter()
        .map(|a| format!("{:.2}%", 100.0 * a))
        .collect::<Vec<_>>()
        .join(", ")
}
