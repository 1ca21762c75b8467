//! The measurements: each index built once, its search-time setting swept, recall@k and
//! queries per second against exact search; save/load; the `bench` subcommand.

use anyhow::Result;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;
use week19_embeddings_search::eval::{CrateHnsw, SweepPoint, recall_at_k, run_queries, split};
use week19_embeddings_search::{
    Flat, Hit, Hnsw, HnswParams, Index, Ivf, IvfParams, VectorIndex, Vectors,
};

/// The indexes' parameters.
#[derive(Debug, Clone, clap::Args)]
pub struct Params {
    /// Words per chunk at most (whole sentences)
    #[arg(long, default_value_t = 80, value_parser = wb_lab::at_least_one)]
    pub max_words: usize,
    /// Chunks held out of the index as queries
    #[arg(long, default_value_t = 500, value_parser = wb_lab::at_least_one)]
    pub queries: usize,
    /// Neighbours per query (recall@k)
    #[arg(long, default_value_t = 10, value_parser = wb_lab::at_least_one)]
    pub k: usize,
    /// IVF cells (default: √ of the vectors indexed)
    #[arg(long)]
    pub nlist: Option<usize>,
    /// IVF cells probed per query, swept
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8,16,32")]
    pub nprobe: Vec<usize>,
    /// HNSW links per node (2·m on layer 0)
    #[arg(long, default_value_t = 16)]
    pub m: usize,
    /// HNSW candidates kept while building
    #[arg(long, default_value_t = 100)]
    pub ef_construction: usize,
    /// HNSW candidates kept while searching, swept (ours and the crate's)
    #[arg(long, value_delimiter = ',', default_value = "10,20,40,80,160")]
    pub ef_search: Vec<usize>,
    #[arg(long, default_value_t = 19)]
    pub seed: u64,
}

#[derive(Debug, Serialize)]
pub struct Sweeps {
    pub points: Vec<SweepPoint>,
    pub nlist: usize,
    pub ivf_build_s: f64,
    pub list_sizes: (usize, usize),
    pub m: usize,
    pub ef_construction: usize,
    pub hnsw_build_s: f64,
    pub layers: Vec<usize>,
    pub crate_build_s: f64,
    /// The three indexes built here (for save/load).
    #[serde(skip)]
    pub indexes: Vec<Index>,
}

fn point(index: &str, setting: usize, recall: f64, qps: f64, build_s: f64) -> SweepPoint {
    SweepPoint {
        index: index.into(),
        setting,
        recall,
        qps,
        build_s,
    }
}

/// Builds flat, IVF, HNSW and the crate's HNSW over `base` and sweeps their settings.
pub fn run_all(
    base: &Vectors,
    queries: &Vectors,
    p: &Params,
    say: &mut dyn FnMut(&str),
) -> Result<Sweeps> {
    let k = p.k;
    let flat = Flat::new(base.clone());
    let (truth, flat_qps) = run_queries(&flat, queries, k)?;
    let mut points = vec![point("flat", 0, 1.0, flat_qps, 0.0)];
    let measure = |index: &dyn VectorIndex| -> Result<(f64, f64)> {
        let (got, qps) = run_queries(index, queries, k)?;
        Ok((recall_at_k(&truth, &got, k)?, qps))
    };

    say("building IVF");
    let nlist = p
        .nlist
        .unwrap_or((base.len() as f64).sqrt().round() as usize);
    let started = Instant::now();
    let ivf = Ivf::build(
        base,
        IvfParams {
            nlist,
            iterations: 25,
            seed: p.seed,
        },
    )?;
    let ivf_build_s = started.elapsed().as_secs_f64();
    let sizes = ivf.list_sizes();
    for &nprobe in p.nprobe.iter().filter(|&&n| n <= nlist) {
        let (r, q) = measure(&ivf.clone().with_nprobe(nprobe)?)?;
        points.push(point("IVF", nprobe, r, q, ivf_build_s));
    }

    say("building HNSW");
    let started = Instant::now();
    let params = HnswParams {
        m: p.m,
        ef_construction: p.ef_construction,
        seed: p.seed,
    };
    let hnsw = Hnsw::build(base.clone(), params)?;
    let hnsw_build_s = started.elapsed().as_secs_f64();
    for &ef in &p.ef_search {
        let (r, q) = measure(&hnsw.clone().with_ef_search(ef)?)?;
        points.push(point("HNSW", ef, r, q, hnsw_build_s));
    }

    say("building instant-distance's HNSW");
    let mut crate_build_s = 0.0;
    for &ef in &p.ef_search {
        let started = Instant::now();
        let index = CrateHnsw::build(base, p.ef_construction, ef, p.seed)?;
        crate_build_s = started.elapsed().as_secs_f64();
        let (r, q) = measure(&index)?;
        points.push(point("instant-distance", ef, r, q, crate_build_s));
    }
    let layers = hnsw.layer_sizes();
    let hnsw = hnsw.with_ef_search(p.ef_search.iter().copied().max().unwrap_or(64))?;
    let ivf = ivf.with_nprobe(
        p.nprobe
            .iter()
            .copied()
            .filter(|&n| n <= nlist)
            .max()
            .unwrap_or(1),
    )?;
    Ok(Sweeps {
        points,
        nlist,
        ivf_build_s,
        list_sizes: (
            sizes.iter().copied().min().unwrap_or(0),
            sizes.iter().copied().max().unwrap_or(0),
        ),
        m: p.m,
        ef_construction: p.ef_construction,
        hnsw_build_s,
        layers,
        crate_build_s,
        indexes: vec![Index::Flat(flat), Index::Ivf(ivf), Index::Hnsw(hnsw)],
    })
}

