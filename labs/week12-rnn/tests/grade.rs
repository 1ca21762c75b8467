//! Grader checks for week 12: the RNN and LSTM cells, temperature, the gradient through time,
//! the copy task and the character model.
//!
//! References: the formulas evaluated here in f64, candle-nn's own LSTM with the same weights,
//! central differences, and hand-worked probabilities.

use candle_core::{DType, Device, Tensor};
use candle_nn::VarMap;
use candle_nn::rnn::RNN;
use grader::{Called, Failure, Tol, check, close, ensure, expect_err};
use week12_rnn::cells::{Cell, Weights, lstm_step, random_sequence, rnn_step, unroll};
use week12_rnn::charlm::{CharConfig, Corpus, generate, train_char_lstm};
use week12_rnn::copy_task::{CopyConfig, train_copy};
use week12_rnn::gradients::{input_gradient_norms, mean_gradient_norms};
use week12_rnn::sampling::tempered_softmax;

fn t2(v: Vec<f32>, r: usize, c: usize) -> Result<Tensor, Failure> {
    Tensor::from_vec(v, (r, c), &Device::Cpu).called("a tensor")
}

fn t1(v: Vec<f32>) -> Result<Tensor, Failure> {
    let n = v.len();
    Tensor::from_vec(v, n, &Device::Cpu).called("a tensor")
}

fn rows(t: &Tensor) -> Result<Vec<Vec<f32>>, Failure> {
    t.to_vec2::<f32>()
        .called("reading a [batch, hidden] tensor")
}

check! {
    fn rnn_step_matches_the_formula(exercise = "rnn_step") {
        // input 3, hidden 2, batch 2; every number chosen by hand.
        let w = Weights {
            w_ih: t2(vec![0.5, -0.2, 0.1, 0.3, 0.8, -0.4], 2, 3)?,
            w_hh: t2(vec![0.9, -0.5, 0.2, 0.7], 2, 2)?,
            b_ih: t1(vec![0.1, -0.1])?,
            b_hh: t1(vec![0.05, 0.2])?,
        };
        let x = t2(vec![1.0, 2.0, -1.0, 0.0, -0.5, 0.5], 2, 3)?;
        let h = t2(vec![0.3, -0.6, 1.0, 0.0], 2, 2)?;
        let got = rows(&rnn_step(&x, &h, &w).called("rnn_step")?)?;
        let (wi, wh) = (
            [[0.5, -0.2, 0.1], [0.3, 0.8, -0.4]],
            [[0.9, -0.5], [0.2, 0.7]],
        );
        let (xv, hv) = (
            [[1.0, 2.0, -1.0], [0.0, -0.5, 0.5]],
            [[0.3, -0.6], [1.0, 0.0]],
        );
        let bias = [0.15, 0.1];
        for b in 0..2 {
            for j in 0..2 {
                let z: f64 = bias[j]
                    + (0..3).map(|k| xv[b][k] * wi[j][k]).sum::<f64>()
                    + (0..2).map(|k| hv[b][k] * wh[j][k]).sum::<f64>();
                close(
                    &format!("h'[{b}][{j}] = tanh(…)"),
                    z.tanh(),
                    f64::from(got[b][j]),
                    Tol::abs(1e-6),
                )?;
            }
        }
        Ok(())
    }
}

