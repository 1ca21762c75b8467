//! The loop, end to end on a small regression: an interrupted and resumed run ends with the very
//! same weights as an uninterrupted one; bad checkpoints are refused and change nothing.

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{Optimizer, ParamsAdamW, VarBuilder, VarMap};
use wb_data::SplitMix64;
use wb_train::checkpoint;
use wb_train::{
    FitConfig, Goal, LrSchedule, NamedVars, ResumableAdamW, Task, TrainError, fit, named_vars,
};

struct Regression {
    x: Tensor,
    y: Tensor,
    model: candle_nn::Sequential,
}

impl Task for Regression {
    fn train_loss(&mut self, batch: &[usize], rng: &mut SplitMix64) -> candle_core::Result<Tensor> {
        let idx = Tensor::new(
            batch.iter().map(|&i| i as u32).collect::<Vec<_>>(),
            &Device::Cpu,
        )?;
        let x = self.x.index_select(&idx, 0)?;
        // Input noise drawn from the run's generator: resuming must restore it too.
        let noise: Vec<f32> = (0..x.elem_count())
            .map(|_| (rng.next_f64() as f32 - 0.5) * 0.01)
            .collect();
        let noise = Tensor::from_vec(noise, x.shape(), &Device::Cpu)?;
        let x = (x + noise)?;
        let y = self.y.index_select(&idx, 0)?;
        candle_nn::loss::mse(&self.model.forward(&x)?, &y)
    }

    fn evaluate(&mut self) -> candle_core::Result<Vec<(String, f64)>> {
        let mse = candle_nn::loss::mse(&self.model.forward(&self.x)?, &self.y)?;
        Ok(vec![(
            "mse".to_string(),
            f64::from(mse.to_scalar::<f32>()?),
        )])
    }
}

fn setup() -> (Regression, VarMap, NamedVars, ResumableAdamW) {
    let dev = Device::Cpu;
    let mut rng = SplitMix64::new(7);
    let n = 100;
    let xs: Vec<f32> = (0..n * 3)
        .map(|_| rng.next_f64() as f32 * 2.0 - 1.0)
        .collect();
    let ys: Vec<f32> = xs
        .chunks(3)
        .map(|r| (r[0] * 2.0 - r[1]).sin() + 0.5 * r[2])
        .collect();
    let x = Tensor::from_vec(xs, (n, 3), &dev).unwrap();
    let y = Tensor::from_vec(ys, (n, 1), &dev).unwrap();
    let varmap = VarMap::new();
    let vb = wb_train::init::seeded(&varmap, 11, DType::F32, &dev);
    let model = candle_nn::seq()
        .add(candle_nn::linear(3, 16, vb.pp("l1")).unwrap())
        .add_fn(|t| t.tanh())
        .add(candle_nn::linear(16, 1, vb.pp("l2")).unwrap());
    let vars = named_vars(&varmap);
    let opt = wb_train::adamw(&vars, 1e-2).unwrap();
    (Regression { x, y, model }, varmap, vars, opt)
}

fn weights(vars: &NamedVars) -> Vec<Vec<f32>> {
    vars.iter()
        .map(|(_, v)| {
            v.as_tensor()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
        })
        .collect()
}

fn config(dir: &std::path::Path) -> FitConfig {
    let mut cfg = FitConfig::new(4, 16, LrSchedule::warmup_cosine(1e-2, 5, 28).unwrap());
    cfg.seed = 3;
    cfg.clip_norm = Some(1.0);
    cfg.checkpoint_dir = Some(dir.to_path_buf());
    cfg.metrics_path = Some(dir.join("metrics.jsonl"));
    cfg.log_every = 1;
    cfg
}

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("wb-train-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn a_resumed_run_ends_bit_identical_to_an_uninterrupted_one() {
    let (mut task, _m, vars, mut opt) = setup();
    let full = fit(&mut task, &vars, &mut opt, 100, &config(&tmp("full"))).unwrap();
    assert_eq!(
        full.steps, 28,
        "4 epochs × 7 batches of 16 (the last one short)"
    );
    let reference = weights(&vars);
    assert!(
        full.history[3] < full.history[0],
        "the loss falls: {:?}",
        full.history
    );

    // Interrupted after 10 steps (mid-epoch 1), then a new process: fresh model, fresh optimiser.
    let dir = tmp("resume");
    let mut cfg = config(&dir);
    cfg.stop_after_steps = Some(10);
    let (mut task, _m, vars, mut opt) = setup();
    let first = fit(&mut task, &vars, &mut opt, 100, &cfg).unwrap();
    assert!(first.interrupted);
    assert_eq!(first.steps, 10);
    let (mut task, _m, vars, mut opt) = setup();
    assert_ne!(weights(&vars), reference);
    let mut cfg = config(&dir);
    cfg.resume = true;
    let second = fit(&mut task, &vars, &mut opt, 100, &cfg).unwrap();
    assert_eq!(second.resumed_at_step, Some(10));
    assert_eq!(second.steps, 28);
    assert_eq!(
        weights(&vars),
        reference,
        "bit-identical weights after resume"
    );
    assert_eq!(second.history, full.history);
    // The log holds every step once: 10 before the interruption, 18 after.
    let log = wb_train::read_metrics(&dir.join("metrics.jsonl")).unwrap();
    let steps: Vec<u64> = log
        .iter()
        .filter(|r| r.values.contains_key("loss"))
        .map(|r| r.step)
        .collect();
    assert_eq!(steps, (1..=28).collect::<Vec<_>>());
}

