//! Grader checks for week 10: autograd, backpropagation, optimisers, gradients through depth.
//!
//! References: hand-derived derivatives, central differences computed here, and
//! `fixtures/week10.json` (each optimiser's first three steps in numpy, PyTorch's rules).

use grader::{
    Called, Failure, Tol, check, close, close_array, ensure, expect_err, fixture, matrix,
};
use ndarray::{Array1, Array2, Axis, array};
use wb_data::SplitMix64;
use week10_backprop::autograd::Tape;
use week10_backprop::net::{Act, Init, Net, backward, clip_by_global_norm};
use week10_backprop::optim::{Adam, Momentum, Nesterov, Optimizer, RmsProp, Sgd, rosenbrock};
use week10_backprop::train::{accuracy, digits, layer_gradient_norms, train_epochs};

check! {
    fn autograd_matches_hand_derived_gradients(exercise = "backward") {
        // f = (a·b + a)² with a = 2, b = 3, where a is used twice: ∂f/∂a = 2(ab + a)(b + 1) = 64.
        let mut t = Tape::new();
        let (a, b) = (t.leaf(2.0), t.leaf(3.0));
        let ab = t.mul(a, b);
        let s = t.add(ab, a);
        let f = t.powi(s, 2);
        t.backward(f).called("backward")?;
        close(
            "∂f/∂a (a used twice: both paths summed)",
            64.0,
            t.grad(a),
            Tol::abs(1e-12),
        )?;
        close("∂f/∂b", 32.0, t.grad(b), Tol::abs(1e-12))?;
        // g = ln(x) / x − exp(−x) + tanh(x)·relu(x − 1) at x = 2, by hand:
        // d/dx = (1 − ln x)/x² + e^−x + (1 − tanh²x)·(x − 1) + tanh x
        let mut t = Tape::new();
        let x = t.leaf(2.0);
        let lnx = t.ln(x);
        let q = t.div(lnx, x);
        let mx = {
            let m1 = t.leaf(-1.0);
            t.mul(m1, x)
        };
        let e = t.exp(mx);
        let one = t.leaf(1.0);
        let xm1 = t.sub(x, one);
        let r = t.relu(xm1);
        let th = t.tanh(x);
        let tr = t.mul(th, r);
        let d = t.sub(q, e);
        let g = t.add(d, tr);
        t.backward(g).called("backward")?;
        let xv = 2.0f64;
        let expected = (1.0 - xv.ln()) / (xv * xv)
            + (-xv).exp()
            + (1.0 - xv.tanh().powi(2)) * (xv - 1.0)
            + xv.tanh();
        close(
            "d/dx of ln(x)/x − e^−x + tanh(x)·relu(x − 1) at 2",
            expected,
            t.grad(x),
            Tol::rel(1e-12),
        )?;
        // Calling backward twice gives the same gradients (they are reset, not accumulated across calls).
        t.backward(g).called("backward again")?;
        close(
            "the same gradient after a second backward",
            expected,
            t.grad(x),
            Tol::rel(1e-12),
        )
    }
}

check! {
    fn autograd_reports_where_a_nan_appeared(exercise = "backward") {
        let mut t = Tape::new();
        let x = t.leaf(-1.0);
        let bad = t.ln(x); // node 1: ln(−1) = NaN
        let y = t.leaf(2.0);
        let out = t.mul(bad, y);
        let msg = expect_err("backward through ln(−1)", t.backward(out))?;
        ensure(
            msg.contains("node 1") && msg.contains("Ln"),
            "NaN report",
            format!("must name node 1 (Ln), says: {msg}"),
        )?;
        let mut ok = Tape::new();
        let z = ok.leaf(3.0);
        let w = ok.powi(z, 3);
        ok.backward(w).called("backward on a finite graph")?;
        close("d/dz z³ at 3", 27.0, ok.grad(z), Tol::abs(1e-12))
    }
}

