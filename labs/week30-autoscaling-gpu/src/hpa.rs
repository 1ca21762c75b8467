//! The Horizontal Pod Autoscaler's algorithm (autoscaling/v2), as the Kubernetes controller runs
//! it every sync period (15 s by default):
//!
//! 1. **Ratio**: the metric summed over the ready replicas, against its target per replica.
//!    Within the tolerance (10 %) nothing changes; otherwise desired = ⌈current × ratio⌉. When
//!    replicas are still starting, a scale-up counts them as using nothing (damping it).
//! 2. **Stabilisation**: the controller remembers each sync's raw recommendation. It scales up
//!    only to the *lowest* recommendation of the scale-up window (default 0 s: at once) and down
//!    only to the *highest* of the scale-down window (default 300 s), so that one quiet sync
//!    does not remove replicas a busy one will need again.
//! 3. **Rate limits and bounds**: at most +4 replicas or +100 % per period, whichever is more
//!    (the default scale-up policies), and never outside [minReplicas, maxReplicas].

use anyhow::{Result, ensure};
use serde::Serialize;

/// What the autoscaler measures on each replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Metric {
    /// Requests in flight (queued or being served) per ready replica, averaged over the sync
    /// period: week 29's `scorer_inflight_requests` as a Pods metric.
    InFlight,
    /// The fraction of the sync period each ready replica was busy: a CPU-utilisation target.
    Utilisation,
}

/// An HPA's spec and behaviour.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hpa {
    pub metric: Metric,
    /// The metric's target per replica (in-flight requests, or a utilisation in (0, 1]).
    pub target: f64,
    pub min_replicas: usize,
    pub max_replicas: usize,
    /// Seconds between the controller's decisions.
    pub sync_s: f64,
    /// No change while |ratio − 1| is at most this.
    pub tolerance: f64,
    pub up_window_s: f64,
    pub down_window_s: f64,
    /// Scale-up limits per sync period: the larger of +pods and +percent applies.
    pub up_max_pods: usize,
    pub up_max_percent: f64,
}

impl Hpa {
    /// Kubernetes' defaults around a metric and its target.
    pub fn new(metric: Metric, target: f64, min_replicas: usize, max_replicas: usize) -> Self {
        Self {
            metric,
            target,
            min_replicas,
            max_replicas,
            sync_s: 15.0,
            tolerance: 0.1,
            up_window_s: 0.0,
            down_window_s: 300.0,
            up_max_pods: 4,
            up_max_percent: 100.0,
        }
    }

    /// Fails with the field named when the spec could not run.
    pub fn check(&self) -> Result<()> {
        ensure!(
            self.target.is_finite() && self.target > 0.0,
            "target: expected a target above 0, got {}",
            self.target
        );
        if self.metric == Metric::Utilisation {
            ensure!(
                self.target <= 1.0,
                "target: a utilisation target is at most 1, got {}",
                self.target
            );
        }
        ensure!(
            self.min_replicas >= 1,
            "min_replicas: expected at least 1, got 0"
        );
        ensure!(
            self.max_replicas >= self.min_replicas,
            "max_replicas: expected at least min_replicas = {}, got {}",
            self.min_replicas,
            self.max_replicas
        );
        for (arg, v) in [
            ("sync_s", self.sync_s),
            ("tolerance", self.tolerance),
            ("up_window_s", self.up_window_s),
            ("down_window_s", self.down_window_s),
            ("up_max_percent", self.up_max_percent),
        ] {
            ensure!(
                v.is_finite() && v >= 0.0,
                "{arg}: expected a finite value of at least 0, got {v}"
            );
        }
        ensure!(self.sync_s > 0.0, "sync_s: expected above 0 s, got 0");
        Ok(())
    }

    // ANCHOR: raw
    /// Step 1: the raw recommendation from the metric summed over `ready` replicas, of
    /// `current` (ready and starting).
    pub fn raw(&self, current: usize, ready: usize, total: f64) -> usize {
        if ready == 0 || current == 0 {
            return current;
        }
        let ratio = total / (self.target * ready as f64);
        if (ratio - 1.0).abs() <= self.tolerance {
            return current;
        }
        if ratio > 1.0 && ready < current {
            // The starting replicas count as using nothing: a smaller scale-up, or none.
            let damped = total / (self.target * current as f64);
            if damped <= 1.0 + self.tolerance {
                return current;
            }
            return (current as f64 * damped).ceil() as usize;
        }
        (current as f64 * ratio).ceil() as usize
    }
    // ANCHOR_END: raw
}

// ANCHOR: stabilize
/// Step 2: the stabilised recommendation. `past` holds earlier syncs' raw recommendations as
/// (time, replicas); `raw` is this sync's (at `now`). Scale up to the lowest recommendation made
/// within the last `up_window` seconds, down to the highest made within `down_window`, and
/// otherwise stay at `current`. A record counts when its time is strictly after `now − window`.
pub fn stabilize(
    past: &[(f64, usize)],
    now: f64,
    raw: usize,
    current: usize,
    up_window: f64,
    down_window: f64,
) -> usize {
    // BEGIN SOLUTION stabilize
    let (mut up, mut down) = (raw, raw);
    for &(t, replicas) in past {
        if t > now - up_window {
            up = up.min(replicas);
        }
        if t > now - down_window {
            down = down.max(replicas);
        }
    }
    current.max(up).min(down)
    // END SOLUTION
}
// ANCHOR_END: stabilize

/// One sync of the controller.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Decision {
    pub t: f64,
    /// The metric per ready replica.
    pub metric: f64,
    pub current: usize,
    pub ready: usize,
    pub raw: usize,
    pub stabilized: usize,
    /// After the rate limits and bounds: the new replica count.
    pub desired: usize,
}

/// The controller's memory: past raw recommendations.
#[derive(Debug, Default, Clone)]
pub struct Controller {
    records: Vec<(f64, usize)>,
}

impl Controller {
    /// One sync at time `t`: `current` replicas (ready and starting), `ready` of them ready,
    /// the metric summed over the ready ones `total`.
    pub fn decide(
        &mut self,
        hpa: &Hpa,
        t: f64,
        current: usize,
        ready: usize,
        total: f64,
    ) -> Decision {
        let raw = hpa.raw(current, ready, total);
        let stabilized = stabilize(
            &self.records,
            t,
            raw,
            current,
            hpa.up_window_s,
            hpa.down_window_s,
        );
        let keep = hpa.up_window_s.max(hpa.down_window_s);
        self.records.retain(|&(at, _)| at > t - keep);
        self.records.push((t, raw));
        let up_limit = (current + hpa.up_max_pods)
            .max((current as f64 * (1.0 + hpa.up_max_percent / 100.0)).ceil() as usize);
        let desired = stabilized
            .min(up_limit)
            .clamp(hpa.min_replicas, hpa.max_replicas);
        Decision {
            t,
            metric: if ready == 0 {
                0.0
            } else {
                total / ready as f64
            },
            current,
            ready,
            raw,
            stabilized,
            desired,
        }
    }
}
