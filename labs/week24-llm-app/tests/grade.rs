//! Grader checks for week 24: constant-time comparison, the token bucket and exact costs
//! (hand-worked), the ledger's reservations (hand-worked, and concurrent connections that must
//! not overspend), and the API end to end on loopback with SmolLM2 answering: the 401, 403,
//! 429, 402, 400 and 404 paths, hundreds of concurrent requests at a nearly spent budget, a
//! stream whose client goes away, a server SIGKILLed mid-request, and the OpenAPI document.

use grader::{Called, Failure, check, ensure, expect_err};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use week24_llm_app::bucket::{Bucket, Decision, Rate};
use week24_llm_app::counter::PromptCounter;
use week24_llm_app::keys::{self, Scope, constant_time_eq};
use week24_llm_app::ledger::{Ledger, Reserve};
use week24_llm_app::pricing::{self, Price, SMOLLM2, cost};
use week24_llm_app::stack::{self, Stack};
use week24_llm_app::wb_llm::{LocalModel, Message, WeightFormat};

const MODEL: &str = "smollm2-135m-instruct";

fn temp_dir(tag: &str) -> Result<PathBuf, Failure> {
    let dir = std::env::temp_dir().join(format!("grader-w24-{tag}-{}", std::process::id()));
    if dir.exists() {
        std::fs::remove_dir_all(&dir).called("clearing the temporary folder")?;
    }
    std::fs::create_dir_all(&dir).called("creating the temporary folder")?;
    Ok(dir)
}

/// A child process killed (SIGKILL) and reaped when dropped: a check that fails or returns
/// early leaves no server behind.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Runtime::new().called("starting tokio")
}

/// SmolLM2 behind the API on a fresh ledger in `dir`.
async fn stack_in(
    dir: &std::path::Path,
    queue: usize,
) -> Result<(Stack, Arc<Ledger>, PromptCounter), Failure> {
    let ledger = Arc::new(Ledger::open(&dir.join("ledger.sqlite")).called("Ledger::open")?);
    let model =
        LocalModel::smollm2(WeightFormat::Quantized, &mut |_| {}).called("loading SmolLM2")?;
    let counter = PromptCounter::of(&model);
    let stack = stack::start(
        "127.0.0.1:0",
        ledger.clone(),
        PromptCounter::of(&model),
        Box::new(model),
        queue,
        SMOLLM2,
    )
    .await
    .called("starting the API")?;
    Ok((stack, ledger, counter))
}

fn chat(question: &str, max_tokens: u64, stream: bool) -> Value {
    json!({"model": MODEL, "messages": [{"role": "user", "content": question}],
           "max_tokens": max_tokens, "temperature": 0, "stream": stream,
           "stream_options": {"include_usage": true}})
}

check! {
    /// Equal exactly when `==` says so: equal slices, a difference at the first, a middle and
    /// the last byte, different lengths, empty ones.
    fn constant_time_eq_is_equality(exercise = "constant_time_eq") {
        let a: Vec<u8> = (0..32).collect();
        ensure(constant_time_eq(&a, &a.clone()), "equal slices", "were called different")?;
        for i in [0, 13, 31] {
            let mut b = a.clone();
            b[i] ^= 0x80;
            ensure(!constant_time_eq(&a, &b), &format!("a difference at byte {i}"), "was called equal")?;
        }
        ensure(!constant_time_eq(&a, &a[..31]), "different lengths", "were called equal")?;
        ensure(constant_time_eq(&[], &[]), "two empty slices", "were called different")?;
        let k = keys::generate();
        let (_, secret) = keys::parse(&k.key).called("keys::parse")?;
        ensure(keys::verify(secret, &k.hash), "a key against its own hash", "did not verify")?;
        let mut other = secret.to_string();
        other.replace_range(0..1, if other.starts_with('0') { "1" } else { "0" });
        ensure(!keys::verify(&other, &k.hash), "a key with its first digit changed", "verified")
    }
}

