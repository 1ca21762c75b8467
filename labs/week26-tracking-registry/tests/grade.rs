//! Grader checks for week 26: experiment tracking and a model registry.
//!
//! References: hand-worked histories and registry sequences, SHA-256 test vectors (FIPS 180-2:
//! "abc" and the empty string), the metric points of week 14's real logs counted here with
//! serde_json, and the lab's own binary run as writers that are SIGKILLed at random instants and
//! raced against each other.

use grader::{Called, Failure, Tol, check, close, ensure, expect_err};
use serde_json::Value;
use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use week26_tracking_registry::ingest::parse_line;
use week26_tracking_registry::registry::{PRODUCTION, STAGING};
use week26_tracking_registry::store::{Goal, RunSpec, Tracker};

const BIN: &str = env!("CARGO_BIN_EXE_week26-tracking-registry");

/// A fresh folder for one check.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wb-week26-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn spec<'a>(experiment: &'a str, name: &'a str) -> RunSpec<'a> {
    RunSpec {
        experiment,
        name,
        ..RunSpec::default()
    }
}

/// A child that is killed when the check ends, however it ends.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A run with `values` logged at steps 1, 2, … of `key`, finished unless `running`.
fn run_with(
    t: &mut Tracker,
    exp: &str,
    name: &str,
    key: &str,
    values: &[f64],
    running: bool,
) -> Result<String, Failure> {
    let id = t.start_run(&spec(exp, name)).called("start_run")?;
    for (i, v) in values.iter().enumerate() {
        t.log_metrics(&id, &[(key, i as i64 + 1, *v)])
            .called("log_metrics")?;
    }
    if !running {
        t.end_run(&id, false).called("end_run")?;
    }
    Ok(id)
}

check! {
    /// A batch of metrics lands whole or not at all: a batch holding one point already logged,
    /// or one NaN, leaves the history as it was; metrics go only to running runs.
    fn metric_batches_are_all_or_nothing(exercise = "log_metrics") {
        let dir = scratch("batches");
        let mut t = Tracker::open(&dir).called("Tracker::open")?;
        let run = t.start_run(&spec("e", "r")).called("start_run")?;
        t.log_metrics(&run, &[("loss", 1, 0.9), ("loss", 2, 0.7), ("acc", 1, 0.5)]).called("log_metrics")?;
        let loss: Vec<(i64, f64)> = t.history(&run, "loss").called("history")?.iter().map(|p| (p.step, p.value)).collect();
        ensure(loss == vec![(1, 0.9), (2, 0.7)], "the history of loss", format!("expected [(1, 0.9), (2, 0.7)], got {loss:?}"))?;
        expect_err("a batch that repeats (loss, step 2)", t.log_metrics(&run, &[("loss", 3, 0.6), ("loss", 2, 0.1)]))?;
        expect_err("a batch with a NaN", t.log_metrics(&run, &[("loss", 3, 0.6), ("acc", 2, f64::NAN)]))?;
        let after = t.history(&run, "loss").called("history")?.len() + t.history(&run, "acc").called("history")?.len();
        ensure(after == 3, "the refused batches", format!("must leave the 3 points as they were, found {after}"))?;
        expect_err("metrics for an unknown run", t.log_metrics("feedbeef", &[("loss", 1, 1.0)]))?;
        t.end_run(&run, false).called("end_run")?;
        expect_err("metrics for a finished run", t.log_metrics(&run, &[("loss", 3, 0.5)]))?;
        expect_err("a run with a parameter given twice", t.start_run(&RunSpec { params: &[("lr", "1".into()), ("lr", "2".into())], ..spec("e", "dup") }))?;
        ensure(t.runs("e").called("runs")?.len() == 1, "a refused run", "must not be stored")
    }
}

