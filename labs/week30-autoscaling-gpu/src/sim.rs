//! A discrete-event simulation of an inference service: requests arrive, wait in one queue, are
//! served in batches by replicas that take time to start, and an autoscaler adds and removes
//! replicas. Time jumps from one event to the next (an arrival, a batch done, a replica ready, an
//! autoscaler sync), so a simulated day takes a second.
//!
//! The service: one first-come-first-served queue (bounded: a request that finds it full is
//! refused, as week 15's batcher answers 503) in front of identical replicas. A free replica takes
//! up to `max_batch` waiting requests at once (week 15's batcher with no wait: only what has
//! queued) and is busy for a service time drawn for that batch size. With `max_batch` 1 and
//! exponential service times this is M/M/c, and must agree with Erlang C.
//!
//! A replica removed while serving finishes its batch first (week 29's drain on SIGTERM); one
//! removed while starting never serves. Cost is counted for every replica that exists, starting,
//! serving or idle: replica-seconds, as a cloud bill counts them.

use anyhow::{Result, ensure};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use serde::Serialize;
use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, VecDeque};

use crate::hpa::{Controller, Decision, Hpa, Metric};
use crate::service::ServiceTime;

/// Who decides the number of replicas.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Scaler {
    /// The initial replicas, always.
    Fixed,
    /// The HPA's algorithm every `sync_s` seconds.
    Hpa(Hpa),
    /// Replica counts set at given times (seconds, increasing): a schedule planned ahead.
    Schedule(Vec<(f64, usize)>),
}

/// The service and its traffic's rules.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimConfig {
    pub service: ServiceTime,
    pub max_batch: usize,
    /// The most requests waiting; one more is refused.
    pub queue_limit: usize,
    /// Replicas ready at time 0.
    pub replicas: usize,
    /// Seconds from a replica's creation to its first request (image pull, model load).
    pub cold_start_s: f64,
    pub scaler: Scaler,
    /// A request meets the SLO when answered within this many seconds.
    pub slo_s: f64,
    /// The timeline's resolution, seconds.
    pub window_s: f64,
    /// Requests arriving before this time are served but not counted.
    pub warmup_s: f64,
    pub seed: u64,
}

impl SimConfig {
    /// A fixed pool of `replicas` serving one request at a time, nothing refused: M/G/c.
    pub fn pool(service: ServiceTime, replicas: usize) -> Self {
        Self {
            service,
            max_batch: 1,
            queue_limit: usize::MAX,
            replicas,
            cold_start_s: 0.0,
            scaler: Scaler::Fixed,
            slo_s: 1.0,
            window_s: 60.0,
            warmup_s: 0.0,
            seed: 30,
        }
    }

    /// Fails with the field named when the simulation could not run.
    pub fn check(&self) -> Result<()> {
        self.service.check()?;
        ensure!(self.max_batch >= 1, "max_batch: expected at least 1, got 0");
        ensure!(
            self.queue_limit >= 1,
            "queue_limit: expected at least 1, got 0"
        );
        ensure!(
            self.replicas >= 1,
            "replicas: expected at least 1 replica at the start, got 0"
        );
        for (arg, v) in [
            ("cold_start_s", self.cold_start_s),
            ("warmup_s", self.warmup_s),
        ] {
            ensure!(
                v.is_finite() && v >= 0.0,
                "{arg}: expected a finite time of at least 0 s, got {v}"
            );
        }
        for (arg, v) in [("slo_s", self.slo_s), ("window_s", self.window_s)] {
            ensure!(
                v.is_finite() && v > 0.0,
                "{arg}: expected a finite time above 0 s, got {v}"
            );
        }
        match &self.scaler {
            Scaler::Fixed => {}
            Scaler::Hpa(hpa) => hpa.check()?,
            Scaler::Schedule(steps) => {
                for (i, &(t, n)) in steps.iter().enumerate() {
                    ensure!(
                        t.is_finite() && t >= 0.0,
                        "schedule[{i}]: expected a time of at least 0 s, got {t}"
                    );
                    ensure!(n >= 1, "schedule[{i}]: expected at least 1 replica, got 0");
                }
                ensure!(
                    steps.windows(2).all(|w| w[0].0 < w[1].0),
                    "schedule: expected increasing times"
                );
            }
        }
        Ok(())
    }
}

/// One window of the timeline.
#[derive(Debug, Clone, Serialize)]
pub struct Window {
    /// The window's end, seconds.
    pub t: f64,
    /// Arrivals per second in the window.
    pub rate: f64,
    pub refused: usize,
    /// Answered in the window, and their 95th-percentile latency (seconds; 0 when none).
    pub answered: usize,
    pub p95_s: f64,
    /// Replicas existing on average over the window (what is paid for).
    pub replicas: f64,
    /// At the window's end.
    pub ready: usize,
    pub starting: usize,
    pub queue: usize,
}

