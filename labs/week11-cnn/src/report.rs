//! The report of the lab: its typed results (the JSON of `--json`) and how they read (`Display`).

use serde::Serialize;
use std::fmt;
use week11_cnn::data::Which;

#[derive(Serialize)]
pub struct Report {
    pub conv_vs_candle_max_abs_diff: ConvDiffs,
    pub conv_ms: ConvTimes,
    pub mnist: Training,
    pub fashion_mnist: Training,
    pub augmentation_1000: Augmented,
}

#[derive(Serialize)]
pub struct ConvDiffs {
    pub direct: f32,
    pub im2col: f32,
    pub max_pool: f32,
}

#[derive(Serialize)]
pub struct ConvTimes {
    pub direct: f64,
    pub im2col: f64,
    pub candle: f64,
}

/// One CNN trained on 8,000 images and tested on 2,000.
#[derive(Serialize)]
pub struct Training {
    pub epochs: usize,
    pub test_accuracy: f64,
    pub per_epoch: Vec<f64>,
    pub per_class: Vec<f64>,
    pub train_seconds: f64,
    /// The most frequent error: (true class, predicted class, count).
    pub worst_confusion: (usize, usize, usize),
}

#[derive(Serialize)]
pub struct Augmented {
    pub epochs: usize,
    pub without: f64,
    pub with: f64,
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

pub fn pct_list(h: &[f64]) -> String {
    h.iter()
        .map(|a| format!("{:.2}%", 100.0 * a))
        .collect::<Vec<_>>()
        .join(", ")
}
