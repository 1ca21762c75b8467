//! Runs the week 12 lab end to end: `cargo run -p week12-rnn -- --help`.

mod report;

use anyhow::Result;
use candle_core::{DType, Device, Tensor};
use candle_nn::VarMap;
use candle_nn::rnn::RNN;
use clap::Parser;
use report::*;
use wb_lab::{Lab, LabArgs};
use wb_plot::{LegendPosition, LinePlot, Series};
use week12_rnn::cells::{Cell, Weights, random_sequence, rnn_step, unroll};
use week12_rnn::charlm::{CharConfig, Corpus, generate, train_char_lstm};
use week12_rnn::copy_task::{CopyConfig, train_copy};
use week12_rnn::gradients::mean_gradient_norms;

/// Week 12: RNN and LSTM cells against candle-nn, the gradient through time, the copy task, and
/// a character-level LSTM trained on Moby-Dick.
#[derive(Debug, Parser)]
#[command(version, allow_negative_numbers = true)]
struct Args {
    /// Training steps of the character model (batches of 32 sequences of 64 characters)
    #[arg(long, default_value_t = 300)]
    steps: usize,
    /// Training steps of each copy-task model
    #[arg(long, default_value_t = 600)]
    copy_steps: usize,
    /// Seed of the initial weights, batches and samples
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// (The plots folder also receives the training's metrics log.)
    #[command(flatten)]
    lab: LabArgs,
}

fn max_abs(a: &Tensor, b: &Tensor) -> Result<f32> {
    Ok((a - b)?.abs()?.max_all()?.to_scalar::<f32>()?)
}

const DELAYS: [usize; 4] = [5, 10, 20, 40];

wb_lab::main!("Week 12 — RNNs and LSTMs", run);