check! {
    /// A bucket of 3 refilling 1 a second, worked by hand: three requests at t = 0 leave 2, 1,
    /// 0; the fourth waits 1 s; at 0.5 s it waits 0.5 s; at 1 s one goes through; after 10 s
    /// the bucket holds 3 (never more); a clock read earlier than the last refills nothing.
    fn token_bucket_is_hand_worked(exercise = "take") {
        let s = Duration::from_secs_f64;
        let mut b = Bucket::new(Rate { capacity: 3.0, per_second: 1.0 }, s(0.0)).called("Bucket::new")?;
        for left in [2.0, 1.0, 0.0] {
            let d = b.take(s(0.0));
            ensure(d == Decision::Allowed { remaining: left }, "a request at t = 0", format!("{d:?}, expected {left} left"))?;
        }
        let d = b.take(s(0.0));
        ensure(d == Decision::Limited { retry_after: s(1.0) }, "the 4th request at t = 0", format!("{d:?}, expected a wait of 1 s"))?;
        ensure(d.retry_after_s() == Some(1), "Retry-After", format!("{:?}", d.retry_after_s()))?;
        let d = b.take(s(0.5));
        ensure(matches!(d, Decision::Limited { retry_after } if (retry_after.as_secs_f64() - 0.5).abs() < 1e-9), "a request at t = 0.5 s", format!("{d:?}, expected a wait of 0.5 s"))?;
        let d = b.take(s(1.0));
        ensure(matches!(d, Decision::Allowed { remaining } if remaining.abs() < 1e-9), "a request at t = 1 s", format!("{d:?}, expected one through, 0 left"))?;
        let d = b.take(s(0.2));
        ensure(matches!(d, Decision::Limited { .. }), "a clock read earlier than the last", format!("{d:?}: it must refill nothing"))?;
        for left in [2.0, 1.0, 0.0] {
            let d = b.take(s(11.0));
            ensure(matches!(d, Decision::Allowed { remaining } if (remaining - left).abs() < 1e-9), "after 10 idle seconds", format!("{d:?}, expected {left} left: a full bucket holds 3"))?;
        }
        ensure(matches!(b.take(s(11.0)), Decision::Limited { .. }), "the 4th after 10 idle seconds", "went through")?;
        expect_err("a rate of 0", Bucket::new(Rate { capacity: 3.0, per_second: 0.0 }, s(0.0))).map(|_| ())
    }
}

check! {
    /// 31 prompt and 24 answer tokens at $0.15 / $0.60 per million cost 31·150 + 24·600 =
    /// 19,050 nano-dollars; a count whose cost does not fit in SQLite's 63 bits is an error.
    fn cost_is_exact_and_refuses_overflow(exercise = "cost") {
        let c = cost(SMOLLM2, 31, 24).called("cost")?;
        ensure(c == 19_050, "cost(31, 24)", format!("{c}, expected 19050"))?;
        ensure(pricing::dollars(c) == "$0.000019050", "in dollars", pricing::dollars(c))?;
        let c = cost(Price { input: 1, output: 1 }, i64::MAX as u64, 0).called("cost at the limit")?;
        ensure(c == i64::MAX as u64, "the largest cost", format!("{c}"))?;
        expect_err("one past SQLite's largest integer", cost(Price { input: 1, output: 1 }, i64::MAX as u64, 1))?;
        expect_err("a product that overflows 64 bits", cost(Price { input: u64::MAX, output: 0 }, 2, 0)).map(|_| ())
    }
}

