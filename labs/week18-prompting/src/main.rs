//! Runs the week 18 lab end to end: `cargo run -p week18-prompting -- --help`.

mod report;

use anyhow::{Context, Result};
use clap::Parser;
use report::*;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use wb_lab::{Lab, LabArgs};
use week18_prompting::email::{self, Email};
use week18_prompting::eval::{self, Approach, Metrics};
use week18_prompting::prompts::{Prompts, select_examples};
use week18_prompting::repair::ask_json;
use week18_prompting::schema::{Triage, schema_of};
use week18_prompting::wb_llm::{
    ChatModel, Embedder, LocalModel, OpenAiClient, ScriptedModel, WeightFormat,
};

/// Week 18: prompt engineering — spam or ham, sender and subject of real e-mails, asked of
/// SmolLM2-135M four ways (zero-shot, few-shot with examples chosen by embedding similarity, JSON
/// asked for and repaired, JSON by constrained decoding), through the ChatModel interface.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// E-mails of each label to answer
    #[arg(long, default_value_t = 3, value_parser = wb_lab::at_least_one)]
    per_class: usize,
    /// E-mails of each label that few-shot examples are chosen from
    #[arg(long, default_value_t = 40, value_parser = wb_lab::at_least_one)]
    pool_per_class: usize,
    /// Examples in a few-shot prompt
    #[arg(long, default_value_t = 2)]
    examples: usize,
    /// Characters of an e-mail's body that a prompt shows
    #[arg(long, default_value_t = 240, value_parser = wb_lab::at_least_one)]
    body_chars: usize,
    /// Samples at each temperature
    #[arg(long, default_value_t = 3, value_parser = wb_lab::at_least_one)]
    samples: usize,
    #[command(flatten)]
    lab: LabArgs,
}

// fn main: parses Args and runs `run` on the harness, under the package's name.
wb_lab::main!(
    "Week 18 — prompt engineering, few-shot vs zero-shot, JSON schemas",
    run
);

fn run(args: &Args, lab: &mut Lab) -> Result<Report> {
    let all = lab.timed("parse_emails", email::load)?;
    let (tasks, pool) = email::task_set(&all, args.per_class, args.pool_per_class, 18)?;
    let prompts = Prompts::new(args.body_chars)?;
    let schema = schema_of::<Triage>();
    let progress = lab.progress();
    let mut say = |m: &str| {
        if progress {
            eprintln!("{m}")
        }
    };

    // Few-shot examples: the pool's e-mails most similar to each task, by MiniLM embeddings.
    let embedder = Embedder::minilm(&mut say)?;
    let text = |e: &Email| format!("{}\n{}", e.subject, e.excerpt(args.body_chars));
    let embed = |emails: &[Email]| -> Result<Vec<Vec<f32>>> {
        let texts: Vec<String> = emails.iter().map(text).collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        Ok(embedder.embed(&refs)?)
    };
    let pool_vectors = lab.timed("embed_pool", || embed(&pool))?;
    let task_vectors = embed(&tasks)?;
    let chosen: Vec<Vec<usize>> = task_vectors
        .iter()
        .map(|q| select_examples(q, &pool_vectors, args.examples))
        .collect::<Result<_, _>>()?;
    let same_label_examples = tasks
        .iter()
        .zip(&chosen)
        .map(|(t, c)| c.iter().filter(|&&i| pool[i].label == t.label).count())
        .sum::<usize>();

    // The four approaches on the local model.
    let mut model = LocalModel::smollm2(WeightFormat::Quantized, &mut say)?;
    let mut metrics = Vec::new();
    let mut zero_shot_texts = Vec::new();
    let mut samples = Vec::new();
    let started = Instant::now();
    for approach in Approach::ALL {
        let mut m = Metrics::new(approach);
        for (task, picks) in tasks.iter().zip(&chosen) {
            let examples: Vec<&Email> = picks.iter().map(|&i| &pool[i]).collect();
            let a = eval::answer(
                &mut model,
                &prompts,
                approach,
                task,
                &examples,
                &schema,
                &eval::options(approach, 0.0, 0),
            )?;
            if approach == Approach::ZeroShot {
                zero_shot_texts.push(a.text.clone());
            }
            if approach == Approach::Constrained && samples.len() < 3 {
                samples.push(Mistake {
                    subject: task.subject.clone(),
                    truth: task.label,
                    right: a.label == Some(task.label),
                    reply: a.text.clone(),
                });
            }
            m.add(task, &a);
        }
        say(&format!("{}: done", approach.name()));
        metrics.push(m);
    }
    lab.record_ms("approaches", started.elapsed().as_secs_f64() * 1e3);

    // Temperature: one e-mail, many samples.
    let study_email = &tasks[0];
    let temperatures = [0.0, 0.7, 1.4];
    let study_examples: Vec<&Email> = chosen[0].iter().map(|&i| &pool[i]).collect();
    let temperature = lab.timed("temperature", || {
        eval::temperature_study(
            &mut model,
            &prompts,
            study_email,
            &study_examples,
            &temperatures,
            args.samples,
            &schema,
        )
    })?;

    // The same conversations over HTTP: a second copy of the model behind the OpenAI-compatible
    // server on a free loopback port, and the official API's client.
    let http = lab.timed("http", || {
        over_http(
            &prompts,
            &tasks[..4.min(tasks.len())],
            &zero_shot_texts,
            &mut say,
        )
    })?;

    // The repair loop against a scripted model: two bad replies, then a valid one.
    let mut scripted = ScriptedModel::new([
        "Sure! The sender is jane@example.com and it looks like spam.".to_string(),
        r#"{"label": "junk", "sender": "jane@example.com", "subject": "Win a prize"}"#.into(),
        r#"{"label": "spam", "sender": "jane@example.com", "subject": "Win a prize"}"#.into(),
    ]);
    let conversation = eval::messages(&prompts, Approach::JsonRepair, &tasks[0], &[])?;
    let repaired = ask_json(
        &mut scripted,
        &prompts,
        &conversation,
        &schema,
        &eval::options(Approach::JsonRepair, 0.0, 0),
        3,
    )?;

    let plots = plots(lab, &metrics, &temperature)?;
    lab.saved(plots);
    Ok(Report {
        usable_emails: all.len(),
        tasks: tasks.len(),
        pool: pool.len(),
        examples: args.examples,
        same_label_examples,
        body_chars: args.body_chars,
        schema: serde_json::to_string(&schema)?,
        metrics,
        constrained_samples: samples,
        study_subject: study_email.subject.clone(),
        study_label: study_email.label,
        temperature,
        http,
        repair: repaired,
        repair_model_saw: scripted.seen.len(),
    })
}

