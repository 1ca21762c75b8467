//! Runs the week 9 lab end to end: `cargo run -p week09-neural-nets -- --help`.

mod report;

use anyhow::Result;
use clap::Parser;
use ndarray::{Array1, Array2, Axis, array};
use report::*;
use wb_core::lab::check_open_fraction;
use wb_data::SplitMix64;
use wb_lab::{Lab, LabArgs};
use wb_plot::{DecisionRegions, LinePlot, Panels, Series};
use week09_neural_nets::activations::{Activation, softmax};
use week09_neural_nets::data::{moons, spirals, xor};
use week09_neural_nets::mlp::{Init, Mlp, init_layer, train};
use week09_neural_nets::perceptron::{Perceptron, train_perceptron};

/// Week 9: the perceptron and its limit (XOR), activation functions, Xavier/He initialisation,
/// and an MLP's decision boundaries on moons, spirals and XOR.
#[derive(Debug, Parser)]
#[command(version, allow_negative_numbers = true)]
struct Args {
    /// Seed of the data, the initialisation and the batches
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Training epochs of each MLP
    #[arg(long, default_value_t = 200)]
    epochs: usize,
    /// Share of the points held out for testing, strictly between 0 and 1
    #[arg(long, value_name = "F", default_value_t = 0.3)]
    test_fraction: f64,
    #[command(flatten)]
    lab: LabArgs,
}

/// The inputs at which the activations are shown: ordinary and extreme.
const PROBE: [f64; 7] = [-1000.0, -3.0, -0.5, 0.0, 0.5, 3.0, 1000.0];

impl From<Perceptron> for PerceptronRun {
    fn from(p: Perceptron) -> Self {
        Self {
            epochs: p.epochs,
            converged: p.converged,
            mistakes: p.mistakes,
        }
    }
}

/// Linearly separable points: uniform in [−1, 1]², class 1 above the line x0 + x1 = 0.2, with a
/// margin of 0.1 kept empty.
fn separable(n: usize, seed: u64) -> (Array2<f64>, Vec<usize>) {
    let mut rng = SplitMix64::new(seed);
    let (mut rows, mut y) = (Vec::new(), Vec::new());
    while y.len() < n {
        let (a, b) = (2.0 * rng.next_f64() - 1.0, 2.0 * rng.next_f64() - 1.0);
        let d = a + b - 0.2;
        if d.abs() < 0.1 {
            continue;
        }
        rows.extend([a, b]);
        y.push(usize::from(d > 0.0));
    }
    (
        Array2::from_shape_vec((n, 2), rows).expect("n rows of 2"),
        y,
    )
}

wb_lab::main!("Week 9 — neural networks from scratch", run);

fn run(args: &Args, lab: &mut Lab) -> Result<Report> {
    check_open_fraction("--test-fraction", args.test_fraction)?;

    // 1. The perceptron. ----------------------------------------------------------------------
    let (sx, sy) = separable(200, args.seed);
    let perceptron_separable = train_perceptron(sx.view(), &sy, 1.0, 1000)?.into();
    let (xx, xy) = xor(200, args.seed)?;
    let perceptron_xor = train_perceptron(xx.view(), &xy, 1.0, 100)?.into();

    // 2. Activations at ordinary and extreme inputs. -------------------------------------------
    let acts = [
        ("sigmoid", Activation::Sigmoid),
        ("tanh", Activation::Tanh),
        ("ReLU", Activation::Relu),
        ("leaky ReLU (0.1)", Activation::LeakyRelu(0.1)),
        ("GELU (exact)", Activation::GeluExact),
        ("GELU (tanh)", Activation::GeluTanh),
    ];
    let activations = acts
        .iter()
        .map(|&(name, a)| ActivationRow {
            name,
            values: PROBE.iter().map(|&x| a.value(x)).collect(),
            derivatives: PROBE.iter().map(|&x| a.derivative(x)).collect(),
        })
        .collect();
    let softmax = softmax(array![[1000.0, 999.0, -1000.0]].view())?
        .row(0)
        .to_vec();

    // 3. Initialisation: the spread of the weights against the theory. ------------------------
    let mut rng = SplitMix64::new(args.seed);
    let init = InitVariances {
        xavier_variance: init_layer(256, 256, Init::Xavier, &mut rng).w.var(0.0),
        xavier_theory: 2.0 / 512.0,
        he_variance: init_layer(256, 256, Init::He, &mut rng).w.var(0.0),
        he_theory: 2.0 / 256.0,
    };

    // 4. MLPs on three toy problems. ----------------------------------------------------------
    let plots_dir = lab.plots_dir().to_path_buf();
    let mlp = lab.timed("mlps", || mlps(args, &plots_dir))?;
    for (_, files) in &mlp {
        lab.saved(files.clone());
    }
    let xs: Array1<f64> = Array1::linspace(-4.0, 4.0, 161);
    let curve = |f: &dyn Fn(f64) -> f64| xs.iter().map(|&v| (v, f(v))).collect::<Vec<_>>();
    // Small multiples: on one set of axes ReLU hides under leaky ReLU for x > 0 and the two
    // GELUs coincide; the last panel shows how far apart the GELUs are.
    let mut act_plot = Panels::new("Activation functions", 2);
    for pair in acts.chunks(2) {
        let mut panel = LinePlot::new(&format!("{} and {}", pair[0].0, pair[1].0), "x", "f(x)");
        let [(first, a), (second, b)] = [pair[0], pair[1]];
        panel = panel
            .series(Series::new(first, curve(&|v| a.value(v))))
            .series(Series::new(second, curve(&|v| b.value(v))).dashed());
        act_plot = act_plot.line(panel);
    }
    let gelu_gap = |v| Activation::GeluExact.value(v) - Activation::GeluTanh.value(v);
    act_plot = act_plot.line(
        LinePlot::new("GELU (exact) − GELU (tanh)", "x", "difference")
            .series(Series::new("", curve(&gelu_gap))),
    );
    lab.saved(act_plot.save(lab.plots_dir(), "activations")?);

    Ok(Report {
        perceptron_separable,
        perceptron_xor,
        probe: PROBE,
        activations,
        softmax,
        init,
        epochs: args.epochs,
        mlp: mlp.into_iter().map(|(row, _)| row).collect(),
        mlps_ms: lab.ms("mlps"),
    })
}

