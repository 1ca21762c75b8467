//! Week 23: `cargo run -p week23-finetuning` runs the whole lab: SmolLM2 in f32 judges the
//! subject lines of SpamAssassin e-mails zero-shot and few-shot, then learns the task twice,
//! with LoRA adapters on its attention and with every weight; each is measured (loss, accuracy,
//! trainable parameters, step time, peak memory), and the adapters are checked, merged,
//! unmerged, saved alone and loaded back.

mod report;

use anyhow::{Context, Result};
use candle_core::quantized::gguf_file;
use clap::Parser;
use report::*;
use std::time::Instant;
use wb_lab::{Lab, LabArgs};
use week23_finetuning::baseline::WordBayes;
use week23_finetuning::data::{self, Prompter, Splits};
use week23_finetuning::lora::{Lora, LoraConfig, lora_parameters};
use week23_finetuning::tune::{AnswerTask, score};
use week23_finetuning::wb_llm::ChatTokenizer;
use week23_finetuning::wb_llm::trainable::{Projection, TrainableLlama};
use week23_finetuning::{memory_mib, peak_memory_mib, reset_peak_memory};

/// Week 23: fine-tuning — LoRA from scratch on SmolLM2, against a full fine-tune and
/// prompting, on spam or ham by the subject line.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Training e-mails per class (spam, ham)
    #[arg(long, default_value_t = 64, value_parser = wb_lab::at_least_one)]
    train_per_class: usize,
    /// Test e-mails per class
    #[arg(long, default_value_t = 40, value_parser = wb_lab::at_least_one)]
    test_per_class: usize,
    /// Examples in the few-shot prompt (alternating spam, ham)
    #[arg(long, default_value_t = 2)]
    shots: usize,
    /// Passes over the training e-mails
    #[arg(long, default_value_t = 1, value_parser = wb_lab::at_least_one)]
    epochs: usize,
    /// Prompts per training step
    #[arg(long, default_value_t = 8, value_parser = wb_lab::at_least_one)]
    batch: usize,
    /// LoRA's rank
    #[arg(long, default_value_t = 8, value_parser = wb_lab::at_least_one)]
    rank: usize,
    /// LoRA's alpha (the update is scaled by alpha / rank)
    #[arg(long, default_value_t = 16.0)]
    alpha: f64,
    /// The projections that get adapters, comma-separated: q, k, v, o, gate, up, down
    #[arg(long, default_value = "q,v", value_delimiter = ',', value_parser = projection)]
    targets: Vec<Projection>,
    /// LoRA's learning rate (AdamW)
    #[arg(long, default_value_t = 2e-3)]
    lora_lr: f64,
    /// The full fine-tune's learning rate (AdamW)
    #[arg(long, default_value_t = 2e-5)]
    full_lr: f64,
    /// Seeds the splits, the adapters' A and the batches
    #[arg(long, default_value_t = 23)]
    seed: u64,
    #[command(flatten)]
    lab: LabArgs,
}

/// A projection by its short name.
fn projection(s: &str) -> Result<Projection, String> {
    let all = ["q", "k", "v", "o", "gate", "up", "down"];
    all.iter()
        .position(|n| *n == s.trim())
        .map(|i| Projection::ALL[i])
        .ok_or_else(|| format!("expected one of {}, got {s:?}", all.join(", ")))
}

// fn main: parses Args and runs `run` on the harness, under the package's name.
wb_lab::main!("Week 23 — fine-tuning: LoRA from scratch", run);

/// Prompts scored at once.
const EVAL_BATCH: usize = 16;

