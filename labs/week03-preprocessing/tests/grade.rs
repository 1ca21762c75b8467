//! Grader checks for week 3: statistics, splits, preprocessing and the Titanic mini-project.
//!
//! References: `fixtures/week03.json` (numpy 2.4 / scikit-learn 1.9, made by
//! `fixtures/make_fixtures.py`), closed forms and hand-worked cases.

use grader::{
    Called, Tol, check, close, close_array, ensure, expect_err, fixture, matrix, num, nums, strings,
};
use ndarray::{Array1, Array2, Axis, array};
use week03_preprocessing::logistic::{binary_metrics, fit_logistic, majority_class, sigmoid};
use week03_preprocessing::split::{stratified_split, train_test_split};
use week03_preprocessing::stats::{
    correlation, covariance, mean, median, quantile, std_dev, variance,
};
use week03_preprocessing::titanic::{Titanic, TitanicPreprocessor, load_titanic};
use week03_preprocessing::transform::{
    HandleUnknown, ImputeStrategy, MinMaxScaler, OneHotEncoder, Pipeline, SimpleImputer,
    StandardScaler, Transformer,
};

fn titanic() -> Result<Titanic, grader::Failure> {
    let path =
        wb_data::dataset("tabular/titanic.csv").called("loading datasets/tabular/titanic.csv")?;
    load_titanic(&path).called("load_titanic")
}

fn known_ages() -> Result<(Array1<f64>, Array1<f64>), grader::Failure> {
    let t = titanic()?;
    let rows: Vec<usize> = (0..t.len())
        .filter(|&i| !t.numeric[[i, 0]].is_nan())
        .collect();
    let known = t.numeric.select(Axis(0), &rows);
    Ok((known.column(0).to_owned(), known.column(1).to_owned()))
}

check! {
    fn mean_and_variance_match_numpy(exercise = "mean_variance") {
        let f = fixture("week03");
        let (age, _) = known_ages()?;
        let s = |k: &str| num(&f, &format!("/age_statistics/{k}"));
        close(
            "mean(age) against np.mean",
            s("mean"),
            mean(age.view()).called("mean")?,
            Tol::rel(1e-12),
        )?;
        close(
            "variance(age, 0) against np.var",
            s("variance_population"),
            variance(age.view(), 0).called("variance")?,
            Tol::rel(1e-12),
        )?;
        close(
            "variance(age, 1) against np.var(ddof=1)",
            s("variance_sample"),
            variance(age.view(), 1).called("variance")?,
            Tol::rel(1e-12),
        )?;
        close(
            "std_dev(age, 1) against np.std(ddof=1)",
            s("std_sample"),
            std_dev(age.view(), 1).called("std_dev")?,
            Tol::rel(1e-12),
        )?;
        close(
            "variance of [2,4,4,4,5,5,7,9] (population) = 4",
            4.0,
            variance(array![2., 4., 4., 4., 5., 5., 7., 9.].view(), 0).called("variance")?,
            Tol::rel(1e-15),
        )
    }
}

check! {
    fn quantiles_match_numpy(exercise = "quantile") {
        let f = fixture("week03");
        let (age, _) = known_ages()?;
        let qs = nums(&f, "/age_statistics/quantile_q");
        let got: Array1<f64> = qs
            .iter()
            .map(|&q| quantile(age.view(), q))
            .collect::<Result<_, _>>()
            .called("quantile")?;
        close_array(
            "quantile(age, q) against np.quantile (linear)",
            nums(&f, "/age_statistics/quantiles").view(),
            got.view(),
            Tol::rel(1e-12),
        )?;
        close(
            "median(age) against np.median",
            num(&f, "/age_statistics/median"),
            median(age.view()).called("median")?,
            Tol::rel(1e-12),
        )?;
        // Between two values: h = (2 − 1)·0.3 = 0.3 → 1 + 0.3·(2 − 1)
        close(
            "quantile([2, 1], 0.3) = 1.3 (sort first!)",
            1.3,
            quantile(array![2.0, 1.0].view(), 0.3).called("quantile")?,
            Tol::rel(1e-15),
        )
    }
}

