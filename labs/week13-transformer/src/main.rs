//! Runs the week 13 lab end to end: `cargo run -p week13-transformer -- --help`.

use anyhow::Result;
use candle_core::{D, DType, Device, IndexOp, Tensor};
use clap::Parser;
use serde_json::json;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;
use wb_core::lab::elapsed_ms;
use wb_data::SplitMix64;
use wb_models::Gpt;
use wb_plot::{ImageGrid, LegendPosition, LinePlot, Series};
use week13_transformer::attention::{attention, causal_mask, padding_mask};
use week13_transformer::block::{block, gpt_block_weights, sinusoidal};
use week13_transformer::copy_task::train_copy;
use week13_transformer::train::{Corpus, RunConfig, train_gpt, train_lstm};

/// Week 13: attention with masks, multi-head attention, positions, a pre-LN block; a character
/// GPT trained on Moby-Dick, saved and reloaded; why transformers won, measured.
#[derive(Debug, Parser)]
#[command(version)]
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
    /// Folder for the plots (PNG and SVG)
    #[arg(long, value_name = "DIR", default_value = "output/week13-transformer")]
    plots: PathBuf,
    /// Print the key results as one JSON object instead of the report
    #[arg(long)]
    json: bool,
    /// Also write the JSON results to FILE, and print the report as usual
    #[arg(long, value_name = "FILE", value_parser = wb_core::lab::writable_file)]
    json_out: Option<PathBuf>,
}

fn random(shape: &[usize], rng: &mut SplitMix64) -> Result<Tensor> {
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n).map(|_| rng.next_f64() as f32 * 2.0 - 1.0).collect();
    Ok(Tensor::from_vec(v, shape, &Device::Cpu)?)
}

fn max_abs(a: &Tensor, b: &Tensor) -> Result<f32> {
    Ok((a - b)?.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()?)
}