check! {
    /// Blobs are named by their SHA-256 (FIPS 180-2 vectors), stored once, leave no temporary
    /// file, and a blob changed on disk is refused when read and reported by verify. A file that
    /// is not a database is refused with its path.
    fn artifacts_are_content_addressed(exercise = "put_blob") {
        let dir = scratch("blobs");
        let mut t = Tracker::open(&dir).called("Tracker::open")?;
        let abc = t.put_blob(b"abc").called("put_blob")?;
        ensure(abc == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "put_blob(b\"abc\")", format!("SHA-256 of \"abc\" expected, got {abc}"))?;
        let empty = t.put_blob(b"").called("put_blob")?;
        ensure(empty == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "put_blob(b\"\")", format!("SHA-256 of nothing expected, got {empty}"))?;
        ensure(std::fs::read(t.blob_path(&abc)).ok().as_deref() == Some(&b"abc"[..]), "the blob's file", "holds the bytes")?;
        t.put_blob(b"abc").called("put_blob again")?;
        let files: Vec<_> = walk(&dir.join("artifacts"));
        ensure(files.len() == 2, "the blobs stored", format!("two distinct contents, two files (no copy, no .tmp), got {files:?}"))?;
        let run = t.start_run(&spec("e", "r")).called("start_run")?;
        t.log_artifact(&run, "model.json", b"{\"w\": [1, 2]}").called("log_artifact")?;
        ensure(t.read_artifact(&run, "model.json").called("read_artifact")? == b"{\"w\": [1, 2]}", "read_artifact", "gives the bytes back")?;
        expect_err("an artifact path with ..", t.log_artifact(&run, "../x", b"x"))?;
        let sha = t.log_artifact(&run, "weights.bin", &[7u8; 1000]).called("log_artifact")?;
        std::fs::write(t.blob_path(&sha), [7u8; 999]).called("truncating the blob")?;
        expect_err("reading a truncated blob", t.read_artifact(&run, "weights.bin"))?;
        ensure(t.verify().called("verify")?.len() == 1, "verify", "reports the one damaged blob")?;
        let bad = scratch("garbage");
        std::fs::create_dir_all(&bad).called("mkdir")?;
        std::fs::write(bad.join("tracking.sqlite"), vec![0x42u8; 4096]).called("writing garbage")?;
        let msg = expect_err("opening a file that is not a database", Tracker::open(&bad))?;
        ensure(msg.contains("tracking.sqlite"), "the refusal", format!("names the file, got: {msg}"))
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.path().is_dir() {
                out.extend(walk(&e.path()));
            } else {
                out.push(e.path());
            }
        }
    }
    out
}