/// Trains an MLP 2-64-64-2 on moons, spirals and XOR and plots each one's decision regions.
fn mlps(args: &Args, plots: &std::path::Path) -> Result<Vec<(MlpRow, Vec<std::path::PathBuf>)>> {
    let problems = [
        ("moons", moons(400, 0.15, args.seed)?),
        ("spirals", spirals(600, 0.03, args.seed)?),
        ("xor", xor(400, args.seed)?),
    ];
    let mut rows = Vec::new();
    for (name, (x, y)) in problems {
        let split = wb_data::train_test_indices(x.nrows(), args.test_fraction, args.seed);
        let (x_train, x_test) = (x.select(Axis(0), &split.0), x.select(Axis(0), &split.1));
        let y_train: Vec<usize> = split.0.iter().map(|&i| y[i]).collect();
        let y_test: Vec<usize> = split.1.iter().map(|&i| y[i]).collect();
        let mut mlp = Mlp::new(&[2, 64, 64, 2], Activation::Relu, Init::He, args.seed)?;
        let losses = train(
            &mut mlp,
            x_train.view(),
            &y_train,
            args.epochs,
            0.01,
            32,
            args.seed,
        )?;
        let train_accuracy = wb_core::accuracy(&mlp.predict(x_train.view())?, &y_train)?;
        let test_accuracy = wb_core::accuracy(&mlp.predict(x_test.view())?, &y_test)?;
        let lo = x.fold_axis(Axis(0), f64::INFINITY, |m, &v| m.min(v)) - 0.3;
        let hi = x.fold_axis(Axis(0), f64::NEG_INFINITY, |m, &v| m.max(v)) + 0.3;
        let (xr, yr, cells) = ((lo[0], hi[0]), (lo[1], hi[1]), (100, 100));
        let centres = DecisionRegions::cell_centres(xr, yr, cells);
        let grid = Array2::from_shape_fn((centres.len(), 2), |(k, j)| {
            if j == 0 { centres[k].0 } else { centres[k].1 }
        });
        let title = format!(
            "MLP 2-64-64-2 (ReLU, He init) on {name}: test accuracy {:.1}%",
            100.0 * test_accuracy
        );
        let regions = mlp.predict(grid.view())?;
        let mut plot = DecisionRegions::new(&title, "x₀", "x₁", xr, yr, cells, regions)
            .classes(vec!["class 0".into(), "class 1".into()]);
        for i in 0..x.nrows() {
            plot = plot.point(x[[i, 0]], x[[i, 1]], y[i]);
        }
        let files = plot.save(plots, &format!("mlp_{name}"))?;
        let final_loss = *losses.last().unwrap_or(&f64::NAN);
        let row = MlpRow {
            data: name,
            train_accuracy,
            test_accuracy,
            final_loss,
        };
        rows.push((row, files));
    }
    Ok(rows)
}