fn run(args: &Args, lab: &mut Lab) -> Result<Report> {
    let show = lab.progress();
    let plots_dir = lab.plots_dir().to_path_buf();

    // 1. The cells against candle-nn (LSTM) and against the formula in f64 (RNN). ---------------
    let varmap = VarMap::new();
    let vb = wb_train::init::seeded(&varmap, args.seed, DType::F32, &Device::Cpu);
    let theirs = candle_nn::lstm(5, 6, Default::default(), vb.pp("lstm"))?;
    let ours = Weights::new(&vb.pp("lstm"), 5, 6, 4)?; // the very same tensors, by name
    let xs = random_sequence(3, 7, 5, args.seed)?;
    let h_ours = unroll(Cell::Lstm, &xs, &ours)?;
    let h_theirs = theirs.states_to_tensor(&theirs.seq(&xs)?)?;
    let lstm_diff = max_abs(&Tensor::stack(&h_ours, 1)?, &h_theirs)?;
    let rnn_w = Weights::new(&vb.pp("rnn"), 5, 6, 1)?;
    let x0 = xs.narrow(1, 0, 1)?.squeeze(1)?;
    let h0 = random_sequence(3, 1, 6, args.seed + 1)?.squeeze(1)?;
    let got = rnn_step(&x0, &h0, &rnn_w)?.to_vec2::<f32>()?;
    let (xv, hv) = (x0.to_vec2::<f32>()?, h0.to_vec2::<f32>()?);
    let (wi, wh) = (rnn_w.w_ih.to_vec2::<f32>()?, rnn_w.w_hh.to_vec2::<f32>()?);
    let (bi, bh) = (rnn_w.b_ih.to_vec1::<f32>()?, rnn_w.b_hh.to_vec1::<f32>()?);
    let mut rnn_diff = 0f64;
    for b in 0..3 {
        for j in 0..6 {
            let mut z = f64::from(bi[j]) + f64::from(bh[j]);
            z += (0..5)
                .map(|k| f64::from(xv[b][k]) * f64::from(wi[j][k]))
                .sum::<f64>();
            z += (0..6)
                .map(|k| f64::from(hv[b][k]) * f64::from(wh[j][k]))
                .sum::<f64>();
            rnn_diff = rnn_diff.max((z.tanh() - f64::from(got[b][j])).abs());
        }
    }

    // 2. The gradient through time. ----------------------------------------------------------------
    let time = 64;
    let g_rnn = mean_gradient_norms(Cell::Rnn, time, 32, 8, args.seed, None)?;
    let g_lstm = mean_gradient_norms(Cell::Lstm, time, 32, 8, args.seed, None)?;
    let g_lstm1 = mean_gradient_norms(Cell::Lstm, time, 32, 8, args.seed, Some(1.0))?;
    let g_lstm3 = mean_gradient_norms(Cell::Lstm, time, 32, 8, args.seed, Some(3.0))?;

    // 3. The copy task. ------------------------------------------------------------------------------
    let copy_cfg = CopyConfig {
        steps: args.copy_steps,
        seed: args.seed,
        ..CopyConfig::default()
    };
    let mut copies = Vec::new();
    for cell in [Cell::Rnn, Cell::Lstm] {
        for delay in DELAYS {
            copies.push(train_copy(cell, delay, &copy_cfg)?);
        }
    }

    // 4. A character-level LSTM on Moby-Dick. -----------------------------------------------------
    let text = wb_models::moby_dick()?;
    let corpus = Corpus::new(&text)?;
    let counts = corpus
        .train
        .iter()
        .fold(vec![0usize; corpus.vocab.len()], |mut c, &id| {
            c[id as usize] += 1;
            c
        });
    let n = corpus.train.len() as f64;
    let unigram: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| -(c as f64 / n) * (c as f64 / n).ln())
        .sum();
    let cfg = CharConfig {
        steps: args.steps,
        seed: args.seed,
        ..CharConfig::default()
    };
    std::fs::create_dir_all(&plots_dir)?;
    let metrics_path = plots_dir.join("char_lstm_metrics.jsonl");
    let trained = train_char_lstm(&corpus, &cfg, show, Some(&metrics_path))?;
    let samples = [0.5, 1.0, 1.5]
        .iter()
        .map(|&temperature| {
            let text = generate(
                &trained.model,
                &corpus.vocab,
                "Call me ",
                160,
                temperature,
                args.seed,
            )?;
            Ok(Sample { temperature, text })
        })
        .collect::<Result<Vec<_>>>()?;
    let log = wb_train::read_metrics(&metrics_path)?;

    // 5. Plots. ----------------------------------------------------------------------------------
    let curve = |v: &[f64]| -> Vec<(f64, f64)> {
        v.iter().enumerate().map(|(d, &g)| (d as f64, g)).collect()
    };
    lab.saved(
        LinePlot::new(
            "How much the last step's loss depends on earlier inputs (untrained, 32 units)",
            "distance in time steps between the input and the loss",
            "‖∂L/∂x_t‖ (log scale, mean of 8)",
        )
        .series(Series::new("RNN (tanh)", curve(&g_rnn)))
        .series(Series::new(
            "LSTM, PyTorch's initialisation",
            curve(&g_lstm),
        ))
        .series(Series::new("LSTM, forget bias 1", curve(&g_lstm1)))
        .series(Series::new("LSTM, forget bias 3", curve(&g_lstm3)))
        .log_y(true)
        .legend(LegendPosition::UpperRight)
        .save(&plots_dir, "gradient_vs_distance")?,
    );
    let mut copy_plot = LinePlot::new(
        &format!(
            "Copy task: recall a symbol after a delay ({} training steps)",
            args.copy_steps
        ),
        "delay (time steps)",
        "test accuracy (%; chance 25 %)",
    );
    for cell in [Cell::Rnn, Cell::Lstm] {
        copy_plot = copy_plot.series(Series::new(
            cell.name(),
            copies
                .iter()
                .filter(|c| c.cell == cell)
                .map(|c| (c.delay as f64, 100.0 * c.accuracy))
                .collect(),
        ));
    }
    lab.saved(
        copy_plot
            .markers(true)
            .legend(LegendPosition::LowerLeft)
            .save(&plots_dir, "copy_task")?,
    );
    let losses: Vec<(f64, f64)> = log
        .iter()
        .filter_map(|r| r.values.get("loss").map(|&l| (r.step as f64, l)))
        .collect();
    lab.saved(
        LinePlot::new(
            "Character LSTM on Moby-Dick: training loss (from the metrics log)",
            "step (32 sequences of 64 characters)",
            "cross-entropy (nats per character)",
        )
        .series(Series::new("training loss", losses))
        .points(Series::new(
            "validation loss at the end",
            vec![(args.steps as f64, trained.valid_loss)],
        ))
        .series(Series::new(
            "unigram baseline (character frequencies)",
            vec![(0.0, unigram), (args.steps as f64, unigram)],
        ))
        .save(&plots_dir, "char_lstm_loss")?,
    );

    lab.saved([metrics_path]);
    lab.record_ms("char_training", 1000.0 * trained.report.seconds);
    Ok(Report {
        lstm_vs_candle_max_abs_diff: lstm_diff,
        rnn_vs_formula_max_abs_diff: rnn_diff,
        gradient_norms: GradientNorms {
            rnn: g_rnn,
            lstm: g_lstm,
            lstm_forget_bias_1: g_lstm1,
            lstm_forget_bias_3: g_lstm3,
        },
        copy_steps: args.copy_steps,
        copy_forget_bias: copy_cfg.forget_bias,
        copy_task: copies
            .iter()
            .map(|c| CopyRun {
                cell: c.cell.name(),
                delay: c.delay,
                accuracy: c.accuracy,
                seconds: c.seconds,
            })
            .collect(),
        char_lstm: CharLstm {
            vocabulary: corpus.vocab.len(),
            parameters: trained.model.config.parameters(),
            steps: args.steps,
            valid_loss: trained.valid_loss,
            unigram_loss: unigram,
            chars_per_second: trained.chars_per_second,
            train_seconds: trained.report.seconds,
            samples,
        },
    })
}