check! {
    fn lstm_step_matches_a_hand_worked_step_and_candle_nn(exercise = "lstm_step") {
        // Zero weights: the gates are the biases alone. hidden 1: b = (i, f, g, o) = (0, ln 3, 0.5, 1).
        let w = Weights {
            w_ih: t2(vec![0.0; 4], 4, 1)?,
            w_hh: t2(vec![0.0; 4], 4, 1)?,
            b_ih: t1(vec![0.0, 3f32.ln(), 0.5, 1.0])?,
            b_hh: t1(vec![0.0; 4])?,
        };
        let (x, h, c) = (
            t2(vec![7.0], 1, 1)?,
            t2(vec![-2.0], 1, 1)?,
            t2(vec![0.8], 1, 1)?,
        );
        let (h2, c2) = lstm_step(&x, &h, &c, &w).called("lstm_step")?;
        let sig = |z: f64| 1.0 / (1.0 + (-z).exp());
        // i = 0.5, f = σ(ln 3) = 0.75, g = tanh 0.5, o = σ(1).
        let c_want = 0.75 * 0.8 + 0.5 * 0.5f64.tanh();
        close(
            "c' = f·c + i·g",
            c_want,
            f64::from(rows(&c2)?[0][0]),
            Tol::abs(1e-6),
        )?;
        close(
            "h' = o·tanh(c')",
            sig(1.0) * c_want.tanh(),
            f64::from(rows(&h2)?[0][0]),
            Tol::abs(1e-6),
        )?;

        // Against candle-nn's LSTM, same tensors by name, over 7 steps.
        let varmap = VarMap::new();
        let vb = wb_train::init::seeded(&varmap, 3, DType::F32, &Device::Cpu);
        let theirs =
            candle_nn::lstm(5, 6, Default::default(), vb.pp("lstm")).called("candle_nn::lstm")?;
        let ours = Weights::new(&vb.pp("lstm"), 5, 6, 4).called("Weights::new")?;
        let xs = random_sequence(3, 7, 5, 11).called("random_sequence")?;
        let hs = unroll(Cell::Lstm, &xs, &ours).called("unroll with lstm_step")?;
        let want = theirs
            .states_to_tensor(&theirs.seq(&xs).called("candle's LSTM")?)
            .called("stack")?;
        let got = Tensor::stack(&hs, 1).called("stack")?;
        let gap = (&got - &want)
            .and_then(|d| d.abs())
            .and_then(|d| d.max_all())
            .and_then(|d| d.to_scalar::<f32>())
            .called("difference")?;
        ensure(
            gap < 1e-6,
            "hidden states over 7 steps vs candle-nn's LSTM (batch 3, 5 inputs, 6 units)",
            format!("largest difference {gap:.2e}, allowed 1e-6"),
        )
    }
}

check! {
    fn bad_shapes_are_refused_with_a_message(exercise = "rnn_step") {
        let varmap = VarMap::new();
        let vb = wb_train::init::seeded(&varmap, 1, DType::F32, &Device::Cpu);
        let w = Weights::new(&vb.pp("rnn"), 3, 4, 1).called("Weights::new")?;
        let x = random_sequence(2, 1, 3, 1)
            .called("x")?
            .squeeze(1)
            .called("squeeze")?;
        let h = Tensor::zeros((2, 4), DType::F32, &Device::Cpu).called("h")?;
        let ok = rnn_step(&x, &h, &w).called("rnn_step on valid shapes")?;
        ensure(
            ok.dims() == [2, 4],
            "valid input still works",
            format!("expected [2, 4], got {:?}", ok.dims()),
        )?;
        let e = expect_err(
            "x with 5 features for weights of 3",
            rnn_step(&t2(vec![0.0; 10], 2, 5)?, &h, &w),
        )?;
        ensure(
            e.contains("x") && e.contains("[batch, 3]"),
            "the error names x and the expected shape",
            e.clone(),
        )?;
        let e = expect_err(
            "h of batch 3 for x of batch 2",
            rnn_step(&x, &t2(vec![0.0; 12], 3, 4)?, &w),
        )?;
        ensure(
            e.contains("[2, 4]"),
            "the error gives h's expected shape",
            e.clone(),
        )?;
        let lw = Weights::new(&vb.pp("lstm"), 3, 4, 4).called("Weights::new")?;
        expect_err("an RNN step with LSTM weights", rnn_step(&x, &h, &lw))?;
        expect_err(
            "c of another shape than h",
            lstm_step(&x, &h, &t2(vec![0.0; 2], 2, 1)?, &lw),
        )?;
        expect_err("a sequence of rank 2", unroll(Cell::Rnn, &h, &w)).map(|_| ())
    }
}