/// Zero-shot over HTTP for `tasks`, compared with the in-process replies.
fn over_http(
    prompts: &Prompts,
    tasks: &[Email],
    local_texts: &[String],
    say: &mut dyn FnMut(&str),
) -> Result<Http> {
    let served = LocalModel::smollm2(WeightFormat::Quantized, say)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let base = format!("http://{}/v1", listener.local_addr()?);
    let (router, _stats, _worker) = week18_prompting::wb_llm::server::router(
        Box::new(served),
        None,
        &week18_prompting::wb_llm::server::Config::default(),
    );
    runtime.spawn(async move { axum::serve(listener, router).await });
    let mut client = OpenAiClient::new(&base, "smollm2-135m-instruct")?
        .with_timeout(Duration::from_secs(120))?;
    let mut same = 0;
    let start = Instant::now();
    for (task, local) in tasks.iter().zip(local_texts) {
        let conv = eval::messages(prompts, Approach::ZeroShot, task, &[])?;
        let reply = client
            .chat(&conv, &eval::options(Approach::ZeroShot, 0.0, 0))
            .with_context(|| format!("POST {base}/chat/completions"))?;
        same += usize::from(&reply.text == local);
    }
    let ms = start.elapsed().as_secs_f64() * 1e3 / tasks.len().max(1) as f64;
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(Http {
        base_url: base,
        requests: tasks.len(),
        same_as_local: same,
        ms_per_request: ms,
    })
}

fn plots(
    lab: &Lab,
    metrics: &[Metrics],
    temperature: &[eval::TemperaturePoint],
) -> Result<Vec<PathBuf>> {
    // Short column names: right label, a label named at all, valid JSON at the first reply and
    // in the end, exact sender and subject.
    let columns = [
        "right", "named", "JSON 1st", "JSON end", "sender", "subject",
    ];
    let rows: Vec<Vec<f64>> = metrics
        .iter()
        .map(|m| {
            let pct = |n: usize| (100.0 * m.rate(n)).round();
            let json = |n: usize| {
                if m.approach.is_json() {
                    pct(n)
                } else {
                    f64::NAN
                }
            };
            vec![
                pct(m.label_correct),
                pct(m.label_answered),
                json(m.valid_first),
                json(m.valid),
                json(m.sender_correct),
                json(m.subject_correct),
            ]
        })
        .collect();
    let mut files = wb_plot::Heatmap::new(
        &format!(
            "SmolLM2-135M on {} SpamAssassin e-mails: % of e-mails",
            metrics.first().map_or(0, |m| m.emails)
        ),
        "label right / named · JSON valid 1st / end · exact sender, subject",
        "approach",
        metrics
            .iter()
            .map(|m| m.approach.name().to_string())
            .collect(),
        columns.iter().map(|c| c.to_string()).collect(),
        rows,
    )
    .bar_label("% of e-mails")
    .save(lab.plots_dir(), "approaches")?;
    let share = |f: fn(&eval::TemperaturePoint) -> f64| {
        temperature
            .iter()
            .map(|p| (p.temperature, 100.0 * f(p)))
            .collect::<Vec<_>>()
    };
    files.extend(
        wb_plot::LinePlot::new(
            "One e-mail sampled again and again: what temperature does",
            "temperature",
            "% of samples",
        )
        .series(
            wb_plot::Series::new(
                "one-word answer names a label",
                share(|p| p.label_answered as f64 / p.samples as f64),
            )
            .dashed(),
        )
        .series(wb_plot::Series::new(
            "same as the most frequent answer",
            share(|p| p.agreement),
        ))
        .series(wb_plot::Series::new(
            "few-shot JSON valid (no repair)",
            share(|p| p.json_valid as f64 / p.samples as f64),
        ))
        .markers(true)
        .y_range(0.0, 105.0)
        .save(lab.plots_dir(), "temperature")?,
    );
    Ok(files)
}
