//! Grader checks for week 6: metrics, curves and cross-validation.
//!
//! References: `fixtures/week06.json` (scikit-learn 1.9 on fixed arrays, made by
//! `fixtures/make_fixtures.py`) and hand-worked cases.

use grader::{
    Called, Failure, Tol, check, close, close_array, ensure, expect_err, fixture, matrix, num, nums,
};
use ndarray::{Array1, Array2, array};
use serde_json::Value;
use week06_evaluation::curves::{
    auc_pairs_naive, auc_rank, auc_trapezoid, precision_recall, roc_curve,
};
use week06_evaluation::cv::{kfold, stratified_kfold};
use week06_evaluation::metrics::{
    Average, averaged_scores, confusion_matrix, log_loss, per_class_scores, regression_scores,
};

fn labels(v: &Value, pointer: &str) -> Vec<usize> {
    nums(v, pointer).iter().map(|&x| x as usize).collect()
}

fn flags(v: &Value, pointer: &str) -> Vec<bool> {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .map(|a| a.iter().map(|b| b.as_bool().unwrap_or(false)).collect())
        .unwrap_or_default()
}

check! {
    fn confusion_matrix_matches_sklearn(exercise = "confusion") {
        let f = fixture("week06");
        let m = confusion_matrix(
            &labels(&f, "/multiclass/y_true"),
            &labels(&f, "/multiclass/y_pred"),
            3,
        )
        .called("confusion_matrix")?;
        let got: Array2<f64> = m.mapv(|v| v as f64);
        close_array(
            "confusion matrix (rows: truth) against sklearn",
            matrix(&f, "/multiclass/confusion_matrix").view(),
            got.view(),
            Tol::abs(0.0),
        )
    }
}

check! {
    fn precision_recall_f1_match_sklearn(exercise = "scores") {
        let f = fixture("week06");
        let (t, p) = (
            labels(&f, "/multiclass/y_true"),
            labels(&f, "/multiclass/y_pred"),
        );
        let per = per_class_scores(&t, &p, 3).called("per_class_scores")?;
        let col = |g: fn(&week06_evaluation::metrics::ClassScores) -> f64| {
            per.iter().map(g).collect::<Array1<f64>>()
        };
        close_array(
            "precision per class",
            nums(&f, "/multiclass/precision").view(),
            col(|s| s.precision).view(),
            Tol::rel(1e-12),
        )?;
        close_array(
            "recall per class",
            nums(&f, "/multiclass/recall").view(),
            col(|s| s.recall).view(),
            Tol::rel(1e-12),
        )?;
        close_array(
            "F1 per class",
            nums(&f, "/multiclass/f1").view(),
            col(|s| s.f1).view(),
            Tol::rel(1e-12),
        )?;
        close_array(
            "support per class",
            nums(&f, "/multiclass/support").view(),
            col(|s| s.support as f64).view(),
            Tol::abs(0.0),
        )?;
        for (name, avg) in [
            ("macro", Average::Macro),
            ("micro", Average::Micro),
            ("weighted", Average::Weighted),
        ] {
            let (a, b, c) = averaged_scores(&t, &p, 3, avg).called("averaged_scores")?;
            close_array(
                &format!("{name}-averaged (precision, recall, F1)"),
                nums(&f, &format!("/multiclass/averages/{name}")).view(),
                array![a, b, c].view(),
                Tol::rel(1e-12),
            )?;
        }
        Ok(())
    }
}

check! {
    fn roc_curve_and_auc_match_sklearn(exercise = "roc") {
        let f = fixture("week06");
        let (y, s) = (flags(&f, "/binary/y"), nums(&f, "/binary/scores"));
        let roc = roc_curve(&y, s.view()).called("roc_curve")?;
        close_array(
            "FPR at every threshold (drop_intermediate=False)",
            nums(&f, "/binary/roc_fpr").view(),
            Array1::from(roc.x.clone()).view(),
            Tol::rel(1e-12),
        )?;
        close_array(
            "TPR at every threshold",
            nums(&f, "/binary/roc_tpr").view(),
            Array1::from(roc.y.clone()).view(),
            Tol::rel(1e-12),
        )?;
        ensure(
            roc.thresholds.first() == Some(&f64::INFINITY),
            "first threshold",
            "must be +∞ (nothing called positive)",
        )?;
        close_array(
            "the other thresholds",
            nums(&f, "/binary/roc_thresholds_after_inf").view(),
            Array1::from(roc.thresholds[1..].to_vec()).view(),
            Tol::rel(1e-12),
        )?;
        close(
            "AUC by trapezoids against roc_auc_score",
            num(&f, "/binary/roc_auc"),
            auc_trapezoid(&roc).called("auc_trapezoid")?,
            Tol::rel(1e-12),
        )
    }
}

check! {
    fn rank_auc_equals_trapezoid_auc(exercise = "auc_rank") {
        let f = fixture("week06");
        let (y, s) = (flags(&f, "/binary/y"), nums(&f, "/binary/scores"));
        close(
            "AUC by the rank formula (scores with ties) against roc_auc_score",
            num(&f, "/binary/roc_auc"),
            auc_rank(&y, s.view()).called("auc_rank")?,
            Tol::rel(1e-12),
        )?;
        close(
            "AUC by ranks against comparing every pair",
            auc_pairs_naive(&y, s.view()).called("auc_pairs_naive")?,
            auc_rank(&y, s.view()).called("auc_rank")?,
            Tol::rel(1e-12),
        )?;
        let flat = Array1::from_elem(y.len(), 0.5);
        close(
            "all-identical scores: AUC 0.5 (a defined result: no ranking at all)",
            0.5,
            auc_rank(&y, flat.view()).called("auc_rank")?,
            Tol::abs(0.0),
        )
    }
}

