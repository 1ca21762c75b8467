//! Grader checks for week 27: monitoring LLMs — drift, hallucination and quality metrics.
//!
//! References: `fixtures/week27.json` — the SQuAD v2.0 evaluation script's exact match and F1,
//! Google's `rouge-score` 0.1.2, `sacrebleu` 2.6 (corpus BLEU, its 13a tokeniser), scipy 1.17
//! (`ks_2samp(method="exact")`, `kstwobign.sf`) and numpy (PSI over quantile bins, MMD²).

use grader::{Called, Tol, check, close, ensure, expect_err, fixture, num, nums};
use serde_json::Value;
use std::collections::HashSet;
use week27_llm_monitoring::drift::{kolmogorov_sf, ks_2samp, median_heuristic, mmd2, psi};
use week27_llm_monitoring::monitor::{LlmMetrics, Outcome, histogram_quantile, sample};
use week27_llm_monitoring::quality::{corpus_bleu, exact_match, rouge_l, token_f1, tokenize_13a};

fn items(v: &Value, pointer: &str) -> Vec<Value> {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn text(v: &Value, pointer: &str) -> String {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn rows(v: &Value, pointer: &str) -> Vec<Vec<f32>> {
    items(v, pointer)
        .iter()
        .map(|r| {
            r.as_array()
                .map(|a| {
                    a.iter()
                        .map(|x| x.as_f64().unwrap_or(f64::NAN) as f32)
                        .collect()
                })
                .unwrap_or_default()
        })
        .collect()
}

check! {
    /// Exact match and token F1 equal the SQuAD script's, ROUGE-L rouge-score's, on ten pairs
    /// with punctuation, articles, empty answers, Unicode and repeated words.
    fn em_f1_rouge_equal_the_reference_scripts(exercise = "token_f1") {
        let f = fixture("week27");
        for (k, c) in items(&f, "/qa").iter().enumerate() {
            let (p, r) = (text(c, "/prediction"), text(c, "/reference"));
            close(&format!("pair {k}: exact match"), num(c, "/exact_match"), exact_match(&p, &r), Tol::abs(0.0))?;
            close(&format!("pair {k}: token F1 of {p:?} against {r:?}"), num(c, "/f1"), token_f1(&p, &r), Tol::abs(1e-12))?;
            let got = rouge_l(&p, &r);
            for (i, (name, v)) in [("precision", got.precision), ("recall", got.recall), ("F", got.f)].iter().enumerate() {
                close(&format!("pair {k}: ROUGE-L {name}"), num(c, &format!("/rouge_l/{i}")), *v, Tol::abs(1e-12))?;
            }
        }
        Ok(())
    }
}

check! {
    /// The 13a tokeniser and corpus BLEU equal sacrebleu's: one and two references, and a short
    /// hypothesis with its brevity penalty and an order with no n-gram.
    fn bleu_equals_sacrebleu(exercise = "bleu") {
        let f = fixture("week27");
        if let Some(map) = f["tokens_13a"].as_object() {
            for (line, want) in map {
                let got = tokenize_13a(line);
                ensure(got == want.as_str().unwrap_or_default(), &format!("tokenize_13a({line:?})"), format!("expected {want}, got {got:?}"))?;
            }
        }
        let default_hyps: Vec<String> = items(&f, "/hypotheses").iter().map(|h| h.as_str().unwrap_or_default().to_string()).collect();
        for (k, c) in items(&f, "/bleu").iter().enumerate() {
            let hyps: Vec<String> = match c.get("hypotheses") {
                Some(h) => h.as_array().into_iter().flatten().map(|x| x.as_str().unwrap_or_default().to_string()).collect(),
                None => default_hyps.clone(),
            };
            let refs: Vec<Vec<String>> = items(c, "/references").iter().map(|r| r.as_array().into_iter().flatten().map(|x| x.as_str().unwrap_or_default().to_string()).collect()).collect();
            let h: Vec<&str> = hyps.iter().map(String::as_str).collect();
            let r: Vec<Vec<&str>> = refs.iter().map(|v| v.iter().map(String::as_str).collect()).collect();
            let b = corpus_bleu(&h, &r).called("corpus_bleu")?;
            close(&format!("case {k}: BLEU"), num(c, "/score"), b.score, Tol::abs(1e-9))?;
            close(&format!("case {k}: brevity penalty"), num(c, "/bp"), b.brevity_penalty, Tol::abs(1e-12))?;
            for n in 0..4 {
                close(&format!("case {k}: precision of {}-grams", n + 1), num(c, &format!("/precisions/{n}")), b.precisions[n], Tol::abs(1e-9))?;
            }
            ensure(b.sys_len as f64 == num(c, "/sys_len") && b.ref_len as f64 == num(c, "/ref_len"), &format!("case {k}: lengths"), format!("{} / {}", b.sys_len, b.ref_len))?;
        }
        expect_err("BLEU with a missing reference", corpus_bleu(&["a b"], &[vec![]]))?;
        Ok(())
    }
}

check! {
    /// The KS statistic and its exact p-value equal scipy's ks_2samp on equal and unequal sizes,
    /// shifted and not, with ties; Kolmogorov's limit equals kstwobign; PSI equals numpy's over
    /// 10 and 20 quantile bins; MMD² equals numpy's with the median bandwidth.
    fn drift_statistics_equal_scipy_and_numpy(exercise = "ks_statistic") {
        let f = fixture("week27");
        for (k, c) in items(&f, "/ks").iter().enumerate() {
            let (a, b) = (nums(c, "/a").to_vec(), nums(c, "/b").to_vec());
            let t = ks_2samp(&a, &b).called("ks_2samp")?;
            close(&format!("case {k} ({} vs {}): D", a.len(), b.len()), num(c, "/statistic"), t.statistic, Tol::abs(1e-12))?;
            close(&format!("case {k} ({} vs {}): p-value", a.len(), b.len()), num(c, "/p_value"), t.p_value, Tol::rel(1e-9).and_abs(1e-14))?;
        }
        for c in items(&f, "/kolmogorov") {
            close(&format!("kolmogorov_sf({})", num(&c, "/x")), num(&c, "/sf"), kolmogorov_sf(num(&c, "/x")), Tol::rel(1e-9).and_abs(1e-14))?;
        }
        let reference = nums(&f, "/psi_reference").to_vec();
        for c in items(&f, "/psi") {
            let got = psi(&reference, &nums(&c, "/current").to_vec(), num(&c, "/bins") as usize).called("psi")?;
            close(&format!("PSI, {} current, {} bins", text(&c, "/name"), num(&c, "/bins")), num(&c, "/psi"), got, Tol::abs(1e-12))?;
        }
        let (x, y) = (rows(&f, "/mmd/x"), rows(&f, "/mmd/y"));
        let sigma = median_heuristic(&x, &y).called("median_heuristic")?;
        close("the median heuristic", num(&f, "/mmd/median"), sigma, Tol::rel(1e-12))?;
        close("MMD² at the median bandwidth", num(&f, "/mmd/mmd2_median"), mmd2(&x, &y, sigma).called("mmd2")?, Tol::abs(1e-12))?;
        close("MMD² at bandwidth 1", num(&f, "/mmd/mmd2_1"), mmd2(&x, &y, 1.0).called("mmd2")?, Tol::abs(1e-12))?;
        expect_err("psi of an empty sample", psi(&reference, &[], 10))?;
        expect_err("ks_2samp with a NaN", ks_2samp(&[1.0, f64::NAN], &[1.0]))?;
        expect_err("mmd2 with vectors of two sizes", mmd2(&x, &[vec![0.0; 3], vec![0.0; 3]], 1.0))?;
        Ok(())
    }
}

check! {
    /// Five requests recorded, then read back from the text exposition: counters by model and
    /// status, tokens, cost, and the histograms' counts and sums worked by hand; a negative time
    /// is refused and records nothing.
    fn metrics_expose_what_was_recorded(exercise = "histogram_quantile") {
        let m = LlmMetrics::new().called("LlmMetrics::new")?;
        let ok = |seconds: f64, first: f64, p: u64, c: u64| Outcome { model: "smollm2", status: "ok", seconds, first_token_seconds: Some(first), prompt_tokens: p, completion_tokens: c, cost_nanodollars: p * 150 + c * 600 };
        for o in [ok(0.5, 0.05, 40, 24), ok(0.25, 0.04, 35, 10), ok(1.5, 0.2, 37, 64)] {
            m.observe(&o).called("observe")?;
        }
        m.observe(&Outcome { status: "timeout", first_token_seconds: None, completion_tokens: 0, cost_nanodollars: 0, ..ok(30.0, 0.0, 12, 0) }).called("observe")?;
        expect_err("a negative time", m.observe(&ok(-1.0, 0.1, 1, 1)))?;
        let text = m.render().called("render")?;
        let s = |name: &str, labels: &[(&str, &str)]| sample(&text, name, labels).unwrap_or(f64::NAN);
        close("ok requests", 3.0, s("llm_requests_total", &[("model", "smollm2"), ("status", "ok")]), Tol::abs(0.0))?;
        close("timeouts", 1.0, s("llm_requests_total", &[("model", "smollm2"), ("status", "timeout")]), Tol::abs(0.0))?;
        close("prompt tokens (40 + 35 + 37 + 12)", 124.0, s("llm_tokens_total", &[("model", "smollm2"), ("kind", "prompt")]), Tol::abs(0.0))?;
        close("completion tokens (24 + 10 + 64)", 98.0, s("llm_tokens_total", &[("model", "smollm2"), ("kind", "completion")]), Tol::abs(0.0))?;
        close("cost: 112 × 150 + 98 × 600 nano-dollars", 75_600.0, s("llm_cost_nanodollars_total", &[("model", "smollm2")]), Tol::abs(0.0))?;
        close("latency count", 4.0, s("llm_request_duration_seconds_count", &[("model", "smollm2")]), Tol::abs(0.0))?;
        close("latency sum", 32.25, s("llm_request_duration_seconds_sum", &[("model", "smollm2")]), Tol::abs(1e-12))?;
        close("requests within 0.64 s", 2.0, s("llm_request_duration_seconds_bucket", &[("model", "smollm2"), ("le", "0.64")]), Tol::abs(0.0))?;
        close("first tokens counted (the timeout had none)", 3.0, s("llm_time_to_first_token_seconds_count", &[("model", "smollm2")]), Tol::abs(0.0))?;
        close("first-token sum", 0.29, s("llm_time_to_first_token_seconds_sum", &[("model", "smollm2")]), Tol::abs(1e-12))?;
        // Latency 0.5 s lies in the bucket (0.32, 0.64] holding 1 of the 4 requests above the 1
        // below 0.32: the median (rank 2) is its upper bound, 0.64.
        let q = |p: f64| histogram_quantile(&text, "llm_request_duration_seconds", &[("model", "smollm2")], p).unwrap_or(f64::NAN);
        close("histogram_quantile(0.5) of the four latencies", 0.64, q(0.5), Tol::abs(1e-12))?;
        close("histogram_quantile(0.25): rank 1 of the bucket (0.16, 0.32]", 0.32, q(0.25), Tol::abs(1e-12))?;
        close("histogram_quantile(0.99): the 30 s request lies beyond the last bound, 20.48", 20.48, q(0.99), Tol::abs(1e-12))
    }
}

check! {
    /// histogram_quantile interpolates as Prometheus does, on buckets worked by hand (0.1: 2,
    /// 0.2: 6, 0.4: 8, +Inf: 10), and recovers the quantiles of 1,000 latencies spread evenly
    /// over (0, 1.28] from the exported histogram (linear inside each bucket, so exact).
    fn histogram_quantile_interpolates_as_prometheus(exercise = "histogram_quantile") {
        let text = "# TYPE x histogram\nx_bucket{le=\"0.1\"} 2\nx_bucket{le=\"0.2\"} 6\nx_bucket{le=\"0.4\"} 8\nx_bucket{le=\"+Inf\"} 10\nx_sum 3\nx_count 10\n";
        let q = |p: f64| histogram_quantile(text, "x", &[], p).unwrap_or(f64::NAN);
        close("q 0.5: rank 5 in (0.1, 0.2], 3 of its 4 → 0.1 + 0.1 × 3/4", 0.175, q(0.5), Tol::abs(1e-12))?;
        close("q 0.1: rank 1 in (0, 0.1], 1 of its 2", 0.05, q(0.1), Tol::abs(1e-12))?;
        close("q 0.7: rank 7 in (0.2, 0.4], 1 of its 2", 0.3, q(0.7), Tol::abs(1e-12))?;
        close("q 0.95: in +Inf → the largest finite bound", 0.4, q(0.95), Tol::abs(1e-12))?;
        ensure(histogram_quantile(text, "y", &[], 0.5).is_none(), "an absent histogram", "must be None")?;
        ensure(histogram_quantile(text, "x", &[], 1.5).is_none(), "q = 1.5", "must be None")?;
        let m = LlmMetrics::new().called("LlmMetrics::new")?;
        for i in 1..=1000 {
            m.observe(&Outcome { model: "m", status: "ok", seconds: 1.28 * i as f64 / 1000.0, first_token_seconds: None, prompt_tokens: 1, completion_tokens: 1, cost_nanodollars: 0 }).called("observe")?;
        }
        let text = m.render().called("render")?;
        for p in [0.1, 0.5, 0.9] {
            let got = histogram_quantile(&text, "llm_request_duration_seconds", &[("model", "m")], p).unwrap_or(f64::NAN);
            close(&format!("quantile {p} of evenly spread latencies"), 1.28 * p, got, Tol::abs(1.28e-3))?;
        }
        Ok(())
    }
}

check! {
    /// The middleware in front of the real OpenAI-compatible server (a scripted model behind it),
    /// over loopback HTTP: a whole answer and a streamed one counted "ok" with the usage the
    /// client received and its price, the streamed one's first token timed; a bad request and a
    /// body over the limit counted as errors; /metrics itself not counted.
    fn middleware_meters_a_real_service(exercise = "histogram_quantile") {
        use week27_llm_monitoring::eval::{Ask, Item, ask, body};
        use week27_llm_monitoring::service::{Meter, PRICE_PER_TOKEN, instrument};
        use week20_rag_retrieval::week19::wb_llm::{ScriptedModel, server::{Config, router}};
        let config = Config::default();
        let (app, _stats, _worker) = router(Box::new(ScriptedModel::new(["The war ended in 1945.", "Britain and the Soviet Union."])), None, &config);
        let meter = std::sync::Arc::new(Meter { metrics: LlmMetrics::new().called("LlmMetrics::new")?, model: "scripted".into(), max_body: 4096 });
        let app = instrument(app, meter);
        let rt = tokio::runtime::Runtime::new().map_err(|e| grader::Failure::new("a tokio runtime", e.to_string()))?;
        let outcome: anyhow::Result<(Vec<week27_llm_monitoring::eval::Call>, u16, String)> = rt.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let base = format!("http://{}", listener.local_addr()?);
            tokio::spawn(async move { axum::serve(listener, app).await });
            let client = reqwest::Client::new();
            let item = Item { id: "q".into(), question: "When did the war end?".into(), context: "The war ended in 1945.".into(), reference: "The war ended in 1945.".into() };
            let mut calls = Vec::new();
            for stream in [false, true] {
                calls.push(ask(&client, &base, &body("scripted", &item, Ask { stream, temperature: 0.0, seed: 0, max_tokens: 16 })).await?);
            }
            calls.push(ask(&client, &base, &serde_json::json!({"model": "scripted", "messages": []})).await?);
            let big = client.post(format!("{base}/v1/chat/completions")).body("x".repeat(10_000)).send().await?.status().as_u16();
            let text = client.get(format!("{base}/metrics")).send().await?.text().await?;
            Ok((calls, big, text))
        });
        let (calls, big, text) = outcome.map_err(|e| grader::Failure::new("the service", e.to_string()))?;
        ensure(calls[0].status == 200 && calls[1].status == 200 && calls[2].status == 400 && big == 413, "statuses", format!("whole, streamed, no messages, too large: {:?} {big}", calls.iter().map(|c| c.status).collect::<Vec<_>>()))?;
        ensure(!calls[1].text.is_empty() && calls[1].first_token_seconds.is_some() && calls[1].completion_tokens > 0, "the streamed answer", format!("{:?}", calls[1]))?;
        let s = |name: &str, labels: &[(&str, &str)]| sample(&text, name, labels).unwrap_or(f64::NAN);
        close("ok requests", 2.0, s("llm_requests_total", &[("model", "scripted"), ("status", "ok")]), Tol::abs(0.0))?;
        close("bad requests", 1.0, s("llm_requests_total", &[("model", "scripted"), ("status", "bad_request")]), Tol::abs(0.0))?;
        close("bodies over the limit", 1.0, s("llm_requests_total", &[("model", "scripted"), ("status", "too_large")]), Tol::abs(0.0))?;
        let (p, c): (u64, u64) = (calls[..2].iter().map(|c| c.prompt_tokens).sum(), calls[..2].iter().map(|c| c.completion_tokens).sum());
        close("prompt tokens = the client's usage", p as f64, s("llm_tokens_total", &[("model", "scripted"), ("kind", "prompt")]), Tol::abs(0.0))?;
        close("completion tokens = the client's usage", c as f64, s("llm_tokens_total", &[("model", "scripted"), ("kind", "completion")]), Tol::abs(0.0))?;
        close("cost = usage × price", (p * PRICE_PER_TOKEN.0 + c * PRICE_PER_TOKEN.1) as f64, s("llm_cost_nanodollars_total", &[("model", "scripted")]), Tol::abs(0.0))?;
        close("first tokens timed: the streamed answer only", 1.0, s("llm_time_to_first_token_seconds_count", &[("model", "scripted")]), Tol::abs(0.0))?;
        close("every chat request timed (the /metrics scrape is not one)", 4.0, s("llm_request_duration_seconds_count", &[("model", "scripted")]), Tol::abs(0.0))?;
        let p50 = histogram_quantile(&text, "llm_request_duration_seconds", &[("model", "scripted")], 0.5).unwrap_or(f64::NAN);
        ensure(p50.is_finite() && p50 > 0.0, "the median latency from the histogram", format!("{p50}"))
    }
}

