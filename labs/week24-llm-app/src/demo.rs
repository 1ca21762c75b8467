//! The lab's run: the API on loopback over a fresh ledger, every path exercised and measured.

use crate::Args;
use crate::report::*;
use anyhow::{Context, Result, ensure};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Instant;
use wb_lab::Lab;
use week24_llm_app::bucket::{Limiter, Rate};
use week24_llm_app::counter::PromptCounter;
use week24_llm_app::keys::Scope;
use week24_llm_app::ledger::{Ledger, Reserve};
use week24_llm_app::pricing::{self, SMOLLM2};
use week24_llm_app::wb_llm::{LocalModel, Message, ScriptedModel, WeightFormat};

const DIR: &str = "output/week24-llm-app";
const MODEL: &str = "smollm2-135m-instruct";

/// The questions the lab asks (greedy, so the answers are the model's most likely ones).
const QUESTIONS: [&str; 3] = [
    "What is an API key? Answer in one sentence.",
    "Name three primary colours.",
    "Why do APIs limit request rates?",
];
/// Tokens each answer may use.
const MAX_TOKENS: u64 = 24;

fn chat_body(question: &str, max_tokens: u64, stream: bool) -> Value {
    json!({"model": MODEL, "messages": [{"role": "user", "content": question}],
           "max_tokens": max_tokens, "temperature": 0, "stream": stream,
           "stream_options": {"include_usage": true}})
}

/// Status and error code of a response (its JSON body read).
async fn outcome(r: reqwest::Response) -> Result<(u16, Option<String>, Value)> {
    let status = r.status().as_u16();
    let retry = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body: Value = r.json().await.unwrap_or(Value::Null);
    Ok((status, retry, body))
}

fn code(body: &Value) -> String {
    body["error"]["code"].as_str().unwrap_or("-").to_string()
}

pub fn run(cli: &Args, lab: &mut Lab) -> Result<Report> {
    let dir = std::path::Path::new(DIR);
    std::fs::create_dir_all(dir)?;
    let path = dir.join("ledger.sqlite");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let ledger = Arc::new(Ledger::open(&path)?);
    let model = lab.timed("load", || {
        LocalModel::smollm2(WeightFormat::Quantized, &mut |m| eprintln!("{m}"))
    })?;
    let counter = PromptCounter::of(&model);
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(scenario(cli, lab, ledger, counter, model))
}

