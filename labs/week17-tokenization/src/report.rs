//! The report of the lab: its typed results (the JSON of `--json`) and how they read (`Display`).

use serde::Serialize;
use std::fmt;
use week17_tokenization::context::Keep;
use week17_tokenization::latency::LatencyPoint;

#[derive(Serialize)]
pub struct Report {
    pub merges: usize,
    pub vocab: usize,
    pub train_bytes: usize,
    pub held_out_bytes: usize,
    pub train_ms: f64,
    pub first_merges: Vec<String>,
    pub longest: Vec<String>,
    pub gpt2_agrees: bool,
    pub gpt2_tokens_checked: usize,
    pub round_trip: bool,
    pub gpt2_mb_per_s: f64,
    pub counts: Vec<TokenCounts>,
    pub english_gpt2_tokens: usize,
    pub specials: SpecialsDemo,
    pub book_tokens: usize,
    pub window: usize,
    pub overlap: usize,
    pub windows: usize,
    pub truncations: Vec<Truncation>,
    pub new_tokens: usize,
    pub latency: Vec<LatencyPoint>,
    /// cached decode ms per token ≈ a + b · tokens in context
    pub decode_fit: (f64, f64),
    pub chat_in: usize,
    pub chat_out: usize,
    pub pricing_note: String,
    pub costs: Vec<Cost>,
}

/// One text's length in each tokenizer's tokens.
#[derive(Serialize)]
pub struct TokenCounts {
    pub text: String,
    pub chars: usize,
    pub bytes: usize,
    pub ours: usize,
    pub gpt2: usize,
    /// None: SmolLM2's vocabulary cannot write one of the text's characters.
    pub smollm2: Option<usize>,
}

#[derive(Serialize)]
pub struct SpecialsDemo {
    pub text: String,
    pub allowed: Vec<u32>,
    pub as_text: Vec<u32>,
    pub refused: String,
}

#[derive(Serialize)]
pub struct Truncation {
    pub keep: Keep,
    pub text: String,
}

#[derive(Serialize)]
pub struct Cost {
    pub model: String,
    pub input_per_million: f64,
    pub output_per_million: f64,
    pub context: usize,
    pub chat_request: f64,
    pub book_summary: f64,
    pub book_windows: usize,
}

fn ids(v: &[u32]) -> String {
    let s: Vec<String> = v.iter().map(u32::to_string).collect();
    format!("[{}]", s.join(", "))
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "1. Byte-level BPE trained on the first 90 % of Moby-Dick ({:.2} MB): {} merges, vocabulary {} (with <|endoftext|>), in {:.0} ms",
            self.train_bytes as f64 / 1e6,
            self.merges,
            self.vocab,
            self.train_ms
        )?;
        writeln!(f, "   first merges: {}", self.first_merges.join(", "))?;
        writeln!(f, "   longest tokens: {:?}\n", self.longest)?;
        writeln!(
            f,
            "2. GPT-2's tokenizer from scratch (this lab's encoder, GPT-2's ranks): {} on {} tokens of held-out text ({:.1} MB/s here; bench/compare_tokenize.sh for speed)",
            if self.gpt2_agrees {
                "the same ids as tiktoken-rs"
            } else {
                "DIFFERENT ids from tiktoken-rs"
            },
            self.gpt2_tokens_checked,
            self.gpt2_mb_per_s
        )?;
        writeln!(
            f,
            "   decode(encode(text)) == text for both tokenizers: {}\n",
            self.round_trip
        )?;
        writeln!(
            f,
            "   {:<34} {:>9} {:>11} {:>9} {:>9} {:>8}",
            "text", "chars", "ours", "GPT-2", "SmolLM2", "chars/tok"
        )?;
        for c in &self.counts {
            writeln!(
                f,
                "   {:<34} {:>9} {:>11} {:>9} {:>9} {:>8.2}",
                c.text,
                c.chars,
                c.ours,
                c.gpt2,
                c.smollm2.map_or("cannot".into(), |n| n.to_string()),
                c.chars as f64 / c.gpt2 as f64
            )?;
        }
        writeln!(
            f,
            "   (the same sentence costs {} GPT-2 tokens in English and up to {} in the other languages)\n",
            self.english_gpt2_tokens,
            self.counts
                .iter()
                .rev()
                .take(5)
                .map(|c| c.gpt2)
                .max()
                .unwrap_or(0)
        )?;
        let s = &self.specials;
        writeln!(f, "3. Special tokens in {:?} (GPT-2):", s.text)?;
        writeln!(f, "   allowed  → {}", ids(&s.allowed))?;
        writeln!(f, "   as text  → {}", ids(&s.as_text))?;
        writeln!(f, "   refused  → {}\n", s.refused)?;
        writeln!(
            f,
            "4. Context: Moby-Dick is {} SmolLM2 tokens; its context is {}: {} windows of {} with {} tokens of overlap",
            self.book_tokens, self.window, self.windows, self.window, self.overlap
        )?;
        for t in &self.truncations {
            writeln!(f, "   12 tokens, keep {:<6?}: {:?}", t.keep, t.text)?;
        }
        writeln!(
            f,
            "\n5. SmolLM2-135M on this CPU (greedy; {} new tokens at each prompt length):",
            self.new_tokens
        )?;
        writeln!(
            f,
            "   {:>8} {:>13} {:>17} {:>19} {:>5}",
            "prompt", "prefill", "cached, per token", "uncached, per token", "same"
        )?;
        for p in &self.latency {
            writeln!(
                f,
                "   {:>8} {:>10.1} ms {:>14.2} ms {:>16.2} ms {:>5}",
                p.context,
                p.prefill_ms,
                p.cached_ms_per_token,
                p.uncached_ms_per_token,
                p.same_tokens
            )?;
        }
        let (c, d) = self.decode_fit;
        writeln!(
            f,
            "   decode with the cache ≈ {c:.2} ms + {d:.4} ms × tokens in context, per token (least squares)"
        )?;
        if let Some(p) = self.latency.last() {
            writeln!(
                f,
                "   so a {}-token prompt with a 128-token answer: first token after {:.0} ms, the whole answer after {:.1} s\n",
                p.context,
                p.prefill_ms,
                (p.prefill_ms + 128.0 * (c + d * (p.context as f64 + 64.0))) / 1e3
            )?;
        }
        writeln!(f, "6. Cost ({}):", self.pricing_note)?;
        writeln!(
            f,
            "   {:<14} {:>9} {:>9} {:>9} {:>16} {:>12} {:>20}",
            "model",
            "$/M in",
            "$/M out",
            "context",
            "chat request $",
            "1M chats $",
            "summarise the book $"
        )?;
        for c in &self.costs {
            writeln!(
                f,
                "   {:<14} {:>9.2} {:>9.2} {:>9} {:>16.5} {:>12.0} {:>13.4} ({} win)",
                c.model,
                c.input_per_million,
                c.output_per_million,
                c.context,
                c.chat_request,
                1e6 * c.chat_request,
                c.book_summary,
                c.book_windows
            )?;
        }
        write!(
            f,
            "   (a chat request: {} prompt + {} answer tokens; the book in windows of the context less 1,000 tokens, 500 answer tokens each)",
            self.chat_in, self.chat_out
        )
    }
}
