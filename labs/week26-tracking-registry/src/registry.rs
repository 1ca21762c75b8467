//! A model registry in the tracking store: named models, numbered versions that point at the run
//! and the artifact they came from, and aliases (`staging`, `production`) that deployments
//! resolve. Every move of an alias is logged, so that `rollback` knows where to go back to and an
//! audit can replay the log. Moves happen in `BEGIN IMMEDIATE` transactions: two people promoting
//! at once are serialised, never interleaved.

use crate::error::{Result, TrackError};
use crate::store::{Tracker, now_ms};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS models (
    name TEXT PRIMARY KEY,
    created_ms INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS model_versions (
    name TEXT NOT NULL REFERENCES models(name),
    version INTEGER NOT NULL,
    run_id TEXT NOT NULL REFERENCES runs(id),
    artifact TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (name, version)
) STRICT;
CREATE TABLE IF NOT EXISTS aliases (
    name TEXT NOT NULL,
    alias TEXT NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (name, alias),
    FOREIGN KEY (name, version) REFERENCES model_versions(name, version)
) STRICT;
CREATE TABLE IF NOT EXISTS alias_log (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    alias TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('set', 'promote', 'rollback')),
    from_version INTEGER,
    to_version INTEGER NOT NULL,
    reason TEXT NOT NULL,
    at_ms INTEGER NOT NULL
) STRICT;
";

/// The alias that serving resolves.
pub const PRODUCTION: &str = "production";
/// The alias a version must hold to be promoted.
pub const STAGING: &str = "staging";

/// A registered version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelVersion {
    pub name: String,
    pub version: i64,
    pub run_id: String,
    pub artifact: String,
    pub sha256: String,
}

/// One move of an alias.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AliasMove {
    pub alias: String,
    pub kind: String,
    pub from_version: Option<i64>,
    pub to_version: i64,
    pub reason: String,
}

/// Where a version came from: its run, the run's parameters, data and code, and its parent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Lineage {
    pub version: ModelVersion,
    pub experiment: String,
    pub run_name: String,
    pub params: Vec<(String, String)>,
    pub data_hash: Option<String>,
    pub code_version: Option<String>,
    pub parent_run: Option<String>,
}

fn alias_of(conn: &Connection, name: &str, alias: &str) -> Result<Option<i64>> {
    Ok(conn
        .query_row(
            "SELECT version FROM aliases WHERE name = ?1 AND alias = ?2",
            params![name, alias],
            |r| r.get(0),
        )
        .optional()?)
}

fn check_version(conn: &Connection, name: &str, version: i64) -> Result<()> {
    let found: Option<i64> = conn
        .query_row(
            "SELECT version FROM model_versions WHERE name = ?1 AND version = ?2",
            params![name, version],
            |r| r.get(0),
        )
        .optional()?;
    found
        .map(|_| ())
        .ok_or_else(|| TrackError::Unknown(format!("model {name:?} has no version {version}")))
}

/// Points `alias` at `version` and logs the move, inside the caller's transaction.
fn move_alias(
    conn: &Connection,
    name: &str,
    alias: &str,
    kind: &str,
    to: i64,
    reason: &str,
) -> Result<()> {
    let from = alias_of(conn, name, alias)?;
    conn.execute(
        "INSERT INTO aliases (name, alias, version) VALUES (?1, ?2, ?3)
         ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version",
        params![name, alias, to],
    )?;
    conn.execute(
        "INSERT INTO alias_log (name, alias, kind, from_version, to_version, reason, at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![name, alias, kind, from, to, reason, now_ms()],
    )?;
    Ok(())
}

