//! Week 17: `cargo run -p week17-tokenization` runs the whole lab; `-- bench` measures the
//! encoders' speed (bench/compare_tokenize.sh compares it with Python's tiktoken).

mod report;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use report::*;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use wb_lab::{Lab, LabArgs};
use week17_tokenization::bpe::{self, Bpe, PreTokenizer, Specials, show_token};
use week17_tokenization::context::{Keep, sliding_windows, truncate};
use week17_tokenization::cost::{PriceTable, request_cost};
use week17_tokenization::latency::{self, LatencyPoint};
use week17_tokenization::wb_llm::{LocalModel, WeightFormat};
use week17_tokenization::{MULTILINGUAL, moby_dick, sotu};

/// Week 17: tokens, context windows, cost and latency — byte-level BPE trained from scratch on
/// Moby-Dick and compared with GPT-2's and SmolLM2's tokenizers; truncation and sliding windows;
/// what requests cost; prefill and decode time of the local model with and without its KV cache.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Merges to learn (the vocabulary is 256 bytes + the merges + <|endoftext|>)
    #[arg(long, default_value_t = 4096, value_parser = wb_lab::at_least_one)]
    merges: usize,
    /// Prompt lengths (tokens) at which the local model's latency is measured
    #[arg(long, value_delimiter = ',', default_value = "32,64,128,256,512")]
    contexts: Vec<usize>,
    /// Tokens generated at each prompt length, with and without the KV cache
    #[arg(long, default_value_t = 6)]
    new_tokens: usize,
    #[command(flatten)]
    lab: LabArgs,
}

#[derive(Debug, Clone, Subcommand)]
enum Command {
    /// Encoding speed of the from-scratch GPT-2 encoder and of tiktoken-rs on the same text;
    /// writes the text and GPT-2's ranks (tiktoken's file format) for Python's tiktoken
    Bench {
        /// Folder for moby_dick.txt and r50k_base.tiktoken
        #[arg(long)]
        out: PathBuf,
        /// Times the text is encoded (the best run counts)
        #[arg(long, default_value_t = 5, value_parser = wb_lab::at_least_one)]
        repeat: usize,
    },
}

/// Moby-Dick split where the last tenth begins (at a line break): training text and held-out.
fn split_book(book: &str) -> (&str, &str) {
    let mut at = book.len() * 9 / 10;
    while !book.is_char_boundary(at) {
        at -= 1;
    }
    let cut = book[..at].rfind('\n').unwrap_or(0);
    book.split_at(cut)
}