check! {
    /// The best run is judged on each run's latest value, among finished runs; ties go to the
    /// run started first; Min and Max both work; nothing logged gives None.
    fn best_run_reads_the_latest_value_of_finished_runs(exercise = "best_run") {
        let dir = scratch("best");
        let mut t = Tracker::open(&dir).called("Tracker::open")?;
        // a peaked early (0.95) and ended at 0.80; b ended at 0.90; c ended at 0.90 later;
        // d would win but is still running.
        let _a = run_with(&mut t, "x", "a", "acc", &[0.5, 0.95, 0.80], false)?;
        let b = run_with(&mut t, "x", "b", "acc", &[0.6, 0.90], false)?;
        let _c = run_with(&mut t, "x", "c", "acc", &[0.7, 0.8, 0.85, 0.90], false)?;
        let _d = run_with(&mut t, "x", "d", "acc", &[0.99], true)?;
        let e = run_with(&mut t, "x", "e", "loss", &[0.3, 0.2], false)?;
        let best = t.best_run("x", "acc", Goal::Max).called("best_run")?;
        ensure(best.as_ref().map(|(id, _)| id) == Some(&b), "best_run(max acc)", format!("b (0.90, started before c; a's 0.95 is not its latest; d is running), got {best:?}"))?;
        close("best_run(max acc) value", 0.90, best.map_or(f64::NAN, |(_, v)| v), Tol::abs(0.0))?;
        let worst = t.best_run("x", "acc", Goal::Min).called("best_run")?;
        let a_id = t.runs("x").called("runs")?.into_iter().find(|r| r.name == "a").map(|r| r.id);
        ensure(worst.as_ref().map(|(id, _)| id.clone()) == a_id, "best_run(min acc)", format!("a (latest 0.80), got {worst:?}"))?;
        let loss = t.best_run("x", "loss", Goal::Min).called("best_run")?;
        ensure(loss.as_ref().map(|(id, _)| id) == Some(&e), "best_run(min loss)", format!("e, got {loss:?}"))?;
        ensure(t.best_run("x", "f1", Goal::Max).called("best_run")?.is_none(), "best_run of a metric nobody logged", "is None")?;
        ensure(t.best_run("nope", "acc", Goal::Max).called("best_run")?.is_none(), "best_run of an unknown experiment", "is None")?;
        // Compare: only the parameters that differ, and each run's latest value of each metric.
        let p1 = [("lr", "0.1".to_string()), ("seed", "1".to_string())];
        let p2 = [("lr", "1".to_string()), ("seed", "1".to_string()), ("l2", "0.01".to_string())];
        let r1 = t.start_run(&RunSpec { params: &p1, ..spec("y", "one") }).called("start_run")?;
        let r2 = t.start_run(&RunSpec { params: &p2, ..spec("y", "two") }).called("start_run")?;
        t.log_metrics(&r1, &[("loss", 1, 0.5), ("loss", 2, 0.4)]).called("log_metrics")?;
        t.log_metrics(&r2, &[("loss", 1, 0.6), ("acc", 1, 0.7)]).called("log_metrics")?;
        let c = t.compare(&[&r1, &r2]).called("compare")?;
        let want_params = vec![
            ("l2".to_string(), vec![None, Some("0.01".to_string())]),
            ("lr".to_string(), vec![Some("0.1".to_string()), Some("1".to_string())]),
        ];
        ensure(c.differing_params == want_params, "compare's parameters", format!("l2 and lr differ, seed does not: expected {want_params:?}, got {:?}", c.differing_params))?;
        let want_latest = vec![("acc".to_string(), vec![None, Some(0.7)]), ("loss".to_string(), vec![Some(0.4), Some(0.6)])];
        ensure(c.latest == want_latest, "compare's latest metrics", format!("expected {want_latest:?}, got {:?}", c.latest))?;
        t.set_tag(&r1, "note", "first").called("set_tag")?;
        t.set_tag(&r1, "note", "second").called("set_tag")?;
        let tags = t.run(&r1).called("run")?.tags;
        ensure(tags == vec![("note".to_string(), "second".to_string())], "a tag set twice", format!("keeps the last value, got {tags:?}"))?;
        expect_err("a tag on an unknown run", t.set_tag("feedbeef", "k", "v"))?;
        expect_err("comparing an unknown run", t.compare(&[&r1, "feedbeef"]))?;
        Ok(())
    }
}

