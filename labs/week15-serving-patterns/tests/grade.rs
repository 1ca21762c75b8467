//! Grader checks for week 15: the partitioned batch job and the online service with its batcher.
//!
//! References: scikit-learn's `predict_proba` (`fixtures/week15.json`, made by
//! `fixtures/make_fixtures.py`), features recomputed here from the raw rows, the model file's
//! SHA-256 computed here, a single-part run as the reference of every partitioned or resumed
//! run, hand-worked partition ranges, and HTTP statuses RFC 9110 prescribes.

use grader::{
    Called, Failure, Outcome, Tol, check, close, ensure, expect_err, fixture, matrix, num, nums,
};
use serde_json::{Value, json};
use sha2::Digest;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};
use week15_serving_patterns::batch::{
    self, Job, Partition, part_path, partition_range, read_output,
};
use week15_serving_patterns::data::{self, Customers, Format};
use week15_serving_patterns::model::{self, FEATURES, ScoringModel, score_chunk};
use week15_serving_patterns::online::{self, AppState, Row, parse_row};
use week15_serving_patterns::polars::prelude::*;
use week15_serving_patterns::wb_serve::BatchConfig;
use week15_serving_patterns::{reqwest, tokio};

/// A fresh folder for one check.
fn temp_dir(tag: &str) -> Result<PathBuf, Failure> {
    let dir = std::env::temp_dir().join(format!("grader-w15-{tag}-{}", std::process::id()));
    if dir.exists() {
        std::fs::remove_dir_all(&dir).called("clearing the temporary folder")?;
    }
    std::fs::create_dir_all(&dir).called("creating the temporary folder")?;
    Ok(dir)
}

/// A model with fixed parameters (no training needed), saved and loaded back.
fn fixed_model(dir: &Path) -> Result<(PathBuf, model::Loaded), Failure> {
    let m = ScoringModel {
        model_version: "fixed-1".into(),
        features: FEATURES.iter().map(|s| s.to_string()).collect(),
        mean: vec![3.5, 0.25, 0.45, 5.5, 60.0, 0.1],
        scale: vec![1.1, 0.43, 0.5, 2.9, 35.0, 0.3],
        weights: vec![0.9, 0.5, 0.35, 0.15, -0.5, -0.2],
        intercept: -2.5,
        threshold: 0.5,
        holdout_log_loss: 0.0,
        bayes_log_loss: 0.0,
    };
    let path = dir.join("model.json");
    m.save(&path).called("ScoringModel::save")?;
    Ok((
        path.clone(),
        ScoringModel::load(&path).called("ScoringModel::load")?,
    ))
}

fn job(files: &data::Files, model: &model::Loaded, out: PathBuf, chunk_rows: usize) -> Job {
    Job {
        input: files.transactions.clone(),
        customers: files.customers.clone(),
        model: model.clone(),
        out_dir: out,
        chunk_rows,
        pause_per_chunk: Duration::ZERO,
    }
}

/// Every partition of `count`, run in this process.
fn run_all(job: &Job, count: usize) -> Outcome {
    for p in Partition::all(count).called("Partition::all")? {
        batch::run_partition(job, p).called(&format!("run_partition({p})"))?;
    }
    Ok(())
}

/// `input_row` is 0, 1, …, n − 1: every input row once, in order.
fn rows_once_in_order(df: &DataFrame, n: usize) -> Outcome {
    let rows: Vec<u32> = df
        .column("input_row")
        .called("column input_row")?
        .u32()
        .called("input_row as u32")?
        .into_no_null_iter()
        .collect();
    ensure(
        rows.len() == n,
        "output rows",
        format!("expected {n}, got {}", rows.len()),
    )?;
    if let Some(i) = rows.iter().enumerate().position(|(i, &r)| r as usize != i) {
        return Err(Failure::new(
            "output order",
            format!(
                "row {i} of the output is input row {}: expected each input row once, in order",
                rows[i]
            ),
        ));
    }
    Ok(())
}

fn same_values(what: &str, expected: &DataFrame, got: &DataFrame) -> Outcome {
    ensure(
        expected.equals_missing(got),
        what,
        format!(
            "the tables differ:\nexpected {}\ngot {}",
            expected.head(Some(4)),
            got.head(Some(4))
        ),
    )
}