/// What a run measured (over the counted requests: those after the warm-up).
#[derive(Debug, Clone, Serialize)]
pub struct SimResult {
    pub arrivals: usize,
    pub answered: usize,
    pub refused: usize,
    /// Mean wait in the queue, and the fraction of answered requests that waited at all.
    pub mean_wait_s: f64,
    pub p_wait: f64,
    pub mean_latency_s: f64,
    pub p50_s: f64,
    pub p95_s: f64,
    pub p99_s: f64,
    /// Arrivals answered within the SLO (a refusal is a miss).
    pub slo_attainment: f64,
    pub replica_seconds: f64,
    pub mean_batch: f64,
    /// Busy time over ready time.
    pub utilisation: f64,
    /// Times the replica count changed.
    pub scale_events: usize,
    pub peak_replicas: usize,
    pub windows: Vec<Window>,
    pub decisions: Vec<Decision>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Starting,
    Idle,
    Busy,
    Gone,
}

struct Replica {
    state: State,
    /// Removed while busy: leaves when its batch is done.
    leaving: bool,
    batch: Vec<(f64, bool)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Done(usize),
    Ready(usize),
    Scale(usize),
    Tick,
    Window,
}

struct Event(f64, u64, Kind);

impl PartialEq for Event {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Event {}
impl PartialOrd for Event {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Event {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0).then(self.1.cmp(&other.1))
    }
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    // numpy's default (linear interpolation between order statistics).
    let h = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (h - lo as f64)
}

struct Sim<'a> {
    config: &'a SimConfig,
    rng: SmallRng,
    now: f64,
    events: BinaryHeap<Reverse<Event>>,
    seq: u64,
    replicas: Vec<Replica>,
    idle: Vec<usize>,
    queue: VecDeque<(f64, bool)>,
    in_service: usize,
    // Counts by state (a leaving busy replica is in `busy` and `leaving`).
    starting: usize,
    ready: usize,
    busy: usize,
    leaving: usize,
    // Areas under the curves since the last sync, and in total.
    area_inflight: f64,
    area_busy: f64,
    area_live: f64,
    window_live: f64,
    total_busy: f64,
    total_ready: f64,
    // Counted requests.
    latencies: Vec<f64>,
    wait_sum: f64,
    waited: usize,
    refused: usize,
    batches: u64,
    batch_items: u64,
    window_latencies: Vec<f64>,
    window_arrivals: usize,
    window_refused: usize,
    scale_events: usize,
    peak: usize,
}

impl Sim<'_> {
    fn push(&mut self, t: f64, kind: Kind) {
        self.seq += 1;
        self.events.push(Reverse(Event(t, self.seq, kind)));
    }

    fn live(&self) -> usize {
        self.starting + self.ready
    }

    /// Replicas the scaler counts: starting and ready, not leaving.
    fn current(&self) -> usize {
        self.live() - self.leaving
    }

    fn advance(&mut self, t: f64) {
        let dt = t - self.now;
        if dt > 0.0 {
            self.area_inflight += (self.queue.len() + self.in_service) as f64 * dt;
            self.area_busy += self.busy as f64 * dt;
            self.area_live += self.live() as f64 * dt;
            self.window_live += self.live() as f64 * dt;
            self.total_busy += self.busy as f64 * dt;
            self.total_ready += self.ready as f64 * dt;
            self.now = t;
        }
    }

    // ANCHOR: dispatch
    fn dispatch(&mut self) {
        while !self.queue.is_empty() {
            let Some(id) = self.idle.pop() else { return };
            let n = self.queue.len().min(self.config.max_batch);
            let batch: Vec<(f64, bool)> = self.queue.drain(..n).collect();
            for &(arrived, counted) in &batch {
                if counted {
                    let wait = self.now - arrived;
                    self.wait_sum += wait;
                    if wait > 0.0 {
                        self.waited += 1;
                    }
                }
            }
            self.batches += 1;
            self.batch_items += n as u64;
            self.in_service += n;
            let s = self.config.service.sample(n, &mut self.rng);
            let r = &mut self.replicas[id];
            r.state = State::Busy;
            r.batch = batch;
            self.busy += 1;
            self.push(self.now + s, Kind::Done(id));
        }
    }
    // ANCHOR_END: dispatch

    fn scale_to(&mut self, n: usize) {
        let current = self.current();
        if n != current {
            self.scale_events += 1;
        }
        if n > current {
            for _ in current..n {
                let id = self.replicas.len();
                self.replicas.push(Replica {
                    state: State::Starting,
                    leaving: false,
                    batch: Vec::new(),
                });
                self.starting += 1;
                self.push(self.now + self.config.cold_start_s, Kind::Ready(id));
            }
        } else {
            let mut remove = current - n;
            // Starting ones first (newest first), then idle ones, then busy ones (after their batch).
            for id in (0..self.replicas.len()).rev() {
                if remove == 0 {
                    break;
                }
                if self.replicas[id].state == State::Starting {
                    self.replicas[id].state = State::Gone;
                    self.starting -= 1;
                    remove -= 1;
                }
            }
            while remove > 0 {
                let Some(id) = self.idle.pop() else { break };
                self.replicas[id].state = State::Gone;
                self.ready -= 1;
                remove -= 1;
            }
            for id in 0..self.replicas.len() {
                if remove == 0 {
                    break;
                }
                let r = &mut self.replicas[id];
                if r.state == State::Busy && !r.leaving {
                    r.leaving = true;
                    self.leaving += 1;
                    remove -= 1;
                }
            }
        }
        self.peak = self.peak.max(self.live());
    }

    fn close_window(&mut self, t: f64, windows: &mut Vec<Window>) {
        let w = self.config.window_s;
        self.window_latencies.sort_by(f64::total_cmp);
        windows.push(Window {
            t,
            rate: self.window_arrivals as f64 / w,
            refused: self.window_refused,
            answered: self.window_latencies.len(),
            p95_s: quantile(&self.window_latencies, 0.95),
            replicas: self.window_live / w,
            ready: self.ready - self.leaving,
            starting: self.starting,
            queue: self.queue.len(),
        });
        self.window_latencies.clear();
        self.window_arrivals = 0;
        self.window_refused = 0;
        self.window_live = 0.0;
    }
}