fn main() -> Result<()> {
    let args = Args::parse();
    let model_dir = args
        .model_dir
        .clone()
        .unwrap_or_else(|| args.plots.join("gpt"));
    let t0 = Instant::now();
    let show = !args.json && std::io::stderr().is_terminal();

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
    let corpus = Corpus::moby_dick().map_err(|e| anyhow::anyhow!(e))?;
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
    gpt.save(&varmap, &model_dir)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (reloaded, _) = Gpt::load(&model_dir).map_err(|e| anyhow::anyhow!("{e}"))?;
    let probe_text = "Call me Ishmael. Some years ago—never mind how long precisely—having little";
    let probe64: String = probe_text.chars().take(64).collect();
    let probe =
        Tensor::new(corpus.vocab.encode(&probe64)?.as_slice(), &Device::Cpu)?.unsqueeze(0)?;
    let (logits, attn) = gpt
        .forward_with_attention(&probe)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let reload_diff = max_abs(
        &logits,
        &reloaded
            .forward(&probe)
            .map_err(|e| anyhow::anyhow!("{e}"))?,
    )?;
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
        .map(|&temp| {
            Ok((
                temp,
                gpt.generate(&corpus.vocab, "Call me ", 160, temp, &mut srng)
                    .map_err(|e| anyhow::anyhow!("{e}"))?,
            ))
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
        .map(|&delay| Ok((delay, train_copy(delay, 150, args.seed)?)))
        .collect::<Result<Vec<_>>>()?;

    // 4. Plots. ------------------------------------------------------------------------------------
    let mut plots = Vec::new();
    let last = attn.last().ok_or_else(|| anyhow::anyhow!("no blocks"))?; // [1, heads, 64, 64]
    let n = 48;
    let mut grid = ImageGrid::new(
        "Last block's attention, first 48 characters (row: query, column: key)",
        2,
    );
    for head in 0..4 {
        let w = last
            .i((0, head))?
            .narrow(0, 0, n)?
            .narrow(1, 0, n)?
            .to_dtype(DType::F32)?;
        let px: Vec<f64> = w
            .flatten_all()?
            .to_vec1::<f32>()?
            .iter()
            .map(|&p| f64::from(p))
            .collect();
        grid = grid.image(format!("head {head}"), n, n, px);
    }
    plots.extend(grid.save(&args.plots, "attention")?);
    let pe_v: Vec<f64> = sinusoidal(64, 64)?
        .flatten_all()?
        .to_vec1::<f32>()?
        .iter()
        .map(|&p| f64::from(p))
        .collect();
    plots.extend(
        ImageGrid::new(
            "Sinusoidal positions: 64 positions (rows) × 64 dimensions (columns)",
            1,
        )
        .diverging(true)
        .image("PE[pos, i]", 64, 64, pe_v)
        .save(&args.plots, "sinusoidal")?,
    );
    plots.extend(
        LinePlot::new(
            "Copy task: a one-block transformer after 150 training steps",
            "delay (time steps)",
            "test accuracy (%)",
        )
        .series(Series::new(
            "transformer, 1 block",
            copies
                .iter()
                .map(|&(d, (a, _))| (d as f64, 100.0 * a))
                .collect(),
        ))
        .legend(LegendPosition::LowerRight)
        .save(&args.plots, "copy_task")?,
    );

    let next = logits.i((0, 63))?.argmax(D::Minus1)?.to_scalar::<u32>()?;
    if args.json || args.json_out.is_some() {
        let out = json!({
            "lab": "week13-transformer",
            "masks": {"largest_weight_on_a_future_key": future, "largest_weight_on_padding": padded},
            "gpt": {"parameters": params, "steps": args.steps, "valid_loss": trained.valid_loss, "tokens_per_second": trained.tokens_per_second,
                    "reload_max_abs_logit_diff": reload_diff, "block_vs_library_max_abs_diff": block_diff,
                    "samples": samples.iter().map(|(t, s)| json!({"temperature": t, "text": s})).collect::<Vec<_>>()},
            "race": {"steps": args.race_steps,
                     "gpt": {"parameters": params, "tokens_per_second": gpt_race.tokens_per_second, "valid_loss": gpt_race.valid_loss},
                     "lstm": {"parameters": lstm_params, "tokens_per_second": lstm_race.tokens_per_second, "valid_loss": lstm_race.valid_loss}},
            "copy_task": copies.iter().map(|&(d, (a, s))| json!({"delay": d, "accuracy": a, "seconds": s})).collect::<Vec<_>>(),
            "timings_ms": {"total": elapsed_ms(t0), "gpt_training": 1000.0 * trained.seconds},
            "plots": plots.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        });
        let text = serde_json::to_string_pretty(&out)?;
        if wb_core::lab::emit_json(&text, args.json, args.json_out.as_deref())? {
            return Ok(());
        }
    }

    println!("Week 13 — attention and the transformer");
    println!("=======================================\n");
    println!("1. Attention with masks (batch 2, 2 heads, 6 positions, head size 4)");
    println!(
        "   causal mask: the largest weight on a future key is {future} (every row sums to 1 over the past)"
    );
    println!(
        "   padding mask, lengths {lengths:?}: the largest weight on sequence 2's padding is {padded}"
    );
    println!("   a mask of the wrong shape: {bad_mask}");
    println!(
        "   sinusoidal positions [8, 16]: position 1 starts {:.4}, {:.4}, {:.4}, {:.4}\n",
        pe.i((1, 0))?.to_scalar::<f32>()?,
        pe.i((1, 1))?.to_scalar::<f32>()?,
        pe.i((1, 2))?.to_scalar::<f32>()?,
        pe.i((1, 3))?.to_scalar::<f32>()?
    );
    println!(
        "2. A character GPT: 2 pre-LN blocks, width 64, 4 heads, context 64, {params} parameters; {} steps ({:.0} ms)",
        args.steps,
        1000.0 * trained.seconds
    );
    println!(
        "   validation loss {:.3} nats/char (week 12's LSTM reached 2.175 in 300 steps)",
        trained.valid_loss
    );
    println!(
        "   your block on the GPT's first block's weights vs the library's block: largest difference {block_diff:.1e}"
    );
    println!(
        "   saved to {} (model.safetensors, config.json) and reloaded: largest logit difference {reload_diff}",
        model_dir.display()
    );
    println!(
        "   after \"{}\" it predicts {:?}",
        probe64,
        corpus.vocab.decode(&[next])?
    );
    for (t, s) in &samples {
        println!("   temperature {t}: \"Call me {}\"", s.replace('\n', " "));
    }
    println!("   a sequence of 65 tokens: {long_err}");
    println!("   a prompt with an emoji: {unknown_err}\n");
    println!(
        "3. Why transformers won: the same {} training steps for each (32 × 64 characters)",
        args.race_steps
    );
    println!(
        "   {:<28} {:>10} {:>16}",
        "model", "parameters", "validation loss"
    );
    println!(
        "   {:<28} {:>10} {:>16.3}",
        "GPT, 2 blocks of 64", params, gpt_race.valid_loss
    );
    println!(
        "   {:<28} {:>10} {:>16.3}",
        "LSTM, 128 units (week 12)", lstm_params, lstm_race.valid_loss
    );
    println!(
        "   training time for the same characters: GPT {:.0} ms, LSTM {:.0} ms (characters per second in --json)",
        1000.0 * gpt_race.seconds,
        1000.0 * lstm_race.seconds
    );
    println!("   copy task (150 steps, 1 block of width 32):");
    for &(d, (a, _)) in &copies {
        println!("     delay {d:>3}: {:.1}% (chance 25 %)", 100.0 * a);
    }
    println!("\nPlots:");
    for p in &plots {
        println!("   {}", p.display());
    }
    Ok(())
}
