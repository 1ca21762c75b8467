//! Runs the week 10 lab end to end: `cargo run -p week10-backprop -- --help`.

mod plots;
mod report;

use anyhow::Result;
use clap::Parser;
use ndarray::{Array2, Axis, array};
use report::*;
use wb_core::lab::check_open_fraction;
use wb_data::SplitMix64;
use wb_lab::{Lab, LabArgs};
use week10_backprop::autograd::Tape;
use week10_backprop::net::{Act, Init, Net, backward, clip_by_global_norm, numerical_gradient};
use week10_backprop::optim::{Adam, Momentum, Nesterov, Optimizer, RmsProp, Sgd, rosenbrock};
use week10_backprop::train::{accuracy, digits, layer_gradient_norms, train_epochs};

/// Week 10: a scalar autograd engine, backpropagation checked by central differences, six
/// optimisers on Rosenbrock and on digits, vanishing and exploding gradients, and an MLP trained
/// on digits.
#[derive(Debug, Parser)]
#[command(version, allow_negative_numbers = true)]
struct Args {
    /// Epochs of the final digits training
    #[arg(long, default_value_t = 30)]
    epochs: usize,
    /// Share of the digits held out for testing, strictly between 0 and 1
    #[arg(long, value_name = "F", default_value_t = 0.25)]
    test_fraction: f64,
    /// Seed of the initialisations, splits and batches
    #[arg(long, default_value_t = 42)]
    seed: u64,
    #[command(flatten)]
    lab: LabArgs,
}

fn optimizers() -> Vec<Box<dyn Optimizer>> {
    vec![
        Box::new(Sgd { lr: 1e-3 }),
        Box::new(Momentum {
            lr: 1e-3,
            beta: 0.9,
            v: None,
        }),
        Box::new(Nesterov {
            lr: 1e-3,
            beta: 0.9,
            v: None,
        }),
        Box::new(RmsProp {
            lr: 1e-3,
            rho: 0.99,
            eps: 1e-8,
            s: None,
        }),
        Box::new(Adam::new(2e-2)),
        Box::new(Adam::adamw(2e-2, 1e-2)),
    ]
}

wb_lab::main!(
    "Week 10 — backpropagation, optimisers and vanishing gradients",
    run
);

