//! The model artifact: a versioned file holding the model's parameters, its feature schema, its
//! training metrics and a content hash, so that a service can refuse a corrupt or mismatched file.

use ndarray::{Array1, Array2, Axis};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;
use thiserror::Error;

/// The artifact format this code reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// One input feature: its name and the range a request may use (derived from training data).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FeatureSpec {
    pub name: String,
    /// Smallest value accepted (0: every feature of this data set is a non-negative measurement).
    pub min: f64,
    /// Largest value accepted: ten times the largest training value.
    pub max: f64,
}

/// Held-out metrics recorded when the model was trained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TrainMetrics {
    pub n_train: usize,
    pub n_test: usize,
    pub test_accuracy: f64,
    pub test_auc: f64,
}

/// A logistic-regression model with everything needed to serve it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelArtifact {
    pub format_version: u32,
    /// A human version, for example `breast-cancer-logreg-1`.
    pub model_version: String,
    pub features: Vec<FeatureSpec>,
    /// classes[0] when P < 0.5, classes[1] otherwise.
    pub classes: [String; 2],
    /// Standardisation learned on the training rows: mean and scale per feature.
    pub mean: Vec<f64>,
    pub scale: Vec<f64>,
    pub weights: Vec<f64>,
    pub intercept: f64,
    pub metrics: TrainMetrics,
    /// SHA-256 (hex) of this artifact serialised with `content_hash` empty.
    pub content_hash: String,
}

/// Why an artifact cannot be served.
#[derive(Debug, Error)]
pub enum ArtifactError {
    #[error("cannot read the model artifact {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("the model artifact {path} is not valid JSON for this format: {detail}")]
    Parse { path: String, detail: String },
    #[error(
        "the model artifact {path} has format version {found}; this service reads version {expected}"
    )]
    Version {
        path: String,
        found: u32,
        expected: u32,
    },
    #[error(
        "the model artifact {path} is corrupt: its content hash is {found}, but it says {recorded}"
    )]
    Hash {
        path: String,
        found: String,
        recorded: String,
    },
    #[error("the model artifact {path} is inconsistent: {detail}")]
    Mismatch { path: String, detail: String },
}

// ANCHOR: content_hash
/// The SHA-256, as lowercase hex, of the artifact's JSON with `content_hash` set to "".
pub fn content_hash(artifact: &ModelArtifact) -> String {
    // BEGIN SOLUTION content_hash
    let mut copy = artifact.clone();
    copy.content_hash = String::new();
    let bytes = serde_json::to_vec(&copy).expect("an artifact always serialises");
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
    // END SOLUTION
}
// ANCHOR_END: content_hash

impl ModelArtifact {
    /// Writes the artifact (pretty JSON), with its content hash filled in.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let mut a = self.clone();
        a.content_hash = content_hash(&a);
        std::fs::write(path, serde_json::to_string_pretty(&a).expect("serialises"))
    }

    /// Reads an artifact and refuses it unless its version, hash and shapes are right.
    pub fn load_verified(path: &Path) -> Result<Self, ArtifactError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ArtifactError::Io {
            path: shown.clone(),
            source,
        })?;
        let a: ModelArtifact = serde_json::from_str(&text).map_err(|e| ArtifactError::Parse {
            path: shown.clone(),
            detail: e.to_string(),
        })?;
        a.verify(&shown)?;
        Ok(a)
    }

    /// Checks the version, the content hash and that every per-feature vector has one entry per feature.
    pub fn verify(&self, shown: &str) -> Result<(), ArtifactError> {
        if self.format_version != FORMAT_VERSION {
            return Err(ArtifactError::Version {
                path: shown.into(),
                found: self.format_version,
                expected: FORMAT_VERSION,
            });
        }
        let found = content_hash(self);
        if found != self.content_hash {
            return Err(ArtifactError::Hash {
                path: shown.into(),
                found,
                recorded: self.content_hash.clone(),
            });
        }
        let d = self.features.len();
        for (what, len) in [
            ("mean", self.mean.len()),
            ("scale", self.scale.len()),
            ("weights", self.weights.len()),
        ] {
            if len != d {
                return Err(ArtifactError::Mismatch {
                    path: shown.into(),
                    detail: format!("{len} {what} values for {d} features"),
                });
            }
        }
        if self.scale.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(ArtifactError::Mismatch {
                path: shown.into(),
                detail: "a scale is not a positive number".into(),
            });
        }
        Ok(())
    }
}

