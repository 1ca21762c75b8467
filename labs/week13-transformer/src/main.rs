//! Runs the week 13 lab end to end: `cargo run -p week13-transformer -- --help`.

mod plots;
mod report;

use anyhow::{Context, Result};
use candle_core::{D, DType, Device, IndexOp, Tensor};
use clap::Parser;
use report::*;
use std::path::PathBuf;
use wb_data::SplitMix64;
use wb_lab::{Lab, LabArgs};
use wb_models::Gpt;
use week13_transformer::attention::{attention, causal_mask, padding_mask};
use week13_transformer::block::{block, gpt_block_weights, sinusoidal};
use week13_transformer::copy_task::train_copy;
use week13_transformer::train::{Corpus, RunConfig, train_gpt, train_lstm};

/// Week 13: attention with masks, multi-head attention, positions, a pre-LN block; a character
/// GPT trained on Moby-Dick, saved and reloaded; why transformers won, measured.
#[derive(Debug, Parser)]
#[command(version, allow_negative_numbers = true)]
struct Args {
    /// Training steps of the GPT (batches of 32 sequences of 64 characters)
    #[arg(long, default_value_t = 400)]
    steps: usize,
    /// Training steps of each model in the GPT-vs-LSTM race
    #[arg(long, default_value_t = 100)]
    race_steps: usize,
    /// Seed of the initial weights, batches and samples
    #[arg(long, default_value_t = 13)]
    seed: u64,
    /// Folder for the saved model (model.safetensors, config.json) [default: PLOTS/gpt]
    #[arg(long, value_name = "DIR")]
    model_dir: Option<PathBuf>,
    #[command(flatten)]
    lab: LabArgs,
}

fn random(shape: &[usize], rng: &mut SplitMix64) -> Result<Tensor> {
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n).map(|_| rng.next_f64() as f32 * 2.0 - 1.0).collect();
    Ok(Tensor::from_vec(v, shape, &Device::Cpu)?)
}

fn max_abs(a: &Tensor, b: &Tensor) -> Result<f32> {
    Ok((a - b)?.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()?)
}

wb_lab::main!("Week 13 — attention and the transformer", run);

