//! The `track` and `registry` subcommands: the store for real, from the shell (as `mlflow runs`
//! and `mlflow models` do), and the writers the grader kills and races.

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use std::path::PathBuf;
use week26_tracking_registry::TrackError;
use week26_tracking_registry::store::{Goal, RunSpec, Tracker};

/// Where the store lives unless `--store` says otherwise.
pub const DEFAULT_STORE: &str = "output/week26-tracking-registry/store";

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Experiment tracking: runs, metrics, artifacts
    Track {
        #[arg(long, default_value = DEFAULT_STORE, env = "TRACKING_STORE")]
        store: PathBuf,
        #[command(subcommand)]
        what: Track,
    },
    /// The model registry: versions, aliases, promotion, rollback, lineage
    Registry {
        #[arg(long, default_value = DEFAULT_STORE, env = "TRACKING_STORE")]
        store: PathBuf,
        #[command(subcommand)]
        what: Registry,
    },
    /// For the checks: writes runs without end, printing each run's id once it is finished
    #[command(hide = true)]
    StressRuns {
        #[arg(long)]
        store: PathBuf,
        /// Steps per run (3 metrics each, one transaction per step)
        #[arg(long, default_value_t = 20)]
        steps: i64,
        /// Runs to write (0: until killed)
        #[arg(long, default_value_t = 0)]
        runs: u64,
        #[arg(long, default_value = "stress")]
        experiment: String,
    },
    /// For bench/compare_tracking.sh: logs POINTS values of one metric into a new run, BATCH
    /// points per transaction, and prints the seconds it took as JSON
    #[command(hide = true)]
    BenchLog {
        #[arg(long)]
        store: PathBuf,
        #[arg(long, default_value_t = 100_000)]
        points: i64,
        #[arg(long, default_value_t = 1000)]
        batch: usize,
    },
    /// For the checks: random stagings, promotions and rollbacks of one model
    #[command(hide = true)]
    StressRegistry {
        #[arg(long)]
        store: PathBuf,
        #[arg(long)]
        model: String,
        #[arg(long, default_value_t = 50)]
        moves: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum Track {
    /// The runs of an experiment, with their parameters and latest metrics
    Runs { experiment: String },
    /// One run: parameters, lineage, metrics' latest values, artifacts
    Show { run: String },
    /// Runs side by side: the parameters that differ, each run's latest metrics
    Compare {
        #[arg(required = true, num_args = 2..)]
        runs: Vec<String>,
    },
    /// Sets a tag of a run (a note, a review status)
    Tag {
        run: String,
        key: String,
        value: String,
    },
    /// The finished run whose latest value of a metric is best
    Best {
        experiment: String,
        metric: String,
        /// Smaller is better (a loss)
        #[arg(long)]
        min: bool,
    },
    /// Imports a wb-train metrics log (JSON lines) as a finished run
    Ingest {
        log: PathBuf,
        #[arg(long)]
        experiment: String,
        #[arg(long)]
        name: String,
    },
    /// Imports a week 14 run folder (config.json, metrics.jsonl, other files as artifacts)
    ImportRun {
        dir: PathBuf,
        #[arg(long)]
        experiment: String,
    },
    /// Checks the database and every artifact against its hash
    Verify,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Registry {
    /// Registers a run's artifact as the next version of a model
    Register {
        model: String,
        #[arg(long)]
        run: String,
        #[arg(long, default_value = "model.json")]
        artifact: String,
    },
    /// Versions and aliases of a model
    Versions { model: String },
    /// Points an alias (staging, challenger…) at a version
    Alias {
        model: String,
        alias: String,
        version: i64,
    },
    /// Promotes the staged version to production
    Promote { model: String, version: i64 },
    /// Puts production back on the version before the last promotion
    Rollback { model: String },
    /// Where a version came from
    Lineage { model: String, version: i64 },
}

pub fn run(command: Command) -> Result<()> {
    match command {
        Command::Track { store, what } => track(&mut open(&store)?, what),
        Command::Registry { store, what } => registry(&mut open(&store)?, what),
        Command::StressRuns {
            store,
            steps,
            runs,
            experiment,
        } => stress_runs(&store, steps, runs, &experiment),
        Command::StressRegistry {
            store,
            model,
            moves,
            seed,
        } => stress_registry(&store, &model, moves, seed),
        Command::BenchLog {
            store,
            points,
            batch,
        } => bench_log(&store, points, batch),
    }
}

fn open(store: &std::path::Path) -> Result<Tracker> {
    Tracker::open(store).with_context(|| format!("--store {}", store.display()))
}

fn track(t: &mut Tracker, what: Track) -> Result<()> {
    match what {
        Track::Runs { experiment } => {
            let runs = t.runs(&experiment)?;
            if runs.is_empty() {
                bail!("experiment {experiment:?} has no runs");
            }
            for r in runs {
                let params: Vec<String> =
                    r.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
                println!(
                    "{}  {:<9} {:<24} {}",
                    r.id,
                    r.status,
                    r.name,
                    params.join(" ")
                );
            }
        }
        Track::Show { run } => {
            let r = t.run(&run)?;
            println!("{}", serde_json::to_string_pretty(&r)?);
            for (key, values) in t.compare(&[&run])?.latest {
                if let Some(v) = values[0] {
                    println!("{key}: {v} (latest)");
                }
            }
        }
        Track::Compare { runs } => {
            let ids: Vec<&str> = runs.iter().map(String::as_str).collect();
            let c = t.compare(&ids)?;
            println!("{:<20} {}", "", c.runs.join(" | "));
            for (k, values) in &c.differing_params {
                let v: Vec<String> = values
                    .iter()
                    .map(|v| v.clone().unwrap_or_else(|| "—".into()))
                    .collect();
                println!("{k:<20} {}", v.join(" | "));
            }
            for (k, values) in &c.latest {
                let v: Vec<String> = values
                    .iter()
                    .map(|v| v.map_or("—".into(), |x| format!("{x:.4}")))
                    .collect();
                println!("{k:<20} {}", v.join(" | "));
            }
        }
        Track::Tag { run, key, value } => t.set_tag(&run, &key, &value)?,
        Track::Best {
            experiment,
            metric,
            min,
        } => {
            let goal = if min { Goal::Min } else { Goal::Max };
            match t.best_run(&experiment, &metric, goal)? {
                Some((run, value)) => println!("{run} {metric} = {value}"),
                None => bail!("no finished run of {experiment:?} logged {metric:?}"),
            }
        }
        Track::Ingest {
            log,
            experiment,
            name,
        } => {
            let (id, points) = t.ingest_log(
                &log,
                &RunSpec {
                    experiment: &experiment,
                    name: &name,
                    ..RunSpec::default()
                },
            )?;
            println!("{id}: {points} metric points from {}", log.display());
        }
        Track::ImportRun { dir, experiment } => {
            let (id, points) = t.import_run_dir(&dir, &experiment)?;
            println!("{id}: {points} metric points from {}", dir.display());
        }
        Track::Verify => {
            let problems = t.verify()?;
            let leftovers = t.leftover_tmp()?;
            let (e, r, m, a) = t.counts()?;
            println!(
                "{e} experiments, {r} runs, {m} metric points, {a} artifacts; {} temporary blobs left by killed writers",
                leftovers.len()
            );
            if !problems.is_empty() {
                bail!("{} problems:\n{}", problems.len(), problems.join("\n"));
            }
            println!("no problems");
        }
    }
    Ok(())
}

fn registry(t: &mut Tracker, what: Registry) -> Result<()> {
    match what {
        Registry::Register {
            model,
            run,
            artifact,
        } => println!("{model} version {}", t.register(&model, &run, &artifact)?),
        Registry::Versions { model } => {
            let versions = t.versions(&model)?;
            if versions.is_empty() {
                bail!("no model called {model:?}");
            }
            for v in versions {
                let aliases: Vec<String> = ["staging", "production"]
                    .iter()
                    .filter(|a| t.resolve(&model, a).is_ok_and(|r| r.version == v.version))
                    .map(|a| a.to_string())
                    .collect();
                println!(
                    "{model} v{}  run {}  {}  {}",
                    v.version,
                    v.run_id,
                    &v.sha256[..12],
                    aliases.join(",")
                );
            }
        }
        Registry::Alias {
            model,
            alias,
            version,
        } => t.set_alias(&model, &alias, version, "from the command line")?,
        Registry::Promote { model, version } => {
            t.promote(&model, version, "from the command line")?;
            println!("{model}: production is version {version}");
        }
        Registry::Rollback { model } => {
            let v = t.rollback(&model, "from the command line")?;
            println!("{model}: production is back on version {v}");
        }
        Registry::Lineage { model, version } => {
            println!(
                "{}",
                serde_json::to_string_pretty(&t.lineage(&model, version)?)?
            );
        }
    }
    Ok(())
}

/// The value every stress run logs for `key` at `step`: the checks recompute it.
pub fn stress_value(run_name: &str, key: usize, step: i64) -> f64 {
    let seed: u64 = run_name
        .bytes()
        .fold(7, |h, b| h.wrapping_mul(31).wrapping_add(b.into()));
    (seed % 1000) as f64 + key as f64 * 0.25 + step as f64 / 1024.0
}

fn stress_runs(store: &std::path::Path, steps: i64, runs: u64, experiment: &str) -> Result<()> {
    let mut t = open(store)?;
    let keys = ["loss", "accuracy", "lr"];
    let pid = std::process::id();
    let mut i = 0u64;
    while runs == 0 || i < runs {
        let name = format!("p{pid}-r{i}");
        let params = [
            ("i", i.to_string()),
            ("pid", pid.to_string()),
            ("steps", steps.to_string()),
        ];
        let run = t.start_run(&RunSpec {
            experiment,
            name: &name,
            params: &params,
            ..RunSpec::default()
        })?;
        for step in 1..=steps {
            let batch: Vec<(&str, i64, f64)> = keys
                .iter()
                .enumerate()
                .map(|(k, key)| (*key, step, stress_value(&name, k, step)))
                .collect();
            t.log_metrics(&run, &batch)?;
        }
        // 64 KiB, named by the run: a killed write leaves a .tmp file, never a wrong blob.
        let blob: Vec<u8> = name.bytes().cycle().take(65_536).collect();
        t.log_artifact(&run, "model.bin", &blob)?;
        t.end_run(&run, false)?;
        println!("finished {run} {name}");
        i += 1;
    }
    Ok(())
}

fn stress_registry(store: &std::path::Path, model: &str, moves: u64, seed: u64) -> Result<()> {
    let mut t = open(store)?;
    let versions = t.versions(model)?.len() as u64;
    if versions == 0 {
        bail!("no model called {model:?}");
    }
    let mut rng = wb_data::SplitMix64::new(seed);
    let (mut promoted, mut rolled, mut refused) = (0, 0, 0);
    for _ in 0..moves {
        let v = (rng.next_u64() % versions) as i64 + 1;
        let outcome = match rng.next_u64() % 3 {
            0 => t.rollback(model, "stress").map(|_| rolled += 1),
            _ => t
                .set_alias(model, "staging", v, "stress")
                .and_then(|()| t.promote(model, v, "stress"))
                .map(|()| promoted += 1),
        };
        match outcome {
            Ok(()) => {}
            // Another writer moved staging in between, or there is nothing to roll back: the
            // registry refuses, and nothing changes.
            Err(TrackError::Invalid(_)) => refused += 1,
            Err(e) => return Err(e.into()),
        }
    }
    println!("promoted {promoted} rolled back {rolled} refused {refused}");
    Ok(())
}

fn bench_log(store: &std::path::Path, points: i64, batch: usize) -> Result<()> {
    let mut t = open(store)?;
    let run = t.start_run(&RunSpec {
        experiment: "bench",
        name: &format!("{points} points, batches of {batch}"),
        ..RunSpec::default()
    })?;
    let steps: Vec<i64> = (0..points).collect();
    let start = std::time::Instant::now();
    for chunk in steps.chunks(batch.max(1)) {
        let b: Vec<(&str, i64, f64)> = chunk
            .iter()
            .map(|&s| ("loss", s, 1.0 / (s + 1) as f64))
            .collect();
        t.log_metrics(&run, &b)?;
    }
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({"points": points, "batch": batch, "seconds": seconds})
    );
    Ok(())
}