/// The standard logistic function, stable for large |z|.
pub fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// AUC by ranks (ties averaged).
fn auc(y: &[bool], p: &[f64]) -> f64 {
    let mut order: Vec<usize> = (0..y.len()).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let pos = y.iter().filter(|&&v| v).count();
    let neg = y.len() - pos;
    let (mut rank_sum, mut k) = (0.0, 0);
    while k < order.len() {
        let t = order[k..]
            .iter()
            .take_while(|&&i| p[i] == p[order[k]])
            .count();
        rank_sum += (k as f64 + (t as f64 + 1.0) / 2.0)
            * order[k..k + t].iter().filter(|&&i| y[i]).count() as f64;
        k += t;
    }
    (rank_sum - (pos * (pos + 1)) as f64 / 2.0) / (pos * neg).max(1) as f64
}

/// Trains the service's model on the breast-cancer data: logistic regression by gradient descent
/// on standardised features, a seeded 80/20 split for the recorded metrics.
pub fn train(data: &Path, seed: u64) -> anyhow::Result<ModelArtifact> {
    let (table, diagnosis) = wb_data::read_labelled_csv(data, "diagnosis")?;
    let y: Vec<bool> = diagnosis.iter().map(|d| d == "malignant").collect();
    let (tr, te) = wb_data::train_test_indices(y.len(), 0.2, seed);
    let (xtr, xte) = (
        table.data.select(Axis(0), &tr),
        table.data.select(Axis(0), &te),
    );
    let (ztr, zte) = wb_core::lab::standardise_with_train(&xtr, &xte)?;
    let mean = xtr.mean_axis(Axis(0)).unwrap_or_default();
    let scale = xtr
        .std_axis(Axis(0), 0.0)
        .mapv(|s| if s > 0.0 { s } else { 1.0 });
    let ytr: Array1<f64> = tr.iter().map(|&i| f64::from(u8::from(y[i]))).collect();
    let (mut w, mut b) = (Array1::<f64>::zeros(ztr.ncols()), 0.0);
    let (n, lr, l2) = (ztr.nrows() as f64, 0.5, 1e-3);
    for _ in 0..3000 {
        let p = (ztr.dot(&w) + b).mapv(sigmoid);
        let r = &p - &ytr;
        w = &w - &((ztr.t().dot(&r) / n + &w * l2) * lr);
        b -= lr * r.sum() / n;
    }
    let scores = |z: &Array2<f64>| -> Vec<f64> { (z.dot(&w) + b).mapv(sigmoid).to_vec() };
    let pte = scores(&zte);
    let yte: Vec<bool> = te.iter().map(|&i| y[i]).collect();
    let acc = pte
        .iter()
        .zip(&yte)
        .filter(|(p, y)| (**p >= 0.5) == **y)
        .count() as f64
        / yte.len() as f64;
    let features = table
        .columns
        .iter()
        .enumerate()
        .map(|(j, name)| FeatureSpec {
            name: name.clone(),
            min: 0.0,
            max: 10.0 * xtr.column(j).fold(0.0_f64, |m, &v| m.max(v)),
        })
        .collect();
    let mut a = ModelArtifact {
        format_version: FORMAT_VERSION,
        model_version: "breast-cancer-logreg-1".into(),
        features,
        classes: ["benign".into(), "malignant".into()],
        mean: mean.to_vec(),
        scale: scale.to_vec(),
        weights: w.to_vec(),
        intercept: b,
        metrics: TrainMetrics {
            n_train: tr.len(),
            n_test: te.len(),
            test_accuracy: acc,
            test_auc: auc(&yte, &pte),
        },
        content_hash: String::new(),
    };
    a.content_hash = content_hash(&a);
    Ok(a)
}
