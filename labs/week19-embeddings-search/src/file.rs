//! Saving and loading an index: one file, little-endian, versioned and checksummed.
//!
//! Layout: the magic `WBVECIDX`, the format version (u32), the kind (u8: 0 flat, 1 IVF,
//! 2 HNSW), the index's own fields, then the SHA-256 of everything before it. A file from
//! another program, another version, cut short or with one byte changed is refused with what
//! is wrong; a loaded index answers every query exactly as the saved one did.

use crate::flat::Flat;
use crate::hnsw::{Hnsw, HnswParams, MAX_LAYER};
use crate::ivf::{Ivf, List};
use crate::vectors::{Hit, Vectors};
use crate::{Result, SearchError, VectorIndex};
use sha2::{Digest, Sha256};
use std::path::Path;

pub const MAGIC: &[u8; 8] = b"WBVECIDX";
/// The format this build writes and reads.
pub const VERSION: u32 = 1;

/// Any of the three indexes, as saved and loaded.
#[derive(Debug, Clone, PartialEq)]
pub enum Index {
    Flat(Flat),
    Ivf(Ivf),
    Hnsw(Hnsw),
}

impl VectorIndex for Index {
    fn len(&self) -> usize {
        self.inner().len()
    }
    fn dim(&self) -> usize {
        self.inner().dim()
    }
    fn search(&self, query: &[f32], k: usize) -> Result<Vec<Hit>> {
        self.inner().search(query, k)
    }
}

/// Appends little-endian fields to a buffer.
#[derive(Default)]
struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: usize) {
        self.0.extend_from_slice(&(v as u32).to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn f32s(&mut self, v: &[f32]) {
        self.u32(v.len());
        for x in v {
            self.0.extend_from_slice(&x.to_le_bytes());
        }
    }
    fn u32s(&mut self, v: &[u32]) {
        self.u32(v.len());
        for x in v {
            self.0.extend_from_slice(&x.to_le_bytes());
        }
    }
    fn vectors(&mut self, v: &Vectors) {
        self.u32(v.dim());
        self.f32s(v.as_flat());
    }
}

/// Reads fields back, every read bounds-checked: a short file is an error with the offset.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    path: &'a str,
}

