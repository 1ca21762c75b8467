//! The week 11 CNN for 28 × 28 grey images (MNIST), as a deployable model: the same layers,
//! saved as `model.safetensors` beside `model.json` (classes, normalisation, test accuracy and
//! the SHA-256 of the weights file), and loaded back only if everything matches.
//!
//! ```text
//! [n, 1, 28, 28] → conv 3×3, 32, pad 1 → ReLU → max-pool 2 → conv 3×3, 64, pad 1 → ReLU
//!                → max-pool 2 → flatten [n, 3136] → linear 128 → ReLU → linear 10 → logits
//! ```

use candle_core::{D, DType, Device, Module, Tensor};
use candle_nn::{Conv2d, Conv2dConfig, Linear, VarBuilder, VarMap};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

use crate::{ModelError, ModelResult};

/// Image side in pixels.
pub const SIDE: usize = 28;
/// Pixels per image.
pub const PIXELS: usize = SIDE * SIDE;
/// The version of the file format [`DigitCnn::save`] writes.
pub const FORMAT_VERSION: u32 = 1;
const WEIGHTS: &str = "model.safetensors";
const META: &str = "model.json";

/// What `model.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CnnMeta {
    pub format_version: u32,
    pub architecture: String,
    /// The name of each output, in order.
    pub classes: Vec<String>,
    /// Pixels (in [0, 1]) are standardised with these before the first layer.
    pub pixel_mean: f64,
    pub pixel_std: f64,
    pub trained_on: String,
    pub test_accuracy: f64,
    /// SHA-256 of `model.safetensors` (lowercase hex): a weights file from another training run,
    /// or damaged, is refused.
    pub weights_sha256: String,
}

impl CnnMeta {
    /// The metadata of a model for MNIST's ten digits (mean 0.1307, std 0.3081).
    pub fn mnist(test_accuracy: f64) -> Self {
        Self {
            format_version: FORMAT_VERSION,
            architecture: ARCHITECTURE.into(),
            classes: (0..10).map(|d| d.to_string()).collect(),
            pixel_mean: 0.1307,
            pixel_std: 0.3081,
            trained_on: "mnist-10k".into(),
            test_accuracy,
            weights_sha256: String::new(),
        }
    }
}

const ARCHITECTURE: &str = "conv3x3-32/pool/conv3x3-64/pool/fc128/fc10";

/// The network.
#[derive(Debug, Clone)]
pub struct DigitCnn {
    pub conv1: Conv2d,
    pub conv2: Conv2d,
    pub fc1: Linear,
    pub fc2: Linear,
    pub meta: CnnMeta,
}

