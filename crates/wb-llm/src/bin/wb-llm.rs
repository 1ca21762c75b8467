//! The local model from the command line: `cargo run --release -p wb-llm -- chat "Hello"`,
//! `serve` for the OpenAI-compatible server, `bench` for its speed on this machine.

use clap::{Parser, Subcommand};
use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;
use wb_llm::constrain::Node;
use wb_llm::tools;
use wb_llm::{
    ChatModel, Embedder, GenerateOptions, LocalModel, Message, OpenAiClient, WeightFormat,
};

/// SmolLM2-135M-Instruct and all-MiniLM-L6-v2 on this machine's CPU.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Answer one message, streaming the reply: the local model, or any OpenAI-compatible
    /// server with --url
    Chat {
        /// The user's message
        message: String,
        /// A system message
        #[arg(long)]
        system: Option<String>,
        /// A JSON Schema (inline JSON, or @file): the reply is a document valid for it
        #[arg(long)]
        schema: Option<String>,
        /// An OpenAI-compatible server, up to /v1 (e.g. http://127.0.0.1:8080/v1)
        #[arg(long)]
        url: Option<String>,
        /// The model's name on that server
        #[arg(long, default_value = "smollm2-135m-instruct", requires = "url")]
        model: String,
        /// Sent as a bearer token (OpenAI's API needs one)
        #[arg(long, env = "OPENAI_API_KEY", hide_env_values = true)]
        api_key: Option<String>,
        #[arg(long, default_value_t = 256)]
        max_tokens: usize,
        /// 0: greedy
        #[arg(long, default_value_t = 0.0)]
        temperature: f64,
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Tool calls on the 50 prompts of fixtures/tool_calls.jsonl, with and without constrained
    /// decoding: valid JSON, right tool, right arguments, and the masks' cost
    EvalTools {
        /// Only the first N prompts
        #[arg(long)]
        limit: Option<usize>,
        /// New tokens per answer (enough for the longest valid call: the fixture's strings have
        /// at most 60 characters)
        #[arg(long, default_value_t = 120)]
        max_tokens: usize,
        /// Print the results as JSON
        #[arg(long)]
        json: bool,
    },
    /// Serve both models over HTTP with OpenAI's API (/v1/chat/completions, /v1/embeddings,
    /// /v1/models, /healthz) until Ctrl-C or SIGTERM; requests in flight are finished first
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: std::net::SocketAddr,
        /// Requests that may wait for the model; more are refused with 429
        #[arg(long, default_value_t = 8)]
        queue: usize,
        /// Do not load the embedding model
        #[arg(long)]
        no_embeddings: bool,
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

/// Loads the models, then serves until Ctrl-C or SIGTERM.
fn serve(addr: std::net::SocketAddr, queue: usize, embeddings: bool) -> anyhow::Result<()> {
    let chat = LocalModel::smollm2(WeightFormat::default(), &mut say)?;
    let embedder = embeddings.then(|| Embedder::minilm(&mut say)).transpose()?;
    let config = wb_llm::server::Config {
        queue,
        ..Default::default()
    };
    let (app, _stats, worker) = wb_llm::server::router(Box::new(chat), embedder, &config);
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        eprintln!(
            "serving on http://{}/v1 (queue {queue}); Ctrl-C stops",
            listener.local_addr()?
        );
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown_signal())
            .await
    })?;
    // The router is gone: the model thread finishes what it holds and ends.
    worker
        .join()
        .map_err(|_| anyhow::anyhow!("the model thread panicked"))?;
    eprintln!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    eprintln!("shutting down: finishing the requests in flight");
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Chat {
            message,
            system,
            schema,
            url,
            model,
            api_key,
            max_tokens,
            temperature,
            seed,
        } => {
            let mut model: Box<dyn ChatModel> = match url {
                Some(url) => {
                    let client = OpenAiClient::new(&url, &model)?;
                    Box::new(match api_key {
                        Some(key) => client.with_api_key(key),
                        None => client,
                    })
                }
                None => Box::new(LocalModel::smollm2(WeightFormat::default(), &mut say)?),
            };
            let schema: Option<serde_json::Value> = schema
                .map(|s| match s.strip_prefix('@') {
                    Some(path) => std::fs::read_to_string(path)
                        .map_err(|e| anyhow::anyhow!("--schema: cannot read {path}: {e}")),
                    None => Ok(s),
                })
                .transpose()?
                .map(|s| serde_json::from_str(&s))
                .transpose()
                .map_err(|e| anyhow::anyhow!("--schema is not JSON: {e}"))?;
            let mut messages: Vec<Message> = system.into_iter().map(Message::system).collect();
            messages.push(Message::user(message));
            let opts = GenerateOptions {
                max_tokens,
                temperature,
                seed,
                ..Default::default()
            };
            let mut out = std::io::stdout();
            let mut show = |piece: &str| {
                let _ = write!(out, "{piece}");
                let _ = out.flush();
                true
            };
            let reply = match &schema {
                Some(schema) => model.chat_json_stream(&messages, schema, &opts, &mut show)?,
                None => model.chat_stream(&messages, &opts, &mut show)?,
            };
            println!();
            eprintln!(
                "({} prompt tokens, {} generated, {:?})",
                reply.prompt_tokens, reply.completion_tokens, reply.finish
            );
        }
        Command::EvalTools {
            limit,
            max_tokens,
            json,
        } => eval_tools(limit, max_tokens, json)?,
        Command::Serve {
            addr,
            queue,
            no_embeddings,
        } => serve(addr, queue, !no_embeddings)?,
        Command::Bench { tokens, json } => {
            let prompt_text =
                "Explain in a few sentences why the sky is blue, and what changes at sunset.";
            let mut rows = Vec::new();
            let mut prompt_ids = Vec::new();
            for format in [
                WeightFormat::Quantized,
                WeightFormat::F32,
                WeightFormat::AsShipped,
            ] {
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

/// Whether `got` has the expected tool and arguments (numbers by value, strings ignoring case).
fn same_call(got: &serde_json::Value, tool: &str, args: &serde_json::Value) -> (bool, bool) {
    let right_tool = got.get("tool").and_then(|t| t.as_str()) == Some(tool);
    let (Some(got_map), Some(want)) = (got.as_object(), args.as_object()) else {
        return (right_tool, false);
    };
    let same = |a: &serde_json::Value, b: &serde_json::Value| match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => match (a.as_str(), b.as_str()) {
            (Some(x), Some(y)) => x.trim().eq_ignore_ascii_case(y.trim()),
            _ => a == b,
        },
    };
    let right_args = got_map.len() == want.len() + 1
        && want
            .iter()
            .all(|(k, v)| got_map.get(k).is_some_and(|g| same(g, v)));
    (right_tool, right_tool && right_args)
}

fn eval_tools(limit: Option<usize>, max_tokens: usize, json: bool) -> anyhow::Result<()> {
    // `cargo run` sets CARGO_MANIFEST_DIR at run time: the fixture of this checkout, not of the
    // one that compiled the binary (target directories are shared between checkouts).
    let crate_dir = std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(
        || env!("CARGO_MANIFEST_DIR").into(),
        std::path::PathBuf::from,
    );
    let path = crate_dir.join("fixtures/tool_calls.jsonl");
    let cases: Vec<serde_json::Value> = std::fs::read_to_string(&path)?
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let cases = &cases[..limit.unwrap_or(cases.len()).min(cases.len())];
    let tools = tools::example_tools();
    let schema = Node::compile(&tools::call_schema(&tools)?)?;
    let system = tools::system_prompt(&tools);
    let mut model = LocalModel::smollm2(WeightFormat::default(), &mut say)?;
    let opts = GenerateOptions {
        max_tokens,
        ..Default::default()
    };
    // [valid JSON for the schema, right tool, right tool and arguments] per mode
    let mut counts = [[0usize; 3]; 2];
    let (mut mask_ms, mut masked_tokens) = (0.0, 0usize);
    for case in cases {
        let messages = [
            Message::system(system.clone()),
            Message::user(case["prompt"].as_str().unwrap_or("")),
        ];
        let prompt = model.chat_prompt(&messages)?;
        let free = model.generate(&prompt, &opts, &mut |_| true)?;
        let (constrained, ms) = model.generate_json(&prompt, &schema, &opts, &mut |_| true)?;
        mask_ms += ms;
        masked_tokens += constrained.tokens.len() + 1;
        if tools::parse_call(&constrained.text, &schema).is_none_or(|(_, valid)| !valid) {
            eprintln!(
                "not a complete call ({:?} after {} tokens): {}",
                constrained.finish,
                constrained.tokens.len(),
                constrained.text
            );
        }
        for (mode, text) in [free.text.as_str(), constrained.text.as_str()]
            .into_iter()
            .enumerate()
        {
            if let Some((value, valid)) = tools::parse_call(text, &schema) {
                let (tool, args) = same_call(
                    &value,
                    case["tool"].as_str().unwrap_or(""),
                    &case["arguments"],
                );
                counts[mode][0] += usize::from(valid);
                counts[mode][1] += usize::from(tool);
                counts[mode][2] += usize::from(args);
            }
        }
    }
    let n = cases.len();
    let per_token = mask_ms / masked_tokens.max(1) as f64;
    if json {
        let row = |c: [usize; 3]| serde_json::json!({"valid": c[0], "right_tool": c[1], "right_call": c[2]});
        println!(
            "{}",
            serde_json::json!({"prompts": n, "unconstrained": row(counts[0]), "constrained": row(counts[1]), "mask_ms_per_token": per_token})
        );
    } else {
        println!(
            "| {n} tool-use prompts, greedy | valid JSON for the schema | right tool | right tool and arguments |"
        );
        println!("|---|---|---|---|");
        for (name, c) in [("unconstrained", counts[0]), ("constrained", counts[1])] {
            println!(
                "| {name} | {} / {n} | {} / {n} | {} / {n} |",
                c[0], c[1], c[2]
            );
        }
        println!(
            "\nmask: {per_token:.1} ms per generated token (the vocabulary's prefix tree walked once per token)"
        );
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
