//! Experiment tracking on an embedded database: experiments, runs, parameters, step-wise metrics,
//! tags and content-addressed artifacts — what MLflow's tracking server keeps, in one SQLite file
//! (WAL, `synchronous = FULL`) and a folder of blobs named by their SHA-256.
//!
//! Every write is one transaction: a run appears with all its parameters or not at all, a batch
//! of metrics lands whole or not at all, and an artifact's row is written only once its blob is
//! complete on disk. A process killed at any instant leaves the store as it was after its last
//! commit.

use crate::error::{Result, TrackError};
use rand::RngCore;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The store's schema: experiments hold runs; a run holds parameters (set once), metrics (one
/// value per key and step), tags (mutable) and artifacts (a path in the run → a blob's hash).
/// The registry's tables (see `registry`) live in the same file, so that a model version can
/// point at its run with a foreign key.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS experiments (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_ms INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    experiment_id INTEGER NOT NULL REFERENCES experiments(id),
    name TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'finished', 'failed')),
    parent_run TEXT REFERENCES runs(id),
    data_hash TEXT,
    code_version TEXT,
    start_ms INTEGER NOT NULL,
    end_ms INTEGER
) STRICT;
CREATE TABLE IF NOT EXISTS params (
    run_id TEXT NOT NULL REFERENCES runs(id),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS metrics (
    run_id TEXT NOT NULL REFERENCES runs(id),
    key TEXT NOT NULL,
    step INTEGER NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (run_id, key, step)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tags (
    run_id TEXT NOT NULL REFERENCES runs(id),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS artifacts (
    run_id TEXT NOT NULL REFERENCES runs(id),
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    PRIMARY KEY (run_id, path)
) STRICT, WITHOUT ROWID;
";

/// What a new run records besides its metrics.
#[derive(Debug, Clone, Default)]
pub struct RunSpec<'a> {
    pub experiment: &'a str,
    pub name: &'a str,
    pub params: &'a [(&'a str, String)],
    /// The run this one continues or was derived from (a retrain, a fine-tune).
    pub parent: Option<&'a str>,
    /// SHA-256 of the training data, and the code's version (a commit, a crate version).
    pub data_hash: Option<&'a str>,
    pub code_version: Option<&'a str>,
}

/// A run as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Run {
    pub id: String,
    pub experiment: String,
    pub name: String,
    pub status: String,
    pub parent_run: Option<String>,
    pub data_hash: Option<String>,
    pub code_version: Option<String>,
    pub params: Vec<(String, String)>,
    pub tags: Vec<(String, String)>,
}

/// Runs side by side: the parameters that differ between them and each run's latest value of
/// every metric any of them logged (MLflow's compare view).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub runs: Vec<String>,
    /// (parameter, its value in each run; None where a run lacks it).
    pub differing_params: Vec<(String, Vec<Option<String>>)>,
    /// (metric, each run's latest value).
    pub latest: Vec<(String, Vec<Option<f64>>)>,
}

/// One metric value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Point {
    pub step: i64,
    pub value: f64,
}

/// Whether a larger or a smaller metric is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    Max,
    Min,
}

