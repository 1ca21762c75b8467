//! The lab's tools: `measure-llm` (SmolLM2's service times, written to data/) and `size` (how
//! many replicas M/M/c says a load needs).

use anyhow::Result;
use clap::Subcommand;
use std::time::Instant;
use wb_llm::chat::Message;
use wb_llm::{GenerateOptions, LocalModel, WeightFormat};
use week30_autoscaling_gpu::measure::{LlmTimes, PROMPTS};
use week30_autoscaling_gpu::{erlang, lab_dir};

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Time SmolLM2 answering chat requests one at a time (as one replica serves them) and
    /// write data/llm-service-times.json, which the traffic day replays.
    MeasureLlm {
        /// Requests to time (the prompts repeat with different sampling seeds)
        #[arg(long, default_value_t = 96, value_parser = wb_lab::at_least_one)]
        requests: usize,
        /// The most tokens an answer may have
        #[arg(long, default_value_t = 128, value_parser = wb_lab::at_least_one)]
        max_tokens: usize,
    },
    /// The fewest replicas for which a share of requests waits at most a given time (M/M/c)
    Size {
        /// Arrivals per second
        #[arg(long)]
        rate: f64,
        /// Mean service time of one request, milliseconds
        #[arg(long)]
        service_ms: f64,
        /// The longest acceptable wait in the queue, milliseconds
        #[arg(long, default_value_t = 100.0)]
        max_wait_ms: f64,
        /// The share of requests that must wait no longer
        #[arg(long, default_value_t = 0.99)]
        fraction: f64,
    },
}

pub fn run(command: Command) -> Result<()> {
    match command {
        Command::MeasureLlm {
            requests,
            max_tokens,
        } => measure_llm(requests, max_tokens),
        Command::Size {
            rate,
            service_ms,
            max_wait_ms,
            fraction,
        } => {
            let mu = 1e3 / service_ms;
            let c = erlang::replicas_for(rate, mu, max_wait_ms / 1e3, fraction)?;
            let p = erlang::mmc(rate, mu, c)?;
            println!(
                "{c} replicas: utilisation {:.1} %, P(wait) {:.3}, mean wait {:.1} ms, \
                 P(wait > {max_wait_ms} ms) {:.4}",
                100.0 * p.utilisation,
                p.p_wait,
                1e3 * p.mean_wait,
                erlang::p_wait_over(rate, mu, c, max_wait_ms / 1e3)?
            );
            Ok(())
        }
    }
}

fn measure_llm(requests: usize, max_tokens: usize) -> Result<()> {
    let mut model = LocalModel::smollm2(WeightFormat::Quantized, &mut |s| eprintln!("{s}"))?;
    let mut seconds = Vec::new();
    let mut completion_tokens = Vec::new();
    let temperature = 0.7;
    for i in 0..requests {
        let messages = [Message::user(PROMPTS[i % PROMPTS.len()])];
        let prompt = model.chat_prompt(&messages)?;
        let opts = GenerateOptions {
            max_tokens,
            temperature,
            seed: i as u64,
            ..GenerateOptions::default()
        };
        let start = Instant::now();
        let g = model.generate(&prompt, &opts, &mut |_| true)?;
        seconds.push(start.elapsed().as_secs_f64());
        completion_tokens.push(g.tokens.len());
        eprintln!(
            "{:>3}/{requests}: {:.3} s, {} tokens",
            i + 1,
            seconds[i],
            g.tokens.len()
        );
    }
    let times = LlmTimes {
        model: "SmolLM2-135M-Instruct Q4_1 (wb-llm, CPU)".into(),
        measured: today(),
        machine: format!(
            "{} logical CPUs, {}",
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            std::env::consts::ARCH
        ),
        max_tokens,
        temperature,
        seconds,
        completion_tokens,
    };
    let path = lab_dir().join("data/llm-service-times.json");
    std::fs::create_dir_all(path.parent().unwrap_or(&lab_dir()))?;
    let part = path.with_extension("json.part");
    std::fs::write(&part, serde_json::to_string_pretty(&times)? + "\n")?;
    std::fs::rename(&part, &path)?;
    println!("wrote {}", wb_lab::display_path(&path));
    Ok(())
}

/// Today's date (UTC) as YYYY-MM-DD, from the system clock (days to civil date: H. Hinnant's
/// algorithm).
fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}
