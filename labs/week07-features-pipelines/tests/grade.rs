//! Grader checks for week 7: features, pipelines and error analysis.
//!
//! References: `fixtures/week07.json` (scikit-learn 1.9 `PolynomialFeatures` and
//! `ColumnTransformer`, numpy quantiles, pandas group-bys; made by `fixtures/make_fixtures.py`).

use grader::{
    Called, Failure, Tol, check, close, close_array, ensure, expect_err, fixture, matrix,
};
use ndarray::{Array1, Axis, array, s};
use serde_json::Value;
use week07_features_pipelines::analysis::slice_metrics;
use week07_features_pipelines::features::{assign_bins, polynomial_features, quantile_edges};
use week07_features_pipelines::frame::{CATEGORICAL, Column, Frame, NUMERIC, SKEWED, load_credit};
use week07_features_pipelines::transform::{
    ColumnTransformer, NumericPipeline, OneHot, TargetEncoder, Transformer, encode, target_table,
};

/// The credit frame, its targets, and the training and test rows of the lab's split.
type Credit = (Frame, Vec<usize>, Vec<usize>, Vec<usize>);

fn credit() -> Result<Credit, Failure> {
    let (frame, y) =
        load_credit(&wb_data::dataset("tabular/credit_data.csv").called("credit_data.csv")?)
            .called("load_credit")?;
    let (tr, te) = wb_data::train_test_indices(y.len(), 0.25, 42);
    Ok((frame, y, tr, te))
}

check! {
    fn polynomial_features_match_sklearn(exercise = "polynomial") {
        let f = fixture("week07");
        let x = matrix(&f, "/poly_x");
        close_array(
            "PolynomialFeatures(degree=2, include_bias=False)",
            matrix(&f, "/poly_degree2").view(),
            polynomial_features(x.view(), false)
                .called("polynomial_features")?
                .view(),
            Tol::rel(1e-15),
        )?;
        close_array(
            "PolynomialFeatures(degree=2, interaction_only=True)",
            matrix(&f, "/poly_interactions").view(),
            polynomial_features(x.view(), true)
                .called("polynomial_features")?
                .view(),
            Tol::rel(1e-15),
        )
    }
}

