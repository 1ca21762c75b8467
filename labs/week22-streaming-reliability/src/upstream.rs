//! The gateway's client of the model server (OpenAI-compatible chat completions, streamed): each
//! attempt under a timeout, failures classified, retried with backoff inside a deadline and a
//! retry budget, behind a circuit breaker.
//!
//! A stream that breaks halfway is not lost: with greedy decoding the model answers the same
//! prompt with the same tokens, so a retry's answer is read from the start, checked against
//! what was already passed on (any difference is [`Failure::Diverged`]) and only what is new is
//! passed on. The client downstream sees one stream, in order, whatever broke in between.

use crate::breaker::{Breaker, BreakerConfig, State};
use crate::retry::{Failure, RetryBudget, RetryPolicy};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How the gateway calls the model server.
#[derive(Debug, Clone)]
pub struct Resilience {
    pub policy: RetryPolicy,
    /// `None`: no breaker.
    pub breaker: Option<BreakerConfig>,
    /// `None`: no budget (every retry the policy allows goes out).
    pub budget: Option<RetryBudget>,
    /// Seeds the jitter.
    pub seed: u64,
}

/// Counters of the upstream calls.
#[derive(Debug, Default)]
pub struct UpstreamStats {
    /// Calls (a call makes one or more attempts).
    pub calls: AtomicU64,
    /// Attempts sent to the server (the load the gateway puts on it).
    pub attempts: AtomicU64,
    /// Calls that ended with a whole answer.
    pub succeeded: AtomicU64,
    /// Responses being read now (0 once every stream is finished or dropped).
    pub open_streams: AtomicI64,
    /// Failed attempts, by kind.
    pub failures: Mutex<BTreeMap<&'static str, u64>>,
}

/// A finished call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Answer {
    pub text: String,
    /// The server's finish reason (`stop`, `length`).
    pub finish: String,
    pub attempts: u32,
    /// The failures retried on the way, in order.
    pub retried: Vec<String>,
}

/// A call that did not finish.
#[derive(Debug, Clone, PartialEq)]
pub enum CallError {
    /// The last attempt's failure, after `attempts` attempts; `gave_up` says why no retry followed.
    Failed {
        last: Failure,
        attempts: u32,
        gave_up: &'static str,
    },
    /// The caller stopped it (its client went away).
    Cancelled { attempts: u32 },
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Failed {
                last,
                attempts,
                gave_up,
            } => write!(f, "{last} (after {attempts} attempts; {gave_up})"),
            CallError::Cancelled { attempts } => {
                write!(f, "cancelled by the client after {attempts} attempts")
            }
        }
    }
}

/// What to ask the model.
#[derive(Debug, Clone, Serialize)]
pub struct Call {
    /// OpenAI chat messages (`{"role", "content"}`).
    pub messages: Vec<Value>,
    pub max_tokens: usize,
    /// A JSON Schema for the answer (the server's constrained decoding), when one is wanted.
    pub schema: Option<Value>,
}

enum Attempt {
    Done(String),
    Failed(Failure),
    Cancelled,
}

/// Decrements the open-stream count when a response is dropped, however that happens.
struct OpenStream<'a>(&'a AtomicI64);

impl Drop for OpenStream<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A call the breaker let through, until its outcome is recorded: dropped without one (the
/// caller went away mid-attempt, or the call was cancelled), it frees its place.
struct Admitted<'a> {
    breaker: Option<&'a Mutex<Breaker>>,
    recorded: bool,
}

impl Admitted<'_> {
    fn record(mut self, healthy: bool) {
        if let Some(b) = self.breaker
            && let Ok(mut b) = b.lock()
        {
            b.record(Instant::now(), healthy);
        }
        self.recorded = true;
    }
}

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        if !self.recorded
            && let Some(b) = self.breaker
            && let Ok(mut b) = b.lock()
        {
            b.release();
        }
    }
}

/// The resilient client of one model server.
pub struct Upstream {
    http: reqwest::Client,
    base: String,
    model: String,
    resilience: Resilience,
    breaker: Option<Mutex<Breaker>>,
    budget: Option<Mutex<RetryBudget>>,
    rng: Mutex<SmallRng>,
    pub stats: UpstreamStats,
}

