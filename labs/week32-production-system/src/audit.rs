//! The audit log: who did what and when, in a form that shows any later change.
//!
//! One JSON record per line, appended and synced before the action is acknowledged. Each record
//! holds the MAC of the record before it (`prev`; the first holds [`GENESIS`]) and its own `mac`:
//! HMAC-SHA256, under a key only the service holds, of its sequence number, time, actor, action,
//! detail and `prev`. Changing any field of a record breaks its MAC; recomputing it needs the
//! key; removing or reordering records breaks the sequence and the chain of `prev`s; cutting the
//! tail off is seen against the head (last sequence number and MAC) kept beside the log — in
//! production, also copied somewhere the service cannot rewrite.

use crate::secrets::Secret;
use crate::{Context, Result, hex, invalid, now_ms};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Sha256;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The `prev` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// 1, 2, 3, … with no gaps.
    pub seq: u64,
    pub at_ms: u64,
    /// Who: a key id, `system`, `retention`, …
    pub actor: String,
    /// What: `model.rollback`, `key.create`, `retention.run`, …
    pub action: String,
    /// The action's particulars (never a secret, never personal data).
    pub detail: Value,
    /// The previous record's `mac` ([`GENESIS`] for the first).
    pub prev: String,
    /// HMAC-SHA256 of the fields above, hex.
    pub mac: String,
}

/// The last record's sequence number and MAC: what a truncated log can no longer match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    pub seq: u64,
    pub mac: String,
}

// ANCHOR: mac
/// The MAC of a record's fields under `key`: HMAC-SHA256 over the JSON array
/// `[seq, at_ms, actor, action, detail, prev]`, in lower-case hex.
pub fn record_mac(
    key: &Secret,
    seq: u64,
    at_ms: u64,
    actor: &str,
    action: &str,
    detail: &Value,
    prev: &str,
) -> String {
    // BEGIN SOLUTION mac
    let body = json!([seq, at_ms, actor, action, detail, prev]).to_string();
    let mut mac =
        Hmac::<Sha256>::new_from_slice(key.expose()).expect("HMAC takes keys of any length");
    mac.update(body.as_bytes());
    hex(&mac.finalize().into_bytes())
    // END SOLUTION
}
// ANCHOR_END: mac

/// What is wrong at one place of the log.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// The line is not a record (not JSON, a field missing, a torn write).
    Unreadable { reason: String },
    /// The sequence number is not the one after the previous record's.
    OutOfSequence { expected: u64, found: u64 },
    /// `prev` is not the previous record's MAC: a record before it was removed, replaced or moved.
    BrokenLink,
    /// The MAC does not match the record's fields: the record was changed, or forged without
    /// the key.
    BadMac,
    /// The log ends before the head: records were cut off its end.
    Truncated { head_seq: u64, last_seq: u64 },
    /// The last record is not the head: the head is stale, or records were added behind the
    /// service's back.
    HeadMismatch { head_seq: u64, last_seq: u64 },
}

/// A fault and where: the line (1-based; the line after the last for a truncation) and the
/// sequence number the record there claims, if it could be read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    pub line: usize,
    pub seq: Option<u64>,
    #[serde(flatten)]
    pub fault: Fault,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}", self.line)?;
        if let Some(seq) = self.seq {
            write!(f, " (seq {seq})")?;
        }
        match &self.fault {
            Fault::Unreadable { reason } => write!(f, ": unreadable: {reason}"),
            Fault::OutOfSequence { expected, found } => {
                write!(
                    f,
                    ": out of sequence: expected seq {expected}, found {found}"
                )
            }
            Fault::BrokenLink => write!(f, ": prev is not the previous record's MAC"),
            Fault::BadMac => write!(f, ": the MAC does not match the record"),
            Fault::Truncated { head_seq, last_seq } => write!(
                f,
                ": the log ends at seq {last_seq}, its head says {head_seq}"
            ),
            Fault::HeadMismatch { head_seq, last_seq } => write!(
                f,
                ": the last record (seq {last_seq}) is not the head (seq {head_seq})"
            ),
        }
    }
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// Lines read as records.
    pub records: usize,
    /// Every fault, in order of the lines; the first is where the log stops being trustworthy.
    pub problems: Vec<Problem>,
}

