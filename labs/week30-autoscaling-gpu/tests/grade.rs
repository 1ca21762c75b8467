//! Grader checks for week 30: autoscaling inference and GPU scheduling.
//!
//! References: Erlang's C formula by its textbook sum (not the recursion the lab uses) and a
//! hand-worked case; the Pollaczek–Khinchine formula for one server with any service law; the
//! Kubernetes HPA controller's stabilisation rule worked by hand on a fixture trace; brute force
//! over every partition of the jobs for the packings; NVIDIA's MIG placement table by hand.

use grader::{Called, Tol, check, close, ensure, expect_err};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use week30_autoscaling_gpu::erlang::{self, erlang_c};
use week30_autoscaling_gpu::hpa::{Controller, Hpa, Metric, stabilize};
use week30_autoscaling_gpu::mig::{self, MigGpu};
use week30_autoscaling_gpu::packing::{self, Job, first_fit_decreasing};
use week30_autoscaling_gpu::service::ServiceTime;
use week30_autoscaling_gpu::sim::{Scaler, SimConfig, simulate};
use week30_autoscaling_gpu::traffic::Traffic;

/// Erlang C by its textbook form: (a^c/c!)·c/(c−a) over Σ_{k<c} a^k/k! + (a^c/c!)·c/(c−a).
fn erlang_c_by_sum(c: usize, a: f64) -> f64 {
    let mut term = 1.0; // a^k / k!
    let mut sum = 0.0;
    for k in 0..c {
        sum += term;
        term *= a / (k + 1) as f64;
    }
    let last = term * c as f64 / (c as f64 - a);
    last / (sum + last)
}

check! {
    /// Erlang C equal to its textbook sum and to hand-worked cases; M/M/c's mean wait; unstable
    /// loads refused.
    fn erlang_c_equals_textbook(exercise = "erlang_c") {
        // M/M/1: P(wait) = ρ.
        for a in [0.3, 0.9] {
            close(&format!("erlang_c(1, {a})"), a, erlang_c(1, a).called("erlang_c")?, Tol::rel(1e-12))?;
        }
        // By hand: B(2, 1) = 1/5, C = 2·(1/5) / (2 − 1·(4/5)) = 1/3.
        close("erlang_c(2, 1)", 1.0 / 3.0, erlang_c(2, 1.0).called("erlang_c")?, Tol::rel(1e-12))?;
        for (c, a) in [(3, 2.0), (10, 8.0), (10, 9.9), (50, 45.0), (100, 60.0)] {
            close(&format!("erlang_c({c}, {a})"), erlang_c_by_sum(c, a), erlang_c(c, a).called("erlang_c")?, Tol::rel(1e-10))?;
        }
        // By hand: λ = 1.5, μ = 1, c = 2: B = 0.9/2.9, C = 9/14, W_q = C/(2 − 1.5) = 9/7 s.
        let p = erlang::mmc(1.5, 1.0, 2).called("mmc")?;
        close("mmc(1.5, 1, 2).p_wait", 9.0 / 14.0, p.p_wait, Tol::rel(1e-12))?;
        close("mmc(1.5, 1, 2).mean_wait", 9.0 / 7.0, p.mean_wait, Tol::rel(1e-12))?;
        close("mmc(1.5, 1, 2).utilisation", 0.75, p.utilisation, Tol::rel(1e-12))?;
        // Sizing: 2 replicas leave 9/14·e^{−0.5·1} > 1 % waiting over 1 s; the answer is the first c that does not.
        let c = erlang::replicas_for(1.5, 1.0, 1.0, 0.99).called("replicas_for")?;
        ensure(erlang::p_wait_over(1.5, 1.0, c, 1.0).called("p_wait_over")? <= 0.01, "replicas_for", "its pool waits too long")?;
        ensure(erlang::p_wait_over(1.5, 1.0, c - 1, 1.0).map_or(true, |p| p > 0.01), "replicas_for", "one replica fewer would do")?;
        expect_err("erlang_c(2, 2.0) (unstable)", erlang_c(2, 2.0))?;
        expect_err("erlang_c(0, 0.5)", erlang_c(0, 0.5))?;
        expect_err("mmc(λ = 3, μ = 1, c = 2)", erlang::mmc(3.0, 1.0, 2))?;
        expect_err("mmc(λ = −1)", erlang::mmc(-1.0, 1.0, 2))?;
        Ok(())
    }
}

