//! Runs the week 27 lab end to end: `cargo run -p week27-llm-monitoring -- --help`.

mod plots;
mod report;

use anyhow::Result;
use clap::Parser;
use report::{Detector, Monitoring, PlantedReport, Report, SelfCheck};
use std::collections::HashMap;
use std::sync::Arc;
use wb_lab::{Lab, LabArgs, at_least_one};
use week20_rag_retrieval::questions::load_questions;
use week20_rag_retrieval::week19::corpus::load_speeches;
use week20_rag_retrieval::week19::wb_llm::server::{Config, router};
use week20_rag_retrieval::week19::wb_llm::{Embedder, LocalModel, WeightFormat};
use week27_llm_monitoring::eval::{self, Ask, Item};
use week27_llm_monitoring::ground::{
    self, Kind, best_threshold, detect, lexical_groundedness, self_consistency,
};
use week27_llm_monitoring::monitor::{LlmMetrics, histogram_quantile, sample};
use week27_llm_monitoring::service::{Meter, PRICE_PER_TOKEN, instrument};
use week27_llm_monitoring::sets::{self, Study, Traffic};

/// Week 27: Monitoring LLMs: drift, hallucination and quality metrics.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    lab: LabArgs,
    /// Current windows per share of new-era traffic in the drift study.
    #[arg(long, default_value_t = 100, value_parser = at_least_one)]
    windows: usize,
    /// Questions the local model answers through the service (with their context, greedily).
    #[arg(long, default_value_t = 12, value_parser = at_least_one)]
    questions: usize,
    /// Questions asked several times, with and without context, for self-consistency.
    #[arg(long, default_value_t = 8, value_parser = at_least_one)]
    consistency_questions: usize,
    /// Samples per question for self-consistency (at temperature 0.8).
    #[arg(long, default_value_t = 3)]
    samples: usize,
    #[arg(long, default_value_t = 27)]
    seed: u64,
}

// fn main: parses Args and runs `run` on the harness, under the package's name.
wb_lab::main!(
    "Week 27 — Monitoring LLMs: drift, hallucination and quality metrics",
    run
);