check! {
    /// Claim support and groundedness worked by hand: the share of content words in the context,
    /// 0 for a missing figure or name, 1 without content words, an answer as grounded as its
    /// weakest claim; self-consistency as the mean pairwise token F1.
    fn groundedness_and_consistency_by_hand(exercise = "claim_support") {
        use week27_llm_monitoring::ground::{claim_support, content_words, lexical_groundedness, self_consistency};
        let context = "The budget for 1947 provides 37 billion dollars for the Army and the Navy.";
        let words: HashSet<String> = content_words(context).into_iter().collect();
        // Content words of the claim: according, address, budget, provides, 37, billion, dollars;
        // the context lacks "according" and "address": 1 − 2/7.
        let framed = claim_support("According to the address, the budget provides 37 billion dollars.", &words);
        close("a framed claim: 5 of its 7 content words", 5.0 / 7.0, framed.score, Tol::abs(1e-12))?;
        ensure(framed.missing == ["according", "address"], "the missing words", format!("{:?}", framed.missing))?;
        close("a changed figure (38)", 0.0, claim_support("The budget provides 38 billion dollars.", &words).score, Tol::abs(0.0))?;
        close("a swapped name (the Marines)", 0.0, claim_support("The budget provides dollars for the Marines.", &words).score, Tol::abs(0.0))?;
        close("a claim without content words", 1.0, claim_support("It is so.", &words).score, Tol::abs(0.0))?;
        close("every word found", 1.0, claim_support("For the Army and the Navy, 37 billion dollars.", &words).score, Tol::abs(0.0))?;
        // Two claims: the first fully supported, the second 1 of its 2 words (peace missing).
        let g = lexical_groundedness("The budget provides 37 billion dollars. Peace provides.", context).called("lexical_groundedness")?;
        close("an answer's groundedness: its weakest claim", 0.5, g, Tol::abs(1e-12))?;
        expect_err("an empty answer", lexical_groundedness(" ", context))?;
        let answers = ["the war ended", "The war ended!", "peace came"].map(String::from);
        close("consistency: F1s 1, 0, 0 → 1/3", 1.0 / 3.0, self_consistency(&answers).called("self_consistency")?, Tol::abs(1e-12))?;
        expect_err("one sample", self_consistency(&answers[..1]))?;
        Ok(())
    }
}