fn run_pool(
    service: ServiceTime,
    replicas: usize,
    lambda: f64,
    arrivals: usize,
    seed: u64,
) -> Result<week30_autoscaling_gpu::sim::SimResult, grader::Failure> {
    let duration = arrivals as f64 / lambda;
    let times = Traffic::Poisson { rate: lambda }
        .arrivals(duration, seed)
        .called("arrivals")?;
    let mut config = SimConfig::pool(service, replicas);
    config.warmup_s = duration / 50.0;
    config.window_s = duration / 10.0;
    config.seed = seed + 1;
    simulate(&config, &times, duration).called("simulate")
}

check! {
    /// The simulator against queueing theory: M/M/c's P(wait) and mean wait (Erlang C) for
    /// 1, 4 and 16 replicas at 50 % and 80 % utilisation, and the Pollaczek–Khinchine mean wait
    /// of one server with constant and with measured (three-valued) service times.
    fn simulator_matches_queueing_theory(exercise = "erlang_c") {
        for c in [1usize, 4, 16] {
            for rho in [0.5, 0.8] {
                let lambda = rho * c as f64;
                let theory = erlang::mmc(lambda, 1.0, c).called("mmc")?;
                close(&format!("P(wait) of M/M/{c} at ρ = {rho}: Erlang C"), erlang_c(c, lambda).called("erlang_c")?, theory.p_wait, Tol::rel(1e-12))?;
                let sim = run_pool(ServiceTime::Exponential { mean: 1.0 }, c, lambda, 400_000, 7 + c as u64)?;
                close(&format!("simulated P(wait), M/M/{c} at ρ = {rho}"), theory.p_wait, sim.p_wait, Tol::abs(0.01))?;
                close(&format!("simulated mean wait, M/M/{c} at ρ = {rho}"), theory.mean_wait, sim.mean_wait_s, Tol::rel(0.06).and_abs(0.002))?;
                close(&format!("utilisation, M/M/{c} at ρ = {rho}"), rho, sim.utilisation, Tol::abs(0.01))?;
                ensure(sim.refused == 0 && sim.answered == sim.arrivals, "simulate", "an unbounded queue refuses nothing and answers everything")?;
            }
        }
        // M/D/1 at ρ = 0.7: W_q = ρ·S / (2(1 − ρ)).
        let sim = run_pool(ServiceTime::Constant { seconds: 1.0 }, 1, 0.7, 300_000, 3)?;
        close("simulated mean wait, M/D/1 at ρ = 0.7", 0.7 / (2.0 * 0.3), sim.mean_wait_s, Tol::rel(0.05))?;
        // M/G/1, S ∈ {0.5, 1, 3} s equally likely: E[S] = 1.5, E[S²] = 41/12; λ = 0.4: W_q = λE[S²] / (2(1 − ρ)).
        let measured = ServiceTime::measured(vec![(1, vec![3.0, 0.5, 1.0])]).called("measured")?;
        close("the measured law's mean", 1.5, measured.mean(1), Tol::rel(1e-3))?;
        let sim = run_pool(measured, 1, 0.4, 300_000, 5)?;
        close("simulated mean wait, M/G/1 at ρ = 0.6", 0.4 * (41.0 / 12.0) / (2.0 * 0.4), sim.mean_wait_s, Tol::rel(0.06))?;
        Ok(())
    }
}

