//! Grader checks for week 14: schedules, clipping, early stopping, and exact resume.
//!
//! References: values worked by hand from PyTorch's and Hugging Face's formulas, and
//! `wb_train` (the workbook's loop, itself tested against hand-worked cases and candle-nn).

use candle_core::{DType, Device, Tensor, Var};
use grader::{Called, Failure, Tol, check, close, ensure};
use wb_train::{EarlyStopping, LrSchedule, NamedVars, StopDecision};
use week14_training_loops::clip::clip_global_norm;
use week14_training_loops::early::{Goal, stop_epoch};
use week14_training_loops::mlp::{self, RunConfig, train_interrupted, train_run, weights};
use week14_training_loops::schedules::{cosine_lr, step_lr, warmup_cosine_lr};
use week14_training_loops::tracking::compare_runs;

check! {
    fn schedules_match_hand_values_and_wb_train(exercise = "schedules") {
        close(
            "step_lr(0.1, every 10, ×0.5) at step 25 = 0.1 · 0.5²",
            0.025,
            step_lr(0.1, 10, 0.5, 25),
            Tol::abs(1e-15),
        )?;
        close(
            "step_lr at step 9 (no decay yet)",
            0.1,
            step_lr(0.1, 10, 0.5, 9),
            Tol::abs(1e-15),
        )?;
        close(
            "cosine_lr(1 → 0 over 100) at 50 (half-way)",
            0.5,
            cosine_lr(1.0, 0.0, 100, 50),
            Tol::abs(1e-12),
        )?;
        close(
            "cosine_lr(1 → 0.1 over 100) at 0",
            1.0,
            cosine_lr(1.0, 0.1, 100, 0),
            Tol::abs(1e-12),
        )?;
        close(
            "cosine_lr(1 → 0.1 over 100) at 25",
            0.1 + 0.9 * (1.0 + 0.5f64.sqrt()) / 2.0,
            cosine_lr(1.0, 0.1, 100, 25),
            Tol::abs(1e-12),
        )?;
        close(
            "cosine_lr after the end",
            0.1,
            cosine_lr(1.0, 0.1, 100, 150),
            Tol::abs(1e-12),
        )?;
        close(
            "warm-up 10 of 110, at step 5",
            5e-4,
            warmup_cosine_lr(1e-3, 10, 110, 5),
            Tol::abs(1e-15),
        )?;
        close(
            "warm-up 10 of 110, at step 10 (peak)",
            1e-3,
            warmup_cosine_lr(1e-3, 10, 110, 10),
            Tol::abs(1e-15),
        )?;
        close(
            "warm-up 10 of 110, at step 60 (half-way down)",
            5e-4,
            warmup_cosine_lr(1e-3, 10, 110, 60),
            Tol::abs(1e-15),
        )?;
        close(
            "warm-up 10 of 110, at step 110 and after",
            0.0,
            warmup_cosine_lr(1e-3, 10, 110, 200),
            Tol::abs(1e-15),
        )?;
        let refs = [
            LrSchedule::step(3e-3, 7, 0.3).called("LrSchedule::step")?,
            LrSchedule::cosine(3e-3, 1e-4, 97).called("LrSchedule::cosine")?,
            LrSchedule::warmup_cosine(3e-3, 13, 97).called("LrSchedule::warmup_cosine")?,
        ];
        for step in 0..120 {
            for (k, r) in refs.iter().enumerate() {
                let ours = match k {
                    0 => step_lr(3e-3, 7, 0.3, step),
                    1 => cosine_lr(3e-3, 1e-4, 97, step),
                    _ => warmup_cosine_lr(3e-3, 13, 97, step),
                };
                close(
                    &format!("{r:?} at step {step} (vs wb_train)"),
                    r.lr_at(step),
                    ours,
                    Tol::abs(1e-15),
                )?;
            }
        }
        Ok(())
    }
}

fn two_vars(
    a: &[f32],
    b: &[f32],
) -> Result<(NamedVars, candle_core::backprop::GradStore), Failure> {
    // Gradients of L = a·u + b·w with respect to u and w are a and b themselves.
    let u = Var::zeros(a.len(), DType::F32, &Device::Cpu).called("Var")?;
    let w = Var::zeros(b.len(), DType::F32, &Device::Cpu).called("Var")?;
    let ta = Tensor::new(a, &Device::Cpu).called("a")?;
    let tb = Tensor::new(b, &Device::Cpu).called("b")?;
    let loss = (u.as_tensor() * &ta)
        .and_then(|x| x.sum_all())
        .and_then(|x| (w.as_tensor() * &tb)?.sum_all().map(|y| (x, y)))
        .and_then(|(x, y)| x + y)
        .called("the loss")?;
    let grads = loss.backward().called("backward")?;
    Ok((vec![("u".to_string(), u), ("w".to_string(), w)], grads))
}