fn run(cli: &Cli, lab: &mut Lab) -> Result<Report> {
    let book = moby_dick()?;
    let (train_text, held_out) = split_book(&book);
    let pre = PreTokenizer::gpt2();
    let trained = lab.timed("train", || bpe::train(train_text, cli.merges, &pre))?;
    let gpt2 = lab.timed("gpt2_ranks", Bpe::gpt2)?;
    let tiktoken = tiktoken_rs::r50k_base().context("tiktoken-rs r50k_base")?;
    let progress = lab.progress();
    let mut say = |m: &str| {
        if progress {
            eprintln!("{m}")
        }
    };
    let mut smol = lab.timed("load_smollm2", || {
        LocalModel::smollm2(WeightFormat::Quantized, &mut say)
    })?;

    // 1. What training learnt.
    let first_merges = trained.merges()[..12.min(trained.merges().len())]
        .iter()
        .map(|&(a, b)| {
            format!(
                "{} + {}",
                show_token(trained.token_bytes(a).unwrap_or_default()),
                show_token(trained.token_bytes(b).unwrap_or_default())
            )
        })
        .collect();
    let mut longest: Vec<&[u8]> = (256..256 + trained.merges().len() as u32)
        .filter_map(|id| trained.token_bytes(id))
        .collect();
    longest.sort_by_key(|t| std::cmp::Reverse(t.len()));
    let longest = longest
        .iter()
        .take(8)
        .map(|t| String::from_utf8_lossy(t).into_owned())
        .collect();

    // 2. The same texts through three tokenizers.
    let ours_ids = trained.encode_ordinary(held_out)?;
    let gpt2_ids = lab.timed("gpt2_encode", || gpt2.encode_ordinary(held_out))?;
    let tiktoken_ids = tiktoken.encode_ordinary(held_out);
    let gpt2_agrees = gpt2_ids == tiktoken_ids;
    let round_trip = trained.decode(&ours_ids)? == held_out && gpt2.decode(&gpt2_ids)? == held_out;
    let sotu_text = sotu(2021)?;
    let code = include_str!("../texts/word_count.rs");
    let mut texts = vec![
        ("Moby-Dick, last tenth (held out)", held_out.to_string()),
        ("State of the Union 2021", sotu_text),
        ("Rust source (texts/word_count.rs)", code.to_string()),
    ];
    texts.extend(MULTILINGUAL.iter().map(|(l, t)| (*l, t.to_string())));
    let mut counts = Vec::new();
    for (name, text) in &texts {
        counts.push(TokenCounts {
            text: name.to_string(),
            chars: text.chars().count(),
            bytes: text.len(),
            ours: trained.encode_ordinary(text)?.len(),
            gpt2: gpt2.encode_ordinary(text)?.len(),
            smollm2: smol.tokenizer.encode(text).ok().map(|t| t.len()),
        });
    }

    // 3. Special tokens.
    let chat = "Hello<|endoftext|>world";
    let specials = SpecialsDemo {
        text: chat.into(),
        allowed: gpt2.encode(chat, Specials::Allow)?,
        as_text: gpt2.encode(chat, Specials::AsText)?,
        refused: gpt2
            .encode(chat, Specials::Refuse)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default(),
    };

    // 4. Context windows, in SmolLM2's tokens.
    let book_ids = lab.timed("smollm2_encode_book", || smol.tokenizer.encode(&book))?;
    let window = smol.context;
    let overlap = 512;
    let windows = sliding_windows(book_ids.len(), window, overlap)?;
    let sentence = "Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in my purse, I thought I would sail about a little.";
    let sentence_ids = gpt2.encode_ordinary(sentence)?;
    let truncations = [Keep::Head, Keep::Tail, Keep::Middle]
        .into_iter()
        .map(|keep| {
            let kept = truncate(&sentence_ids, 12, keep)?;
            Ok(Truncation {
                keep,
                text: gpt2.decode(&kept).unwrap_or_else(|_| {
                    String::from_utf8_lossy(&gpt2.decode_bytes(&kept).unwrap_or_default())
                        .into_owned()
                }),
            })
        })
        .collect::<Result<Vec<_>>>()?;

    // 5. Latency of the local model.
    let prompt_ids = smol.tokenizer.encode(held_out)?;
    let points = lab.timed("latency", || {
        latency::measure(&mut smol, &prompt_ids, &cli.contexts, cli.new_tokens)
    })?;
    let decode_fit = latency::fit_line(
        &points
            .iter()
            .map(|p| (p.context as f64, p.cached_ms_per_token))
            .collect::<Vec<_>>(),
    )?;

    // 6. Cost.
    let table = PriceTable::shipped()?;
    let (chat_in, chat_out) = (1_500, 300);
    let english = counts
        .iter()
        .find(|c| c.text == "English")
        .map_or(1, |c| c.gpt2);
    let mut costs = Vec::new();
    for p in &table.models {
        // The book in windows of the context less 1,000 tokens of instructions and answer.
        let chunk = p.context.saturating_sub(1_000).max(1);
        let book_windows = sliding_windows(book_ids.len(), chunk, 0)?;
        let book_summary = book_windows
            .iter()
            .map(|w| request_cost(p, w.len(), 500))
            .sum::<Result<f64, _>>()?;
        costs.push(Cost {
            model: p.model.clone(),
            input_per_million: p.input_per_million,
            output_per_million: p.output_per_million,
            context: p.context,
            chat_request: request_cost(p, chat_in, chat_out)?,
            book_summary,
            book_windows: book_windows.len(),
        });
    }

    let plots = plots(lab, &trained, &gpt2, &smol, held_out, &points)?;
    lab.saved(plots);
    Ok(Report {
        merges: trained.merges().len(),
        vocab: trained.vocab_size(),
        train_bytes: train_text.len(),
        held_out_bytes: held_out.len(),
        train_ms: lab.ms("train"),
        first_merges,
        longest,
        gpt2_agrees,
        gpt2_tokens_checked: gpt2_ids.len(),
        round_trip,
        gpt2_mb_per_s: held_out.len() as f64 / 1e3 / lab.ms("gpt2_encode"),
        counts,
        english_gpt2_tokens: english,
        specials,
        book_tokens: book_ids.len(),
        window,
        overlap,
        windows: windows.len(),
        truncations,
        new_tokens: cli.new_tokens,
        latency: points,
        decode_fit,
        chat_in,
        chat_out,
        pricing_note: table.note,
        costs,
    })
}

