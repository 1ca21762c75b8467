//! Week 22: `cargo run -p week22-streaming-reliability` runs the whole lab: SmolLM2 behind
//! wb-llm's OpenAI-compatible server, a fault-injecting proxy, and the gateway in front; answers
//! streamed through faults under four retry strategies, an outage with and without a circuit
//! breaker, a client that goes away, retries with and without an idempotency key, and the
//! guardrails measured on SpamAssassin mail.

mod experiments;
mod report;

use anyhow::Result;
use clap::Parser;
use report::*;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use wb_lab::{Lab, LabArgs};
use week22_streaming_reliability::email::{self, Label};
use week22_streaming_reliability::fixtures::{
    KNOWN_INJECTIONS, PARAPHRASED_INJECTIONS, clean_bodies, plant_injections, plant_pii,
};
use week22_streaming_reliability::guard::{PiiKind, find_pii, injection, redact};
use week22_streaming_reliability::wb_llm::{LocalModel, WeightFormat};

/// Week 22: streaming, retries, circuit breakers and guardrails — a gateway in front of the
/// local model, tested through a fault-injecting proxy.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Requests per strategy and fault rate
    #[arg(long, default_value_t = 12, value_parser = wb_lab::at_least_one)]
    requests: usize,
    /// Tokens per answer in the fault experiments
    #[arg(long, default_value_t = 12, value_parser = wb_lab::at_least_one)]
    max_tokens: usize,
    #[command(flatten)]
    lab: LabArgs,
}

// fn main: parses Args and runs `run` on the harness, under the package's name.
wb_lab::main!(
    "Week 22 — streaming, retries, circuit breakers and guardrails",
    run
);

/// Fault rates of the strategy comparison.
const RATES: [f64; 4] = [0.0, 0.2, 0.4, 0.6];
/// The outage window (s) and the request pace.
const OUTAGE: (f64, f64) = (2.0, 5.0);

fn run(args: &Args, lab: &mut Lab) -> Result<Report> {
    let progress = lab.progress();
    let mut say = |m: &str| {
        if progress {
            eprintln!("{m}")
        }
    };
    let guardrails = lab.timed("guardrails", guardrails)?;
    let model = LocalModel::smollm2(WeightFormat::Quantized, &mut say)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let (server, stats) = runtime.block_on(
        week22_streaming_reliability::stack::start_model_server(Box::new(model)),
    )?;
    let (direct, stream) = lab.timed("baseline", || {
        runtime.block_on(experiments::baseline(server, args.max_tokens))
    })?;
    let faults = lab.timed("faults", || {
        runtime.block_on(experiments::faults(
            server,
            &direct,
            &RATES,
            args.requests,
            args.max_tokens,
            &mut say,
        ))
    })?;
    say("an outage");
    let outage = lab.timed("outage", || {
        runtime.block_on(experiments::outage(
            server,
            Duration::from_millis(400),
            20,
            OUTAGE,
        ))
    })?;
    let disconnect = lab.timed("disconnect", || {
        runtime.block_on(experiments::disconnect(server, &stats))
    })?;
    let idempotency = lab.timed("idempotency", || {
        runtime.block_on(experiments::idempotency(server))
    })?;
    let guarded = lab.timed("guarded", || runtime.block_on(experiments::guarded(server)))?;
    let bad_requests = runtime.block_on(experiments::bad_requests(server))?;
    let plots = [
        plot_success(lab, &faults)?,
        plot_attempts(lab, &faults)?,
        plot_outage(lab, &outage, OUTAGE)?,
    ];
    lab.saved(plots.into_iter().flatten());
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(Report {
        stream,
        faults,
        outage,
        outage_window_s: OUTAGE,
        disconnect,
        idempotency,
        guarded,
        bad_requests,
        guardrails,
    })
}

