//! Grader checks for week 4: k-means, linfa's linear and logistic regression, bias and variance.
//!
//! References: `fixtures/week04.json` (scikit-learn 1.9 / numpy 2.4, made by
//! `fixtures/make_fixtures.py`, which also regenerates the synthetic data and the bootstrap
//! resamples in Python) and hand-worked cases.

use grader::{
    Called, Failure, Tol, check, close, close_array, ensure, expect_err, fixture, matrix, num, nums,
};
use ndarray::{Array1, Array2, Axis, array};
use wb_data::SplitMix64;
use week04_supervised::bias_variance::{PolyModel, bias_variance, mse, noisy_sine, poly_features};
use week04_supervised::kmeans::{assign, kmeans, kmeans_plus_plus, update_centroids};
use week04_supervised::supervised::{accuracy, linfa_linear, linfa_logistic};

fn iris() -> Result<Array2<f64>, Failure> {
    let path = wb_data::dataset("tabular/iris.csv").called("iris.csv")?;
    Ok(wb_data::read_labelled_csv(&path, "species")
        .called("read_labelled_csv")?
        .0
        .data)
}

check! {
    fn kmeans_plus_plus_spreads_the_starts(exercise = "kmeans_pp") {
        // Two tight groups 100 apart: after a first centre in one group, the next is drawn with
        // probability ∝ squared distance, so it lands in the other group (≈ 1 − 1e-4).
        let x = array![
            [0.0, 0.0],
            [0.0, 0.1],
            [0.1, 0.0],
            [100.0, 100.0],
            [100.0, 100.1],
            [100.1, 100.0]
        ];
        for seed in 0..20 {
            let c = kmeans_plus_plus(x.view(), 2, &mut SplitMix64::new(seed))
                .called("kmeans_plus_plus")?;
            ensure(
                c.dim() == (2, 2),
                "shape",
                format!("expected [2, 2], got {:?}", c.dim()),
            )?;
            ensure(
                c.rows()
                    .into_iter()
                    .all(|r| x.rows().into_iter().any(|p| p == r)),
                "centres",
                "each starting centre must be one of the points",
            )?;
            ensure(
                (c[[0, 0]] < 50.0) != (c[[1, 0]] < 50.0),
                "spread",
                format!("seed {seed}: both starting centres fell in the same group: {c}"),
            )?;
        }
        Ok(())
    }
}

check! {
    fn assignment_and_update_are_hand_worked(exercise = "lloyd") {
        let x = array![[0.0, 0.0], [1.0, 0.0], [9.0, 0.0], [10.0, 0.0]];
        let c = array![[0.0, 0.0], [10.0, 0.0]];
        let (labels, inertia) = assign(x.view(), c.view()).called("assign")?;
        ensure(
            labels == vec![0, 0, 1, 1],
            "labels",
            format!("expected [0, 0, 1, 1], got {labels:?}"),
        )?;
        close("inertia = 1² + 1²", 2.0, inertia, Tol::abs(1e-12))?;
        let moved = update_centroids(x.view(), &labels, c.view()).called("update_centroids")?;
        close_array(
            "centroids move to their points' means",
            array![[0.5, 0.0], [9.5, 0.0]].view(),
            moved.view(),
            Tol::abs(1e-12),
        )?;
        let kept =
            update_centroids(x.view(), &[0, 0, 0, 0], c.view()).called("update_centroids")?;
        close_array(
            "an empty cluster keeps its centroid",
            array![[5.0, 0.0], [10.0, 0.0]].view(),
            kept.view(),
            Tol::abs(1e-12),
        )
    }
}

check! {
    fn kmeans_inertia_matches_sklearn(exercise = "kmeans") {
        let f = fixture("week04");
        let x = iris()?;
        let fit = kmeans(x.view(), 3, 10, 300, 1e-4, 42).called("kmeans")?;
        close(
            "inertia on iris (k = 3) against KMeans(n_init=10).inertia_",
            num(&f, "/kmeans/inertia"),
            fit.inertia,
            Tol::rel(1e-6),
        )?;
        let mut order: Vec<usize> = (0..3).collect();
        order.sort_by(|&a, &b| fit.centroids[[a, 0]].total_cmp(&fit.centroids[[b, 0]]));
        let sorted = fit.centroids.select(Axis(0), &order);
        close_array(
            "centroids (sorted by first coordinate)",
            matrix(&f, "/kmeans/centroids_sorted").view(),
            sorted.view(),
            Tol::rel(1e-5),
        )?;
        ensure(fit.labels.len() == 150, "labels", "one label per flower")
    }
}

check! {
    fn linfa_linear_matches_sklearn(exercise = "linfa_models") {
        let f = fixture("week04");
        let t = wb_data::read_numeric_csv(
            &wb_data::dataset("tabular/diabetes.csv").called("diabetes.csv")?,
        )
        .called("read")?;
        let (x, y, _) = t.split_target("target").called("split_target")?;
        let (coef, intercept) = linfa_linear(x.view(), y.view()).called("linfa_linear")?;
        close_array(
            "linfa-linear coefficients against scikit-learn",
            nums(&f, "/diabetes/coefficients").view(),
            coef.view(),
            Tol::rel(1e-6),
        )?;
        close(
            "intercept",
            num(&f, "/diabetes/intercept"),
            intercept,
            Tol::rel(1e-6),
        )
    }
}