check! {
    fn covariance_and_correlation_match_numpy(exercise = "covariance") {
        let f = fixture("week03");
        let (age, sibsp) = known_ages()?;
        close(
            "covariance(age, sibsp, 1) against np.cov",
            num(&f, "/age_statistics/covariance_age_sibsp"),
            covariance(age.view(), sibsp.view(), 1).called("covariance")?,
            Tol::rel(1e-12),
        )?;
        close(
            "correlation(age, sibsp) against np.corrcoef",
            num(&f, "/age_statistics/correlation_age_sibsp"),
            correlation(age.view(), sibsp.view()).called("correlation")?,
            Tol::rel(1e-12),
        )?;
        let msg = expect_err(
            "correlation with a constant column",
            correlation(array![3.0, 3.0, 3.0].view(), array![1.0, 2.0, 3.0].view()),
        )?;
        ensure(
            !msg.is_empty(),
            "constant column",
            "should explain that the correlation is undefined",
        )
    }
}

check! {
    fn train_test_split_matches_python(exercise = "train_test_split") {
        let f = fixture("week03");
        let (train, test) = train_test_split(
            1309,
            num(&f, "/split/test_fraction"),
            num(&f, "/split/seed") as u64,
        )
        .called("train_test_split")?;
        let expected: Vec<usize> = nums(&f, "/split/plain_test")
            .iter()
            .map(|&v| v as usize)
            .collect();
        ensure(
            test == expected,
            "test rows",
            format!(
                "differ from the fixtures script's (first expected {:?}, got {:?})",
                &expected[..5],
                &test[..test.len().min(5)]
            ),
        )?;
        ensure(
            train.len() + test.len() == 1309 && train.iter().all(|i| !test.contains(i)),
            "partition",
            "train and test must split the rows without overlap",
        )?;
        expect_err(
            "train_test_split with test_fraction 1.0",
            train_test_split(10, 1.0, 1),
        )?;
        expect_err(
            "train_test_split with test_fraction 0.0",
            train_test_split(10, 0.0, 1),
        )?;
        Ok(())
    }
}

check! {
    fn stratified_split_keeps_proportions(exercise = "stratified_split") {
        let f = fixture("week03");
        let t = titanic()?;
        let labels: Vec<u8> = t.survived.iter().map(|&v| v as u8).collect();
        let fraction = num(&f, "/split/test_fraction");
        let (train, test) = stratified_split(&labels, fraction, num(&f, "/split/seed") as u64).called("stratified_split")?;
        let expected: Vec<usize> = nums(&f, "/split/stratified_test").iter().map(|&v| v as usize).collect();
        ensure(test == expected, "stratified test rows", "differ from the ones the fixtures script computed in Python")?;
        ensure(train.len() + test.len() == labels.len(), "partition", "every row must be in train or test")?;
        for class in [0u8, 1] {
            let n_class = labels.iter().filter(|&&l| l == class).count() as f64;
            let in_test = test.iter().filter(|&&i| labels[i] == class).count() as f64;
            ensure(
                (in_test - fraction * n_class).abs() <= 1.0,
                "proportions",
                format!("class {class}: {in_test} test rows, exact share would be {:.1}: more than one sample off", fraction * n_class),
            )?;
        }
        Ok(())
    }
}

check! {
    fn imputers_match_sklearn(exercise = "imputer") {
        let f = fixture("week03");
        let x = matrix(&f, "/imputer_input");
        for (name, strategy) in [
            ("mean", ImputeStrategy::Mean),
            ("median", ImputeStrategy::Median),
            ("most_frequent", ImputeStrategy::MostFrequent),
        ] {
            let mut imp = SimpleImputer::new(strategy);
            let out = imp
                .fit_transform(x.view())
                .called("SimpleImputer::fit_transform")?;
            let stats = imp.statistics.clone().unwrap_or_default();
            close_array(
                &format!("{name} imputer statistics_ against scikit-learn"),
                nums(&f, &format!("/imputers/{name}/statistics")).view(),
                stats.view(),
                Tol::rel(1e-12),
            )?;
            close_array(
                &format!("{name} imputer output against scikit-learn"),
                matrix(&f, &format!("/imputers/{name}/transformed")).view(),
                out.view(),
                Tol::rel(1e-12),
            )?;
        }
        Ok(())
    }
}

