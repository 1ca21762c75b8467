//! The online world, simulated: held-out customers stream in as users, a hash of the user id
//! splits them between the production model and the candidate, the arm's model decides who gets
//! a retention offer, and the offer keeps some churners. What the offline evaluation cannot know
//! is how well the offer works on whom: here it works best on fibre customers, who leave over
//! price (a stated assumption of this world, not a fact about the data).

use crate::interleave::{credit, team_draft};
use crate::split::{Variant, assign};
use crate::stats::Arm;
use serde::Serialize;
use wb_core::{MlError, Result};
use wb_data::SplitMix64;

/// The share of churners an offer keeps, by `internet_service`, in this simulated world.
pub fn save_rate(internet: &str) -> f64 {
    match internet {
        "Fiber optic" => 0.35,
        "DSL" => 0.15,
        _ => 0.10,
    }
}

/// The save rate the offline business case assumed for everyone (a pilot's average).
pub const ASSUMED_SAVE_RATE: f64 = 0.25;

/// The held-out customers as the online world sees them.
#[derive(Debug, Clone)]
pub struct World {
    pub churned: Vec<bool>,
    pub save_rate: Vec<f64>,
    /// Whether each model version (0: production, 1: candidate) makes the customer an offer.
    pub targeted: [Vec<bool>; 2],
}

impl World {
    /// Checks that every vector has one entry per customer.
    pub fn new(churned: Vec<bool>, save_rate: Vec<f64>, targeted: [Vec<bool>; 2]) -> Result<Self> {
        let n = churned.len();
        if n == 0 {
            return Err(MlError::Empty {
                arg: "churned".into(),
                detail: "the world has no customer".into(),
            });
        }
        wb_core::check_len("save_rate", save_rate.len(), n, "one per customer")?;
        for t in &targeted {
            wb_core::check_len("targeted", t.len(), n, "one per customer")?;
        }
        if let Some(r) = save_rate.iter().find(|r| !(0.0..=1.0).contains(*r)) {
            return Err(MlError::InvalidArgument {
                arg: "save_rate".into(),
                detail: format!("each must be between 0 and 1, got {r}"),
            });
        }
        Ok(Self {
            churned,
            save_rate,
            targeted,
        })
    }

    /// The churn rate that version `v`'s offers leave, in expectation over the offers' luck.
    pub fn expected_churn(&self, v: usize) -> f64 {
        let kept: f64 = (0..self.churned.len())
            .filter(|&i| self.churned[i])
            .map(|i| 1.0 - f64::from(u8::from(self.targeted[v][i])) * self.save_rate[i])
            .sum();
        kept / self.churned.len() as f64
    }

    /// What the offline business case projects: the churners version `v` targets, each kept with
    /// the assumed average save rate.
    pub fn projected_churn(&self, v: usize) -> f64 {
        let churners = self.churned.iter().filter(|c| **c).count() as f64;
        let reached = (0..self.churned.len())
            .filter(|&i| self.churned[i] && self.targeted[v][i])
            .count() as f64;
        (churners - ASSUMED_SAVE_RATE * reached) / self.churned.len() as f64
    }

    /// Streams users 0..`users` (each a customer drawn at random) through the experiment `salt`
    /// with half of them treated; an arm's successes are its churners.
    pub fn run_ab(&self, salt: &str, users: u64, seed: u64) -> Result<[Arm; 2]> {
        let mut rng = SplitMix64::new(seed);
        let mut arms = [Arm::new(0, 0), Arm::new(0, 0)];
        let n = self.churned.len() as u64;
        for user in 0..users {
            let i = (rng.next_u64() % n) as usize;
            let v = match assign(salt, user, 0.5)? {
                Variant::Control => 0,
                Variant::Treatment => 1,
            };
            let saved = self.targeted[v][i] && rng.next_f64() < self.save_rate[i];
            arms[v].trials += 1;
            arms[v].successes += u64::from(self.churned[i] && !saved);
        }
        Ok(arms)
    }

