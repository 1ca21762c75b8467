//! Grader checks for week 2: linear regression from scratch.
//!
//! References: `fixtures/week02.json` (numpy 2.4 / scikit-learn 1.9, made by
//! `fixtures/make_fixtures.py`), closed forms and hand-worked cases.

use grader::{
    Called, Failure, Outcome, Tol, check, close, close_array, ensure, expect_err, fixture, num,
    nums,
};
use ndarray::{Array1, Array2, ArrayView1, Axis, array};
use week02_linreg::gradients::{numerical_gradient, relative_error};
use week02_linreg::linreg::{
    GdConfig, LinearModel, SgdConfig, cholesky_solve, fit_gradient_descent, fit_minibatch_sgd,
    fit_normal_equations, mse_gradient, r2_score,
};
use week02_linreg::losses::{huber, huber_grad, mae, mae_grad, mse, mse_grad};
use week02_linreg::scaling::Standardizer;
use week02_linreg::vectors::{cosine_similarity, dot, norm_l1, norm_l2};

/// The diabetes data: x [442, 10], y [442].
fn diabetes() -> Result<(Array2<f64>, Array1<f64>), Failure> {
    let path =
        wb_data::dataset("tabular/diabetes.csv").called("loading datasets/tabular/diabetes.csv")?;
    let table = wb_data::read_numeric_csv(&path).called("reading diabetes.csv")?;
    let (x, y, _) = table
        .split_target("target")
        .called("splitting off `target`")?;
    Ok((x, y))
}

/// Diabetes features standardised with scikit-learn's StandardScaler parameters (from the fixture),
/// so that the optimiser checks do not depend on the learner's own scaler.
fn diabetes_standardised() -> Result<(Array2<f64>, Array1<f64>), Failure> {
    let f = fixture("week02");
    let (x, y) = diabetes()?;
    let xs = (&x - &nums(&f, "/diabetes/scaler_mean")) / &nums(&f, "/diabetes/scaler_scale");
    Ok((xs, y))
}

check! {
    fn dot_matches_numpy(exercise = "dot") {
        let f = fixture("week02");
        let (a, b) = (nums(&f, "/vectors/a"), nums(&f, "/vectors/b"));
        close(
            "dot(a, b) against np.dot",
            num(&f, "/vectors/dot"),
            dot(a.view(), b.view()).called("dot")?,
            Tol::rel(1e-12),
        )?;
        close(
            "dot([1, 2, 3], [4, 5, 6]) = 32",
            32.0,
            dot(array![1., 2., 3.].view(), array![4., 5., 6.].view()).called("dot")?,
            Tol::rel(0.0),
        )
    }
}

check! {
    fn norms_match_numpy(exercise = "norms") {
        let f = fixture("week02");
        let (a, b) = (nums(&f, "/vectors/a"), nums(&f, "/vectors/b"));
        close(
            "norm_l2(a) against np.linalg.norm",
            num(&f, "/vectors/norm_l2"),
            norm_l2(a.view()).called("norm_l2")?,
            Tol::rel(1e-12),
        )?;
        close(
            "norm_l1(a) against np.linalg.norm(ord=1)",
            num(&f, "/vectors/norm_l1"),
            norm_l1(a.view()).called("norm_l1")?,
            Tol::rel(1e-12),
        )?;
        close(
            "norm_l2([3, 4]) = 5",
            5.0,
            norm_l2(array![3.0, 4.0].view()).called("norm_l2")?,
            Tol::rel(1e-15),
        )?;
        close(
            "cosine_similarity(a, b) (uses dot and norm_l2)",
            num(&f, "/vectors/cosine"),
            cosine_similarity(a.view(), b.view()).called("cosine_similarity")?,
            Tol::rel(1e-12),
        )
    }
}