/// The tracking store: `tracking.sqlite` and `artifacts/` in one folder.
#[derive(Debug)]
pub struct Tracker {
    pub(crate) conn: Connection,
    root: PathBuf,
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A fresh run id: 32 hex digits from the OS's random source (as MLflow's run ids).
fn new_run_id() -> Result<String> {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| TrackError::Io(format!("random run id: {e}")))?;
    Ok(hex(&bytes))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Tracker {
    /// Opens (or creates) the store in `dir`. A file that is not a SQLite database, or one that
    /// fails SQLite's quick integrity check, is refused with its path.
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir.join("artifacts"))
            .map_err(|e| TrackError::Io(format!("cannot create {}: {e}", dir.display())))?;
        let path = dir.join("tracking.sqlite");
        let corrupt = |e: rusqlite::Error| TrackError::Corrupt {
            path: path.clone(),
            detail: e.to_string(),
        };
        let conn = Connection::open(&path).map_err(corrupt)?;
        conn.busy_timeout(Duration::from_secs(30))
            .map_err(corrupt)?;
        // The journal mode is the first read of the file: a file that is not a database fails here.
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(corrupt)?;
        if mode != "wal" {
            return Err(TrackError::Corrupt {
                path,
                detail: format!("cannot switch to WAL (journal mode {mode})"),
            });
        }
        let check: String = conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(corrupt)?;
        if check != "ok" {
            return Err(TrackError::Corrupt {
                path,
                detail: format!("integrity check: {check}"),
            });
        }
        conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
            .map_err(corrupt)?;
        conn.execute_batch(SCHEMA).map_err(corrupt)?;
        conn.execute_batch(crate::registry::SCHEMA)
            .map_err(corrupt)?;
        Ok(Self {
            conn,
            root: dir.to_path_buf(),
        })
    }

    /// A write transaction, begun IMMEDIATE: it takes the database's write lock before its first
    /// read, so that what it reads cannot change before it writes (another writer waits, up to
    /// the busy timeout).
    pub(crate) fn write(&mut self) -> Result<rusqlite::Transaction<'_>> {
        Ok(self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?)
    }

    /// The folder of the store.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Starts a run, creating its experiment if needed: the run and all its parameters are
    /// committed in one transaction. Returns the run's id.
    pub fn start_run(&mut self, spec: &RunSpec) -> Result<String> {
        let tx = self.write()?;
        let id = insert_run(&tx, spec)?;
        tx.commit()?;
        Ok(id)
    }

    /// Fails unless `run` exists and is still running.
    fn check_running(conn: &Connection, run: &str) -> Result<()> {
        let status: Option<String> = conn
            .query_row("SELECT status FROM runs WHERE id = ?1", [run], |r| r.get(0))
            .optional()?;
        match status.as_deref() {
            None => Err(TrackError::UnknownRun(run.to_string())),
            Some("running") => Ok(()),
            Some(s) => Err(TrackError::Invalid(format!(
                "run {run} is {s}: a finished run takes no more metrics"
            ))),
        }
    }

    // ANCHOR: log_metrics
    /// Logs a batch of `(key, step, value)` metrics of a running `run` in one transaction: all of
    /// them or, on any error, none. Values must be finite; a (key, step) already logged is an
    /// error (history is not rewritten).
    pub fn log_metrics(&mut self, run: &str, batch: &[(&str, i64, f64)]) -> Result<()> {
        if let Some((k, s, v)) = batch.iter().find(|(_, _, v)| !v.is_finite()) {
            return Err(TrackError::Invalid(format!(
                "metric `{k}` at step {s} is {v}: only finite values can be logged"
            )));
        }
        // BEGIN SOLUTION log_metrics
        let tx = self.write()?;
        Self::check_running(&tx, run)?;
        {
            let mut put = tx.prepare_cached(
                "INSERT INTO metrics (run_id, key, step, value) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for (key, step, value) in batch {
                put.execute(params![run, key, step, value])
                    .map_err(|e| match e {
                        rusqlite::Error::SqliteFailure(f, _)
                            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
                        {
                            TrackError::Invalid(format!(
                                "metric `{key}` at step {step} of run {run} is already logged"
                            ))
                        }
                        other => other.into(),
                    })?;
            }
        }
        tx.commit()?;
        Ok(())
        // END SOLUTION
    }
    // ANCHOR_END: log_metrics

    /// Sets a tag (tags may change: a note, a review status).
    pub fn set_tag(&mut self, run: &str, key: &str, value: &str) -> Result<()> {
        let tx = self.write()?;
        if self_run_exists(&tx, run)?.is_none() {
            return Err(TrackError::UnknownRun(run.to_string()));
        }
        tx.execute(
            "INSERT INTO tags (run_id, key, value) VALUES (?1, ?2, ?3)
             ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value",
            params![run, key, value],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Ends a running run as `finished` (or `failed`).
    pub fn end_run(&mut self, run: &str, failed: bool) -> Result<()> {
        let tx = self.write()?;
        Self::check_running(&tx, run)?;
        tx.execute(
            "UPDATE runs SET status = ?2, end_ms = ?3 WHERE id = ?1",
            params![run, if failed { "failed" } else { "finished" }, now_ms()],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The path of the blob with hash `sha256`.
    pub fn blob_path(&self, sha256: &str) -> PathBuf {
        self.root
            .join("artifacts")
            .join(&sha256[..2.min(sha256.len())])
            .join(sha256)
    }

    // ANCHOR: put_blob
    /// Stores `bytes` under their SHA-256 and returns the hash. The blob is written to a
    /// temporary file, synced, then renamed into place: a process killed half-way leaves a
    /// `.tmp` file that no row points to, never a truncated blob under a real hash. Storing the
    /// same bytes twice keeps one copy.
    pub fn put_blob(&self, bytes: &[u8]) -> Result<String> {
        let sha = hex(&Sha256::digest(bytes));
        let path = self.blob_path(&sha);
        if path.exists() {
            return Ok(sha);
        }
        let io = |what: &str, p: &Path, e: std::io::Error| {
            TrackError::Io(format!("cannot {what} {}: {e}", p.display()))
        };
        // BEGIN SOLUTION put_blob
        let dir = path.parent().unwrap_or(&self.root).to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|e| io("create", &dir, e))?;
        let tmp = dir.join(format!("{sha}.{}.tmp", std::process::id()));
        let mut f = File::create(&tmp).map_err(|e| io("create", &tmp, e))?;
        f.write_all(bytes).map_err(|e| io("write", &tmp, e))?;
        f.sync_all().map_err(|e| io("sync", &tmp, e))?;
        drop(f);
        std::fs::rename(&tmp, &path).map_err(|e| io("rename", &tmp, e))?;
        // The rename is durable once the folder's entry is on disk.
        File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io("sync", &dir, e))?;
        Ok(sha)
        // END SOLUTION
    }
    // ANCHOR_END: put_blob

    /// Logs `bytes` as the artifact `path` of `run`: the blob first, then its row.
    pub fn log_artifact(&mut self, run: &str, path: &str, bytes: &[u8]) -> Result<String> {
        check_artifact_path(path)?;
        let sha = self.put_blob(bytes)?;
        let tx = self.write()?;
        if self_run_exists(&tx, run)?.is_none() {
            return Err(TrackError::UnknownRun(run.to_string()));
        }
        tx.execute(
            "INSERT INTO artifacts (run_id, path, sha256, bytes) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (run_id, path) DO UPDATE SET sha256 = excluded.sha256, bytes = excluded.bytes",
            params![run, path, sha, bytes.len() as i64],
        )?;
        tx.commit()?;
        Ok(sha)
    }

    /// Reads an artifact back and checks its bytes against its hash: a blob changed or
    /// truncated on disk is an error, not a wrong model.
    pub fn read_artifact(&self, run: &str, path: &str) -> Result<Vec<u8>> {
        let sha: String = self
            .conn
            .query_row(
                "SELECT sha256 FROM artifacts WHERE run_id = ?1 AND path = ?2",
                params![run, path],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| TrackError::Invalid(format!("run {run} has no artifact {path:?}")))?;
        self.read_blob(&sha)
    }

    /// The blob `sha256`, checked against its hash.
    pub fn read_blob(&self, sha256: &str) -> Result<Vec<u8>> {
        let p = self.blob_path(sha256);
        let bytes = std::fs::read(&p)
            .map_err(|e| TrackError::Io(format!("cannot read {}: {e}", p.display())))?;
        let got = hex(&Sha256::digest(&bytes));
        if got != sha256 {
            return Err(TrackError::Corrupt {
                path: p,
                detail: format!("its content hashes to {got}, not to its name"),
            });
        }
        Ok(bytes)
    }

    /// A run with its parameters.
    pub fn run(&self, id: &str) -> Result<Run> {
        let mut run = self
            .conn
            .query_row(
                "SELECT r.id, e.name, r.name, r.status, r.parent_run, r.data_hash, r.code_version
                 FROM runs r JOIN experiments e ON e.id = r.experiment_id WHERE r.id = ?1",
                [id],
                |r| {
                    Ok(Run {
                        id: r.get(0)?,
                        experiment: r.get(1)?,
                        name: r.get(2)?,
                        status: r.get(3)?,
                        parent_run: r.get(4)?,
                        data_hash: r.get(5)?,
                        code_version: r.get(6)?,
                        params: Vec::new(),
                        tags: Vec::new(),
                    })
                },
            )
            .optional()?
            .ok_or_else(|| TrackError::UnknownRun(id.to_string()))?;
        let mut q = self
            .conn
            .prepare("SELECT key, value FROM params WHERE run_id = ?1 ORDER BY key")?;
        run.params = q
            .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut q = self
            .conn
            .prepare("SELECT key, value FROM tags WHERE run_id = ?1 ORDER BY key")?;
        run.tags = q
            .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(run)
    }

    /// The runs of `experiment`, oldest first.
    pub fn runs(&self, experiment: &str) -> Result<Vec<Run>> {
        let mut q = self.conn.prepare(
            "SELECT r.id FROM runs r JOIN experiments e ON e.id = r.experiment_id
             WHERE e.name = ?1 ORDER BY r.start_ms, r.rowid",
        )?;
        let ids: Vec<String> = q
            .query_map([experiment], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        ids.iter().map(|id| self.run(id)).collect()
    }

    /// `runs` side by side (see [`Comparison`]); an unknown id is an error.
    pub fn compare(&self, runs: &[&str]) -> Result<Comparison> {
        let all: Vec<Run> = runs.iter().map(|id| self.run(id)).collect::<Result<_>>()?;
        let mut keys: Vec<&str> = all
            .iter()
            .flat_map(|r| r.params.iter().map(|(k, _)| k.as_str()))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        let differing_params = keys
            .into_iter()
            .map(|k| {
                let values: Vec<Option<String>> = all
                    .iter()
                    .map(|r| {
                        r.params
                            .iter()
                            .find(|(p, _)| p == k)
                            .map(|(_, v)| v.clone())
                    })
                    .collect();
                (k.to_string(), values)
            })
            .filter(|(_, v)| v.iter().any(|x| x != &v[0]))
            .collect();
        let mut q = self.conn.prepare(
            "SELECT m.value FROM metrics m WHERE m.run_id = ?1 AND m.key = ?2
             ORDER BY m.step DESC LIMIT 1",
        )?;
        let mut names = self
            .conn
            .prepare("SELECT DISTINCT key FROM metrics WHERE run_id = ?1 ORDER BY key")?;
        let mut metric_keys: Vec<String> = Vec::new();
        for r in &all {
            for k in names.query_map([&r.id], |row| row.get::<_, String>(0))? {
                metric_keys.push(k?);
            }
        }
        metric_keys.sort();
        metric_keys.dedup();
        let mut latest = Vec::new();
        for k in metric_keys {
            let values = all
                .iter()
                .map(|r| q.query_row(params![r.id, k], |row| row.get(0)).optional())
                .collect::<rusqlite::Result<Vec<Option<f64>>>>()?;
            latest.push((k, values));
        }
        Ok(Comparison {
            runs: all.into_iter().map(|r| r.name).collect(),
            differing_params,
            latest,
        })
    }

    /// A metric's history, by step.
    pub fn history(&self, run: &str, key: &str) -> Result<Vec<Point>> {
        if self_run_exists(&self.conn, run)?.is_none() {
            return Err(TrackError::UnknownRun(run.to_string()));
        }
        let mut q = self.conn.prepare(
            "SELECT step, value FROM metrics WHERE run_id = ?1 AND key = ?2 ORDER BY step",
        )?;
        Ok(q.query_map(params![run, key], |r| {
            Ok(Point {
                step: r.get(0)?,
                value: r.get(1)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?)
    }

    // ANCHOR: best_run
    /// The finished run of `experiment` whose *latest* value of `metric` (the one at its largest
    /// step) is best, with that value; None when no finished run logged the metric. Ties go to
    /// the run that started first.
    pub fn best_run(
        &self,
        experiment: &str,
        metric: &str,
        goal: Goal,
    ) -> Result<Option<(String, f64)>> {
        // BEGIN SOLUTION best_run
        let order = match goal {
            Goal::Max => "DESC",
            Goal::Min => "ASC",
        };
        let sql = format!(
            "SELECT r.id, m.value
             FROM runs r
             JOIN experiments e ON e.id = r.experiment_id
             JOIN metrics m ON m.run_id = r.id AND m.key = ?2
             WHERE e.name = ?1 AND r.status = 'finished'
               AND m.step = (SELECT MAX(step) FROM metrics WHERE run_id = r.id AND key = ?2)
             ORDER BY m.value {order}, r.start_ms, r.rowid
             LIMIT 1"
        );
        Ok(self
            .conn
            .query_row(&sql, params![experiment, metric], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?)
        // END SOLUTION
    }
    // ANCHOR_END: best_run

    /// Counts of what the store holds: (experiments, runs, metric points, artifacts).
    pub fn counts(&self) -> Result<(i64, i64, i64, i64)> {
        Ok(self.conn.query_row(
            "SELECT (SELECT COUNT(*) FROM experiments), (SELECT COUNT(*) FROM runs),
                    (SELECT COUNT(*) FROM metrics), (SELECT COUNT(*) FROM artifacts)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?)
    }

    /// Checks the whole store: SQLite's integrity check, every artifact's blob present and equal
    /// to its hash. Returns the problems found (empty: all is well).
    pub fn verify(&self) -> Result<Vec<String>> {
        let mut problems = Vec::new();
        let check: String = self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        if check != "ok" {
            problems.push(format!("SQLite integrity check: {check}"));
        }
        let mut q = self
            .conn
            .prepare("SELECT DISTINCT sha256 FROM artifacts ORDER BY sha256")?;
        let hashes: Vec<String> = q
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for sha in hashes {
            if let Err(e) = self.read_blob(&sha) {
                problems.push(e.to_string());
            }
        }
        Ok(problems)
    }

    /// Temporary blobs that a killed writer left behind: no row points to them, so they are
    /// garbage, safe to delete once no writer is running.
    pub fn leftover_tmp(&self) -> Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        let art = self.root.join("artifacts");
        let dirs = std::fs::read_dir(&art)
            .map_err(|e| TrackError::Io(format!("cannot list {}: {e}", art.display())))?;
        for dir in dirs.flatten() {
            if let Ok(files) = std::fs::read_dir(dir.path()) {
                out.extend(
                    files
                        .flatten()
                        .map(|f| f.path())
                        .filter(|p| p.extension().is_some_and(|e| e == "tmp")),
                );
            }
        }
        out.sort();
        Ok(out)
    }
}

/// Inserts a running run, its experiment if new, and its parameters, inside the caller's
/// transaction. Returns the new run's id.
pub(crate) fn insert_run(tx: &Connection, spec: &RunSpec) -> Result<String> {
    if spec.experiment.trim().is_empty() || spec.name.trim().is_empty() {
        return Err(TrackError::Invalid(
            "a run needs a non-empty experiment and name".into(),
        ));
    }
    let mut keys: Vec<&str> = spec.params.iter().map(|(k, _)| *k).collect();
    keys.sort_unstable();
    if let Some(w) = keys.windows(2).find(|w| w[0] == w[1]) {
        return Err(TrackError::Invalid(format!(
            "parameter `{}` is given twice",
            w[0]
        )));
    }
    let id = new_run_id()?;
    tx.execute(
        "INSERT OR IGNORE INTO experiments (name, created_ms) VALUES (?1, ?2)",
        params![spec.experiment, now_ms()],
    )?;
    let experiment: i64 = tx.query_row(
        "SELECT id FROM experiments WHERE name = ?1",
        [spec.experiment],
        |r| r.get(0),
    )?;
    if let Some(parent) = spec.parent
        && self_run_exists(tx, parent)?.is_none()
    {
        return Err(TrackError::UnknownRun(parent.to_string()));
    }
    tx.execute(
        "INSERT INTO runs (id, experiment_id, name, status, parent_run, data_hash, code_version, start_ms)
         VALUES (?1, ?2, ?3, 'running', ?4, ?5, ?6, ?7)",
        params![id, experiment, spec.name, spec.parent, spec.data_hash, spec.code_version, now_ms()],
    )?;
    let mut put = tx.prepare("INSERT INTO params (run_id, key, value) VALUES (?1, ?2, ?3)")?;
    for (k, v) in spec.params {
        put.execute(params![id, k, v])?;
    }
    Ok(id)
}

/// Fails unless `path` is relative and stays inside the run.
pub(crate) fn check_artifact_path(path: &str) -> Result<()> {
    if path.is_empty() || path.starts_with('/') || path.split('/').any(|p| p == "..") {
        return Err(TrackError::Invalid(format!(
            "artifact path {path:?} must be relative and stay inside the run"
        )));
    }
    Ok(())
}

/// Some(()) when the run exists.
fn self_run_exists(conn: &Connection, run: &str) -> Result<Option<()>> {
    Ok(conn
        .query_row("SELECT 1 FROM runs WHERE id = ?1", [run], |_| Ok(()))
        .optional()?)
}