check! {
    /// Precision and recall of a detector and the best-F1 threshold, worked by hand; the
    /// plantings (a figure changed, a name swapped, a negation, a framing, a clause) on crafted
    /// sentences; the planted set built from the addresses holds every kind and no planted answer
    /// equals its gold.
    fn detection_and_plantings(exercise = "self_consistency") {
        use week27_llm_monitoring::ground::{Kind, best_threshold, change_number, detect, negate, self_consistency, swap_entity};
        use week27_llm_monitoring::sets::{frame, last_clause, planted_set};
        let (scores, labels) = ([0.1, 0.4, 0.35, 0.8], [true, true, false, false]);
        let d = detect(&scores, &labels, 0.5).called("detect")?;
        close("precision at 0.5: 2 of 3 flagged", 2.0 / 3.0, d.precision, Tol::abs(1e-12))?;
        close("recall at 0.5", 1.0, d.recall, Tol::abs(0.0))?;
        let b = best_threshold(&scores, &labels).called("best_threshold")?;
        close("best threshold: between 0.4 and 0.8 (F1 0.8)", 0.6, b.threshold, Tol::abs(1e-12))?;
        close("its F1", 0.8, b.f1, Tol::abs(1e-12))?;
        expect_err("labels of another length", detect(&scores, &labels[..2], 0.5))?;
        // Positives 0.1, 0.4 against negatives 0.35, 0.8: 0.1 is below both, 0.4 below 0.8 only.
        close("AUC: 3 of 4 pairs", 0.75, week27_llm_monitoring::ground::auc_low(&[0.1, 0.4], &[0.35, 0.8]).called("auc_low")?, Tol::abs(1e-12))?;
        ensure(change_number("rates higher than 65 cents per hour").as_deref() == Some("rates higher than 72 cents per hour"), "change_number", "65 → 72")?;
        ensure(swap_entity("We had two allies, Britain and Russia.", "Japan").as_deref() == Some("We had two allies, Japan and Russia."), "swap_entity", "Britain → Japan")?;
        ensure(negate("The Army is met by volunteers.").as_deref() == Some("The Army is not met by volunteers.") && negate("It is not met.").as_deref() == Some("It is met."), "negate", "adds or removes not")?;
        ensure(frame("The war ended.", 1) == "According to the address, the war ended." && frame("Britain fought.", 1) == "According to the address, Britain fought." && frame("X", 0) == "X", "frame", "lowers only a common first word")?;
        ensure(last_clause("In 1946, we built more homes than in any year before.") == "we built more homes than in any year before." && last_clause("Yes, we did.") == "Yes, we did.", "last_clause", "the clause after the first comma when long enough")?;
        let speeches = week20_rag_retrieval::week19::corpus::load_speeches().map_err(|e| grader::Failure::new("the addresses", e.to_string()))?;
        let questions = week20_rag_retrieval::questions::load_questions(&speeches).map_err(|e| grader::Failure::new("the questions", e.to_string()))?;
        let set = planted_set(&speeches, &questions).called("planted_set")?;
        for k in [Kind::Grounded, Kind::Neighbour, Kind::Number, Kind::Entity, Kind::Negation, Kind::OffContext] {
            ensure(set.iter().any(|p| p.kind == k), "the planted set", format!("has no {} answer", k.name()))?;
        }
        let golds: HashSet<&str> = questions.iter().map(|q| q.gold.as_str()).collect();
        ensure(set.iter().filter(|p| p.kind.is_hallucination() && p.kind != Kind::OffContext).all(|p| !golds.contains(p.answer.as_str())), "planted answers", "none may equal a gold sentence")?;
        // Self-consistency is what separates samples that agree: two identical, one apart.
        let same = ["a b c", "a b c"].map(String::from);
        close("identical samples", 1.0, self_consistency(&same).called("self_consistency")?, Tol::abs(0.0))
    }
}

