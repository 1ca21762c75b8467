//! A small CNN with candle-nn, trained with the workbook's loop (`wb_train::fit`).
//!
//! ```text
//! [n, 1, 28, 28] → conv 3×3, 32, pad 1 → ReLU → max-pool 2 → [n, 32, 14, 14]
//!                → conv 3×3, 64, pad 1 → ReLU → max-pool 2 → [n, 64, 7, 7]
//!                → flatten [n, 3136] → linear 128 → ReLU → linear 10 → logits [n, 10]
//! ```
//! 421,642 parameters, of which the two convolutions hold only 18,816: a kernel is shared by every
//! position of the image, which is both few weights and the right prior for pictures (a stroke
//! is a stroke wherever it is). The layers are candle-nn's (`conv2d`, `linear`, with its
//! initialisation); the convolutions run through [`conv2d_unfold`], which computes the same
//! values as candle's `conv2d` and trains the first layer faster on a CPU (see its comment).

use candle_core::{D, DType, Device, Module, Tensor};
use candle_nn::{Conv2d, Conv2dConfig, Linear, VarMap};
use wb_data::SplitMix64;
use wb_train::{FitConfig, FitReport, LrSchedule, NamedVars, Task};

use crate::Result;
use crate::augment::{Augmentation, augment};
use crate::conv::{conv2d_max_pool, conv2d_unfold, dims4, max_pool2d_train};
use crate::data::{Images, PIXELS, SIDE};

/// Mean and standard deviation of MNIST's pixels (in [0, 1]): the network sees standardised
/// inputs, which lets one learning rate suit every layer.
pub const MEAN: f64 = 0.1307;
pub const STD: f64 = 0.3081;

/// The network's layers.
#[derive(Debug, Clone)]
pub struct Cnn {
    pub conv1: Conv2d,
    pub conv2: Conv2d,
    pub fc1: Linear,
    pub fc2: Linear,
}

impl Cnn {
    /// Creates the layers in `varmap` with weights drawn from `seed`.
    pub fn new(varmap: &VarMap, seed: u64, device: &Device) -> Result<Self> {
        let vb = wb_train::init::seeded(varmap, seed, DType::F32, device);
        let same = Conv2dConfig {
            padding: 1,
            ..Default::default()
        };
        Ok(Self {
            conv1: candle_nn::conv2d(1, 32, 3, same, vb.pp("conv1"))?,
            conv2: candle_nn::conv2d(32, 64, 3, same, vb.pp("conv2"))?,
            fc1: candle_nn::linear(64 * 7 * 7, 128, vb.pp("fc1"))?,
            fc2: candle_nn::linear(128, 10, vb.pp("fc2"))?,
        })
    }

    /// The 3 × 3, padding 1 convolution of a candle-nn layer, without its bias, computed by
    /// [`conv2d_unfold`]: `[n, c, h, w]` → `[n, o, h, w]`.
    fn convolve(layer: &Conv2d, x: &Tensor) -> Result<Tensor> {
        conv2d_unfold(x, layer.weight(), 1)
    }

    /// The same convolution followed by 2 × 2 max-pooling, in one pass (see
    /// [`conv2d_max_pool`]): `[n, c, h, w]` → `[n, o, h / 2, w / 2]`.
    fn convolve_pool(layer: &Conv2d, x: &Tensor) -> Result<Tensor> {
        conv2d_max_pool(x, layer.weight(), 1, 2)
    }

    /// Adds a layer's bias to each of its channels: `[n, o, h, w]` → `[n, o, h, w]`.
    fn add_bias(layer: &Conv2d, y: &Tensor) -> Result<Tensor> {
        match layer.bias() {
            Some(b) => Ok(y.broadcast_add(&b.reshape((1, (), 1, 1))?)?),
            None => Ok(y.clone()),
        }
    }

    /// The feature maps after the first and second conv → ReLU blocks (before pooling):
    /// `[n, 32, 28, 28]` and `[n, 64, 14, 14]`. What the network "sees".
    pub fn feature_maps(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        check_images(x)?;
        let x = x.affine(1.0 / STD, -MEAN / STD)?;
        let a1 = Self::add_bias(&self.conv1, &Self::convolve(&self.conv1, &x)?)?.relu()?;
        let a2 = Self::convolve(&self.conv2, &max_pool2d_train(&a1, 2)?)?;
        let a2 = Self::add_bias(&self.conv2, &a2)?.relu()?;
        Ok((a1, a2))
    }

    // ANCHOR: forward
    /// Logits `[n, 10]` for images `[n, 1, 28, 28]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        check_images(x)?;
        // BEGIN SOLUTION forward
        let x = x.affine(1.0 / STD, -MEAN / STD)?; // standardised pixels
        // Each block is conv → bias → ReLU → max-pool, computed in the cheaper order conv →
        // max-pool → bias → ReLU: a maximum commutes with adding a constant and with ReLU (both
        // keep the order of values), so the values are the same, and the bias and ReLU, forward
        // and backward, touch a quarter of the positions.
        let x = Self::convolve_pool(&self.conv1, &x)?; // [n, 32, 14, 14]
        let x = Self::add_bias(&self.conv1, &x)?.relu()?;
        let x = Self::convolve_pool(&self.conv2, &x)?; // [n, 64, 7, 7]
        let x = Self::add_bias(&self.conv2, &x)?.relu()?;
        let x = x.flatten_from(1)?; // [n, 3136]
        let x = self.fc1.forward(&x)?.relu()?; // [n, 128]
        Ok(self.fc2.forward(&x)?) // [n, 10]
        // END SOLUTION
    }
    // ANCHOR_END: forward
}

