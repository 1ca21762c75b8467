//! Batch scoring that scales out: the input's rows cut into N disjoint ranges, each scored by its
//! own run (`--partition i/N`, or a Kubernetes Indexed Job's `JOB_COMPLETION_INDEX`) into its own
//! Parquet part file, written whole or not at all. A killed run leaves no part half-written, and
//! its rerun scores only the parts that are missing.

use anyhow::{Context, Result, bail};
use polars::prelude::*;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Instant;

use crate::data;
use crate::model::{Loaded, feature_columns, features, score_chunk};

/// Partition `index` of `count` (0-based: 0/4, 1/4, 2/4, 3/4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    pub index: usize,
    pub count: usize,
}

impl Partition {
    /// Fails unless `count ≥ 1` and `index < count`.
    pub fn new(index: usize, count: usize) -> Result<Self> {
        if count == 0 {
            bail!("invalid partition count: expected at least 1, got 0");
        }
        if index >= count {
            bail!("invalid partition {index}/{count}: the index must be below the count (0-based)");
        }
        Ok(Self { index, count })
    }

    /// Every partition of `count`.
    pub fn all(count: usize) -> Result<Vec<Self>> {
        Partition::new(0, count)?;
        (0..count).map(|i| Partition::new(i, count)).collect()
    }
}

impl FromStr for Partition {
    type Err = anyhow::Error;
    /// `"3/8"`.
    fn from_str(s: &str) -> Result<Self> {
        let (i, n) = s
            .split_once('/')
            .with_context(|| format!("partition `{s}`: expected INDEX/COUNT, e.g. 3/8"))?;
        let parse = |v: &str, what: &str| {
            v.trim()
                .parse::<usize>()
                .with_context(|| format!("partition `{s}`: the {what} `{v}` is not a whole number"))
        };
        Partition::new(parse(i, "index")?, parse(n, "count")?)
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

// ANCHOR: range
/// The rows of partition `p` of a table of `rows` rows: N disjoint ranges, in order, that cover
/// every row once, their sizes differing by at most one.
pub fn partition_range(rows: usize, p: Partition) -> Range<usize> {
    // BEGIN SOLUTION range
    // Multiply before dividing: i·rows/N rounds down the same way for the end of one range and
    // the start of the next, so they meet exactly.
    let at = |i: usize| (i as u128 * rows as u128 / p.count as u128) as usize;
    at(p.index)..at(p.index + 1)
    // END SOLUTION
}
// ANCHOR_END: range

/// The file of partition `p` in `dir`: `part-00003-of-00008.parquet`.
pub fn part_path(dir: &Path, p: Partition) -> PathBuf {
    dir.join(format!("part-{:05}-of-{:05}.parquet", p.index, p.count))
}

/// What a scoring run needs.
#[derive(Debug, Clone)]
pub struct Job {
    pub input: PathBuf,
    pub customers: PathBuf,
    pub model: Loaded,
    pub out_dir: PathBuf,
    /// Rows scored (and written as one row group) at a time: bounds the memory.
    pub chunk_rows: usize,
    /// A pause after each chunk, to watch a run (or kill it) half-way; zero in production.
    pub pause_per_chunk: std::time::Duration,
}

/// What one partition's run did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PartReport {
    pub partition: String,
    pub rows: usize,
    pub first_row: usize,
    /// Already complete from an earlier run: not scored again.
    pub skipped: bool,
    pub seconds: f64,
}

/// The input columns and types the job reads: anything else is refused before scoring.
pub const INPUT_SCHEMA: [(&str, &str); 6] = [
    ("txn_id", "i64"),
    ("customer_id", "i64"),
    ("amount", "f64"),
    ("hour", "i64"),
    ("items", "i64"),
    ("channel", "str"),
];

/// Rows of the input table, after checking its columns.
pub fn input_rows(input: &Path) -> Result<usize> {
    let mut lf = data::scan(input)?;
    let schema = lf
        .collect_schema()
        .map_err(anyhow::Error::from)
        .with_context(|| format!("{}: cannot read its schema", input.display()))?;
    for (name, dtype) in INPUT_SCHEMA {
        let got = schema.get(name).with_context(|| {
            format!(
                "{}: no column `{name}` (expected columns {:?})",
                input.display(),
                INPUT_SCHEMA.iter().map(|c| c.0).collect::<Vec<_>>()
            )
        })?;
        let ok = match dtype {
            "i64" => got.is_integer(),
            "f64" => got.is_primitive_numeric(),
            _ => got == &DataType::String,
        };
        if !ok {
            bail!(
                "{}: column `{name}` is {got}, expected {dtype}",
                input.display()
            );
        }
    }
    let n = lf.select([len()]).collect()?;
    Ok(n.column("len")?.u32()?.get(0).unwrap_or(0) as usize)
}

/// Key/value metadata a part file carries.
fn metadata(job: &Job, p: Partition, range: &Range<usize>) -> Vec<(String, String)> {
    vec![
        (
            "model_version".into(),
            job.model.model.model_version.clone(),
        ),
        ("model_sha256".into(), job.model.sha256.clone()),
        ("partition".into(), p.to_string()),
        ("rows".into(), format!("{}..{}", range.start, range.end)),
    ]
}

/// The key/value metadata of a Parquet file.
pub fn read_metadata(path: &Path) -> Result<Vec<(String, String)>> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut reader = ParquetReader::new(file);
    let meta = reader
        .get_metadata()
        .map_err(anyhow::Error::from)
        .with_context(|| format!("{}: not a readable Parquet file", path.display()))?;
    Ok(meta
        .key_value_metadata()
        .iter()
        .flatten()
        .map(|kv| (kv.key.clone(), kv.value.clone().unwrap_or_default()))
        .collect())
}

