//! Routing: each request goes to the cheapest backend that is good enough for its task and fast
//! enough for its deadline. The task is read from the request by rules ([`Task::of`]); each
//! backend's cost, latency and quality on each task are *measured* (the lab's report), and
//! [`choose`] picks among them.

use anyhow::{Result, bail, ensure};
use regex::Regex;
use serde::Serialize;
use std::sync::LazyLock;

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// "What is 37 * 12?": two integers and one operator.
    Arithmetic,
    /// "Is this e-mail spam?" followed by the e-mail.
    Spam,
    /// Anything else: the general model.
    Chat,
}

static ARITHMETIC: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*what is\s+(-?\d{1,12})\s*([+\-*×/])\s*(-?\d{1,12})\s*\??\s*$")
        .expect("a valid pattern")
});

/// The prefix of a spam question.
pub const SPAM_PREFIX: &str = "Is this e-mail spam?";

impl Task {
    pub fn of(request: &str) -> Task {
        if ARITHMETIC.is_match(request) {
            Task::Arithmetic
        } else if request.trim_start().starts_with(SPAM_PREFIX) {
            Task::Spam
        } else {
            Task::Chat
        }
    }
}

/// The exact answer of an arithmetic request ("what is 37 * 12?" → 444), integer division
/// rounding toward zero; an error for anything else, a division by zero or an overflow.
pub fn calculate(request: &str) -> Result<i64> {
    let Some(c) = ARITHMETIC.captures(request) else {
        bail!("invalid `request`: {request:?} is not \"what is <integer> <+ - * × /> <integer>?\"");
    };
    let a: i64 = c[1].parse()?;
    let b: i64 = c[3].parse()?;
    let r = match &c[2] {
        "+" => a.checked_add(b),
        "-" => a.checked_sub(b),
        "*" | "×" => a.checked_mul(b),
        _ => {
            ensure!(b != 0, "invalid `request`: {request:?} divides by zero");
            a.checked_div(b)
        }
    };
    r.ok_or_else(|| anyhow::anyhow!("invalid `request`: {request:?} overflows 64 bits"))
}

/// One backend's measured figures on one task.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    pub name: String,
    /// Mean cost of a request, nano-dollars.
    pub cost: u64,
    /// 95th-percentile latency, milliseconds.
    pub p95_ms: f64,
    /// Share of right answers, 0 to 1.
    pub quality: f64,
}

// ANCHOR: choose
/// The cheapest candidate whose p95 latency is at most `max_ms` and whose quality is at least
/// `min_quality`; among equally cheap ones the better, then the first. None qualifying is an
/// error that names what each candidate missed.
pub fn choose(candidates: &[Candidate], max_ms: f64, min_quality: f64) -> Result<&Candidate> {
    ensure!(
        max_ms > 0.0,
        "invalid `max_ms`: expected a latency budget > 0, got {max_ms}"
    );
    ensure!(
        (0.0..=1.0).contains(&min_quality),
        "invalid `min_quality`: expected 0 to 1, got {min_quality}"
    );
    // BEGIN SOLUTION choose
    let mut best: Option<&Candidate> = None;
    for c in candidates {
        if c.p95_ms > max_ms || c.quality < min_quality {
            continue;
        }
        let better = match best {
            None => true,
            Some(b) => c.cost < b.cost || (c.cost == b.cost && c.quality > b.quality),
        };
        if better {
            best = Some(c);
        }
    }
    if let Some(b) = best {
        return Ok(b);
    }
    let why: Vec<String> = candidates
        .iter()
        .map(|c| {
            if c.p95_ms > max_ms {
                format!("{} takes {:.0} ms at p95", c.name, c.p95_ms)
            } else {
                format!("{} is right {:.1} % of the time", c.name, 100.0 * c.quality)
            }
        })
        .collect();
    bail!(
        "no backend answers within {max_ms} ms with quality ≥ {:.1} %: {}",
        100.0 * min_quality,
        if why.is_empty() {
            "none given".to_string()
        } else {
            why.join("; ")
        }
    )
    // END SOLUTION
}
// ANCHOR_END: choose
