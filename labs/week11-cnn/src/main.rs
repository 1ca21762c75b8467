//! Runs the week 11 lab end to end: `cargo run -p week11-cnn -- --help`.

mod plots;
mod report;

use anyhow::Result;
use candle_core::{Device, Tensor};
use clap::Parser;
use report::*;
use wb_core::lab::median_ms;
use wb_data::SplitMix64;
use wb_lab::{Lab, LabArgs};
use week11_cnn::augment::Augmentation;
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

wb_lab::main!("Week 11 — convolutional networks", run);

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

    // 5. Plots: filters, feature maps, confusion matrices, augmentations, accuracy curves.
    let trained = [&mnist, &fashion, &plain, &augmented];
    plots::save(lab, trained, &mtrain, &mtest, [&mconf, &fconf], args.seed)?;

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