/// Refuses anything but `[n, 1, 28, 28]` with a message saying what came.
pub fn check_images(x: &Tensor) -> Result<()> {
    let (_, c, h, w) = dims4("images", x)?;
    if (c, h, w) != (1, SIDE, SIDE) {
        return Err(wb_core::MlError::ShapeMismatch {
            arg: "images".to_string(),
            expected: "[n, 1, 28, 28]".to_string(),
            got: format!("{:?}", x.dims()),
        }
        .into());
    }
    Ok(())
}

/// Predicted classes, 256 images at a time.
pub fn predict(model: &Cnn, images: &Images, device: &Device) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(images.len());
    let rows: Vec<usize> = (0..images.len()).collect();
    for chunk in rows.chunks(256) {
        let (x, _) = images.batch(chunk, device)?;
        let p = model.forward(&x)?.argmax(D::Minus1)?.to_vec1::<u32>()?;
        out.extend(p.into_iter().map(|c| c as u8));
    }
    Ok(out)
}

/// The share of `predicted` equal to `truth`.
pub fn accuracy(truth: &[u8], predicted: &[u8]) -> f64 {
    let hits = truth.iter().zip(predicted).filter(|(a, b)| a == b).count();
    hits as f64 / truth.len().max(1) as f64
}

/// `m[t][p]`: how many images of true class `t` were predicted `p`.
pub fn confusion(truth: &[u8], predicted: &[u8]) -> [[usize; 10]; 10] {
    let mut m = [[0usize; 10]; 10];
    for (&t, &p) in truth.iter().zip(predicted) {
        m[usize::from(t)][usize::from(p)] += 1;
    }
    m
}

/// How to train.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub seed: u64,
    /// Train on random variants of the images (fresh ones every epoch).
    pub augmentation: Option<Augmentation>,
    pub progress: bool,
}

impl Default for TrainConfig {
    /// The lab's default: 5 epochs of AdamW (lr 2e-3, cosine decay), batches of 64, seed 11.
    fn default() -> Self {
        Self {
            epochs: 5,
            batch_size: 64,
            lr: 2e-3,
            seed: 11,
            augmentation: None,
            progress: false,
        }
    }
}

/// The classification problem as `wb_train::fit` sees it.
struct Classify<'a> {
    model: &'a Cnn,
    train: &'a Images,
    test: &'a Images,
    augmentation: Option<Augmentation>,
    device: Device,
}

// ANCHOR: task
impl Task for Classify<'_> {
    fn train_loss(&mut self, batch: &[usize], rng: &mut SplitMix64) -> candle_core::Result<Tensor> {
        let to_candle = |e: wb_train::TrainError| candle_core::Error::Msg(e.to_string());
        let (x, y) = match self.augmentation {
            None => self.train.batch(batch, &self.device).map_err(to_candle)?,
            Some(a) => {
                let mut px = Vec::with_capacity(batch.len() * PIXELS);
                for &r in batch {
                    px.extend(
                        augment(self.train.image(r), SIDE, SIDE, &a, rng).map_err(to_candle)?,
                    );
                }
                let ys: Vec<u32> = batch
                    .iter()
                    .map(|&r| u32::from(self.train.labels[r]))
                    .collect();
                (
                    Tensor::from_vec(px, (batch.len(), 1, SIDE, SIDE), &self.device)?,
                    Tensor::from_vec(ys, batch.len(), &self.device)?,
                )
            }
        };
        let logits = self.model.forward(&x).map_err(to_candle)?;
        candle_nn::loss::cross_entropy(&logits, &y)
    }

    fn evaluate(&mut self) -> candle_core::Result<Vec<(String, f64)>> {
        let p = predict(self.model, self.test, &self.device)
            .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        Ok(vec![(
            "test_accuracy".to_string(),
            accuracy(&self.test.labels, &p),
        )])
    }
}
// ANCHOR_END: task

/// A trained network and how training went.
pub struct Trained {
    pub model: Cnn,
    pub varmap: VarMap,
    pub report: FitReport,
    /// Test accuracy after the last epoch.
    pub test_accuracy: f64,
}

/// Trains a fresh CNN on `train`, evaluating on `test` after each epoch.
pub fn train(train: &Images, test: &Images, cfg: &TrainConfig) -> Result<Trained> {
    let device = wb_train::device();
    let varmap = VarMap::new();
    let model = Cnn::new(&varmap, cfg.seed, &device)?;
    let vars: NamedVars = wb_train::named_vars(&varmap);
    let mut opt = wb_train::adamw(&vars, cfg.lr)?;
    let steps = cfg.epochs * train.len().div_ceil(cfg.batch_size.max(1));
    let mut fit_cfg = FitConfig::new(
        cfg.epochs,
        cfg.batch_size,
        LrSchedule::cosine(cfg.lr, 0.0, steps.max(1))?,
    );
    fit_cfg.seed = cfg.seed;
    fit_cfg.progress = cfg.progress;
    let mut task = Classify {
        model: &model,
        train,
        test,
        augmentation: cfg.augmentation,
        device,
    };
    let report = wb_train::fit(&mut task, &vars, &mut opt, train.len(), &fit_cfg)?;
    let test_accuracy = report.history.last().copied().unwrap_or(0.0);
    Ok(Trained {
        model,
        varmap,
        report,
        test_accuracy,
    })
}
