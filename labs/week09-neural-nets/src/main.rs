//! Runs the week 9 lab end to end: `cargo run -p week09-neural-nets -- --help`.

use anyhow::Result;
use clap::Parser;
use ndarray::{Array1, Array2, Axis, array};
use serde_json::json;
use std::path::PathBuf;
use std::time::Instant;
use wb_core::lab::{check_open_fraction, elapsed_ms};
use wb_data::SplitMix64;
use wb_plot::{DecisionRegions, LinePlot, Series};
use week09_neural_nets::activations::{Activation, softmax};
use week09_neural_nets::data::{moons, spirals, xor};
use week09_neural_nets::mlp::{Init, Mlp, init_layer, train};
use week09_neural_nets::perceptron::train_perceptron;

/// Week 9: the perceptron and its limit (XOR), activation functions, Xavier/He initialisation,
/// and an MLP's decision boundaries on moons, spirals and XOR.
#[derive(Debug, Parser)]
#[command(version)]
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
    /// Folder for the plots (PNG and SVG)
    #[arg(long, value_name = "DIR", default_value = "output/week09-neural-nets")]
    plots: PathBuf,
    /// Print the key results as one JSON object instead of the report
    #[arg(long)]
    json: bool,
    /// Also write the JSON results to FILE, and print the report as usual
    #[arg(long, value_name = "FILE", value_parser = wb_core::lab::writable_file)]
    json_out: Option<PathBuf>,
}