check! {
    fn numerical_gradient_matches_closed_form(exercise = "numerical_gradient") {
        // f(x) = x0³ + x0·x1 + sin(x2), ∇f = (3x0² + x1, x0, cos(x2))
        let f = |x: ArrayView1<f64>| x[0].powi(3) + x[0] * x[1] + x[2].sin();
        let x = array![1.5, -2.0, 0.3];
        let expected = array![3.0 * 1.5 * 1.5 - 2.0, 1.5, 0.3f64.cos()];
        let got = numerical_gradient(f, x.view(), 1e-5).called("numerical_gradient")?;
        // Central differences are accurate to O(h²) ≈ 1e-10 here, far better than one-sided ones.
        close_array(
            "central-difference gradient of x0³ + x0·x1 + sin(x2)",
            expected.view(),
            got.view(),
            Tol::abs(1e-8),
        )?;
        // The point itself must not be changed for good.
        let probe = |x: ArrayView1<f64>| x[0];
        let g =
            numerical_gradient(probe, array![7.0, 8.0].view(), 0.5).called("numerical_gradient")?;
        close_array(
            "gradient of f(x) = x0",
            array![1.0, 0.0].view(),
            g.view(),
            Tol::abs(1e-12),
        )
    }
}

check! {
    fn relative_error_is_hand_worked(exercise = "relative_error") {
        // ‖(3,4) − (0,0)‖ / (5 + 0) = 1; ‖(1,0) − (0,1)‖ / (1 + 1) = √2 / 2
        close(
            "relative_error([3,4], [0,0])",
            1.0,
            relative_error(array![3., 4.].view(), array![0., 0.].view())
                .called("relative_error")?,
            Tol::rel(1e-15),
        )?;
        close(
            "relative_error([1,0], [0,1])",
            std::f64::consts::SQRT_2 / 2.0,
            relative_error(array![1., 0.].view(), array![0., 1.].view())
                .called("relative_error")?,
            Tol::rel(1e-15),
        )?;
        close(
            "relative_error(0, 0) is 0",
            0.0,
            relative_error(array![0.].view(), array![0.].view()).called("relative_error")?,
            Tol::abs(0.0),
        )
    }
}

/// A loss as the checks call it: (y_true, y_pred, δ) → value or gradient.
type LossFn<T> = fn(ArrayView1<f64>, ArrayView1<f64>, f64) -> week02_linreg::Result<T>;

/// A loss and its gradient against the fixture's numpy/scikit-learn values.
fn loss_matches(exercise: &'static str, value: LossFn<f64>, grad: LossFn<Array1<f64>>) -> Outcome {
    let f = fixture("week02");
    let (y, p, delta) = (
        nums(&f, "/losses/y_true"),
        nums(&f, "/losses/y_pred"),
        num(&f, "/losses/delta"),
    );
    close(
        &format!("{exercise}(y_true, y_pred) against the numpy/scikit-learn value"),
        num(&f, &format!("/losses/{exercise}")),
        value(y.view(), p.view(), delta).called(exercise)?,
        Tol::rel(1e-12),
    )?;
    let g = grad(y.view(), p.view(), delta).called(&format!("{exercise}_grad"))?;
    close_array(
        &format!("{exercise}_grad(y_true, y_pred) against numpy"),
        nums(&f, &format!("/losses/{exercise}_grad")).view(),
        g.view(),
        Tol::rel(1e-12).and_abs(1e-15),
    )
}

check! {
    fn mse_and_gradient_match_numpy(exercise = "mse") {
        loss_matches("mse", |y, p, _| mse(y, p), |y, p, _| mse_grad(y, p))
    }
}

check! {
    fn mae_and_gradient_match_numpy(exercise = "mae") {
        loss_matches("mae", |y, p, _| mae(y, p), |y, p, _| mae_grad(y, p))
    }
}

check! {
    fn huber_and_gradient_match_numpy(exercise = "huber") {
        loss_matches("huber", huber, huber_grad)
    }
}