check! {
    /// A budget of 10,000 with reservations of 3,000: three granted, the fourth refused with
    /// 1,000 left; settling one at 1,000 frees 2,000, so one more fits; a release frees all of
    /// its hold; a reservation ends once; a request id is in the ledger once; the audit agrees.
    fn reserve_holds_and_refuses_over_budget(exercise = "reserve") {
        let dir = temp_dir("reserve")?;
        let l = Ledger::open(&dir.join("l.sqlite")).called("Ledger::open")?;
        l.add_user("u", 10_000).called("add_user")?;
        let price = Price { input: 100, output: 100 };
        let mut held = Vec::new();
        for i in 0..3 {
            match l.reserve(&format!("r{i}"), "k", "u", 10, 20, price).called("reserve")? {
                Reserve::Granted(r) => held.push(r),
                other => return Err(Failure::new(format!("reservation {i}"), format!("{other:?}, expected granted"))),
            }
        }
        let a = l.account("u").called("account")?;
        ensure(a.held == 9_000 && a.spent == 0, "after 3 reservations", format!("{a:?}, expected 9,000 held"))?;
        match l.reserve("r3", "k", "u", 10, 20, price).called("reserve")? {
            Reserve::OverBudget { account, need } => ensure(account.remaining() == 1_000 && need == 3_000, "the refusal", format!("{account:?}, need {need}"))?,
            other => return Err(Failure::new("the 4th reservation", format!("{other:?}, expected over budget"))),
        }
        let c = l.settle(&held[0], 10, 0, price).called("settle")?;
        ensure(c == 1_000, "settled at 10 prompt tokens", format!("cost {c}"))?;
        let a = l.account("u").called("account")?;
        ensure(a.spent == 1_000 && a.held == 6_000, "after settling", format!("{a:?}, expected spent 1,000, held 6,000"))?;
        ensure(matches!(l.reserve("r4", "k", "u", 10, 20, price).called("reserve")?, Reserve::Granted(_)), "a reservation once 3,000 are free", "refused")?;
        expect_err("settling a reservation twice", l.settle(&held[0], 10, 0, price))?;
        l.release(&held[1], "test").called("release")?;
        expect_err("releasing a settled reservation", l.release(&held[0], "test"))?;
        let e = expect_err("a request id used twice", l.reserve("r1", "k", "u", 0, 0, price))?;
        ensure(e.contains("r1"), "the error names the request", e)?;
        expect_err("an unknown user", l.reserve("r9", "k", "nobody", 0, 0, price))?;
        let a = l.account("u").called("account")?;
        ensure(a.spent == 1_000 && a.held == 6_000, "after the release", format!("{a:?}, expected spent 1,000, held 6,000"))?;
        let problems = l.audit().called("audit")?;
        ensure(problems.is_empty(), "the audit", format!("{problems:?}"))?;
        ensure(l.recover().called("recover")? == 2, "recover releases what is open", "expected 2 rows")?;
        let a = l.account("u").called("account")?;
        ensure(a.held == 0 && a.spent == 1_000, "after recovery", format!("{a:?}"))
    }
}

check! {
    /// Eight connections to one ledger file (as eight server processes would hold) reserve at
    /// once, 30 times each, on a budget with room for 17: exactly 17 are granted.
    fn concurrent_connections_never_overspend(exercise = "reserve") {
        let dir = temp_dir("connections")?;
        let path = dir.join("l.sqlite");
        Ledger::open(&path).called("Ledger::open")?.add_user("u", 17 * 500 + 499).called("add_user")?;
        let granted = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            let hs: Vec<_> = (0..8).map(|t| {
                let (path, granted) = (&path, &granted);
                s.spawn(move || -> Result<(), Failure> {
                    let l = Ledger::open(path).called("Ledger::open")?;
                    for i in 0..30 {
                        if let Reserve::Granted(_) = l.reserve(&format!("{t}-{i}"), "k", "u", 5, 0, Price { input: 100, output: 0 }).called("reserve")? {
                            granted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        }
                    }
                    Ok(())
                })
            }).collect();
            hs.into_iter().try_for_each(|h| h.join().map_err(|_| Failure::new("a thread", "panicked"))?)
        })?;
        let n = granted.into_inner();
        ensure(n == 17, "reservations granted", format!("{n}, expected exactly 17"))?;
        let a = Ledger::open(&path).called("Ledger::open")?.account("u").called("account")?;
        ensure(a.held == 17 * 500, "held", format!("{a:?}"))
    }
}