async fn scenario(
    cli: &Args,
    lab: &mut Lab,
    ledger: Arc<Ledger>,
    counter: PromptCounter,
    model: LocalModel,
) -> Result<Report> {
    // Counted here for the reservations the budget test expects (the API counts them itself).
    let need_of = |q: &str, max: u64| -> Result<(u64, u64)> {
        let p = counter.count(&[Message::user(q)])?;
        Ok((p, pricing::cost(SMOLLM2, p, max)?))
    };
    let (_, bob_need) = need_of(QUESTIONS[1], 4)?;
    let bob_budget = 3 * bob_need + bob_need / 2;
    let stack = week24_llm_app::stack::start(
        "127.0.0.1:0",
        ledger.clone(),
        PromptCounter::of(&model),
        Box::new(model),
        cli.concurrent + 8,
        SMOLLM2,
    )
    .await?;
    let (api, bare) = (stack.api_base.clone(), stack.model_base.clone());
    let http = reqwest::Client::new();

    // Users and keys: an admin key made directly in the ledger (as `serve` does on its first
    // start), the rest through the admin routes.
    ledger.add_user("admin", 0)?;
    let admin = ledger.add_key("admin", &[Scope::Admin], Rate::per_minute(6000.0, 1000.0)?)?;
    let post = |path: &str, key: &str, body: Value| {
        http.post(format!("{api}{path}"))
            .bearer_auth(key)
            .json(&body)
            .send()
    };
    let mut setup = Vec::new();
    for (user, usd) in [
        ("alice", "0.001"),
        ("bob", &pricing::dollars(bob_budget)[1..]),
    ] {
        let (s, _, b) = outcome(
            post(
                "/admin/users",
                &admin.key,
                json!({"user": user, "budget_usd": usd}),
            )
            .await?,
        )
        .await?;
        ensure!(s == 201, "adding {user}: {s} {b}");
        setup.push(UserRow {
            user: user.into(),
            budget: b["budget_nanodollars"].as_u64().unwrap_or(0),
        });
    }
    let new_key = async |user: &str, per_minute: f64, burst: f64| -> Result<String> {
        let (s, _, b) = outcome(
            post(
                "/admin/keys",
                &admin.key,
                json!({"user": user, "scopes": ["chat"], "per_minute": per_minute, "burst": burst}),
            )
            .await?,
        )
        .await?;
        ensure!(s == 201, "adding a key for {user}: {s} {b}");
        Ok(b["key"].as_str().context("the new key")?.to_string())
    };
    let alice = new_key("alice", 60.0, 10.0).await?;
    let alice_slow = new_key("alice", 6.0, 3.0).await?;
    let revoked = new_key("alice", 60.0, 10.0).await?;
    let bob = new_key("bob", 60_000.0, 1000.0).await?;
    // The benchmark's key: a rate no benchmark reaches.
    let bench = new_key("alice", 6e6, 1e5).await?;
    let revoked_id = revoked
        .trim_start_matches("sk-wb-")
        .split('-')
        .next()
        .unwrap_or_default()
        .to_string();
    let (s, _, _) = outcome(
        http.post(format!("{api}/admin/keys/{revoked_id}/revoke"))
            .bearer_auth(&admin.key)
            .send()
            .await?,
    )
    .await?;
    ensure!(s == 200, "revoking: {s}");

    // 401 and 403: who may do what.
    let mut wrong_secret = alice.clone();
    let last = wrong_secret.pop().unwrap_or('0');
    wrong_secret.push(if last == '0' { '1' } else { '0' });
    let question = chat_body(QUESTIONS[0], 4, false);
    let mut refusals = Vec::new();
    let cases: [(&str, Option<&str>, &str); 6] = [
        ("no Authorization header", None, "/v1/usage"),
        ("not a key (`Bearer hello`)", Some("hello"), "/v1/usage"),
        (
            "a key with one wrong digit",
            Some(&wrong_secret),
            "/v1/usage",
        ),
        ("a revoked key", Some(&revoked), "/v1/usage"),
        ("a chat key on an admin route", Some(&alice), "/admin/audit"),
        (
            "the admin key on an admin route",
            Some(&admin.key),
            "/admin/audit",
        ),
    ];
    for (what, key, path) in cases {
        let mut req = http.get(format!("{api}{path}"));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        let (status, _, body) = outcome(req.send().await?).await?;
        refusals.push(Refusal {
            case: what.into(),
            route: path.into(),
            status,
            code: code(&body),
        });
    }
    // The same checks guard the model: a wrong key never reaches it.
    let (status, _, body) =
        outcome(post("/v1/chat/completions", &wrong_secret, question.clone()).await?).await?;
    refusals.push(Refusal {
        case: "a key with one wrong digit".into(),
        route: "/v1/chat/completions".into(),
        status,
        code: code(&body),
    });

    // 429: a key allowed 3 at once and 6 a minute, sent 5 requests at once.
    let mut limited = Vec::new();
    for i in 0..5 {
        let r = http
            .get(format!("{api}/v1/usage"))
            .bearer_auth(&alice_slow)
            .send()
            .await?;
        let remaining = r
            .headers()
            .get("x-ratelimit-remaining-requests")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let (status, retry, _) = outcome(r).await?;
        limited.push(Limited {
            request: i + 1,
            status,
            retry_after: retry,
            remaining,
        });
    }

    // Answers, metered: two whole, one streamed.
    let mut answers = Vec::new();
    for (i, q) in QUESTIONS.iter().enumerate() {
        let stream = i == 2;
        let started = Instant::now();
        let r = post(
            "/v1/chat/completions",
            &alice,
            chat_body(q, MAX_TOKENS, stream),
        )
        .await?;
        ensure!(r.status().is_success(), "answering {q:?}: {}", r.status());
        let (text, usage, events) = if stream {
            read_stream(r).await?
        } else {
            let v: Value = r.json().await?;
            (
                v["choices"][0]["message"]["content"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                v["usage"].clone(),
                0,
            )
        };
        let counted = counter.count(&[Message::user(*q)])?;
        answers.push(AnswerRow {
            question: q.to_string(),
            answer: text,
            streamed: stream,
            events,
            prompt_tokens: usage["prompt_tokens"].as_u64().unwrap_or(0),
            counted_prompt_tokens: counted,
            completion_tokens: usage["completion_tokens"].as_u64().unwrap_or(0),
            cost: usage["cost_nanodollars"].as_u64().unwrap_or(0),
            ms: started.elapsed().as_secs_f64() * 1e3,
        });
    }
    let alice_usage: Value = http
        .get(format!("{api}/v1/usage"))
        .bearer_auth(&alice)
        .send()
        .await?
        .json()
        .await?;

    // A nearly spent budget: bob has room for 3 reservations and a half, and `concurrent`
    // requests arrive at once.
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..cli.concurrent {
        let (http, api, bob) = (http.clone(), api.clone(), bob.clone());
        tasks.push(tokio::spawn(async move {
            let r = http
                .post(format!("{api}/v1/chat/completions"))
                .bearer_auth(&bob)
                .json(&chat_body(QUESTIONS[1], 4, false))
                .send()
                .await;
            match r {
                Ok(r) => {
                    let status = r.status().as_u16();
                    let v: Value = r.json().await.unwrap_or(Value::Null);
                    (status, v["usage"]["cost_nanodollars"].as_u64().unwrap_or(0))
                }
                Err(_) => (0, 0),
            }
        }));
    }
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    let mut client_cost = 0;
    for t in tasks {
        let (s, c) = t.await?;
        *statuses.entry(s).or_default() += 1;
        client_cost += c;
    }
    let concurrent_ms = started.elapsed().as_secs_f64() * 1e3;
    let bob_account = ledger.account("bob")?;
    let budget = BudgetRun {
        concurrent: cli.concurrent,
        budget: bob_budget,
        reservation: bob_need,
        statuses: statuses.into_iter().collect(),
        charged: bob_account.spent,
        client_cost,
        held_after: bob_account.held,
        ms: concurrent_ms,
    };

    // The same at the ledger itself: 8 connections (as 8 server processes would hold), 25
    // reservations each, at once, on a budget with room for 10.
    let path = ledger.path().to_path_buf();
    ledger.add_user("carol", 10 * 1000 + 999)?;
    let granted = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| -> Result<()> {
        let mut handles = Vec::new();
        for t in 0..8 {
            let (path, granted) = (&path, &granted);
            handles.push(s.spawn(move || -> Result<()> {
                let l = Ledger::open(path)?;
                for i in 0..25 {
                    if let Reserve::Granted(r) = l.reserve(
                        &format!("carol-{t}-{i}"),
                        "direct",
                        "carol",
                        0,
                        1,
                        pricing::Price {
                            input: 0,
                            output: 1000,
                        },
                    )? {
                        granted
                            .lock()
                            .map_err(|_| anyhow::anyhow!("poisoned"))?
                            .push(r);
                    }
                }
                Ok(())
            }));
        }
        for h in handles {
            h.join()
                .map_err(|_| anyhow::anyhow!("a reserving thread panicked"))??;
        }
        Ok(())
    })?;
    let carol = ledger.account("carol")?;
    let granted = granted
        .into_inner()
        .map_err(|_| anyhow::anyhow!("poisoned"))?;
    let direct = DirectRun {
        connections: 8,
        attempts: 200,
        room_for: 10,
        granted: granted.len(),
        held: carol.held,
        budget: carol.budget,
    };
    for r in &granted {
        ledger.release(r, "the ledger's own concurrency test")?;
    }

    // The ledger adds up.
    let totals = ledger.totals(None)?;
    let rows = ledger.rows(None)?;
    let problems = ledger.audit()?;
    let (s, _, audit_body) = outcome(
        http.get(format!("{api}/admin/audit"))
            .bearer_auth(&admin.key)
            .send()
            .await?,
    )
    .await?;
    ensure!(s == 200, "the audit route: {s}");
    let ledger_report = LedgerReport {
        rows: rows.len(),
        charged: rows.iter().filter(|r| r.state == "charged").count(),
        released: rows.iter().filter(|r| r.state == "released").count(),
        reserved: rows.iter().filter(|r| r.state == "reserved").count(),
        totals,
        row_cost_sum: rows.iter().map(|r| r.cost).sum(),
        users_spent: ["alice", "bob", "carol"]
            .iter()
            .map(|u| ledger.account(u).map(|a| a.spent))
            .sum::<Result<u64, _>>()?,
        alice_usage_cost: alice_usage["totals"]["cost"].as_u64().unwrap_or(0),
        alice_answers_cost: answers.iter().map(|a| a.cost).sum(),
        problems: problems.len() + audit_body["problems"].as_array().map_or(1, Vec::len),
    };

    // Bench: the limiter's decisions per second, one and two threads, 1,000 keys.
    let limiter_rate = |threads: usize| -> Result<f64> {
        let limiter = Limiter::new();
        let rate = Rate::per_minute(6e6, 1e6)?;
        let per_thread = 500_000;
        let start = Instant::now();
        std::thread::scope(|s| -> Result<()> {
            let hs: Vec<_> = (0..threads)
                .map(|t| {
                    let limiter = &limiter;
                    s.spawn(move || -> Result<()> {
                        let keys: Vec<String> = (0..1000).map(|k| format!("key-{k}")).collect();
                        for i in 0..per_thread {
                            let now = start.elapsed();
                            limiter.check(&keys[(i * 7 + t) % 1000], rate, now)?;
                        }
                        Ok(())
                    })
                })
                .collect();
            for h in hs {
                h.join()
                    .map_err(|_| anyhow::anyhow!("a limiter thread panicked"))??;
            }
            Ok(())
        })?;
        Ok((threads * per_thread) as f64 / start.elapsed().as_secs_f64())
    };
    let decisions_1 = limiter_rate(1)?;
    let decisions_2 = limiter_rate(2)?;

    // Overhead: the same request to the bare model server and through the API, alternately.
    let mut bare_ms = Vec::new();
    let mut api_ms = Vec::new();
    let body = chat_body(QUESTIONS[1], 8, false);
    for _ in 0..cli.overhead_requests {
        let t = Instant::now();
        let r = http
            .post(format!("{bare}/v1/chat/completions"))
            .json(&body)
            .send()
            .await?;
        ensure!(r.status().is_success(), "the bare model: {}", r.status());
        let _: Value = r.json().await?;
        bare_ms.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        let r = post("/v1/chat/completions", &bench, body.clone()).await?;
        ensure!(r.status().is_success(), "the API: {}", r.status());
        let _: Value = r.json().await?;
        api_ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    // The ledger's share: a reservation and its settlement, timed alone.
    let mut ledger_ms = Vec::new();
    for i in 0..20 {
        let t = Instant::now();
        if let Reserve::Granted(r) =
            ledger.reserve(&format!("timing-{i}"), "timing", "alice", 30, 8, SMOLLM2)?
        {
            ledger.release(&r, "timing the ledger")?;
        }
        ledger_ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    // The API's own cost, without the model's noise: an instant scripted model behind both.
    let n = cli.overhead_requests * 16;
    let scripted = ScriptedModel::new(vec!["the answer is ready"; 2 * n]);
    let quick = week24_llm_app::stack::start(
        "127.0.0.1:0",
        ledger.clone(),
        counter.clone(),
        Box::new(scripted),
        8,
        SMOLLM2,
    )
    .await?;
    let mut instant_bare_ms = Vec::new();
    let mut instant_api_ms = Vec::new();
    let scripted_body = json!({"model": "scripted", "messages": [{"role": "user", "content": QUESTIONS[1]}], "max_tokens": 8});
    for _ in 0..n {
        let t = Instant::now();
        let r = http
            .post(format!("{}/v1/chat/completions", quick.model_base))
            .json(&scripted_body)
            .send()
            .await?;
        ensure!(
            r.status().is_success(),
            "the bare scripted model: {}",
            r.status()
        );
        let _: Value = r.json().await?;
        instant_bare_ms.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        let r = http
            .post(format!("{}/v1/chat/completions", quick.api_base))
            .bearer_auth(&bench)
            .json(&scripted_body)
            .send()
            .await?;
        ensure!(
            r.status().is_success(),
            "the scripted model through the API: {}",
            r.status()
        );
        let _: Value = r.json().await?;
        instant_api_ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let overhead = Overhead::new(
        &bare_ms,
        &api_ms,
        &ledger_ms,
        &instant_bare_ms,
        &instant_api_ms,
    );
    let stats = stack.api.stats();
    let counts = Counts {
        prompt_count_differs: stats
            .prompt_count_differs
            .load(std::sync::atomic::Ordering::Relaxed),
    };
    let mut plots = plot_overhead(lab, &instant_bare_ms, &instant_api_ms)?;
    plots.extend(plot_model(lab, &bare_ms, &api_ms)?);
    lab.saved(plots);
    Ok(Report {
        ledger_file: path.display().to_string(),
        setup,
        refusals,
        limited,
        answers,
        budget,
        direct,
        ledger: ledger_report,
        counts,
        decisions_1,
        decisions_2,
        overhead,
    })
}

/// The text, the usage chunk and the number of text events of a streamed answer.
async fn read_stream(mut r: reqwest::Response) -> Result<(String, Value, usize)> {
    let mut buf = String::new();
    let (mut text, mut usage, mut events, mut done) = (String::new(), Value::Null, 0, false);
    while let Some(chunk) = r.chunk().await? {
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let event: String = buf.drain(..end + 2).collect();
            for data in event.lines().filter_map(|l| l.strip_prefix("data: ")) {
                if data == "[DONE]" {
                    ensure!(!done, "[DONE] twice");
                    done = true;
                    continue;
                }
                let v: Value = serde_json::from_str(data)?;
                if v["usage"].is_object() {
                    usage = v["usage"].clone();
                } else if let Some(t) = v["choices"][0]["delta"]["content"]
                    .as_str()
                    .filter(|t| !t.is_empty())
                {
                    text.push_str(t);
                    events += 1;
                }
            }
        }
    }
    ensure!(done, "the stream ended without [DONE]");
    Ok((text, usage, events))
}