check! {
    /// Log lines parse as wb-train writes them; week 14's three real logs import with exactly the
    /// points serde_json counts in them; a bad or contradictory line is refused with its number
    /// and nothing is imported.
    fn metrics_logs_import_whole_or_not_at_all(exercise = "parse_line") {
        let l = parse_line(r#"{"step":20,"epoch":0,"loss":1.5,"lr":0.0004}"#).called("parse_line")?;
        let mut values = l.values.clone();
        values.sort_by(|a, b| a.0.cmp(&b.0));
        ensure(l.step == 20 && values == vec![("epoch".to_string(), 0.0), ("loss".to_string(), 1.5), ("lr".to_string(), 0.0004)], "parse_line of a wb-train line", format!("step 20, epoch 0, loss 1.5, lr 0.0004; got {l:?}"))?;
        for bad in [r#"{"epoch":0,"loss":1}"#, r#"{"step":-1}"#, r#"{"step":1.5}"#, r#"{"step":1,"loss":"high"}"#, "[1, 2]", "{\"step\": 1,"] {
            expect_err(&format!("parse_line({bad})"), parse_line(bad))?;
        }
        let dir = scratch("ingest");
        let mut t = Tracker::open(&dir).called("Tracker::open")?;
        let runs = Path::new(env!("CARGO_MANIFEST_DIR")).join("runs/week14");
        for name in ["lr-1e-2", "lr-2e-3", "lr-5e-4"] {
            let folder = runs.join(name);
            let text = std::fs::read_to_string(folder.join("metrics.jsonl")).called("reading the log")?;
            let mut distinct: HashSet<(String, u64)> = HashSet::new();
            let mut accuracy = Vec::new();
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                let v: Value = serde_json::from_str(line).called("serde_json")?;
                let step = v["step"].as_u64().unwrap_or(0);
                for key in v.as_object().into_iter().flat_map(|o| o.keys()).filter(|k| *k != "step") {
                    distinct.insert((key.clone(), step));
                }
                if let Some(a) = v["valid_accuracy"].as_f64() {
                    accuracy.push((step as i64, a));
                }
            }
            let (id, points) = t.import_run_dir(&folder, "week14").called("import_run_dir")?;
            ensure(points == distinct.len(), &format!("points imported from {name}"), format!("{} distinct (key, step) pairs in the file, got {points}", distinct.len()))?;
            let got: Vec<(i64, f64)> = t.history(&id, "valid_accuracy").called("history")?.iter().map(|p| (p.step, p.value)).collect();
            ensure(got == accuracy, &format!("{name}'s valid_accuracy"), format!("the file's {accuracy:?}, got {got:?}"))?;
            let run = t.run(&id).called("run")?;
            ensure(run.status == "finished" && run.params.iter().any(|(k, v)| k == "lr" && v.parse::<f64>().is_ok()), &format!("{name}'s run"), format!("finished, with config.json's lr as a parameter; got {run:?}"))?;
        }
        let before = t.runs("bad").called("runs")?.len();
        for (what, text, line) in [
            ("a bad third line", "{\"step\":1,\"loss\":1}\n{\"step\":2,\"loss\":0.5}\n{\"step\":3,\"loss\":null}\n", 3),
            ("a contradiction on line 2", "{\"step\":1,\"epoch\":0}\n{\"step\":1,\"epoch\":1}\n", 2),
        ] {
            let path = dir.join("bad.jsonl");
            std::fs::write(&path, text).called("writing the log")?;
            let msg = expect_err(&format!("a log with {what}"), t.ingest_log(&path, &spec("bad", "b")))?;
            ensure(msg.contains(&format!("line {line}")), &format!("the refusal of {what}"), format!("names line {line}, got: {msg}"))?;
        }
        ensure(t.runs("bad").called("runs")?.len() == before, "refused imports", "leave no run behind")
    }
}

/// A store with a finished run holding a `model.json`, registered `versions` times.
fn registered(name: &str, versions: usize) -> Result<(PathBuf, Tracker), Failure> {
    let dir = scratch(name);
    let mut t = Tracker::open(&dir).called("Tracker::open")?;
    let parent = run_with(&mut t, "m", "base", "acc", &[0.8], false)?;
    for i in 0..versions {
        let p = [("i", i.to_string())];
        let run = t
            .start_run(&RunSpec {
                params: &p,
                parent: Some(&parent),
                data_hash: Some("d1"),
                code_version: Some("c1"),
                ..spec("m", "child")
            })
            .called("start_run")?;
        t.log_artifact(&run, "model.json", format!("model {i}").as_bytes())
            .called("log_artifact")?;
        t.end_run(&run, false).called("end_run")?;
        let v = t.register("churn", &run, "model.json").called("register")?;
        ensure(
            v == i as i64 + 1,
            "register",
            format!("numbers versions 1, 2, …: expected {}, got {v}", i + 1),
        )?;
    }
    Ok((dir, t))
}