fn plots(
    lab: &Lab,
    trained: &Bpe,
    gpt2: &Bpe,
    smol: &LocalModel,
    held_out: &str,
    points: &[LatencyPoint],
) -> Result<Vec<PathBuf>> {
    let bytes = held_out.len() as f64;
    let mut curve = Vec::new();
    let mut k = 0;
    while k <= trained.merges().len() {
        let t = trained.truncated(k)?;
        curve.push((k as f64, bytes / t.encode_ordinary(held_out)?.len() as f64));
        k = if k == 0 { 128 } else { k * 2 };
    }
    let last = curve.last().map_or(0.0, |p| p.0);
    let flat = |v: f64| vec![(0.0, v), (last, v)];
    let g = bytes / gpt2.encode_ordinary(held_out)?.len() as f64;
    let s = bytes / smol.tokenizer.encode(held_out)?.len() as f64;
    let mut files = wb_plot::LinePlot::new(
        "Compression on held-out Moby-Dick: bytes per token",
        "merges learnt on the first 90 % (vocabulary = 256 + merges)",
        "bytes per token (higher = fewer tokens)",
    )
    .series(wb_plot::Series::new("BPE trained here", curve))
    .series(wb_plot::Series::new("GPT-2 (50,257 tokens)", flat(g)).dashed())
    .series(wb_plot::Series::new("SmolLM2 (49,152 tokens)", flat(s)).dashed())
    .markers(true)
    .save(lab.plots_dir(), "compression")?;
    let pts = |f: fn(&LatencyPoint) -> f64| {
        points
            .iter()
            .map(|p| (p.context as f64, f(p)))
            .collect::<Vec<_>>()
    };
    files.extend(
        wb_plot::LinePlot::new(
            "SmolLM2-135M on this CPU: time per new token, and prefill",
            "tokens already in the context",
            "milliseconds (log scale)",
        )
        .series(wb_plot::Series::new(
            "without KV cache",
            pts(|p| p.uncached_ms_per_token),
        ))
        .series(wb_plot::Series::new(
            "with KV cache",
            pts(|p| p.cached_ms_per_token),
        ))
        .series(
            wb_plot::Series::new("prefill: time to the first token", pts(|p| p.prefill_ms))
                .dashed(),
        )
        .markers(true)
        .log_y(true)
        .save(lab.plots_dir(), "latency")?,
    );
    Ok(files)
}

/// `bench`: MB/s of the from-scratch encoder and of tiktoken-rs, best of `repeat` runs each.
fn bench(out: &std::path::Path, repeat: usize) -> Result<()> {
    let book = moby_dick()?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let gpt2 = Bpe::gpt2()?;
    std::fs::write(out.join("moby_dick.txt"), &book)?;
    std::fs::write(out.join("r50k_base.tiktoken"), gpt2.to_tiktoken())?;
    let tiktoken = tiktoken_rs::r50k_base().context("tiktoken-rs r50k_base")?;
    let best = |f: &dyn Fn() -> usize| {
        let mut best = f64::INFINITY;
        let mut n = 0;
        for _ in 0..repeat {
            let t = Instant::now();
            n = f();
            best = best.min(t.elapsed().as_secs_f64());
        }
        (book.len() as f64 / 1e6 / best, n)
    };
    let (ours, n_ours) = best(&|| gpt2.encode_ordinary(&book).map_or(0, |v| v.len()));
    let (tk, n_tk) = best(&|| tiktoken.encode_ordinary(&book).len());
    anyhow::ensure!(n_ours == n_tk, "token counts differ: {n_ours} vs {n_tk}");
    println!(
        "{}",
        serde_json::json!({"bytes": book.len(), "tokens": n_ours, "from_scratch_mb_s": ours, "tiktoken_rs_mb_s": tk})
    );
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        None => wb_lab::run(
            "week17-tokenization",
            "Week 17 — tokens, context windows, cost and latency",
            &cli.lab,
            |lab| run(&cli, lab),
        ),
        Some(Command::Bench { out, repeat }) => wb_lab::exit(bench(out, *repeat)),
    }
}