check! {
    /// The refusals over HTTP: no key, a malformed key and a key with one wrong digit are 401
    /// (with `WWW-Authenticate`); a revoked key and a chat key on an admin route are 403; a key
    /// with a burst of 2 gets 429 with `Retry-After` on its 3rd request at once; a bad field is a
    /// 400 naming it; tools are refused; a body over 1 MiB is 413; an unknown model is 404; a
    /// budget that cannot cover the worst case is 402. The answers that went through add up in
    /// the ledger.
    fn http_refuses_what_it_must(exercise = "reserve", timeout_s = 300) {
        let dir = temp_dir("http")?;
        runtime()?.block_on(async {
            let (stack, ledger, counter) = stack_in(&dir, 8).await?;
            let api = stack.api_base.clone();
            ledger.add_user("u", 40_000).called("add_user")?;
            let key = ledger.add_key("u", &[Scope::Chat], Rate::per_minute(600.0, 50.0).called("rate")?).called("add_key")?;
            let tight = ledger.add_key("u", &[Scope::Chat], Rate::per_minute(1.0, 2.0).called("rate")?).called("add_key")?;
            let gone = ledger.add_key("u", &[Scope::Chat], Rate::per_minute(60.0, 5.0).called("rate")?).called("add_key")?;
            ledger.revoke_key(&gone.id).called("revoke_key")?;
            let http = reqwest::Client::new();
            let mut wrong = key.key.clone();
            let last = wrong.pop().unwrap_or('0');
            wrong.push(if last == '0' { '1' } else { '0' });
            let get = |path: &str, k: Option<&str>| {
                let mut r = http.get(format!("{api}{path}"));
                if let Some(k) = k { r = r.bearer_auth(k); }
                r.send()
            };
            for (what, k, path, want) in [
                ("no key", None, "/v1/usage", 401u16),
                ("a malformed key", Some("sk-wb-nothex"), "/v1/usage", 401),
                ("one wrong digit", Some(wrong.as_str()), "/v1/usage", 401),
                ("a revoked key", Some(gone.key.as_str()), "/v1/usage", 403),
                ("a chat key on an admin route", Some(key.key.as_str()), "/admin/audit", 403),
                ("a good key", Some(key.key.as_str()), "/v1/usage", 200),
            ] {
                let r = get(path, k).await.called("GET")?;
                let status = r.status().as_u16();
                ensure(status == want, what, format!("{status}, expected {want}"))?;
                if want == 401 {
                    ensure(r.headers().contains_key("www-authenticate"), what, "a 401 without WWW-Authenticate")?;
                }
            }
            let mut statuses = Vec::new();
            for _ in 0..3 {
                let r = get("/v1/usage", Some(&tight.key)).await.called("GET")?;
                statuses.push((r.status().as_u16(), r.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|s| s.parse::<u64>().ok())));
            }
            ensure(statuses[0].0 == 200 && statuses[1].0 == 200 && statuses[2].0 == 429, "a burst of 2, 3 requests at once", format!("{statuses:?}"))?;
            ensure(statuses[2].1.is_some_and(|s| (1..=60).contains(&s)), "Retry-After of the 429", format!("{:?}, expected 1 to 60 s (1 a minute)", statuses[2].1))?;
            let post = |body: Value| http.post(format!("{api}/v1/chat/completions")).bearer_auth(&key.key).json(&body).send();
            let r = post(json!({"model": MODEL, "messages": [{"role": "pilot", "content": "hi"}]})).await.called("POST")?;
            let status = r.status().as_u16();
            let v: Value = r.json().await.called("the 400's body")?;
            ensure(status == 400 && v["error"]["param"].as_str().is_some_and(|p| p.contains("messages[0]")), "a bad role", format!("{status} {v}"))?;
            let mut tools = chat("hi", 4, false);
            tools["tools"] = json!([{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]);
            let status = post(tools).await.called("POST")?.status().as_u16();
            ensure(status == 400, "tools", format!("{status}, expected 400"))?;
            let huge = chat(&"word ".repeat(300_000), 4, false);
            let status = post(huge).await.called("POST")?.status().as_u16();
            ensure(status == 413, "a 1.5 MB body", format!("{status}, expected 413"))?;
            let mut other = chat("hi", 4, false);
            other["model"] = json!("gpt-9");
            let status = post(other).await.called("POST")?.status().as_u16();
            ensure(status == 404, "an unknown model", format!("{status}, expected 404"))?;
            // 40,000 nano-dollars: room for the worst case of 4 answer tokens, not of 512.
            let prompt = counter.count(&[Message::user("Say yes.")]).called("count")?;
            let small = post(chat("Say yes.", 4, false)).await.called("POST")?;
            ensure(small.status().as_u16() == 200, "a request that fits", format!("{}", small.status()))?;
            let v: Value = small.json().await.called("the answer")?;
            let (p, c, charged) = (v["usage"]["prompt_tokens"].as_u64().unwrap_or(0), v["usage"]["completion_tokens"].as_u64().unwrap_or(0), v["usage"]["cost_nanodollars"].as_u64().unwrap_or(0));
            ensure(p == prompt, "the model's prompt count against the API's", format!("{p} vs {prompt}"))?;
            ensure(charged == p * 150 + c * 600, "the charge", format!("{charged} for {p} + {c} tokens"))?;
            let big = post(chat("Say yes.", 512, false)).await.called("POST")?;
            let status = big.status().as_u16();
            let v: Value = big.json().await.called("the 402's body")?;
            ensure(status == 402 && v["error"]["code"] == "budget_exhausted", "a worst case over the budget", format!("{status} {v}"))?;
            let a = ledger.account("u").called("account")?;
            ensure(a.spent == charged && a.held == 0, "the ledger after one answer", format!("{a:?}, the client was charged {charged}"))?;
            let problems = ledger.audit().called("audit")?;
            ensure(problems.is_empty(), "the audit", format!("{problems:?}"))
        })
    }
}

