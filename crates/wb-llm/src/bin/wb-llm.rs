//! The local model from the command line: `cargo run --release -p wb-llm -- chat "Hello"`, and
//! `bench` for its speed on this machine.

use clap::{Parser, Subcommand};
use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;
use wb_llm::{ChatModel, Embedder, GenerateOptions, LocalModel, Message, WeightFormat};

/// SmolLM2-135M-Instruct and all-MiniLM-L6-v2 on this machine's CPU.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Answer one message, streaming the reply
    Chat {
        /// The user's message
        message: String,
        /// A system message
        #[arg(long)]
        system: Option<String>,
        #[arg(long, default_value_t = 256)]
        max_tokens: usize,
        /// 0: greedy
        #[arg(long, default_value_t = 0.0)]
        temperature: f64,
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Prefill and decode speed of both weight formats, embedding speed, peak memory
    Bench {
        /// New tokens per generation
        #[arg(long, default_value_t = 64)]
        tokens: usize,
        /// Print the results as JSON (with the prompt's token ids, for bench/llm/compare.sh)
        #[arg(long)]
        json: bool,
    },
}

fn say(line: &str) {
    eprintln!("{line}");
}

/// The peak resident memory of this process, from /proc (Linux), in MB.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Chat {
            message,
            system,
            max_tokens,
            temperature,
            seed,
        } => {
            let mut model = LocalModel::smollm2(WeightFormat::F32, &mut say)?;
            let mut messages: Vec<Message> = system.into_iter().map(Message::system).collect();
            messages.push(Message::user(message));
            let opts = GenerateOptions {
                max_tokens,
                temperature,
                seed,
                ..Default::default()
            };
            let mut out = std::io::stdout();
            let reply = model.chat_stream(&messages, &opts, &mut |piece| {
                let _ = write!(out, "{piece}");
                let _ = out.flush();
                true
            })?;
            println!();
            eprintln!(
                "({} prompt tokens, {} generated, {:?})",
                reply.prompt_tokens, reply.completion_tokens, reply.finish
            );
        }
        Command::Bench { tokens, json } => {
            let prompt_text =
                "Explain in a few sentences why the sky is blue, and what changes at sunset.";
            let mut rows = Vec::new();
            let mut prompt_ids = Vec::new();
            for format in [WeightFormat::F32, WeightFormat::AsShipped] {
                let start = Instant::now();
                let mut model = LocalModel::smollm2(format, &mut say)?;
                let load_s = start.elapsed().as_secs_f64();
                let prompt = model.chat_prompt(&[Message::user(prompt_text)])?;
                // Never stop early: every run generates the same number of tokens.
                let opts = GenerateOptions {
                    max_tokens: tokens,
                    ..Default::default()
                };
                let mut best: Option<wb_llm::Generation> = None;
                for _ in 0..3 {
                    let g = model.generate_exactly(&prompt, &opts)?;
                    if best.as_ref().is_none_or(|b| g.decode_ms < b.decode_ms) {
                        best = Some(g);
                    }
                }
                let g = best.ok_or_else(|| anyhow::anyhow!("no run"))?;
                rows.push(serde_json::json!({
                    "weights": format!("{format:?}"),
                    "load_s": load_s,
                    "prefill_tokens_per_s": 1e3 * g.prompt_tokens as f64 / g.prefill_ms,
                    "decode_tokens_per_s": g.decode_tokens_per_s(),
                    "tokens": g.tokens,
                }));
                prompt_ids = prompt;
            }
            let embedder = Embedder::minilm(&mut say)?;
            let sentences: Vec<String> = (0..64)
                .map(|i| format!("Sentence number {i} is about the weather, ships and whales."))
                .collect();
            let refs: Vec<&str> = sentences.iter().map(String::as_str).collect();
            embedder.embed(&refs[..8])?;
            let start = Instant::now();
            for chunk in refs.chunks(16) {
                embedder.embed(chunk)?;
            }
            let per_s = refs.len() as f64 / start.elapsed().as_secs_f64();
            let peak = peak_rss_mb();
            if json {
                let out = serde_json::json!({
                    "prompt": prompt_ids,
                    "new_tokens": tokens,
                    "threads": std::thread::available_parallelism().map_or(1, |n| n.get()),
                    "runs": rows,
                    "embeddings_per_s": per_s,
                    "peak_rss_mb": peak,
                });
                println!("{}", serde_json::to_string(&out)?);
                return Ok(());
            }
            println!(
                "| weights | load (s) | prompt tokens | prefill (tokens/s) | decode (tokens/s) |"
            );
            println!("|---|---|---|---|---|");
            for r in &rows {
                println!(
                    "| {} | {:.2} | {} | {:.0} | {:.1} |",
                    r["weights"].as_str().unwrap_or("?"),
                    r["load_s"].as_f64().unwrap_or(f64::NAN),
                    prompt_ids.len(),
                    r["prefill_tokens_per_s"].as_f64().unwrap_or(f64::NAN),
                    r["decode_tokens_per_s"].as_f64().unwrap_or(f64::NAN),
                );
            }
            println!("\nembeddings: {per_s:.0} sentences/s (batches of 16)");
            if let Some(mb) = peak {
                println!("peak resident memory of this process: {mb:.0} MB");
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