check! {
    /// The HPA's stabilisation worked by hand, then its decisions on a fixture trace (tolerance,
    /// starting replicas counted as idle, the +4/+100 % limit, maxReplicas, the 300 s
    /// scale-down window), then the simulator: a scale-up at the first sync after a load step,
    /// and no scale-down within the window after the load falls.
    fn hpa_decisions_on_fixture_trace(exercise = "stabilize") {
        let past = [(0.0, 5), (15.0, 3), (30.0, 4)];
        for (raw, current, up, down, want) in [
            (2, 5, 0.0, 300.0, 5), // the window remembers 5: no scale-down
            (2, 5, 0.0, 20.0, 4),  // only t = 30 is within 20 s of 45: down to 4
            (8, 4, 30.0, 300.0, 4), // t = 30 recommended 4 within the 30 s up-window: wait
            (8, 4, 0.0, 300.0, 8), // no up-window: at once
            (2, 6, 0.0, 300.0, 5), // down only to the window's highest recommendation
        ] {
            let got = stabilize(&past, 45.0, raw, current, up, down);
            ensure(got == want, &format!("stabilize(raw {raw}, current {current}, windows {up}/{down} s)"), format!("expected {want}, got {got}"))?;
        }
        let hpa = Hpa::new(Metric::InFlight, 2.0, 1, 10);
        let mut controller = Controller::default();
        // (time, current, ready, in-flight summed over ready replicas) → desired, by hand:
        for (t, current, ready, total, want) in [
            (15.0, 2, 2, 4.2, 2),   // ratio 1.05: within the 10 % tolerance
            (30.0, 2, 2, 12.0, 6),  // ratio 3: ⌈2·3⌉ = 6 = the +4 limit
            (45.0, 6, 2, 12.0, 6),  // 4 starting count as idle: 12/(2·6) = 1.0, no change
            (60.0, 6, 6, 30.0, 10), // ⌈6·2.5⌉ = 15, the limit max(6+4, 12) = 12, maxReplicas 10
            (75.0, 10, 10, 6.0, 10), // raw 3, but the window holds 15: stay
            (400.0, 10, 10, 6.0, 3), // 300 s after the last high recommendation: down to 3
        ] {
            let d = controller.decide(&hpa, t, current, ready, total);
            ensure(d.desired == want, &format!("HPA at t = {t} s"), format!("expected {want} replicas, got {} ({d:?})", d.desired))?;
        }
        let utilisation = Hpa::new(Metric::Utilisation, 0.7, 1, 20);
        let d = Controller::default().decide(&utilisation, 15.0, 4, 4, 3.9);
        ensure(d.desired == 6, "utilisation HPA, 4 replicas 97.5 % busy, target 70 %", format!("expected ⌈4·0.975/0.7⌉ = 6, got {}", d.desired))?;

        // In the simulator: 1/s for 600 s, then 12/s for 600 s, then 1/s; service 1 s, cold start 30 s,
        // at least 3 replicas (so the quiet start never scales).
        let mut arrivals = Vec::new();
        for (from, to, rate, seed) in [(0.0, 600.0, 1.0, 1), (600.0, 1200.0, 12.0, 2), (1200.0, 1800.0, 1.0, 3)] {
            let part = Traffic::Poisson { rate }.arrivals(to - from, seed).called("arrivals")?;
            arrivals.extend(part.into_iter().map(|t| t + from));
        }
        let mut config = SimConfig::pool(ServiceTime::Constant { seconds: 1.0 }, 3);
        config.cold_start_s = 30.0;
        config.scaler = Scaler::Hpa(Hpa::new(Metric::InFlight, 1.0, 3, 30));
        let sim = simulate(&config, &arrivals, 1800.0).called("simulate")?;
        let first_up = sim.decisions.iter().find(|d| d.desired > d.current).map(|d| d.t);
        ensure(first_up == Some(615.0), "the first scale-up", format!("expected at the first sync after the step (615 s), got {first_up:?}"))?;
        // Every scale-down goes no lower than the highest raw recommendation of the last 300 s.
        for d in sim.decisions.iter().filter(|d| d.desired < d.current) {
            let highest = sim.decisions.iter().filter(|e| e.t > d.t - 300.0 && e.t <= d.t).map(|e| e.raw).max().unwrap_or(0);
            ensure(d.desired >= highest.min(30), &format!("scale-down at {} s", d.t), format!("to {} below the window's highest recommendation {highest}", d.desired))?;
        }
        let first_down = sim.decisions.iter().find(|d| d.t > 1200.0 && d.desired <= 3).map(|d| d.t);
        ensure(first_down.is_some_and(|t| t >= 1500.0), "back to minReplicas after the load falls", format!("expected 300 s after the last busy sync (1200 s) or later, got {first_down:?}"))?;
        Ok(())
    }
}

