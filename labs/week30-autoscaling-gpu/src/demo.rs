//! The lab end to end: the simulator against Erlang C, service times measured, batching on one
//! replica, a traffic day under seven policies, GPU jobs packed four ways.

use crate::Args;
use crate::report::*;
use anyhow::Result;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use wb_lab::Lab;
use week30_autoscaling_gpu::hpa::{Hpa, Metric};
use week30_autoscaling_gpu::measure::{self, LlmTimes};
use week30_autoscaling_gpu::packing::{self, Job};
use week30_autoscaling_gpu::service::ServiceTime;
use week30_autoscaling_gpu::sim::{Scaler, SimConfig, SimResult, simulate};
use week30_autoscaling_gpu::traffic::Traffic;
use week30_autoscaling_gpu::{erlang, lab_dir, mig};

/// The batch sizes timed on week 15's network.
pub const BATCH_SIZES: [usize; 7] = [1, 2, 4, 8, 16, 32, 64];
/// The traffic day: requests per second at each hour (a flash crowd at 20:00).
pub const DAY: [(f64, f64); 15] = [
    (0.0, 3.0),
    (3.0, 1.5),
    (6.0, 2.0),
    (8.0, 6.0),
    (10.0, 9.0),
    (12.0, 10.0),
    (13.0, 8.5),
    (15.0, 10.5),
    (17.0, 9.0),
    (19.9, 6.0),
    (20.0, 14.0),
    (20.4, 14.0),
    (20.6, 6.0),
    (22.0, 4.5),
    (24.0, 3.0),
];
pub const SLO_S: f64 = 5.0;
pub const COLD_START_S: f64 = 30.0;
const QUEUE_LIMIT: usize = 500;

fn quantile(sorted: &[f64], q: f64) -> f64 {
    let h = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (h - lo as f64)
}

pub fn run(_args: &Args, lab: &mut Lab) -> Result<Report> {
    let erlang = lab.timed("erlang", erlang_table)?;
    let batcher = lab.timed("batcher", || measure::week15_batcher(&BATCH_SIZES, 100))?;
    let batching = lab.timed("batching", || batching(&batcher))?;
    let llm_times = measure::load_llm_times(&lab_dir().join("data/llm-service-times.json"))?;
    let llm = llm_summary(&llm_times);
    let day = lab.timed("day", || traffic_day(&llm_times))?;
    let packing = lab.timed("packing", packing_part)?;
    let report = Report {
        erlang,
        batcher: batcher
            .iter()
            .map(|(b, times)| {
                let mut t = times.clone();
                t.sort_by(f64::total_cmp);
                let mean = t.iter().sum::<f64>() / t.len() as f64;
                BatchRow {
                    batch: *b,
                    calls: t.len(),
                    p50_ms: 1e3 * quantile(&t, 0.5),
                    p99_ms: 1e3 * quantile(&t, 0.99),
                    per_second: *b as f64 / mean,
                }
            })
            .collect(),
        batching,
        llm,
        day,
        packing,
    };
    crate::plots::save(lab, &report)?;
    Ok(report)
}

/// M/M/c by simulation and by Erlang C, service time 1 s.
fn erlang_table() -> Result<Vec<ErlangRow>> {
    let mut rows = Vec::new();
    for c in [1usize, 4, 16] {
        for rho in [0.5, 0.7, 0.8, 0.9] {
            let lambda = rho * c as f64;
            let arrivals = 200_000;
            let duration = arrivals as f64 / lambda;
            let times = Traffic::Poisson { rate: lambda }.arrivals(duration, c as u64)?;
            let mut config = SimConfig::pool(ServiceTime::Exponential { mean: 1.0 }, c);
            config.warmup_s = duration / 50.0;
            config.window_s = duration;
            let sim = simulate(&config, &times, duration)?;
            let theory = erlang::mmc(lambda, 1.0, c)?;
            rows.push(ErlangRow {
                replicas: c,
                utilisation: rho,
                p_wait: theory.p_wait,
                p_wait_sim: sim.p_wait,
                mean_wait: theory.mean_wait,
                mean_wait_sim: sim.mean_wait_s,
                requests: sim.answered,
            });
        }
    }
    Ok(rows)
}

/// One replica of week 15's network: batches of 1 against batches of up to 64, at loads given
/// as multiples of what batches of 1 can serve.
fn batching(measured: &[(usize, Vec<f64>)]) -> Result<Vec<BatchingRow>> {
    let service = ServiceTime::measured(measured.to_vec())?;
    let capacity_1 = 1.0 / service.mean(1);
    let mut rows = Vec::new();
    for load in [0.5, 0.9, 2.0, 4.0] {
        let rate = load * capacity_1;
        let duration = 200_000.0 / rate;
        let arrivals = Traffic::Poisson { rate }.arrivals(duration, 15)?;
        for max_batch in [1, 64] {
            let config = SimConfig {
                max_batch,
                queue_limit: 256,
                slo_s: 0.010,
                window_s: duration,
                ..SimConfig::pool(service.clone(), 1)
            };
            let sim = simulate(&config, &arrivals, duration)?;
            rows.push(BatchingRow {
                load,
                rate,
                max_batch,
                mean_batch: sim.mean_batch,
                utilisation: sim.utilisation,
                p99_ms: 1e3 * sim.p99_s,
                refused: sim.refused as f64 / sim.arrivals.max(1) as f64,
            });
        }
    }
    Ok(rows)
}

