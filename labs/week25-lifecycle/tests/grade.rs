//! Grader checks for week 25: the ML lifecycle in production, offline vs online evaluation.
//!
//! References: `fixtures/week25.json` (scipy 1.17: `chisquare`, `chi2_contingency`,
//! `binomtest(...).proportion_ci`, `norm.ppf`, `multivariate_normal.cdf`; Python's `hashlib`),
//! `fixtures/week06.json` (scikit-learn's `roc_auc_score`), published boundary constants
//! (Jennison and Turnbull, *Group Sequential Methods*, 2000, tables 2.1 and 2.3), hand-worked
//! cases, and simulations judged against their binomial tolerance (4 standard deviations).

use grader::{Called, Failure, Tol, check, close, ensure, expect_err, fixture, num, nums};
use serde_json::Value;
use wb_data::SplitMix64;
use week25_lifecycle::churn::auc;
use week25_lifecycle::interleave::{Team, credit, team_draft};
use week25_lifecycle::lifecycle::{ALL_EVENTS, ALL_STAGES, Event, Lifecycle, Stage, next};
use week25_lifecycle::online::World;
use week25_lifecycle::sequential::{
    crossing_probability, equal_looks, naive_bounds, obrien_fleming_bounds, pocock_bounds,
    simulate_aa,
};
use week25_lifecycle::split::{BUCKETS, Variant, assign, bucket, srm_test};
use week25_lifecycle::stats::{Arm, power, sample_size, two_proportion_z, wilson};

type Outcome = Result<(), Failure>;