impl Tracker {
    /// Registers the artifact `artifact` of the finished run `run` as the next version of
    /// `name` (1 for a new model). Returns the version.
    pub fn register(&mut self, name: &str, run: &str, artifact: &str) -> Result<i64> {
        if name.trim().is_empty() {
            return Err(TrackError::Invalid("a model needs a non-empty name".into()));
        }
        let tx = self.write()?;
        let status: Option<String> = tx
            .query_row("SELECT status FROM runs WHERE id = ?1", [run], |r| r.get(0))
            .optional()?;
        match status.as_deref() {
            None => return Err(TrackError::UnknownRun(run.to_string())),
            Some("finished") => {}
            Some(s) => {
                return Err(TrackError::Invalid(format!(
                    "run {run} is {s}: only a finished run's model can be registered"
                )));
            }
        }
        let sha: String = tx
            .query_row(
                "SELECT sha256 FROM artifacts WHERE run_id = ?1 AND path = ?2",
                params![run, artifact],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| {
                TrackError::Invalid(format!("run {run} has no artifact {artifact:?}"))
            })?;
        tx.execute(
            "INSERT OR IGNORE INTO models (name, created_ms) VALUES (?1, ?2)",
            params![name, now_ms()],
        )?;
        let version: i64 = tx.query_row(
            "SELECT COALESCE(MAX(version), 0) + 1 FROM model_versions WHERE name = ?1",
            [name],
            |r| r.get(0),
        )?;
        tx.execute(
            "INSERT INTO model_versions (name, version, run_id, artifact, sha256, created_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![name, version, run, artifact, sha, now_ms()],
        )?;
        tx.commit()?;
        Ok(version)
    }

    /// Points `alias` (any name but `production`, which only `promote` and `rollback` move) at
    /// `version`.
    pub fn set_alias(&mut self, name: &str, alias: &str, version: i64, reason: &str) -> Result<()> {
        if alias == PRODUCTION {
            return Err(TrackError::Invalid(
                "`production` moves only by promote (from staging) or rollback".into(),
            ));
        }
        let tx = self.write()?;
        check_version(&tx, name, version)?;
        move_alias(&tx, name, alias, "set", version, reason)?;
        tx.commit()?;
        Ok(())
    }

    // ANCHOR: promote
    /// Promotes `version` of `name` to production. Only the version that holds the `staging`
    /// alias may be promoted; the check, the move of `production`, the removal of `staging` and
    /// the log row are one transaction, so that two promotions at once cannot interleave.
    pub fn promote(&mut self, name: &str, version: i64, reason: &str) -> Result<()> {
        let tx = self.write()?;
        check_version(&tx, name, version)?;
        // BEGIN SOLUTION promote
        match alias_of(&tx, name, STAGING)? {
            Some(v) if v == version => {}
            staged => {
                return Err(TrackError::Invalid(format!(
                    "version {version} of {name:?} is not in staging ({}): only the staged version can be promoted",
                    staged.map_or("nothing is".to_string(), |v| format!("version {v} is"))
                )));
            }
        }
        move_alias(&tx, name, PRODUCTION, "promote", version, reason)?;
        tx.execute(
            "DELETE FROM aliases WHERE name = ?1 AND alias = ?2",
            params![name, STAGING],
        )?;
        tx.commit()?;
        Ok(())
        // END SOLUTION
    }
    // ANCHOR_END: promote

    // ANCHOR: rollback
    /// Puts production back on the version it served before the promotion that brought the
    /// current one, and returns it. Repeated rollbacks walk further back through the
    /// promotions. Fails when production was never promoted from an earlier version.
    pub fn rollback(&mut self, name: &str, reason: &str) -> Result<i64> {
        let tx = self.write()?;
        // BEGIN SOLUTION rollback
        let current = alias_of(&tx, name, PRODUCTION)?.ok_or_else(|| {
            TrackError::Invalid(format!("{name:?} has no production version to roll back"))
        })?;
        let previous: Option<Option<i64>> = tx
            .query_row(
                "SELECT from_version FROM alias_log
                 WHERE name = ?1 AND alias = ?2 AND kind = 'promote' AND to_version = ?3
                 ORDER BY id DESC LIMIT 1",
                params![name, PRODUCTION, current],
                |r| r.get(0),
            )
            .optional()?;
        let target = previous.flatten().ok_or_else(|| {
            TrackError::Invalid(format!(
                "version {current} of {name:?} was not promoted from an earlier version: nothing to roll back to"
            ))
        })?;
        move_alias(&tx, name, PRODUCTION, "rollback", target, reason)?;
        tx.commit()?;
        Ok(target)
        // END SOLUTION
    }
    // ANCHOR_END: rollback