impl Verdict {
    pub fn intact(&self) -> bool {
        self.problems.is_empty()
    }
}

// ANCHOR: verify
/// Checks the log `text` (one record per line) under `key`: every line a record, sequence
/// numbers 1, 2, 3, …, each `prev` the MAC stored on the line before (the first: [`GENESIS`]),
/// each MAC right; and, given the `head`, that the last record is it. A line that cannot be read
/// is reported and skipped; the next record is then checked against the last one read.
pub fn verify(key: &Secret, text: &str, head: Option<&Head>) -> Verdict {
    let mut problems = Vec::new();
    let mut records = 0;
    // BEGIN SOLUTION verify
    let (mut expected, mut prev) = (1u64, GENESIS.to_string());
    let mut last: Option<u64> = None;
    let mut lines = 0;
    for (i, line) in text.lines().enumerate() {
        lines = i + 1;
        let r: Record = match serde_json::from_str(line) {
            Ok(r) => r,
            Err(e) => {
                problems.push(Problem {
                    line: i + 1,
                    seq: None,
                    fault: Fault::Unreadable {
                        reason: e.to_string(),
                    },
                });
                continue;
            }
        };
        records += 1;
        let at = |fault| Problem {
            line: i + 1,
            seq: Some(r.seq),
            fault,
        };
        if r.seq != expected {
            problems.push(at(Fault::OutOfSequence {
                expected,
                found: r.seq,
            }));
        }
        if r.prev != prev {
            problems.push(at(Fault::BrokenLink));
        }
        let mac = record_mac(key, r.seq, r.at_ms, &r.actor, &r.action, &r.detail, &r.prev);
        if mac != r.mac {
            problems.push(at(Fault::BadMac));
        }
        expected = r.seq + 1;
        prev = r.mac.clone();
        last = Some(r.seq);
    }
    if let Some(head) = head {
        let last_seq = last.unwrap_or(0);
        if last_seq < head.seq {
            problems.push(Problem {
                line: lines + 1,
                seq: None,
                fault: Fault::Truncated {
                    head_seq: head.seq,
                    last_seq,
                },
            });
        } else if last_seq != head.seq || prev != head.mac {
            problems.push(Problem {
                line: lines,
                seq: last,
                fault: Fault::HeadMismatch {
                    head_seq: head.seq,
                    last_seq,
                },
            });
        }
    }
    // END SOLUTION
    Verdict { records, problems }
}
// ANCHOR_END: verify

struct State {
    file: File,
    head: Head,
}

/// The log on disk (`path`) and its head (`path` + `.head`).
pub struct AuditLog {
    path: PathBuf,
    key: Secret,
    state: Mutex<State>,
}

/// What [`AuditLog::open`] found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Opened {
    pub records: usize,
    /// Bytes of a torn last line dropped (an append that a crash interrupted before it was
    /// synced and acknowledged).
    pub torn_bytes: usize,
}

fn head_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".head");
    PathBuf::from(p)
}

/// The head stored beside the log at `path`, if there is one.
pub fn read_head(path: &Path) -> Result<Option<Head>> {
    let hp = head_path(path);
    match std::fs::read(&hp) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| invalid("audit head", format!("{}: {e}", hp.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).during(format!("reading {}", hp.display())),
    }
}

