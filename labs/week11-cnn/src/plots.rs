//! The lab's plots: what the networks learned and how they trained.

use anyhow::Result;
use candle_core::Device;
use wb_data::SplitMix64;
use wb_lab::Lab;
use wb_plot::{Heatmap, ImageGrid, LegendPosition, LinePlot, Series};
use week11_cnn::augment::{Augmentation, augment};
use week11_cnn::conv::values;
use week11_cnn::data::{Images, Which};
use week11_cnn::model::Trained;

/// `trained`: the MNIST, Fashion-MNIST, 1,000-image and augmented runs; `confusions`: the test
/// confusion matrices of the first two; `seed`: the augmentations' seed.
pub fn save(
    lab: &mut Lab,
    trained: [&Trained; 4],
    mtrain: &Images,
    mtest: &Images,
    confusions: [&[[usize; 10]; 10]; 2],
    seed: u64,
) -> Result<()> {
    let [mnist, fashion, plain, augmented] = trained;
    let [mconf, fconf] = confusions;
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
            as_rows(mconf),
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
            as_rows(fconf),
        )
        .save(lab.plots_dir(), "confusion_fashion")?,
    );
    let mut aug_demo = ImageGrid::new("One training digit and seven augmented variants", 8);
    let mut arng = SplitMix64::new(seed);
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

    Ok(())
}