fn items(v: &Value, pointer: &str) -> Vec<Value> {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn int(v: &Value, pointer: &str) -> u64 {
    v.pointer(pointer)
        .and_then(Value::as_u64)
        .unwrap_or(u64::MAX)
}

/// |got − expected| within 4 standard deviations of a share estimated from `trials` draws.
fn within_binomial(what: &str, expected: f64, got: f64, trials: u64) -> Outcome {
    let sd = (expected * (1.0 - expected) / trials as f64).sqrt();
    ensure(
        (got - expected).abs() <= 4.0 * sd,
        what,
        format!(
            "expected {expected:.4} ± {:.4} (4 sd of {trials} draws), got {got:.4}",
            4.0 * sd
        ),
    )
}

check! {
    /// Every (stage, event) pair against the table written out by hand: the legal ones lead
    /// where the table says, every other one is refused with a message naming both.
    fn lifecycle_follows_its_table(exercise = "next") {
        use Event::*;
        use Stage::*;
        let table = [
            (Data, Train, Trained),
            (Trained, Evaluate, Evaluated),
            (Evaluated, Register, Registered),
            (Evaluated, Reject, Data),
            (Registered, StartTest, Testing),
            (Registered, Retire, Retired),
            (Testing, Promote, Production),
            (Testing, RollBack, Registered),
            (Production, RollBack, Registered),
            (Production, Drift, Data),
            (Production, Retire, Retired),
        ];
        for from in ALL_STAGES {
            for event in ALL_EVENTS {
                let want = table.iter().find(|(f, e, _)| *f == from && *e == event);
                match (want, next(from, event)) {
                    (Some((_, _, to)), got) => {
                        let got = got.called(&format!("next({from:?}, {event:?})"))?;
                        ensure(got == *to, &format!("next({from:?}, {event:?})"), format!("expected {to:?}, got {got:?}"))?;
                    }
                    (None, got) => {
                        let msg = expect_err(&format!("next({from:?}, {event:?})"), got)?;
                        ensure(
                            msg.contains(&format!("`{event:?}`")) && msg.contains(&format!("`{from:?}`")),
                            "the refusal's message",
                            format!("should name the event `{event:?}` and the stage `{from:?}`, got: {msg}"),
                        )?;
                    }
                }
            }
        }
        // A refused event leaves the model where it was and the history untouched.
        let mut life = Lifecycle::new("m");
        life.apply(Train, "fit").called("apply(Train)")?;
        expect_err("apply(Promote) on a trained model", life.apply(Promote, "skip"))?;
        ensure(
            life.stage == Trained && life.history.len() == 1,
            "a refused event",
            format!("changed the model: stage {:?}, {} steps", life.stage, life.history.len()),
        )
    }
}

check! {
    /// Buckets equal Python's hashlib; `assign` treats exactly the buckets below the share; the
    /// split of 200,000 users holds within its binomial tolerance and passes scipy's chi-square.
    fn hashed_split_is_stable_and_balanced(exercise = "assign") {
        let f = fixture("week25");
        let salt = f["salt"].as_str().unwrap_or_default();
        for (k, u) in items(&f, "/users").iter().enumerate() {
            let user = u.as_u64().unwrap_or_default();
            let want = int(&f, &format!("/buckets/{k}"));
            let got = bucket(salt, user);
            ensure(got == want, &format!("bucket({salt:?}, {user})"), format!("Python's hashlib gives {want}, got {got}"))?;
            for share in [0.0, 0.3, 0.5, 0.8, 1.0] {
                let arm = assign(salt, user, share).called("assign")?;
                let treated = (want as f64) < share * BUCKETS as f64;
                ensure(
                    arm == if treated { Variant::Treatment } else { Variant::Control },
                    &format!("assign({salt:?}, {user}, {share})"),
                    format!("bucket {want}: expected {}, got {arm:?}", if treated { "Treatment" } else { "Control" }),
                )?;
            }
        }
        let users = 200_000u64;
        let treated = (0..users)
            .map(|u| assign("another-experiment", u, 0.1))
            .collect::<Result<Vec<_>, _>>()
            .called("assign")?
            .iter()
            .filter(|v| **v == Variant::Treatment)
            .count() as u64;
        within_binomial("share of users treated at 10 %", 0.1, treated as f64 / users as f64, users)?;
        let srm = srm_test(&[users - treated, treated], &[0.9, 0.1]).called("srm_test")?;
        ensure(srm.p_value > 1e-4, "the split's SRM test", format!("p = {} on a sound split", srm.p_value))?;
        for (k, case) in items(&f, "/srm").iter().enumerate() {
            let counts: Vec<u64> = items(case, "/counts").iter().filter_map(Value::as_u64).collect();
            let shares = nums(case, "/shares").to_vec();
            let got = srm_test(&counts, &shares).called("srm_test")?;
            close(&format!("srm case {k}: chi2 against scipy"), num(case, "/chi2"), got.chi2, Tol::rel(1e-12).and_abs(1e-12))?;
            close(&format!("srm case {k}: p against scipy"), num(case, "/p_value"), got.p_value, Tol::rel(1e-9).and_abs(1e-15))?;
        }
        expect_err("assign with share 1.5", assign("s", 1, 1.5))?;
        expect_err("srm_test with shares adding to 0.9", srm_test(&[1, 2], &[0.4, 0.5]))?;
        Ok(())
    }
}

check! {
    /// z, p and the interval of the difference equal scipy's (chi2_contingency without
    /// correction is the squared pooled z); Wilson intervals equal scipy's binomtest; bad counts
    /// are refused.
    fn z_test_and_intervals_equal_scipy(exercise = "z_test") {
        let f = fixture("week25");
        for (k, case) in items(&f, "/z_tests").iter().enumerate() {
            let a = Arm::new(int(case, "/a/0"), int(case, "/a/1"));
            let b = Arm::new(int(case, "/b/0"), int(case, "/b/1"));
            let t = two_proportion_z(a, b, num(case, "/confidence")).called("two_proportion_z")?;
            close(&format!("case {k}: z"), num(case, "/z"), t.z, Tol::rel(1e-9))?;
            close(&format!("case {k}: p-value"), num(case, "/p_value"), t.p_value, Tol::rel(1e-9))?;
            close(&format!("case {k}: CI low"), num(case, "/ci/0"), t.ci_low, Tol::rel(1e-9).and_abs(1e-12))?;
            close(&format!("case {k}: CI high"), num(case, "/ci/1"), t.ci_high, Tol::rel(1e-9).and_abs(1e-12))?;
            close(&format!("case {k}: difference"), b.rate() - a.rate(), t.difference, Tol::rel(1e-12))?;
        }
        for (k, case) in items(&f, "/wilson").iter().enumerate() {
            let arm = Arm::new(int(case, "/k"), int(case, "/n"));
            let (lo, hi) = wilson(arm, num(case, "/confidence")).called("wilson")?;
            close(&format!("wilson case {k}: low"), num(case, "/ci/0"), lo, Tol::rel(1e-9).and_abs(1e-12))?;
            close(&format!("wilson case {k}: high"), num(case, "/ci/1"), hi, Tol::rel(1e-9).and_abs(1e-12))?;
        }
        for (what, a, b, conf) in [
            ("an arm with no trials", Arm::new(0, 0), Arm::new(1, 10), 0.95),
            ("more successes than trials", Arm::new(11, 10), Arm::new(1, 10), 0.95),
            ("confidence 1", Arm::new(1, 10), Arm::new(2, 10), 1.0),
            ("every trial a success", Arm::new(10, 10), Arm::new(10, 10), 0.95),
        ] {
            expect_err(&format!("two_proportion_z with {what}"), two_proportion_z(a, b, conf))?;
        }
        Ok(())
    }
}

check! {
    /// The sample size equals the formula computed with scipy's normal quantiles; the power at n
    /// reaches the target and at n − 1 does not; 2,000 simulated experiments at that size find
    /// the effect at the planned rate, within binomial tolerance.
    fn sample_size_reaches_its_power(exercise = "sample_size") {
        let f = fixture("week25");
        for (k, case) in items(&f, "/sample_sizes").iter().enumerate() {
            let (p1, p2, alpha, target) = (num(case, "/p1"), num(case, "/p2"), num(case, "/alpha"), num(case, "/power"));
            let n = sample_size(p1, p2, alpha, target).called("sample_size")?;
            let want = int(case, "/n");
            ensure(n == want, &format!("case {k}: sample_size({p1}, {p2}, {alpha}, {target})"), format!("expected {want}, got {n}"))?;
            let at = power(p1, p2, n, alpha).called("power")?;
            let below = power(p1, p2, n - 1, alpha).called("power")?;
            ensure(at >= target - 1e-3 && below < at, &format!("case {k}: power at n and n − 1"), format!("{at} and {below} around {target}"))?;
        }
        let (p1, p2) = (0.3, 0.26);
        let n = sample_size(p1, p2, 0.05, 0.8).called("sample_size")?;
        let mut rng = SplitMix64::new(2025);
        let draw = |rng: &mut SplitMix64, p: f64| (0..n).filter(|_| rng.next_f64() < p).count() as u64;
        let experiments = 2000u64;
        let mut found = 0u64;
        for _ in 0..experiments {
            let a = Arm::new(draw(&mut rng, p1), n);
            let b = Arm::new(draw(&mut rng, p2), n);
            if two_proportion_z(a, b, 0.95).called("two_proportion_z")?.p_value < 0.05 {
                found += 1;
            }
        }
        within_binomial(&format!("simulated power at n = {n} per arm"), 0.8, found as f64 / experiments as f64, experiments)?;
        expect_err("sample_size with no change", sample_size(0.2, 0.2, 0.05, 0.8))?;
        expect_err("sample_size with power 1", sample_size(0.2, 0.3, 0.05, 1.0))?;
        Ok(())
    }
}

check! {
    /// The grid integral equals scipy's multivariate normal probabilities, and the bounds it
    /// solves for equal the published Pocock and O'Brien–Fleming constants.
    fn crossing_probabilities_equal_scipy_and_the_tables(exercise = "z_test") {
        let f = fixture("week25");
        for (k, case) in items(&f, "/crossings").iter().enumerate() {
            let got = crossing_probability(&nums(case, "/bounds").to_vec(), &nums(case, "/times").to_vec())
                .called("crossing_probability")?;
            close(&format!("case {k}: crossing probability against scipy's multivariate normal"), num(case, "/crossing"), got, Tol::abs(2e-6))?;
        }
        // Jennison and Turnbull (2000), tables 2.1 and 2.3: alpha = 0.05, two-sided.
        for (looks, c) in [(2, 2.178), (5, 2.413), (10, 2.555)] {
            let got = pocock_bounds(looks, 0.05).called("pocock_bounds")?[0];
            close(&format!("Pocock's constant for {looks} looks"), c, got, Tol::abs(6e-4))?;
        }
        for (looks, c) in [(2, 1.977), (5, 2.040), (10, 2.087)] {
            let got = obrien_fleming_bounds(looks, 0.05).called("obrien_fleming_bounds")?;
            close(&format!("O'Brien–Fleming's final bound for {looks} looks"), c, got[looks - 1], Tol::abs(6e-4))?;
        }
        close("one look at 1.96", 0.05, crossing_probability(&[1.959_963_984_540_054], &[1.0]).called("crossing_probability")?, Tol::abs(1e-9))?;
        expect_err("crossing_probability with times not increasing", crossing_probability(&[2.0, 2.0], &[2.0, 1.0]))?;
        expect_err("crossing_probability with a bound of 0", crossing_probability(&[0.0], &[1.0]))?;
        // The simulation reads the learner's z-test: a bound of 0 stops every experiment at the
        // first look (|z| ≥ 0), a bound no z reaches stops none.
        let all = simulate_aa(&[0.0, 0.0], 50, 0.3, 40, 1).called("simulate_aa")?;
        ensure(all.stopped_by == vec![40, 0], "simulate_aa with a bound of 0", format!("all 40 stop at look 1, got {:?}", all.stopped_by))?;
        let none = simulate_aa(&[1e9, 1e9], 50, 0.3, 40, 1).called("simulate_aa")?;
        ensure(none.stopped_by == vec![0, 0], "simulate_aa with an unreachable bound", format!("none stops, got {:?}", none.stopped_by))?;
        expect_err("simulate_aa with a NaN bound", simulate_aa(&[f64::NAN], 50, 0.3, 40, 1))?;
        Ok(())
    }
}

check! {
    /// 10,000 simulated A/A tests read at 1, 5 and 10 looks reject as often as the integral
    /// says (5 %, 14.2 %, 19.3 %), and Pocock's bounds bring 10 looks back to 5 %.
    fn peeking_matches_theory(exercise = "z_test", timeout_s = 120) {
        let experiments = 10_000u64;
        let naive = naive_bounds(10, 0.05).called("naive_bounds")?;
        let sim = simulate_aa(&naive, 200, 0.3, experiments, 7).called("simulate_aa")?;
        for looks in [1, 5, 10] {
            let theory = crossing_probability(&naive[..looks], &equal_looks(looks)).called("crossing_probability")?;
            within_binomial(&format!("false-positive rate with {looks} looks"), theory, sim.false_positive_rate(looks), experiments)?;
        }
        ensure(sim.false_positive_rate(10) > 0.15, "peeking 10 times", format!("should reject far more than 5 %, got {}", sim.false_positive_rate(10)))?;
        let pocock = pocock_bounds(10, 0.05).called("pocock_bounds")?;
        let fixed = simulate_aa(&pocock, 200, 0.3, experiments, 8).called("simulate_aa")?;
        within_binomial("false-positive rate of 10 looks at Pocock's bound", 0.05, fixed.false_positive_rate(10), experiments)
    }
}

check! {
    /// Team draft worked by hand, its invariants on random rankings, and its fairness: with two
    /// identical rankers and random clicks, neither team wins more often.
    fn team_draft_interleaves_fairly(exercise = "team_draft") {
        let mut rng = SplitMix64::new(1);
        // Identical rankings: each pair of picks takes the next two items, one per team.
        let same = team_draft(&[1, 2, 3, 4], &[1, 2, 3, 4], 4, &mut rng).called("team_draft")?;
        ensure(same.items == vec![1, 2, 3, 4], "team_draft of identical rankings", format!("expected [1, 2, 3, 4], got {:?}", same.items))?;
        for pair in same.teams.chunks(2) {
            ensure(pair[0] != pair[1], "team_draft of identical rankings", format!("each round gives one pick to each team, got {:?}", same.teams))?;
        }
        // Disjoint rankings: A's picks are A's top items in order, B's likewise.
        let d = team_draft(&["a1", "a2", "a3"], &["b1", "b2"], 10, &mut rng).called("team_draft")?;
        ensure(d.items.len() == 5, "team_draft of 3 + 2 distinct items", format!("lists all 5, got {:?}", d.items))?;
        let of = |t: Team| d.items.iter().zip(&d.teams).filter(|(_, x)| **x == t).map(|(i, _)| *i).collect::<Vec<_>>();
        ensure(of(Team::A) == vec!["a1", "a2", "a3"] && of(Team::B) == vec!["b1", "b2"], "team_draft's picks", format!("each team picks its best remaining item in order, got {:?} / {:?}", d.items, d.teams))?;
        let c = credit(&[Team::A, Team::B, Team::B, Team::A], &[1, 2]).called("credit")?;
        ensure(c.a == 0 && c.b == 2 && c.preference() == -1, "credit of clicks at 1 and 2", format!("B gets 2, got {c:?}"))?;
        expect_err("credit of a click past the list", credit(&[Team::A], &[3]))?;
        expect_err("team_draft of a ranking with a repeat", team_draft(&[1, 1], &[2], 2, &mut rng))?;
        let (mut wins_a, mut wins_b) = (0u64, 0u64);
        for _ in 0..4000 {
            let ranking: Vec<usize> = wb_data::shuffled_indices(10, rng.next_u64());
            let other: Vec<usize> = wb_data::shuffled_indices(10, rng.next_u64());
            let m = team_draft(&ranking, &other, 6, &mut rng).called("team_draft")?;
            let mut seen = m.items.clone();
            seen.sort_unstable();
            seen.dedup();
            ensure(seen.len() == m.items.len() && m.items.len() == 6, "team_draft's list", format!("6 distinct items, got {:?}", m.items))?;
            for p in 1..=m.teams.len() {
                let a = m.teams[..p].iter().filter(|t| **t == Team::A).count() as i64;
                ensure((2 * a - p as i64).abs() <= 1, "team_draft's balance", format!("every prefix has as many picks of A as of B, ±1: {:?}", m.teams))?;
            }
            let same_lists = team_draft(&ranking, &ranking, 6, &mut rng).called("team_draft")?;
            let clicked: Vec<usize> = (0..6).filter(|_| rng.next_f64() < 0.3).collect();
            match credit(&same_lists.teams, &clicked).called("credit")?.preference() {
                1 => wins_a += 1,
                -1 => wins_b += 1,
                _ => {}
            }
        }
        let decided = wins_a + wins_b;
        within_binomial("A's share of wins between identical rankers", 0.5, wins_a as f64 / decided as f64, decided)
    }
}

check! {
    /// The simulated A/B test: arms add up, the split is even within tolerance, and each arm's
    /// churn matches what its offers leave in expectation (worked by hand on a 4-customer world).
    fn online_ab_matches_its_world(exercise = "assign") {
        // Customers: a churner who can be kept half the time, a churner who cannot, two stayers.
        let world = World::new(
            vec![true, true, false, false],
            vec![0.5, 0.0, 0.3, 0.3],
            [vec![false; 4], vec![true, false, true, false]],
        )
        .called("World::new")?;
        close("churn without offers (2 churners of 4)", 0.5, world.expected_churn(0), Tol::abs(1e-15))?;
        close("churn with an offer to the savable churner (1.5 of 4)", 0.375, world.expected_churn(1), Tol::abs(1e-15))?;
        let users = 200_000;
        let arms = world.run_ab("check", users, 3).called("run_ab")?;
        ensure(arms[0].trials + arms[1].trials == users, "run_ab", format!("{users} users in all, got {arms:?}"))?;
        within_binomial("share of users in the treatment arm", 0.5, arms[1].trials as f64 / users as f64, users)?;
        within_binomial("control arm's churn", 0.5, arms[0].rate(), arms[0].trials)?;
        within_binomial("treatment arm's churn", 0.375, arms[1].rate(), arms[1].trials)?;
        expect_err("World::new with a save rate of 2", World::new(vec![true], vec![2.0], [vec![true], vec![true]]))?;
        expect_err("World::new with a missing target", World::new(vec![true], vec![0.5], [vec![true], vec![]]))?;
        Ok(())
    }
}

check! {
    /// The offline table's AUC equals scikit-learn's roc_auc_score (week 6's fixture, with ties).
    fn offline_auc_equals_sklearn(exercise = "assign") {
        let f = fixture("week06");
        let y: Vec<bool> = items(&f, "/binary/y").iter().map(|b| b.as_bool().unwrap_or(false)).collect();
        let got = auc(&y, &nums(&f, "/binary/scores").to_vec()).called("auc")?;
        close("AUC against sklearn", num(&f, "/binary/roc_auc"), got, Tol::rel(1e-12))?;
        expect_err("auc with no churner", auc(&[false, false], &[0.1, 0.2]))?;
        // The arm that decides who sees v2 online: user 7's bucket is 111 of 10,000 (Python's
        // hashlib, in the fixture), below half, so the user is treated.
        let arm = assign("retention-offer-v2", 7, 0.5).called("assign")?;
        ensure(arm == Variant::Treatment, "user 7 in the lab's experiment", format!("bucket 111 < 5,000: Treatment expected, got {arm:?}"))
    }
}