check! {
    /// 300 requests at once on a budget with room for 3.5 worst cases (4 answer tokens each):
    /// exactly 3 are answered, 297 are refused with 402, and what the clients were told they
    /// paid is what the ledger charged; nothing stays held.
    fn hundreds_of_concurrent_requests_never_double_spend(exercise = "reserve", timeout_s = 300) {
        let dir = temp_dir("budget")?;
        runtime()?.block_on(async {
            let (stack, ledger, counter) = stack_in(&dir, 400).await?;
            let question = "Name a colour.";
            let need = cost(SMOLLM2, counter.count(&[Message::user(question)]).called("count")?, 4).called("cost")?;
            ledger.add_user("u", 3 * need + need / 2).called("add_user")?;
            let key = ledger.add_key("u", &[Scope::Chat], Rate::per_minute(60_000.0, 1000.0).called("rate")?).called("add_key")?;
            let http = reqwest::Client::new();
            let tasks: Vec<_> = (0..300).map(|_| {
                let (http, url, key) = (http.clone(), format!("{}/v1/chat/completions", stack.api_base), key.key.clone());
                tokio::spawn(async move {
                    let r = http.post(url).bearer_auth(key).json(&chat(question, 4, false)).send().await.ok()?;
                    let status = r.status().as_u16();
                    let v: Value = r.json().await.ok()?;
                    Some((status, v["usage"]["cost_nanodollars"].as_u64().unwrap_or(0)))
                })
            }).collect();
            let (mut ok, mut refused, mut told) = (0, 0, 0);
            for t in tasks {
                match t.await.called("a request task")? {
                    Some((200, c)) => { ok += 1; told += c; }
                    Some((402, _)) => refused += 1,
                    other => return Err(Failure::new("a request", format!("{other:?}, expected 200 or 402"))),
                }
            }
            ensure(ok == 3 && refused == 297, "answered and refused", format!("{ok} answered, {refused} refused; expected 3 and 297"))?;
            let a = ledger.account("u").called("account")?;
            ensure(a.spent == told && a.held == 0 && a.spent <= a.budget, "the ledger", format!("{a:?}; the clients were told {told}"))
        })
    }
}

