//! Runs the week 25 lab end to end: `cargo run -p week25-lifecycle -- --help`.

mod plots;
mod report;

use anyhow::Result;
use clap::Parser;
use report::*;
use wb_core::lab::check_open_fraction;
use wb_lab::{Lab, LabArgs};
use week25_lifecycle::churn::{self, FEATURE_COLUMNS};
use week25_lifecycle::lifecycle::{Event, Lifecycle};
use week25_lifecycle::online::{self, World};
use week25_lifecycle::sequential::{self, equal_looks};
use week25_lifecycle::split::srm_test;
use week25_lifecycle::stats::{self, two_proportion_z, wilson};

/// Week 25: the ML lifecycle in production — a churn model's life as a state machine, offline
/// evaluation against a simulated online A/B test (hashed split, z-test, sample size), what
/// peeking does to the error rate, and interleaving.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Share of the customers held out for offline evaluation (and streamed online)
    #[arg(long, value_name = "F", default_value_t = 0.3)]
    test_fraction: f64,
    /// Share of the customers that get the retention offer: the top of each model's ranking
    #[arg(long, value_name = "F", default_value_t = 0.2)]
    offer_share: f64,
    /// The columns of the production model v1 (v2 uses them all), e.g.
    /// tenure,monthly_charges,contract
    #[arg(long, value_delimiter = ',', default_value = "tenure")]
    v1: Vec<String>,
    /// Simulated A/A experiments for the peeking study
    #[arg(long, default_value_t = 4000, value_parser = wb_lab::at_least_one)]
    experiments: usize,
    /// Seed of the split and of every simulation
    #[arg(long, default_value_t = 25)]
    seed: u64,
    #[command(flatten)]
    lab: LabArgs,
}

/// Significance level and power of every test of the lab.
const ALPHA: f64 = 0.05;
const POWER: f64 = 0.8;
/// Looks of the peeking study, users per arm between looks, and the A/A rate (the data's churn).
const LOOKS: usize = 20;
const USERS_PER_LOOK: u64 = 500;
const AA_RATE: f64 = 0.265;

wb_lab::main!(
    "Week 25 — the ML lifecycle in production: offline vs online evaluation",
    run
);