fn run(args: &Args, lab: &mut Lab) -> Result<Report> {
    check_open_fraction("--test-fraction", args.test_fraction)?;

    // 1. Autograd on a small expression with a shared node. ------------------------------------
    let mut t = Tape::new();
    let (a, b) = (t.leaf(0.5), t.leaf(-1.5));
    let ab = t.mul(a, b);
    let s = t.add(ab, a); // `a` is used twice
    let out = t.tanh(s);
    t.backward(out)?;
    let autograd = Autograd {
        value: t.value(out),
        grad_a: t.grad(a),
        grad_b: t.grad(b),
    };

    // 2. Backpropagation against central differences. -----------------------------------------
    let mut rng = SplitMix64::new(args.seed);
    let gx = Array2::from_shape_simple_fn((8, 3), || 2.0 * rng.next_f64() - 1.0);
    let gy: Vec<usize> = (0..8).map(|i| i % 3).collect();
    let small = Net::new(&[3, 5, 4, 3], Act::Tanh, Init::Xavier, args.seed)?;
    let (_, grads) = backward(&small, gx.view(), &gy)?;
    let analytic = grads.flat();
    let numeric = numerical_gradient(&small, gx.view(), &gy, 1e-5)?;
    let norm = |v: &ndarray::Array1<f64>| v.mapv(|v| v * v).sum().sqrt();
    let gradient_check = GradientCheck {
        parameters: analytic.len(),
        relative_error: norm(&(&analytic - &numeric)) / (norm(&analytic) + norm(&numeric)),
    };

    // 3. Optimisers on Rosenbrock. ---------------------------------------------------------------
    let mut rosenbrock_runs = Vec::new();
    for mut opt in optimizers() {
        let mut p = array![-1.5, 2.0];
        let mut path = vec![(p[0], p[1])];
        for step in 0..5000 {
            let (_, g) = rosenbrock(&p);
            opt.step(&mut p, &g);
            if step % 10 == 9 {
                path.push((p[0], p[1]));
            }
        }
        rosenbrock_runs.push(RosenbrockRun {
            optimizer: opt.name(),
            final_f: rosenbrock(&p).0,
            distance_to_minimum: ((p[0] - 1.0).powi(2) + (p[1] - 1.0).powi(2)).sqrt(),
            path,
        });
    }

    // 4. Digits. -----------------------------------------------------------------------------------
    let (x, y) = digits()?;
    let (train_rows, test_rows) =
        wb_data::train_test_indices(x.nrows(), args.test_fraction, args.seed);
    let x_train = x.select(Axis(0), &train_rows);
    let x_test = x.select(Axis(0), &test_rows);
    let y_train: Vec<usize> = train_rows.iter().map(|&i| y[i]).collect();
    let y_test: Vec<usize> = test_rows.iter().map(|&i| y[i]).collect();
    let digit_opts: Vec<Box<dyn Optimizer>> = vec![
        Box::new(Sgd { lr: 0.1 }),
        Box::new(Momentum {
            lr: 0.05,
            beta: 0.9,
            v: None,
        }),
        Box::new(Nesterov {
            lr: 0.05,
            beta: 0.9,
            v: None,
        }),
        Box::new(RmsProp {
            lr: 1e-3,
            rho: 0.99,
            eps: 1e-8,
            s: None,
        }),
        Box::new(Adam::new(1e-3)),
        Box::new(Adam::adamw(1e-3, 1e-2)),
    ];
    let mut races = Vec::new();
    for mut opt in digit_opts {
        let mut net = Net::new(&[64, 64, 10], Act::Relu, Init::He, args.seed)?;
        let (xv, seed) = (x_train.view(), args.seed);
        let losses = train_epochs(&mut net, opt.as_mut(), xv, &y_train, 5, 32, seed, false)?;
        races.push(DigitsRace {
            optimizer: opt.name(),
            final_loss: losses.last().copied().unwrap_or(f64::NAN),
            test_accuracy: accuracy(&net, x_test.view(), &y_test)?,
        });
    }
    let mut net = Net::new(&[64, 128, 64, 10], Act::Relu, Init::He, args.seed)?;
    let mut adam = Adam::new(1e-3);
    let show = lab.progress();
    let losses = lab.timed("digits_training", || {
        let (xv, seed) = (x_train.view(), args.seed);
        train_epochs(
            &mut net,
            &mut adam,
            xv,
            &y_train,
            args.epochs,
            32,
            seed,
            show,
        )
    })?;
    let digits = Digits {
        epochs: args.epochs,
        losses,
        test_accuracy: accuracy(&net, x_test.view(), &y_test)?,
        n_test: y_test.len(),
        training_ms: lab.ms("digits_training"),
    };

    // 5. Vanishing and exploding gradients in 20 layers of 64. -----------------------------------
    let configs = [
        ("sigmoid, Xavier", Act::Sigmoid, Init::Xavier),
        ("tanh, Xavier", Act::Tanh, Init::Xavier),
        ("ReLU, He", Act::Relu, Init::He),
        ("ReLU, N(0, 0.05²)", Act::Relu, Init::Normal(0.05)),
        ("ReLU, N(0, 0.25²)", Act::Relu, Init::Normal(0.25)),
    ];
    let gradient_norms = configs
        .iter()
        .map(|&(config, act, init)| {
            let norms = layer_gradient_norms(act, init, 20, 64, args.seed)?;
            Ok(GradientNorms { config, norms })
        })
        .collect::<Result<Vec<_>>>()?;
    let deep = Net::new(
        &[vec![64; 20], vec![10]].concat(),
        Act::Relu,
        Init::Normal(0.25),
        args.seed,
    )?;
    let mut rng = SplitMix64::new(3);
    let dx = Array2::from_shape_simple_fn((64, 64), || rng.next_f64() * 2.0 - 1.0);
    let dy: Vec<usize> = (0..64).map(|i| i % 10).collect();
    let (_, mut g) = backward(&deep, dx.view(), &dy)?;
    let norm_before = clip_by_global_norm(&mut g, 1.0);
    let clipping = Clipping {
        norm_before,
        norm_after: norm(&g.flat()),
    };

    let report = Report {
        autograd,
        gradient_check,
        rosenbrock: rosenbrock_runs,
        digits_5_epochs: races,
        digits,
        gradient_norms,
        clipping,
    };
    plots::save(lab, &report)?;
    Ok(report)
}
