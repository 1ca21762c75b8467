//! The model the service deploys: the week 11 CNN in its deployable form
//! ([`wb_models::DigitCnn`]), loaded from its files, or trained on MNIST-10k when there are none.

use anyhow::{Context, Result};
use candle_core::{D, DType, Device, Tensor};
use candle_nn::VarMap;
use std::path::Path;
use wb_data::SplitMix64;
use wb_models::digit_cnn::{CnnMeta, DigitCnn, PIXELS, SIDE};
use wb_train::{FitConfig, LrSchedule, Task};

/// MNIST-10k: images (784 values in [0, 1] each, row after row) and labels.
#[derive(Debug, Clone)]
pub struct Digits {
    pub pixels: Vec<f32>,
    pub labels: Vec<u8>,
}

impl Digits {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Image `i`'s pixels.
    pub fn image(&self, i: usize) -> &[f32] {
        &self.pixels[i * PIXELS..(i + 1) * PIXELS]
    }

    fn batch(&self, rows: &[usize], device: &Device) -> candle_core::Result<(Tensor, Tensor)> {
        let mut px = Vec::with_capacity(rows.len() * PIXELS);
        for &r in rows {
            px.extend_from_slice(self.image(r));
        }
        let ys: Vec<u32> = rows.iter().map(|&r| u32::from(self.labels[r])).collect();
        Ok((
            Tensor::from_vec(px, (rows.len(), 1, SIDE, SIDE), device)?,
            Tensor::from_vec(ys, rows.len(), device)?,
        ))
    }
}

/// MNIST-10k's first 8,000 images for training and last 2,000 for testing (week 11's split).
pub fn mnist() -> Result<(Digits, Digits)> {
    let images = wb_data::read_idx(&wb_data::dataset("images/mnist-10k-images-idx3-ubyte.gz")?)?;
    let labels = wb_data::read_idx(&wb_data::dataset("images/mnist-10k-labels-idx1-ubyte.gz")?)?;
    anyhow::ensure!(
        images.dims.len() == 3
            && images.dims[1..] == [SIDE, SIDE]
            && labels.dims == [images.dims[0]],
        "mnist-10k: expected n images of 28 × 28 and n labels, got {:?} and {:?}",
        images.dims,
        labels.dims
    );
    let n = labels.dims[0];
    let split = n * 4 / 5;
    let px: Vec<f32> = images.data.iter().map(|&v| f32::from(v) / 255.0).collect();
    Ok((
        Digits {
            pixels: px[..split * PIXELS].to_vec(),
            labels: labels.data[..split].to_vec(),
        },
        Digits {
            pixels: px[split * PIXELS..].to_vec(),
            labels: labels.data[split..].to_vec(),
        },
    ))
}

/// Predicted classes of every image of `digits`, 256 at a time.
pub fn predict(model: &DigitCnn, digits: &Digits, device: &Device) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(digits.len());
    let rows: Vec<usize> = (0..digits.len()).collect();
    for chunk in rows.chunks(256) {
        let (x, _) = digits.batch(chunk, device)?;
        let p = model.forward(&x)?.argmax(D::Minus1)?.to_vec1::<u32>()?;
        out.extend(p.into_iter().map(|c| c as u8));
    }
    Ok(out)
}

struct Classify<'a> {
    model: &'a DigitCnn,
    train: &'a Digits,
    device: Device,
}

impl Task for Classify<'_> {
    fn train_loss(&mut self, batch: &[usize], _: &mut SplitMix64) -> candle_core::Result<Tensor> {
        let (x, y) = self.train.batch(batch, &self.device)?;
        let logits = self
            .model
            .forward(&x)
            .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        candle_nn::loss::cross_entropy(&logits, &y)
    }

    fn evaluate(&mut self) -> candle_core::Result<Vec<(String, f64)>> {
        Ok(vec![])
    }
}

/// Trains a fresh CNN on `train` (AdamW, lr 2e-3 with cosine decay, batches of 64, as in
/// week 11) and measures it on `test`.
pub fn train(
    train: &Digits,
    test: &Digits,
    epochs: usize,
    seed: u64,
) -> Result<(DigitCnn, VarMap)> {
    let device = wb_train::device();
    let varmap = VarMap::new();
    let vb = wb_train::init::seeded(&varmap, seed, DType::F32, &device);
    let mut model = DigitCnn::new(CnnMeta::mnist(0.0), vb)?;
    let vars = wb_train::named_vars(&varmap);
    let mut opt = wb_train::adamw(&vars, 2e-3)?;
    let batch = 64;
    let steps = epochs * train.len().div_ceil(batch);
    let mut cfg = FitConfig::new(epochs, batch, LrSchedule::cosine(2e-3, 0.0, steps.max(1))?);
    cfg.seed = seed;
    let mut task = Classify {
        model: &model,
        train,
        device: device.clone(),
    };
    wb_train::fit(&mut task, &vars, &mut opt, train.len(), &cfg)?;
    let predicted = predict(&model, test, &device)?;
    let hits = predicted
        .iter()
        .zip(&test.labels)
        .filter(|(p, l)| p == l)
        .count();
    model.meta.test_accuracy = hits as f64 / test.len().max(1) as f64;
    Ok((model, varmap))
}

/// Where the served model came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Source {
    Loaded,
    Trained,
}

/// The model in `dir` if there is one; otherwise a model trained now (`epochs` epochs) and saved
/// there. A model file that exists but is damaged is an error, never silently replaced.
pub fn load_or_train(dir: &Path, epochs: usize, device: &Device) -> Result<(DigitCnn, Source)> {
    if dir.join("model.json").exists() || dir.join("model.safetensors").exists() {
        let (model, _) = DigitCnn::load(dir, device)
            .with_context(|| format!("loading the model in {}", dir.display()))?;
        return Ok((model, Source::Loaded));
    }
    let (train_set, test_set) = mnist()?;
    let (model, varmap) = train(&train_set, &test_set, epochs, 16)?;
    model.save(&varmap, dir)?;
    // Served as it will be loaded next time: from the files just written.
    let (model, _) = DigitCnn::load(dir, device)?;
    Ok((model, Source::Trained))
}
