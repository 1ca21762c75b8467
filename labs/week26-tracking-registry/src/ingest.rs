//! Importing what training already wrote: wb-train's JSON-lines metrics log (one object per line,
//! `{"step": …, "epoch": …, "name": value, …}`, weeks 11–14) and week 14's run folders
//! (`config.json` beside `metrics.jsonl`). An import is one transaction: the run appears finished
//! with every metric, or — on a bad line anywhere — not at all, and the error names the line.

use crate::error::{Result, TrackError};
use crate::store::{RunSpec, Tracker, insert_run, now_ms};
use rusqlite::params;
use std::collections::HashMap;
use std::path::Path;

/// One line of a metrics log: the step and its named values (the epoch is kept as a metric).
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    pub step: i64,
    pub values: Vec<(String, f64)>,
}

// ANCHOR: parse_line
/// Parses one line of a wb-train metrics log: a JSON object with a non-negative integer `step`
/// and numbers for every other key (`epoch` among them). Anything else is an error saying what.
pub fn parse_line(line: &str) -> Result<LogLine, String> {
    // BEGIN SOLUTION parse_line
    let value: serde_json::Value =
        serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let object = value
        .as_object()
        .ok_or_else(|| "not a JSON object".to_string())?;
    let step = object
        .get("step")
        .ok_or_else(|| "no `step`".to_string())?
        .as_i64()
        .filter(|s| *s >= 0)
        .ok_or_else(|| format!("`step` must be an integer ≥ 0, got {}", object["step"]))?;
    let mut values = Vec::new();
    for (key, v) in object {
        if key == "step" {
            continue;
        }
        let x = v
            .as_f64()
            .filter(|x| x.is_finite())
            .ok_or_else(|| format!("`{key}` must be a finite number, got {v}"))?;
        values.push((key.clone(), x));
    }
    Ok(LogLine { step, values })
    // END SOLUTION
}
// ANCHOR_END: parse_line

/// Reads a whole log; the first bad line is an error with the file and the line number. Blank
/// lines are skipped. A value logged twice for the same step (wb-train writes `epoch` on both the
/// step's line and the epoch's summary line) is kept once if equal, and is an error if not.
pub fn read_log(path: &Path) -> Result<Vec<LogLine>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| TrackError::Io(format!("cannot read {}: {e}", path.display())))?;
    let bad = |line: usize, detail: String| TrackError::BadLine {
        path: path.to_path_buf(),
        line,
        detail,
    };
    let mut seen: HashMap<(String, i64), (f64, usize)> = HashMap::new();
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mut parsed = parse_line(line).map_err(|d| bad(i + 1, d))?;
        let mut kept = Vec::with_capacity(parsed.values.len());
        for (key, value) in parsed.values {
            match seen.get(&(key.clone(), parsed.step)) {
                Some(&(earlier, _)) if earlier == value => {}
                Some(&(earlier, at)) => {
                    return Err(bad(
                        i + 1,
                        format!(
                            "`{key}` at step {} is {value}, but line {at} gave {earlier}",
                            parsed.step
                        ),
                    ));
                }
                None => {
                    seen.insert((key.clone(), parsed.step), (value, i + 1));
                    kept.push((key, value));
                }
            }
        }
        parsed.values = kept;
        out.push(parsed);
    }
    Ok(out)
}

impl Tracker {
    /// Records a whole, already finished run in one transaction: the run, its parameters, every
    /// metric point, its artifacts' rows and its end. The artifacts' blobs are stored first, so
    /// a row never points to a missing blob. Returns the run's id.
    pub fn import_run(
        &mut self,
        spec: &RunSpec,
        lines: &[LogLine],
        artifacts: &[(String, Vec<u8>)],
    ) -> Result<String> {
        let mut stored = Vec::new();
        for (path, bytes) in artifacts {
            crate::store::check_artifact_path(path)?;
            stored.push((path, self.put_blob(bytes)?, bytes.len() as i64));
        }
        let tx = self.write()?;
        let id = insert_run(&tx, spec)?;
        {
            let mut put = tx.prepare(
                "INSERT INTO metrics (run_id, key, step, value) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for l in lines {
                for (k, v) in &l.values {
                    put.execute(params![id, k, l.step, v]).map_err(|e| {
                        TrackError::Invalid(format!("metric `{k}` at step {}: {e}", l.step))
                    })?;
                }
            }
            let mut art = tx.prepare(
                "INSERT INTO artifacts (run_id, path, sha256, bytes) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for (path, sha, bytes) in &stored {
                art.execute(params![id, path, sha, bytes])?;
            }
        }
        tx.execute(
            "UPDATE runs SET status = 'finished', end_ms = ?2 WHERE id = ?1",
            params![id, now_ms()],
        )?;
        tx.commit()?;
        Ok(id)
    }

    /// Imports a wb-train metrics log as a finished run. Returns the run and its metric points.
    pub fn ingest_log(&mut self, path: &Path, spec: &RunSpec) -> Result<(String, usize)> {
        self.ingest_log_with(path, spec, &[])
    }

    fn ingest_log_with(
        &mut self,
        path: &Path,
        spec: &RunSpec,
        artifacts: &[(String, Vec<u8>)],
    ) -> Result<(String, usize)> {
        let lines = read_log(path)?;
        if lines.is_empty() {
            return Err(TrackError::Invalid(format!(
                "{} holds no metrics",
                path.display()
            )));
        }
        let points = lines.iter().map(|l| l.values.len()).sum();
        let id = self.import_run(spec, &lines, artifacts)?;
        Ok((id, points))
    }

    /// Imports a week 14 run folder: its `config.json` (each top-level field a parameter), its
    /// `metrics.jsonl`, and every other file in it as an artifact — all in one transaction.
    pub fn import_run_dir(&mut self, dir: &Path, experiment: &str) -> Result<(String, usize)> {
        let cfg_path = dir.join("config.json");
        let text = std::fs::read_to_string(&cfg_path)
            .map_err(|e| TrackError::Io(format!("cannot read {}: {e}", cfg_path.display())))?;
        let cfg: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| TrackError::BadLine {
                path: cfg_path.clone(),
                line: e.line(),
                detail: e.to_string(),
            })?;
        let object = cfg.as_object().ok_or_else(|| {
            TrackError::Invalid(format!("{} is not a JSON object", cfg_path.display()))
        })?;
        let params: Vec<(&str, String)> = object
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str(),
                    v.as_str().map_or_else(|| v.to_string(), str::to_string),
                )
            })
            .collect();
        let name = dir
            .file_name()
            .map_or_else(|| "run".to_string(), |n| n.to_string_lossy().into_owned());
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| TrackError::Io(format!("cannot list {}: {e}", dir.display())))?
            .flatten()
            .map(|f| f.path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        let mut artifacts = Vec::new();
        for f in files {
            let file = f
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if file == "metrics.jsonl" || file == "config.json" {
                continue;
            }
            let bytes = std::fs::read(&f)
                .map_err(|e| TrackError::Io(format!("cannot read {}: {e}", f.display())))?;
            artifacts.push((file, bytes));
        }
        let spec = RunSpec {
            experiment,
            name: &name,
            params: &params,
            ..RunSpec::default()
        };
        self.ingest_log_with(&dir.join("metrics.jsonl"), &spec, &artifacts)
    }
}