check! {
    fn partition_ranges_cover_every_row_once(exercise = "range") {
        // (rows, parts, the ranges by hand)
        let hand = [
            (10, 3, vec![(0, 3), (3, 6), (6, 10)]),
            (2, 4, vec![(0, 0), (0, 1), (1, 1), (1, 2)]),
            (7, 1, vec![(0, 7)]),
        ];
        for (rows, count, expected) in hand {
            for (i, &(a, b)) in expected.iter().enumerate() {
                let r = partition_range(rows, Partition::new(i, count).called("Partition::new")?);
                ensure(
                    r == (a..b),
                    "partition_range",
                    format!("{rows} rows, partition {i}/{count}: expected {a}..{b}, got {r:?}"),
                )?;
            }
        }
        for rows in [0, 1, 5, 1000, 1_000_003, 10_usize.pow(12) + 7] {
            for count in [1, 2, 3, 7, 64, 1000] {
                let mut next = 0;
                let (mut small, mut large) = (usize::MAX, 0);
                for i in 0..count {
                    let r = partition_range(rows, Partition::new(i, count).called("Partition::new")?);
                    ensure(
                        r.start == next && r.start <= r.end,
                        "partition_range",
                        format!("{rows} rows, {i}/{count}: {r:?} does not start where {} ended ({next})", i.saturating_sub(1)),
                    )?;
                    next = r.end;
                    small = small.min(r.len());
                    large = large.max(r.len());
                }
                ensure(next == rows, "partition_range", format!("{rows} rows in {count} parts: the last ends at {next}"))?;
                ensure(large - small <= 1, "partition sizes", format!("{rows} rows in {count} parts: sizes from {small} to {large}, expected to differ by at most 1"))?;
            }
        }
        for bad in ["4/4", "a/3", "1/0", "3"] {
            expect_err(&format!("the partition `{bad}`"), bad.parse::<Partition>())?;
        }
        Ok(())
    }
}

check! {
    fn scores_equal_scikit_learn(exercise = "score") {
        let fx = fixture("week15");
        let m = ScoringModel {
            model_version: "fixture".into(),
            features: FEATURES.iter().map(|s| s.to_string()).collect(),
            mean: nums(&fx, "/mean").to_vec(),
            scale: nums(&fx, "/scale").to_vec(),
            weights: nums(&fx, "/weights").to_vec(),
            intercept: num(&fx, "/intercept"),
            threshold: 0.5,
            holdout_log_loss: 0.0,
            bayes_log_loss: 0.0,
        };
        let x = matrix(&fx, "/x");
        let columns: Vec<Vec<f64>> = x.columns().into_iter().map(|c| c.to_vec()).collect();
        let p = score_chunk(&m, &columns).called("score_chunk")?;
        let expected = nums(&fx, "/p");
        ensure(p.len() == expected.len(), "scores", format!("expected {} scores, got {}", expected.len(), p.len()))?;
        for (i, (&e, &g)) in expected.iter().zip(&p).enumerate() {
            close(&format!("P(fraud) of row {i} (scikit-learn's predict_proba)"), e, g, Tol::rel(1e-12).and_abs(1e-15))?;
        }
        expect_err("score_chunk with 5 columns", score_chunk(&m, &columns[..5]))?;
        let mut ragged = columns.clone();
        ragged[3].pop();
        expect_err("score_chunk with a short column", score_chunk(&m, &ragged))?;
        Ok(())
    }
}

check! {
    fn sql_features_equal_a_direct_computation(exercise = "sql") {
        let dir = temp_dir("sql")?;
        let customers = Customers::generate(3);
        let mut people = customers.frame().called("customers")?;
        let mut txns = data::transactions(2_000, 100, 4, &customers, false).called("transactions")?;
        let (cpath, tpath) = (dir.join("customers.csv"), dir.join("t.parquet"));
        data::write_table(&mut people, &cpath).called("write customers")?;
        data::write_table(&mut txns, &tpath).called("write transactions")?;
        let df = model::features(data::scan(&tpath).called("scan")?, data::scan(&cpath).called("scan")?, 0, &[])
            .called("features")?;
        let cols = model::feature_columns(&df).called("feature_columns")?;
        let get_i = |name: &str| -> Result<Vec<i64>, Failure> {
            Ok(txns.column(name).called(name)?.i64().called(name)?.into_no_null_iter().collect())
        };
        let (cust, hour, items) = (get_i("customer_id")?, get_i("hour")?, get_i("items")?);
        let amount: Vec<f64> = txns.column("amount").called("amount")?.f64().called("amount")?.into_no_null_iter().collect();
        let channel_ca = txns.column("channel").called("channel")?.str().called("channel")?;
        let channel: Vec<String> = (0..txns.height()).map(|i| channel_ca.get(i).unwrap_or("").to_string()).collect();
        for i in 0..txns.height() {
            let c = cust[i] as usize;
            let expected = [
                (amount[i] + 1.0).ln(),
                f64::from(u8::from(hour[i] < 6)),
                f64::from(u8::from(channel[i] == "web")),
                items[i] as f64,
                customers.tenure_months[c] as f64,
                f64::from(u8::from(customers.plan[c] == "pro")),
            ];
            for (j, &e) in expected.iter().enumerate() {
                close(&format!("feature {} of row {i}", FEATURES[j]), e, cols[j][i], Tol::rel(1e-15).and_abs(0.0))?;
            }
        }
        // A transaction whose customer does not exist is refused, by its txn_id.
        let mut bad = txns.clone();
        let mut ids: Vec<i64> = cust.clone();
        ids[7] = 999_999;
        bad.with_column(Column::new("customer_id".into(), ids)).called("with_column")?;
        let bpath = dir.join("bad.parquet");
        data::write_table(&mut bad, &bpath).called("write")?;
        let msg = expect_err(
            "features of a transaction with an unknown customer",
            model::features(data::scan(&bpath).called("scan")?, data::scan(&cpath).called("scan")?, 0, &[]),
        )?;
        ensure(msg.contains("107"), "the error names the transaction", format!("expected txn_id 107 in: {msg}"))?;
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    }
}