check! {
    /// A streamed answer arrives in order and ends with one usage chunk and one `[DONE]`; its
    /// cost is the ledger's. A client that leaves after 2 text events is charged for what it was
    /// sent (fewer tokens than the 64 allowed) and its hold is freed.
    fn streams_are_metered_and_a_client_that_leaves_pays_what_it_got(exercise = "reserve", timeout_s = 300) {
        let dir = temp_dir("stream")?;
        runtime()?.block_on(async {
            let (stack, ledger, _) = stack_in(&dir, 8).await?;
            ledger.add_user("u", 1_000_000_000).called("add_user")?;
            let key = ledger.add_key("u", &[Scope::Chat], Rate::per_minute(600.0, 50.0).called("rate")?).called("add_key")?;
            let http = reqwest::Client::new();
            let url = format!("{}/v1/chat/completions", stack.api_base);
            let r = http.post(&url).bearer_auth(&key.key).json(&chat("Count from one to five.", 12, true)).send().await.called("POST")?;
            ensure(r.status().as_u16() == 200, "a stream", format!("{}", r.status()))?;
            let text = r.text().await.called("reading the stream")?;
            let data: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("data: ")).collect();
            ensure(data.last() == Some(&"[DONE]") && data.iter().filter(|d| **d == "[DONE]").count() == 1, "[DONE]", "expected exactly one, at the end")?;
            let usage: Vec<Value> = data.iter().filter_map(|d| serde_json::from_str::<Value>(d).ok()).filter(|v| v["usage"].is_object()).collect();
            ensure(usage.len() == 1, "usage chunks", format!("{}", usage.len()))?;
            let told = usage[0]["usage"]["cost_nanodollars"].as_u64().unwrap_or(0);
            let a = ledger.account("u").called("account")?;
            ensure(a.spent == told && told > 0, "the stream's cost in the ledger", format!("told {told}, ledger {a:?}"))?;
            // A client that leaves.
            let mut r = http.post(&url).bearer_auth(&key.key).json(&chat("Write a long story about a dragon.", 64, true)).send().await.called("POST")?;
            let mut seen = String::new();
            while seen.matches("\"content\":\"").count() < 3 {
                match r.chunk().await {
                    Ok(Some(b)) => seen.push_str(&String::from_utf8_lossy(&b)),
                    _ => return Err(Failure::new("the second stream", "ended before 2 text events")),
                }
            }
            drop(r);
            let started = Instant::now();
            loop {
                let rows = ledger.rows(Some("u")).called("rows")?;
                let last = rows.last().cloned().ok_or_else(|| Failure::new("the ledger", "no rows"))?;
                if last.state != "reserved" {
                    ensure(last.state == "charged" && last.completion_tokens >= 2 && last.completion_tokens < 64, "the row of the client that left", format!("{last:?}"))?;
                    ensure(last.note.as_deref().is_some_and(|n| n.contains("went away")), "its note", format!("{:?}", last.note))?;
                    break;
                }
                if started.elapsed() > Duration::from_secs(60) {
                    return Err(Failure::new("the row of the client that left", "still reserved after 60 s"));
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let a = ledger.account("u").called("account")?;
            ensure(a.held == 0, "nothing held", format!("{a:?}"))?;
            let problems = ledger.audit().called("audit")?;
            ensure(problems.is_empty(), "the audit", format!("{problems:?}"))
        })
    }
}

check! {
    /// `serve` is SIGKILLed while 6 streamed requests are answered one after another: every
    /// request whose client saw its usage is charged in the ledger exactly as told; at restart
    /// the reservations the crash left are released; nothing stays held; the audit agrees.
    fn sigkill_mid_request_loses_no_charged_usage(exercise = "reserve", timeout_s = 600) {
        let dir = temp_dir("kill")?;
        let path = dir.join("serve.sqlite");
        let ledger = Ledger::open(&path).called("Ledger::open")?;
        ledger.add_user("admin", 0).called("add_user")?;
        ledger.add_key("admin", &[Scope::Admin], Rate::per_minute(60.0, 5.0).called("rate")?).called("add_key")?;
        ledger.add_user("u", 1_000_000_000).called("add_user")?;
        let key = ledger.add_key("u", &[Scope::Chat], Rate::per_minute(600.0, 50.0).called("rate")?).called("add_key")?;
        drop(ledger);
        let mut child = KillOnDrop(std::process::Command::new(env!("CARGO_BIN_EXE_week24-llm-app"))
            .args(["serve", "--addr", "127.0.0.1:0", "--ledger"]).arg(&path)
            .stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::null())
            .spawn().called("starting serve")?);
        let stdout = child.0.stdout.take().ok_or_else(|| Failure::new("serve", "no stdout"))?;
        let mut lines = BufReader::new(stdout).lines();
        let base = loop {
            match lines.next() {
                Some(Ok(l)) => if let Some(b) = l.strip_prefix("listening on ") { break b.to_string(); },
                _ => return Err(Failure::new("serve", "ended before listening")),
            }
        };
        let told = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(String, u64, u64, u64)>::new()));
        let outcome = runtime()?.block_on(async {
            let http = reqwest::Client::new();
            let tasks: Vec<_> = (0..6).map(|i| {
                let (http, url, key, told) = (http.clone(), format!("{base}/v1/chat/completions"), key.key.clone(), told.clone());
                tokio::spawn(async move {
                    let r = http.post(url).bearer_auth(key).json(&chat(&format!("Tell me about the number {i}."), 40, true)).send().await.ok()?;
                    let id = r.headers().get("x-request-id")?.to_str().ok()?.to_string();
                    let text = r.text().await.ok()?;
                    let usage = text.lines().filter_map(|l| l.strip_prefix("data: ")).filter_map(|d| serde_json::from_str::<Value>(d).ok()).find(|v| v["usage"].is_object())?;
                    let u = &usage["usage"];
                    told.lock().ok()?.push((id, u["prompt_tokens"].as_u64()?, u["completion_tokens"].as_u64()?, u["cost_nanodollars"].as_u64()?));
                    Some(())
                })
            }).collect();
            // Kill once 2 answers are whole: others are mid-stream or queued.
            let started = Instant::now();
            while told.lock().map(|t| t.len()).unwrap_or(0) < 2 {
                if tasks.iter().all(|t| t.is_finished()) {
                    return Err(Failure::new("serve", "every request ended with fewer than 2 whole answers"));
                }
                if started.elapsed() > Duration::from_secs(300) {
                    return Err(Failure::new("serve", "fewer than 2 answers in 300 s"));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
            child.0.kill().called("SIGKILL")?;
            let _ = child.0.wait();
            for t in tasks { let _ = t.await; }
            Ok(())
        });
        outcome?;
        let told = told.lock().map(|t| t.clone()).map_err(|_| Failure::new("told", "poisoned"))?;
        ensure(told.len() < 6, "requests answered before the kill", format!("all {} finished: the kill came too late to test anything", told.len()))?;
        let ledger = Ledger::open(&path).called("Ledger::open after the kill")?;
        let open_before = ledger.rows(Some("u")).called("rows")?.iter().filter(|r| r.state == "reserved").count();
        let released = ledger.recover().called("recover")?;
        ensure(released == open_before, "recovery", format!("released {released} of {open_before} open reservations"))?;
        let rows = ledger.rows(Some("u")).called("rows")?;
        for (id, p, c, cost) in &told {
            let row = rows.iter().find(|r| &r.request == id).ok_or_else(|| Failure::new("a told request", format!("{id} is not in the ledger")))?;
            ensure(row.state == "charged" && row.prompt_tokens == *p && row.completion_tokens == *c && row.cost == *cost, "a told request's row", format!("{row:?}, the client was told {p} + {c} tokens, {cost}"))?;
        }
        let charged = rows.iter().filter(|r| r.state == "charged").count();
        // At most one more than told: one whose settlement committed as the process died.
        ensure(charged <= told.len() + 1, "charged rows", format!("{charged} charged, {} told", told.len()))?;
        let a = ledger.account("u").called("account")?;
        ensure(a.held == 0 && a.spent == rows.iter().map(|r| r.cost).sum::<u64>(), "the account", format!("{a:?}"))?;
        let problems = ledger.audit().called("audit")?;
        ensure(problems.is_empty(), "the audit", format!("{problems:?}"))
    }
}

