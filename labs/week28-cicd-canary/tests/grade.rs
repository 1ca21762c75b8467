//! Grader checks for week 28: CI/CD for ML and canary deployments.
//!
//! References: `fixtures/week28.json` — scipy 1.17's `mannwhitneyu(alternative="greater",
//! method="asymptotic")` and `fisher_exact(alternative="greater")`; Python's hashlib for the
//! buckets; the rest by hand or by construction (the workflow's own commands, run).

use grader::{Called, Failure, Tol, check, close, ensure, expect_err, fixture, num, nums};
use serde_json::Value;
use std::process::Command;
use week28_cicd_canary::canary::{
    Arm, ArmStats, Behaviour, Policy, assign, bucket, errors_worse, judge, latency_worse, simulate,
};
use week28_cicd_canary::pipeline;
use week28_cicd_canary::workflow;

fn items(v: &Value, pointer: &str) -> Vec<Value> {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

check! {
    /// Buckets equal Python's hashlib (first 8 bytes of SHA-256("salt:key") mod 10,000); the
    /// split of 20,000 users holds 1, 5 and 25 % within 4 standard deviations; a user keeps their
    /// arm, and a canary user stays in the canary as the weight grows; a weight over 100 % is
    /// refused.
    fn split_holds_its_weights_and_is_sticky(exercise = "assign") {
        for (salt, key, want) in [("week28", "user-0", 9058), ("week28", "user-1", 4089), ("canary", "alice", 6409), ("canary", "bob", 357), ("s", "", 2920)] {
            ensure(bucket(salt, key) == want, &format!("bucket({salt:?}, {key:?})"), format!("expected {want} (hashlib), got {}", bucket(salt, key)))?;
        }
        ensure(assign("canary", "bob", 358).called("assign")? == Arm::Canary && assign("canary", "bob", 357).called("assign")? == Arm::Stable, "bob (bucket 357)", "canary from 358 basis points, stable at 357")?;
        let users: Vec<String> = (0..20_000).map(|u| format!("u{u}")).collect();
        let mut previous: Vec<Arm> = vec![Arm::Stable; users.len()];
        for bp in [100u64, 500, 2_500, 10_000] {
            let arms: Vec<Arm> = users.iter().map(|u| assign("split", u, bp)).collect::<Result<_, _>>().called("assign")?;
            let n = arms.iter().filter(|a| **a == Arm::Canary).count() as f64;
            let p = bp as f64 / 1e4;
            let sd = (2e4 * p * (1.0 - p)).sqrt().max(1e-9);
            close(&format!("canary users at {} %", p * 100.0), 2e4 * p, n, Tol::abs(4.0 * sd))?;
            let left = previous.iter().zip(&arms).filter(|(a, b)| **a == Arm::Canary && **b == Arm::Stable).count();
            ensure(left == 0, &format!("stickiness up to {} %", p * 100.0), format!("{left} users left the canary as it grew"))?;
            let again: Vec<Arm> = users.iter().take(500).map(|u| assign("split", u, bp)).collect::<Result<_, _>>().called("assign")?;
            ensure(again[..] == arms[..500], "the same user twice", "must get the same arm")?;
            previous = arms;
        }
        expect_err("a weight of 100.01 %", assign("s", "k", 10_001))?;
        Ok(())
    }
}

check! {
    /// The one-sided Mann–Whitney U test equals scipy's (U and p, asymptotic with tie and
    /// continuity corrections) on five cases, ties included; Fisher's exact test equals scipy's
    /// on seven tables from a canary step's counts.
    fn tests_equal_scipy(exercise = "mann_whitney") {
        let f = fixture("week28");
        for c in items(&f, "/mann_whitney") {
            let name = c["name"].as_str().unwrap_or("?").to_string();
            let t = latency_worse(&nums(&c, "/stable").to_vec(), &nums(&c, "/canary").to_vec()).called("latency_worse")?;
            close(&format!("{name}: U"), num(&c, "/u"), t.statistic, Tol::abs(1e-9))?;
            close(&format!("{name}: p"), num(&c, "/p_value"), t.p_value, Tol::rel(1e-9).and_abs(1e-12))?;
        }
        for c in items(&f, "/fisher") {
            let k = |p: &str| num(&c, p) as u64;
            let t = errors_worse(k("/x_s"), k("/n_s"), k("/x_c"), k("/n_c")).called("errors_worse")?;
            close(&format!("Fisher {}/{} vs {}/{}", k("/x_c"), k("/n_c"), k("/x_s"), k("/n_s")), num(&c, "/p_value"), t.p_value, Tol::rel(1e-8).and_abs(1e-15))?;
        }
        expect_err("more errors than requests", errors_worse(3, 2, 0, 5))?;
        expect_err("latencies with a NaN", latency_worse(&[1.0], &[f64::NAN]))?;
        Ok(())
    }
}

check! {
    /// The rules by hand (a significant but small difference does not roll back; a large one
    /// does); 200 seeded rollouts of a canary identical to stable roll back at most at the union
    /// bound 2 tests × 3 steps × α = 6 % (+3 sd of 200 trials); +4 points of errors and +10 ms
    /// roll back in ≥ 95 % of 100 rollouts.
    fn rollback_fires_on_faults_not_on_noise(exercise = "judge") {
        let policy = Policy::default();
        let arm = |requests: u64, errors: u64, ms: f64| ArmStats { requests, errors, latencies_ms: vec![ms; (requests - errors) as usize] };
        let v = judge(&policy, 100, &arm(20_000, 200, 20.0), &arm(200, 5, 20.0)).called("judge")?;
        ensure(v.rollback.is_none() && v.errors.p_value > 0.01, "5/200 errors against 1 %", "1.5 points over, but not significant (Fisher's p > 0.01): stays")?;
        let v = judge(&policy, 100, &arm(20_000, 200, 20.0), &arm(200, 12, 20.0)).called("judge")?;
        ensure(v.rollback.as_deref() == Some("errors"), "12/200 errors against 1 %", format!("must roll back on errors, got {:?}", v.rollback))?;
        let mut slow = arm(200, 0, 21.0);
        slow.latencies_ms = (0..200).map(|i| 21.0 + i as f64 * 1e-3).collect();
        let v = judge(&policy, 100, &arm(20_000, 0, 20.0), &slow).called("judge")?;
        ensure(v.rollback.is_none() && v.latency.p_value < 0.01, "a canary 1 ms slower, significantly", "stays: under the 2 ms margin")?;
        slow.latencies_ms.iter_mut().for_each(|m| *m += 5.0);
        let v = judge(&policy, 100, &arm(20_000, 0, 20.0), &slow).called("judge")?;
        ensure(v.rollback.as_deref() == Some("latency"), "a canary 6 ms slower", format!("must roll back on latency, got {:?}", v.rollback))?;
        let buckets: Vec<u64> = (0..20_000).map(|u| bucket("week28", &format!("user-{u}"))).collect();
        let stable = Behaviour { error_rate: 0.01, median_ms: 20.0, sigma: 0.5, extra_ms: 0.0 };
        let rate = |canary: Behaviour, n: u64| -> Result<f64, Failure> {
            let mut rolled = 0;
            for seed in 0..n {
                rolled += usize::from(!simulate(&policy, &stable, &canary, &buckets, 5_000 + seed).called("simulate")?.promoted);
            }
            Ok(rolled as f64 / n as f64)
        };
        let noise = rate(stable, 200)?;
        let bound = 0.06 + 3.0 * (0.06f64 * 0.94 / 200.0).sqrt();
        ensure(noise <= bound, "false rollbacks of an identical canary", format!("{:.1} % of 200, above {:.1} %", 100.0 * noise, 100.0 * bound))?;
        let errors = rate(Behaviour { error_rate: 0.05, ..stable }, 100)?;
        ensure(errors >= 0.95, "a canary with +4 points of errors", format!("rolled back in {:.0} % of 100", 100.0 * errors))?;
        let slow = rate(Behaviour { extra_ms: 10.0, ..stable }, 100)?;
        ensure(slow >= 0.95, "a canary 10 ms slower", format!("rolled back in {:.0} % of 100", 100.0 * slow))
    }
}

check! {
    /// The noise threshold by hand (losses 1, 2, 3: sd 1, t(0.999, 2)·√2 ≈ 31.6 > the range 2; the range
    /// when it is larger); on a fresh
    /// store the gate passes a retrain of the production configuration under another seed and
    /// fails one trained with 10 % of its labels flipped.
    fn gate_fails_a_planted_bug_and_passes_a_retrain(exercise = "gate") {
        let n = pipeline::noise(&[1.0, 2.0, 3.0]).called("noise")?;
        close("sd of 1, 2, 3", 1.0, n.sd, Tol::abs(1e-12))?;
        // With 2 degrees of freedom t(p) = (2p − 1)/√(2p(1 − p)): t(0.999) = 0.998/√0.001998.
        let t2 = 0.998 / (2.0f64 * 0.999 * 0.001).sqrt();
        close("threshold t(0.999, 2)·√2·sd", t2 * 2f64.sqrt(), n.threshold, Tol::rel(1e-9))?;
        // −1, eighteen 0s, 1: sd = √(2/19) ≈ 0.324, t(0.999, 19)·√2·sd ≈ 1.64 < the range 2.
        let mut spread = vec![0.0; 18];
        spread.extend([-1.0, 1.0]);
        close("the range when it is larger (−1, 0 × 18, 1)", 2.0, pipeline::noise(&spread).called("noise")?.threshold, Tol::abs(1e-12))?;
        expect_err("noise of two runs", pipeline::noise(&[1.0, 2.0]))?;
        let dir = std::env::temp_dir().join(format!("week28-gate-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut t = week26_tracking_registry::Tracker::open(&dir).map_err(|e| Failure::new("a store", e.to_string()))?;
        pipeline::bootstrap(&mut t).called("bootstrap")?;
        let losses = (1..=5u64)
            .map(|s| Ok(pipeline::train(&mut t, &pipeline::data(0.0, s)?, pipeline::production_config(s))?.valid_loss))
            .collect::<wb_core::Result<Vec<f64>>>()
            .called("train")?;
        let noise = pipeline::noise(&losses).called("noise")?;
        let retrain = pipeline::train(&mut t, &pipeline::data(0.0, 77).called("data")?, pipeline::production_config(77)).called("train")?;
        let g = pipeline::gate(&t, &retrain, &noise).called("gate")?;
        ensure(g.passed, "a retrain under seed 77", format!("failed: {:.4} vs {:.4}, threshold {:.4}", g.candidate_loss, g.production_loss, g.threshold))?;
        let planted = pipeline::train(&mut t, &pipeline::data(0.1, 78).called("data")?, pipeline::production_config(78)).called("train")?;
        let g = pipeline::gate(&t, &planted, &noise).called("gate")?;
        ensure(!g.passed, "10 % of labels flipped", format!("passed: {:.4} vs {:.4}, threshold {:.4}", g.candidate_loss, g.production_loss, g.threshold))?;
        expect_err("label noise of 1.5", pipeline::data(1.5, 0).map(|_| ()))?;
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    }
}

check! {
    /// The workflow parses, its job trains before it gates and gates before it registers, and
    /// its lab steps, run for real with the lab's binary on a fresh store, pass; with the
    /// candidate's labels 20 % flipped the gate step fails and says why; a workflow without
    /// `runs-on` or with a step misspelt is refused.
    fn workflow_runs_the_pipeline_and_fails_on_a_regression(exercise = "gate") {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(root.join("workflows/ml-pipeline.yml")).map_err(|e| Failure::new("the workflow", e.to_string()))?;
        let wf = workflow::parse(&text).called("parse")?;
        let lab: Vec<Vec<String>> = wf.steps.iter().filter_map(|s| s.run.as_deref().and_then(|r| workflow::lab_args(r, "week28-cicd-canary"))).collect();
        let names = ["bootstrap", "noise", "train", "gate", "register"];
        let order: Vec<String> = lab.iter().filter_map(|a| a.iter().find(|w| names.contains(&w.as_str())).cloned()).collect();
        ensure(order == ["bootstrap", "noise", "train", "gate", "register"], "the pipeline's order", format!("{order:?}"))?;
        let store = std::env::temp_dir().join(format!("week28-ci-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&store);
        let bin = env!("CARGO_BIN_EXE_week28-cicd-canary");
        let run = |args: &[String], plant: &str| {
            let args: Vec<String> = args.iter().map(|a| match a.as_str() { "$STORE" => store.display().to_string(), "$PLANT" => plant.to_string(), _ => a.clone() }).collect();
            Command::new(bin).args(&args).current_dir(root.join("../..")).output()
        };
        for args in &lab[..4] {
            let out = run(args, "0").map_err(|e| Failure::new("the lab's binary", e.to_string()))?;
            ensure(out.status.success(), &format!("step {args:?}"), String::from_utf8_lossy(&out.stderr).to_string())?;
        }
        let train = lab.iter().find(|a| a.contains(&"train".to_string())).cloned().unwrap_or_default();
        let gate = lab.iter().find(|a| a.contains(&"gate".to_string())).cloned().unwrap_or_default();
        let out = run(&train, "0.2").map_err(|e| Failure::new("train", e.to_string()))?;
        ensure(out.status.success(), "train with 20 % of labels flipped", String::from_utf8_lossy(&out.stderr).to_string())?;
        let out = run(&gate, "0").map_err(|e| Failure::new("gate", e.to_string()))?;
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        ensure(!out.status.success() && err.contains("gate failed"), "the gate on the planted bug", format!("must fail and say so, got {:?}: {err}", out.status.code()))?;
        let _ = std::fs::remove_dir_all(&store);
        expect_err("a job without runs-on", workflow::parse(&text.replace("runs-on: ubuntu-latest", "")))?;
        let misspelt = text.replace("\"$STORE\" gate", "\"$STORE\" gaet");
        let bad = workflow::parse(&misspelt).called("parse")?;
        let args = bad.steps.iter().filter_map(|s| s.run.as_deref().and_then(|r| workflow::lab_args(r, "week28-cicd-canary"))).find(|a| a.iter().any(|w| w == "gaet")).unwrap_or_default();
        let out = run(&args, "0").map_err(|e| Failure::new("the lab's binary", e.to_string()))?;
        ensure(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("gaet"), "a misspelt step", "the lab's CLI must refuse it, naming it")
    }
}

check! {
    /// Over loopback HTTP, two model servers and the router: a healthy canary goes 1 → 5 → 25 →
    /// 100 %; one failing 5 % of requests is rolled back at the first step, after which every
    /// request goes to stable; a request without a user is a 400.
    fn http_canary_promotes_and_rolls_back(exercise = "judge") {
        use std::sync::Arc;
        use std::sync::atomic::Ordering;
        use week28_cicd_canary::proxy::{Faults, Rollout, canary_router, control, model_server};
        let model = week26_tracking_registry::sweep::Model { weights: vec![0.1; 30], bias: 0.0 };
        let policy = Policy { min_canary_requests: 100, ..Policy::default() };
        let rt = tokio::runtime::Runtime::new().map_err(|e| Failure::new("a runtime", e.to_string()))?;
        /// What one rollout over HTTP ended with.
        struct RolloutRun {
            promoted: bool,
            steps_judged: usize,
            arms_after: Vec<String>,
            no_user_status: u16,
        }
        let outcome: anyhow::Result<Vec<RolloutRun>> = rt.block_on(async {
            let mut out = Vec::new();
            for faults in [Faults { error_rate: 0.0, extra_ms: 0 }, Faults { error_rate: 0.05, extra_ms: 0 }] {
                let serve = |app: axum::Router| async move {
                    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                    let url = format!("http://{}", l.local_addr()?);
                    tokio::spawn(async move { axum::serve(l, app).await });
                    anyhow::Ok(url)
                };
                let stable = serve(model_server(model.clone(), 1, Faults { error_rate: 0.0, extra_ms: 0 })).await?;
                let canary = serve(model_server(model.clone(), 2, faults)).await?;
                let rollout = Arc::new(Rollout::new("check", policy.steps_bp[0]));
                let router = serve(canary_router(rollout.clone(), stable, canary)).await?;
                let controller = tokio::spawn(control(rollout.clone(), policy.clone()));
                let client = reqwest::Client::new();
                let body = serde_json::json!({"features": vec![0.5; 30]});
                let mut workers = Vec::new();
                for w in 0..8u64 {
                    let (client, router, rollout, body) = (client.clone(), router.clone(), rollout.clone(), body.clone());
                    workers.push(tokio::spawn(async move {
                        let mut i = w;
                        while !rollout.done.load(Ordering::SeqCst) {
                            let _ = client.post(format!("{router}/predict")).header("x-user", format!("u{i}")).json(&body).send().await;
                            i += 8;
                        }
                    }));
                }
                controller.await?;
                for w in workers { w.await?; }
                let mut arms = Vec::new();
                for i in 0..50 {
                    let r = client.post(format!("{router}/predict")).header("x-user", format!("after{i}")).json(&body).send().await?;
                    arms.push(r.headers().get("x-arm").and_then(|v| v.to_str().ok()).unwrap_or("").to_string());
                }
                let no_user = client.post(format!("{router}/predict")).json(&body).send().await?.status().as_u16();
                let judged = rollout.verdicts.lock().map(|v| v.len()).unwrap_or(0);
                out.push(RolloutRun { promoted: rollout.promoted.load(Ordering::SeqCst), steps_judged: judged, arms_after: arms, no_user_status: no_user });
            }
            Ok(out)
        });
        let runs = outcome.map_err(|e| Failure::new("the rollouts", e.to_string()))?;
        let (healthy, failing) = (&runs[0], &runs[1]);
        ensure(healthy.promoted && healthy.steps_judged == 3 && healthy.arms_after.iter().all(|a| a == "canary"), "the healthy canary", format!("promoted {}, {} steps judged, arms after: {:?}", healthy.promoted, healthy.steps_judged, &healthy.arms_after[..3]))?;
        ensure(!failing.promoted && failing.steps_judged == 1 && failing.arms_after.iter().all(|a| a == "stable"), "the failing canary", format!("promoted {}, {} steps judged, arms after: {:?}", failing.promoted, failing.steps_judged, &failing.arms_after[..3]))?;
        ensure(healthy.no_user_status == 400, "a request without x-user", format!("got {}", healthy.no_user_status))
    }
}