/// An excerpt of `text` around byte `at`.
fn around(text: &str, at: usize) -> String {
    let boundary = |mut i: usize| {
        while !text.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let start = boundary(at.saturating_sub(40));
    let end = boundary((at + 60).min(text.len()));
    format!("…{}…", text[start..end].replace('\n', " "))
}

/// The guardrails on the SpamAssassin mail: false positives of the injection heuristics,
/// planted injections found, personal data in the mail, planted personal data found and
/// redacted.
fn guardrails() -> Result<Guardrails> {
    let mails = email::load()?;
    let (mut ham, mut spam, mut flagged_ham, mut flagged_spam) = (0, 0, 0, 0);
    let mut flagged = Vec::new();
    let mut pii_in_mail: BTreeMap<String, usize> = BTreeMap::new();
    let started = Instant::now();
    let mut bytes = 0;
    for m in &mails {
        let text = format!("{}\n{}", m.subject, m.body);
        bytes += text.len();
        let found = find_pii(&text);
        // Redacted too (and the result dropped), so that the rate timed is the whole guard's.
        let _ = redact(&text, &found);
        for f in &found {
            *pii_in_mail
                .entry(format!("{:?}", f.kind).to_lowercase())
                .or_default() += 1;
        }
        let inj = injection(&text);
        match m.label {
            Label::Ham => {
                ham += 1;
                flagged_ham += usize::from(inj.flagged);
            }
            Label::Spam => {
                spam += 1;
                flagged_spam += usize::from(inj.flagged);
            }
        }
        if inj.flagged {
            let at = week22_streaming_reliability::guard::first_match(&text).unwrap_or(0);
            flagged.push((
                m.id.clone(),
                inj.rules.iter().map(|r| r.to_string()).collect(),
                around(&text, at),
            ));
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let bodies: Vec<String> = mails
        .iter()
        .filter(|m| m.label == Label::Ham)
        .map(|m| m.body.clone())
        .collect();
    let clean = clean_bodies(&bodies, 1500);
    let known = plant_injections(&clean, &KNOWN_INJECTIONS, 10, 1);
    let paraphrased = plant_injections(&clean, &PARAPHRASED_INJECTIONS, 10, 2);
    let count = |texts: &[String]| texts.iter().filter(|t| injection(t).flagged).count();
    let fixtures = plant_pii(&clean[..clean.len().min(300)], 3, 3);
    let mut recall: BTreeMap<PiiKind, (usize, usize)> = BTreeMap::new();
    let (mut invalid_planted, mut invalid_flagged, mut exact) = (0, 0, 0);
    for fx in &fixtures {
        let found = find_pii(&fx.text);
        exact += usize::from(redact(&fx.text, &found) == fx.expected_redaction());
        for p in &fx.planted {
            let hit = found.iter().any(|f| f.start < p.end && p.start < f.end);
            match p.kind {
                Some(kind) => {
                    let e = recall.entry(kind).or_default();
                    e.0 += 1;
                    e.1 += usize::from(
                        found
                            .iter()
                            .any(|f| f.kind == kind && f.start == p.start && f.end == p.end),
                    );
                }
                None => {
                    invalid_planted += 1;
                    invalid_flagged += usize::from(hit);
                }
            }
        }
    }
    Ok(Guardrails {
        ham,
        spam,
        flagged_ham,
        flagged_spam,
        flagged,
        known_found: count(&known),
        known_planted: known.len(),
        paraphrased_found: count(&paraphrased),
        paraphrased_planted: paraphrased.len(),
        pii_in_mail,
        fixtures: fixtures.len(),
        recall: recall
            .into_iter()
            .map(|(k, (planted, found))| PiiRecall {
                kind: format!("{k:?}").to_lowercase(),
                planted,
                found,
            })
            .collect(),
        invalid_planted,
        invalid_flagged,
        exact,
        scan_mb: bytes as f64 / 1e6,
        scan_mb_per_s: bytes as f64 / 1e6 / seconds,
    })
}