check! {
    /// Promotion takes only the staged version, moves production and clears staging in one
    /// step, logged; production cannot be set by hand; lineage names the run, its parent, its
    /// data and code.
    fn promotion_needs_staging(exercise = "promote") {
        let (_dir, mut t) = registered("promote", 2)?;
        expect_err("promoting version 1 with nothing staged", t.promote("churn", 1, "r"))?;
        t.set_alias("churn", STAGING, 2, "r").called("set_alias")?;
        expect_err("promoting version 1 while version 2 is staged", t.promote("churn", 1, "r"))?;
        expect_err("setting production by hand", t.set_alias("churn", PRODUCTION, 1, "r"))?;
        expect_err("promoting version 9", t.promote("churn", 9, "r"))?;
        t.promote("churn", 2, "good").called("promote")?;
        let prod = t.resolve("churn", PRODUCTION).called("resolve")?;
        ensure(prod.version == 2, "production after promote(2)", format!("version 2, got {}", prod.version))?;
        ensure(t.resolve("churn", STAGING).is_err(), "staging after the promotion", "is cleared")?;
        let log = t.alias_history("churn").called("alias_history")?;
        let moves: Vec<(String, String, Option<i64>, i64)> = log.iter().map(|m| (m.alias.clone(), m.kind.clone(), m.from_version, m.to_version)).collect();
        ensure(moves == vec![("staging".into(), "set".into(), None, 2), ("production".into(), "promote".into(), None, 2)], "the alias log", format!("set staging → 2, promote production → 2; got {moves:?}"))?;
        ensure(t.audit_aliases("churn").called("audit_aliases")?.is_empty(), "the audit", "finds the log and the aliases in agreement")?;
        let l = t.lineage("churn", 2).called("lineage")?;
        let parent = t.runs("m").called("runs")?.into_iter().find(|r| r.name == "base").map(|r| r.id);
        ensure(l.parent_run == parent && l.data_hash.as_deref() == Some("d1") && l.code_version.as_deref() == Some("c1") && l.params == vec![("i".to_string(), "1".to_string())], "lineage of version 2", format!("parent run, data d1, code c1, i=1; got {l:?}"))?;
        let running = t.start_run(&spec("m", "unfinished")).called("start_run")?;
        t.log_artifact(&running, "model.json", b"x").called("log_artifact")?;
        expect_err("registering an unfinished run", t.register("churn", &running, "model.json"))?;
        expect_err("registering a missing artifact", t.register("churn", &l.version.run_id, "nope.bin"))?;
        Ok(())
    }
}

check! {
    /// Rollback walks back through the promotions: 1 → 2 → 3, then back to 2, to 1, then
    /// nothing; a promotion after a rollback is undone to where it came from.
    fn rollback_walks_back_the_promotions(exercise = "rollback") {
        let (_dir, mut t) = registered("rollback", 4)?;
        expect_err("rolling back with nothing in production", t.rollback("churn", "r"))?;
        for v in 1..=3 {
            t.set_alias("churn", STAGING, v, "r").called("set_alias")?;
            t.promote("churn", v, "r").called("promote")?;
        }
        for want in [2, 1] {
            let got = t.rollback("churn", "r").called("rollback")?;
            ensure(got == want, "rollback", format!("expected version {want}, got {got}"))?;
            ensure(t.resolve("churn", PRODUCTION).called("resolve")?.version == want, "production after the rollback", format!("version {want}"))?;
        }
        expect_err("rolling back past version 1", t.rollback("churn", "r"))?;
        t.set_alias("churn", STAGING, 4, "r").called("set_alias")?;
        t.promote("churn", 4, "r").called("promote")?;
        let got = t.rollback("churn", "r").called("rollback")?;
        ensure(got == 1, "rollback of 4, promoted while 1 served", format!("back to 1, got {got}"))?;
        ensure(t.audit_aliases("churn").called("audit_aliases")?.is_empty(), "the audit", "finds the log and the aliases in agreement")
    }
}

