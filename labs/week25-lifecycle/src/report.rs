//! The report of the lab: its typed results (the JSON of `--json`) and how they read (`Display`).

use serde::Serialize;
use std::fmt;
use week25_lifecycle::lifecycle::{Stage, Step};
use week25_lifecycle::online::Sensitivity;
use week25_lifecycle::split::SrmTest;
use week25_lifecycle::stats::{Arm, ZTest};

/// The lab's results: the JSON of `--json` (its fields) and the printed report (`Display`).
#[derive(Serialize)]
pub struct Report {
    pub customers: usize,
    pub test_customers: usize,
    pub offer_share: f64,
    pub offline: Vec<Offline>,
    pub online: Online,
    pub peeking: Vec<PeekRow>,
    pub users_per_look: u64,
    /// Both arms' rate in the A/A tests.
    pub aa_rate: f64,
    pub experiments: usize,
    pub designs: Vec<Design>,
    pub sensitivity: Vec<Sensitivity>,
    pub history: Vec<Step>,
    pub stage: Stage,
    pub illegal: Vec<String>,
}

/// One version's offline evaluation on the held-out customers.
#[derive(Serialize)]
pub struct Offline {
    pub version: String,
    pub features: usize,
    pub auc: f64,
    /// Customers in the top share that get the offer.
    pub offered: usize,
    /// Churners among them, and the share of all churners they are.
    pub precision: f64,
    pub recall: f64,
}

/// The online A/B test: arm 0 is production (v1), arm 1 the candidate (v2); rates are churn.
#[derive(Serialize)]
pub struct Online {
    pub salt: String,
    /// The churn each version leaves, as the offline business case projects it and as the
    /// simulated world really makes it (in expectation).
    pub projected_churn: [f64; 2],
    pub expected_churn: [f64; 2],
    pub planned_per_arm: u64,
    pub power_planned: f64,
    pub power_true: f64,
    pub needed_for_true: u64,
    pub arms: [Arm; 2],
    pub wilson: [(f64, f64); 2],
    pub srm: SrmTest,
    pub z: ZTest,
    pub promoted: bool,
}

/// The false-positive rate of an A/A test read at every look up to `looks`, stopping at the first
/// |z| ≥ 1.96.
#[derive(Serialize)]
pub struct PeekRow {
    pub looks: usize,
    pub simulated: f64,
    pub theory: f64,
}

/// A sequential design for 10 looks: its bounds and its false-positive rate.
#[derive(Serialize)]
pub struct Design {
    pub name: String,
    pub bounds: Vec<f64>,
    pub theory: f64,
    pub simulated: f64,
}

/// A p-value as one reads it: four decimals, or its power of ten when smaller.
fn p_value(p: f64) -> String {
    if p >= 1e-4 {
        format!("{p:.4}")
    } else {
        format!("{p:.1e}")
    }
}

/// The session count at which `power` first reaches `target`, interpolated on log sessions.
pub fn sessions_for(
    rows: &[Sensitivity],
    power: fn(&Sensitivity) -> f64,
    target: f64,
) -> Option<f64> {
    rows.windows(2).find_map(|w| {
        let (a, b) = (power(&w[0]), power(&w[1]));
        (a < target && b >= target).then(|| {
            let (la, lb) = ((w[0].sessions as f64).ln(), (w[1].sessions as f64).ln());
            (la + (target - a) / (b - a) * (lb - la)).exp()
        })
    })
}