check! {
    /// `GET /openapi.json` documents every route with the bearer scheme, and a valid key reads
    /// its usage; a file that is not a ledger is refused with its name.
    fn openapi_lists_the_routes_and_a_bad_file_is_named(exercise = "constant_time_eq", timeout_s = 120) {
        let dir = temp_dir("openapi")?;
        runtime()?.block_on(async {
            let (stack, _, _) = stack_in(&dir, 8).await?;
            let v: Value = reqwest::get(format!("{}/openapi.json", stack.api_base)).await.called("GET")?.json().await.called("JSON")?;
            for p in ["/v1/chat/completions", "/v1/usage", "/admin/users", "/admin/users/{id}/budget", "/admin/keys", "/admin/keys/{id}/revoke", "/admin/audit"] {
                ensure(v["paths"][p].is_object(), "a documented route", format!("{p} is missing"))?;
            }
            ensure(v["components"]["securitySchemes"]["api_key"]["scheme"] == "bearer", "the bearer scheme", format!("{}", v["components"]["securitySchemes"]))?;
            let ledger = stack.api.ledger();
            ledger.add_user("u", 1000).called("add_user")?;
            let key = ledger.add_key("u", &[Scope::Chat], Rate::per_minute(60.0, 5.0).called("rate")?).called("add_key")?;
            let r = reqwest::Client::new().get(format!("{}/v1/usage", stack.api_base)).bearer_auth(&key.key).send().await.called("GET /v1/usage")?;
            ensure(r.status().as_u16() == 200, "a valid key on /v1/usage", format!("{}", r.status()))?;
            let v: Value = r.json().await.called("the usage")?;
            ensure(v["account"]["budget"] == 1000 && v["totals"]["requests"] == 0, "the usage of a new user", format!("{v}"))?;
            // An unknown user is a 404 on the admin routes, not a bad request.
            let admin = ledger.add_key("u", &[Scope::Admin], Rate::per_minute(60.0, 5.0).called("rate")?).called("add_key")?;
            let client = reqwest::Client::new();
            let get = client.get(format!("{}/admin/users/nobody", stack.api_base)).bearer_auth(&admin.key).send().await.called("GET /admin/users/nobody")?;
            let put = client.put(format!("{}/admin/users/nobody/budget", stack.api_base)).bearer_auth(&admin.key).json(&serde_json::json!({"budget_usd": "1"})).send().await.called("PUT /admin/users/nobody/budget")?;
            ensure(get.status().as_u16() == 404 && put.status().as_u16() == 404, "an unknown user on the admin routes", format!("404 and 404, got {} and {}", get.status(), put.status()))
        })?;
        let bad = dir.join("not-a-ledger.sqlite");
        std::fs::write(&bad, vec![7u8; 4096]).called("writing")?;
        let e = expect_err("opening a file that is not SQLite", Ledger::open(&bad))?;
        ensure(e.contains("not-a-ledger.sqlite"), "the error names the file", e)
    }
}