/// recall@k against queries per second, one curve per index; exact search as a line (an index
/// below it is slower than reading everything).
pub fn plot(points: &[SweepPoint], n: usize, dir: &Path) -> Result<Vec<PathBuf>> {
    let curve = |name: &str| -> Vec<(f64, f64)> {
        points
            .iter()
            .filter(|p| p.index == name)
            .map(|p| (p.recall, p.qps))
            .collect()
    };
    let left = points.iter().map(|p| p.recall).fold(1.0, f64::min);
    let flat = curve("flat").first().map_or(0.0, |p| p.1);
    Ok(wb_plot::LinePlot::new(
        &format!("Recall vs speed on {n} MiniLM vectors (384-d), one thread"),
        "recall@10 (share of the exact 10 nearest found)",
        "queries per second",
    )
    .series(wb_plot::Series::new("IVF, nprobe swept", curve("IVF")))
    .series(wb_plot::Series::new(
        "HNSW (ours), ef_search swept",
        curve("HNSW"),
    ))
    .series(
        wb_plot::Series::new(
            "instant-distance HNSW, ef_search swept",
            curve("instant-distance"),
        )
        .dashed(),
    )
    .series(
        wb_plot::Series::new(
            "exact search (flat), recall 1",
            vec![(left, flat), (1.0, flat)],
        )
        .dashed(),
    )
    .markers(true)
    .legend(wb_plot::LegendPosition::UpperRight)
    .save(dir, "recall_qps")?)
}

/// Each index saved, loaded and asked every query again.
#[derive(Debug, Serialize)]
pub struct FileCheck {
    pub kind: String,
    pub bytes: usize,
    pub load_ms: f64,
    pub same_answers: bool,
    pub same_bytes: bool,
    /// What loading says when one byte in the middle is changed.
    pub corrupted: String,
}

/// A folder of this run's files, removed when dropped — on an early return by `?` too.
pub struct ScratchDir(pub PathBuf);

impl ScratchDir {
    /// `<temp>/<name>-<pid>`, created.
    pub fn new(name: &str) -> Result<Self> {
        let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(Self(dir))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn save_load(indexes: &[Index], queries: &Vectors, k: usize) -> Result<Vec<FileCheck>> {
    let scratch = ScratchDir::new("week19-files")?;
    let dir = &scratch.0;
    let mut out = Vec::new();
    for index in indexes {
        let path = dir.join(format!("{}.idx", index.kind()));
        index.save(&path)?;
        let started = Instant::now();
        let loaded = Index::load(&path)?;
        let load_ms = started.elapsed().as_secs_f64() * 1e3;
        let answers = |i: &Index| -> Result<Vec<Vec<Hit>>> {
            Ok(queries
                .rows()
                .map(|q| i.search(q, k))
                .collect::<Result<_, _>>()?)
        };
        let mut bytes = std::fs::read(&path)?;
        let same_bytes = loaded.to_bytes() == bytes;
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x40;
        let corrupted = match Index::from_bytes(&bytes, &format!("{}.idx", index.kind())) {
            Err(e) => e.to_string(),
            Ok(_) => "loaded anyway".into(),
        };
        out.push(FileCheck {
            kind: index.kind().into(),
            bytes: bytes.len(),
            load_ms,
            same_answers: answers(index)? == answers(&loaded)?,
            same_bytes,
            corrupted,
        });
    }
    Ok(out)
}

/// `bench`: the corpus embedded (from the cache), split, written as raw f32 for faiss, and this
/// build's sweeps printed as JSON.
pub fn bench(out: &Path, p: &Params) -> Result<()> {
    use week19_embeddings_search::corpus::{chunk_corpus, load_speeches};
    use week19_embeddings_search::embed::embed_cached;
    let chunks = chunk_corpus(&load_speeches()?, p.max_words)?;
    let embedder = week19_embeddings_search::wb_llm::Embedder::minilm(&mut |m| eprintln!("{m}"))?;
    let texts: Vec<&str> = chunks.iter().map(|c| c.text.as_str()).collect();
    let (all, _) = embed_cached(&embedder, &texts, &mut |_, _| {})?;
    let (base, queries) = split(&all, p.queries)?;
    std::fs::create_dir_all(out)?;
    for (name, v) in [("base.f32", &base), ("queries.f32", &queries)] {
        let bytes: Vec<u8> = v.as_flat().iter().flat_map(|x| x.to_le_bytes()).collect();
        std::fs::write(out.join(name), bytes)?;
    }
    let sweeps = run_all(&base, &queries, p, &mut |m| eprintln!("{m}"))?;
    let json = serde_json::json!({
        "dim": base.dim(), "base": base.len(), "queries": queries.len(), "k": p.k,
        "nlist": sweeps.nlist, "m": p.m, "ef_construction": p.ef_construction,
        "ivf_build_s": sweeps.ivf_build_s, "hnsw_build_s": sweeps.hnsw_build_s,
        "crate_build_s": sweeps.crate_build_s, "points": sweeps.points,
    });
    println!("{}", serde_json::to_string_pretty(&json)?);
    Ok(())
}