check! {
    fn cholesky_solve_is_hand_worked(exercise = "cholesky_solve") {
        // A = [[4,2,2],[2,5,3],[2,3,6]] is symmetric positive definite (minors 4, 16, 64);
        // with z = (1, −2, 3), A z = (6, 1, 14).
        let a = array![[4.0, 2.0, 2.0], [2.0, 5.0, 3.0], [2.0, 3.0, 6.0]];
        let z = cholesky_solve(a.view(), array![6.0, 1.0, 14.0].view()).called("cholesky_solve")?;
        close_array(
            "solution of A z = b",
            array![1.0, -2.0, 3.0].view(),
            z.view(),
            Tol::abs(1e-12),
        )?;
        let singular = array![[1.0, 2.0], [2.0, 4.0]];
        let msg = expect_err(
            "cholesky_solve on the singular [[1,2],[2,4]]",
            cholesky_solve(singular.view(), array![1.0, 2.0].view()),
        )?;
        ensure(
            msg.contains("singular"),
            "error for a singular matrix",
            format!("should say the system is singular, says: {msg}"),
        )
    }
}

check! {
    fn normal_equations_match_sklearn(exercise = "normal_equations") {
        let f = fixture("week02");
        let (x, y) = diabetes()?;
        let m = fit_normal_equations(x.view(), y.view()).called("fit_normal_equations")?;
        close_array(
            "coefficients on diabetes against scikit-learn LinearRegression",
            nums(&f, "/diabetes/coefficients").view(),
            m.weights.view(),
            Tol::rel(1e-6),
        )?;
        close(
            "intercept against scikit-learn",
            num(&f, "/diabetes/intercept"),
            m.intercept,
            Tol::rel(1e-6),
        )
    }
}

check! {
    fn collinear_columns_are_a_clear_error(exercise = "normal_equations") {
        let (x, y) = diabetes()?;
        // Append bmi + 2·bp: a column that adds no information.
        let extra = &x.column(2) + &(&x.column(3) * 2.0);
        let x2 = ndarray::concatenate![Axis(1), x, extra.insert_axis(Axis(1))];
        let msg = expect_err(
            "fit_normal_equations with a column equal to bmi + 2·bp",
            fit_normal_equations(x2.view(), y.view()),
        )?;
        ensure(
            msg.contains("singular") && msg.contains("column 10"),
            "error for collinear columns",
            format!("should say the system is singular and name column 10, says: {msg}"),
        )
    }
}

check! {
    fn mse_gradient_passes_gradient_check(exercise = "mse_gradient") {
        let (xs, y) = diabetes_standardised()?;
        let model = LinearModel {
            weights: Array1::linspace(-3.0, 3.0, 10),
            intercept: 100.0,
        };
        let (loss, gw, gb) = mse_gradient(xs.view(), y.view(), &model).called("mse_gradient")?;
        // Independent reference: the loss, and its gradient by central differences, in f64 here.
        let loss_at = |w: &Array1<f64>, b: f64| {
            let r = xs.dot(w) + b - &y;
            r.dot(&r) / y.len() as f64
        };
        close(
            "loss returned by mse_gradient",
            loss_at(&model.weights, model.intercept),
            loss,
            Tol::rel(1e-12),
        )?;
        let h = 1e-4;
        let mut numeric = Array1::zeros(11);
        for j in 0..10 {
            let (mut up, mut down) = (model.weights.clone(), model.weights.clone());
            up[j] += h;
            down[j] -= h;
            numeric[j] =
                (loss_at(&up, model.intercept) - loss_at(&down, model.intercept)) / (2.0 * h);
        }
        numeric[10] = (loss_at(&model.weights, model.intercept + h)
            - loss_at(&model.weights, model.intercept - h))
            / (2.0 * h);
        let mut analytic = gw.to_vec();
        analytic.push(gb);
        close_array(
            "∂L/∂(w, b) against central differences",
            numeric.view(),
            Array1::from(analytic).view(),
            Tol::rel(1e-6).and_abs(1e-6),
        )
    }
}