fn run(args: &Args, lab: &mut Lab) -> Result<Report> {
    let progress = lab.progress();
    let mut say = |m: &str| {
        if progress {
            eprintln!("{m}")
        }
    };
    if !(args.lora_lr > 0.0 && args.full_lr > 0.0) {
        anyhow::bail!("--lora-lr and --full-lr must be positive");
    }
    let lora_config = LoraConfig {
        rank: args.rank,
        alpha: args.alpha,
        targets: args.targets.clone(),
    };
    lora_config.check()?;
    let (base, prompter) = lab.timed("load", || load(&mut say))?;
    let emails = data::emails()?;
    let splits = data::splits(
        &prompter,
        &emails,
        args.train_per_class,
        args.test_per_class,
        args.shots,
        args.seed,
    )?;
    let parameters = base.parameters();

    let started = Instant::now();
    let bayes = WordBayes::fit(&splits.train)?.accuracy(&splits.test);
    let bayes_ms = started.elapsed().as_secs_f64() * 1e3;
    say("zero-shot and few-shot");
    let zero = lab.timed("zero_shot", || {
        score(&base, &prompter, &splits.test, &[], EVAL_BATCH)
    })?;
    let prefix = prompter.shots(&splits.shots)?;
    let few = lab.timed("few_shot", || {
        score(&base, &prompter, &splits.test, &prefix, EVAL_BATCH)
    })?;

    say("LoRA");
    let adapter_dir = lab.plots_dir().join("adapter");
    let (lora_row, lora_losses, adapter) = lab.timed("lora", || {
        train_lora(args, &base, &prompter, &splits, lora_config, adapter_dir)
    })?;
    say("full fine-tune");
    let (full_row, full_losses) =
        lab.timed("full", || train_full(args, &base, &prompter, &splits))?;

    let plots = plot_losses(lab, &lora_losses, &full_losses, args.batch, &adapter)?;
    lab.saved(plots);
    Ok(Report {
        model_parameters: parameters,
        layers: base.config.layers,
        vocab: base.config.vocab,
        train: splits.train.len(),
        test: splits.test.len(),
        dropped: splits.dropped,
        shots: splits.shots.len(),
        steps: lora_losses.len(),
        batch: args.batch,
        epochs: args.epochs,
        zero_shot: Row::prompted("zero-shot", zero),
        few_shot: Row::prompted(&format!("few-shot ({} examples)", splits.shots.len()), few),
        lora: lora_row,
        full: full_row,
        adapter,
        bayes_accuracy: bayes,
        bayes_ms,
    })
}

/// SmolLM2 in f32 and its tokenizer, from the model cache.
fn load(say: &mut dyn FnMut(&str)) -> Result<(TrainableLlama, Prompter)> {
    use wb_data::models;
    let dir = models::ensure_model(&models::SMOLLM2, say)?;
    let path = dir.join(models::SMOLLM2.files[0].name);
    let mut file =
        std::fs::File::open(&path).with_context(|| format!("opening {}", path.display()))?;
    let ct = gguf_file::Content::read(&mut file)
        .with_context(|| format!("reading {}", path.display()))?;
    let tokenizer = ChatTokenizer::from_gguf(&ct)?;
    let model = TrainableLlama::from_gguf(&ct, &mut file)?;
    Ok((model, Prompter::new(tokenizer)?))
}