check! {
    fn parts_concatenated_equal_one_part(exercise = "commit", timeout_s = 180) {
        let dir = temp_dir("parts")?;
        let rows = 30_011;
        let files = data::generate(&dir.join("data"), rows, Format::Parquet, 21).called("generate")?;
        let (model_path, loaded) = fixed_model(&dir)?;
        let one = job(&files, &loaded, dir.join("one"), 65_536);
        run_all(&one, 1)?;
        let whole = read_output(&one.out_dir, 1).called("read_output (1 part)")?;
        rows_once_in_order(&whole, rows)?;
        let seven = job(&files, &loaded, dir.join("seven"), 4_096);
        run_all(&seven, 7)?;
        same_values("7 parts read in order against 1 part", &whole, &read_output(&seven.out_dir, 7).called("read_output (7 parts)")?)?;
        // The same table as CSV gives the same output.
        let csv = data::generate(&dir.join("csv"), rows, Format::Csv, 21).called("generate CSV")?;
        let from_csv = job(&csv, &loaded, dir.join("csv-out"), 10_000);
        run_all(&from_csv, 3)?;
        same_values("the CSV input against the Parquet input", &whole, &read_output(&from_csv.out_dir, 3).called("read_output (CSV)")?)?;
        // Each part records the model's version and the SHA-256 of its file, and its rows.
        let sha: String = sha2::Sha256::digest(std::fs::read(&model_path).called("read model")?)
            .iter().map(|b| format!("{b:02x}")).collect();
        for p in Partition::all(7).called("all")? {
            let meta = batch::read_metadata(&part_path(&seven.out_dir, p)).called("read_metadata")?;
            let get = |k: &str| meta.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone()).unwrap_or_default();
            let r = partition_range(rows, p);
            ensure(get("model_sha256") == sha, "model_sha256 in the part's metadata", format!("expected {sha}, got {}", get("model_sha256")))?;
            ensure(get("model_version") == "fixed-1", "model_version in the metadata", get("model_version"))?;
            ensure(get("rows") == format!("{}..{}", r.start, r.end), "rows in the metadata", get("rows"))?;
        }
        // The scores are the model's: recomputed here for a few rows from the raw features.
        let feats = model::features(data::scan(&files.transactions).called("scan")?, data::scan(&files.customers).called("scan")?, 0, &[])
            .called("features")?;
        let cols = model::feature_columns(&feats).called("feature_columns")?;
        let score: Vec<f64> = whole.column("score").called("score")?.f64().called("score")?.into_no_null_iter().collect();
        let m = &loaded.model;
        for i in [0, 1, 4_095, 4_096, rows - 1] {
            let z = m.intercept + (0..6).map(|j| m.weights[j] * (cols[j][i] - m.mean[j]) / m.scale[j]).sum::<f64>();
            close(&format!("score of row {i}"), 1.0 / (1.0 + (-z).exp()), score[i], Tol::rel(1e-12))?;
        }
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    }
}

check! {
    fn a_killed_job_resumes_without_loss_or_duplicates(exercise = "commit", timeout_s = 240) {
        let dir = temp_dir("kill")?;
        let rows = 40_000;
        let files = data::generate(&dir.join("data"), rows, Format::Parquet, 22).called("generate")?;
        let (model_path, loaded) = fixed_model(&dir)?;
        let reference = job(&files, &loaded, dir.join("reference"), 65_536);
        run_all(&reference, 1)?;
        let expected = read_output(&reference.out_dir, 1).called("read_output")?;
        let out = dir.join("killed");
        let command = |pause_ms: u64| {
            let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_week15-serving-patterns"));
            c.args(["score", "--parts", "5", "--chunk-rows", "2000"])
                .arg("--input").arg(&files.transactions)
                .arg("--customers").arg(&files.customers)
                .arg("--model").arg(&model_path)
                .arg("--out").arg(&out)
                .arg("--pause-ms").arg(pause_ms.to_string())
                .env_remove("JOB_COMPLETION_INDEX")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            c
        };
        let mut child = command(60).spawn().called("starting the score command")?;
        let started = Instant::now();
        // Kill it (SIGKILL: no chance to clean up) once the first part is written.
        while !part_path(&out, Partition::new(0, 5).called("p")?).exists() {
            if started.elapsed() > Duration::from_secs(120) {
                let _ = child.kill();
                return Err(Failure::new("the first run", "wrote no part within 120 s"));
            }
            if let Some(status) = child.try_wait().called("try_wait")? {
                return Err(Failure::new("the first run", format!("exited ({status}) before it could be killed")));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(150));
        child.kill().called("kill")?;
        let _ = child.wait();
        let done: Vec<Partition> = Partition::all(5).called("all")?.into_iter()
            .filter(|&p| part_path(&out, p).exists()).collect();
        ensure(!done.is_empty() && done.len() < 5, "parts after the kill", format!("expected some but not all of 5, found {}", done.len()))?;
        for &p in &done {
            let f = std::fs::File::open(part_path(&out, p)).called("open")?;
            let part = ParquetReader::new(f).finish().called(&format!("reading part {p} written before the kill"))?;
            ensure(part.height() == partition_range(rows, p).len(), "a part left by the killed run", format!("part {p} has {} rows: a part must be whole or absent", part.height()))?;
        }
        let rerun = command(0).output().called("rerunning the score command")?;
        let stdout = String::from_utf8_lossy(&rerun.stdout);
        ensure(rerun.status.success(), "the rerun", format!("{}: {}", rerun.status, String::from_utf8_lossy(&rerun.stderr)))?;
        ensure(
            stdout.matches("skipped").count() == done.len(),
            "the rerun skips the finished parts",
            format!("{} parts were done; the rerun said:\n{stdout}", done.len()),
        )?;
        let leftovers: Vec<String> = std::fs::read_dir(&out).called("read_dir")?
            .filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".tmp")).collect();
        ensure(leftovers.is_empty(), "temporary files after the rerun", format!("{leftovers:?}"))?;
        let resumed = read_output(&out, 5).called("read_output")?;
        rows_once_in_order(&resumed, rows)?;
        same_values("the killed-then-resumed output against an uninterrupted run", &expected, &resumed)?;
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    }
}