fn llm_summary(t: &LlmTimes) -> LlmSummary {
    let mut s = t.seconds.clone();
    s.sort_by(f64::total_cmp);
    let mean = s.iter().sum::<f64>() / s.len() as f64;
    let var = s.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (s.len() - 1) as f64;
    LlmSummary {
        model: t.model.clone(),
        measured: t.measured.clone(),
        machine: t.machine.clone(),
        requests: s.len(),
        max_tokens: t.max_tokens,
        mean_s: mean,
        p50_s: quantile(&s, 0.5),
        p95_s: quantile(&s, 0.95),
        cv: var.sqrt() / mean,
        mean_tokens: t.completion_tokens.iter().sum::<usize>() as f64
            / t.completion_tokens.len().max(1) as f64,
    }
}

/// The replicas M/M/c says a rate needs: 99 % of requests waiting at most 2 s (the SLO's 5 s
/// less the slowest answers' 3).
fn sized(rate: f64, mean_service: f64) -> Result<usize> {
    erlang::replicas_for(rate.max(0.01), 1.0 / mean_service, SLO_S - 3.0, 0.99)
}

fn traffic_day(times: &LlmTimes) -> Result<Day> {
    let hour = 3600.0;
    let points: Vec<(f64, f64)> = DAY.iter().map(|&(h, r)| (h * hour, r)).collect();
    let traffic = Traffic::Profile {
        points: points.clone(),
    };
    let duration = 24.0 * hour;
    let arrivals = traffic.arrivals(duration, 30)?;
    let service = ServiceTime::measured(vec![(1, times.seconds.clone())])?;
    let mean_service = service.mean(1);
    let peak = DAY.iter().map(|p| p.1).fold(0.0, f64::max);
    let mean_rate = arrivals.len() as f64 / duration;
    // Planned ahead: every 15 minutes, sized for the highest rate of the next quarter hour,
    // started a cold start early.
    let quarter = 900.0;
    let mut schedule = Vec::new();
    let mut t = 0.0;
    while t < duration {
        let highest = (0..=15)
            .map(|k| traffic.rate_at(t + k as f64 * quarter / 15.0))
            .fold(0.0, f64::max);
        schedule.push(((t - COLD_START_S).max(0.0), sized(highest, mean_service)?));
        t += quarter;
    }
    schedule.dedup_by_key(|s| s.0);
    let hpa = |metric, target| Hpa::new(metric, target, 2, 60);
    let policies: Vec<(&str, Scaler, f64)> = vec![
        ("fixed for the peak", Scaler::Fixed, COLD_START_S),
        ("fixed for the mean", Scaler::Fixed, COLD_START_S),
        (
            "schedule (Erlang C, 15 min)",
            Scaler::Schedule(schedule.clone()),
            COLD_START_S,
        ),
        (
            "HPA in-flight 0.8",
            Scaler::Hpa(hpa(Metric::InFlight, 0.8)),
            COLD_START_S,
        ),
        (
            "HPA CPU 70 %",
            Scaler::Hpa(hpa(Metric::Utilisation, 0.7)),
            COLD_START_S,
        ),
        (
            "HPA in-flight, no down window",
            Scaler::Hpa(Hpa {
                down_window_s: 0.0,
                ..hpa(Metric::InFlight, 0.8)
            }),
            COLD_START_S,
        ),
        (
            "HPA in-flight, 180 s cold start",
            Scaler::Hpa(hpa(Metric::InFlight, 0.8)),
            180.0,
        ),
    ];
    let peak_replicas = sized(peak, mean_service)?;
    let mean_replicas = sized(mean_rate, mean_service)?;
    let mut rows = Vec::new();
    let mut timelines = Vec::new();
    for (i, (name, scaler, cold_start_s)) in policies.into_iter().enumerate() {
        let replicas = match (i, &scaler) {
            (0, _) => peak_replicas,
            (1, _) => mean_replicas,
            (_, Scaler::Schedule(s)) => s[0].1,
            // The autoscalers start where yesterday's night left them.
            _ => sized(traffic.rate_at(0.0), mean_service)?,
        };
        let config = SimConfig {
            service: service.clone(),
            max_batch: 1,
            queue_limit: QUEUE_LIMIT,
            replicas,
            cold_start_s,
            scaler,
            slo_s: SLO_S,
            window_s: 300.0,
            warmup_s: 0.0,
            seed: 24,
        };
        let sim: SimResult = simulate(&config, &arrivals, duration)?;
        rows.push(PolicyRow {
            policy: name.to_string(),
            slo_attainment: sim.slo_attainment,
            p95_s: sim.p95_s,
            p99_s: sim.p99_s,
            refused: sim.refused,
            replica_hours: sim.replica_seconds / hour,
            utilisation: sim.utilisation,
            scale_events: sim.scale_events,
            peak_replicas: sim.peak_replicas,
        });
        timelines.push(Timeline {
            policy: name.to_string(),
            windows: sim
                .windows
                .iter()
                .map(|w| (w.t / hour, w.rate, w.replicas, w.p95_s, w.queue as f64))
                .collect(),
        });
    }
    Ok(Day {
        requests: arrivals.len(),
        mean_rate,
        peak_rate: peak,
        mean_service_s: mean_service,
        peak_replicas,
        mean_replicas,
        policies: rows,
        timelines,
    })
}

