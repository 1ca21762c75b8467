//! Grader checks for week 9: activations, the perceptron, initialisation, the MLP forward pass.
//!
//! References: `fixtures/week09.json` (scipy's `expit`, `erf`, `softmax`, `log_softmax` and
//! closed-form derivatives; scikit-learn's `make_moons`), closed forms and hand-worked cases.

use grader::{Called, Tol, check, close, close_array, ensure, expect_err, fixture, matrix, nums};
use ndarray::{Array1, Array2, Axis, array};
use wb_data::SplitMix64;
use week09_neural_nets::activations::{Activation, log_softmax, softmax};
use week09_neural_nets::data::{moons, xor};
use week09_neural_nets::mlp::{Dense, Init, Mlp, init_layer, train};
use week09_neural_nets::perceptron::train_perceptron;

check! {
    fn activations_match_scipy(exercise = "activations") {
        let f = fixture("week09");
        let x = nums(&f, "/x");
        for (name, a) in [
            ("sigmoid", Activation::Sigmoid),
            ("tanh", Activation::Tanh),
            ("relu", Activation::Relu),
            ("leaky_relu_0.1", Activation::LeakyRelu(0.1)),
            ("gelu_exact", Activation::GeluExact),
            ("gelu_tanh", Activation::GeluTanh),
        ] {
            let v: Array1<f64> = x.iter().map(|&x| a.value(x)).collect();
            let d: Array1<f64> = x.iter().map(|&x| a.derivative(x)).collect();
            ensure(
                v.iter().chain(d.iter()).all(|v| v.is_finite()),
                name,
                "values and derivatives must stay finite at ±1000",
            )?;
            close_array(
                &format!("{name} at -1000 … 1000"),
                nums(&f, &format!("/values/{name}")).view(),
                v.view(),
                Tol::rel(1e-12).and_abs(1e-300),
            )?;
            close_array(
                &format!("{name}' at -1000 … 1000"),
                nums(&f, &format!("/derivatives/{name}")).view(),
                d.view(),
                Tol::rel(1e-9).and_abs(1e-300),
            )?;
        }
        Ok(())
    }
}

check! {
    fn softmax_stays_finite(exercise = "softmax") {
        let f = fixture("week09");
        let rows = matrix(&f, "/softmax_rows");
        close_array(
            "log_softmax against scipy (rows with ±1000)",
            matrix(&f, "/log_softmax").view(),
            log_softmax(rows.view()).called("log_softmax")?.view(),
            Tol::rel(1e-12),
        )?;
        let s = softmax(rows.view()).called("softmax")?;
        close_array(
            "softmax against scipy",
            matrix(&f, "/softmax").view(),
            s.view(),
            Tol::rel(1e-12).and_abs(1e-300),
        )?;
        close_array(
            "each row sums to 1",
            Array1::ones(3).view(),
            s.sum_axis(Axis(1)).view(),
            Tol::abs(1e-12),
        )
    }
}

check! {
    fn the_perceptron_learns_a_line_but_not_xor(exercise = "perceptron") {
        // A hand-worked run: (1, 1) → 1, (−1, −1) → 0; first pass: both mistakes, then none.
        let x = array![[1.0, 1.0], [-1.0, -1.0]];
        let p = train_perceptron(x.view(), &[1, 0], 1.0, 10).called("train_perceptron")?;
        ensure(
            p.converged && p.mistakes == vec![1, 0],
            "two points",
            format!(
                "expected mistakes [1, 0] (the first point fixes both), got {:?}",
                p.mistakes
            ),
        )?;
        close_array(
            "weights after one update (w += x)",
            array![1.0, 1.0].view(),
            p.weights.view(),
            Tol::abs(0.0),
        )?;
        let mut rng = SplitMix64::new(3);
        let xs = Array2::from_shape_simple_fn((300, 2), || 2.0 * rng.next_f64() - 1.0);
        let ys: Vec<usize> = xs
            .rows()
            .into_iter()
            .map(|r| usize::from(2.0 * r[0] - r[1] > 0.3))
            .collect();
        let sep = train_perceptron(xs.view(), &ys, 0.5, 10_000).called("train_perceptron")?;
        ensure(
            sep.converged,
            "separable data",
            format!(
                "must converge (Novikoff); still {} mistakes after {} passes",
                sep.mistakes.last().unwrap_or(&0),
                sep.epochs
            ),
        )?;
        ensure(
            sep.predict(xs.view()).called("predict")? == ys,
            "separable data",
            "after converging, every training point is right",
        )?;
        let (xx, xy) = xor(200, 1).called("xor")?;
        let stuck = train_perceptron(xx.view(), &xy, 1.0, 200).called("train_perceptron")?;
        ensure(
            !stuck.converged && stuck.epochs == 200,
            "XOR",
            "no line separates XOR: the rule must never stop making mistakes",
        )
    }
}

check! {
    fn xavier_and_he_have_the_right_spread(exercise = "init") {
        let mut rng = SplitMix64::new(11);
        let x = init_layer(300, 500, Init::Xavier, &mut rng);
        ensure(
            x.w.dim() == (300, 500) && x.b.iter().all(|&b| b == 0.0),
            "Xavier layer",
            "weights [300, 500], biases zero",
        )?;
        let a = (6.0f64 / 800.0).sqrt();
        ensure(
            x.w.iter().all(|w| w.abs() <= a),
            "Xavier",
            format!("uniform weights must lie in ±√(6/800) = ±{a:.4}"),
        )?;
        close(
            "Xavier variance 2/(fan_in + fan_out)",
            2.0 / 800.0,
            x.w.var(0.0),
            Tol::rel(0.03),
        )?;
        let h = init_layer(300, 500, Init::He, &mut rng);
        close(
            "He variance 2/fan_in",
            2.0 / 300.0,
            h.w.var(0.0),
            Tol::rel(0.03),
        )?;
        close(
            "He mean",
            0.0,
            h.w.mean().unwrap_or(f64::NAN),
            Tol::abs(0.002),
        )
    }
}