check! {
    fn scalers_match_sklearn(exercise = "scalers") {
        let f = fixture("week03");
        let (train, test) = (matrix(&f, "/scalers/train"), matrix(&f, "/scalers/test"));
        let mut std = StandardScaler::default();
        let out = std
            .fit_transform(train.view())
            .called("StandardScaler::fit_transform")?;
        close_array(
            "StandardScaler on the training rows (third column constant)",
            matrix(&f, "/scalers/standard_train").view(),
            out.view(),
            Tol::rel(1e-12).and_abs(1e-15),
        )?;
        close_array(
            "StandardScaler on new rows, with the training parameters",
            matrix(&f, "/scalers/standard_test").view(),
            std.transform(test.view())
                .called("StandardScaler::transform")?
                .view(),
            Tol::rel(1e-12).and_abs(1e-15),
        )?;
        let mut mm = MinMaxScaler::default();
        let out = mm
            .fit_transform(train.view())
            .called("MinMaxScaler::fit_transform")?;
        close_array(
            "MinMaxScaler on the training rows (constant column → 0)",
            matrix(&f, "/scalers/minmax_train").view(),
            out.view(),
            Tol::rel(1e-12).and_abs(1e-15),
        )?;
        close_array(
            "MinMaxScaler on new rows (may leave [0, 1])",
            matrix(&f, "/scalers/minmax_test").view(),
            mm.transform(test.view())
                .called("MinMaxScaler::transform")?
                .view(),
            Tol::rel(1e-12).and_abs(1e-15),
        )
    }
}

check! {
    fn one_hot_matches_sklearn(exercise = "one_hot") {
        let f = fixture("week03");
        let (train, test) = (strings(&f, "/one_hot/train"), strings(&f, "/one_hot/test"));
        let mut enc = OneHotEncoder::new(HandleUnknown::Ignore);
        enc.fit(train.view()).called("OneHotEncoder::fit")?;
        let cats: Vec<Vec<String>> = f["one_hot"]["categories"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|c| {
                        c.as_array()
                            .map(|c| {
                                c.iter()
                                    .filter_map(|s| s.as_str().map(String::from))
                                    .collect()
                            })
                            .unwrap_or_default()
                    })
                    .collect()
            })
            .unwrap_or_default();
        ensure(
            enc.categories.as_ref() == Some(&cats),
            "categories_",
            format!(
                "expected {cats:?} (sorted, per column), got {:?}",
                enc.categories
            ),
        )?;
        close_array(
            "encoded training rows against scikit-learn",
            matrix(&f, "/one_hot/train_encoded").view(),
            enc.transform(train.view())
                .called("OneHotEncoder::transform")?
                .view(),
            Tol::abs(0.0),
        )?;
        close_array(
            "unknown `4th` with handle_unknown=ignore → zeros in its block",
            matrix(&f, "/one_hot/test_encoded_ignore").view(),
            enc.transform(test.view())
                .called("OneHotEncoder::transform")?
                .view(),
            Tol::abs(0.0),
        )?;
        enc.handle_unknown = HandleUnknown::Error;
        let msg = expect_err(
            "transform of the unknown category `4th` with handle_unknown=error",
            enc.transform(test.view()),
        )?;
        ensure(
            msg.contains("4th"),
            "unknown-category error",
            format!("should name the unknown value `4th`, says: {msg}"),
        )
    }
}