/// The fewest GPUs by brute force: every partition of the jobs (restricted growth strings),
/// each block checked against the GPU.
fn brute_force(jobs: &[Job], memory: f64) -> usize {
    fn go(jobs: &[Job], memory: f64, k: usize, blocks: &mut Vec<(f64, f64)>, best: &mut usize) {
        if k == jobs.len() {
            *best = (*best).min(blocks.len());
            return;
        }
        let j = &jobs[k];
        for b in 0..=blocks.len() {
            if b == blocks.len() {
                blocks.push((j.memory_gib, j.compute));
                if blocks
                    .iter()
                    .all(|&(m, c)| m <= memory + 1e-9 && c <= 1.0 + 1e-9)
                {
                    go(jobs, memory, k + 1, blocks, best);
                }
                blocks.pop();
            } else {
                blocks[b].0 += j.memory_gib;
                blocks[b].1 += j.compute;
                if blocks[b].0 <= memory + 1e-9 && blocks[b].1 <= 1.0 + 1e-9 {
                    go(jobs, memory, k + 1, blocks, best);
                }
                blocks[b].0 -= j.memory_gib;
                blocks[b].1 -= j.compute;
            }
        }
    }
    let mut best = usize::MAX;
    go(jobs, memory, 0, &mut Vec::new(), &mut best);
    best
}

check! {
    /// First fit decreasing by hand (and a case where it is not optimal), then 300 random
    /// instances of 4 to 9 jobs: the exact packing uses as few GPUs as brute force finds, and
    /// every packing is valid and never beats it.
    fn packing_is_optimal_by_brute_force(exercise = "first_fit_decreasing") {
        let gpu = 80.0;
        let jobs: Vec<Job> = [36.0, 24.0, 20.0, 36.0, 24.0, 20.0]
            .iter()
            .enumerate()
            .map(|(i, &m)| Job::new(&format!("j{i}"), m, 0.05))
            .collect();
        // Largest first: 36, 36 | 24, 24, 20 | 20 — three GPUs; {36, 24, 20} twice is two.
        let ffd = first_fit_decreasing(&jobs, gpu).called("first_fit_decreasing")?;
        ensure(ffd.gpus == vec![vec![0, 3], vec![1, 4, 2], vec![5]], "first_fit_decreasing", format!("expected [[0, 3], [1, 4, 2], [5]], got {:?}", ffd.gpus))?;
        let opt = packing::optimal(&jobs, gpu).called("optimal")?;
        ensure(opt.gpus.len() == 2, "optimal", format!("expected 2 GPUs, got {:?}", opt.gpus))?;
        packing::validate(&jobs, gpu, &opt).called("validate")?;

        let mut rng = SmallRng::seed_from_u64(30);
        let mut ffd_optimal = 0;
        for instance in 0..300 {
            let n = rng.gen_range(4..=9);
            let jobs: Vec<Job> = (0..n)
                .map(|i| Job::new(&format!("j{i}"), rng.gen_range(4..=60) as f64, rng.gen_range(1..=12) as f64 / 20.0))
                .collect();
            let want = brute_force(&jobs, gpu);
            let opt = packing::optimal(&jobs, gpu).called("optimal")?;
            packing::validate(&jobs, gpu, &opt).called("validate(optimal)")?;
            ensure(opt.gpus.len() == want, &format!("instance {instance}: optimal"), format!("expected {want} GPUs (brute force), got {}", opt.gpus.len()))?;
            for (name, p) in [("first_fit_decreasing", first_fit_decreasing(&jobs, gpu)), ("best_fit_decreasing", packing::best_fit_decreasing(&jobs, gpu))] {
                let p = p.called(name)?;
                packing::validate(&jobs, gpu, &p).called(name)?;
                ensure(p.gpus.len() >= want, &format!("instance {instance}: {name}"), "uses fewer GPUs than brute force")?;
                if name == "first_fit_decreasing" && p.gpus.len() == want {
                    ffd_optimal += 1;
                }
            }
        }
        ensure(ffd_optimal < 300, "first fit decreasing", "was optimal on every instance: the instances are too easy to tell")?;
        expect_err("a job larger than the GPU", first_fit_decreasing(&[Job::new("big", 96.0, 0.5)], gpu))?;
        expect_err("a job with no compute", first_fit_decreasing(&[Job::new("none", 8.0, 0.0)], gpu))?;
        expect_err("a broken packing", packing::validate(&jobs, gpu, &packing::Packing { gpus: vec![vec![0, 1, 3]] }))?;
        Ok(())
    }
}