fn grad(grads: &candle_core::backprop::GradStore, v: &Var) -> Result<Vec<f32>, Failure> {
    grads
        .get(v)
        .ok_or_else(|| Failure::new("gradient", "a gradient disappeared"))?
        .to_vec1::<f32>()
        .called("reading a gradient")
}

check! {
    fn clipping_matches_hand_values_and_wb_train(exercise = "clip") {
        // Gradients (3) and (4): global norm 5; clipped to 1 they become 3/5 and 4/5 (÷ (5 + 1e-6)).
        let (vars, mut g) = two_vars(&[3.0], &[4.0])?;
        let norm = clip_global_norm(&mut g, &vars, 1.0).called("clip_global_norm")?;
        close("the norm before clipping", 5.0, norm, Tol::abs(1e-6))?;
        close(
            "u's gradient after clipping",
            3.0 / (5.0 + 1e-6),
            f64::from(grad(&g, &vars[0].1)?[0]),
            Tol::abs(1e-6),
        )?;
        close(
            "w's gradient after clipping",
            4.0 / (5.0 + 1e-6),
            f64::from(grad(&g, &vars[1].1)?[0]),
            Tol::abs(1e-6),
        )?;
        // Below the limit nothing changes.
        let (vars, mut g) = two_vars(&[0.3, -0.1], &[0.2])?;
        clip_global_norm(&mut g, &vars, 10.0).called("clip_global_norm")?;
        ensure(
            grad(&g, &vars[0].1)? == [0.3, -0.1],
            "gradients under the limit are untouched",
            "they changed",
        )?;
        // Against wb_train on larger gradients.
        let a: Vec<f32> = (0..50).map(|i| (i as f32 * 0.37).sin() * 3.0).collect();
        let b: Vec<f32> = (0..20).map(|i| (i as f32 * 0.71).cos()).collect();
        let (vars, mut ours) = two_vars(&a, &b)?;
        let (vars2, mut theirs) = two_vars(&a, &b)?;
        let n1 = clip_global_norm(&mut ours, &vars, 2.5).called("clip_global_norm")?;
        let n2 = wb_train::clip_grads(&mut theirs, &vars2, 2.5).called("wb_train::clip_grads")?;
        close("the norm (vs wb_train)", n2, n1, Tol::rel(1e-6))?;
        for k in 0..2 {
            let (x, y) = (grad(&ours, &vars[k].1)?, grad(&theirs, &vars2[k].1)?);
            for (i, (p, q)) in x.iter().zip(&y).enumerate() {
                close(
                    &format!("gradient {k}[{i}] after clipping (vs wb_train)"),
                    f64::from(*q),
                    f64::from(*p),
                    Tol::abs(1e-6),
                )?;
            }
        }
        Ok(())
    }
}

check! {
    fn early_stopping_matches_hand_cases_and_wb_train(exercise = "early_stopping") {
        let h = [0.5, 0.6, 0.6, 0.61, 0.59, 0.7];
        ensure(
            stop_epoch(&h, Goal::Maximise, 2, 0.02) == Some(3),
            "patience 2, min_delta 0.02 on [0.5, 0.6, 0.6, 0.61, 0.59, 0.7]",
            format!(
                "expected a stop after epoch 3 (0.6 and 0.61 do not beat 0.6 by 0.02), got {:?}",
                stop_epoch(&h, Goal::Maximise, 2, 0.02)
            ),
        )?;
        ensure(
            stop_epoch(&h, Goal::Maximise, 3, 0.0).is_none(),
            "patience 3, min_delta 0",
            format!(
                "expected no stop, got {:?}",
                stop_epoch(&h, Goal::Maximise, 3, 0.0)
            ),
        )?;
        let losses = [2.0, 1.5, 1.6, 1.7, 1.4];
        ensure(
            stop_epoch(&losses, Goal::Minimise, 2, 0.0) == Some(3),
            "a loss, patience 2",
            format!(
                "expected Some(3), got {:?}",
                stop_epoch(&losses, Goal::Minimise, 2, 0.0)
            ),
        )?;
        // 200 seeded random histories against wb_train::EarlyStopping.
        let mut rng = wb_data::SplitMix64::new(14);
        for case in 0..200 {
            let n = 3 + (rng.next_u64() % 15) as usize;
            let hist: Vec<f64> = (0..n)
                .map(|_| (rng.next_f64() * 10.0).round() / 10.0)
                .collect();
            let patience = 1 + (rng.next_u64() % 4) as usize;
            let (goal, g) = if case % 2 == 0 {
                (Goal::Maximise, wb_train::Goal::Maximise)
            } else {
                (Goal::Minimise, wb_train::Goal::Minimise)
            };
            let mut e = EarlyStopping::new(g, patience, 0.05).called("EarlyStopping::new")?;
            let mut want = None;
            for (i, &v) in hist.iter().enumerate() {
                if e.update(v).called("EarlyStopping::update")? == StopDecision::Stop {
                    want = Some(i);
                    break;
                }
            }
            let got = stop_epoch(&hist, goal, patience, 0.05);
            ensure(
                got == want,
                &format!("history {hist:?}, {goal:?}, patience {patience}, min_delta 0.05"),
                format!("wb_train stops at {want:?}, yours at {got:?}"),
            )?;
        }
        Ok(())
    }
}