check! {
    fn bad_inputs_fail_clearly_and_write_nothing(exercise = "commit", timeout_s = 120) {
        let dir = temp_dir("bad")?;
        let files = data::generate(&dir.join("data"), 5_000, Format::Parquet, 23).called("generate")?;
        let (_, loaded) = fixed_model(&dir)?;
        let contains = |msg: &str, what: &str, needle: &str| {
            ensure(msg.contains(needle), what, format!("expected the error to mention `{needle}`: {msg}"))
        };
        // Wrong schemas: a missing column, a column of the wrong type.
        let mut t = data::scan(&files.transactions).called("scan")?.collect().called("collect")?;
        let mut no_amount = t.drop("amount").called("drop")?;
        let p1 = dir.join("no_amount.parquet");
        data::write_table(&mut no_amount, &p1).called("write")?;
        let msg = expect_err("input_rows of a table without `amount`", batch::input_rows(&p1))?;
        contains(&msg, "a missing column", "amount")?;
        t.with_column(Column::new("hour".into(), vec!["noon"; t.height()])).called("with_column")?;
        let p2 = dir.join("hour_text.parquet");
        data::write_table(&mut t, &p2).called("write")?;
        let msg = expect_err("input_rows of a table whose `hour` is text", batch::input_rows(&p2))?;
        contains(&msg, "a column of the wrong type", "hour")?;
        // Not a Parquet file; a missing file.
        let p3 = dir.join("text.parquet");
        std::fs::write(&p3, "txn_id,amount\n1,2\n").called("write")?;
        expect_err("input_rows of a text file named .parquet", batch::input_rows(&p3))?;
        expect_err("input_rows of a missing file", batch::input_rows(&dir.join("nope.parquet")))?;
        // Corrupt and foreign model files.
        let m1 = dir.join("garbage.json");
        std::fs::write(&m1, b"\x00\x01 not json").called("write")?;
        expect_err("loading a garbage model file", ScoringModel::load(&m1))?;
        let mut short = loaded.model.clone();
        short.weights.pop();
        let m2 = dir.join("short.json");
        std::fs::write(&m2, serde_json::to_string(&short).called("json")?).called("write")?;
        let msg = expect_err("loading a model with 5 weights", ScoringModel::load(&m2))?;
        contains(&msg, "a model with 5 weights", "weights")?;
        // A failing run leaves nothing behind: unknown customers in the input.
        let mut t = data::scan(&files.transactions).called("scan")?.collect().called("collect")?;
        t.with_column(Column::new("customer_id".into(), vec![123_456_789i64; t.height()])).called("with_column")?;
        let p4 = dir.join("strangers.parquet");
        data::write_table(&mut t, &p4).called("write")?;
        let mut strangers = job(&files, &loaded, dir.join("out-strangers"), 1_000);
        strangers.input = p4;
        expect_err("scoring transactions of unknown customers", batch::run_partition(&strangers, Partition::new(0, 1).called("p")?))?;
        let left: Vec<_> = std::fs::read_dir(&strangers.out_dir).map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name()).collect()).unwrap_or_default();
        ensure(left.is_empty(), "files after a failed run", format!("expected none, found {left:?}"))?;
        // A missing partition is named; a part from another model is refused, not mixed in.
        let good = job(&files, &loaded, dir.join("out"), 1_000);
        batch::run_partition(&good, Partition::new(0, 2).called("p")?).called("run_partition 0/2")?;
        let msg = expect_err("read_output with part 1/2 missing", read_output(&good.out_dir, 2))?;
        contains(&msg, "the missing part", "part-00001-of-00002")?;
        let mut other = loaded.clone();
        other.sha256 = "0".repeat(64);
        let msg = expect_err(
            "rerunning partition 0/2 with another model over its existing part",
            batch::run_partition(&Job { model: other, ..good.clone() }, Partition::new(0, 2).called("p")?),
        )?;
        contains(&msg, "a part from another model", "model_sha256")?;
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    }
}