fn accuracy(a: &[usize], b: &[usize]) -> f64 {
    a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / a.len().max(1) as f64
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

fn main() -> Result<()> {
    let args = Args::parse();
    check_open_fraction("--test-fraction", args.test_fraction)?;
    let t0 = Instant::now();

    // 1. The perceptron. ----------------------------------------------------------------------
    let (sx, sy) = separable(200, args.seed);
    let sep = train_perceptron(sx.view(), &sy, 1.0, 1000)?;
    let (xx, xy) = xor(200, args.seed)?;
    let stuck = train_perceptron(xx.view(), &xy, 1.0, 100)?;

    // 2. Activations at ordinary and extreme inputs. -------------------------------------------
    let acts = [
        ("sigmoid", Activation::Sigmoid),
        ("tanh", Activation::Tanh),
        ("ReLU", Activation::Relu),
        ("leaky ReLU (0.1)", Activation::LeakyRelu(0.1)),
        ("GELU (exact)", Activation::GeluExact),
        ("GELU (tanh)", Activation::GeluTanh),
    ];
    let probe = [-1000.0, -3.0, -0.5, 0.0, 0.5, 3.0, 1000.0];
    let soft = softmax(array![[1000.0, 999.0, -1000.0]].view())?;

    // 3. Initialisation: the spread of the weights against the theory. ------------------------
    let mut rng = SplitMix64::new(args.seed);
    let xav = init_layer(256, 256, Init::Xavier, &mut rng);
    let he = init_layer(256, 256, Init::He, &mut rng);

    // 4. MLPs on three toy problems. ----------------------------------------------------------
    let t = Instant::now();
    let problems = [
        ("moons", moons(400, 0.15, args.seed)?),
        ("spirals", spirals(600, 0.03, args.seed)?),
        ("xor", xor(400, args.seed)?),
    ];
    let mut rows = Vec::new();
    let mut plots = Vec::new();
    for (name, (x, y)) in &problems {
        let (tr, te) = wb_data::train_test_indices(x.nrows(), args.test_fraction, args.seed);
        let (xtr, xte) = (x.select(Axis(0), &tr), x.select(Axis(0), &te));
        let ytr: Vec<usize> = tr.iter().map(|&i| y[i]).collect();
        let yte: Vec<usize> = te.iter().map(|&i| y[i]).collect();
        let mut mlp = Mlp::new(&[2, 64, 64, 2], Activation::Relu, Init::He, args.seed)?;
        let losses = train(&mut mlp, xtr.view(), &ytr, args.epochs, 0.01, 32, args.seed)?;
        let (train_acc, test_acc) = (
            accuracy(&mlp.predict(xtr.view())?, &ytr),
            accuracy(&mlp.predict(xte.view())?, &yte),
        );
        let lo = x.fold_axis(Axis(0), f64::INFINITY, |m, &v| m.min(v)) - 0.3;
        let hi = x.fold_axis(Axis(0), f64::NEG_INFINITY, |m, &v| m.max(v)) + 0.3;
        let (xr, yr, cells) = ((lo[0], hi[0]), (lo[1], hi[1]), (100, 100));
        let centres = DecisionRegions::cell_centres(xr, yr, cells);
        let grid = Array2::from_shape_fn((centres.len(), 2), |(k, j)| {
            if j == 0 { centres[k].0 } else { centres[k].1 }
        });
        let mut plot = DecisionRegions::new(
            &format!(
                "MLP 2-64-64-2 (ReLU, He init) on {name}: test accuracy {:.1}%",
                100.0 * test_acc
            ),
            "x₀",
            "x₁",
            xr,
            yr,
            cells,
            mlp.predict(grid.view())?,
        )
        .classes(vec!["class 0".into(), "class 1".into()]);
        for i in 0..x.nrows() {
            plot = plot.point(x[[i, 0]], x[[i, 1]], y[i]);
        }
        plots.extend(plot.save(&args.plots, &format!("mlp_{name}"))?);
        rows.push((
            *name,
            train_acc,
            test_acc,
            *losses.last().unwrap_or(&f64::NAN),
        ));
    }
    let mlp_ms = elapsed_ms(t);
    let xs: Array1<f64> = Array1::linspace(-4.0, 4.0, 161);
    let mut act_plot = LinePlot::new("Activation functions", "x", "activation(x)");
    for (name, a) in &acts {
        act_plot = act_plot.series(Series::new(
            *name,
            xs.iter().map(|&v| (v, a.value(v))).collect(),
        ));
    }
    plots.extend(
        act_plot
            .legend(wb_plot::LegendPosition::UpperLeft)
            .save(&args.plots, "activations")?,
    );

    if args.json || args.json_out.is_some() {
        let out = json!({
            "lab": "week09-neural-nets",
            "perceptron": {"separable": {"epochs": sep.epochs, "converged": sep.converged}, "xor": {"epochs": stuck.epochs, "converged": stuck.converged, "mistakes_last_epoch": stuck.mistakes.last()}},
            "activations": acts.iter().map(|(n, a)| json!({"name": n, "values": probe.iter().map(|&x| a.value(x)).collect::<Vec<_>>(), "derivatives": probe.iter().map(|&x| a.derivative(x)).collect::<Vec<_>>()})).collect::<Vec<_>>(),
            "probe": probe,
            "softmax_1000_999_-1000": soft.row(0).to_vec(),
            "init": {"xavier_variance": xav.w.var(0.0), "xavier_theory": 2.0 / 512.0, "he_variance": he.w.var(0.0), "he_theory": 2.0 / 256.0},
            "mlp": rows.iter().map(|(n, a, b, l)| json!({"data": n, "train_accuracy": a, "test_accuracy": b, "final_loss": l})).collect::<Vec<_>>(),
            "timings_ms": {"total": elapsed_ms(t0), "mlps": mlp_ms},
            "plots": plots.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        });
        let text = serde_json::to_string_pretty(&out)?;
        if wb_core::lab::emit_json(&text, args.json, args.json_out.as_deref())? {
            return Ok(());
        }
    }

    println!("Week 9 — neural networks from scratch");
    println!("=====================================\n");
    println!("1. The perceptron learning rule");
    println!(
        "   linearly separable points: converged after {} passes (mistakes per pass: {:?})",
        sep.epochs,
        &sep.mistakes[..sep.mistakes.len().min(8)]
    );
    println!(
        "   XOR: after {} passes still {} mistakes in the last pass — no line separates XOR, so it never stops",
        stuck.epochs,
        stuck.mistakes.last().copied().unwrap_or(0)
    );
    println!("\n2. Activations (value / derivative)");
    println!(
        "   {:<18}{}",
        "x",
        probe.iter().map(|x| format!("{x:>18}")).collect::<String>()
    );
    for (name, a) in &acts {
        println!(
            "   {name:<18}{}",
            probe
                .iter()
                .map(|&x| format!(
                    "{:>16}",
                    format!("{:.4}/{:.4}", a.value(x), a.derivative(x))
                ))
                .collect::<String>()
        );
    }
    println!(
        "   softmax([1000, 999, −1000]) = [{:.6}, {:.6}, {:.1e}]: finite, thanks to subtracting the maximum",
        soft[[0, 0]],
        soft[[0, 1]],
        soft[[0, 2]]
    );
    println!("\n3. Initialisation of a 256 × 256 layer: variance of the weights");
    println!(
        "   Xavier {:.6} (theory 2/(256+256) = {:.6}); He {:.6} (theory 2/256 = {:.6})",
        xav.w.var(0.0),
        2.0 / 512.0,
        he.w.var(0.0),
        2.0 / 256.0
    );
    println!(
        "\n4. An MLP 2-64-64-2 with ReLU and He initialisation, Adam, {} epochs ({mlp_ms:.0} ms for all three)",
        args.epochs
    );
    println!(
        "   {:<8} {:>15} {:>14} {:>11}",
        "data", "train accuracy", "test accuracy", "final loss"
    );
    for (n, a, b, l) in &rows {
        println!(
            "   {n:<8} {:>14.1}% {:>13.1}% {:>11.4}",
            100.0 * a,
            100.0 * b,
            l
        );
    }
    println!(
        "   Where one neuron draws one straight line, two hidden layers bend the boundary around the data.\n"
    );
    println!("Plots:");
    for p in &plots {
        println!("   {}", p.display());
    }
    Ok(())
}