fn run(args: &Args, lab: &mut Lab) -> Result<Report> {
    let model_dir = args
        .model_dir
        .clone()
        .unwrap_or_else(|| lab.plots_dir().join("gpt"));
    // A folder the model cannot be saved to fails now, not after minutes of training.
    let probe = model_dir.join(".writable");
    std::fs::create_dir_all(&model_dir)
        .and_then(|()| std::fs::write(&probe, b""))
        .and_then(|()| std::fs::remove_file(&probe))
        .with_context(|| format!("--model-dir {}: cannot write there", model_dir.display()))?;
    let show = lab.progress();

    // 1. Attention and its masks. ------------------------------------------------------------------
    let mut rng = SplitMix64::new(args.seed);
    let (b, h, t, d) = (2, 2, 6, 4);
    let (q, k, v) = (
        random(&[b, h, t, d], &mut rng)?,
        random(&[b, h, t, d], &mut rng)?,
        random(&[b, h, t, d], &mut rng)?,
    );
    let (_, wc) = attention(&q, &k, &v, Some(&causal_mask(t)?))?;
    let wc = wc.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
    let future: f32 = (0..b * h)
        .flat_map(|p| (0..t).flat_map(move |i| (i + 1..t).map(move |j| (p, i, j))))
        .map(|(p, i, j)| wc[(p * t + i) * t + j])
        .fold(0.0, f32::max);
    let lengths = [6, 4];
    let (_, wp) = attention(&q, &k, &v, Some(&padding_mask(&lengths, t)?))?;
    let padded: f32 = wp
        .i((1, .., .., 4..))?
        .flatten_all()?
        .max(0)?
        .to_scalar::<f32>()?;
    let bad_mask = attention(&q, &k, &v, Some(&causal_mask(t + 1)?))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    let pe = sinusoidal(8, 16)?;

    // 2. A character GPT, saved and reloaded; its block against yours. --------------------------
    let corpus = Corpus::moby_dick()?;
    let cfg = RunConfig {
        steps: args.steps,
        seed: args.seed,
        ..RunConfig::default()
    };
    let (gpt, varmap, trained) = train_gpt(&corpus, &cfg, show)?;
    let params = wb_train::named_vars(&varmap)
        .iter()
        .map(|(_, v)| v.elem_count())
        .sum::<usize>();
    gpt.save(&varmap, &model_dir)?;
    let (reloaded, _) = Gpt::load(&model_dir)?;
    let probe_text = "Call me Ishmael. Some years ago—never mind how long precisely—having little";
    let probe64: String = probe_text.chars().take(64).collect();
    let probe =
        Tensor::new(corpus.vocab.encode(&probe64)?.as_slice(), &Device::Cpu)?.unsqueeze(0)?;
    let (logits, attn) = gpt.forward_with_attention(&probe)?;
    let reload_diff = max_abs(&logits, &reloaded.forward(&probe)?)?;
    // Your block on the GPT's first block's weights, against the library's block.
    let x = random(&[2, 10, 64], &mut rng)?;
    let (ours, _) = block(
        &x,
        &gpt_block_weights(&varmap, 0)?,
        4,
        Some(&causal_mask(10)?),
    )?;
    let (theirs, _) = gpt.blocks[0].forward(&x)?;
    let block_diff = max_abs(&ours, &theirs)?;
    let mut srng = SplitMix64::new(args.seed);
    let samples = [0.5, 0.8]
        .iter()
        .map(|&temperature| {
            let text = gpt.generate(&corpus.vocab, "Call me ", 160, temperature, &mut srng)?;
            Ok(Sample { temperature, text })
        })
        .collect::<Result<Vec<_>>>()?;
    let too_long = Tensor::zeros((1, 65), DType::U32, &Device::Cpu)?;
    let long_err = gpt
        .forward(&too_long)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    let unknown_err = gpt
        .generate(&corpus.vocab, "Call me 🐋", 5, 0.8, &mut srng)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();

    // 3. Why transformers won: the race, and the copy task. -----------------------------------------
    let race = RunConfig {
        steps: args.race_steps,
        ..cfg
    };
    let (_, _, gpt_race) = train_gpt(&corpus, &race, show)?;
    let (lstm, lstm_race) = train_lstm(&corpus, &race, show)?;
    let lstm_params = lstm.config.parameters();
    let copies = [40usize, 100]
        .iter()
        .map(|&delay| {
            let (accuracy, seconds) = train_copy(delay, 150, args.seed)?;
            Ok(CopyRun {
                delay,
                accuracy,
                seconds,
            })
        })
        .collect::<Result<Vec<_>>>()?;

    // 4. Plots: the attention of the last block, the positions, the copy task.
    let last = attn.last().ok_or_else(|| anyhow::anyhow!("no blocks"))?; // [1, heads, 64, 64]
    plots::save(lab, last, &probe64, &copies)?;

    let next = logits.i((0, 63))?.argmax(D::Minus1)?.to_scalar::<u32>()?;
    lab.record_ms("gpt_training", 1000.0 * trained.seconds);
    Ok(Report {
        masks: Masks {
            largest_weight_on_a_future_key: future,
            lengths,
            largest_weight_on_padding: padded,
            wrong_shape_error: bad_mask,
            sinusoidal_position_1: pe.i((1, 0..4))?.to_vec1::<f32>()?,
        },
        gpt: GptRun {
            parameters: params,
            steps: args.steps,
            valid_loss: trained.valid_loss,
            tokens_per_second: trained.tokens_per_second,
            train_seconds: trained.seconds,
            model_dir: wb_lab::display_path(&model_dir),
            reload_max_abs_logit_diff: reload_diff,
            block_vs_library_max_abs_diff: block_diff,
            probe: probe64,
            next_character: corpus.vocab.decode(&[next])?,
            samples,
            too_long_error: long_err,
            unknown_character_error: unknown_err,
        },
        race: Race {
            steps: args.race_steps,
            gpt: RaceRun {
                parameters: params,
                tokens_per_second: gpt_race.tokens_per_second,
                valid_loss: gpt_race.valid_loss,
                seconds: gpt_race.seconds,
            },
            lstm: RaceRun {
                parameters: lstm_params,
                tokens_per_second: lstm_race.tokens_per_second,
                valid_loss: lstm_race.valid_loss,
                seconds: lstm_race.seconds,
            },
        },
        copy_task: copies,
    })
}