fn run(args: &Args, lab: &mut Lab) -> Result<Report> {
    check_open_fraction("--test-fraction", args.test_fraction)?;
    check_open_fraction("--offer-share", args.offer_share)?;
    let mut life = Lifecycle::new("churn v2");
    let mut illegal = Vec::new();
    let mut attempt = |life: &mut Lifecycle, event: Event, reason: &str| {
        if let Err(e) = life.apply(event, reason) {
            illegal.push(format!("{e} (asked to {reason})"));
        }
    };

    // 1. Data and offline evaluation. ------------------------------------------------------------
    let data_path = wb_data::dataset("tabular/telco_churn.csv")?;
    let data_hash = wb_data::sha256_file(&data_path)?;
    let customers = churn::load(&data_path)?;
    life.apply(
        Event::Train,
        &format!("telco_churn.csv sha256 {}…", &data_hash[..12]),
    )?;
    // Promoting a model nobody evaluated is the mistake the machine exists to refuse.
    attempt(&mut life, Event::Promote, "ship before any evaluation");
    let (train, test) =
        wb_data::train_test_indices(customers.churned.len(), args.test_fraction, args.seed);
    let v1: Vec<&str> = args.v1.iter().map(String::as_str).collect();
    if let Some(bad) = v1
        .iter()
        .find(|c| !customers.sources.iter().any(|s| s == *c))
    {
        anyhow::bail!(
            "--v1: `{bad}` is not a column of telco_churn.csv (its columns: {})",
            FEATURE_COLUMNS.join(", ")
        );
    }
    let versions = [
        ("v1 (production)", customers.columns_of(&v1)),
        ("v2 (candidate)", customers.columns_of(&[])),
    ];
    let scores = lab.timed("train", || {
        versions
            .iter()
            .map(|(_, cols)| churn::churn_scores(&customers, cols, &train, &test))
            .collect::<wb_core::Result<Vec<_>>>()
    })?;
    let churned: Vec<bool> = test.iter().map(|&i| customers.churned[i]).collect();
    let internet: Vec<&str> = test
        .iter()
        .map(|&i| customers.internet[i].as_str())
        .collect();
    let mut offline = Vec::new();
    let mut targeted = Vec::new();
    for ((name, cols), s) in versions.iter().zip(&scores) {
        let s = s.to_vec();
        let threshold = churn::top_share_threshold(&s, args.offer_share)?;
        let t: Vec<bool> = s.iter().map(|&v| v >= threshold).collect();
        let reached = (0..t.len()).filter(|&i| t[i] && churned[i]).count();
        let offered = t.iter().filter(|t| **t).count();
        offline.push(Offline {
            version: name.to_string(),
            features: cols.len(),
            auc: churn::auc(&churned, &s)?,
            offered,
            precision: reached as f64 / offered as f64,
            recall: reached as f64 / churned.iter().filter(|c| **c).count() as f64,
        });
        targeted.push(t);
    }
    life.apply(
        Event::Evaluate,
        &format!(
            "held-out AUC {:.3} (production {:.3})",
            offline[1].auc, offline[0].auc
        ),
    )?;
    life.apply(
        Event::Register,
        &format!(
            "offline gate passed: recall at the top {:.0} % {:.3} > {:.3}",
            100.0 * args.offer_share,
            offline[1].recall,
            offline[0].recall
        ),
    )?;

    // 2. The online test, planned from the offline projection. -----------------------------------
    let save_rate: Vec<f64> = internet.iter().map(|i| online::save_rate(i)).collect();
    let world = World::new(
        churned.clone(),
        save_rate,
        [targeted[0].clone(), targeted[1].clone()],
    )?;
    let projected = [world.projected_churn(0), world.projected_churn(1)];
    let expected = [world.expected_churn(0), world.expected_churn(1)];
    let per_arm = stats::sample_size(projected[0], projected[1], ALPHA, POWER)?;
    let salt = "retention-offer-v2";
    // The offline gate is not the online test: a registered model cannot go to everyone yet.
    attempt(
        &mut life,
        Event::Promote,
        "ship on the offline numbers alone",
    );
    life.apply(
        Event::StartTest,
        &format!(
            "50/50 split by SHA-256 of (\"{salt}\", user id), {per_arm} users per arm planned"
        ),
    )?;
    let arms = lab.timed("ab_test", || world.run_ab(salt, 2 * per_arm, args.seed))?;
    let srm = srm_test(&[arms[0].trials, arms[1].trials], &[0.5, 0.5])?;
    let z = two_proportion_z(arms[0], arms[1], 0.95)?;
    let promote = srm.p_value >= 0.001 && z.p_value < ALPHA && z.difference < 0.0;
    let verdict = format!(
        "churn {:.4} vs {:.4}, difference {:+.4} (95 % CI {:+.4} to {:+.4}), p = {:.1e}",
        arms[1].rate(),
        arms[0].rate(),
        z.difference,
        z.ci_low,
        z.ci_high,
        z.p_value
    );
    if promote {
        life.apply(Event::Promote, &verdict)?;
    } else {
        life.apply(Event::RollBack, &verdict)?;
    }
    // Monitoring cannot report drift on a model that serves no one.
    if !promote {
        attempt(
            &mut life,
            Event::Drift,
            "retrain a model that is not serving",
        );
    }
    let online_result = Online {
        salt: salt.to_string(),
        projected_churn: projected,
        expected_churn: expected,
        planned_per_arm: per_arm,
        power_planned: stats::power(projected[0], projected[1], per_arm, ALPHA)?,
        power_true: stats::power(expected[0], expected[1], per_arm, ALPHA)?,
        needed_for_true: stats::sample_size(expected[0], expected[1], ALPHA, POWER)?,
        arms,
        wilson: [wilson(arms[0], 0.95)?, wilson(arms[1], 0.95)?],
        srm,
        z,
        promoted: promote,
    };

    // 3. Peeking. --------------------------------------------------------------------------------
    let naive = sequential::naive_bounds(LOOKS, ALPHA)?;
    let peek = lab.timed("aa_simulation", || {
        sequential::simulate_aa(
            &naive,
            USERS_PER_LOOK,
            AA_RATE,
            args.experiments as u64,
            args.seed,
        )
    })?;
    let theory = lab.timed("crossing_probabilities", || {
        (1..=LOOKS)
            .map(|k| sequential::crossing_probability(&naive[..k], &equal_looks(k)))
            .collect::<wb_core::Result<Vec<f64>>>()
    })?;
    let peeking: Vec<PeekRow> = (1..=LOOKS)
        .map(|k| PeekRow {
            looks: k,
            simulated: peek.false_positive_rate(k),
            theory: theory[k - 1],
        })
        .collect();
    let mut designs = Vec::new();
    for (name, bounds) in [
        ("Pocock", sequential::pocock_bounds(10, ALPHA)?),
        (
            "O'Brien-Fleming",
            sequential::obrien_fleming_bounds(10, ALPHA)?,
        ),
    ] {
        let sim = sequential::simulate_aa(
            &bounds,
            USERS_PER_LOOK,
            AA_RATE,
            args.experiments as u64,
            args.seed + 1,
        )?;
        designs.push(Design {
            name: name.to_string(),
            theory: sequential::crossing_probability(&bounds, &equal_looks(10))?,
            simulated: sim.false_positive_rate(10),
            bounds,
        });
    }

    // 4. Interleaving against A/B for the call list. -------------------------------------------------
    let sessions = [50, 100, 200, 400, 800, 1600];
    let sensitivity = lab.timed("interleaving", || {
        online::ranker_sensitivity(
            &world,
            [
                scores[0].as_slice().unwrap_or(&[]),
                scores[1].as_slice().unwrap_or(&[]),
            ],
            &sessions,
            200,
            args.seed,
        )
    })?;

    let report = Report {
        customers: customers.churned.len(),
        test_customers: test.len(),
        offer_share: args.offer_share,
        offline,
        online: online_result,
        peeking,
        users_per_look: USERS_PER_LOOK,
        aa_rate: AA_RATE,
        experiments: args.experiments,
        designs,
        sensitivity,
        history: life.history.clone(),
        stage: life.stage,
        illegal,
    };
    plots::save(lab, &report)?;
    Ok(report)
}