check! {
    fn standardizer_matches_sklearn(exercise = "standardize") {
        let f = fixture("week02");
        let (x, _) = diabetes()?;
        let s = Standardizer::fit(x.view()).called("Standardizer::fit")?;
        close_array(
            "mean_ against StandardScaler",
            nums(&f, "/diabetes/scaler_mean").view(),
            s.mean.view(),
            Tol::rel(1e-12),
        )?;
        close_array(
            "scale_ against StandardScaler",
            nums(&f, "/diabetes/scaler_scale").view(),
            s.scale.view(),
            Tol::rel(1e-12),
        )?;
        let constant = Standardizer::fit(array![[5.0], [5.0]].view())
            .called("Standardizer::fit on a constant column")?;
        close(
            "scale of a constant column (1, as scikit-learn, instead of dividing by 0)",
            1.0,
            constant.scale[0],
            Tol::abs(0.0),
        )
    }
}

check! {
    fn gradient_descent_reaches_optimal_loss(exercise = "gradient_descent", timeout_s = 30) {
        let f = fixture("week02");
        let optimum = num(&f, "/diabetes/train_mse");
        let (xs, y) = diabetes_standardised()?;
        let fit = fit_gradient_descent(xs.view(), y.view(), GdConfig { learning_rate: 0.1, iterations: 1000 }).called("fit_gradient_descent")?;
        ensure(fit.losses.len() == 1001, "loss history", format!("should hold 1001 losses (before each of the 1000 steps, and after the last), holds {}", fit.losses.len()))?;
        close("loss at all-zero parameters = mean(y²)", y.mapv(|v| v * v).mean().unwrap_or(0.0), fit.losses[0], Tol::rel(1e-12))?;
        ensure(fit.losses.windows(2).all(|w| w[1] <= w[0]), "loss history", "with lr 0.1 on standardised features every step must lower the loss")?;
        close("final training MSE against scikit-learn's optimum", optimum, *fit.losses.last().unwrap_or(&f64::NAN), Tol::rel(1e-3))
    }
}

check! {
    fn minibatch_sgd_gets_near_the_optimum(exercise = "minibatch_sgd", timeout_s = 30) {
        let f = fixture("week02");
        let optimum = num(&f, "/diabetes/train_mse");
        let (xs, y) = diabetes_standardised()?;
        let cfg = SgdConfig { learning_rate: 0.01, epochs: 100, batch_size: 32, seed: 42 };
        let fit = fit_minibatch_sgd(xs.view(), y.view(), cfg).called("fit_minibatch_sgd")?;
        ensure(fit.losses.len() == 101, "loss history", format!("should hold 101 losses (before the first epoch and after each of 100), holds {}", fit.losses.len()))?;
        close("final training MSE within 5% of the optimum", optimum, *fit.losses.last().unwrap_or(&f64::NAN), Tol::rel(0.05))?;
        let again = fit_minibatch_sgd(xs.view(), y.view(), cfg).called("fit_minibatch_sgd")?;
        ensure(again == fit, "reproducibility", "two runs with the same seed must give the same model and losses")?;
        let other = fit_minibatch_sgd(xs.view(), y.view(), SgdConfig { seed: 7, ..cfg }).called("fit_minibatch_sgd")?;
        ensure(other.model != fit.model, "shuffling", "another seed must visit the rows in another order and end elsewhere")
    }
}

check! {
    fn r2_matches_sklearn(exercise = "r2") {
        let f = fixture("week02");
        let (y, p) = (nums(&f, "/losses/y_true"), nums(&f, "/losses/y_pred"));
        close(
            "r2_score against sklearn.metrics.r2_score",
            num(&f, "/losses/r2"),
            r2_score(y.view(), p.view()).called("r2_score")?,
            Tol::rel(1e-12),
        )?;
        let msg = expect_err(
            "r2_score with a constant y_true",
            r2_score(array![2.0, 2.0].view(), array![1.0, 3.0].view()),
        )?;
        ensure(
            !msg.is_empty(),
            "error for constant y_true",
            "should explain that R² is undefined",
        )
    }
}