check! {
    fn tempered_softmax_matches_hand_worked_probabilities(exercise = "tempered") {
        // exp(logits) = 1, 2, 4: at T = 1 the probabilities are 1/7, 2/7, 4/7; at T = 0.5 they are
        // proportional to 1, 4, 16; at T = 2 to 1, √2, 2.
        let l = [0.0f32, 2f32.ln(), 4f32.ln()];
        let s2 = 2f64.sqrt();
        for (t, want) in [
            (1.0, [1.0 / 7.0, 2.0 / 7.0, 4.0 / 7.0]),
            (0.5, [1.0 / 21.0, 4.0 / 21.0, 16.0 / 21.0]),
            (2.0, [1.0 / (3.0 + s2), s2 / (3.0 + s2), 2.0 / (3.0 + s2)]),
        ] {
            let got = tempered_softmax(&l, t).called("tempered_softmax")?;
            for i in 0..3 {
                close(
                    &format!("p[{i}] at temperature {t}"),
                    want[i],
                    got[i],
                    Tol::abs(1e-6),
                )?;
            }
        }
        // Large logits must not overflow: 1000 and 1001 differ by 1, so p = (1, e)/(1 + e).
        let got =
            tempered_softmax(&[1000.0, 1001.0], 1.0).called("tempered_softmax of large logits")?;
        close(
            "p[1] for logits 1000, 1001",
            std::f64::consts::E / (1.0 + std::f64::consts::E),
            got[1],
            Tol::abs(1e-6),
        )?;
        expect_err("temperature 0", tempered_softmax(&l, 0.0))?;
        expect_err("no logits", tempered_softmax(&[], 1.0))?;
        expect_err("a NaN logit", tempered_softmax(&[0.0, f32::NAN], 1.0)).map(|_| ())
    }
}

check! {
    fn gradient_norms_match_central_differences_and_fade_with_distance(exercise = "grad_norms", timeout_s = 120) {
        // A 4-step RNN with 3 units, batch 1: ∂L/∂x_t by central differences in f32.
        let varmap = VarMap::new();
        let vb = wb_train::init::seeded(&varmap, 2, DType::F32, &Device::Cpu);
        let w = Weights::new(&vb.pp("rnn"), 2, 3, 1).called("Weights::new")?;
        let xs = random_sequence(1, 4, 2, 5).called("xs")?;
        let r = t2(vec![0.7, -1.2, 0.4], 1, 3)?;
        let got = input_gradient_norms(Cell::Rnn, &xs, &w, &r).called("input_gradient_norms")?;
        ensure(
            got.len() == 4,
            "one norm per step",
            format!("expected 4 norms, got {}", got.len()),
        )?;
        let base: Vec<f32> = xs.flatten_all().and_then(|t| t.to_vec1()).called("xs")?;
        let loss = |v: &[f32]| -> Result<f64, Failure> {
            let x = Tensor::from_vec(v.to_vec(), (1, 4, 2), &Device::Cpu).called("x")?;
            let hs = unroll(Cell::Rnn, &x, &w).called("unroll")?;
            let last = hs
                .last()
                .ok_or_else(|| Failure::new("unroll", "no steps"))?;
            let l = (last * &r)
                .and_then(|p| p.sum_all())
                .and_then(|s| s.to_dtype(DType::F64))
                .and_then(|s| s.to_scalar::<f64>());
            l.called("the loss")
        };
        let eps = 1e-2f32;
        for (d, &norm) in got.iter().enumerate() {
            let t = 3 - d;
            let mut sq = 0.0;
            for k in 0..2 {
                let (mut up, mut down) = (base.clone(), base.clone());
                up[t * 2 + k] += eps;
                down[t * 2 + k] -= eps;
                let g = (loss(&up)? - loss(&down)?) / (2.0 * f64::from(eps));
                sq += g * g;
            }
            close(
                &format!("‖∂L/∂x‖ at distance {d} (vs central differences)"),
                sq.sqrt(),
                norm,
                Tol::rel(2e-2).and_abs(1e-4),
            )?;
        }
        // Through 40 steps: the RNN's gradient vanishes; an LSTM with forget bias 3 keeps it.
        let rnn = mean_gradient_norms(Cell::Rnn, 41, 32, 4, 1, None)
            .called("mean_gradient_norms for the RNN")?;
        let lstm = mean_gradient_norms(Cell::Lstm, 41, 32, 4, 1, Some(3.0))
            .called("mean_gradient_norms for the LSTM")?;
        ensure(
            rnn[40] < 1e-6 * rnn[0],
            "the untrained RNN's gradient at distance 40",
            format!(
                "expected below 1e-6 of distance 0's ({:.3e}), got {:.3e}",
                rnn[0], rnn[40]
            ),
        )?;
        ensure(
            lstm[40] > 1e-2 * lstm[0],
            "the LSTM's gradient (forget bias 3) at distance 40",
            format!(
                "expected above 1e-2 of distance 0's ({:.3e}), got {:.3e}",
                lstm[0], lstm[40]
            ),
        )
    }
}