check! {
    fn backprop_matches_central_differences(exercise = "backprop") {
        let mut rng = SplitMix64::new(21);
        let x = Array2::from_shape_simple_fn((6, 4), || 2.0 * rng.next_f64() - 1.0);
        let y = [0, 1, 2, 0, 1, 2];
        for (act, init) in [
            (Act::Tanh, Init::Xavier),
            (Act::Sigmoid, Init::Xavier),
            (Act::Relu, Init::He),
        ] {
            let mut net = Net::new(&[4, 6, 5, 3], act, init, 3).called("Net::new")?;
            // Non-zero biases: with zero biases a ReLU unit whose inputs are all 0 sits exactly on
            // its kink, where no derivative exists and central differences disagree with any choice.
            for (l, layer) in net.layers.iter_mut().enumerate() {
                layer
                    .b
                    .iter_mut()
                    .enumerate()
                    .for_each(|(j, b)| *b = 0.05 * (1 + l + j) as f64);
            }
            let (loss, grads) = backward(&net, x.view(), &y).called("backward")?;
            close(
                "loss returned by backward",
                net.loss(x.view(), &y).called("loss")?,
                loss,
                Tol::rel(1e-12),
            )?;
            // Central differences, computed here from the loss alone.
            let p0 = net.params();
            let mut probe = net.clone();
            let h = 1e-5;
            let mut numeric = Array1::zeros(p0.len());
            for i in 0..p0.len() {
                let mut p = p0.clone();
                p[i] += h;
                probe.set_params(&p).called("set_params")?;
                let up = probe.loss(x.view(), &y).called("loss")?;
                p[i] -= 2.0 * h;
                probe.set_params(&p).called("set_params")?;
                let down = probe.loss(x.view(), &y).called("loss")?;
                numeric[i] = (up - down) / (2.0 * h);
            }
            let analytic = grads.flat();
            let rel = (&analytic - &numeric).mapv(|v| v * v).sum().sqrt()
                / (analytic.mapv(|v| v * v).sum().sqrt() + numeric.mapv(|v| v * v).sum().sqrt());
            ensure(
                rel < 1e-6,
                &format!("gradient check ({act:?})"),
                format!("relative error {rel:.2e}, must be below 1e-6"),
            )?;
        }
        Ok(())
    }
}

check! {
    fn optimisers_take_the_reference_steps(exercise = "optimizers") {
        let f = fixture("week10");
        let opts: Vec<(&str, Box<dyn Optimizer>)> = vec![
            ("sgd", Box::new(Sgd { lr: 1e-3 })),
            (
                "momentum",
                Box::new(Momentum {
                    lr: 1e-3,
                    beta: 0.9,
                    v: None,
                }),
            ),
            (
                "nesterov",
                Box::new(Nesterov {
                    lr: 1e-3,
                    beta: 0.9,
                    v: None,
                }),
            ),
            (
                "rmsprop",
                Box::new(RmsProp {
                    lr: 1e-3,
                    rho: 0.99,
                    eps: 1e-8,
                    s: None,
                }),
            ),
            ("adam", Box::new(Adam::new(2e-2))),
            ("adamw", Box::new(Adam::adamw(2e-2, 1e-2))),
        ];
        for (name, mut opt) in opts {
            let mut p = array![-1.5, 2.0];
            let mut got = Array2::zeros((3, 2));
            for k in 0..3 {
                let (_, g) = rosenbrock(&p);
                opt.step(&mut p, &g);
                got.row_mut(k).assign(&p);
            }
            close_array(
                &format!("{name}: parameters after steps 1, 2, 3 (numpy reference)"),
                matrix(&f, &format!("/steps/{name}")).view(),
                got.view(),
                Tol::rel(1e-12),
            )?;
        }
        Ok(())
    }
}

