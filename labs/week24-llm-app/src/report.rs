//! The report of the lab: its typed results (the JSON of `--json`) and how they read (`Display`).

use anyhow::Result;
use serde::Serialize;
use std::fmt;
use std::path::PathBuf;
use wb_lab::Lab;
use week24_llm_app::ledger::Totals;
use week24_llm_app::pricing::dollars;

#[derive(Serialize)]
pub struct UserRow {
    pub user: String,
    pub budget: u64,
}

#[derive(Serialize)]
pub struct Refusal {
    pub case: String,
    pub route: String,
    pub status: u16,
    pub code: String,
}

#[derive(Serialize)]
pub struct Limited {
    pub request: usize,
    pub status: u16,
    pub retry_after: Option<String>,
    pub remaining: Option<String>,
}

#[derive(Serialize)]
pub struct AnswerRow {
    pub question: String,
    pub answer: String,
    pub streamed: bool,
    /// Text events of a streamed answer.
    pub events: usize,
    /// The model's count.
    pub prompt_tokens: u64,
    /// The API's own count, before the model ran.
    pub counted_prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost: u64,
    #[serde(skip)]
    pub ms: f64,
}

#[derive(Serialize)]
pub struct BudgetRun {
    pub concurrent: usize,
    pub budget: u64,
    pub reservation: u64,
    pub statuses: Vec<(u16, usize)>,
    pub charged: u64,
    pub client_cost: u64,
    pub held_after: u64,
    #[serde(skip)]
    pub ms: f64,
}

#[derive(Serialize)]
pub struct DirectRun {
    pub connections: usize,
    pub attempts: usize,
    pub room_for: usize,
    pub granted: usize,
    pub held: u64,
    pub budget: u64,
}

#[derive(Serialize)]
pub struct LedgerReport {
    pub rows: usize,
    pub charged: usize,
    pub released: usize,
    pub reserved: usize,
    pub totals: Totals,
    pub row_cost_sum: u64,
    pub users_spent: u64,
    pub alice_usage_cost: u64,
    pub alice_answers_cost: u64,
    pub problems: usize,
}

#[derive(Serialize)]
pub struct Counts {
    pub prompt_count_differs: u64,
}

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

#[derive(Serialize)]
pub struct Overhead {
    pub requests: usize,
    pub bare_median_ms: f64,
    pub api_median_ms: f64,
    /// Median of the paired differences (API − bare, request by request).
    pub overhead_median_ms: f64,
    /// The interquartile range of the bare model's times: its own spread.
    pub bare_iqr_ms: f64,
    pub ledger_median_ms: f64,
    /// The same with an instant (scripted) model behind both.
    pub instant_requests: usize,
    pub instant_bare_median_ms: f64,
    pub instant_api_median_ms: f64,
    pub instant_overhead_median_ms: f64,
}

/// The `q` quantile of `xs`, linear between order statistics (numpy's default).
fn quantile(xs: &[f64], q: f64) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    let at = q * (v.len() - 1) as f64;
    let (lo, hi) = (at.floor() as usize, at.ceil() as usize);
    v[lo] + (v[hi] - v[lo]) * (at - lo as f64)
}

fn paired(api: &[f64], bare: &[f64]) -> f64 {
    median(&api.iter().zip(bare).map(|(a, b)| a - b).collect::<Vec<_>>())
}

impl Overhead {
    pub fn new(
        bare: &[f64],
        api: &[f64],
        ledger: &[f64],
        instant_bare: &[f64],
        instant_api: &[f64],
    ) -> Self {
        Self {
            requests: bare.len(),
            bare_median_ms: median(bare),
            api_median_ms: median(api),
            overhead_median_ms: paired(api, bare),
            bare_iqr_ms: quantile(bare, 0.75) - quantile(bare, 0.25),
            ledger_median_ms: median(ledger),
            instant_requests: instant_bare.len(),
            instant_bare_median_ms: median(instant_bare),
            instant_api_median_ms: median(instant_api),
            instant_overhead_median_ms: paired(instant_api, instant_bare),
        }
    }
}