check! {
    fn average_precision_matches_sklearn(exercise = "pr") {
        let f = fixture("week06");
        let (y, s) = (flags(&f, "/binary/y"), nums(&f, "/binary/scores"));
        let (curve, ap) = precision_recall(&y, s.view()).called("precision_recall")?;
        close(
            "average precision against average_precision_score",
            num(&f, "/binary/average_precision"),
            ap,
            Tol::rel(1e-12),
        )?;
        ensure(
            curve.x.windows(2).all(|w| w[1] >= w[0]) && curve.x.last() == Some(&1.0),
            "recall",
            "must rise to 1 as the threshold falls",
        )
    }
}

check! {
    fn log_loss_and_regression_metrics_match_sklearn(exercise = "regression") {
        let f = fixture("week06");
        let y: Vec<usize> = flags(&f, "/binary/y")
            .into_iter()
            .map(usize::from)
            .collect();
        close(
            "log loss against sklearn.metrics.log_loss",
            num(&f, "/binary/log_loss"),
            log_loss(&y, nums(&f, "/binary/prob").view()).called("log_loss")?,
            Tol::rel(1e-12),
        )?;
        let r = regression_scores(
            nums(&f, "/regression/y").view(),
            nums(&f, "/regression/y_hat").view(),
        )
        .called("regression_scores")?;
        close("MAE", num(&f, "/regression/mae"), r.mae, Tol::rel(1e-12))?;
        close("RMSE", num(&f, "/regression/rmse"), r.rmse, Tol::rel(1e-12))?;
        close("R²", num(&f, "/regression/r2"), r.r2, Tol::rel(1e-12))
    }
}

check! {
    fn folds_partition_the_rows_and_keep_strata(exercise = "kfold") {
        let f = fixture("week06");
        let folds = kfold(23, 5, None).called("kfold")?;
        let expected: Vec<Vec<usize>> = f["kfold_23_5_test"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|t| {
                        t.as_array()
                            .map(|v| v.iter().map(|i| i.as_u64().unwrap_or(0) as usize).collect())
                            .unwrap_or_default()
                    })
                    .collect()
            })
            .unwrap_or_default();
        let got: Vec<Vec<usize>> = folds.iter().map(|(_, t)| t.clone()).collect();
        ensure(
            got == expected,
            "unshuffled 5-fold test rows of 23",
            format!("expected {expected:?} (sklearn KFold), got {got:?}"),
        )?;
        let labels: Vec<usize> = (0..103).map(|i| usize::from(i % 3 == 0)).collect();
        for (name, folds) in [
            ("kfold", kfold(103, 4, Some(9)).called("kfold")?),
            (
                "stratified_kfold",
                stratified_kfold(&labels, 4, Some(9)).called("stratified_kfold")?,
            ),
        ] {
            let mut seen = vec![0; 103];
            for (train, test) in &folds {
                ensure(
                    train.len() + test.len() == 103 && !test.is_empty(),
                    name,
                    "each fold splits all the rows, with a non-empty test part",
                )?;
                ensure(
                    train.iter().all(|i| !test.contains(i)),
                    name,
                    "train and test of a fold must not overlap",
                )?;
                for &i in test {
                    seen[i] += 1;
                }
            }
            ensure(
                seen.iter().all(|&c| c == 1),
                name,
                "every row must be tested exactly once across the folds",
            )?;
        }
        let positives = labels.iter().sum::<usize>() as f64;
        for (_, test) in stratified_kfold(&labels, 4, Some(9)).called("stratified_kfold")? {
            let p = test.iter().filter(|&&i| labels[i] == 1).count() as f64;
            ensure(
                (p - positives / 4.0).abs() <= 1.0,
                "stratification",
                format!(
                    "a fold holds {p} positives; the exact share is {:.2}",
                    positives / 4.0
                ),
            )?;
        }
        Ok(())
    }
}

check! {
    fn bad_input_returns_errors(exercise = "confusion") {
        expect_err(
            "confusion_matrix of empty arrays",
            confusion_matrix(&[], &[], 2),
        )?;
        expect_err(
            "confusion_matrix with 3 predictions for 2 labels",
            confusion_matrix(&[0, 1], &[0, 1, 1], 2),
        )?;
        expect_err(
            "roc_curve with only positives",
            roc_curve(&[true, true], array![0.2, 0.4].view()),
        )?;
        expect_err(
            "auc_rank with NaN scores",
            auc_rank(&[true, false], array![f64::NAN, 0.1].view()),
        )?;
        expect_err(
            "regression_scores of empty arrays",
            regression_scores(
                Array1::<f64>::zeros(0).view(),
                Array1::<f64>::zeros(0).view(),
            ),
        )?;
        expect_err(
            "kfold with more folds than rows (an empty fold)",
            kfold(3, 4, None),
        )?;
        expect_err(
            "stratified_kfold with a class smaller than k",
            stratified_kfold(&[0, 0, 0, 1], 2, None),
        )?;
        let m = confusion_matrix(&[0, 1], &[1, 1], 2).called("confusion_matrix on good input")?;
        ensure(
            m == array![[0, 1], [0, 1]],
            "good input",
            format!("[[0, 1], [0, 1]] expected, got {m:?}"),
        )
        .map_err(|e: Failure| e)
    }
}