impl Upstream {
    /// A client of the server at `base` (e.g. `http://127.0.0.1:8080`) asking for `model`. It
    /// opens a connection per attempt (no pooling), so that one broken connection fails one
    /// attempt only, and the fault proxy decides per attempt.
    pub fn new(base: &str, model: &str, resilience: Resilience) -> crate::Result<Self> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .connect_timeout(resilience.policy.attempt_timeout)
            .build()
            .map_err(|e| crate::invalid("base", e.to_string()))?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_string(),
            model: model.to_string(),
            breaker: resilience.breaker.map(|c| Mutex::new(Breaker::new(c))),
            budget: resilience.budget.clone().map(Mutex::new),
            rng: Mutex::new(SmallRng::seed_from_u64(resilience.seed)),
            resilience,
            stats: UpstreamStats::default(),
        })
    }

    /// The breaker's state (`None` without one) and its refusals so far.
    pub fn breaker(&self) -> Option<(State, u64)> {
        let b = self.breaker.as_ref()?.lock().ok()?;
        Some((b.state(), b.refused))
    }

    /// The breaker's changes of state so far.
    pub fn transitions(&self) -> Vec<(Instant, State)> {
        self.breaker
            .as_ref()
            .and_then(|b| b.lock().ok().map(|b| b.transitions.clone()))
            .unwrap_or_default()
    }

    /// The budget's balance (`None` without one).
    pub fn budget(&self) -> Option<RetryBudget> {
        self.budget.as_ref()?.lock().ok().map(|b| b.clone())
    }

    fn count(&self, failure: &Failure) {
        if let Ok(mut f) = self.stats.failures.lock() {
            *f.entry(failure.kind()).or_default() += 1;
        }
    }

    /// Calls the model: `on_text` receives the answer as it grows, each piece once and in order
    /// whatever attempts it took, and may stop the call by returning `false`.
    pub async fn chat(
        &self,
        call: &Call,
        on_text: &mut (dyn FnMut(&str) -> bool + Send),
    ) -> Result<Answer, CallError> {
        let started = Instant::now();
        let policy = &self.resilience.policy;
        self.stats.calls.fetch_add(1, Ordering::SeqCst);
        if let Some(b) = &self.budget
            && let Ok(mut b) = b.lock()
        {
            b.on_request();
        }
        let mut delivered = String::new();
        let mut retried = Vec::new();
        let mut attempts = 0u32;
        loop {
            let allowed = match &self.breaker {
                Some(b) => b
                    .lock()
                    .map(|mut b| b.allow(Instant::now()))
                    .unwrap_or(true),
                None => true,
            };
            if !allowed {
                self.count(&Failure::BreakerOpen);
                return Err(CallError::Failed {
                    last: Failure::BreakerOpen,
                    attempts,
                    gave_up: "the breaker is open: failing fast",
                });
            }
            let admitted = Admitted {
                breaker: self.breaker.as_ref(),
                recorded: false,
            };
            attempts += 1;
            self.stats.attempts.fetch_add(1, Ordering::SeqCst);
            let left = policy.deadline.saturating_sub(started.elapsed());
            let outcome =
                match tokio::time::timeout(left, self.attempt(call, &mut delivered, on_text)).await
                {
                    Ok(outcome) => outcome,
                    Err(_) => Attempt::Failed(Failure::Timeout),
                };
            // The breaker hears about the server's health; a cancelled call says nothing about
            // it (dropping `admitted` unrecorded frees its place).
            match &outcome {
                Attempt::Done(_) => admitted.record(true),
                Attempt::Failed(f) => admitted
                    .record(!f.retryable() && !matches!(f, Failure::Status { code: 500.., .. })),
                Attempt::Cancelled => drop(admitted),
            }
            let failure = match outcome {
                Attempt::Done(finish) => {
                    self.stats.succeeded.fetch_add(1, Ordering::SeqCst);
                    return Ok(Answer {
                        text: delivered,
                        finish,
                        attempts,
                        retried,
                    });
                }
                Attempt::Cancelled => return Err(CallError::Cancelled { attempts }),
                Attempt::Failed(f) => f,
            };
            self.count(&failure);
            let gave_up = if !failure.retryable() {
                Some("not worth retrying")
            } else if attempts >= policy.max_attempts {
                Some("no attempts left")
            } else if self
                .budget
                .as_ref()
                .is_some_and(|b| b.lock().map(|mut b| !b.try_retry()).unwrap_or(false))
            {
                Some("the retry budget is spent")
            } else {
                None
            };
            if let Some(gave_up) = gave_up {
                return Err(CallError::Failed {
                    last: failure,
                    attempts,
                    gave_up,
                });
            }
            let wait = self
                .rng
                .lock()
                .map(|mut rng| policy.wait(attempts - 1, &failure, &mut *rng))
                .unwrap_or_default();
            if started.elapsed() + wait >= policy.deadline {
                return Err(CallError::Failed {
                    last: failure,
                    attempts,
                    gave_up: "the deadline would pass while waiting",
                });
            }
            retried.push(failure.kind().to_string());
            tokio::time::sleep(wait).await;
        }
    }

    /// One attempt: reads the stream from the start, passes on what goes beyond `delivered`.
    async fn attempt(
        &self,
        call: &Call,
        delivered: &mut String,
        on_text: &mut (dyn FnMut(&str) -> bool + Send),
    ) -> Attempt {
        let timeout = self.resilience.policy.attempt_timeout;
        let mut body = json!({
            "model": self.model,
            "messages": call.messages,
            "max_tokens": call.max_tokens,
            "temperature": 0,
            "stream": true,
        });
        if let Some(schema) = &call.schema {
            body["response_format"] =
                json!({"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}});
        }
        let send = self
            .http
            .post(format!("{}/v1/chat/completions", self.base))
            .json(&body)
            .send();
        let mut response = match tokio::time::timeout(timeout, send).await {
            Err(_) => return Attempt::Failed(Failure::Timeout),
            Ok(Err(e)) if e.is_timeout() => return Attempt::Failed(Failure::Timeout),
            Ok(Err(e)) => return Attempt::Failed(Failure::Connect(root_cause(&e))),
            Ok(Ok(r)) => r,
        };
        let status = response.status().as_u16();
        if status != 200 {
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map(|s| Duration::from_secs_f64(s.min(60.0)));
            return Attempt::Failed(Failure::Status {
                code: status,
                retry_after,
            });
        }
        self.stats.open_streams.fetch_add(1, Ordering::SeqCst);
        let _open = OpenStream(&self.stats.open_streams);
        let mut buffer: Vec<u8> = Vec::new();
        let mut got = String::new();
        let mut finish = String::from("stop");
        loop {
            let chunk = match tokio::time::timeout(timeout, response.chunk()).await {
                Err(_) => return Attempt::Failed(Failure::Timeout),
                Ok(Ok(Some(c))) => c,
                // The body ended (or broke) before its last event.
                Ok(Ok(None)) => return Attempt::Failed(Failure::Truncated),
                Ok(Err(e)) if e.is_timeout() => return Attempt::Failed(Failure::Timeout),
                Ok(Err(_)) => return Attempt::Failed(Failure::Truncated),
            };
            buffer.extend_from_slice(&chunk);
            while let Some(end) = find_blank_line(&buffer) {
                let block: Vec<u8> = buffer.drain(..end).collect();
                let block = String::from_utf8_lossy(&block);
                for line in block.lines() {
                    let Some(data) = line.strip_prefix("data:") else {
                        continue;
                    };
                    let data = data.trim();
                    if data == "[DONE]" {
                        // A retry that ends short of what was passed on contradicts it.
                        if got.len() < delivered.len() {
                            return Attempt::Failed(Failure::Diverged);
                        }
                        return Attempt::Done(finish);
                    }
                    let Ok(v) = serde_json::from_str::<Value>(data) else {
                        return Attempt::Failed(Failure::Truncated);
                    };
                    if v.get("error").is_some() {
                        return Attempt::Failed(Failure::Status {
                            code: 500,
                            retry_after: None,
                        });
                    }
                    let choice = &v["choices"][0];
                    if let Some(f) = choice["finish_reason"].as_str() {
                        finish = f.to_string();
                    }
                    let Some(piece) = choice["delta"]["content"].as_str() else {
                        continue;
                    };
                    got.push_str(piece);
                    if got.len() <= delivered.len() {
                        if !delivered.starts_with(got.as_str()) {
                            return Attempt::Failed(Failure::Diverged);
                        }
                    } else {
                        if !got.starts_with(delivered.as_str()) {
                            return Attempt::Failed(Failure::Diverged);
                        }
                        let new = got[delivered.len()..].to_string();
                        delivered.push_str(&new);
                        if !on_text(&new) {
                            return Attempt::Cancelled;
                        }
                    }
                }
            }
        }
    }
}

/// The end (past the blank line) of the first complete SSE event in `buffer`, if any (lines
/// end in LF or CRLF).
pub fn find_blank_line(buffer: &[u8]) -> Option<usize> {
    let lf = buffer.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    let crlf = buffer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4);
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The innermost cause of an error, as text (reqwest's own message is "error sending request").
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    cause.to_string()
}