/// The lab's results: the JSON of `--json` (its fields) and the printed report (`Display`).
#[derive(Serialize)]
pub struct Report {
    pub ledger_file: String,
    pub setup: Vec<UserRow>,
    pub refusals: Vec<Refusal>,
    pub limited: Vec<Limited>,
    pub answers: Vec<AnswerRow>,
    pub budget: BudgetRun,
    pub direct: DirectRun,
    pub ledger: LedgerReport,
    pub counts: Counts,
    pub decisions_1: f64,
    pub decisions_2: f64,
    pub overhead: Overhead,
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "NO" }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "ledger: {} (SQLite, WAL, synchronous = FULL)",
            self.ledger_file
        )?;
        for u in &self.setup {
            writeln!(f, "  user {:<6} budget {}", u.user, dollars(u.budget))?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "Who may do what (each key checked against its SHA-256, in constant time)"
        )?;
        writeln!(
            f,
            "  {:<34} {:<22} {:>6}  code",
            "request", "route", "status"
        )?;
        for r in &self.refusals {
            writeln!(
                f,
                "  {:<34} {:<22} {:>6}  {}",
                r.case, r.route, r.status, r.code
            )?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "Rate limit: a key allowed a burst of 3 and 6 a minute sends 5 requests at once"
        )?;
        for l in &self.limited {
            writeln!(
                f,
                "  request {}: {}{}{}",
                l.request,
                l.status,
                l.remaining
                    .as_ref()
                    .map_or(String::new(), |r| format!(", {r} left in the bucket")),
                l.retry_after
                    .as_ref()
                    .map_or(String::new(), |r| format!(", Retry-After: {r} s")),
            )?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "Metered answers (alice; greedy, at most 24 tokens; $0.15 / $0.60 per million tokens in / out)"
        )?;
        for a in &self.answers {
            writeln!(
                f,
                "  Q: {}{}",
                a.question,
                if a.streamed { " (streamed)" } else { "" }
            )?;
            writeln!(f, "  A: {}", a.answer.trim().replace('\n', " "))?;
            writeln!(
                f,
                "     prompt {} tokens (the API counted {} before the model ran: {}), answer {} tokens{}, cost {} ({:.0} ms)",
                a.prompt_tokens,
                a.counted_prompt_tokens,
                if a.prompt_tokens == a.counted_prompt_tokens {
                    "equal"
                } else {
                    "DIFFERENT"
                },
                a.completion_tokens,
                if a.streamed {
                    format!(" in {} text events", a.events)
                } else {
                    String::new()
                },
                dollars(a.cost),
                a.ms
            )?;
        }
        writeln!(f)?;
        let b = &self.budget;
        writeln!(
            f,
            "A nearly spent budget: bob has {} (room for 3.5 reservations of {}), {} requests at once",
            dollars(b.budget),
            dollars(b.reservation),
            b.concurrent
        )?;
        for (status, n) in &b.statuses {
            let what = match status {
                200 => "answered",
                402 => "refused: budget exhausted",
                429 => "refused: the model's queue is full",
                _ => "other",
            };
            writeln!(f, "  {status}: {n:>4}  {what}")?;
        }
        writeln!(
            f,
            "  charged {} of {} (the clients were told {}: {}), {} still held ({:.0} ms)",
            dollars(b.charged),
            dollars(b.budget),
            dollars(b.client_cost),
            if b.client_cost == b.charged {
                "the same"
            } else {
                "DIFFERENT"
            },
            dollars(b.held_after),
            b.ms
        )?;
        let d = &self.direct;
        writeln!(
            f,
            "  at the ledger itself: {} connections × {} reservations at once, room for {}: {} granted, held {} of {}",
            d.connections,
            d.attempts / d.connections,
            d.room_for,
            d.granted,
            dollars(d.held),
            dollars(d.budget)
        )?;
        writeln!(f)?;
        let l = &self.ledger;
        writeln!(f, "The ledger adds up")?;
        writeln!(
            f,
            "  {} rows: {} charged, {} released, {} reserved",
            l.rows, l.charged, l.released, l.reserved
        )?;
        writeln!(
            f,
            "  charged: {} requests, {} prompt + {} answer tokens, {}",
            l.totals.requests,
            l.totals.prompt_tokens,
            l.totals.completion_tokens,
            dollars(l.totals.cost)
        )?;
        writeln!(
            f,
            "  the rows' costs sum to {}; the users' spent columns to {}: {}",
            dollars(l.row_cost_sum),
            dollars(l.users_spent),
            yes(l.row_cost_sum == l.users_spent && l.users_spent == l.totals.cost)
        )?;
        writeln!(
            f,
            "  alice's /v1/usage says {} before the timing runs; her answers' costs sum to {}: {}",
            dollars(l.alice_usage_cost),
            dollars(l.alice_answers_cost),
            yes(l.alice_usage_cost == l.alice_answers_cost)
        )?;
        writeln!(
            f,
            "  audit (running totals against rows, spending against budgets): {} problems",
            l.problems
        )?;
        writeln!(
            f,
            "  prompts whose token count differed between the API and the model: {}",
            self.counts.prompt_count_differs
        )?;
        writeln!(f)?;
        writeln!(f, "Bench")?;
        writeln!(
            f,
            "  the limiter (1,000 keys behind one lock): {:.1} million decisions/s on 1 thread, {:.1} million on 2",
            self.decisions_1 / 1e6,
            self.decisions_2 / 1e6
        )?;
        let o = &self.overhead;
        writeln!(
            f,
            "  an instant model (a script) behind both, {} requests each way, medians: bare {:.2} ms, through the API {:.2} ms",
            o.instant_requests, o.instant_bare_median_ms, o.instant_api_median_ms
        )?;
        writeln!(
            f,
            "    the API's own cost per request: {:.2} ms (paired median), of which a reservation and its release: {:.2} ms",
            o.instant_overhead_median_ms, o.ledger_median_ms
        )?;
        writeln!(
            f,
            "  SmolLM2 behind both (8 answer tokens), {} requests each way, medians: bare {:.1} ms, through the API {:.1} ms",
            o.requests, o.bare_median_ms, o.api_median_ms
        )?;
        writeln!(
            f,
            "    paired difference {:.1} ms, {} the bare model's own spread (interquartile range {:.1} ms)",
            o.overhead_median_ms,
            if o.overhead_median_ms.abs() < o.bare_iqr_ms {
                "within"
            } else {
                "beyond"
            },
            o.bare_iqr_ms
        )?;
        Ok(())
    }
}