check! {
    /// MIG by NVIDIA's placement table: seven 1g.10gb fit one GPU and an eighth opens another;
    /// a 4g.40gb and a 3g.40gb share one; three 2g.20gb and a 1g.10gb share one; illegal starts,
    /// overlaps and too much compute are refused; a job gets the smallest profile that holds it.
    fn mig_placements_follow_nvidia_rules(exercise = "first_fit_decreasing") {
        let p = |name: &str| mig::profile(name).called("profile");
        let count = |names: &[&str]| -> Result<usize, grader::Failure> {
            let profiles = names.iter().map(|n| p(n)).collect::<Result<Vec<_>, _>>()?;
            let gpus = mig::pack(&profiles);
            for (g, gpu) in gpus.iter().enumerate() {
                gpu.validate().called(&format!("GPU {g} of {names:?}"))?;
            }
            Ok(gpus.len())
        };
        for (names, want) in [
            (vec!["1g.10gb"; 7], 1),
            (vec!["1g.10gb"; 8], 2),
            (vec!["3g.40gb", "4g.40gb"], 1),
            (vec!["4g.40gb", "4g.40gb"], 2),
            (vec!["2g.20gb", "2g.20gb", "2g.20gb", "1g.10gb"], 1),
            (vec!["3g.40gb", "3g.40gb", "1g.10gb"], 2),
            (vec!["1g.20gb"; 4], 1),
            (vec!["7g.80gb", "1g.10gb"], 2),
        ] {
            let got = count(&names)?;
            ensure(got == want, &format!("GPUs for {names:?}"), format!("expected {want}, got {got}"))?;
        }
        let gpu = |v: &[(&str, u32)]| -> Result<MigGpu, grader::Failure> {
            Ok(MigGpu { instances: v.iter().map(|(n, s)| Ok((p(n)?, *s))).collect::<Result<_, grader::Failure>>()? })
        };
        expect_err("3g.40gb at slice 2", gpu(&[("3g.40gb", 2)])?.validate())?;
        expect_err("two 2g.20gb at slice 2", gpu(&[("2g.20gb", 2), ("2g.20gb", 2)])?.validate())?;
        expect_err("4g.40gb at 0 and 1g.20gb at 2", gpu(&[("4g.40gb", 0), ("1g.20gb", 2)])?.validate())?;
        expect_err("eight compute slices", gpu(&[("4g.40gb", 0), ("2g.20gb", 4), ("2g.20gb", 6)])?.validate())?;
        gpu(&[("4g.40gb", 0), ("3g.40gb", 4)])?.validate().called("4g.40gb at 0 and 3g.40gb at 4")?;
        for (memory, compute, want) in [(8.0, 0.1, "1g.10gb"), (15.0, 0.1, "1g.20gb"), (15.0, 0.25, "2g.20gb"), (35.0, 0.4, "3g.40gb"), (35.0, 0.5, "4g.40gb"), (41.0, 0.1, "7g.80gb")] {
            let got = mig::smallest_for(memory, compute).called("smallest_for")?.name;
            ensure(got == want, &format!("smallest_for({memory} GiB, {compute})"), format!("expected {want}, got {got}"))?;
        }
        expect_err("smallest_for(90 GiB)", mig::smallest_for(90.0, 0.5))?;
        // The same jobs packed whole-GPU style: first fit decreasing agrees on the easy case.
        let whole = first_fit_decreasing(&[Job::new("a", 40.0, 4.0 / 7.0), Job::new("b", 40.0, 3.0 / 7.0)], 80.0).called("first_fit_decreasing")?;
        ensure(whole.gpus.len() == 1, "first_fit_decreasing(4g + 3g as shares)", format!("expected 1 GPU, got {}", whole.gpus.len()))?;
        Ok(())
    }
}