/// Every tensor of the model and its shape, by the name the weights file uses.
pub fn tensor_shapes(classes: usize) -> BTreeMap<String, Vec<usize>> {
    [
        ("conv1.weight", vec![32, 1, 3, 3]),
        ("conv1.bias", vec![32]),
        ("conv2.weight", vec![64, 32, 3, 3]),
        ("conv2.bias", vec![64]),
        ("fc1.weight", vec![128, 64 * 7 * 7]),
        ("fc1.bias", vec![128]),
        ("fc2.weight", vec![classes, 128]),
        ("fc2.bias", vec![classes]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl DigitCnn {
    /// Builds the layers from `vb` (fresh weights from a `VarMap`, or loaded ones).
    pub fn new(meta: CnnMeta, vb: VarBuilder) -> ModelResult<Self> {
        if meta.classes.is_empty()
            || !(meta.pixel_std.is_finite() && meta.pixel_std > 0.0)
            || !meta.pixel_mean.is_finite()
        {
            return Err(ModelError::Invalid(
                "a CNN needs at least one class and a positive, finite pixel_std".into(),
            ));
        }
        let same = Conv2dConfig {
            padding: 1,
            ..Default::default()
        };
        Ok(Self {
            conv1: candle_nn::conv2d(1, 32, 3, same, vb.pp("conv1"))?,
            conv2: candle_nn::conv2d(32, 64, 3, same, vb.pp("conv2"))?,
            fc1: candle_nn::linear(64 * 7 * 7, 128, vb.pp("fc1"))?,
            fc2: candle_nn::linear(128, meta.classes.len(), vb.pp("fc2"))?,
            meta,
        })
    }

    /// Logits `[n, classes]` of images `[n, 1, 28, 28]` with pixels in [0, 1].
    pub fn forward(&self, x: &Tensor) -> ModelResult<Tensor> {
        let dims = x.dims();
        if dims.len() != 4 || dims[1..] != [1, SIDE, SIDE] {
            return Err(wb_core::MlError::ShapeMismatch {
                arg: "images".into(),
                expected: "[n, 1, 28, 28]".into(),
                got: format!("{dims:?}"),
            }
            .into());
        }
        let x = x.affine(
            1.0 / self.meta.pixel_std,
            -self.meta.pixel_mean / self.meta.pixel_std,
        )?;
        let x = self.conv1.forward(&x)?.relu()?.max_pool2d(2)?;
        let x = self.conv2.forward(&x)?.relu()?.max_pool2d(2)?;
        let x = self.fc1.forward(&x.flatten_from(1)?)?.relu()?;
        Ok(self.fc2.forward(&x)?)
    }

    /// The class probabilities of each image: `pixels` holds n images of 784 values in [0, 1],
    /// row after row. One forward pass for all of them.
    pub fn probabilities(&self, pixels: &[f32], device: &Device) -> ModelResult<Vec<Vec<f32>>> {
        if pixels.is_empty() || !pixels.len().is_multiple_of(PIXELS) {
            return Err(wb_core::MlError::ShapeMismatch {
                arg: "pixels".into(),
                expected: format!("a positive multiple of {PIXELS} values (28 × 28 per image)"),
                got: format!("{} values", pixels.len()),
            }
            .into());
        }
        let n = pixels.len() / PIXELS;
        let x = Tensor::from_slice(pixels, (n, 1, SIDE, SIDE), device)?;
        let p = candle_nn::ops::softmax(&self.forward(&x)?, D::Minus1)?;
        Ok(p.to_dtype(DType::F32)?.to_vec2::<f32>()?)
    }

    /// Writes `model.safetensors` and `model.json` (with the weights' SHA-256) into `dir`, each
    /// through a temporary file and a rename: a crash leaves the old model or the new, whole.
    pub fn save(&self, varmap: &VarMap, dir: &Path) -> ModelResult<()> {
        let fail = |path: &Path, e: &dyn std::fmt::Display| ModelError::File {
            path: path.to_path_buf(),
            detail: format!("cannot write: {e}"),
        };
        std::fs::create_dir_all(dir).map_err(|e| fail(dir, &e))?;
        let weights = dir.join(WEIGHTS);
        let tmp = dir.join(format!("{WEIGHTS}.tmp-{}", std::process::id()));
        varmap.save(&tmp).map_err(|e| fail(&tmp, &e))?;
        // safetensors creates the file readable by its owner only; a model is no secret, and the
        // service may run as another user (a container's unprivileged one) than the trainer.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o644))
                .map_err(|e| fail(&tmp, &e))?;
        }
        let bytes = std::fs::read(&tmp).map_err(|e| fail(&tmp, &e))?;
        let mut meta = self.meta.clone();
        meta.weights_sha256 = sha256_hex(&bytes);
        let meta_path = dir.join(META);
        let meta_tmp = dir.join(format!("{META}.tmp-{}", std::process::id()));
        let json = serde_json::to_string_pretty(&meta).map_err(|e| fail(&meta_path, &e))?;
        std::fs::write(&meta_tmp, json + "\n").map_err(|e| fail(&meta_tmp, &e))?;
        std::fs::rename(&tmp, &weights).map_err(|e| fail(&weights, &e))?;
        std::fs::rename(&meta_tmp, &meta_path).map_err(|e| fail(&meta_path, &e))?;
        Ok(())
    }

    /// Loads a model saved by [`DigitCnn::save`] onto `device`. Refused, with the reason: a
    /// missing or unreadable file, another format version, weights whose SHA-256 is not the one
    /// recorded, a tensor missing, of another shape or left over, a value that is not finite.
    pub fn load(dir: &Path, device: &Device) -> ModelResult<(DigitCnn, VarMap)> {
        let file = |path: &Path, detail: String| ModelError::File {
            path: path.to_path_buf(),
            detail,
        };
        let meta_path = dir.join(META);
        let text = std::fs::read_to_string(&meta_path)
            .map_err(|e| file(&meta_path, format!("cannot read: {e}")))?;
        let meta: CnnMeta = serde_json::from_str(&text)
            .map_err(|e| file(&meta_path, format!("not a CNN model file: {e}")))?;
        if meta.format_version != FORMAT_VERSION || meta.architecture != ARCHITECTURE {
            return Err(file(
                &meta_path,
                format!(
                    "format {} of `{}`; this program reads format {FORMAT_VERSION} of `{ARCHITECTURE}`",
                    meta.format_version, meta.architecture
                ),
            ));
        }
        let weights = dir.join(WEIGHTS);
        let bytes =
            std::fs::read(&weights).map_err(|e| file(&weights, format!("cannot read: {e}")))?;
        let sha = sha256_hex(&bytes);
        if sha != meta.weights_sha256 {
            return Err(file(
                &weights,
                format!(
                    "SHA-256 {sha} is not the {} that {} records: damaged, or from another training run",
                    meta.weights_sha256,
                    meta_path.display()
                ),
            ));
        }
        let tensors = candle_core::safetensors::load_buffer(&bytes, &Device::Cpu)
            .map_err(|e| file(&weights, format!("not a safetensors file: {e}")))?;
        let expected = tensor_shapes(meta.classes.len());
        let mut problems: Vec<String> = expected
            .iter()
            .filter_map(|(name, shape)| match tensors.get(name) {
                None => Some(format!("`{name}` is missing")),
                Some(t) if t.dims() != shape.as_slice() => {
                    Some(format!("`{name}` is {:?}, expected {shape:?}", t.dims()))
                }
                Some(_) => None,
            })
            .collect();
        problems.extend(
            tensors
                .keys()
                .filter(|k| !expected.contains_key(*k))
                .map(|k| format!("`{k}` is not a tensor of this model")),
        );
        if !problems.is_empty() {
            return Err(file(&weights, problems.join("; ")));
        }
        for (name, t) in &tensors {
            let values = t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
            if let Some(i) = values.iter().position(|v| !v.is_finite()) {
                return Err(file(
                    &weights,
                    format!("`{name}` holds {} at flat index {i}", values[i]),
                ));
            }
        }
        let mut varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, device);
        let model = DigitCnn::new(meta, vb)?;
        for (name, t) in tensors {
            varmap.set_one(name, t.to_dtype(DType::F32)?.to_device(device)?)?;
        }
        Ok((model, varmap))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh() -> (DigitCnn, VarMap) {
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        (DigitCnn::new(CnnMeta::mnist(0.5), vb).unwrap(), varmap)
    }

    fn temp(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("digit-cnn-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn load_gives_back_the_same_probabilities() {
        let (m, varmap) = fresh();
        let dir = temp("same");
        m.save(&varmap, &dir).unwrap();
        let (back, _) = DigitCnn::load(&dir, &Device::Cpu).unwrap();
        let px: Vec<f32> = (0..2 * PIXELS).map(|i| (i % 251) as f32 / 250.0).collect();
        let a = m.probabilities(&px, &Device::Cpu).unwrap();
        let b = back.probabilities(&px, &Device::Cpu).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 2);
        for p in &a {
            assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn damaged_or_foreign_files_are_refused_with_the_reason() {
        let (m, varmap) = fresh();
        let dir = temp("bad");
        m.save(&varmap, &dir).unwrap();
        let err = |d: &Path| DigitCnn::load(d, &Device::Cpu).err().unwrap().to_string();
        // One flipped byte in the weights: the hash no longer matches.
        let w = dir.join(WEIGHTS);
        let mut bytes = std::fs::read(&w).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&w, &bytes).unwrap();
        assert!(err(&dir).contains("SHA-256"), "{}", err(&dir));
        // Metadata that is not JSON.
        m.save(&varmap, &dir).unwrap();
        std::fs::write(dir.join(META), "{").unwrap();
        assert!(err(&dir).contains("not a CNN model file"), "{}", err(&dir));
        // Another format version.
        m.save(&varmap, &dir).unwrap();
        let text = std::fs::read_to_string(dir.join(META)).unwrap();
        std::fs::write(
            dir.join(META),
            text.replace("\"format_version\": 1", "\"format_version\": 9"),
        )
        .unwrap();
        assert!(err(&dir).contains("format 9"), "{}", err(&dir));
        // No files at all.
        assert!(err(&temp("none")).contains("cannot read"));
        // Images of the wrong shape.
        let x = Tensor::zeros((1, 1, 27, 28), DType::F32, &Device::Cpu).unwrap();
        assert!(m.forward(&x).is_err());
        assert!(m.probabilities(&[0.0; 100], &Device::Cpu).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