/// Inference jobs on 80 GB GPUs (memory GiB, share of the GPU's compute at their traffic).
pub fn job_mix() -> Vec<Job> {
    [
        ("chat-70b-int4", 40.0, 0.85),
        ("chat-8b-fp16 a", 18.0, 0.45),
        ("chat-8b-fp16 b", 18.0, 0.45),
        ("chat-8b-fp16 c", 18.0, 0.45),
        ("code-14b-int8", 17.0, 0.40),
        ("whisper-large", 10.0, 0.30),
        ("summarise-3b", 8.0, 0.25),
        ("vision-clip", 6.0, 0.20),
        ("rerank-large", 4.0, 0.15),
        ("moderation-1b", 4.0, 0.10),
        ("embed-e5-large", 3.0, 0.10),
        ("embed-minilm", 2.0, 0.05),
        ("ner-bert", 2.0, 0.05),
        ("fraud-mlp (week 15)", 1.0, 0.05),
    ]
    .iter()
    .map(|&(n, m, c)| Job::new(n, m, c))
    .collect()
}

fn packing_part() -> Result<Packings> {
    let gpu = 80.0;
    let jobs = job_mix();
    let mut rows = Vec::new();
    let mut add = |strategy: &str, gpus: usize| {
        let (memory, compute) = packing::utilisation(&jobs, gpu, gpus);
        rows.push(PackRow {
            strategy: strategy.to_string(),
            gpus,
            memory,
            compute,
        });
    };
    add("a whole GPU per job", jobs.len());
    let ffd = packing::first_fit_decreasing(&jobs, gpu)?;
    packing::validate(&jobs, gpu, &ffd)?;
    add("shared: first fit decreasing", ffd.gpus.len());
    let bfd = packing::best_fit_decreasing(&jobs, gpu)?;
    packing::validate(&jobs, gpu, &bfd)?;
    add("shared: best fit decreasing", bfd.gpus.len());
    let opt = packing::optimal(&jobs, gpu)?;
    packing::validate(&jobs, gpu, &opt)?;
    add("shared: exact (branch and bound)", opt.gpus.len());
    let profiles = jobs
        .iter()
        .map(|j| mig::smallest_for(j.memory_gib, j.compute))
        .collect::<Result<Vec<_>>>()?;
    let mig_gpus = mig::pack(&profiles);
    for g in &mig_gpus {
        g.validate()?;
    }
    add("MIG slices (first fit decreasing)", mig_gpus.len());
    let layout = mig_gpus
        .iter()
        .map(|g| {
            g.instances
                .iter()
                .map(|(p, s)| format!("{}@{s}", p.name))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let placement = opt
        .gpus
        .iter()
        .map(|on| on.iter().map(|&i| jobs[i].name.clone()).collect())
        .collect();

    // Random instances: how often the greedy rules are optimal.
    let mut rng = SmallRng::seed_from_u64(30);
    let (mut ffd_opt, mut bfd_opt, mut ffd_extra, mut bfd_extra) = (0, 0, 0, 0);
    let instances = 500;
    for _ in 0..instances {
        let jobs: Vec<Job> = (0..12)
            .map(|i| {
                Job::new(
                    &format!("j{i}"),
                    rng.gen_range(4..=60) as f64,
                    rng.gen_range(1..=12) as f64 / 20.0,
                )
            })
            .collect();
        let best = packing::optimal(&jobs, gpu)?.gpus.len();
        let f = packing::first_fit_decreasing(&jobs, gpu)?.gpus.len();
        let b = packing::best_fit_decreasing(&jobs, gpu)?.gpus.len();
        ffd_opt += usize::from(f == best);
        bfd_opt += usize::from(b == best);
        ffd_extra = ffd_extra.max(f - best);
        bfd_extra = bfd_extra.max(b - best);
    }
    Ok(Packings {
        jobs: jobs.len(),
        rows,
        placement,
        mig_layout: layout,
        instances,
        ffd_optimal: ffd_opt,
        bfd_optimal: bfd_opt,
        ffd_most_extra: ffd_extra,
        bfd_most_extra: bfd_extra,
    })
}