fn run(args: &Args, lab: &mut Lab) -> Result<Report> {
    anyhow::ensure!(
        args.samples >= 2,
        "--samples: needs at least 2 samples to compare, got {}",
        args.samples
    );
    let speeches = load_speeches()?;
    let questions = load_questions(&speeches)?;
    let mut say = |m: &str| eprintln!("{m}");
    let embedder = Embedder::minilm(&mut say)?;

    // Drift: prompts of 1945–1969 against prompts of 1997–2021.
    let (old, new) = (
        sets::era_sentences(&speeches, 1945..=1969),
        sets::era_sentences(&speeches, 1997..=2021),
    );
    let pick = |pool: &[String], n: usize, seed: u64| -> Vec<String> {
        wb_data::shuffled_indices(pool.len(), seed)
            .into_iter()
            .take(n)
            .map(|i| pool[i].clone())
            .collect()
    };
    let (old, new) = (pick(&old, 600, args.seed), pick(&new, 300, args.seed + 1));
    let embed = |texts: &[String]| -> Result<Vec<Vec<f32>>> {
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        Ok(refs
            .chunks(64)
            .map(|c| embedder.embed(c))
            .collect::<Result<Vec<_>, _>>()?
            .concat())
    };
    let (old_emb, new_emb) = lab.timed("embed_prompts", || -> Result<_> {
        Ok((embed(&old)?, embed(&new)?))
    })?;
    let old_words: Vec<f64> = old.iter().map(|s| sets::words(s)).collect();
    let new_words: Vec<f64> = new.iter().map(|s| sets::words(s)).collect();
    let study = Study {
        window: 200,
        embedding_window: 100,
        alpha: 0.05,
        psi_alarm: 0.2,
        permutations: 100,
        windows: args.windows,
        shares: vec![0.0, 0.1, 0.2, 0.3, 0.5, 1.0],
        seed: args.seed,
    };
    let traffic = Traffic {
        old_words: &old_words,
        old_embeddings: &old_emb,
        new_words: &new_words,
        new_embeddings: &new_emb,
    };
    let drift = lab.timed("drift_study", || sets::fire_rates(&traffic, &study))?;
    let mean = |x: &[f64]| x.iter().sum::<f64>() / x.len() as f64;

    // Planted hallucinations: detectors tuned on odd questions, reported on even ones.
    let planted = sets::planted_set(&speeches, &questions)?;
    let planted_report = lab.timed("planted", || -> Result<PlantedReport> {
        let lexical: Vec<f64> = planted
            .iter()
            .map(|p| lexical_groundedness(&p.answer, &p.context))
            .collect::<Result<_, _>>()?;
        // Every distinct claim and context sentence embedded once, in batches.
        let pieces: Vec<(Vec<String>, Vec<String>)> = planted
            .iter()
            .map(|p| {
                (
                    ground::claims(&p.answer)
                        .iter()
                        .map(|c| c.to_string())
                        .collect(),
                    sets::split_context(&p.context),
                )
            })
            .collect();
        let mut distinct: Vec<String> = pieces
            .iter()
            .flat_map(|(a, b)| a.iter().chain(b))
            .cloned()
            .collect();
        distinct.sort();
        distinct.dedup();
        let vectors: HashMap<String, Vec<f32>> =
            distinct.iter().cloned().zip(embed(&distinct)?).collect();
        let look = |texts: &[String]| -> Vec<Vec<f32>> {
            texts.iter().map(|t| vectors[t].clone()).collect()
        };
        let semantic: Vec<f64> = pieces
            .iter()
            .map(|(claims, parts)| ground::semantic_groundedness(&look(claims), &look(parts)))
            .collect::<Result<_, _>>()?;
        let labels: Vec<bool> = planted.iter().map(|p| p.kind.is_hallucination()).collect();
        let question_index: Vec<usize> = {
            let mut seen = Vec::new();
            planted
                .iter()
                .map(|p| match seen.iter().position(|q| *q == p.question) {
                    Some(i) => i,
                    None => {
                        seen.push(p.question.clone());
                        seen.len() - 1
                    }
                })
                .collect()
        };
        let part = |odd: bool, v: &[f64]| -> Vec<f64> {
            v.iter()
                .zip(&question_index)
                .filter(|(_, q)| (**q % 2 == 1) == odd)
                .map(|(s, _)| *s)
                .collect()
        };
        let part_labels = |odd: bool| -> Vec<bool> {
            labels
                .iter()
                .zip(&question_index)
                .filter(|(_, q)| (**q % 2 == 1) == odd)
                .map(|(l, _)| *l)
                .collect()
        };
        let kinds = [
            Kind::Grounded,
            Kind::Neighbour,
            Kind::Number,
            Kind::Entity,
            Kind::Negation,
            Kind::OffContext,
        ];
        let evaluate = |name: &str, scores: &[f64]| -> Result<Detector> {
            let tuned = best_threshold(&part(true, scores), &part_labels(true))?;
            let test = detect(&part(false, scores), &part_labels(false), tuned.threshold)?;
            let by_kind = kinds
                .iter()
                .map(|k| {
                    let s: Vec<f64> = scores
                        .iter()
                        .zip(&planted)
                        .zip(&question_index)
                        .filter(|((_, p), q)| p.kind == *k && **q % 2 == 0)
                        .map(|((s, _), _)| *s)
                        .collect();
                    let flagged = s.iter().filter(|x| **x < tuned.threshold).count();
                    (k.name().to_string(), flagged, s.len())
                })
                .collect();
            Ok(Detector {
                name: name.into(),
                test,
                by_kind,
            })
        };
        Ok(PlantedReport {
            items: planted.len(),
            hallucinations: labels.iter().filter(|l| **l).count(),
            detectors: vec![
                evaluate("lexical", &lexical)?,
                evaluate("semantic", &semantic)?,
            ],
            lexical,
            semantic,
            kinds: planted.iter().map(|p| p.kind.name().to_string()).collect(),
        })
    })?;

    // The local model behind the OpenAI-compatible server, with the metrics middleware.
    let model = LocalModel::smollm2(WeightFormat::Quantized, &mut say)?;
    let model_name = "smollm2-135m-instruct".to_string();
    let config = Config::default();
    let (app, _stats, worker) = router(Box::new(model), None, &config);
    let meter = Arc::new(Meter {
        metrics: LlmMetrics::new()?,
        model: model_name.clone(),
        max_body: config.max_body,
    });
    let app = instrument(app, meter);
    let items: Vec<Item> = questions
        .iter()
        .take(args.questions.max(args.consistency_questions))
        .map(|q| -> Result<Item> {
            let (context, _) = sets::context_of(&speeches[q.speech], q)?;
            Ok(Item {
                id: q.id.clone(),
                question: q.question.clone(),
                context,
                reference: q.gold.clone(),
            })
        })
        .collect::<Result<_>>()?;
    let runtime = tokio::runtime::Runtime::new()?;
    let served = lab.timed("served", || {
        runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let base = format!("http://{}", listener.local_addr()?);
            let server = tokio::spawn(async move { axum::serve(listener, app).await });
            let client = reqwest::Client::new();
            let mut calls = Vec::new();
            let mut scored = Vec::new();
            for (k, item) in items.iter().take(args.questions).enumerate() {
                let how = Ask { stream: k % 2 == 0, temperature: 0.0, seed: 0, max_tokens: 48 };
                let call = eval::ask(&client, &base, &eval::body(&model_name, item, how)).await?;
                scored.push(eval::score(item, &call));
                calls.push(call);
            }
            let mut consistency = Vec::new();
            for item in items.iter().take(args.consistency_questions) {
                let bare = Item { context: String::new(), ..item.clone() };
                let mut row = Vec::new();
                for (with, it) in [(true, item), (false, &bare)] {
                    let mut answers = Vec::new();
                    for s in 0..args.samples {
                        let how = Ask { stream: s % 2 == 1, temperature: 0.8, seed: 1 + s as u64, max_tokens: 32 };
                        let call = eval::ask(&client, &base, &eval::body(&model_name, it, how)).await?;
                        answers.push(call.text.clone());
                        calls.push(call);
                    }
                    let grounded = answers
                        .iter()
                        .filter_map(|a| lexical_groundedness(a, &item.context).ok())
                        .collect::<Vec<_>>();
                    row.push((with, self_consistency(&answers)?, mean(&grounded), answers));
                }
                consistency.push(row);
            }
            // Bad requests: counted by the middleware as errors, never reaching the model.
            let bad = [
                serde_json::json!({"model": model_name, "messages": []}),
                serde_json::json!({"model": model_name, "messages": [{"role": "user", "content": "hi"}], "temperature": 5}),
                serde_json::json!({"model": model_name, "messages": "not a list"}),
            ];
            for b in &bad {
                calls.push(eval::ask(&client, &base, b).await?);
            }
            let exposition = client.get(format!("{base}/metrics")).send().await?.text().await?;
            server.abort();
            anyhow::Ok((calls, scored, consistency, exposition))
        })
    })?;
    drop(runtime);
    let _ = worker.join();
    let (calls, scored, consistency, exposition) = served;
    let summary = eval::summarise(&scored)?;
    eval::write_run(
        &lab.plots_dir().join("eval"),
        &items[..args.questions.min(items.len())],
        &scored,
        &summary,
    )?;

    let m = |name: &str, labels: &[(&str, &str)]| sample(&exposition, name, labels).unwrap_or(0.0);
    let model_label = [("model", model_name.as_str())];
    let ok: Vec<&eval::Call> = calls.iter().filter(|c| c.status == 200).collect();
    let mut client_seconds: Vec<f64> = ok.iter().map(|c| c.seconds).collect();
    client_seconds.sort_by(f64::total_cmp);
    let client_prompt: u64 = ok.iter().map(|c| c.prompt_tokens).sum();
    let client_completion: u64 = ok.iter().map(|c| c.completion_tokens).sum();
    let first: Vec<f64> = ok.iter().filter_map(|c| c.first_token_seconds).collect();
    let monitoring = Monitoring {
        requests_ok: m(
            "llm_requests_total",
            &[("model", &model_name), ("status", "ok")],
        ) as u64,
        requests_bad: m(
            "llm_requests_total",
            &[("model", &model_name), ("status", "bad_request")],
        ) as u64,
        client_ok: ok.len() as u64,
        client_bad: (calls.len() - ok.len()) as u64,
        prompt_tokens: m(
            "llm_tokens_total",
            &[("model", &model_name), ("kind", "prompt")],
        ) as u64,
        completion_tokens: m(
            "llm_tokens_total",
            &[("model", &model_name), ("kind", "completion")],
        ) as u64,
        client_prompt_tokens: client_prompt,
        client_completion_tokens: client_completion,
        cost_nanodollars: m("llm_cost_nanodollars_total", &model_label) as u64,
        expected_cost: client_prompt * PRICE_PER_TOKEN.0 + client_completion * PRICE_PER_TOKEN.1,
        p50_histogram: histogram_quantile(
            &exposition,
            "llm_request_duration_seconds",
            &model_label,
            0.5,
        )
        .unwrap_or(f64::NAN),
        p95_histogram: histogram_quantile(
            &exposition,
            "llm_request_duration_seconds",
            &model_label,
            0.95,
        )
        .unwrap_or(f64::NAN),
        p50_client: week27_llm_monitoring::drift::quantile(&client_seconds, 0.5),
        p95_client: week27_llm_monitoring::drift::quantile(&client_seconds, 0.95),
        ttft_p50_histogram: histogram_quantile(
            &exposition,
            "llm_time_to_first_token_seconds",
            &model_label,
            0.5,
        )
        .unwrap_or(f64::NAN),
        ttft_mean_client: mean(&first),
        streamed: first.len(),
        exposition_lines: exposition
            .lines()
            .filter(|l| l.starts_with("llm_") && !l.contains("_bucket"))
            .map(str::to_string)
            .collect(),
        latencies: ok.iter().map(|c| c.seconds).collect(),
    };
    let with: Vec<(f64, f64)> = consistency.iter().map(|r| (r[0].1, r[0].2)).collect();
    let without: Vec<(f64, f64)> = consistency.iter().map(|r| (r[1].1, r[1].2)).collect();
    let scores: Vec<f64> = with.iter().chain(&without).map(|x| x.0).collect();
    let labels: Vec<bool> = (0..scores.len()).map(|i| i >= with.len()).collect();
    let self_check = SelfCheck {
        questions: consistency.len(),
        samples: args.samples,
        consistency_with: mean(&with.iter().map(|x| x.0).collect::<Vec<_>>()),
        consistency_without: mean(&without.iter().map(|x| x.0).collect::<Vec<_>>()),
        grounded_with: mean(&with.iter().map(|x| x.1).collect::<Vec<_>>()),
        grounded_without: mean(&without.iter().map(|x| x.1).collect::<Vec<_>>()),
        detection: best_threshold(&scores, &labels)?,
        auc: ground::auc_low(
            &without.iter().map(|x| x.0).collect::<Vec<_>>(),
            &with.iter().map(|x| x.0).collect::<Vec<_>>(),
        )?,
        example: consistency
            .first()
            .map(|r| (r[0].3.clone(), r[1].3.clone()))
            .unwrap_or_default(),
        with: with.iter().map(|x| x.0).collect(),
        without: without.iter().map(|x| x.0).collect(),
    };

    let report = Report {
        old_prompts: old.len(),
        new_prompts: new.len(),
        old_mean_words: mean(&old_words),
        new_mean_words: mean(&new_words),
        study,
        drift,
        planted: planted_report,
        summary,
        scored,
        monitoring,
        self_check,
        embed_ms: lab.ms("embed_prompts"),
        drift_ms: lab.ms("drift_study"),
        served_ms: lab.ms("served"),
    };
    plots::save(lab, &report)?;
    Ok(report)
}