check! {
    fn quantile_bins_match_numpy(exercise = "bins") {
        let f = fixture("week07");
        let (frame, _, tr, te) = credit()?;
        let age = frame.numeric("Age").called("Age")?;
        let train: Array1<f64> = tr.iter().map(|&i| age[i]).collect();
        let edges = quantile_edges(train.view(), 5).called("quantile_edges")?;
        let expected: Vec<f64> = f["credit"]["age_edges"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default();
        close_array(
            "age bin edges (np.unique(np.quantile(age, linspace(0, 1, 6))))",
            Array1::from(expected).view(),
            Array1::from(edges.clone()).view(),
            Tol::rel(1e-12),
        )?;
        let test: Array1<f64> = te.iter().take(20).map(|&i| age[i]).collect();
        let bins: Array1<f64> = assign_bins(test.view(), &edges)
            .called("assign_bins")?
            .into_iter()
            .map(|b| b as f64)
            .collect();
        let expected: Array1<f64> = f["credit"]["age_test_bins_head"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default();
        close_array(
            "bins of the first 20 test ages (np.searchsorted(edges[1:-1], side='right'))",
            expected.view(),
            bins.view(),
            Tol::abs(0.0),
        )
    }
}

check! {
    fn numeric_pipeline_matches_sklearn(exercise = "numeric_pipeline") {
        let f = fixture("week07");
        let (frame, y, tr, te) = credit()?;
        let ytr: Vec<usize> = tr.iter().map(|&i| y[i]).collect();
        let mut p = NumericPipeline::new(&NUMERIC, &SKEWED);
        p.fit(&frame.select(&tr), &ytr)
            .called("NumericPipeline::fit")?;
        let out = p
            .transform(&frame.select(&te))
            .called("NumericPipeline::transform")?;
        close_array(
            "log1p → median → standardise, first 6 test rows, against scikit-learn",
            matrix(&f, "/credit/numeric_test_head").view(),
            out.slice(s![..6, ..]).view(),
            Tol::rel(1e-9).and_abs(1e-12),
        )
    }
}

check! {
    fn column_transformer_fits_on_train_only(exercise = "column_transformer") {
        let f = fixture("week07");
        let (frame, y, tr, te) = credit()?;
        let ytr: Vec<usize> = tr.iter().map(|&i| y[i]).collect();
        let (ftr, fte) = (frame.select(&tr), frame.select(&te));
        let mut ct = ColumnTransformer::new()
            .with(NumericPipeline::new(&NUMERIC, &SKEWED))
            .with(OneHot::new(&CATEGORICAL));
        let train_out = ct
            .fit_transform(&ftr, &ytr)
            .called("ColumnTransformer::fit_transform")?;
        let test_out = ct.transform(&fte).called("ColumnTransformer::transform")?;
        ensure(
            test_out.ncols() == 9 + 20,
            "width",
            format!(
                "9 numeric + 20 one-hot columns expected, got {}",
                test_out.ncols()
            ),
        )?;
        close_array(
            "numeric block of the test rows against scikit-learn's ColumnTransformer",
            matrix(&f, "/credit/numeric_test_head").view(),
            test_out.slice(s![..6, ..9]).view(),
            Tol::rel(1e-9).and_abs(1e-12),
        )?;
        close_array(
            "one-hot block (missing is a category, unknown is zeros)",
            matrix(&f, "/credit/onehot_test_head").view(),
            test_out.slice(s![..6, 9..]).view(),
            Tol::abs(0.0),
        )?;
        let names = ct.feature_names().called("feature_names")?;
        let expected: Vec<String> = f["credit"]["onehot_names"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        ensure(
            names[9..] == expected[..],
            "one-hot names",
            format!("expected {expected:?}, got {:?}", &names[9..]),
        )?;
        // Leakage test: transforming other rows (even the whole data set) changes nothing learned.
        let _ = ct.transform(&frame).called("transform of every row")?;
        let again = ct
            .transform(&ftr)
            .called("transform of the training rows")?;
        close_array(
            "training rows again after transforming others (nothing refitted)",
            train_out.view(),
            again.view(),
            Tol::abs(0.0),
        )?;
        let mean = again
            .slice(s![.., ..9])
            .mean_axis(Axis(0))
            .unwrap_or_default();
        close_array(
            "standardised numeric columns have mean 0 on the training rows",
            Array1::zeros(9).view(),
            mean.view(),
            Tol::abs(1e-9),
        )
    }
}

check! {
    fn out_of_fold_encoding_differs_from_the_leaky_one_as_expected(exercise = "target_encoding") {
        let f = fixture("week07");
        let (frame, y, _, _) = credit()?;
        let job = frame.categorical("Job").called("Job")?;
        let all: Vec<usize> = (0..y.len()).collect();
        let (prior, table) = target_table(job, &y, &all);
        let full = &f["credit"]["job_encoding_full"];
        for cat in ["fixed", "freelance", "others", "partime"] {
            let got = encode(&Some(cat.to_string()), prior, &table, 1.0);
            close(&format!("smoothed encoding of Job = {cat} (m = 1)"), full[cat].as_f64().unwrap_or(f64::NAN), got, Tol::rel(1e-12))?;
        }
        close("a missing or unseen value encodes as the overall share", prior, encode(&None, prior, &table, 1.0), Tol::abs(0.0))?;
        let mut oof = TargetEncoder::new("Job", 1.0, 5, false);
        let enc = oof.fit_transform(&frame, &y).called("TargetEncoder::fit_transform (out of fold)")?;
        let expected: Array1<f64> = f["credit"]["job_encoding_oof_head"].as_array().map(|a| a.iter().filter_map(Value::as_f64).collect()).unwrap_or_default();
        close_array("out-of-fold encodings of the first 25 rows (row i in fold i % 5), against pandas", expected.view(), enc.slice(s![..25, 0]).view(), Tol::rel(1e-12))?;
        // On a unique-valued column the leaky encoding reveals each row's target; out of fold it cannot.
        let ids = Frame::new(vec!["id".into()], vec![Column::Cat((0..y.len()).map(|i| Some(i.to_string())).collect())]).called("Frame::new")?;
        let leaky = TargetEncoder::new("id", 1.0, 5, true).fit_transform(&ids, &y).called("leaky fit_transform")?;
        let honest = TargetEncoder::new("id", 1.0, 5, false).fit_transform(&ids, &y).called("out-of-fold fit_transform")?;
        let separates = |e: &ndarray::Array2<f64>| (0..y.len()).all(|i| (e[[i, 0]] > prior) == (y[i] == 1));
        ensure(separates(&leaky), "leaky encoding", "on an ID column the in-sample encoding must reveal every target (above the prior exactly for the positives)")?;
        ensure(honest.iter().all(|&v| (v - honest[[0, 0]]).abs() < 0.01), "out-of-fold encoding", "on an ID column, out of fold, every row must get (nearly) the prior: it never saw its own target")
    }
}

check! {
    fn slice_metrics_match_pandas(exercise = "slices") {
        let f = fixture("week07");
        let slices: Vec<Option<String>> = f["slices"]["slice"]
            .as_array()
            .map(|a| a.iter().map(|v| v.as_str().map(String::from)).collect())
            .unwrap_or_default();
        let to_usize = |p: &str| -> Vec<usize> {
            f["slices"][p]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_u64)
                        .map(|v| v as usize)
                        .collect()
                })
                .unwrap_or_default()
        };
        let got = slice_metrics(&slices, &to_usize("y_true"), &to_usize("y_pred"))
            .called("slice_metrics")?;
        let table = f["slices"]["table"].as_array().cloned().unwrap_or_default();
        ensure(
            got.len() == table.len(),
            "slices",
            format!("expected {} slices, got {}", table.len(), got.len()),
        )?;
        for (m, e) in got.iter().zip(&table) {
            let name = e["slice"].as_str().unwrap_or("");
            ensure(
                m.slice == name && m.rows as u64 == e["rows"].as_u64().unwrap_or(0),
                "slice and size",
                format!(
                    "expected {name} with {} rows, got {} with {}",
                    e["rows"], m.slice, m.rows
                ),
            )?;
            close(
                &format!("accuracy of slice {name}"),
                e["accuracy"].as_f64().unwrap_or(f64::NAN),
                m.accuracy,
                Tol::rel(1e-12),
            )?;
            close(
                &format!("positive rate of slice {name}"),
                e["positive_rate"].as_f64().unwrap_or(f64::NAN),
                m.positive_rate,
                Tol::rel(1e-12),
            )?;
            close(
                &format!("recall of slice {name}"),
                e["recall"].as_f64().unwrap_or(f64::NAN),
                m.recall,
                Tol::rel(1e-12),
            )?;
        }
        Ok(())
    }
}

