//! The lab's demonstration: every part of the store used for real, then attacked.

use crate::Args;
use crate::report::*;
use anyhow::{Context, Result};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use wb_lab::Lab;
use week26_tracking_registry::registry::{PRODUCTION, STAGING};
use week26_tracking_registry::store::{Goal, RunSpec, Tracker};
use week26_tracking_registry::sweep::{self, Config};

const OUT: &str = "output/week26-tracking-registry";
/// The sweep's grid.
const LRS: [f64; 3] = [0.01, 0.1, 1.0];
const L2S: [f64; 2] = [0.0, 0.01];
const MODEL: &str = "cancer-classifier";

/// Removes and recreates a scratch folder of the demo.
fn fresh(dir: &Path) -> Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
}

pub fn run(cli: &Args, lab: &mut Lab) -> Result<Report> {
    let out = PathBuf::from(OUT);
    let store_dir = out.join("store");
    fresh(&store_dir)?;
    let mut t = Tracker::open(&store_dir)?;

    // 1. A sweep, tracked live. -----------------------------------------------------------------
    let data = sweep::load(26)?;
    let experiment = "breast-cancer-logreg";
    let mut sweep_rows = Vec::new();
    lab.timed("sweep", || -> Result<()> {
        for &lr in &LRS {
            for &l2 in &L2S {
                let cfg = Config {
                    lr,
                    l2,
                    epochs: 30,
                    batch: 32,
                    seed: 26,
                };
                sweep::train_run(&mut t, experiment, &data, cfg, None)?;
            }
        }
        Ok(())
    })?;
    // The runs side by side, as MLflow's compare view: what differs, and where each ended.
    let runs = t.runs(experiment)?;
    let ids: Vec<&str> = runs.iter().map(|r| r.id.as_str()).collect();
    let compared = t.compare(&ids)?;
    let latest = |key: &str, i: usize| {
        compared
            .latest
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v[i])
            .unwrap_or(f64::NAN)
    };
    for (i, run) in runs.iter().enumerate() {
        let valid = t.history(&run.id, "valid_loss")?;
        let best = valid
            .iter()
            .min_by(|a, b| a.value.total_cmp(&b.value))
            .map_or(0, |p| p.step);
        sweep_rows.push(SweepRow {
            run: run.id.clone(),
            name: run.name.clone(),
            train_loss: latest("train_loss", i),
            valid_loss: latest("valid_loss", i),
            valid_accuracy: latest("valid_accuracy", i),
            best_epoch: best,
            curve: valid.iter().map(|p| (p.step as f64, p.value)).collect(),
        });
    }
    let differing: Vec<String> = compared
        .differing_params
        .iter()
        .map(|(k, _)| k.clone())
        .collect();
    let (best_run, best_loss) = t
        .best_run(experiment, "valid_loss", Goal::Min)?
        .context("the sweep logged no valid_loss")?;
    let best_name = t.run(&best_run)?.name;
    t.set_tag(&best_run, "selected", "best valid_loss of the sweep")?;

    // 2. What earlier labs wrote: week 14's run folders. -------------------------------------------
    let week14 = Path::new(env!("CARGO_MANIFEST_DIR")).join("runs/week14");
    let mut imported = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&week14)
        .with_context(|| format!("reading {}", week14.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for dir in &dirs {
        let (id, points) = t.import_run_dir(dir, "week14-training-loops")?;
        let acc = t.history(&id, "valid_accuracy")?;
        imported.push(Imported {
            name: t.run(&id)?.name,
            points,
            epochs: acc.len(),
            best_valid_accuracy: acc.iter().map(|p| p.value).fold(f64::NAN, f64::max),
            curve: acc.iter().map(|p| (p.step as f64, p.value)).collect(),
        });
    }
    let week14_best = t
        .best_run("week14-training-loops", "valid_accuracy", Goal::Max)?
        .map(|(id, v)| Ok::<_, anyhow::Error>((t.run(&id)?.name, v)))
        .transpose()?;

    // 3. Refusals: each leaves the store as it was. ------------------------------------------------
    let before = t.counts()?;
    let mut refusals = Vec::new();
    let bad_log = out.join("bad-metrics.jsonl");
    std::fs::write(
        &bad_log,
        "{\"step\": 1, \"epoch\": 0, \"loss\": 0.9}\n{\"step\": 2, \"epoch\": 0, \"loss\": 0.7}\n{\"step\": 3, \"epoch\": 0, \"loss\": \"NaN\"}\n",
    )?;
    let spec = RunSpec {
        experiment: "imports",
        name: "bad log",
        ..RunSpec::default()
    };
    refusals.push(refusal(
        "a metrics log with a bad third line",
        t.ingest_log(&bad_log, &spec),
    ));
    refusals.push(refusal("an unknown run id", t.run("0123abcd")));
    let mut finished = refusal(
        "metrics for a finished run",
        t.log_metrics(&best_run, &[("valid_loss", 99, 0.1)]),
    );
    // Run ids are random (as MLflow's): the report names the run instead.
    finished.message = finished
        .message
        .replace(&best_run, &format!("\"{best_name}\""));
    refusals.push(finished);
    refusals.push(refusal(
        "an artifact path leaving the run",
        t.log_artifact(&best_run, "../../etc/passwd", b"x"),
    ));
    let garbage = out.join("not-a-store");
    fresh(&garbage)?;
    std::fs::write(garbage.join("tracking.sqlite"), vec![0x5a; 8192])?;
    refusals.push(refusal(
        "a file that is not a database",
        Tracker::open(&garbage).map(|_| ()),
    ));
    // A blob changed on disk after it was stored.
    let scratch = out.join("tampered");
    fresh(&scratch)?;
    let mut s = Tracker::open(&scratch)?;
    let r = s.start_run(&RunSpec {
        experiment: "e",
        name: "r",
        ..RunSpec::default()
    })?;
    let sha = s.log_artifact(&r, "model.json", b"{\"weights\": [0.5, -1.25]}")?;
    std::fs::write(s.blob_path(&sha), b"{\"weights\": [0.5, -1.26]}")?;
    refusals.push(refusal(
        "reading an artifact whose blob was changed",
        s.read_artifact(&r, "model.json"),
    ));
    let tamper_found = s.verify()?.len();
    let unchanged = t.counts()? == before;

    // 4. The registry. ---------------------------------------------------------------------------
    let v1 = t.register(MODEL, &best_run, "model.json")?;
    t.set_alias(MODEL, STAGING, v1, "best of the sweep")?;
    t.promote(MODEL, v1, &format!("valid_loss {best_loss:.4}"))?;
    // A retrain: the best configuration for longer, as a child of the best run.
    let best_cfg = t.run(&best_run)?;
    let lr: f64 = param(&best_cfg.params, "lr")?;
    let l2: f64 = param(&best_cfg.params, "l2")?;
    let child = sweep::train_run(
        &mut t,
        experiment,
        &data,
        Config {
            lr,
            l2,
            epochs: 60,
            batch: 32,
            seed: 27,
        },
        Some(&best_run),
    )?;
    let v2 = t.register(MODEL, &child, "model.json")?;
    refusals.push(refusal(
        "promoting a version that is not in staging",
        t.promote(MODEL, v2, "skip staging"),
    ));
    refusals.push(refusal(
        "moving `production` by hand",
        t.set_alias(MODEL, PRODUCTION, v2, "by hand"),
    ));
    t.set_alias(MODEL, STAGING, v2, "retrained for 60 epochs")?;
    t.promote(MODEL, v2, "passed the offline gate")?;
    let rolled = t.rollback(MODEL, "latency alarm after the release")?;
    refusals.push(refusal(
        "rolling back past the first version",
        t.rollback(MODEL, "again"),
    ));
    let lineage = t.lineage(MODEL, v2)?;
    let serving = t.resolve(MODEL, PRODUCTION)?;
    let model_bytes = t.read_blob(&serving.sha256)?;
    let served: sweep::Model = serde_json::from_slice(&model_bytes)?;
    let (_, served_accuracy) = served.score(&data.valid_x, &data.valid_y);
    let registry = RegistryReport {
        model: MODEL.to_string(),
        versions: t.versions(MODEL)?.len(),
        production: serving.version,
        rolled_back_to: rolled,
        served_accuracy,
        history: t.alias_history(MODEL)?,
        parent_name: lineage
            .parent_run
            .as_deref()
            .map(|p| t.run(p).map(|r| r.name))
            .transpose()?,
        lineage,
        audit_problems: t.audit_aliases(MODEL)?.len(),
    };

    // 5. Killed writers. -------------------------------------------------------------------------
    let kills = lab.timed("kills", || kill_writers(&out.join("killed"), cli.kills))?;

    // 6. How fast it logs. -----------------------------------------------------------------------
    let speed = lab.timed("speed", || logging_speed(&out.join("speed"), cli.points))?;

    let (experiments, runs, points, artifacts) = t.counts()?;
    let report = Report {
        experiment: experiment.to_string(),
        sweep: sweep_rows,
        differing,
        best_tags: t.run(&best_run)?.tags,
        best: (best_name, best_loss),
        imported,
        week14_best,
        refusals,
        store_unchanged_by_refusals: unchanged,
        tamper_found,
        registry,
        kills,
        speed,
        totals: (experiments, runs, points, artifacts),
        problems: t.verify()?.len(),
    };
    crate::report::plots(lab, &report)?;
    Ok(report)
}

fn param(params: &[(String, String)], key: &str) -> Result<f64> {
    params
        .iter()
        .find(|(k, _)| k == key)
        .with_context(|| format!("the run has no parameter {key}"))?
        .1
        .parse()
        .with_context(|| format!("parameter {key}"))
}

/// The error message of what must be refused (or a note that it was not).
fn refusal<T>(what: &str, r: week26_tracking_registry::Result<T>) -> Refusal {
    Refusal {
        what: what.to_string(),
        message: match r {
            Err(e) => e.to_string(),
            Ok(_) => "NOT REFUSED".to_string(),
        },
    }
}

/// Starts a writer of endless runs, kills it (SIGKILL) after a pseudo-random 30–330 ms, `kills`
/// times on one store, then checks what the store holds against what the writers reported.
pub fn kill_writers(store: &Path, kills: usize) -> Result<Kills> {
    fresh(store)?;
    let exe = std::env::current_exe()?;
    let mut rng = wb_data::SplitMix64::new(26);
    let mut reported = Vec::new();
    for _ in 0..kills {
        let mut child = Command::new(&exe)
            .args(["stress-runs", "--store"])
            .arg(store)
            .args(["--steps", "20"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting a writer")?;
        let stdout = child.stdout.take().context("the writer's stdout")?;
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(std::result::Result::ok)
                .filter_map(|l| {
                    l.strip_prefix("finished ")
                        .map(|r| r.split(' ').next().unwrap_or("").to_string())
                })
                .collect::<Vec<String>>()
        });
        std::thread::sleep(Duration::from_millis(30 + rng.next_u64() % 300));
        child.kill()?;
        child.wait()?;
        reported.extend(reader.join().unwrap_or_default());
    }
    let t = Tracker::open(store)?;
    let runs = t.runs("stress")?;
    let mut finished = 0;
    let mut unfinished = 0;
    let mut half_written = 0;
    for r in &runs {
        let steps = t.history(&r.id, "loss")?.len();
        let whole = r.params.len() == 3
            && ["loss", "accuracy", "lr"]
                .iter()
                .all(|k| t.history(&r.id, k).is_ok_and(|h| h.len() == steps));
        match r.status.as_str() {
            "finished" if whole && steps == 20 && t.read_artifact(&r.id, "model.bin").is_ok() => {
                finished += 1
            }
            "running" if whole => unfinished += 1,
            _ => half_written += 1,
        }
    }
    let lost = reported
        .iter()
        .filter(|id| !runs.iter().any(|r| &r.id == *id && r.status == "finished"))
        .count();
    Ok(Kills {
        kills,
        reported: reported.len(),
        finished,
        unfinished,
        half_written,
        lost,
        problems: t.verify()?.len(),
        leftover_tmp: t.leftover_tmp()?.len(),
    })
}

/// Logs `points` values of one metric in batches of 1,000 (one transaction each) and 1,000
/// values one transaction each, on a fresh store.
fn logging_speed(store: &Path, points: usize) -> Result<Speed> {
    fresh(store)?;
    let mut t = Tracker::open(store)?;
    let spec = RunSpec {
        experiment: "speed",
        name: "batched",
        ..RunSpec::default()
    };
    let run = t.start_run(&spec)?;
    let start = Instant::now();
    let steps: Vec<i64> = (0..points as i64).collect();
    for chunk in steps.chunks(1000) {
        let batch: Vec<(&str, i64, f64)> = chunk
            .iter()
            .map(|&s| ("loss", s, 1.0 / (s + 1) as f64))
            .collect();
        t.log_metrics(&run, &batch)?;
    }
    let batched = start.elapsed().as_secs_f64();
    let one = t.start_run(&RunSpec {
        name: "one by one",
        ..spec
    })?;
    let singles = 1000.min(points);
    let start = Instant::now();
    for s in 0..singles as i64 {
        t.log_metrics(&one, &[("loss", s, 1.0 / (s + 1) as f64)])?;
    }
    let single = start.elapsed().as_secs_f64();
    Ok(Speed {
        points,
        batched_per_second: points as f64 / batched,
        singles,
        single_per_second: singles as f64 / single,
    })
}