/// Starts `stress-runs` writing into `store`; returns the child and a thread collecting the ids
/// it reports finished.
fn writer(
    store: &Path,
    runs: u64,
) -> Result<(KillOnDrop, std::thread::JoinHandle<Vec<String>>), Failure> {
    let mut child = KillOnDrop(
        Command::new(BIN)
            .args(["stress-runs", "--store"])
            .arg(store)
            .args(["--steps", "20", "--runs", &runs.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .called("starting a writer")?,
    );
    let out = child
        .0
        .stdout
        .take()
        .ok_or_else(|| Failure::new("writer", "no stdout"))?;
    let reader = std::thread::spawn(move || {
        BufReader::new(out)
            .lines()
            .map_while(Result::ok)
            .filter_map(|l| {
                l.strip_prefix("finished ")
                    .and_then(|r| r.split(' ').next())
                    .map(str::to_string)
            })
            .collect()
    });
    Ok((child, reader))
}

/// Every run of the stress experiment is whole: 3 parameters, steps 1..k of all 3 metrics with
/// the values the writer computes, and, when finished, 20 steps and its artifact.
fn check_stress_store(t: &Tracker) -> Result<(usize, usize), Failure> {
    let (mut finished, mut running) = (0, 0);
    for r in t.runs("stress").called("runs")? {
        ensure(
            r.params.len() == 3,
            "a run's parameters",
            format!("all 3 or none, run {} has {}", r.name, r.params.len()),
        )?;
        let mut steps = None;
        for (k, key) in ["loss", "accuracy", "lr"].iter().enumerate() {
            let h = t.history(&r.id, key).called("history")?;
            for (i, p) in h.iter().enumerate() {
                let want = stress_value(&r.name, k, i as i64 + 1);
                ensure(
                    p.step == i as i64 + 1 && p.value == want,
                    "a logged value",
                    format!(
                        "run {} {key} step {}: expected {want} at step {}, got {p:?}",
                        r.name,
                        i + 1,
                        i + 1
                    ),
                )?;
            }
            ensure(
                steps.is_none_or(|s| s == h.len()),
                "a run's steps",
                format!(
                    "run {}: every metric has as many steps (whole batches)",
                    r.name
                ),
            )?;
            steps = Some(h.len());
        }
        match r.status.as_str() {
            "finished" => {
                ensure(
                    steps == Some(20),
                    "a finished run",
                    format!("run {} has {steps:?} steps, not 20", r.name),
                )?;
                let blob = t
                    .read_artifact(&r.id, "model.bin")
                    .called("read_artifact")?;
                ensure(blob.len() == 65_536, "a finished run's artifact", "64 KiB")?;
                finished += 1;
            }
            "running" => running += 1,
            s => {
                return Err(Failure::new(
                    "a run's status",
                    format!("{s} for run {}", r.name),
                ));
            }
        }
    }
    Ok((finished, running))
}

/// The value `stress-runs` logs (src/commands.rs), recomputed.
fn stress_value(run_name: &str, key: usize, step: i64) -> f64 {
    let seed: u64 = run_name
        .bytes()
        .fold(7, |h, b| h.wrapping_mul(31).wrapping_add(b.into()));
    (seed % 1000) as f64 + key as f64 * 0.25 + step as f64 / 1024.0
}

check! {
    /// A writer SIGKILLed 25 times at pseudo-random instants: every run it reported finished is
    /// there, whole; every other run has whole steps; SQLite's integrity check and every blob's
    /// hash hold.
    fn sigkill_loses_no_committed_run(exercise = "log_metrics", timeout_s = 300) {
        let dir = scratch("kill");
        let mut rng = wb_data::SplitMix64::new(2026);
        let mut reported = Vec::new();
        for _ in 0..25 {
            let (mut child, reader) = writer(&dir, 0)?;
            std::thread::sleep(Duration::from_millis(20 + rng.next_u64() % 250));
            child.0.kill().called("SIGKILL")?;
            child.0.wait().called("wait")?;
            reported.extend(reader.join().unwrap_or_default());
        }
        ensure(!reported.is_empty(), "the writers", "finished some runs before being killed")?;
        let t = Tracker::open(&dir).called("reopening the store")?;
        let problems = t.verify().called("verify")?;
        ensure(problems.is_empty(), "verify after the kills", format!("{problems:?}"))?;
        let (finished, running) = check_stress_store(&t)?;
        for id in &reported {
            let r = t.run(id).called("a reported run")?;
            ensure(r.status == "finished", "a reported run", format!("{id} is {}", r.status))?;
        }
        ensure(finished >= reported.len() && running <= 25, "after 25 kills", format!("{} reported finished, {finished} finished and {running} running found", reported.len()))
    }
}

check! {
    /// Four processes write 8 runs each into one store at once: all 32 are there, whole.
    fn concurrent_writers_lose_nothing(exercise = "log_metrics", timeout_s = 300) {
        let dir = scratch("concurrent");
        Tracker::open(&dir).called("creating the store")?;
        let writers = (0..4).map(|_| writer(&dir, 8)).collect::<Result<Vec<_>, _>>()?;
        let mut reported = 0;
        for (mut child, reader) in writers {
            let status = child.0.wait().called("wait")?;
            ensure(status.success(), "a concurrent writer", format!("exited with {status}"))?;
            reported += reader.join().unwrap_or_default().len();
        }
        let t = Tracker::open(&dir).called("reopening the store")?;
        let (finished, running) = check_stress_store(&t)?;
        ensure(reported == 32 && finished == 32 && running == 0, "4 writers × 8 runs", format!("{reported} reported, {finished} finished, {running} running"))?;
        let (_, _, points, _) = t.counts().called("counts")?;
        ensure(points == 32 * 60, "metric points", format!("32 runs × 20 steps × 3 = 1920, got {points}"))
    }
}

check! {
    /// Four processes stage, promote and roll back one model 40 times each at once: the alias
    /// log replays exactly to the aliases, and it holds one row per move each process made.
    fn concurrent_promotions_stay_consistent(exercise = "promote", timeout_s = 300) {
        let (dir, t) = registered("race", 5)?;
        drop(t);
        let mut children = Vec::new();
        for seed in 1..=4 {
            children.push(KillOnDrop(
                Command::new(BIN)
                    .args(["stress-registry", "--store"])
                    .arg(&dir)
                    .args(["--model", "churn", "--moves", "40", "--seed", &seed.to_string()])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .called("starting a promoter")?,
            ));
        }
        let (mut promoted, mut rolled) = (0usize, 0usize);
        for mut c in children {
            let (mut text, mut err) = (String::new(), String::new());
            if let Some(mut o) = c.0.stdout.take() {
                o.read_to_string(&mut text).called("reading a promoter's output")?;
            }
            if let Some(mut e) = c.0.stderr.take() {
                e.read_to_string(&mut err).called("reading a promoter's errors")?;
            }
            let status = c.0.wait().called("wait")?;
            ensure(status.success(), "a promoter", format!("exited with {status}: {err}"))?;
            let n: Vec<usize> = text.split_whitespace().filter_map(|w| w.parse().ok()).collect();
            ensure(n.len() == 3, "a promoter's summary", format!("promoted, rolled back, refused: got {text:?}"))?;
            promoted += n[0];
            rolled += n[1];
        }
        let t = Tracker::open(&dir).called("reopening the store")?;
        let problems = t.audit_aliases("churn").called("audit_aliases")?;
        ensure(problems.is_empty(), "the alias log after the race", format!("{problems:?}"))?;
        let log = t.alias_history("churn").called("alias_history")?;
        let (p, r) = (log.iter().filter(|m| m.kind == "promote").count(), log.iter().filter(|m| m.kind == "rollback").count());
        ensure(p == promoted && r == rolled && promoted > 0, "the alias log's rows", format!("{promoted} promotions and {rolled} rollbacks reported, {p} and {r} logged"))
    }
}