fn pct(x: f64) -> String {
    format!("{:.2} %", 100.0 * x)
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "1. Offline: {} telco customers, {} held out; the offer goes to the top {:.0} % of each ranking",
            self.customers,
            self.test_customers,
            100.0 * self.offer_share
        )?;
        writeln!(
            f,
            "   {:<17} {:>8} {:>7} {:>8} {:>10} {:>7}",
            "version", "features", "AUC", "offered", "precision", "recall"
        )?;
        for o in &self.offline {
            writeln!(
                f,
                "   {:<17} {:>8} {:>7.4} {:>8} {:>10.3} {:>7.3}",
                o.version, o.features, o.auc, o.offered, o.precision, o.recall
            )?;
        }
        let on = &self.online;
        writeln!(f)?;
        writeln!(
            f,
            "2. Online: A/B test of v2 against v1 (users split by SHA-256 of \"{}:<user id>\")",
            on.salt
        )?;
        writeln!(
            f,
            "   churn the offline case projects (25 % of reached churners kept): v1 {}, v2 {} → {:+.2} points",
            pct(on.projected_churn[0]),
            pct(on.projected_churn[1]),
            100.0 * (on.projected_churn[1] - on.projected_churn[0])
        )?;
        writeln!(
            f,
            "   planned: {} users per arm for power {:.2} at α = 0.05 on that projection",
            on.planned_per_arm, on.power_planned
        )?;
        for (name, (arm, ci)) in ["v1", "v2"].iter().zip(on.arms.iter().zip(&on.wilson)) {
            writeln!(
                f,
                "   {name}: {:>6} users, {:>6} churned = {} (Wilson 95 % {} to {})",
                arm.trials,
                arm.successes,
                pct(arm.rate()),
                pct(ci.0),
                pct(ci.1)
            )?;
        }
        writeln!(
            f,
            "   sample ratio check: χ² = {:.3}, p = {:.3} ({})",
            on.srm.chi2,
            on.srm.p_value,
            if on.srm.p_value < 0.001 {
                "the split is broken"
            } else {
                "the split is sound"
            }
        )?;
        writeln!(
            f,
            "   v2 − v1: {:+.2} points, 95 % CI {:+.2} to {:+.2}, z = {:.3}, p = {} → {}",
            100.0 * on.z.difference,
            100.0 * on.z.ci_low,
            100.0 * on.z.ci_high,
            on.z.z,
            p_value(on.z.p_value),
            if on.promoted {
                "promote v2"
            } else {
                "roll back to v1"
            }
        )?;
        writeln!(
            f,
            "   the simulated world's true churn: v1 {}, v2 {} → {:+.2} points; power of the planned test on it {:.2}, {} users per arm needed for 0.8",
            pct(on.expected_churn[0]),
            pct(on.expected_churn[1]),
            100.0 * (on.expected_churn[1] - on.expected_churn[0]),
            on.power_true,
            on.needed_for_true
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "3. Peeking: {} A/A tests ({} users per arm per look, churn {} in both arms), stopping at the first |z| ≥ 1.96",
            self.experiments,
            self.users_per_look,
            pct(self.aa_rate)
        )?;
        writeln!(
            f,
            "   {:>5} {:>20} {:>9}",
            "looks", "false positives (sim)", "theory"
        )?;
        for r in self
            .peeking
            .iter()
            .filter(|r| [1, 2, 3, 5, 10, 20].contains(&r.looks))
        {
            writeln!(
                f,
                "   {:>5} {:>20} {:>9}",
                r.looks,
                pct(r.simulated),
                pct(r.theory)
            )?;
        }
        writeln!(
            f,
            "   10 looks with bounds that spend α = 0.05 over all of them:"
        )?;
        for d in &self.designs {
            let b: Vec<String> = d.bounds.iter().map(|b| format!("{b:.3}")).collect();
            writeln!(
                f,
                "   {:<16} bounds {}; false positives {} (theory {})",
                d.name,
                b.join(" "),
                pct(d.simulated),
                pct(d.theory)
            )?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "4. Interleaving vs A/B: which ranking of a 20-customer call queue saves more (200 experiments per size)"
        )?;
        writeln!(
            f,
            "   {:>8} {:>12} {:>20}",
            "sessions", "A/B power", "interleaving power"
        )?;
        for s in &self.sensitivity {
            writeln!(
                f,
                "   {:>8} {:>12.3} {:>20.3}",
                s.sessions, s.ab_power, s.interleaving_power
            )?;
        }
        let ab = sessions_for(&self.sensitivity, |s| s.ab_power, 0.8);
        let il = sessions_for(&self.sensitivity, |s| s.interleaving_power, 0.8);
        if let (Some(ab), Some(il)) = (ab, il) {
            writeln!(
                f,
                "   to find it 8 times in 10: A/B about {ab:.0} sessions, interleaving about {il:.0} ({:.1}× fewer)",
                ab / il
            )?;
        }
        writeln!(f)?;
        writeln!(f, "5. The life of churn v2 (now {}):", self.stage)?;
        for s in &self.history {
            writeln!(
                f,
                "   {:<10} --{:<9}--> {:<10} {}",
                s.from.to_string(),
                s.event.to_string(),
                s.to.to_string(),
                s.reason
            )?;
        }
        for e in &self.illegal {
            writeln!(f, "   refused: {e}")?;
        }
        Ok(())
    }
}
