//! The report of the lab: its typed results (the JSON of `--json`) and how they read (`Display`).

use serde::Serialize;
use std::fmt;

/// The lab's results: the JSON of `--json` (its fields) and the printed report (`Display`).
#[derive(Serialize)]
pub struct Report {
    pub mean: f64,
    #[serde(skip)]
    pub mean_ms: f64,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "mean: {} ({:.2} ms)", self.mean, self.mean_ms)
    }
}