#[test]
fn early_stopping_fires_after_patience_epochs_without_improvement() {
    let (mut task, _m, vars, mut opt) = setup();
    // A learning rate of 0 cannot improve the metric: patience 2 stops after epoch 3.
    let mut cfg = FitConfig::new(10, 16, LrSchedule::constant(0.0).unwrap());
    cfg.early_stopping = Some((Goal::Minimise, 2, 0.0));
    let r = fit(&mut task, &vars, &mut opt, 100, &cfg).unwrap();
    assert!(r.stopped_early);
    assert_eq!(r.epochs.len(), 3);
}

#[test]
fn bad_checkpoints_are_refused_and_change_nothing() {
    let dir = tmp("bad");
    let (mut task, _m, vars, mut opt) = setup();
    let mut cfg = FitConfig::new(1, 16, LrSchedule::constant(1e-2).unwrap());
    cfg.checkpoint_dir = Some(dir.clone());
    fit(&mut task, &vars, &mut opt, 100, &cfg).unwrap();
    let (tensors, state) = checkpoint::files(&dir);

    // A model of another shape: named tensor and both shapes in the message.
    let dev = Device::Cpu;
    let other = VarMap::new();
    let vb = VarBuilder::from_varmap(&other, DType::F32, &dev);
    let _ = candle_nn::linear(3, 8, vb.pp("l1")).unwrap();
    let _ = candle_nn::linear(8, 1, vb.pp("l2")).unwrap();
    let ovars = named_vars(&other);
    let mut oopt = ResumableAdamW::new(
        ovars.iter().map(|(_, v)| v.clone()).collect(),
        ParamsAdamW::default(),
    )
    .unwrap();
    let before = weights(&ovars);
    let e = checkpoint::load(&dir, &ovars, &mut oopt)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("model/l1.bias") && e.contains("[16]") && e.contains("[8]"),
        "{e}"
    );
    assert_eq!(weights(&ovars), before, "nothing loaded");

    // A model with a layer the checkpoint lacks.
    let more = VarMap::new();
    let vb = VarBuilder::from_varmap(&more, DType::F32, &dev);
    let _ = candle_nn::linear(3, 16, vb.pp("l1")).unwrap();
    let _ = candle_nn::linear(16, 1, vb.pp("l2")).unwrap();
    let _ = candle_nn::linear(1, 1, vb.pp("l3")).unwrap();
    let mvars = named_vars(&more);
    let mut mopt = ResumableAdamW::new(
        mvars.iter().map(|(_, v)| v.clone()).collect(),
        ParamsAdamW::default(),
    )
    .unwrap();
    let e = checkpoint::load(&dir, &mvars, &mut mopt)
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing") && e.contains("l3.weight"), "{e}");

    // One flipped byte in the tensors file: refused by its hash, the model untouched.
    let (_t, _m2, vars2, mut opt2) = setup();
    let before = weights(&vars2);
    let mut bytes = std::fs::read(&tensors).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&tensors, &bytes).unwrap();
    let e = checkpoint::load(&dir, &vars2, &mut opt2).unwrap_err();
    assert!(matches!(e, TrainError::Checkpoint { .. }));
    assert!(e.to_string().contains("SHA-256"), "{e}");
    assert_eq!(weights(&vars2), before);

    // A state file that is not JSON.
    std::fs::write(&state, "{ not json").unwrap();
    let e = checkpoint::load(&dir, &vars2, &mut opt2)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("state.json") && e.contains("not a checkpoint"),
        "{e}"
    );
    assert_eq!(
        opt2.learning_rate(),
        ParamsAdamW {
            lr: 1e-2,
            ..Default::default()
        }
        .lr
    );
}

#[test]
fn clipping_bounds_the_global_norm() {
    let (task, _m, vars, _opt) = setup();
    let loss = candle_nn::loss::mse(
        &task.model.forward(&(&task.x * 100.0).unwrap()).unwrap(),
        &task.y,
    )
    .unwrap();
    let mut grads = loss.backward().unwrap();
    let before = wb_train::clip_grads(&mut grads, &vars, 0.5).unwrap();
    assert!(before > 0.5);
    let mut after = 0.0f64;
    for (_, v) in &vars {
        let g = grads.get(v).unwrap();
        after += f64::from(
            g.sqr()
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap(),
        );
    }
    // max_norm / (norm + 1e-6) × norm, as PyTorch.
    let expected = 0.5 * before / (before + 1e-6);
    assert!(
        (after.sqrt() - expected).abs() < 1e-5,
        "{} vs {expected}",
        after.sqrt()
    );
}