check! {
    fn linfa_logistic_classifies_breast_cancer(exercise = "linfa_models") {
        let f = fixture("week04");
        let (t, diag) = wb_data::read_labelled_csv(
            &wb_data::dataset("tabular/breast_cancer.csv").called("breast_cancer.csv")?,
            "diagnosis",
        )
        .called("read")?;
        let y: Vec<bool> = diag.iter().map(|d| d == "malignant").collect();
        let (train, test) = wb_data::train_test_indices(y.len(), 0.25, 42);
        let (xtr, xte) = (
            t.data.select(Axis(0), &train),
            t.data.select(Axis(0), &test),
        );
        let mean = xtr.mean_axis(Axis(0)).unwrap_or_default();
        let sd = xtr.std_axis(Axis(0), 0.0);
        let (xtr, xte) = ((&xtr - &mean) / &sd, (&xte - &mean) / &sd);
        let ytr: Vec<bool> = train.iter().map(|&i| y[i]).collect();
        let yte: Vec<bool> = test.iter().map(|&i| y[i]).collect();
        let pred = linfa_logistic(xtr.view(), &ytr, xte.view(), 1.0).called("linfa_logistic")?;
        let acc = accuracy(&yte, &pred).called("accuracy")?;
        close(
            "test accuracy against scikit-learn's LogisticRegression on the same split",
            num(&f, "/breast_cancer/test_accuracy_sklearn"),
            acc,
            Tol::abs(0.03),
        )
    }
}

check! {
    fn degree_sweep_matches_numpy(exercise = "poly_features") {
        let f = fixture("week04");
        let (xs, ys) = noisy_sine(40, 0.3, 42);
        close_array(
            "the synthetic data (reproduced in Python)",
            nums(&f, "/noisy_sine_head/y").view(),
            ys.slice(ndarray::s![..5]).view(),
            Tol::rel(1e-12),
        )?;
        let (xt, yt) = noisy_sine(1000, 0.3, 42 + 1_000_000);
        let sweep = f["degree_sweep"].as_array().cloned().unwrap_or_default();
        let mut previous = f64::INFINITY;
        for s in &sweep {
            let d = s["degree"].as_u64().unwrap_or(1) as usize;
            let m = PolyModel::fit(xs.view(), ys.view(), d).called("PolyModel::fit")?;
            let train =
                mse(ys.view(), m.predict(xs.view()).called("predict")?.view()).called("mse")?;
            let test =
                mse(yt.view(), m.predict(xt.view()).called("predict")?.view()).called("mse")?;
            close(
                &format!("training MSE at degree {d} against numpy's lstsq"),
                s["train_mse"].as_f64().unwrap_or(f64::NAN),
                train,
                Tol::rel(1e-6),
            )?;
            close(
                &format!("test MSE at degree {d} against numpy's lstsq"),
                s["test_mse"].as_f64().unwrap_or(f64::NAN),
                test,
                Tol::rel(1e-6),
            )?;
            ensure(
                train <= previous + 1e-12,
                "training error",
                format!("must not grow with the degree (degree {d}: {train} > {previous})"),
            )?;
            previous = train;
        }
        close_array(
            "poly_features([0, 1], 2): t = 2x − 1",
            array![[-1.0, 1.0], [1.0, 1.0]].view(),
            poly_features(array![0.0, 1.0].view(), 2)
                .called("poly_features")?
                .view(),
            Tol::abs(0.0),
        )
    }
}

check! {
    fn bias_variance_matches_python(exercise = "bias_variance") {
        let f = fixture("week04");
        let (xs, ys) = noisy_sine(40, 0.3, 42);
        let grid = Array1::linspace(0.05, 0.95, 91);
        let rows = f["bias_variance"].as_array().cloned().unwrap_or_default();
        let mut got = Vec::new();
        for r in &rows {
            let d = r["degree"].as_u64().unwrap_or(1) as usize;
            let bv = bias_variance(xs.view(), ys.view(), d, grid.view(), 200, 42)
                .called("bias_variance")?;
            close(
                &format!("bias² at degree {d}"),
                r["bias2"].as_f64().unwrap_or(f64::NAN),
                bv.bias2,
                Tol::rel(1e-6),
            )?;
            close(
                &format!("variance at degree {d}"),
                r["variance"].as_f64().unwrap_or(f64::NAN),
                bv.variance,
                Tol::rel(1e-6),
            )?;
            got.push(bv);
        }
        ensure(
            got[0].bias2 > 10.0 * got[1].bias2,
            "bias",
            "a straight line must have far more bias than a cubic",
        )?;
        ensure(
            got[2].variance > got[1].variance,
            "variance",
            "degree 5 must vary more than degree 3",
        )
    }
}

check! {
    fn bad_input_returns_errors(exercise = "kmeans") {
        let x = array![[0.0, 1.0], [2.0, 3.0]];
        expect_err("kmeans with k = 0", kmeans(x.view(), 0, 1, 10, 1e-4, 1))?;
        expect_err(
            "kmeans with more clusters than samples",
            kmeans(x.view(), 3, 1, 10, 1e-4, 1),
        )?;
        expect_err(
            "kmeans with NaN",
            kmeans(
                array![[f64::NAN, 1.0], [1.0, 1.0]].view(),
                1,
                1,
                10,
                1e-4,
                1,
            ),
        )?;
        expect_err(
            "update_centroids with 3 labels for 2 rows",
            update_centroids(x.view(), &[0, 0, 0], x.view()),
        )?;
        expect_err(
            "linfa_logistic with a single class",
            linfa_logistic(x.view(), &[true, true], x.view(), 1.0),
        )?;
        expect_err(
            "linfa_linear with 3 targets for 2 rows",
            linfa_linear(x.view(), array![1.0, 2.0, 3.0].view()),
        )?;
        expect_err("accuracy of empty arrays", accuracy::<bool>(&[], &[]))?;
        let fit = kmeans(x.view(), 2, 1, 10, 1e-4, 1).called("kmeans on good input")?;
        close(
            "two points, two clusters: inertia 0",
            0.0,
            fit.inertia,
            Tol::abs(1e-12),
        )
    }
}
