//! MNIST-10k and Fashion-MNIST: 10,000 grey 28 × 28 images each, with the workbook's fixed split
//! (the first 8,000 images train, the last 2,000 test; both files are already shuffled).

use candle_core::{Device, Tensor};
use wb_core::MlError;

use crate::Result;

pub const SIDE: usize = 28;
pub const PIXELS: usize = SIDE * SIDE;
pub const N_TRAIN: usize = 8_000;

/// Which data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Mnist,
    Fashion,
}

impl Which {
    pub fn name(self) -> &'static str {
        match self {
            Which::Mnist => "mnist-10k",
            Which::Fashion => "fashion-mnist",
        }
    }

    /// The names of the ten classes.
    pub fn classes(self) -> [&'static str; 10] {
        match self {
            Which::Mnist => ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
            Which::Fashion => [
                "T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                "Bag", "Boot",
            ],
        }
    }
}

/// Images as row-major pixels in [0, 1], with their labels 0–9.
#[derive(Debug, Clone)]
pub struct Images {
    pub pixels: Vec<f32>,
    pub labels: Vec<u8>,
}

impl Images {
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

    /// The first `n` images.
    pub fn head(&self, n: usize) -> Images {
        let n = n.min(self.len());
        Images {
            pixels: self.pixels[..n * PIXELS].to_vec(),
            labels: self.labels[..n].to_vec(),
        }
    }

    /// The images at `rows` as a `[rows.len(), 1, 28, 28]` tensor and their labels as `[rows.len()]` u32.
    pub fn batch(&self, rows: &[usize], device: &Device) -> Result<(Tensor, Tensor)> {
        let mut px = Vec::with_capacity(rows.len() * PIXELS);
        let mut ys = Vec::with_capacity(rows.len());
        for &r in rows {
            if r >= self.len() {
                return Err(MlError::InvalidArgument {
                    arg: "rows".to_string(),
                    detail: format!("row {r} of {} images", self.len()),
                }
                .into());
            }
            px.extend_from_slice(self.image(r));
            ys.push(u32::from(self.labels[r]));
        }
        Ok((
            Tensor::from_vec(px, (rows.len(), 1, SIDE, SIDE), device)?,
            Tensor::from_vec(ys, rows.len(), device)?,
        ))
    }
}

/// Reads one data set (checked against datasets/SHA256SUMS) and splits it: (train, test).
pub fn load(which: Which) -> anyhow::Result<(Images, Images)> {
    let name = which.name();
    let images = wb_data::read_idx(&wb_data::dataset(&format!(
        "images/{name}-images-idx3-ubyte.gz"
    ))?)?;
    let labels = wb_data::read_idx(&wb_data::dataset(&format!(
        "images/{name}-labels-idx1-ubyte.gz"
    ))?)?;
    if images.dims.len() != 3 || images.dims[1] != SIDE || images.dims[2] != SIDE {
        anyhow::bail!(
            "{name}: expected images of 28 × 28, the file has dimensions {:?}",
            images.dims
        );
    }
    if labels.dims != [images.dims[0]] || labels.data.iter().any(|&l| l > 9) {
        anyhow::bail!(
            "{name}: expected one label 0–9 per image, got dimensions {:?}",
            labels.dims
        );
    }
    let all = Images {
        pixels: images.data.iter().map(|&b| f32::from(b) / 255.0).collect(),
        labels: labels.data,
    };
    let n = all.len();
    if n <= N_TRAIN {
        anyhow::bail!("{name}: {n} images, expected more than {N_TRAIN}");
    }
    let test = Images {
        pixels: all.pixels[N_TRAIN * PIXELS..].to_vec(),
        labels: all.labels[N_TRAIN..].to_vec(),
    };
    Ok((all.head(N_TRAIN), test))
}