check! {
    fn the_forward_pass_is_hand_worked(exercise = "forward") {
        // 2 → 2 (ReLU) → 1: z1 = x·W1 + b1, a1 = relu(z1), out = a1·W2 + b2.
        let mlp = Mlp {
            layers: vec![
                Dense {
                    w: array![[1.0, -1.0], [2.0, 0.5]],
                    b: array![0.0, 1.0],
                },
                Dense {
                    w: array![[3.0], [-2.0]],
                    b: array![0.5],
                },
            ],
            hidden: Activation::Relu,
        };
        // x = (1, 1): z1 = (3, 0.5), a1 = (3, 0.5), out = 9 − 1 + 0.5 = 8.5
        // x = (−1, 0): z1 = (−1, 2), a1 = (0, 2), out = −4 + 0.5 = −3.5
        let out = mlp
            .forward(array![[1.0, 1.0], [-1.0, 0.0]].view())
            .called("forward")?;
        close_array(
            "logits of a hand-worked 2-2-1 network",
            array![[8.5], [-3.5]].view(),
            out.view(),
            Tol::abs(1e-12),
        )?;
        let (zs, acts) = mlp
            .forward_cache(array![[1.0, 1.0]].view())
            .called("forward_cache")?;
        ensure(
            zs.len() == 2 && acts.len() == 2,
            "cache",
            "one pre-activation and one input activation per layer",
        )?;
        close_array(
            "input of layer 2 = relu(z of layer 1)",
            array![[3.0, 0.5]].view(),
            acts[1].view(),
            Tol::abs(1e-12),
        )
    }
}

check! {
    fn an_mlp_learns_the_moons(exercise = "forward", timeout_s = 120) {
        let f = fixture("week09");
        let (x, y) = moons(11, 0.0, 0).called("moons")?;
        close_array(
            "noiseless moons against sklearn make_moons(shuffle=False)",
            matrix(&f, "/moons_11/x").view(),
            x.view(),
            Tol::abs(1e-12),
        )?;
        let expected: Vec<usize> = nums(&f, "/moons_11/y")
            .iter()
            .map(|&v| v as usize)
            .collect();
        ensure(
            y == expected,
            "moons labels",
            format!("expected {expected:?}, got {y:?}"),
        )?;
        let (x, y) = moons(400, 0.15, 5).called("moons")?;
        let (tr, te) = wb_data::train_test_indices(400, 0.3, 5);
        let ytr: Vec<usize> = tr.iter().map(|&i| y[i]).collect();
        let yte: Vec<usize> = te.iter().map(|&i| y[i]).collect();
        let mut mlp =
            Mlp::new(&[2, 32, 32, 2], Activation::Relu, Init::He, 5).called("Mlp::new")?;
        let losses = train(
            &mut mlp,
            x.select(Axis(0), &tr).view(),
            &ytr,
            150,
            0.01,
            32,
            5,
        )
        .called("train")?;
        ensure(
            losses.last() < losses.first(),
            "training",
            "the loss must fall",
        )?;
        let pred = mlp
            .predict(x.select(Axis(0), &te).view())
            .called("predict")?;
        let acc =
            pred.iter().zip(&yte).filter(|(a, b)| a == b).count() as f64 / yte.len() as f64;
        ensure(
            acc >= 0.95,
            "test accuracy on noisy moons",
            format!("{acc:.3}, expected at least 0.95"),
        )
    }
}

check! {
    fn bad_input_returns_errors(exercise = "forward") {
        expect_err(
            "an MLP with a layer of size 0",
            Mlp::new(&[2, 0, 2], Activation::Relu, Init::He, 1),
        )?;
        let mlp = Mlp::new(&[2, 4, 2], Activation::Relu, Init::He, 1).called("Mlp::new")?;
        expect_err(
            "forward with 3 columns into a 2-input network",
            mlp.forward(array![[1.0, 2.0, 3.0]].view()),
        )?;
        expect_err(
            "forward of an empty batch",
            mlp.forward(Array2::<f64>::zeros((0, 2)).view()),
        )?;
        let mut m = mlp.clone();
        expect_err(
            "training with a label outside the classes",
            train(&mut m, array![[1.0, 2.0]].view(), &[5], 1, 0.1, 1, 1),
        )?;
        expect_err(
            "training with learning rate 0",
            train(&mut m, array![[1.0, 2.0]].view(), &[1], 1, 0.0, 1, 1),
        )?;
        expect_err(
            "training with a NaN learning rate",
            train(&mut m, array![[1.0, 2.0]].view(), &[1], 1, f64::NAN, 1, 1),
        )?;
        expect_err(
            "the perceptron with a label 2",
            train_perceptron(array![[1.0]].view(), &[2], 1.0, 1),
        )?;
        let out = mlp
            .forward(array![[0.0, 0.0]].view())
            .called("forward on good input")?;
        close_array(
            "zero input, zero biases: zero logits",
            array![[0.0, 0.0]].view(),
            out.view(),
            Tol::abs(0.0),
        )
    }
}