check! {
    fn the_trained_model_is_near_the_best_possible(exercise = "score", timeout_s = 180) {
        let dir = temp_dir("train")?;
        let files = data::generate(&dir, 10, Format::Parquet, 24).called("generate")?;
        let m = model::train(&files.labelled, &files.customers).called("train")?;
        ensure(
            m.holdout_log_loss <= m.bayes_log_loss + 0.01,
            "held-out log-loss",
            format!("{:.4}, expected within 0.01 of the true probabilities' {:.4}", m.holdout_log_loss, m.bayes_log_loss),
        )?;
        // The signs of the law the labels were drawn from (data::true_logit).
        let signs = [1.0, 1.0, 1.0, 1.0, -1.0, -1.0];
        for (j, s) in signs.iter().enumerate() {
            ensure(m.weights[j] * s > 0.0, "a weight's sign", format!("{}: {} (the true coefficient's sign is {s})", FEATURES[j], m.weights[j]))?;
        }
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    }
}

// ---- The online service ----

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .called("tokio runtime")
}

struct Server {
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<week15_serving_patterns::wb_serve::BatchStats>>,
}

async fn start(state: Arc<AppState>) -> Result<Server, Failure> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .called("bind")?;
    let url = format!("http://{}", listener.local_addr().called("addr")?);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(online::serve(listener, state, async move {
        let _ = rx.await;
    }));
    Ok(Server {
        url,
        stop: Some(tx),
        task,
    })
}

/// A model that scores a row by a formula, so every answer can be checked exactly.
fn formula(row: &Row) -> f32 {
    row.iter()
        .enumerate()
        .map(|(j, &x)| (j as f32 + 1.0) * x)
        .sum::<f32>()
}

fn row_of(i: usize) -> Row {
    std::array::from_fn(|j| (i * 7 + j) as f32 / 8.0)
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    body: String,
) -> Result<(u16, Value, Option<String>), Failure> {
    let r = client
        .post(format!("{url}/v1/score"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .called("POST /v1/score")?;
    let status = r.status().as_u16();
    let retry = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let text = r.text().await.called("reading the answer")?;
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
        retry,
    ))
}

check! {
    fn each_caller_gets_its_own_score(exercise = "parse_row", timeout_s = 120) {
        let rt = runtime()?;
        let config = BatchConfig { max_batch: 8, max_wait: Duration::from_millis(5), queue: 512 };
        let state = AppState::with_model(config, Duration::from_secs(10), |rows: Vec<Row>| {
            std::thread::sleep(Duration::from_millis(2));
            Ok(rows.iter().map(formula).collect())
        }).called("AppState::with_model")?;
        rt.block_on(async {
            let server = start(state).await?;
            let client = reqwest::Client::new();
            let mut tasks = Vec::new();
            for i in 0..300 {
                let (client, url) = (client.clone(), server.url.clone());
                tasks.push(tokio::spawn(async move { (i, post(&client, &url, online::body(&row_of(i))).await) }));
            }
            let mut largest = 0;
            for t in tasks {
                let (i, answer) = t.await.called("join")?;
                let (status, v, _) = answer?;
                ensure(status == 200, "status", format!("request {i}: {status} {v}"))?;
                let expected = formula(&row_of(i));
                let got = v["score"].as_f64().unwrap_or(f64::NAN) as f32;
                ensure(got == expected, "each caller's own answer", format!("request {i}: expected {expected}, got {got} — another caller's answer?"))?;
                let b = v["batch_size"].as_u64().unwrap_or(0) as usize;
                ensure((1..=8).contains(&b), "batch size", format!("request {i} was in a batch of {b}; the limit is 8"))?;
                largest = largest.max(b);
            }
            ensure(largest > 1, "batching", "300 concurrent requests were never batched together")?;
            let Server { stop, task, .. } = server;
            let _ = stop.map(|s| s.send(()));
            let stats = task.await.called("join")?.called("serve")?;
            ensure(stats.items == 300 && stats.largest_batch <= 8, "batcher statistics", format!("{stats:?}"))?;
            Ok(())
        })?;
        // The real network: an answer through the service equals its own forward pass.
        let dir = temp_dir("mlp")?;
        let files = data::generate(&dir, 10, Format::Parquet, 25).called("generate")?;
        let (_, loaded) = fixed_model(&dir)?;
        let (cols, labels) = model::labelled_features(&files.labelled, &files.customers).called("labelled_features")?;
        let few: Vec<Vec<f64>> = cols.iter().map(|c| c[..4_000].to_vec()).collect();
        let (mlp, _) = online::train_mlp(&few, &labels[..4_000], &loaded.model, 1, 1).called("train_mlp")?;
        let mlp = Arc::new(mlp);
        let rows: Vec<Row> = (0..40).map(|i| std::array::from_fn(|j| cols[j][i] as f32)).collect();
        let alone: Vec<f32> = rows.iter().map(|r| mlp.predict(std::slice::from_ref(r)).map(|v| v[0])).collect::<anyhow::Result<_>>().called("predict")?;
        let state = AppState::new(Arc::clone(&mlp), BatchConfig { max_batch: 16, max_wait: Duration::from_millis(5), queue: 64 }, Duration::from_secs(10)).called("AppState::new")?;
        rt.block_on(async {
            let server = start(state).await?;
            let client = reqwest::Client::new();
            let mut tasks = Vec::new();
            for (i, row) in rows.iter().enumerate() {
                let (client, url, body) = (client.clone(), server.url.clone(), online::body(row));
                tasks.push(tokio::spawn(async move { (i, post(&client, &url, body).await) }));
            }
            for t in tasks {
                let (i, answer) = t.await.called("join")?;
                let (status, v, _) = answer?;
                ensure(status == 200, "status", format!("{status} {v}"))?;
                close(&format!("the network's P(fraud) of row {i}, batched against alone"), f64::from(alone[i]), v["score"].as_f64().unwrap_or(f64::NAN), Tol::abs(1e-5))?;
            }
            let _ = server.stop.map(|s| s.send(()));
            Ok(())
        })?;
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    }
}