    /// One call session: `queue` customers drawn at random, ranked by each version's `scores`;
    /// the agent calls down the first `calls` of a list and reaches position p with probability
    /// 0.85^p; a reached churner is kept with their save rate. Returns the saves of A's list, of
    /// B's list, and the clicks credited in the team-draft interleaving of the two.
    fn session(
        &self,
        scores: [&[f64]; 2],
        queue: usize,
        calls: usize,
        rng: &mut SplitMix64,
    ) -> Result<(usize, usize, i32)> {
        let n = self.churned.len() as u64;
        let mut drawn: Vec<usize> = Vec::with_capacity(queue);
        while drawn.len() < queue {
            let i = (rng.next_u64() % n) as usize;
            if !drawn.contains(&i) {
                drawn.push(i);
            }
        }
        let ranked = |s: &[f64]| {
            let mut r = drawn.clone();
            r.sort_by(|&i, &j| s[j].total_cmp(&s[i]));
            r
        };
        let (a, b) = (ranked(scores[0]), ranked(scores[1]));
        // One outcome per customer and position for this session, shared by the three lists, so
        // that they differ only by their order.
        let saved_if_reached: Vec<bool> = drawn
            .iter()
            .map(|&i| self.churned[i] && rng.next_f64() < self.save_rate[i])
            .collect();
        let reach: Vec<bool> = (0..calls)
            .map(|p| rng.next_f64() < 0.85f64.powi(p as i32))
            .collect();
        let saves = |list: &[usize]| {
            list.iter()
                .take(calls)
                .enumerate()
                .filter(|(p, i)| {
                    reach[*p] && saved_if_reached[drawn.iter().position(|d| d == *i).unwrap_or(0)]
                })
                .map(|(p, _)| p)
                .collect::<Vec<usize>>()
        };
        let merged = team_draft(&a, &b, calls, rng)?;
        let clicked = saves(&merged.items);
        let c = credit(&merged.teams, &clicked)?;
        Ok((saves(&a).len(), saves(&b).len(), c.preference()))
    }
}

/// How often each design finds the better ranker with `sessions` call sessions.
#[derive(Debug, Clone, Serialize)]
pub struct Sensitivity {
    pub sessions: usize,
    /// Share of experiments where the A/B test (half the sessions each) finds B better at 5 %.
    pub ab_power: f64,
    /// Share of experiments where interleaving (every session) finds B better at 5 %.
    pub interleaving_power: f64,
}

/// Repeats `experiments` comparisons of ranker A (`scores[0]`) and B (`scores[1]`) at each
/// session count, by A/B (Welch's z on saves per session) and by interleaving (a sign test on
/// the sessions with a winner).
pub fn ranker_sensitivity(
    world: &World,
    scores: [&[f64]; 2],
    session_counts: &[usize],
    experiments: usize,
    seed: u64,
) -> Result<Vec<Sensitivity>> {
    for s in scores {
        wb_core::check_len("scores", s.len(), world.churned.len(), "one per customer")?;
    }
    let (queue, calls) = (20.min(world.churned.len()), 5);
    let mut rng = SplitMix64::new(seed);
    let mut out = Vec::new();
    for &sessions in session_counts {
        let (mut ab_found, mut il_found) = (0usize, 0usize);
        for _ in 0..experiments {
            let mut per_arm: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
            let (mut wins_a, mut wins_b) = (0.0f64, 0.0f64);
            for s in 0..sessions {
                let (sa, sb, pref) = world.session(scores, queue, calls, &mut rng)?;
                // A/B: alternate sessions see A's or B's list; interleaving: every session.
                if s % 2 == 0 {
                    per_arm[0].push(sa as f64);
                } else {
                    per_arm[1].push(sb as f64);
                }
                match pref {
                    1 => wins_a += 1.0,
                    -1 => wins_b += 1.0,
                    _ => {}
                }
            }
            if welch_z(&per_arm[0], &per_arm[1]) > 1.959_963_984_540_054 {
                ab_found += 1;
            }
            if wins_a + wins_b > 0.0
                && (wins_b - wins_a) / (wins_a + wins_b).sqrt() > 1.959_963_984_540_054
            {
                il_found += 1;
            }
        }
        out.push(Sensitivity {
            sessions,
            ab_power: ab_found as f64 / experiments as f64,
            interleaving_power: il_found as f64 / experiments as f64,
        });
    }
    Ok(out)
}

/// Welch's z of mean(b) − mean(a); 0 when undefined.
fn welch_z(a: &[f64], b: &[f64]) -> f64 {
    let stats = |x: &[f64]| {
        let n = x.len() as f64;
        let m = x.iter().sum::<f64>() / n;
        let v = x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0);
        (m, v, n)
    };
    if a.len() < 2 || b.len() < 2 {
        return 0.0;
    }
    let ((ma, va, na), (mb, vb, nb)) = (stats(a), stats(b));
    let se = (va / na + vb / nb).sqrt();
    if se == 0.0 { 0.0 } else { (mb - ma) / se }
}
