//! The learner's progress: `.workbook/progress.json` at the repository root (not committed).

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Progress {
    #[serde(default)]
    pub labs: BTreeMap<String, LabProgress>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct LabProgress {
    /// The last grading of this lab.
    pub last_grade: Option<LastGrade>,
    /// Hints shown so far, per exercise.
    #[serde(default)]
    pub hints_shown: BTreeMap<String, usize>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LastGrade {
    pub compiled: bool,
    pub passed: usize,
    pub total: usize,
    /// Names of the failed checks.
    pub failed: Vec<String>,
    /// Whether the lab was in its exercise form when graded.
    pub exercise_form: bool,
    /// Seconds since the Unix epoch.
    pub when: u64,
}

pub fn state_dir(root: &Path) -> PathBuf {
    root.join(".workbook")
}

fn path(root: &Path) -> PathBuf {
    state_dir(root).join("progress.json")
}

impl Progress {
    pub fn load(root: &Path) -> Result<Self> {
        let p = path(root);
        if !p.exists() {
            return Ok(Self::default());
        }
        let text =
            std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("{} is damaged; delete it to start afresh", p.display()))
    }

    pub fn save(&self, root: &Path) -> Result<()> {
        let p = path(root);
        std::fs::create_dir_all(state_dir(root))?;
        let tmp = p.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_string_pretty(self)?)?;
        std::fs::rename(&tmp, &p).with_context(|| format!("writing {}", p.display()))
    }

    pub fn lab(&mut self, week: &str) -> &mut LabProgress {
        self.labs.entry(week.to_string()).or_default()
    }
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