check! {
    fn bad_requests_get_a_4xx_naming_the_problem(exercise = "parse_row") {
        let ok = online::body(&row_of(1));
        ensure(parse_row(&serde_json::from_str(&ok).called("json")?) == Ok(row_of(1)), "parse_row of a good body", ok.clone())?;
        let mut missing: Value = serde_json::from_str(&ok).called("json")?;
        missing.as_object_mut().map(|o| o.remove("items"));
        let mut text = serde_json::from_str::<Value>(&ok).called("json")?;
        text["night"] = json!("yes");
        let mut extra = serde_json::from_str::<Value>(&ok).called("json")?;
        extra["colour"] = json!(3);
        let mut huge = serde_json::from_str::<Value>(&ok).called("json")?;
        huge["pro"] = json!(1e300);
        let cases: Vec<(&str, String, u16, &str)> = vec![
            ("not JSON", "{\"log_amount\": 3,".into(), 400, "JSON"),
            ("a missing feature", missing.to_string(), 422, "items"),
            ("a feature that is text", text.to_string(), 422, "night"),
            ("an unknown field", extra.to_string(), 422, "colour"),
            ("a value out of range", huge.to_string(), 422, "pro"),
            ("an array", "[1, 2, 3, 4, 5, 6]".into(), 422, "object"),
        ];
        let rt = runtime()?;
        let state = AppState::with_model(BatchConfig { max_batch: 4, max_wait: Duration::ZERO, queue: 8 }, Duration::from_secs(5), |rows: Vec<Row>| Ok(rows.iter().map(formula).collect()))
            .called("AppState::with_model")?;
        rt.block_on(async {
            let server = start(state).await?;
            let client = reqwest::Client::new();
            for (what, body, status, needle) in cases {
                let (got, v, _) = post(&client, &server.url, body).await?;
                ensure(got == status, what, format!("expected {status}, got {got}: {v}"))?;
                let msg = v["error"].as_str().unwrap_or_default();
                ensure(msg.contains(needle), what, format!("expected the error to name `{needle}`: {v}"))?;
            }
            let (got, v, _) = post(&client, &server.url, ok).await?;
            ensure(got == 200, "a good request after bad ones", format!("{got} {v}"))?;
            let _ = server.stop.map(|s| s.send(()));
            Ok(())
        })
    }
}

/// A service whose model blocks on its first batch until released.
struct Gated {
    state: Arc<AppState>,
    /// Receives once the first batch is inside the model.
    entered: mpsc::Receiver<()>,
    /// Lets the model go on.
    release: mpsc::Sender<()>,
    /// Rows the model has seen.
    seen: Arc<Mutex<usize>>,
}

fn gated(config: BatchConfig) -> Result<Gated, Failure> {
    let (entered_tx, entered) = mpsc::channel();
    let (release, release_rx) = mpsc::channel::<()>();
    let seen = Arc::new(Mutex::new(0));
    let count = Arc::clone(&seen);
    let mut first = true;
    let state = AppState::with_model(config, Duration::from_secs(30), move |rows: Vec<Row>| {
        *count.lock().map_err(|e| e.to_string())? += rows.len();
        if first {
            first = false;
            let _ = entered_tx.send(());
            let _ = release_rx.recv();
        }
        Ok(rows.iter().map(formula).collect())
    })
    .called("AppState::with_model")?;
    Ok(Gated {
        state,
        entered,
        release,
        seen,
    })
}

