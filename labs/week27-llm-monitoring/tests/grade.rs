//! Grader checks for week 27: monitoring LLMs — drift, hallucination and quality metrics.
//!
//! References: `fixtures/week27.json` — the SQuAD v2.0 evaluation script's exact match and F1,
//! Google's `rouge-score` 0.1.2, `sacrebleu` 2.6 (corpus BLEU, its 13a tokeniser), scipy 1.17
//! (`ks_2samp(method="exact")`, `kstwobign.sf`) and numpy (PSI over quantile bins, MMD²).

use grader::{Called, Tol, check, close, ensure, expect_err, fixture, num, nums};
use serde_json::Value;
use week27_llm_monitoring::drift::{kolmogorov_sf, ks_2samp, median_heuristic, mmd2, psi};
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
    fn metrics_expose_what_was_recorded(exercise = "token_f1") {
        use week27_llm_monitoring::monitor::{LlmMetrics, Outcome, sample};
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
        close("first-token sum", 0.29, s("llm_time_to_first_token_seconds_sum", &[("model", "smollm2")]), Tol::abs(1e-12))
    }
}
