//! The persistent store: one SQLite file holding the documents, their passages, each passage's
//! embedding and a full-text index (FTS5, BM25-ranked), in write-ahead-log mode.
//!
//! Why SQLite (through rusqlite) rather than a key-value store such as redb: the data is
//! relational (documents own passages, passages own vectors and index rows) and the questions
//! asked of it are queries (by source, by hash, counts, joins); SQLite brings a real full-text
//! index with BM25 ranking, transactions that make a document appear whole or not at all, and a
//! file any tool (the `sqlite3` shell, Python's `sqlite3`) can open. Its cost: the C library is
//! compiled once (about 30 s here), and one writer at a time — fine behind one worker.

use crate::ingest::Doc;
use crate::week19::Vectors;
use crate::{Result, ServiceError, invalid};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::{Path, PathBuf};
use std::time::Duration;

// ANCHOR: schema
/// The schema, created on first open. A passage's row id is its id everywhere (the full-text
/// index's row id, the id retrieval returns).
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS documents (
    id       INTEGER PRIMARY KEY,
    source   TEXT NOT NULL UNIQUE,
    title    TEXT NOT NULL,
    hash     TEXT NOT NULL,
    bytes    INTEGER NOT NULL,
    passages INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_hash ON documents(hash);
CREATE TABLE IF NOT EXISTS passages (
    id        INTEGER PRIMARY KEY,
    document  INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    position  INTEGER NOT NULL,
    start     INTEGER NOT NULL,
    end       INTEGER NOT NULL,
    text      TEXT NOT NULL,
    embedding BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS passages_document ON passages(document);
CREATE VIRTUAL TABLE IF NOT EXISTS passages_fts USING fts5(text, content='passages', content_rowid='id');
CREATE TRIGGER IF NOT EXISTS passages_ai AFTER INSERT ON passages BEGIN
    INSERT INTO passages_fts(rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER IF NOT EXISTS passages_ad AFTER DELETE ON passages BEGIN
    INSERT INTO passages_fts(passages_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
";
// ANCHOR_END: schema

/// What ingesting a document did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum Outcome {
    /// A new source: stored.
    Added,
    /// The same source with the same content: nothing written.
    Unchanged,
    /// The same source with new content: its passages replaced.
    Updated,
    /// New source, but another source holds the same content: nothing written.
    Duplicate { of: String },
}

impl Outcome {
    /// Whether the document's passages must be (re)computed and written.
    pub fn writes(&self) -> bool {
        matches!(self, Self::Added | Self::Updated)
    }
}

/// A stored document.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct DocumentRow {
    pub source: String,
    pub title: String,
    pub hash: String,
    pub bytes: usize,
    pub passages: usize,
}

/// A stored passage with where it comes from.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Passage {
    pub id: i64,
    pub source: String,
    pub title: String,
    /// Byte range in its document's text.
    pub start: usize,
    pub end: usize,
    pub text: String,
}

/// Row counts, and whether they agree with each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Counts {
    pub documents: usize,
    pub passages: usize,
    /// Rows of the full-text index.
    pub indexed: usize,
}

/// The store.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// A pause after each passage written (0 normally): lets a test kill the process in the
    /// middle of a document's transaction.
    pub pause: Duration,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.path.display())
    }
}

