//! The lab end to end: the pipeline on a fresh store, the workflow checked, the canary simulated
//! and run over HTTP.

use crate::Args;
use crate::report::{CanaryRun, GateRow, Report, Scenario, ShareRow, WorkflowStep};
use anyhow::Result;
use clap::Parser;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use wb_lab::Lab;
use week26_tracking_registry::Tracker;
use week28_cicd_canary::canary::{self, Behaviour, Policy};
use week28_cicd_canary::pipeline::{self, MODEL};
use week28_cicd_canary::proxy::{self, Faults, Rollout};
use week28_cicd_canary::workflow;

pub fn run(cli: &Args, lab: &mut Lab) -> Result<Report> {
    // 1. The pipeline, on a store made afresh.
    let store = lab.plots_dir().join("demo-store");
    let _ = std::fs::remove_dir_all(&store);
    let mut t = Tracker::open(&store)?;
    let (production, noise, retrain, gates) = lab.timed("pipeline", || -> Result<_> {
        let production = pipeline::bootstrap(&mut t)?;
        let losses = (1..=8u64)
            .map(|s| {
                Ok(pipeline::train(
                    &mut t,
                    &pipeline::data(0.0, s)?,
                    pipeline::production_config(s),
                )?
                .valid_loss)
            })
            .collect::<Result<Vec<f64>>>()?;
        let noise = pipeline::noise(&losses)?;
        let mut gates = Vec::new();
        for (i, plant) in [0.0, 0.05, 0.1, 0.2, 0.3].into_iter().enumerate() {
            let seed = 101 + i as u64;
            let c = pipeline::train(
                &mut t,
                &pipeline::data(plant, seed)?,
                pipeline::production_config(seed),
            )?;
            let g = pipeline::gate(&t, &c, &noise)?;
            gates.push(GateRow {
                plant,
                seed,
                loss: c.valid_loss,
                accuracy: c.valid_accuracy,
                delta: g.candidate_loss - g.production_loss,
                passed: g.passed,
                run: c.run,
            });
        }
        let retrain = gates[0].clone();
        Ok((production, noise, retrain, gates))
    })?;
    let candidate = pipeline::Candidate {
        run: retrain.run.clone(),
        valid_loss: retrain.loss,
        valid_accuracy: retrain.accuracy,
    };
    let staged = pipeline::register(&mut t, &candidate)?;

    // 2. The workflow: every lab command in it parses as the lab's CLI parses it.
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows/ml-pipeline.yml");
    let wf = workflow::parse(&std::fs::read_to_string(&path)?)?;
    let steps: Vec<WorkflowStep> = wf
        .steps
        .iter()
        .map(|s| {
            let parsed = s
                .run
                .as_deref()
                .and_then(|r| workflow::lab_args(r, "week28-cicd-canary"))
                .map(|args| {
                    let mut argv = vec!["week28-cicd-canary".to_string()];
                    argv.extend(args.into_iter().map(|a| {
                        if a.starts_with('$') {
                            "0".to_string()
                        } else {
                            a
                        }
                    }));
                    Args::try_parse_from(&argv).is_ok()
                });
            WorkflowStep {
                name: s.name.clone(),
                kind: if s.run.is_some() { "run" } else { "uses" }.into(),
                lab_command: parsed,
                condition: s.condition.clone(),
            }
        })
        .collect();

    // 3. The split, and rollouts simulated.
    let policy = Policy::default();
    let buckets: Vec<u64> = (0..100_000)
        .map(|u| canary::bucket("week28", &format!("user-{u}")))
        .collect();
    let shares: Vec<ShareRow> = policy.steps_bp[..3]
        .iter()
        .map(|&bp| {
            let n = buckets.iter().filter(|&&b| b < bp).count();
            let p = bp as f64 / 1e4;
            ShareRow {
                canary_bp: bp,
                canary_users: n,
                expected: p * 1e5,
                sd: (1e5 * p * (1.0 - p)).sqrt(),
            }
        })
        .collect();
    let stable = Behaviour {
        error_rate: 0.01,
        median_ms: 20.0,
        sigma: 0.5,
        extra_ms: 0.0,
    };
    let population = &buckets[..20_000];
    let scenarios = lab.timed("simulation", || -> Result<Vec<Scenario>> {
        let mut out = Vec::new();
        let mut cases: Vec<(String, f64, Behaviour, usize)> =
            vec![("identical".into(), 0.0, stable, cli.rollouts)];
        for extra in [0.005, 0.01, 0.02, 0.04] {
            cases.push((
                "errors".into(),
                100.0 * extra,
                Behaviour {
                    error_rate: stable.error_rate + extra,
                    ..stable
                },
                cli.rollouts / 2,
            ));
        }
        for ms in [1.0, 3.0, 5.0, 10.0] {
            cases.push((
                "latency".into(),
                ms,
                Behaviour {
                    extra_ms: ms,
                    ..stable
                },
                cli.rollouts / 2,
            ));
        }
        for (kind, size, behaviour, n) in cases {
            let n = n.max(1);
            let (mut rolled, mut canary_requests, mut at_first) = (0, 0u64, 0);
            for seed in 0..n as u64 {
                let r =
                    canary::simulate(&policy, &stable, &behaviour, population, 1_000 * seed + 7)?;
                if !r.promoted {
                    rolled += 1;
                    if r.steps.len() == 1 {
                        at_first += 1;
                    }
                }
                canary_requests += r.canary_requests;
            }
            out.push(Scenario {
                kind,
                size,
                rollouts: n,
                rolled_back: rolled as f64 / n as f64,
                at_first_step: at_first,
                mean_canary_requests: canary_requests as f64 / n as f64,
            });
        }
        Ok(out)
    })?;

    // 4. Over HTTP: production (v1) and staging (v2) behind the canary router.
    let v1 = pipeline::load_model(&t, &t.resolve(MODEL, "production")?.run_id)?;
    let v2 = pipeline::load_model(&t, &t.resolve(MODEL, "staging")?.run_id)?;
    let data = pipeline::data(0.0, 0)?;
    let rows: Vec<Vec<f64>> = data
        .valid_x
        .rows()
        .into_iter()
        .map(|r| r.to_vec())
        .collect();
    let http_policy = Policy {
        min_canary_requests: 100,
        ..Policy::default()
    };
    let runtime = tokio::runtime::Runtime::new()?;
    let mut runs = Vec::new();
    for (name, faults) in [
        (
            "healthy v2",
            Faults {
                error_rate: 0.0,
                extra_ms: 0,
            },
        ),
        (
            "v2 failing 5 % of requests",
            Faults {
                error_rate: 0.05,
                extra_ms: 0,
            },
        ),
        (
            "v2 slower by 10 ms",
            Faults {
                error_rate: 0.0,
                extra_ms: 10,
            },
        ),
    ] {
        let run = lab.timed("http", || {
            runtime.block_on(http_rollout(
                &v1,
                &v2,
                production,
                staged,
                faults,
                &http_policy,
                &rows,
            ))
        })?;
        runs.push(CanaryRun {
            name: name.into(),
            ..run
        });
    }
    drop(runtime);
    // The healthy canary reached 100 %: the registry makes it production.
    if runs[0].promoted {
        t.promote(
            MODEL,
            staged,
            "canary reached 100 % with errors and latency held",
        )?;
    }
    let production_after = t.resolve(MODEL, "production")?.version;

    let report = Report {
        production_version: production,
        noise,
        gates,
        staged_version: staged,
        production_after,
        workflow: wf.name.clone(),
        steps,
        policy,
        shares,
        scenarios,
        runs,
        pipeline_ms: lab.ms("pipeline"),
        simulation_ms: lab.ms("simulation"),
    };
    crate::plots::save(lab, &report)?;
    Ok(report)
}

