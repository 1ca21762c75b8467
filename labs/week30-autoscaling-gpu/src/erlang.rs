//! Queueing theory for a pool of identical replicas fed by one queue: M/M/c, Erlang's formulas.
//!
//! Requests arrive as a Poisson process of rate λ, each replica serves one at a time for an
//! exponential time of mean 1/μ, and `c` replicas share one first-come-first-served queue. The
//! offered load is a = λ/μ erlangs (how many replicas would be busy if none ever waited); the
//! pool is stable when a < c. Erlang's C formula is the probability that a request waits at all;
//! the wait, when it waits, is exponential with rate cμ − λ. These are what the simulator must
//! reproduce, and what sizes a pool before any simulation is run.

use anyhow::{Result, bail, ensure};

fn check_rate(arg: &str, value: f64) -> Result<()> {
    ensure!(
        value.is_finite() && value > 0.0,
        "{arg}: expected a finite rate above 0, got {value}"
    );
    Ok(())
}

/// Erlang's B formula: the probability that all `c` servers are busy in a loss system (no queue)
/// offered `a` erlangs, by the stable recursion B(0) = 1, B(k) = a·B(k−1) / (k + a·B(k−1)).
pub fn erlang_b(c: usize, a: f64) -> Result<f64> {
    ensure!(
        a.is_finite() && a >= 0.0,
        "a: expected a finite offered load of 0 erlangs or more, got {a}"
    );
    let mut b = 1.0;
    for k in 1..=c {
        b = a * b / (k as f64 + a * b);
    }
    Ok(b)
}

// ANCHOR: erlang_c
/// Erlang's C formula: the probability that a request has to wait in an M/M/c queue offered `a`
/// erlangs by `c` replicas. Needs a < c (otherwise the queue grows without end).
pub fn erlang_c(c: usize, a: f64) -> Result<f64> {
    ensure!(c >= 1, "c: expected at least 1 replica, got 0");
    ensure!(
        a.is_finite() && a > 0.0 && a < c as f64,
        "a: expected an offered load above 0 and below c = {c} erlangs (a stable queue), got {a}"
    );
    // BEGIN SOLUTION erlang_c
    let b = erlang_b(c, a)?;
    let c = c as f64;
    Ok(c * b / (c - a * (1.0 - b)))
    // END SOLUTION
}
// ANCHOR_END: erlang_c

/// What M/M/c predicts for arrival rate `lambda` and service rate `mu` per replica.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct MmcPrediction {
    pub replicas: usize,
    /// Utilisation of each replica, ρ = λ / (cμ).
    pub utilisation: f64,
    /// P(a request waits), Erlang C.
    pub p_wait: f64,
    /// Mean time in the queue, W_q = C / (cμ − λ), seconds.
    pub mean_wait: f64,
    /// Mean time in the system (queue and service), W_q + 1/μ, seconds.
    pub mean_latency: f64,
}

/// M/M/c's prediction; fails unless λ < cμ.
pub fn mmc(lambda: f64, mu: f64, replicas: usize) -> Result<MmcPrediction> {
    check_rate("lambda", lambda)?;
    check_rate("mu", mu)?;
    let a = lambda / mu;
    if a >= replicas as f64 {
        bail!(
            "lambda: {lambda}/s offers {a:.3} erlangs to {replicas} replicas serving {mu}/s each: \
             expected below {replicas} (the queue would grow without end)"
        );
    }
    let p_wait = erlang_c(replicas, a)?;
    let mean_wait = p_wait / (replicas as f64 * mu - lambda);
    Ok(MmcPrediction {
        replicas,
        utilisation: a / replicas as f64,
        p_wait,
        mean_wait,
        mean_latency: mean_wait + 1.0 / mu,
    })
}

/// P(wait > t) in M/M/c: C·e^{−(cμ − λ)t}.
pub fn p_wait_over(lambda: f64, mu: f64, replicas: usize, t: f64) -> Result<f64> {
    ensure!(
        t.is_finite() && t >= 0.0,
        "t: expected a finite wait of 0 s or more, got {t}"
    );
    let p = mmc(lambda, mu, replicas)?;
    Ok(p.p_wait * (-(replicas as f64 * mu - lambda) * t).exp())
}

/// The fewest replicas for which at least `fraction` of requests wait no longer than `max_wait`
/// seconds (the sizing rule of a call centre, and of an inference pool before it is simulated).
pub fn replicas_for(lambda: f64, mu: f64, max_wait: f64, fraction: f64) -> Result<usize> {
    check_rate("lambda", lambda)?;
    check_rate("mu", mu)?;
    ensure!(
        fraction > 0.0 && fraction < 1.0,
        "fraction: expected a fraction strictly between 0 and 1, got {fraction}"
    );
    let mut c = (lambda / mu).floor() as usize + 1;
    loop {
        if 1.0 - p_wait_over(lambda, mu, c, max_wait)? >= fraction {
            return Ok(c);
        }
        c += 1;
    }
}