check! {
    fn pipeline_fits_on_train_only(exercise = "pipeline") {
        // Train and test with very different statistics: a pipeline that refits on the test rows,
        // or learns anything from them, gives a different output.
        let train = array![[1.0, 10.0], [f64::NAN, 20.0], [3.0, f64::NAN], [5.0, 40.0]];
        let test = array![[100.0, f64::NAN], [f64::NAN, -50.0]];
        let mut p = Pipeline::new()
            .then(SimpleImputer::new(ImputeStrategy::Mean))
            .then(StandardScaler::default());
        let train_out = p
            .fit_transform(train.view())
            .called("Pipeline::fit_transform")?;
        // By hand: means (3, 70/3); imputed train columns [1,3,3,5] and [10,20,70/3,40].
        let m = array![3.0, 70.0 / 3.0];
        let filled = array![[1.0, 10.0], [3.0, 20.0], [3.0, 70.0 / 3.0], [5.0, 40.0]];
        let sd = (&filled - &m)
            .mapv(|v| v * v)
            .mean_axis(Axis(0))
            .unwrap_or_default()
            .mapv(f64::sqrt);
        close_array(
            "pipeline output on the training rows",
            ((&filled - &m) / &sd).view(),
            train_out.view(),
            Tol::rel(1e-12).and_abs(1e-15),
        )?;
        let expected_test: Array2<f64> = (&array![[100.0, 70.0 / 3.0], [3.0, -50.0]] - &m) / &sd;
        let test_out = p.transform(test.view()).called("Pipeline::transform")?;
        close_array(
            "test rows, with the parameters learned on the training rows only",
            expected_test.view(),
            test_out.view(),
            Tol::rel(1e-12).and_abs(1e-15),
        )?;
        let again = p.transform(train.view()).called("Pipeline::transform")?;
        close_array(
            "training rows again, after transforming the test rows (nothing refitted)",
            train_out.view(),
            again.view(),
            Tol::rel(1e-12).and_abs(1e-15),
        )?;
        // The same on the real data, against scikit-learn's ColumnTransformer.
        let f = fixture("week03");
        let t = titanic()?;
        let labels: Vec<u8> = t.survived.iter().map(|&v| v as u8).collect();
        let (tr_idx, te_idx) = stratified_split(&labels, 0.2, 42).called("stratified_split")?;
        let (tr, te) = (t.select(&tr_idx), t.select(&te_idx));
        let mut prep = TitanicPreprocessor::default();
        prep.fit(tr.numeric.view(), tr.categorical.view())
            .called("TitanicPreprocessor::fit")?;
        let x_test = prep
            .transform(te.numeric.view(), te.categorical.view())
            .called("TitanicPreprocessor::transform")?;
        let head = x_test.slice(ndarray::s![..8, ..]).to_owned();
        close_array(
            "first 8 transformed test passengers against scikit-learn's ColumnTransformer",
            matrix(&f, "/titanic/x_test_head").view(),
            head.view(),
            Tol::rel(1e-9).and_abs(1e-12),
        )
    }
}

check! {
    fn sigmoid_is_stable(exercise = "sigmoid") {
        close("sigmoid(0)", 0.5, sigmoid(0.0), Tol::abs(0.0))?;
        close(
            "sigmoid(2)",
            1.0 / (1.0 + (-2.0f64).exp()),
            sigmoid(2.0),
            Tol::rel(1e-15),
        )?;
        close(
            "sigmoid(-2)",
            (-2.0f64).exp() / (1.0 + (-2.0f64).exp()),
            sigmoid(-2.0),
            Tol::rel(1e-15),
        )?;
        close("sigmoid(1000)", 1.0, sigmoid(1000.0), Tol::abs(0.0))?;
        let tiny = sigmoid(-700.0);
        close(
            "sigmoid(-700) = e^-700 / (1 + e^-700), not 0 or NaN",
            (-700.0f64).exp(),
            tiny,
            Tol::rel(1e-12),
        )?;
        ensure(
            sigmoid(-1000.0) == 0.0 || sigmoid(-1000.0).is_finite(),
            "sigmoid(-1000)",
            "must be finite",
        )
    }
}

check! {
    fn metrics_match_sklearn(exercise = "metrics") {
        let f = fixture("week03");
        let (t, p) = (nums(&f, "/metrics/y_true"), nums(&f, "/metrics/y_pred"));
        let m = binary_metrics(t.view(), p.view()).called("binary_metrics")?;
        close(
            "accuracy against accuracy_score",
            num(&f, "/metrics/accuracy"),
            m.accuracy,
            Tol::rel(1e-15),
        )?;
        close(
            "precision against precision_score",
            num(&f, "/metrics/precision"),
            m.precision,
            Tol::rel(1e-15),
        )?;
        close(
            "recall against recall_score",
            num(&f, "/metrics/recall"),
            m.recall,
            Tol::rel(1e-15),
        )?;
        let none = binary_metrics(array![1.0, 0.0].view(), array![0.0, 0.0].view())
            .called("binary_metrics")?;
        close(
            "precision when nothing is predicted positive (0, as zero_division=0)",
            0.0,
            none.precision,
            Tol::abs(0.0),
        )
    }
}