/// One canary rollout over loopback HTTP: two model servers, the router and its controller,
/// and 16 clients sending requests for random users until the rollout ends.
async fn http_rollout(
    v1: &week26_tracking_registry::sweep::Model,
    v2: &week26_tracking_registry::sweep::Model,
    production: i64,
    staged: i64,
    faults: Faults,
    policy: &Policy,
    rows: &[Vec<f64>],
) -> Result<CanaryRun> {
    let serve = |app: axum::Router| async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move { axum::serve(listener, app).await });
        anyhow::Ok((format!("http://{addr}"), task))
    };
    let (stable_url, s_task) = serve(proxy::model_server(
        v1.clone(),
        production,
        Faults {
            error_rate: 0.0,
            extra_ms: 0,
        },
    ))
    .await?;
    let (canary_url, c_task) = serve(proxy::model_server(v2.clone(), staged, faults)).await?;
    let rollout = Arc::new(Rollout::new("week28", policy.steps_bp[0]));
    let (router_url, r_task) = serve(proxy::canary_router(
        rollout.clone(),
        stable_url,
        canary_url,
    ))
    .await?;
    let controller = tokio::spawn(proxy::control(rollout.clone(), policy.clone()));
    let client = reqwest::Client::new();
    let mut clients = Vec::new();
    for worker in 0..16u64 {
        let (client, url, rollout) = (client.clone(), router_url.clone(), rollout.clone());
        let rows = rows.to_vec();
        clients.push(tokio::spawn(async move {
            let mut rng = wb_data::SplitMix64::new(worker);
            while !rollout.done.load(Ordering::SeqCst) {
                let user = format!("user-{}", rng.next_u64() % 50_000);
                let row = &rows[(rng.next_u64() % rows.len() as u64) as usize];
                let _ = client
                    .post(format!("{url}/predict"))
                    .header("x-user", user)
                    .json(&serde_json::json!({"features": row}))
                    .send()
                    .await;
            }
        }));
    }
    let start = std::time::Instant::now();
    let _ = controller.await;
    for c in clients {
        let _ = c.await;
    }
    let seconds = start.elapsed().as_secs_f64();
    for task in [s_task, c_task, r_task] {
        task.abort();
    }
    let verdicts = rollout
        .verdicts
        .lock()
        .map(|v| v.clone())
        .unwrap_or_default();
    Ok(CanaryRun {
        name: String::new(),
        promoted: rollout.promoted.load(Ordering::SeqCst),
        final_bp: rollout.weight_bp.load(Ordering::SeqCst),
        requests: rollout.served.load(Ordering::SeqCst),
        failed: rollout.failed.load(Ordering::SeqCst),
        seconds,
        verdicts,
    })
}