/// Runs the service over `arrivals` (increasing times, seconds) until `duration`, then lets the
/// accepted requests finish.
pub fn simulate(config: &SimConfig, arrivals: &[f64], duration: f64) -> Result<SimResult> {
    config.check()?;
    ensure!(
        duration.is_finite() && duration > 0.0,
        "duration: expected a finite time above 0 s, got {duration}"
    );
    if let Some(i) = arrivals.iter().position(|t| !t.is_finite()) {
        anyhow::bail!("arrivals[{i}]: expected a finite time, got {}", arrivals[i]);
    }
    if let Some(i) = arrivals.windows(2).position(|w| w[1] < w[0]) {
        anyhow::bail!("arrivals[{}]: expected increasing times", i + 1);
    }
    if let Some(&t) = arrivals.first() {
        ensure!(
            t >= 0.0,
            "arrivals[0]: expected a time of at least 0 s, got {t}"
        );
    }
    if let Some(&t) = arrivals.last() {
        ensure!(
            t < duration,
            "arrivals: the last one ({t} s) is not before duration = {duration} s"
        );
    }
    let mut sim = Sim {
        config,
        rng: SmallRng::seed_from_u64(config.seed),
        now: 0.0,
        events: BinaryHeap::new(),
        seq: 0,
        replicas: Vec::new(),
        idle: Vec::new(),
        queue: VecDeque::new(),
        in_service: 0,
        starting: 0,
        ready: 0,
        busy: 0,
        leaving: 0,
        area_inflight: 0.0,
        area_busy: 0.0,
        area_live: 0.0,
        window_live: 0.0,
        total_busy: 0.0,
        total_ready: 0.0,
        latencies: Vec::with_capacity(arrivals.len()),
        wait_sum: 0.0,
        waited: 0,
        refused: 0,
        batches: 0,
        batch_items: 0,
        window_latencies: Vec::new(),
        window_arrivals: 0,
        window_refused: 0,
        scale_events: 0,
        peak: config.replicas,
    };
    for id in 0..config.replicas {
        sim.replicas.push(Replica {
            state: State::Idle,
            leaving: false,
            batch: Vec::new(),
        });
        sim.idle.push(id);
        sim.ready += 1;
    }
    let mut controller = Controller::default();
    let mut decisions = Vec::new();
    match &config.scaler {
        Scaler::Fixed => {}
        Scaler::Hpa(hpa) => sim.push(hpa.sync_s, Kind::Tick),
        Scaler::Schedule(steps) => {
            for (i, &(t, _)) in steps.iter().enumerate() {
                sim.push(t, Kind::Scale(i));
            }
        }
    }
    sim.push(config.window_s, Kind::Window);
    let mut windows = Vec::new();
    let mut last_sync = 0.0;
    let mut next = 0;
    let counted_arrivals = arrivals.iter().filter(|&&t| t >= config.warmup_s).count();
    loop {
        let heap_next = sim.events.peek().map(|Reverse(e)| e.0);
        let arrival_next = arrivals.get(next).copied();
        let take_arrival = match (arrival_next, heap_next) {
            (Some(a), Some(h)) => a < h,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        if take_arrival {
            let t = arrivals[next];
            next += 1;
            sim.advance(t);
            let counted = t >= config.warmup_s;
            sim.window_arrivals += 1;
            if sim.idle.is_empty() && sim.queue.len() >= config.queue_limit {
                sim.window_refused += 1;
                if counted {
                    sim.refused += 1;
                }
                continue;
            }
            sim.queue.push_back((t, counted));
            sim.dispatch();
            continue;
        }
        let Some(Reverse(Event(t, _, kind))) = sim.events.pop() else {
            break;
        };
        // After the traffic ends only the service's own events run (the accepted finish).
        let after = t >= duration;
        if after && matches!(kind, Kind::Tick | Kind::Window | Kind::Scale(_)) {
            if sim.queue.is_empty() && sim.in_service == 0 {
                continue;
            }
            if matches!(kind, Kind::Window) {
                continue;
            }
        }
        sim.advance(t);
        match kind {
            Kind::Done(id) => {
                let batch = std::mem::take(&mut sim.replicas[id].batch);
                sim.in_service -= batch.len();
                for (arrived, counted) in batch {
                    let latency = t - arrived;
                    sim.window_latencies.push(latency);
                    if counted {
                        sim.latencies.push(latency);
                    }
                }
                sim.busy -= 1;
                let r = &mut sim.replicas[id];
                if r.leaving {
                    r.state = State::Gone;
                    r.leaving = false;
                    sim.leaving -= 1;
                    sim.ready -= 1;
                } else {
                    r.state = State::Idle;
                    sim.idle.push(id);
                }
                sim.dispatch();
            }
            Kind::Ready(id) => {
                if sim.replicas[id].state == State::Starting {
                    sim.replicas[id].state = State::Idle;
                    sim.starting -= 1;
                    sim.ready += 1;
                    sim.idle.push(id);
                    sim.dispatch();
                }
            }
            Kind::Scale(i) => {
                if let Scaler::Schedule(steps) = &config.scaler {
                    sim.scale_to(steps[i].1);
                    sim.dispatch();
                }
            }
            Kind::Tick => {
                if let Scaler::Hpa(hpa) = &config.scaler {
                    let period = t - last_sync;
                    let total = match hpa.metric {
                        Metric::InFlight => sim.area_inflight / period,
                        Metric::Utilisation => sim.area_busy / period,
                    };
                    let ready = sim.ready - sim.leaving;
                    let d = controller.decide(hpa, t, sim.current(), ready, total);
                    decisions.push(d);
                    sim.scale_to(d.desired);
                    sim.dispatch();
                    (sim.area_inflight, sim.area_busy) = (0.0, 0.0);
                    last_sync = t;
                    sim.push(t + hpa.sync_s, Kind::Tick);
                }
            }
            Kind::Window => {
                sim.close_window(t, &mut windows);
                if t + config.window_s <= duration + 1e-9 {
                    sim.push(t + config.window_s, Kind::Window);
                }
            }
        }
    }
    ensure!(
        sim.queue.is_empty(),
        "the simulation ended with {} requests queued",
        sim.queue.len()
    );
    sim.advance(sim.now.max(duration));
    let mut latencies = std::mem::take(&mut sim.latencies);
    latencies.sort_by(f64::total_cmp);
    let answered = latencies.len();
    let within = latencies.partition_point(|&l| l <= config.slo_s);
    let per = |x: f64, n: usize| if n == 0 { 0.0 } else { x / n as f64 };
    Ok(SimResult {
        arrivals: counted_arrivals,
        answered,
        refused: sim.refused,
        mean_wait_s: per(sim.wait_sum, answered),
        p_wait: per(sim.waited as f64, answered),
        mean_latency_s: per(latencies.iter().sum(), answered),
        p50_s: quantile(&latencies, 0.5),
        p95_s: quantile(&latencies, 0.95),
        p99_s: quantile(&latencies, 0.99),
        slo_attainment: per(within as f64, counted_arrivals),
        replica_seconds: sim.area_live,
        mean_batch: if sim.batches == 0 {
            0.0
        } else {
            sim.batch_items as f64 / sim.batches as f64
        },
        utilisation: if sim.total_ready > 0.0 {
            sim.total_busy / sim.total_ready
        } else {
            0.0
        },
        scale_events: sim.scale_events,
        peak_replicas: sim.peak,
        windows,
        decisions,
    })
}
