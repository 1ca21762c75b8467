//! What an LLM service exports for Prometheus: requests by model and outcome, latency and time to
//! first token as histograms, prompt and completion tokens, cost, and errors by kind — the
//! numbers behind an LLM dashboard and its alerts.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};

/// One finished request, as the service saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome<'a> {
    pub model: &'a str,
    /// "ok", or the kind of error ("timeout", "bad_request", "overloaded", …).
    pub status: &'a str,
    pub seconds: f64,
    /// Seconds to the first token (streamed answers); None when nothing was generated.
    pub first_token_seconds: Option<f64>,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Integer nano-dollars, priced as week 24 prices.
    pub cost_nanodollars: u64,
}

/// The metrics of one service.
#[derive(Clone)]
pub struct LlmMetrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    first_token: HistogramVec,
    tokens: IntCounterVec,
    cost: IntCounterVec,
}

impl LlmMetrics {
    /// Registers every metric (names follow Prometheus' conventions: a unit suffix, `_total`
    /// for counters).
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "llm_requests_total",
                "Requests answered, by model and status",
            ),
            &["model", "status"],
        )?;
        let seconds = prometheus::exponential_buckets(0.01, 2.0, 12)?;
        let latency = HistogramVec::new(
            HistogramOpts::new("llm_request_duration_seconds", "Time to the whole answer")
                .buckets(seconds.clone()),
            &["model"],
        )?;
        let first_token = HistogramVec::new(
            HistogramOpts::new(
                "llm_time_to_first_token_seconds",
                "Time to the first generated token",
            )
            .buckets(seconds),
            &["model"],
        )?;
        let tokens = IntCounterVec::new(
            Opts::new(
                "llm_tokens_total",
                "Tokens, by model and kind (prompt or completion)",
            ),
            &["model", "kind"],
        )?;
        let cost = IntCounterVec::new(
            Opts::new("llm_cost_nanodollars_total", "What the answers cost"),
            &["model"],
        )?;
        for c in [&requests, &tokens, &cost] {
            registry.register(Box::new(c.clone()))?;
        }
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(first_token.clone()))?;
        Ok(Self {
            registry,
            requests,
            latency,
            first_token,
            tokens,
            cost,
        })
    }

    /// Records one request. Negative or non-finite times are refused (nothing is recorded).
    pub fn observe(&self, o: &Outcome) -> Result<(), String> {
        let times = [Some(o.seconds), o.first_token_seconds];
        if let Some(t) = times
            .iter()
            .flatten()
            .find(|t| !(t.is_finite() && **t >= 0.0))
        {
            return Err(format!("a request's time must be finite and ≥ 0, got {t}"));
        }
        if o.model.is_empty() || o.status.is_empty() {
            return Err("a request needs a model and a status".into());
        }
        self.requests.with_label_values(&[o.model, o.status]).inc();
        self.latency
            .with_label_values(&[o.model])
            .observe(o.seconds);
        if let Some(t) = o.first_token_seconds {
            self.first_token.with_label_values(&[o.model]).observe(t);
        }
        self.tokens
            .with_label_values(&[o.model, "prompt"])
            .inc_by(o.prompt_tokens);
        self.tokens
            .with_label_values(&[o.model, "completion"])
            .inc_by(o.completion_tokens);
        self.cost
            .with_label_values(&[o.model])
            .inc_by(o.cost_nanodollars);
        Ok(())
    }

    /// The text exposition format that `GET /metrics` answers.
    pub fn render(&self) -> Result<String, prometheus::Error> {
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out)?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }
}

/// The value of the sample `name{labels}` in a text exposition (labels as `k="v"` pairs in any
/// order; none for an unlabelled sample).
pub fn sample(exposition: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    exposition.lines().find_map(|line| {
        if line.starts_with('#') {
            return None;
        }
        let (series, value) = line.rsplit_once(' ')?;
        let (metric, rest) = match series.split_once('{') {
            Some((m, r)) => (m, r.strip_suffix('}')?),
            None => (series, ""),
        };
        if metric != name {
            return None;
        }
        let mut got: Vec<(&str, &str)> = rest
            .split(',')
            .filter(|p| !p.is_empty())
            .filter_map(|p| {
                let (k, v) = p.split_once('=')?;
                Some((k, v.trim_matches('"')))
            })
            .collect();
        let mut want = labels.to_vec();
        got.sort_unstable();
        want.sort_unstable();
        (got == want).then(|| value.parse().ok()).flatten()
    })
}

// ANCHOR: quantile
/// The `q` quantile of the histogram `name` (its `_bucket` samples with `labels`) as Prometheus'
/// `histogram_quantile` computes it: find the bucket where the cumulative count reaches q × total
/// and interpolate linearly inside it (from 0 for the first bucket); a quantile in the `+Inf`
/// bucket is the largest finite bound. None when the histogram is absent or empty.
pub fn histogram_quantile(
    exposition: &str,
    name: &str,
    labels: &[(&str, &str)],
    q: f64,
) -> Option<f64> {
    if !(0.0..=1.0).contains(&q) {
        return None;
    }
    let bucket = format!("{name}_bucket");
    let mut buckets: Vec<(f64, f64)> = Vec::new();
    for line in exposition.lines().filter(|l| l.starts_with(&bucket)) {
        let le = line.split("le=\"").nth(1)?.split('"').next()?;
        let bound = if le == "+Inf" {
            f64::INFINITY
        } else {
            le.parse().ok()?
        };
        let mut with_le = labels.to_vec();
        with_le.push(("le", le));
        if let Some(count) = sample(exposition, &bucket, &with_le)
            && !buckets.iter().any(|b| b.0 == bound)
        {
            buckets.push((bound, count));
        }
    }
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    // BEGIN SOLUTION histogram_quantile
    let total = buckets.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let i = buckets.iter().position(|&(_, count)| count >= rank)?;
    let (upper, count) = buckets[i];
    if upper.is_infinite() {
        return buckets.len().checked_sub(2).map(|j| buckets[j].0);
    }
    let (lower, below) = if i == 0 { (0.0, 0.0) } else { buckets[i - 1] };
    if count == below {
        return Some(upper);
    }
    Some(lower + (upper - lower) * (rank - below) / (count - below))
    // END SOLUTION
}
// ANCHOR_END: quantile