/// Trains LoRA adapters on a copy of the base, checks them against the base and themselves
/// (B = 0, merged vs unmerged, saved and loaded), and scores the result.
fn train_lora(
    args: &Args,
    base: &TrainableLlama,
    prompter: &Prompter,
    splits: &Splits,
    config: LoraConfig,
    dir: std::path::PathBuf,
) -> Result<(Row, Vec<f64>, AdapterChecks)> {
    let mut model = base.clone();
    let probe: Vec<Vec<u32>> = splits.test[..8.min(splits.test.len())]
        .iter()
        .map(|x| x.tokens.clone())
        .collect();
    let base_logits = base.next_logits(&probe)?;
    let (rank, targets) = (config.rank, config.targets.clone());
    let mut lora = Lora::attach(&mut model, config, args.seed)?;
    let b_zero_diff = max_diff(&model.next_logits(&probe)?, &base_logits)?;
    let vars = lora.vars();
    let trainable = lora.trainable_parameters();
    let closed_form = lora_parameters(base, rank, &targets);
    reset_peak_memory();
    let start = memory_mib();
    let (report, losses) = fit(args, &model, prompter, splits, &vars, args.lora_lr)?;
    let memory = start.zip(peak_memory_mib());
    let score = score(&model, prompter, &splits.test, &[], EVAL_BATCH)?;

    // Merged equals unmerged; unmerging gives the base weights back.
    let unmerged = model.next_logits(&probe)?;
    let q0 = model.linear(0, targets[0])?.weight().clone();
    lora.merge(&mut model)?;
    let merged_diff = max_diff(&model.next_logits(&probe)?, &unmerged)?;
    let merged_shift = max_diff(model.linear(0, targets[0])?.weight(), &q0)?;
    lora.unmerge(&mut model)?;
    let unmerge_diff = max_diff(model.linear(0, targets[0])?.weight(), &q0)?;

    // Saved alone, loaded onto a fresh copy of the base.
    let started = Instant::now();
    let bytes = lora.save(&dir)?;
    let mut fresh = base.clone();
    Lora::load(&mut fresh, &dir)?;
    let load_ms = started.elapsed().as_secs_f64() * 1e3;
    let loaded_diff = max_diff(&fresh.next_logits(&probe)?, &unmerged)?;
    let row = Row::trained("LoRA", trainable, base.parameters(), &report, memory, score);
    let checks = AdapterChecks {
        rank,
        alpha: args.alpha,
        targets: targets
            .iter()
            .map(|p| week23_finetuning::lora::short_name(*p).to_string())
            .collect(),
        closed_form,
        b_zero_diff,
        merged_diff,
        merged_shift,
        unmerge_diff,
        loaded_diff,
        adapter_bytes: bytes,
        dir: wb_lab::display_path(&dir),
        save_load_ms: load_ms,
    };
    Ok((row, losses, checks))
}

/// Every weight of a copy of the base trained.
fn train_full(
    args: &Args,
    base: &TrainableLlama,
    prompter: &Prompter,
    splits: &Splits,
) -> Result<(Row, Vec<f64>)> {
    let mut model = base.clone();
    let vars = model.unfreeze()?;
    let trainable = vars.iter().map(|(_, v)| v.elem_count()).sum();
    reset_peak_memory();
    let start = memory_mib();
    let (report, losses) = fit(args, &model, prompter, splits, &vars, args.full_lr)?;
    let memory = start.zip(peak_memory_mib());
    model.freeze();
    let score = score(&model, prompter, &splits.test, &[], EVAL_BATCH)?;
    let row = Row::trained(
        "full fine-tune",
        trainable,
        base.parameters(),
        &report,
        memory,
        score,
    );
    Ok((row, losses))
}

/// `wb_train::fit` on the answer loss, one constant learning rate.
fn fit(
    args: &Args,
    model: &TrainableLlama,
    prompter: &Prompter,
    splits: &Splits,
    vars: &wb_train::NamedVars,
    lr: f64,
) -> Result<(wb_train::FitReport, Vec<f64>)> {
    let mut task = AnswerTask {
        model,
        prompter,
        train: &splits.train,
        losses: Vec::new(),
    };
    let mut opt = wb_train::adamw(vars, lr)?;
    let mut cfg =
        wb_train::FitConfig::new(args.epochs, args.batch, wb_train::LrSchedule::constant(lr)?);
    cfg.seed = args.seed;
    cfg.progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let report = wb_train::fit(&mut task, vars, &mut opt, splits.train.len(), &cfg)?;
    Ok((report, task.losses))
}

/// The largest absolute difference between two tensors of the same shape.
fn max_diff(a: &candle_core::Tensor, b: &candle_core::Tensor) -> Result<f64> {
    Ok((a - b)?.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()? as f64)
}