check! {
    /// Impossible parameters are refused with the argument named: rates, profiles, service
    /// times, pools, autoscalers, arrivals out of order.
    fn impossible_parameters_refused(exercise = "stabilize") {
        // Valid first (so the exercise form fails here too).
        ensure(stabilize(&[], 15.0, 3, 2, 0.0, 300.0) == 3, "stabilize", "a scale-up with no window should happen at once")?;
        expect_err("Poisson rate −1", Traffic::Poisson { rate: -1.0 }.arrivals(10.0, 1))?;
        expect_err("a profile not starting at 0", Traffic::Profile { points: vec![(5.0, 1.0), (10.0, 2.0)] }.arrivals(10.0, 1))?;
        expect_err("a profile going back in time", Traffic::Profile { points: vec![(0.0, 1.0), (10.0, 2.0), (8.0, 1.0)] }.arrivals(10.0, 1))?;
        expect_err("a burst lasting NaN", Traffic::Bursty { calm_rate: 1.0, burst_rate: 5.0, mean_calm_s: 10.0, mean_burst_s: f64::NAN }.arrivals(10.0, 1))?;
        expect_err("a measured time of −1 s", ServiceTime::measured(vec![(1, vec![0.5, -1.0])]))?;
        expect_err("a batch size measured twice", ServiceTime::measured(vec![(2, vec![0.5]), (2, vec![0.6])]))?;
        let ok = SimConfig::pool(ServiceTime::Exponential { mean: 1.0 }, 2);
        let arrivals = [0.5, 1.0, 2.0];
        simulate(&ok, &arrivals, 10.0).called("simulate (valid)")?;
        let mut zero = ok.clone();
        zero.replicas = 0;
        expect_err("0 replicas", simulate(&zero, &arrivals, 10.0))?;
        let mut cold = ok.clone();
        cold.cold_start_s = f64::NAN;
        expect_err("a NaN cold start", simulate(&cold, &arrivals, 10.0))?;
        let mut bounds = ok.clone();
        bounds.scaler = Scaler::Hpa(Hpa::new(Metric::InFlight, 1.0, 5, 2));
        expect_err("maxReplicas below minReplicas", simulate(&bounds, &arrivals, 10.0))?;
        let mut over = ok.clone();
        over.scaler = Scaler::Hpa(Hpa::new(Metric::Utilisation, 1.5, 1, 4));
        expect_err("a utilisation target of 150 %", simulate(&over, &arrivals, 10.0))?;
        expect_err("arrivals out of order", simulate(&ok, &[2.0, 1.0], 10.0))?;
        expect_err("an arrival after the end", simulate(&ok, &[2.0, 11.0], 10.0))?;
        expect_err("a zero mean service time", simulate(&SimConfig::pool(ServiceTime::Exponential { mean: 0.0 }, 1), &arrivals, 10.0))?;
        Ok(())
    }
}