check! {
    fn a_resumed_run_is_bit_identical_and_runs_compare_from_their_logs(exercise = "resume", timeout_s = 300) {
        let data = mlp::load().map_err(|e| Failure::new("loading fashion-mnist", e.to_string()))?;
        let root = std::env::temp_dir().join(format!("grader-week14-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let cfg = RunConfig {
            epochs: 2,
            ..RunConfig::new("short")
        };
        let (full, report) =
            train_run(&data, &cfg, &root.join("short"), false).called("train_run")?;
        ensure(
            report.steps == 220,
            "an uninterrupted run of 2 epochs",
            format!("expected 2 × 110 steps, got {}", report.steps),
        )?;
        let (resumed, before, after) =
            train_interrupted(&data, &cfg, &root.join("interrupted"), 70)
                .called("train_interrupted")?;
        ensure(
            before.steps == 70 && after.resumed_at_step == Some(70) && after.steps == 220,
            "stopped at 70, resumed at 70, finished at 220",
            format!(
                "stopped at {}, resumed at {:?}, finished at {}",
                before.steps, after.resumed_at_step, after.steps
            ),
        )?;
        let (a, b) = (
            weights(&full.vars).called("weights")?,
            weights(&resumed.vars).called("weights")?,
        );
        let differ = a
            .iter()
            .flatten()
            .zip(b.iter().flatten())
            .filter(|(x, y)| x.to_bits() != y.to_bits())
            .count();
        ensure(
            differ == 0,
            "weights after resume vs the uninterrupted run, bit for bit",
            format!(
                "{differ} of {} values differ",
                a.iter().map(Vec::len).sum::<usize>()
            ),
        )?;
        ensure(
            after.history == report.history,
            "the validation history after resume",
            format!("expected {:?}, got {:?}", report.history, after.history),
        )?;
        // Experiment tracking: a second run, then both read back from their folders (the
        // interrupted run's folder has no config.json and is not a tracked run).
        let other = RunConfig {
            epochs: 1,
            lr: 1e-2,
            ..RunConfig::new("other")
        };
        let (_, other_report) =
            train_run(&data, &other, &root.join("other"), false).called("train_run")?;
        let runs = compare_runs(&root).called("compare_runs")?;
        let names: Vec<&str> = runs.iter().map(|r| r.config.name.as_str()).collect();
        ensure(
            runs.len() == 2,
            "the two tracked runs under the folder",
            format!("found {names:?}"),
        )?;
        for r in &runs {
            let logged = if r.config.name == "short" {
                &report.history
            } else {
                &other_report.history
            };
            ensure(
                &r.valid_accuracy == logged,
                &format!(
                    "run {}: the accuracies read back from its log",
                    r.config.name
                ),
                format!("expected {logged:?}, got {:?}", r.valid_accuracy),
            )?;
        }
        ensure(
            runs[0].best >= runs[1].best,
            "runs ranked best first",
            format!("{:.4} then {:.4}", runs[0].best, runs[1].best),
        )?;
        // A corrupted checkpoint stops the resume with a message, before any training.
        let ck = root
            .join("interrupted")
            .join("checkpoint")
            .join("tensors.safetensors");
        let mut bytes = std::fs::read(&ck)
            .map_err(|e| Failure::new("reading the checkpoint", e.to_string()))?;
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x40;
        std::fs::write(&ck, &bytes)
            .map_err(|e| Failure::new("writing the checkpoint", e.to_string()))?;
        let mut f = mlp::fresh(&cfg).called("fresh")?;
        let before_w = weights(&f.vars).called("weights")?;
        let e = wb_train::checkpoint::load(
            &root.join("interrupted").join("checkpoint"),
            &f.vars,
            &mut f.opt,
        );
        let msg = match e {
            Ok(_) => {
                return Err(Failure::new(
                    "a corrupted checkpoint",
                    "was loaded without complaint",
                ));
            }
            Err(e) => e.to_string(),
        };
        ensure(
            msg.contains("SHA-256"),
            "the error says the checkpoint is corrupt",
            msg,
        )?;
        ensure(
            weights(&f.vars).called("weights")? == before_w,
            "a refused checkpoint changes nothing",
            "the weights changed",
        )?;
        let _ = std::fs::remove_dir_all(&root);
        Ok(())
    }
}