impl Store {
    /// Opens (or creates) the store at `path`. WAL: readers never wait for the writer, and a
    /// commit is one append to the log; `synchronous = FULL`: a commit is on disk before it
    /// returns, so what the service acknowledged survives a crash of the process or the machine.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let conn = Connection::open(path).map_err(|e| {
            invalid(
                &path.display().to_string(),
                format!("cannot open the store: {e}"),
            )
        })?;
        conn.busy_timeout(Duration::from_secs(5))?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(invalid(
                &path.display().to_string(),
                format!("the store needs write-ahead logging; SQLite chose {mode}"),
            ));
        }
        conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")?;
        conn.execute_batch(SCHEMA).map_err(|e| {
            invalid(
                &path.display().to_string(),
                format!("not a store of this service: {e}"),
            )
        })?;
        Ok(Self {
            conn,
            path: path.to_path_buf(),
            pause: Duration::ZERO,
        })
    }

    /// Where the store lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What ingesting `doc` would do now (see [`plan`]).
    pub fn plan(&self, doc: &Doc) -> Result<Outcome> {
        plan(&self.conn, doc)
    }

    // ANCHOR: write
    /// Ingests `doc` cut into `ranges` (byte ranges of its text) with one embedding per range,
    /// in one transaction: the document and all its passages become visible together at the
    /// commit, or not at all. Returns what it did ([`plan`], decided inside the transaction).
    pub fn write(
        &mut self,
        doc: &Doc,
        ranges: &[(usize, usize)],
        vectors: &[&[f32]],
    ) -> Result<Outcome> {
        if ranges.len() != vectors.len() {
            return Err(invalid(
                "vectors",
                format!("{} vectors for {} passages", vectors.len(), ranges.len()),
            ));
        }
        if ranges.is_empty() {
            return Err(invalid(
                "ranges",
                format!("{}: no passage to store", doc.source),
            ));
        }
        for (i, &(s, e)) in ranges.iter().enumerate() {
            if s >= e || doc.text.get(s..e).is_none() {
                return Err(invalid(
                    &format!("ranges[{i}]"),
                    format!(
                        "{s}..{e} is not a non-empty slice of the {}-byte text on character boundaries",
                        doc.text.len()
                    ),
                ));
            }
        }
        // BEGIN SOLUTION write
        let tx = self.conn.transaction()?;
        let outcome = plan(&tx, doc)?;
        if !outcome.writes() {
            return Ok(outcome);
        }
        let id: i64 = if outcome == Outcome::Updated {
            let id: i64 = tx.query_row(
                "SELECT id FROM documents WHERE source = ?1",
                [&doc.source],
                |r| r.get(0),
            )?;
            tx.execute("DELETE FROM passages WHERE document = ?1", [id])?;
            tx.execute(
                "UPDATE documents SET title = ?2, hash = ?3, bytes = ?4, passages = ?5 WHERE id = ?1",
                params![id, doc.title, doc.hash, doc.text.len() as i64, ranges.len() as i64],
            )?;
            id
        } else {
            tx.execute(
                "INSERT INTO documents (source, title, hash, bytes, passages) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![doc.source, doc.title, doc.hash, doc.text.len() as i64, ranges.len() as i64],
            )?;
            tx.last_insert_rowid()
        };
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO passages (document, position, start, end, text, embedding) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for (i, (&(s, e), v)) in ranges.iter().zip(vectors).enumerate() {
                insert.execute(params![
                    id,
                    i as i64,
                    s as i64,
                    e as i64,
                    &doc.text[s..e],
                    to_blob(v)
                ])?;
                if !self.pause.is_zero() {
                    std::thread::sleep(self.pause);
                }
            }
        }
        tx.commit()?;
        Ok(outcome)
        // END SOLUTION
    }
    // ANCHOR_END: write

    /// Removes the document `source` and everything of it; `false` if there was none.
    pub fn delete(&mut self, source: &str) -> Result<bool> {
        let n = self
            .conn
            .execute("DELETE FROM documents WHERE source = ?1", [source])?;
        Ok(n > 0)
    }

    /// Every stored document, in the order they were first added.
    pub fn documents(&self) -> Result<Vec<DocumentRow>> {
        let mut stmt = self
            .conn
            .prepare("SELECT source, title, hash, bytes, passages FROM documents ORDER BY id")?;
        let rows = stmt.query_map([], |r| {
            Ok(DocumentRow {
                source: r.get(0)?,
                title: r.get(1)?,
                hash: r.get(2)?,
                bytes: r.get::<_, i64>(3)? as usize,
                passages: r.get::<_, i64>(4)? as usize,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// How many documents, passages and index rows the store holds.
    pub fn counts(&self) -> Result<Counts> {
        let count = |sql: &str| -> Result<usize> {
            Ok(self.conn.query_row(sql, [], |r| r.get::<_, i64>(0))? as usize)
        };
        Ok(Counts {
            documents: count("SELECT count(*) FROM documents")?,
            passages: count("SELECT count(*) FROM passages")?,
            indexed: count("SELECT count(*) FROM passages_fts_docsize")?,
        })
    }

    /// Checks that the store is whole: SQLite's own integrity check, the full-text index's, and
    /// that every document holds exactly the passages it records. Returns the problems found
    /// (none when the store is sound).
    pub fn problems(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let sqlite: String = self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        if sqlite != "ok" {
            out.push(format!("SQLite integrity check: {sqlite}"));
        }
        if let Err(e) = self.conn.execute(
            "INSERT INTO passages_fts(passages_fts, rank) VALUES ('integrity-check', 1)",
            [],
        ) {
            out.push(format!(
                "the full-text index does not match the passages: {e}"
            ));
        }
        let mut stmt = self.conn.prepare(
            "SELECT d.source, d.passages, count(p.id) FROM documents d LEFT JOIN passages p ON p.document = d.id
             GROUP BY d.id HAVING d.passages != count(p.id)",
        )?;
        let bad = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        for row in bad {
            let (source, want, got) = row?;
            out.push(format!("{source}: records {want} passages, holds {got}"));
        }
        let orphans: i64 = self.conn.query_row(
            "SELECT count(*) FROM passages WHERE document NOT IN (SELECT id FROM documents)",
            [],
            |r| r.get(0),
        )?;
        if orphans > 0 {
            out.push(format!("{orphans} passages belong to no document"));
        }
        Ok(out)
    }

    /// The passages `ids`, in that order; an id not in the store is an error naming it.
    pub fn passages(&self, ids: &[i64]) -> Result<Vec<Passage>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT p.id, d.source, d.title, p.start, p.end, p.text FROM passages p JOIN documents d ON d.id = p.document WHERE p.id = ?1",
        )?;
        ids.iter()
            .map(|&id| {
                stmt.query_row([id], |r| {
                    Ok(Passage {
                        id: r.get(0)?,
                        source: r.get(1)?,
                        title: r.get(2)?,
                        start: r.get::<_, i64>(3)? as usize,
                        end: r.get::<_, i64>(4)? as usize,
                        text: r.get(5)?,
                    })
                })
                .optional()?
                .ok_or_else(|| ServiceError::NotFound(format!("passage {id}")))
            })
            .collect()
    }

    /// The passages of the document `source`: id and byte range, in document order (none when
    /// the store has no such document).
    pub fn spans(&self, source: &str) -> Result<Vec<(i64, usize, usize)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT p.id, p.start, p.end FROM passages p JOIN documents d ON d.id = p.document WHERE d.source = ?1 ORDER BY p.position",
        )?;
        let rows = stmt.query_map([source], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)? as usize,
                r.get::<_, i64>(2)? as usize,
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every passage's id and embedding, in id order (what dense search scans).
    pub fn vectors(&self) -> Result<(Vec<i64>, Option<Vectors>)> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, embedding FROM passages ORDER BY id")?;
        let mut ids = Vec::new();
        let mut rows = Vec::new();
        let mut it = stmt.query([])?;
        while let Some(r) = it.next()? {
            ids.push(r.get::<_, i64>(0)?);
            rows.push(from_blob(&r.get::<_, Vec<u8>>(1)?)?);
        }
        if rows.is_empty() {
            return Ok((ids, None));
        }
        Ok((ids, Some(Vectors::from_rows("stored embeddings", &rows)?)))
    }

    /// The `k` passages FTS5 ranks best for any of `words` (BM25, SQLite's k1 = 1.2, b = 0.75),
    /// best first, with the score negated so that larger is better.
    pub fn bm25(&self, words: &[String], k: usize) -> Result<Vec<(i64, f64)>> {
        if words.is_empty() || k == 0 {
            return Ok(Vec::new());
        }
        // Each word quoted: the user's text is data, never FTS5 query syntax.
        let query = words
            .iter()
            .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
            .collect::<Vec<_>>()
            .join(" OR ");
        let mut stmt = self.conn.prepare_cached(
            "SELECT rowid, bm25(passages_fts) FROM passages_fts WHERE passages_fts MATCH ?1 ORDER BY bm25(passages_fts), rowid LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![query, k as i64], |r| {
            Ok((r.get::<_, i64>(0)?, -r.get::<_, f64>(1)?))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

// ANCHOR: plan
/// What ingesting `doc` would do, decided from what `conn` holds: the same source with the same
/// hash is `Unchanged`, with another hash `Updated`; a new source whose hash another source
/// already has is a `Duplicate` of it (the oldest such source); anything else is `Added`.
pub fn plan(conn: &Connection, doc: &Doc) -> Result<Outcome> {
    // BEGIN SOLUTION plan
    let stored: Option<String> = conn
        .query_row(
            "SELECT hash FROM documents WHERE source = ?1",
            [&doc.source],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(hash) = stored {
        return Ok(if hash == doc.hash {
            Outcome::Unchanged
        } else {
            Outcome::Updated
        });
    }
    let twin: Option<String> = conn
        .query_row(
            "SELECT source FROM documents WHERE hash = ?1 ORDER BY id LIMIT 1",
            [&doc.hash],
            |r| r.get(0),
        )
        .optional()?;
    Ok(twin.map_or(Outcome::Added, |of| Outcome::Duplicate { of }))
    // END SOLUTION
}
// ANCHOR_END: plan

/// An embedding as bytes: little-endian f32s.
pub fn to_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Bytes back to an embedding; a length that is not a whole number of f32s is an error.
pub fn from_blob(bytes: &[u8]) -> Result<Vec<f32>> {
    if !bytes.len().is_multiple_of(4) {
        return Err(invalid(
            "embedding",
            format!("{} bytes is not a whole number of f32s", bytes.len()),
        ));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}