check! {
    fn a_full_queue_answers_503_with_retry_after(exercise = "parse_row", timeout_s = 60) {
        let rt = runtime()?;
        let Gated { state, entered, release, seen } = gated(BatchConfig { max_batch: 1, max_wait: Duration::ZERO, queue: 2 })?;
        let probe = Arc::clone(&state);
        rt.block_on(async {
            let server = start(state).await?;
            let client = reqwest::Client::new();
            let send = |i: usize| {
                let (client, url) = (client.clone(), server.url.clone());
                tokio::spawn(async move { (i, post(&client, &url, online::body(&row_of(i))).await) })
            };
            let first = send(0);
            let entered = tokio::task::spawn_blocking(move || entered.recv_timeout(Duration::from_secs(20))).await.called("join")?;
            entered.map_err(|_| Failure::new("the first request", "never reached the model"))?;
            let queued = vec![send(1), send(2)];
            let t0 = Instant::now();
            while probe.batcher.stats().queued < 2 {
                ensure(t0.elapsed() < Duration::from_secs(20), "queueing", "two requests never queued")?;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            let (status, v, retry) = post(&client, &server.url, online::body(&row_of(3))).await?;
            ensure(status == 503, "a request beyond the queue", format!("expected 503, got {status}: {v}"))?;
            let secs = retry.as_deref().and_then(|r| r.parse::<u64>().ok());
            ensure(secs.is_some_and(|s| s >= 1), "Retry-After", format!("expected whole seconds ≥ 1, got {retry:?}"))?;
            release.send(()).called("release")?;
            for t in std::iter::once(first).chain(queued) {
                let (i, answer) = t.await.called("join")?;
                let (status, v, _) = answer?;
                ensure(status == 200, "an accepted request", format!("request {i}: {status} {v}"))?;
            }
            ensure(*seen.lock().map_err(|e| Failure::new("lock", e.to_string()))? == 3, "rows the model saw", "expected 3: the refused request must never reach it")?;
            let _ = server.stop.map(|s| s.send(()));
            Ok(())
        })
    }
}

check! {
    fn shutdown_answers_every_accepted_request(exercise = "parse_row", timeout_s = 60) {
        let rt = runtime()?;
        let Gated { state, entered, release, seen } = gated(BatchConfig { max_batch: 4, max_wait: Duration::from_millis(1), queue: 64 })?;
        let probe = Arc::clone(&state);
        rt.block_on(async {
            let Server { url, stop, task } = start(state).await?;
            let client = reqwest::Client::new();
            let mut tasks = Vec::new();
            for i in 0..20 {
                let (client, url) = (client.clone(), url.clone());
                tasks.push(tokio::spawn(async move { (i, post(&client, &url, online::body(&row_of(i))).await) }));
            }
            tokio::task::spawn_blocking(move || entered.recv_timeout(Duration::from_secs(20))).await.called("join")?
                .map_err(|_| Failure::new("the first batch", "never reached the model"))?;
            let t0 = Instant::now();
            // Every request accepted: inside the model (the first batch) or queued.
            let in_model = || seen.lock().map(|n| *n).unwrap_or(0);
            while probe.batcher.stats().queued + in_model() < 20 {
                ensure(t0.elapsed() < Duration::from_secs(20), "queueing", format!("{:?}", probe.batcher.stats()))?;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            // Shut down with the first batch in the model and the rest queued, then let the model go on.
            let _ = stop.map(|s| s.send(()));
            tokio::time::sleep(Duration::from_millis(50)).await;
            release.send(()).called("release")?;
            for t in tasks {
                let (i, answer) = t.await.called("join")?;
                let (status, v, _) = answer?;
                ensure(status == 200, "a request accepted before the shutdown", format!("request {i}: {status} {v}"))?;
                ensure(v["score"].as_f64().map(|s| s as f32) == Some(formula(&row_of(i))), "its answer", format!("request {i}: {v}"))?;
            }
            let stats = tokio::time::timeout(Duration::from_secs(20), task).await
                .map_err(|_| Failure::new("shutdown", "serve did not return within 20 s"))?
                .called("join")?.called("serve")?;
            ensure(stats.items == 20 && stats.queued == 0, "the batcher after shutdown", format!("{stats:?}"))?;
            let after = client.post(format!("{url}/v1/score")).body(online::body(&row_of(0))).send().await;
            ensure(after.is_err(), "a request after shutdown", "the server still accepted connections")?;
            Ok(())
        })
    }
}

check! {
    fn the_kubernetes_manifests_wire_partitions_probes_and_resources(exercise = "commit", timeout_s = 120) {
        let read = |name: &str| -> Result<Vec<Value>, Failure> {
            let text = std::fs::read_to_string(Path::new("deploy").join(name)).called(&format!("reading deploy/{name}"))?;
            let mut docs = Vec::new();
            for doc in serde_norway::Deserializer::from_str(&text) {
                docs.push(<Value as serde::Deserialize>::deserialize(doc).called(&format!("parsing deploy/{name}"))?);
            }
            Ok(docs)
        };
        let manifest = read("batch-job.yaml")?.remove(0);
        ensure(manifest["apiVersion"] == "batch/v1" && manifest["kind"] == "Job", "batch-job.yaml", "expected a batch/v1 Job")?;
        let spec = &manifest["spec"];
        ensure(spec["completionMode"] == "Indexed", "completionMode", format!("expected Indexed, got {}", spec["completionMode"]))?;
        let completions = spec["completions"].as_u64().unwrap_or(0);
        let pod = &spec["template"]["spec"];
        ensure(pod["restartPolicy"] == "Never" || pod["restartPolicy"] == "OnFailure", "restartPolicy", "a Job's pods must not restart forever")?;
        let c = &pod["containers"][0];
        let args: Vec<&str> = c["args"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
        ensure(args.first() == Some(&"score"), "the container's command", format!("expected `score …`, got {args:?}"))?;
        let parts = args.iter().find_map(|a| a.strip_prefix("--parts=")).and_then(|n| n.parse::<u64>().ok());
        ensure(parts == Some(completions) && completions > 1, "the index wiring", format!("--parts ({parts:?}) must equal completions ({completions}): one pod per partition"))?;
        ensure(!args.iter().any(|a| a.starts_with("--partition") || a.starts_with("--index")), "the index wiring", "the partition must come from JOB_COMPLETION_INDEX, not a fixed argument")?;
        let env_override = c["env"].as_array().is_some_and(|e| e.iter().any(|v| v["name"] == "JOB_COMPLETION_INDEX"));
        ensure(!env_override, "JOB_COMPLETION_INDEX", "must be left to Kubernetes, not set in the manifest")?;
        for (kind, key) in [("requests", "cpu"), ("requests", "memory"), ("limits", "memory")] {
            ensure(!c["resources"][kind][key].is_null(), "resources", format!("the job's container has no {kind}.{key}"))?;
        }
        ensure(spec["backoffLimitPerIndex"].as_u64().is_some(), "retries", "expected backoffLimitPerIndex: a failed partition retries alone")?;
        // Run the manifest's command as its pods would, each with its JOB_COMPLETION_INDEX, on
        // this machine's paths: the N parts must equal one uninterrupted run.
        let dir = temp_dir("k8s")?;
        let files = data::generate(&dir.join("data"), 9_001, Format::Parquet, 26).called("generate")?;
        let (model_path, loaded) = fixed_model(&dir)?;
        let reference = job(&files, &loaded, dir.join("reference"), 65_536);
        run_all(&reference, 1)?;
        let local = |a: &str| -> String {
            a.replace("/data/", &format!("{}/", dir.join("data").display()))
                .replace("/model/model.json", &model_path.display().to_string())
                .replace("/out/", &format!("{}/", dir.display()))
        };
        for index in 0..completions {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_week15-serving-patterns"))
                .args(args.iter().map(|a| local(a)))
                .env("JOB_COMPLETION_INDEX", index.to_string())
                .output()
                .called("running the manifest's command")?;
            ensure(out.status.success(), "the pod's command", format!("index {index}: {}", String::from_utf8_lossy(&out.stderr)))?;
            let stdout = String::from_utf8_lossy(&out.stdout);
            ensure(stdout.contains(&format!("partition {index}/{completions}")), "the pod's partition", format!("index {index} scored: {stdout}"))?;
        }
        let out_dir = args.iter().find_map(|a| a.strip_prefix("--out=")).map(local).ok_or_else(|| Failure::new("the job's args", "no --out="))?;
        same_values(
            "the Indexed Job's parts against one uninterrupted run",
            &read_output(&reference.out_dir, 1).called("read_output")?,
            &read_output(Path::new(&out_dir), completions as usize).called("read_output of the job's parts")?,
        )?;
        let _ = std::fs::remove_dir_all(&dir);
        let online = read("online.yaml")?;
        let deployment = online.iter().find(|d| d["kind"] == "Deployment").ok_or_else(|| Failure::new("online.yaml", "no Deployment"))?;
        let c = &deployment["spec"]["template"]["spec"]["containers"][0];
        for probe in ["readinessProbe", "livenessProbe"] {
            ensure(c[probe]["httpGet"]["path"] == "/healthz", probe, format!("expected an HTTP probe of /healthz, got {}", c[probe]))?;
        }
        for (kind, key) in [("requests", "cpu"), ("requests", "memory"), ("limits", "memory")] {
            ensure(!c["resources"][kind][key].is_null(), "resources", format!("the service's container has no {kind}.{key}"))?;
        }
        let port = c["ports"][0]["containerPort"].as_u64();
        let addr_port = c["args"].as_array().and_then(|a| a.iter().filter_map(Value::as_str).find_map(|s| s.strip_prefix("--addr=")))
            .and_then(|a| a.rsplit(':').next()?.parse::<u64>().ok());
        ensure(port.is_some() && port == addr_port, "the service's port", format!("containerPort {port:?} must be the port of --addr ({addr_port:?})"))?;
        ensure(online.iter().any(|d| d["kind"] == "Service"), "online.yaml", "expected a Service in front of the Deployment")?;
        Ok(())
    }
}