check! {
    fn bad_input_returns_errors(exercise = "numeric_pipeline") {
        let frame = Frame::new(
            vec!["a".into()],
            vec![Column::Num(array![f64::NAN, f64::NAN])],
        )
        .called("Frame::new")?;
        expect_err(
            "NumericPipeline on a column of all missing values",
            NumericPipeline::new(&["a"], &[]).fit(&frame, &[0, 1]),
        )?;
        expect_err(
            "NumericPipeline with 3 targets for 2 rows",
            NumericPipeline::new(&["a"], &[]).fit(&frame, &[0, 1, 0]),
        )?;
        expect_err(
            "NumericPipeline on a column that does not exist",
            NumericPipeline::new(&["b"], &[]).fit(&frame, &[0, 1]),
        )?;
        expect_err(
            "transform before fit",
            NumericPipeline::new(&["a"], &[]).transform(&frame),
        )?;
        expect_err(
            "quantile_edges with 1 bin",
            quantile_edges(array![1.0, 2.0].view(), 1),
        )?;
        expect_err(
            "slice_metrics of empty arrays",
            slice_metrics(&[], &[], &[]),
        )?;
        expect_err(
            "Frame::new with columns of different lengths",
            Frame::new(
                vec!["a".into(), "b".into()],
                vec![Column::Num(array![1.0]), Column::Num(array![1.0, 2.0])],
            ),
        )?;
        let good = Frame::new(
            vec!["a".into()],
            vec![Column::Num(array![1.0, f64::NAN, 3.0])],
        )
        .called("Frame::new")?;
        let mut p = NumericPipeline::new(&["a"], &[]);
        let out = p
            .fit_transform(&good, &[0, 1, 0])
            .called("NumericPipeline on good input")?;
        close_array(
            "median-filled and standardised [1, NaN, 3]",
            array![[-1.224744871391589], [0.0], [1.224744871391589]].view(),
            out.view(),
            Tol::rel(1e-12),
        )
    }
}