check! {
    /// The drift study on synthetic traffic (Gaussian lengths, 8-dimensional embeddings): with no
    /// drift KS and MMD fire at α = 5 % within the binomial tolerance of 300 trials (±3.5 sd);
    /// with every prompt from a shifted distribution both fire in ≥ 95 % of trials.
    fn drift_fires_at_alpha_and_on_shift(exercise = "ks_statistic") {
        use week27_llm_monitoring::sets::{Study, Traffic, fire_rates};
        let mut rng = wb_data::SplitMix64::new(7);
        let mut gauss = || {
            let (u, v) = (rng.next_f64().max(1e-300), rng.next_f64());
            (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
        };
        let old_words: Vec<f64> = (0..400).map(|_| 20.0 + 4.0 * gauss()).collect();
        let new_words: Vec<f64> = (0..200).map(|_| 24.0 + 4.0 * gauss()).collect();
        let old_emb: Vec<Vec<f32>> = (0..400).map(|_| (0..8).map(|_| gauss() as f32).collect()).collect();
        let new_emb: Vec<Vec<f32>> = (0..200).map(|_| (0..8).map(|d| (gauss() + if d == 0 { 1.5 } else { 0.0 }) as f32).collect()).collect();
        let traffic = Traffic { old_words: &old_words, old_embeddings: &old_emb, new_words: &new_words, new_embeddings: &new_emb };
        let study = Study { window: 100, embedding_window: 40, alpha: 0.05, psi_alarm: 0.2, permutations: 99, windows: 300, shares: vec![0.0, 1.0], seed: 3 };
        let rates = fire_rates(&traffic, &study).called("fire_rates")?;
        let tol = 3.5 * (0.05f64 * 0.95 / 300.0).sqrt();
        close("KS false-alarm rate", 0.05, rates[0].ks, Tol::abs(tol))?;
        close("MMD false-alarm rate", 0.05, rates[0].mmd, Tol::abs(tol))?;
        ensure(rates[1].ks >= 0.95 && rates[1].mmd >= 0.95, "power on a full shift", format!("KS {:.3}, MMD {:.3}", rates[1].ks, rates[1].mmd))?;
        expect_err("an embedding window larger than the window", fire_rates(&traffic, &Study { embedding_window: 200, ..study.clone() }))?;
        Ok(())
    }
}