check! {
    fn logistic_regression_reaches_sklearns_loss_and_beats_the_baseline(exercise = "fit_logistic") {
        let f = fixture("week03");
        let t = titanic()?;
        let labels: Vec<u8> = t.survived.iter().map(|&v| v as u8).collect();
        let (tr_idx, te_idx) = stratified_split(&labels, 0.2, 42).called("stratified_split")?;
        let (tr, te) = (t.select(&tr_idx), t.select(&te_idx));
        let mut prep = TitanicPreprocessor::default();
        prep.fit(tr.numeric.view(), tr.categorical.view()).called("TitanicPreprocessor::fit")?;
        let x_train = prep.transform(tr.numeric.view(), tr.categorical.view()).called("transform")?;
        let x_test = prep.transform(te.numeric.view(), te.categorical.view()).called("transform")?;
        let (model, losses) = fit_logistic(x_train.view(), tr.survived.view(), 0.5, 2000).called("fit_logistic")?;
        ensure(losses.len() == 2001, "loss history", format!("should hold 2001 losses, holds {}", losses.len()))?;
        close("first loss (all-zero parameters) = ln 2", std::f64::consts::LN_2, losses[0], Tol::rel(1e-12))?;
        close("training log-loss against scikit-learn's unpenalised optimum", num(&f, "/titanic/sklearn_train_log_loss"), *losses.last().unwrap_or(&f64::NAN), Tol::rel(1e-3))?;
        let pred = model.predict(x_test.view()).called("predict")?;
        let acc = binary_metrics(te.survived.view(), pred.view()).called("binary_metrics")?.accuracy;
        let majority = majority_class(tr.survived.view()).called("majority_class")?;
        let base = binary_metrics(te.survived.view(), Array1::from_elem(te.len(), majority).view()).called("binary_metrics")?.accuracy;
        close("baseline accuracy against the fixtures script", num(&f, "/titanic/baseline_test_accuracy"), base, Tol::rel(1e-12))?;
        ensure(acc >= base + 0.10, "beats the baseline", format!("test accuracy {acc:.3} should beat the majority-class baseline {base:.3} by at least 10 points"))?;
        close("test accuracy against scikit-learn's LogisticRegression", num(&f, "/titanic/sklearn_test_accuracy"), acc, Tol::abs(0.02))
    }
}

check! {
    fn bad_input_returns_errors(exercise = "imputer") {
        let empty = Array1::<f64>::zeros(0);
        expect_err("mean of an empty column", mean(empty.view()))?;
        let all_missing = array![[1.0, f64::NAN], [2.0, f64::NAN]];
        let msg = expect_err(
            "SimpleImputer::fit on a column of all NaN",
            SimpleImputer::new(ImputeStrategy::Median).fit(all_missing.view()),
        )?;
        ensure(
            msg.contains("column 1"),
            "all-missing column",
            format!("should name column 1, says: {msg}"),
        )?;
        expect_err(
            "stratified_split with a class of one row",
            stratified_split(&[0, 0, 0, 1], 0.5, 1),
        )?;
        expect_err(
            "stratified_split with test_fraction 1.5",
            stratified_split(&[0, 0, 1, 1], 1.5, 1),
        )?;
        expect_err(
            "train_test_split with test_fraction -0.1",
            train_test_split(10, -0.1, 1),
        )?;
        expect_err(
            "StandardScaler::fit with NaN (impute first)",
            StandardScaler::default().fit(array![[f64::NAN]].view()),
        )?;
        expect_err(
            "fit_logistic with one class only",
            fit_logistic(
                array![[1.0], [2.0]].view(),
                array![1.0, 1.0].view(),
                0.1,
                10,
            ),
        )?;
        expect_err(
            "binary_metrics with a label 2",
            binary_metrics(array![2.0].view(), array![1.0].view()),
        )?;
        // A constant column has a defined result, not a division by zero:
        let mut s = StandardScaler::default();
        let out = s
            .fit_transform(array![[4.0], [4.0]].view())
            .called("StandardScaler on a constant column")?;
        close_array(
            "a constant column standardises to 0",
            array![[0.0], [0.0]].view(),
            out.view(),
            Tol::abs(0.0),
        )?;
        // And the imputer still works on good input, so that one that always errors fails here.
        let mut imp = SimpleImputer::new(ImputeStrategy::Median);
        let out = imp
            .fit_transform(array![[1.0], [f64::NAN], [3.0]].view())
            .called("SimpleImputer on good input")?;
        close_array(
            "median-imputed column",
            array![[1.0], [2.0], [3.0]].view(),
            out.view(),
            Tol::abs(0.0),
        )
    }
}