check! {
    fn test_r2_on_seeded_split_matches_sklearn(exercise = "normal_equations") {
        let f = fixture("week02");
        let (x, y) = diabetes()?;
        let (train, test) = wb_data::train_test_indices(
            x.nrows(),
            num(&f, "/split/test_fraction"),
            num(&f, "/split/seed") as u64,
        );
        let expected_test: Vec<f64> = nums(&f, "/split/test_indices").to_vec();
        let got_test: Vec<f64> = test.iter().map(|&i| i as f64).collect();
        ensure(
            got_test == expected_test,
            "seeded split",
            "the test rows differ from the ones the fixtures script computed in Python",
        )?;
        let m = fit_normal_equations(
            x.select(Axis(0), &train).view(),
            y.select(Axis(0), &train).view(),
        )
        .called("fit_normal_equations on the training rows")?;
        close_array(
            "coefficients on the training rows against scikit-learn",
            nums(&f, "/split/coefficients").view(),
            m.weights.view(),
            Tol::rel(1e-6),
        )?;
        let pred = m
            .predict(x.select(Axis(0), &test).view())
            .called("predict")?;
        let y_test = y.select(Axis(0), &test);
        close(
            "test R² against scikit-learn",
            num(&f, "/split/test_r2"),
            r2_score(y_test.view(), pred.view()).called("r2_score")?,
            Tol::rel(1e-6),
        )?;
        close(
            "test MSE against scikit-learn",
            num(&f, "/split/test_mse"),
            mse(y_test.view(), pred.view()).called("mse")?,
            Tol::rel(1e-6),
        )
    }
}

check! {
    fn bad_input_returns_errors(exercise = "normal_equations") {
        let x = array![[1.0, 2.0], [3.0, 5.0], [4.0, 1.0]];
        let y = array![1.0, 2.0, 3.0];
        let nan_x = array![[1.0, f64::NAN], [3.0, 5.0], [4.0, 1.0]];
        let empty = Array2::<f64>::zeros((0, 2));
        let gd = GdConfig {
            learning_rate: 0.1,
            iterations: 10,
        };
        expect_err(
            "fit_normal_equations with 2 targets for 3 rows",
            fit_normal_equations(x.view(), array![1.0, 2.0].view()),
        )?;
        expect_err(
            "fit_normal_equations with NaN in x",
            fit_normal_equations(nan_x.view(), y.view()),
        )?;
        expect_err(
            "fit_normal_equations with no rows",
            fit_normal_equations(empty.view(), Array1::zeros(0).view()),
        )?;
        expect_err(
            "fit_gradient_descent with an infinite target",
            fit_gradient_descent(x.view(), array![1.0, f64::INFINITY, 3.0].view(), gd),
        )?;
        expect_err(
            "fit_gradient_descent with learning rate 0",
            fit_gradient_descent(
                x.view(),
                y.view(),
                GdConfig {
                    learning_rate: 0.0,
                    ..gd
                },
            ),
        )?;
        expect_err(
            "fit_minibatch_sgd with batch size 0",
            fit_minibatch_sgd(
                x.view(),
                y.view(),
                SgdConfig {
                    learning_rate: 0.1,
                    epochs: 1,
                    batch_size: 0,
                    seed: 1,
                },
            ),
        )?;
        expect_err(
            "mse with mismatched lengths",
            mse(y.view(), array![1.0].view()),
        )?;
        expect_err(
            "dot with mismatched lengths",
            dot(y.view(), array![1.0].view()),
        )?;
        expect_err(
            "predict with 3 columns for 2 weights",
            LinearModel::zeros(2).predict(array![[1.0, 2.0, 3.0]].view()),
        )?;
        // And the reference behaviour on good input still holds, so that a function that
        // always errors does not pass this check.
        let m = fit_normal_equations(x.view(), y.view())
            .called("fit_normal_equations on good input")?;
        close(
            "training R² of a 3-row, 2-feature fit (exact: 1)",
            1.0,
            r2_score(y.view(), m.predict(x.view()).called("predict")?.view()).called("r2_score")?,
            Tol::abs(1e-9),
        )
    }
}