impl<'a> Reader<'a> {
    fn bad(&self, detail: impl Into<String>) -> SearchError {
        SearchError::BadFile {
            path: self.path.into(),
            detail: detail.into(),
        }
    }
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        match self.bytes.get(self.at..self.at.saturating_add(n)) {
            Some(s) => {
                self.at += n;
                Ok(s)
            }
            None => Err(self.bad(format!(
                "cut short: {what} needs {n} bytes at offset {}, the index data ends at {}",
                self.at,
                self.bytes.len()
            ))),
        }
    }
    fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.take(1, what)?[0])
    }
    fn u32(&mut self, what: &str) -> Result<usize> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    }
    fn u64(&mut self, what: &str) -> Result<u64> {
        let b = self.take(8, what)?;
        Ok(u64::from_le_bytes(b.try_into().unwrap_or_default()))
    }
    fn f32s(&mut self, what: &str) -> Result<Vec<f32>> {
        let n = self.u32(what)?;
        let b = self.take(n.saturating_mul(4), what)?;
        Ok(b.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
    fn u32s(&mut self, what: &str) -> Result<Vec<u32>> {
        let n = self.u32(what)?;
        let b = self.take(n.saturating_mul(4), what)?;
        Ok(b.chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
    fn vectors(&mut self, what: &str) -> Result<Vectors> {
        let dim = self.u32(what)?;
        let data = self.f32s(what)?;
        Vectors::from_flat(what, dim, data).map_err(|e| self.bad(e.to_string()))
    }
}

impl Index {
    fn inner(&self) -> &dyn VectorIndex {
        match self {
            Index::Flat(i) => i,
            Index::Ivf(i) => i,
            Index::Hnsw(i) => i,
        }
    }

    /// The kind's name: flat, ivf or hnsw.
    pub fn kind(&self) -> &'static str {
        match self {
            Index::Flat(_) => "flat",
            Index::Ivf(_) => "ivf",
            Index::Hnsw(_) => "hnsw",
        }
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.0.extend_from_slice(MAGIC);
        w.u32(VERSION as usize);
        match self {
            Index::Flat(f) => {
                w.u8(0);
                w.vectors(&f.vectors);
            }
            Index::Ivf(ivf) => {
                w.u8(1);
                w.u32(ivf.len);
                w.u32(ivf.nprobe);
                w.vectors(&ivf.centroids);
                for list in &ivf.lists {
                    w.u32s(&list.ids);
                    w.f32s(&list.data);
                }
            }
            Index::Hnsw(h) => {
                w.u8(2);
                w.u32(h.params.m);
                w.u32(h.params.ef_construction);
                w.u64(h.params.seed);
                w.u32(h.ef_search);
                w.u32(h.entry as usize);
                w.vectors(&h.vectors);
                for node in &h.links {
                    w.u8(node.len() as u8);
                    for layer in node {
                        w.u32s(layer);
                    }
                }
            }
        }
        let digest = Sha256::digest(&w.0);
        w.0.extend_from_slice(&digest);
        w.0
    }

    /// Reads an index from its bytes; `path` names the file in errors.
    pub fn from_bytes(bytes: &[u8], path: &str) -> Result<Self> {
        let bad = |detail: String| SearchError::BadFile {
            path: path.into(),
            detail,
        };
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Err(bad(
                "not an index file of this workbook (it does not start with WBVECIDX)".into(),
            ));
        }
        if bytes.len() < MAGIC.len() + 4 + 32 {
            return Err(bad(format!("cut short: {} bytes", bytes.len())));
        }
        let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        if version != VERSION {
            return Err(bad(format!(
                "written in format version {version}; this build reads version {VERSION}: rebuild the index"
            )));
        }
        let (body, digest) = bytes.split_at(bytes.len() - 32);
        if Sha256::digest(body).as_slice() != digest {
            return Err(bad(
                "corrupted: the SHA-256 of its contents does not match the one saved with them"
                    .into(),
            ));
        }
        let mut r = Reader {
            bytes: body,
            at: 12,
            path,
        };
        let index = match r.u8("the kind")? {
            0 => Index::Flat(Flat::new(r.vectors("the vectors")?)),
            1 => {
                let len = r.u32("the length")?;
                let nprobe = r.u32("nprobe")?;
                let centroids = r.vectors("the centroids")?;
                let mut lists = Vec::with_capacity(centroids.len());
                for c in 0..centroids.len() {
                    let ids = r.u32s(&format!("list {c}'s ids"))?;
                    let data = r.f32s(&format!("list {c}'s vectors"))?;
                    if data.len() != ids.len() * centroids.dim() {
                        return Err(r.bad(format!(
                            "list {c}: {} ids but {} numbers",
                            ids.len(),
                            data.len()
                        )));
                    }
                    lists.push(List { ids, data });
                }
                let total: usize = lists.iter().map(|l| l.ids.len()).sum();
                if total != len || nprobe == 0 || nprobe > lists.len() {
                    return Err(r.bad(format!(
                        "the lists hold {total} vectors for a length of {len}, nprobe {nprobe}"
                    )));
                }
                Index::Ivf(Ivf {
                    norms: crate::kmeans::squared_norms(&centroids),
                    centroids,
                    lists,
                    len,
                    nprobe,
                })
            }
            2 => {
                let params = HnswParams {
                    m: r.u32("m")?,
                    ef_construction: r.u32("ef_construction")?,
                    seed: r.u64("the seed")?,
                };
                let ef_search = r.u32("ef_search")?;
                let entry = r.u32("the entry point")? as u32;
                let vectors = r.vectors("the vectors")?;
                let n = vectors.len();
                let mut links = Vec::with_capacity(n);
                for node in 0..n {
                    let layers = r.u8(&format!("node {node}'s layers"))? as usize;
                    if layers == 0 || layers > MAX_LAYER + 1 {
                        return Err(r.bad(format!("node {node} is on {layers} layers")));
                    }
                    let mut node_links = Vec::with_capacity(layers);
                    for layer in 0..layers {
                        let ids = r.u32s(&format!("node {node}'s links on layer {layer}"))?;
                        if let Some(bad) = ids.iter().find(|&&i| i as usize >= n) {
                            return Err(r.bad(format!("node {node} links to node {bad} of {n}")));
                        }
                        node_links.push(ids);
                    }
                    links.push(node_links);
                }
                if entry as usize >= n || ef_search == 0 {
                    return Err(r.bad(format!(
                        "entry point {entry} of {n} nodes, ef_search {ef_search}"
                    )));
                }
                Index::Hnsw(Hnsw {
                    vectors,
                    params,
                    links,
                    entry,
                    ef_search,
                })
            }
            other => return Err(r.bad(format!("unknown index kind {other}"))),
        };
        if r.at != body.len() {
            return Err(r.bad(format!(
                "{} bytes left over after the index",
                body.len() - r.at
            )));
        }
        Ok(index)
    }

    /// Writes the index to `path` (beside it first, then renamed over it: a crash mid-write
    /// leaves the old file or none, never half of one). The file beside it is named by process
    /// and call, so that two saves to one path never write into each other's.
    pub fn save(&self, path: &Path) -> Result<()> {
        static SAVES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = SAVES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut partial = path.as_os_str().to_owned();
        partial.push(format!(".{}.{n}.partial", std::process::id()));
        let written = std::fs::write(&partial, self.to_bytes())
            .and_then(|()| std::fs::rename(&partial, path));
        if written.is_err() {
            let _ = std::fs::remove_file(&partial);
        }
        Ok(written?)
    }

    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| SearchError::BadFile {
            path: path.display().to_string(),
            detail: e.to_string(),
        })?;
        Self::from_bytes(&bytes, &path.display().to_string())
    }
}