impl AuditLog {
    /// Opens (or creates) the log at `path` under `key`. A torn last line — bytes after the last
    /// newline — is an append that never finished, and is cut off; then the whole log must
    /// verify against its head, or it is not opened (the error names the first fault).
    pub fn open(path: &Path, key: Secret) -> Result<(Self, Opened)> {
        let what = || format!("the audit log {}", path.display());
        let mut bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e).during(what()),
        };
        let keep = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let torn_bytes = bytes.len() - keep;
        if torn_bytes > 0 {
            bytes.truncate(keep);
            let f = OpenOptions::new().write(true).open(path).during(what())?;
            f.set_len(keep as u64).during(what())?;
            f.sync_all().during(what())?;
        }
        let text = String::from_utf8(bytes).map_err(|_| invalid("audit log", "not UTF-8"))?;
        let head = read_head(path)?;
        let verdict = verify(&key, &text, head.as_ref());
        if let Some(p) = verdict.problems.first() {
            return Err(invalid(
                "audit log",
                format!(
                    "{} does not verify ({} fault(s)); the first: {p}",
                    path.display(),
                    verdict.problems.len()
                ),
            ));
        }
        let head = match text.lines().last() {
            Some(line) => {
                let r: Record =
                    serde_json::from_str(line).map_err(|e| invalid("audit log", e.to_string()))?;
                Head {
                    seq: r.seq,
                    mac: r.mac,
                }
            }
            None => Head {
                seq: 0,
                mac: GENESIS.to_string(),
            },
        };
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .during(what())?;
        let log = Self {
            path: path.to_path_buf(),
            key,
            state: Mutex::new(State { file, head }),
        };
        Ok((
            log,
            Opened {
                records: verdict.records,
                torn_bytes,
            },
        ))
    }

    /// Appends a record and syncs it (and then the head) to disk before returning it: once this
    /// returns, the action may be acknowledged.
    pub fn append(&self, actor: &str, action: &str, detail: Value) -> Result<Record> {
        if actor.is_empty() || action.is_empty() {
            return Err(invalid("actor/action", "both must be non-empty"));
        }
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let seq = st.head.seq + 1;
        let at_ms = now_ms();
        let prev = st.head.mac.clone();
        let mac = record_mac(&self.key, seq, at_ms, actor, action, &detail, &prev);
        let record = Record {
            seq,
            at_ms,
            actor: actor.to_string(),
            action: action.to_string(),
            detail,
            prev,
            mac,
        };
        let mut line =
            serde_json::to_string(&record).map_err(|e| invalid("detail", e.to_string()))?;
        line.push('\n');
        let what = || format!("appending to {}", self.path.display());
        st.file.write_all(line.as_bytes()).during(what())?;
        st.file.sync_data().during(what())?;
        let head = Head {
            seq,
            mac: record.mac.clone(),
        };
        let hp = head_path(&self.path);
        let tmp = hp.with_extension("head.tmp");
        let head_json = serde_json::to_vec(&head).map_err(|e| invalid("head", e.to_string()))?;
        let mut f = File::create(&tmp).during(what())?;
        f.write_all(&head_json).during(what())?;
        f.sync_all().during(what())?;
        std::fs::rename(&tmp, &hp).during(what())?;
        st.head = head;
        Ok(record)
    }

    /// The last record's sequence number and MAC.
    pub fn head(&self) -> Head {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .head
            .clone()
    }

    /// Verifies the log as it is on disk now, against the head kept beside it.
    pub fn verify(&self) -> Result<Verdict> {
        let _st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        verify_file(&self.path, &self.key)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Verifies the log at `path` and the head beside it under `key`.
pub fn verify_file(path: &Path, key: &Secret) -> Result<Verdict> {
    let text = std::fs::read_to_string(path).during(format!("reading {}", path.display()))?;
    let head = read_head(path)?;
    Ok(verify(key, &text, head.as_ref()))
}

/// The records of the log at `path` (lines that are not records are skipped).
pub fn records(path: &Path) -> Result<Vec<Record>> {
    let text = std::fs::read_to_string(path).during(format!("reading {}", path.display()))?;
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect())
}
