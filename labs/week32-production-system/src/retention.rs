//! The request store and its retention job.
//!
//! Every request the service accepts is stored (its redacted comment, the version that answered,
//! the status) before it is answered. Personal data must not be kept longer than its purpose
//! needs: the [`Policy`] gives each kind of record its time to live, records under legal hold
//! are kept whatever their age, and the job deletes exactly the rest, in one transaction, and
//! writes what it deleted (counts and a SHA-256 of the ids) to the audit log.

use crate::audit::AuditLog;
use crate::{Context, Result, hex, invalid};
use rusqlite::{Connection, params};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY,
    request_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    legal_hold INTEGER NOT NULL DEFAULT 0,
    status INTEGER NOT NULL,
    version INTEGER,
    comment TEXT
) STRICT;
CREATE INDEX IF NOT EXISTS requests_kind_at ON requests (kind, at_ms);
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    scopes TEXT NOT NULL,
    hash BLOB NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
) STRICT;
";

/// Opens (or creates) the store at `path`: WAL, synced at each commit.
pub fn open(path: &Path) -> Result<Connection> {
    let what = || format!("the request store {}", path.display());
    let conn = Connection::open(path).during(what())?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;",
    )
    .during(what())?;
    conn.execute_batch(SCHEMA).during(what())?;
    Ok(conn)
}

/// One stored request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredRequest {
    pub request_id: String,
    pub user_id: String,
    pub kind: String,
    pub at_ms: i64,
    pub legal_hold: bool,
    pub status: i64,
    pub version: Option<i64>,
    pub comment: Option<String>,
}

/// Stores `r`; returns its row id.
pub fn insert(conn: &Connection, r: &StoredRequest) -> Result<i64> {
    conn.execute(
        "INSERT INTO requests (request_id, user_id, kind, at_ms, legal_hold, status, version, comment)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![r.request_id, r.user_id, r.kind, r.at_ms, r.legal_hold as i64, r.status, r.version, r.comment],
    )
    .during("storing a request")?;
    Ok(conn.last_insert_rowid())
}

/// Puts the requests of `user_id` under legal hold (or releases them); returns how many.
pub fn set_legal_hold(conn: &Connection, user_id: &str, hold: bool) -> Result<usize> {
    conn.execute(
        "UPDATE requests SET legal_hold = ?2 WHERE user_id = ?1",
        params![user_id, hold as i64],
    )
    .during("setting a legal hold")
}

/// How long each kind of record is kept, in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Policy {
    pub keep_ms: BTreeMap<String, i64>,
}

pub const DAY_MS: i64 = 86_400_000;

impl Policy {
    /// The lab's policy: predictions and chats 30 days, admin actions' requests 365 days.
    pub fn standard() -> Self {
        Self {
            keep_ms: BTreeMap::from([
                ("predict".to_string(), 30 * DAY_MS),
                ("chat".to_string(), 30 * DAY_MS),
                ("admin".to_string(), 365 * DAY_MS),
            ]),
        }
    }

    fn check(&self) -> Result<()> {
        for (kind, keep) in &self.keep_ms {
            if *keep <= 0 {
                return Err(invalid(
                    "policy",
                    format!("{kind:?} must be kept for a positive time, got {keep} ms"),
                ));
            }
        }
        Ok(())
    }
}

/// What a retention run did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RetentionReport {
    pub now_ms: i64,
    /// Rows deleted, by kind.
    pub deleted: BTreeMap<String, usize>,
    /// Rows past their time but kept for a legal hold.
    pub held: usize,
    /// Rows of kinds the policy does not name (kept, and reported: a policy gap).
    pub unknown_kinds: BTreeMap<String, usize>,
    /// SHA-256 of the deleted row ids, ascending, comma-separated: what the audit record keeps.
    pub ids_sha256: String,
    /// The deleted ids.
    #[serde(skip)]
    pub ids: Vec<i64>,
}

// ANCHOR: due
/// The ids of the rows `policy` says must go at `now_ms`: a row of a kind the policy names,
/// stored more than that kind's time to live ago (`at_ms < now_ms − keep_ms`; a row exactly that
/// old stays), and not under legal hold. Ascending.
pub fn due(conn: &Connection, policy: &Policy, now_ms: i64) -> Result<Vec<i64>> {
    policy.check()?;
    let mut ids = Vec::new();
    // BEGIN SOLUTION due
    let mut stmt = conn
        .prepare("SELECT id FROM requests WHERE kind = ?1 AND at_ms < ?2 AND legal_hold = 0")
        .during("selecting expired requests")?;
    for (kind, keep) in &policy.keep_ms {
        let rows = stmt
            .query_map(params![kind, now_ms - keep], |r| r.get::<_, i64>(0))
            .during("selecting expired requests")?;
        for id in rows {
            ids.push(id.during("reading an id")?);
        }
    }
    ids.sort_unstable();
    // END SOLUTION
    Ok(ids)
}
// ANCHOR_END: due

/// Deletes what [`due`] returns in one transaction, then records the run in `audit` (actor
/// `retention`, action `retention.run`).
pub fn run(
    conn: &mut Connection,
    policy: &Policy,
    now_ms: i64,
    audit: &AuditLog,
) -> Result<RetentionReport> {
    let tx = conn.transaction().during("starting the retention run")?;
    let ids = due(&tx, policy, now_ms)?;
    let mut deleted: BTreeMap<String, usize> = BTreeMap::new();
    {
        let mut kind_of = tx
            .prepare("SELECT kind FROM requests WHERE id = ?1")
            .during("retention")?;
        let mut delete = tx
            .prepare("DELETE FROM requests WHERE id = ?1")
            .during("retention")?;
        for id in &ids {
            let kind: String = kind_of.query_row([id], |r| r.get(0)).during("retention")?;
            delete.execute([id]).during("deleting a request")?;
            *deleted.entry(kind).or_default() += 1;
        }
    }
    let mut held = 0;
    for (kind, keep) in &policy.keep_ms {
        let n: i64 = tx
            .query_row(
                "SELECT COUNT(*) FROM requests WHERE kind = ?1 AND at_ms < ?2 AND legal_hold = 1",
                params![kind, now_ms - keep],
                |r| r.get(0),
            )
            .during("counting held requests")?;
        held += n as usize;
    }
    let mut unknown_kinds = BTreeMap::new();
    {
        let mut stmt = tx
            .prepare("SELECT kind, COUNT(*) FROM requests GROUP BY kind")
            .during("retention")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .during("retention")?;
        for row in rows {
            let (kind, n) = row.during("retention")?;
            if !policy.keep_ms.contains_key(&kind) {
                unknown_kinds.insert(kind, n as usize);
            }
        }
    }
    tx.commit().during("committing the retention run")?;
    let joined: Vec<String> = ids.iter().map(i64::to_string).collect();
    let ids_sha256 = hex(&Sha256::digest(joined.join(",").as_bytes()));
    audit.append(
        "retention",
        "retention.run",
        json!({"now_ms": now_ms, "deleted": deleted, "held": held, "ids_sha256": ids_sha256}),
    )?;
    Ok(RetentionReport {
        now_ms,
        deleted,
        held,
        unknown_kinds,
        ids_sha256,
        ids,
    })
}