    /// The version an alias points at.
    pub fn resolve(&self, name: &str, alias: &str) -> Result<ModelVersion> {
        let v = alias_of(&self.conn, name, alias)?
            .ok_or_else(|| TrackError::Unknown(format!("{name:?} has no alias {alias:?}")))?;
        self.version(name, v)
    }

    /// One version.
    pub fn version(&self, name: &str, version: i64) -> Result<ModelVersion> {
        self.conn
            .query_row(
                "SELECT name, version, run_id, artifact, sha256 FROM model_versions
                 WHERE name = ?1 AND version = ?2",
                params![name, version],
                |r| {
                    Ok(ModelVersion {
                        name: r.get(0)?,
                        version: r.get(1)?,
                        run_id: r.get(2)?,
                        artifact: r.get(3)?,
                        sha256: r.get(4)?,
                    })
                },
            )
            .optional()?
            .ok_or_else(|| TrackError::Unknown(format!("model {name:?} has no version {version}")))
    }

    /// Every version of `name`, oldest first.
    pub fn versions(&self, name: &str) -> Result<Vec<ModelVersion>> {
        let mut q = self
            .conn
            .prepare("SELECT version FROM model_versions WHERE name = ?1 ORDER BY version")?;
        let vs: Vec<i64> = q
            .query_map([name], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        vs.into_iter().map(|v| self.version(name, v)).collect()
    }

    /// Every alias move of `name`, in order.
    pub fn alias_history(&self, name: &str) -> Result<Vec<AliasMove>> {
        let mut q = self.conn.prepare(
            "SELECT alias, kind, from_version, to_version, reason FROM alias_log
             WHERE name = ?1 ORDER BY id",
        )?;
        Ok(q.query_map([name], |r| {
            Ok(AliasMove {
                alias: r.get(0)?,
                kind: r.get(1)?,
                from_version: r.get(2)?,
                to_version: r.get(3)?,
                reason: r.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?)
    }

    /// Where `version` came from.
    pub fn lineage(&self, name: &str, version: i64) -> Result<Lineage> {
        let v = self.version(name, version)?;
        let run = self.run(&v.run_id)?;
        Ok(Lineage {
            experiment: run.experiment,
            run_name: run.name,
            params: run.params,
            data_hash: run.data_hash,
            code_version: run.code_version,
            parent_run: run.parent_run,
            version: v,
        })
    }

    /// Replays the alias log of `name`: each move of an alias must start where the previous one
    /// ended, and the last must end where the alias points now (a promotion also clears
    /// `staging`). Returns the problems (empty: the log and the aliases agree).
    pub fn audit_aliases(&self, name: &str) -> Result<Vec<String>> {
        let mut state: std::collections::BTreeMap<String, i64> = Default::default();
        let mut problems = Vec::new();
        for (i, m) in self.alias_history(name)?.iter().enumerate() {
            let before = state.get(&m.alias).copied();
            if before != m.from_version {
                problems.push(format!(
                    "move {} of {}: logged from {:?}, but the alias was at {:?}",
                    i + 1,
                    m.alias,
                    m.from_version,
                    before
                ));
            }
            state.insert(m.alias.clone(), m.to_version);
            if m.kind == "promote" {
                state.remove(STAGING);
            }
        }
        let mut q = self
            .conn
            .prepare("SELECT alias, version FROM aliases WHERE name = ?1 ORDER BY alias")?;
        let now: std::collections::BTreeMap<String, i64> = q
            .query_map([name], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        if now != state {
            problems.push(format!(
                "the aliases are {now:?}, the log replays to {state:?}"
            ));
        }
        Ok(problems)
    }
}
