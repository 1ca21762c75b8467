//! The report of the lab: its typed results (the JSON of `--json`) and how they read (`Display`).

use anyhow::Result;
use serde::Serialize;
use std::fmt;
use std::path::PathBuf;
use wb_lab::Lab;
use week23_finetuning::tune::Score;

/// One way of getting the model to do the task.
#[derive(Debug, Serialize)]
pub struct Row {
    pub method: String,
    pub trainable: usize,
    /// Trainable numbers as a share of the model's weights.
    pub trainable_share: f64,
    pub steps: u64,
    pub step_ms: f64,
    /// Resident memory when training started and its peak during training (MiB), where /proc
    /// tells.
    pub memory_mib: Option<(f64, f64)>,
    pub accuracy: f64,
    pub loss: f64,
    pub said_spam: f64,
    pub prompt_tokens: f64,
}

impl Row {
    pub fn prompted(method: &str, s: Score) -> Self {
        Self {
            method: method.into(),
            trainable: 0,
            trainable_share: 0.0,
            steps: 0,
            step_ms: 0.0,
            memory_mib: None,
            accuracy: s.accuracy,
            loss: s.loss,
            said_spam: s.said_spam,
            prompt_tokens: s.prompt_tokens,
        }
    }

    pub fn trained(
        method: &str,
        trainable: usize,
        parameters: usize,
        fit: &wb_train::FitReport,
        memory_mib: Option<(f64, f64)>,
        s: Score,
    ) -> Self {
        Self {
            method: method.into(),
            trainable,
            trainable_share: trainable as f64 / parameters as f64,
            steps: fit.steps,
            step_ms: fit.seconds * 1e3 / fit.steps.max(1) as f64,
            memory_mib,
            accuracy: s.accuracy,
            loss: s.loss,
            said_spam: s.said_spam,
            prompt_tokens: s.prompt_tokens,
        }
    }
}

/// What the adapters were checked for after training.
#[derive(Debug, Serialize)]
pub struct AdapterChecks {
    pub rank: usize,
    pub alpha: f64,
    pub targets: Vec<String>,
    /// `rank·(in + out)` per adapted projection, for every block.
    pub closed_form: usize,
    /// Largest logit difference, base vs base with fresh adapters (B = 0).
    pub b_zero_diff: f64,
    /// Largest logit difference, merged vs unmerged.
    pub merged_diff: f64,
    /// Largest change of block 0's first adapted weight by merging (the update is real).
    pub merged_shift: f64,
    /// Largest difference of that weight after merge + unmerge vs before.
    pub unmerge_diff: f64,
    /// Largest logit difference, adapters saved and loaded onto a fresh base vs trained.
    pub loaded_diff: f64,
    pub adapter_bytes: u64,
    pub dir: String,
    #[serde(skip)]
    pub save_load_ms: f64,
}

/// The lab's results.
#[derive(Debug, Serialize)]
pub struct Report {
    pub model_parameters: usize,
    pub layers: usize,
    pub vocab: usize,
    pub train: usize,
    pub test: usize,
    pub dropped: usize,
    pub shots: usize,
    pub steps: usize,
    pub batch: usize,
    pub epochs: usize,
    pub zero_shot: Row,
    pub few_shot: Row,
    pub lora: Row,
    pub full: Row,
    pub adapter: AdapterChecks,
    /// Naive Bayes over the subject's words, trained on the same e-mails.
    pub bayes_accuracy: f64,
    #[serde(skip)]
    pub bayes_ms: f64,
}

fn pct(x: f64) -> String {
    format!("{:.1} %", 100.0 * x)
}