/// Scores partition `p` of the input into its part file, unless a complete one is there already
/// (written with the same model and for the same rows; a part from another model is refused).
pub fn run_partition(job: &Job, p: Partition) -> Result<PartReport> {
    if job.chunk_rows == 0 {
        bail!("invalid `chunk_rows`: expected at least 1, got 0");
    }
    let started = Instant::now();
    let rows = input_rows(&job.input)?;
    let range = partition_range(rows, p);
    let path = part_path(&job.out_dir, p);
    let expected = metadata(job, p, &range);
    if path.exists() {
        let found = read_metadata(&path)?;
        for (key, value) in &expected {
            let got = found
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str());
            if got != Some(value.as_str()) {
                bail!(
                    "{} exists with {key} = {}, but this run has {value}: remove the folder, or write to another --out",
                    path.display(),
                    got.unwrap_or("(none)")
                );
            }
        }
        return Ok(PartReport {
            partition: p.to_string(),
            rows: range.len(),
            first_row: range.start,
            skipped: true,
            seconds: started.elapsed().as_secs_f64(),
        });
    }
    std::fs::create_dir_all(&job.out_dir)
        .with_context(|| format!("creating {}", job.out_dir.display()))?;
    remove_leftovers(&path)?;
    // ANCHOR: commit
    let tmp = path.with_extension(format!("parquet.tmp-{}", std::process::id()));
    // BEGIN SOLUTION commit
    // Written under a temporary name (its own process id, so two runs never share one), synced,
    // then renamed: a rename within a folder is atomic, so before it the part does not exist
    // and after it the part is whole. A run killed at any moment leaves at most a temporary file.
    write_part(job, &range, &tmp, expected).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })?;
    std::fs::rename(&tmp, &path).with_context(|| format!("renaming to {}", path.display()))?;
    // END SOLUTION
    // ANCHOR_END: commit
    // The folder's entry is durable once the folder itself is synced.
    if let Ok(dir) = std::fs::File::open(&job.out_dir) {
        let _ = dir.sync_all();
    }
    Ok(PartReport {
        partition: p.to_string(),
        rows: range.len(),
        first_row: range.start,
        skipped: false,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Removes the temporary files a killed run of this part left behind.
fn remove_leftovers(path: &Path) -> Result<()> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return Ok(());
    };
    let prefix = format!("{name}.tmp-");
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

// ANCHOR: write_part
/// Scores the rows `range` chunk by chunk into the Parquet file `tmp`, each chunk one row group,
/// so that memory holds one chunk whatever the partition's size.
fn write_part(
    job: &Job,
    range: &Range<usize>,
    tmp: &Path,
    metadata: Vec<(String, String)>,
) -> Result<()> {
    let schema = Schema::from_iter([
        Field::new("input_row".into(), IDX_DTYPE),
        Field::new("txn_id".into(), DataType::Int64),
        Field::new("score".into(), DataType::Float64),
        Field::new("flagged".into(), DataType::Boolean),
    ]);
    let mut file =
        std::fs::File::create(tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let mut writer = ParquetWriter::new(&mut file)
        .with_key_value_metadata(Some(KeyValueMetadata::from_static(metadata)))
        .batched(&schema)?;
    let customers = data::scan(&job.customers)?.cache();
    let mut start = range.start;
    while start < range.end {
        let len = job.chunk_rows.min(range.end - start);
        let chunk = data::scan(&job.input)?.slice(start as i64, len as IdxSize);
        let df = features(chunk, customers.clone(), start, &[])?;
        if df.height() != len {
            bail!(
                "rows {start}..{}: the query returned {} rows for {len} input rows",
                start + len,
                df.height()
            );
        }
        let scores = score_chunk(&job.model.model, &feature_columns(&df)?)?;
        let threshold = job.model.model.threshold;
        let flagged: Vec<bool> = scores.iter().map(|&s| s >= threshold).collect();
        let out = DataFrame::new_infer_height(vec![
            df.column("input_row")?.clone(),
            df.column("txn_id")?.cast(&DataType::Int64)?,
            Column::new("score".into(), scores),
            Column::new("flagged".into(), flagged),
        ])?;
        writer.write_batch(&out)?;
        start += len;
        std::thread::sleep(job.pause_per_chunk);
    }
    writer.finish()?;
    file.sync_all()?;
    Ok(())
}
// ANCHOR_END: write_part

/// Reads the N part files of `dir` in order into one table; fails naming a missing part.
pub fn read_output(dir: &Path, count: usize) -> Result<DataFrame> {
    let mut frames = Vec::with_capacity(count);
    for p in Partition::all(count)? {
        let path = part_path(dir, p);
        if !path.exists() {
            bail!(
                "{}: partition {p} is missing (rerun the job: it scores only missing parts)",
                path.display()
            );
        }
        let file = std::fs::File::open(&path)?;
        frames.push(
            ParquetReader::new(file)
                .finish()
                .map_err(anyhow::Error::from)
                .with_context(|| format!("reading {}", path.display()))?,
        );
    }
    let mut out = frames.remove(0);
    for f in &frames {
        out.vstack_mut(f)?;
    }
    Ok(out)
}

/// The process's peak resident memory (VmHWM), in MiB; 0 where /proc is absent.
pub fn peak_resident_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}