check! {
    fn the_lstm_remembers_across_40_steps_where_the_rnn_does_not(exercise = "lstm_step", timeout_s = 600) {
        let cfg = CopyConfig::default();
        let lstm = train_copy(Cell::Lstm, 40, &cfg).called("train_copy for the LSTM")?;
        let rnn = train_copy(Cell::Rnn, 40, &cfg).called("train_copy for the RNN")?;
        ensure(
            lstm.accuracy >= 0.95 && lstm.accuracy >= rnn.accuracy + 0.2,
            "copy task with 40 steps of distractors (600 training steps, lab defaults)",
            format!(
                "expected the LSTM at 95 % or more and 20 points above the RNN; got LSTM {:.1} %, RNN {:.1} %",
                100.0 * lstm.accuracy,
                100.0 * rnn.accuracy
            ),
        )
    }
}

check! {
    fn the_character_model_learns_and_refuses_unknown_characters(exercise = "tempered", timeout_s = 300) {
        let text =
            wb_models::moby_dick().map_err(|e| Failure::new("reading moby_dick", e.to_string()))?;
        let corpus = Corpus::new(&text).called("Corpus::new")?;
        let cfg = CharConfig {
            hidden: 64,
            seq_len: 32,
            steps: 80,
            ..CharConfig::default()
        };
        let trained = train_char_lstm(&corpus, &cfg, false, None).called("train_char_lstm")?;
        // Character frequencies alone give the unigram entropy; the model must beat it.
        let mut counts = vec![0f64; corpus.vocab.len()];
        for &id in &corpus.train {
            counts[id as usize] += 1.0;
        }
        let n = corpus.train.len() as f64;
        let unigram: f64 = counts
            .iter()
            .filter(|&&c| c > 0.0)
            .map(|&c| -(c / n) * (c / n).ln())
            .sum();
        ensure(
            trained.valid_loss < unigram - 0.2,
            "validation loss after 80 steps (64 units)",
            format!(
                "expected below the unigram entropy {unigram:.3} − 0.2 nats, got {:.3}",
                trained.valid_loss
            ),
        )?;
        let s =
            generate(&trained.model, &corpus.vocab, "The whale", 40, 0.8, 1).called("generate")?;
        ensure(
            s.chars().count() == 40,
            "40 sampled characters",
            format!("got {} characters", s.chars().count()),
        )?;
        let e = expect_err(
            "a prompt with a character outside the vocabulary",
            generate(&trained.model, &corpus.vocab, "The whale 🐋", 5, 0.8, 1),
        )?;
        ensure(
            e.contains("🐋") || e.contains("1F40B"),
            "the error names the unknown character",
            e,
        )
    }
}