/// `1234567` as `1,234,567`.
fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "SmolLM2-135M-Instruct in f32: {} weights; spam or ham by the subject line",
            thousands(self.model_parameters)
        )?;
        writeln!(
            f,
            "  {} training and {} test e-mails (half spam), {} few-shot examples; {} e-mails dropped (subject empty, unspellable or seen before)",
            self.train, self.test, self.shots, self.dropped
        )?;
        writeln!(
            f,
            "  training: {} step{} ({} epoch{}), {} prompts a step, AdamW",
            self.steps,
            if self.steps == 1 { "" } else { "s" },
            self.epochs,
            if self.epochs == 1 { "" } else { "s" },
            self.batch
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "{:<24} {:>12} {:>9} {:>10} {:>13} {:>9} {:>10} {:>7} {:>7}",
            "method",
            "trainable",
            "share",
            "ms/step",
            "MiB → peak",
            "accuracy",
            "says spam",
            "loss",
            "tokens"
        )?;
        for r in [&self.zero_shot, &self.few_shot, &self.lora, &self.full] {
            let trained = r.steps > 0;
            writeln!(
                f,
                "{:<24} {:>12} {:>9} {:>10} {:>13} {:>9} {:>10} {:>7.3} {:>7.1}",
                r.method,
                thousands(r.trainable),
                if trained {
                    format!("{:.3} %", 100.0 * r.trainable_share)
                } else {
                    "–".into()
                },
                if trained {
                    format!("{:.0} ms", r.step_ms)
                } else {
                    "–".into()
                },
                r.memory_mib
                    .map_or("–".into(), |(a, b)| format!("{a:.0} → {b:.0}")),
                pct(r.accuracy),
                pct(r.said_spam),
                r.loss,
                r.prompt_tokens
            )?;
        }
        writeln!(
            f,
            "  (accuracy: the answer token likelier than the other; MiB: resident when training started → its peak during training; says spam: share of verdicts that are spam; loss: −log p(answer) over all {} tokens, nats; tokens: mean prompt length)",
            thousands(self.vocab)
        )?;
        writeln!(
            f,
            "naive Bayes over the subject's words, the same training e-mails: accuracy {} (trained and scored in {:.1} ms)",
            pct(self.bayes_accuracy),
            self.bayes_ms
        )?;
        writeln!(f)?;
        let a = &self.adapter;
        writeln!(
            f,
            "LoRA adapters: rank {}, alpha {}, on {} of each of the {} blocks",
            a.rank,
            a.alpha,
            a.targets.join(" and "),
            self.layers
        )?;
        writeln!(
            f,
            "  trainable numbers {} (closed form r·(in + out) per projection: {})",
            thousands(self.lora.trainable),
            thousands(a.closed_form)
        )?;
        writeln!(
            f,
            "  fresh adapters (B = 0) vs the base: largest logit difference {:e}",
            a.b_zero_diff
        )?;
        writeln!(
            f,
            "  merged vs unmerged: largest logit difference {:.1e}; merging moved a weight by up to {:.1e}; unmerged weights within {:.1e} of the base",
            a.merged_diff, a.merged_shift, a.unmerge_diff
        )?;
        writeln!(
            f,
            "  saved alone to {} ({:.2} MB, PEFT names and adapter_config.json), loaded onto a fresh base: largest logit difference {:e} ({:.0} ms)",
            a.dir,
            a.adapter_bytes as f64 / 1e6,
            a.loaded_diff,
            a.save_load_ms
        )?;
        writeln!(
            f,
            "  the full fine-tune's checkpoint would be {:.0} MB in f32",
            self.model_parameters as f64 * 4.0 / 1e6
        )
    }
}

/// The training loss of every step (the batch's mean answer loss, before the step), LoRA and
/// full fine-tune.
pub fn plot_losses(
    lab: &Lab,
    lora: &[f64],
    full: &[f64],
    batch: usize,
    adapters: &AdapterChecks,
) -> Result<Vec<PathBuf>> {
    let steps = |xs: &[f64]| -> Vec<(f64, f64)> {
        xs.iter()
            .enumerate()
            .map(|(i, &y)| ((i + 1) as f64, y))
            .collect()
    };
    let plot = wb_plot::LinePlot::new(
        "Training loss of the answer token, step by step",
        &format!("training step ({batch} prompts each)"),
        "cross-entropy of the answer (nats)",
    )
    .series(wb_plot::Series::new(
        format!(
            "LoRA (rank {} on {})",
            adapters.rank,
            adapters.targets.join(", ")
        ),
        steps(lora),
    ))
    .series(wb_plot::Series::new("full fine-tune", steps(full)).dashed())
    .markers(true)
    .legend(wb_plot::LegendPosition::UpperRight);
    Ok(plot.save(lab.plots_dir(), "loss")?)
}
