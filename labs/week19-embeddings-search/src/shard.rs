//! Beyond one machine: the vectors partitioned across shard processes, each serving its part
//! over HTTP; a query is fanned out to every shard at once and the shards' top-k lists merged.
//! With exact shards the merged answer is exactly the single index's: the true top k of the
//! whole is in the union of the shards' top k. Qdrant and Milvus clusters do this across
//! machines (plus replicas of each shard for availability and throughput).

use crate::file::Index;
use crate::vectors::{Hit, Vectors};
use crate::{Result, SearchError, VectorIndex, invalid};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Row `i` goes to shard `i % shards` (round robin); its id there is `i / shards`.
pub fn partition(vectors: &Vectors, shards: usize) -> Result<Vec<Vectors>> {
    if shards == 0 || shards > vectors.len() {
        return Err(invalid(
            "shards",
            format!(
                "must be between 1 and the {} vectors, got {shards}",
                vectors.len()
            ),
        ));
    }
    (0..shards)
        .map(|s| vectors.select(&(s..vectors.len()).step_by(shards).collect::<Vec<_>>()))
        .collect()
}

/// The global id of a shard's local id under [`partition`].
pub fn global_id(shard: usize, local: u32, shards: usize) -> u32 {
    local * shards as u32 + shard as u32
}

// ANCHOR: merge
/// Merges the shards' top-k lists (global ids) into the best `k` overall, best first, ties to
/// the smaller id.
pub fn merge_top_k(lists: &[Vec<Hit>], k: usize) -> Vec<Hit> {
    // BEGIN SOLUTION merge
    let mut all: Vec<Hit> = lists.iter().flatten().copied().collect();
    all.sort_by(Hit::rank);
    all.truncate(k);
    all
    // END SOLUTION
}
// ANCHOR_END: merge

/// A search request to a shard.
#[derive(Debug, Serialize, Deserialize)]
pub struct SearchRequest {
    pub queries: Vec<Vec<f32>>,
    pub k: usize,
}

/// A shard's answer: one list per query, its own ids.
#[derive(Debug, Serialize, Deserialize)]
pub struct SearchResponse {
    pub hits: Vec<Vec<Hit>>,
}

/// What a shard holds.
#[derive(Debug, Serialize, Deserialize)]
pub struct ShardInfo {
    pub kind: String,
    pub len: usize,
    pub dim: usize,
}

/// Serves `index` on `listener` until the process ends: `GET /info`, `POST /search`. A bad
/// request gets a 400 with the reason (axum's own 4xx for malformed JSON).
pub fn serve(index: Index, listener: std::net::TcpListener) -> Result<()> {
    use axum::extract::{DefaultBodyLimit, State};
    use axum::http::StatusCode;
    use axum::routing::{get, post};
    use axum::{Json, Router};
    use std::sync::Arc;

    async fn info(State(index): State<Arc<Index>>) -> Json<ShardInfo> {
        Json(ShardInfo {
            kind: index.kind().into(),
            len: index.len(),
            dim: index.dim(),
        })
    }
    async fn search(
        State(index): State<Arc<Index>>,
        Json(req): Json<SearchRequest>,
    ) -> std::result::Result<Json<SearchResponse>, (StatusCode, String)> {
        let hits = req
            .queries
            .iter()
            .enumerate()
            .map(|(i, q)| {
                index
                    .search(q, req.k)
                    .map_err(|e| (StatusCode::BAD_REQUEST, format!("queries[{i}]: {e}")))
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(Json(SearchResponse { hits }))
    }

    listener.set_nonblocking(true)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let app = Router::new()
            .route("/info", get(info))
            .route("/search", post(search))
            .layer(DefaultBodyLimit::max(64 << 20))
            .with_state(Arc::new(index));
        let listener = tokio::net::TcpListener::from_std(listener)?;
        axum::serve(listener, app).await
    })?;
    Ok(())
}

/// A shard process started from this lab's binary (`shard --index FILE`), killed when dropped.
pub struct ShardProcess {
    child: Child,
    pub url: String,
}