check! {
    fn gradients_vanish_and_explode_as_expected(exercise = "backprop") {
        let sig = layer_gradient_norms(Act::Sigmoid, Init::Xavier, 20, 64, 1).called("layer_gradient_norms")?;
        ensure(sig.len() == 20, "norms", "one norm per layer")?;
        ensure(sig[0] < 1e-6 * sig[19], "sigmoid", format!("the first layer's gradient must be a million times smaller than the last's: {:.2e} vs {:.2e}", sig[0], sig[19]))?;
        let he = layer_gradient_norms(Act::Relu, Init::He, 20, 64, 1).called("layer_gradient_norms")?;
        let ratio = he[0] / he[19];
        ensure((0.1..10.0).contains(&ratio), "ReLU with He", format!("gradients must stay within a factor of 10 across 20 layers, first/last = {ratio:.2}"))?;
        let big = layer_gradient_norms(Act::Relu, Init::Normal(0.25), 20, 64, 1).called("layer_gradient_norms")?;
        ensure(big[0] > 100.0 * he[0], "ReLU with N(0, 0.25²)", "weights twice He's scale must make the gradients explode")?;
        let mut net_grads = backward(&Net::new(&[vec![64; 20], vec![10]].concat(), Act::Relu, Init::Normal(0.25), 1).called("Net::new")?, Array2::from_elem((4, 64), 0.5).view(), &[1, 2, 3, 4]).called("backward")?.1;
        let before = clip_by_global_norm(&mut net_grads, 1.0);
        let after = net_grads.flat().mapv(|v| v * v).sum().sqrt();
        ensure(before > 1.0, "clipping", "this gradient must start above the limit")?;
        close("global norm after clipping to 1", 1.0, after, Tol::rel(1e-9))
    }
}

check! {
    fn an_mlp_reaches_95_percent_on_digits(exercise = "optimizers", timeout_s = 180) {
        let (x, y) = digits().map_err(|e| Failure::new("digits", e.to_string()))?;
        let (tr, te) = wb_data::train_test_indices(x.nrows(), 0.25, 42);
        let ytr: Vec<usize> = tr.iter().map(|&i| y[i]).collect();
        let yte: Vec<usize> = te.iter().map(|&i| y[i]).collect();
        let mut net =
            Net::new(&[64, 128, 64, 10], Act::Relu, Init::He, 42).called("Net::new")?;
        let mut adam = Adam::new(1e-3);
        let losses = train_epochs(
            &mut net,
            &mut adam,
            x.select(Axis(0), &tr).view(),
            &ytr,
            30,
            32,
            42,
            false,
        )
        .called("train_epochs")?;
        ensure(losses.last() < losses.first(), "training loss", "must fall")?;
        let acc = accuracy(&net, x.select(Axis(0), &te).view(), &yte).called("accuracy")?;
        ensure(
            acc >= 0.95,
            "test accuracy on digits",
            format!("{acc:.3}, the floor is 0.95"),
        )
    }
}

check! {
    fn bad_input_returns_errors(exercise = "backprop") {
        expect_err(
            "a network with a layer of size 0",
            Net::new(&[4, 0, 3], Act::Relu, Init::He, 1),
        )?;
        let net = Net::new(&[4, 5, 3], Act::Relu, Init::He, 1).called("Net::new")?;
        expect_err(
            "backward with 5 input columns for 4",
            backward(&net, Array2::zeros((2, 5)).view(), &[0, 1]),
        )?;
        expect_err(
            "backward with a label outside the 3 classes",
            backward(&net, Array2::zeros((2, 4)).view(), &[0, 3]),
        )?;
        expect_err(
            "backward of an empty batch",
            backward(&net, Array2::zeros((0, 4)).view(), &[]),
        )?;
        let mut n = net.clone();
        expect_err(
            "training with learning rate 0",
            train_epochs(
                &mut n,
                &mut Sgd { lr: 0.0 },
                Array2::zeros((2, 4)).view(),
                &[0, 1],
                1,
                1,
                1,
                false,
            ),
        )?;
        expect_err(
            "training with a NaN learning rate",
            train_epochs(
                &mut n,
                &mut Adam::new(f64::NAN),
                Array2::zeros((2, 4)).view(),
                &[0, 1],
                1,
                1,
                1,
                false,
            ),
        )?;
        let (_, g) = backward(&net, Array2::zeros((2, 4)).view(), &[0, 1])
            .called("backward on good input")?;
        ensure(
            g.w.len() == 2 && g.w[0].dim() == (4, 5) && g.b[1].len() == 3,
            "gradient shapes",
            "one gradient per parameter, shaped like it",
        )
    }
}