/// The API's own cost: request times with an instant model, bare and through the API.
pub fn plot_overhead(lab: &Lab, bare: &[f64], api: &[f64]) -> Result<Vec<PathBuf>> {
    let mut all: Vec<f64> = bare.iter().chain(api).copied().collect();
    all.sort_by(f64::total_cmp);
    // The slowest 1 % are left out of the range (a scheduler hiccup would squash the rest).
    let hi = all[(all.len() * 99 / 100).min(all.len() - 1)] * 1.1;
    let plot = wb_plot::Histogram::new(
        "The API's own cost: an instant model behind the bare server and behind the API",
        "time to the whole answer (ms)",
        "requests",
    )
    .bins(50)
    .range(0.0, hi)
    .sample("bare model server", bare.to_vec())
    .sample(
        "through the API (key, limit, reserve, settle)",
        api.to_vec(),
    );
    Ok(plot.save(lab.plots_dir(), "overhead")?)
}

/// Each request's time with SmolLM2, bare and through the API, request by request.
pub fn plot_model(lab: &Lab, bare: &[f64], api: &[f64]) -> Result<Vec<PathBuf>> {
    let points = |xs: &[f64]| -> Vec<(f64, f64)> {
        xs.iter()
            .enumerate()
            .map(|(i, &y)| ((i + 1) as f64, y))
            .collect()
    };
    let top = bare.iter().chain(api).copied().fold(0.0, f64::max) * 1.25;
    let plot = wb_plot::LinePlot::new(
        "SmolLM2 (8 answer tokens) bare and through the API, request by request",
        "request (sent alternately to each)",
        "time to the whole answer (ms)",
    )
    .series(wb_plot::Series::new("bare model server", points(bare)))
    .series(
        wb_plot::Series::new(
            "through the API (auth, limit, reserve, settle)",
            points(api),
        )
        .dashed(),
    )
    .markers(true)
    .y_range(0.0, top.max(1.0))
    .legend(wb_plot::LegendPosition::LowerRight);
    Ok(plot.save(lab.plots_dir(), "model")?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_numpys() {
        // numpy.quantile([4, 1, 3, 2], [0.25, 0.5, 0.75]) = [1.75, 2.5, 3.25]
        let xs = [4.0, 1.0, 3.0, 2.0];
        assert_eq!(quantile(&xs, 0.25), 1.75);
        assert_eq!(quantile(&xs, 0.5), 2.5);
        assert_eq!(quantile(&xs, 0.75), 3.25);
        assert_eq!(median(&xs), 2.5);
        assert_eq!(paired(&[3.0, 5.0, 10.0], &[1.0, 1.0, 1.0]), 4.0);
    }
}