impl ShardProcess {
    /// Starts `exe shard --index index_file --port 0` and waits (up to a minute) for the line
    /// that gives its address.
    pub fn spawn(exe: &Path, index_file: &Path) -> Result<Self> {
        let mut child = Command::new(exe)
            .arg("shard")
            .arg("--index")
            .arg(index_file)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        // Read on a thread, so that a shard that never speaks cannot hang the caller.
        let (tx, rx) = std::sync::mpsc::channel();
        if let Some(out) = child.stdout.take() {
            std::thread::spawn(move || {
                let mut line = String::new();
                let _ = BufReader::new(out).read_line(&mut line);
                let _ = tx.send(line);
            });
        }
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| "(nothing within 60 s)".into());
        match line.trim().strip_prefix("listening on ") {
            Some(url) => Ok(Self {
                url: url.to_string(),
                child,
            }),
            None => {
                let _ = child.kill();
                let status = child.wait()?;
                Err(invalid(
                    "index_file",
                    format!(
                        "the shard for {} did not start ({status}); it said {line:?}",
                        index_file.display()
                    ),
                ))
            }
        }
    }

    /// The process's id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ShardProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The client side: the shards' addresses, queried all at once.
pub struct Sharded {
    urls: Vec<String>,
    lens: Vec<usize>,
    dim: usize,
    client: reqwest::blocking::Client,
}

impl Sharded {
    /// Connects to shards `0..urls.len()` (in [`partition`]'s order) and asks each what it holds.
    pub fn connect(urls: &[String]) -> Result<Self> {
        if urls.is_empty() {
            return Err(invalid("urls", "no shards"));
        }
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| invalid("urls", e.to_string()))?;
        let mut lens = Vec::new();
        let mut dims = Vec::new();
        for (shard, url) in urls.iter().enumerate() {
            let fail = |detail: String| SearchError::Shard {
                shard,
                url: url.clone(),
                detail,
            };
            let info: ShardInfo = client
                .get(format!("{url}/info"))
                .send()
                .and_then(|r| r.error_for_status())
                .and_then(|r| r.json())
                .map_err(|e| fail(e.to_string()))?;
            lens.push(info.len);
            dims.push(info.dim);
        }
        if dims.iter().any(|&d| d != dims[0]) {
            return Err(invalid(
                "urls",
                format!("the shards' widths differ: {dims:?}"),
            ));
        }
        Ok(Self {
            urls: urls.to_vec(),
            lens,
            dim: dims[0],
            client,
        })
    }

    /// The shards' sizes.
    pub fn lens(&self) -> &[usize] {
        &self.lens
    }

    /// Every query sent to every shard at once (one request per shard, one thread each), each
    /// shard's ids turned global, the lists merged per query.
    pub fn search_batch(&self, queries: &Vectors, k: usize) -> Result<Vec<Vec<Hit>>> {
        let total: usize = self.lens.iter().sum();
        if let Some(q) = queries.rows().next() {
            crate::check_query(q, k, total, self.dim)?;
        }
        let rows: Vec<Vec<f32>> = queries.rows().map(<[f32]>::to_vec).collect();
        let shards = self.urls.len();
        let answers: Vec<Result<SearchResponse>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..shards)
                .map(|shard| {
                    let (rows, client, url) = (&rows, &self.client, &self.urls[shard]);
                    let k = k.min(self.lens[shard]);
                    scope.spawn(move || -> Result<SearchResponse> {
                        let fail = |detail: String| SearchError::Shard {
                            shard,
                            url: url.clone(),
                            detail,
                        };
                        let response = client
                            .post(format!("{url}/search"))
                            .json(&serde_json::json!({"queries": rows, "k": k}))
                            .send()
                            .map_err(|e| fail(e.to_string()))?;
                        let status = response.status();
                        if !status.is_success() {
                            let text = response.text().unwrap_or_default();
                            return Err(fail(format!("{status}: {text}")));
                        }
                        response.json().map_err(|e| fail(e.to_string()))
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(invalid("shards", "a request thread panicked")))
                })
                .collect()
        });
        let answers = answers.into_iter().collect::<Result<Vec<_>>>()?;
        (0..queries.len())
            .map(|q| {
                let lists = answers
                    .iter()
                    .enumerate()
                    .map(|(shard, a)| match a.hits.get(q) {
                        Some(hits) => Ok(hits
                            .iter()
                            .map(|h| Hit {
                                id: global_id(shard, h.id, shards),
                                score: h.score,
                            })
                            .collect()),
                        None => Err(invalid(
                            "shards",
                            format!("shard {shard} answered {} of the queries", a.hits.len()),
                        )),
                    })
                    .collect::<Result<Vec<Vec<Hit>>>>()?;
                Ok(merge_top_k(&lists, k))
            })
            .collect()
    }
}
