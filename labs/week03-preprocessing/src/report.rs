//! The report of the lab: its typed results (the JSON of `--json`) and how they read (`Display`).

use serde::Serialize;
use std::fmt;

#[derive(Serialize)]
pub struct Report {
    pub seed: u64,
    pub test_fraction: f64,
    pub n: usize,
    pub survivors: usize,
    pub age_statistics: AgeStatistics,
    pub central_limit_theorem: Vec<CltRow>,
    pub split: Splits,
    pub features: Vec<String>,
    pub model: Model,
    pub baseline: Baseline,
    pub accuracy_gain_over_baseline: f64,
    pub errors_by_group: Vec<GroupErrors>,
    #[serde(skip)]
    pub ms: Timings,
}

#[derive(Serialize)]
pub struct AgeStatistics {
    pub n_with_age: usize,
    pub n_missing_age: usize,
    pub mean: f64,
    pub median: f64,
    pub variance_population: f64,
    pub variance_sample: f64,
    pub std_sample: f64,
    pub quantiles: Vec<Quantile>,
    pub covariance_age_sibsp: f64,
    pub correlation_age_sibsp: f64,
    pub correlation_age_parch: f64,
}

#[derive(Serialize)]
pub struct Quantile {
    pub q: f64,
    pub value: f64,
}

#[derive(Serialize)]
pub struct CltRow {
    pub n: usize,
    pub mean_of_means: f64,
    pub std_of_means: f64,
    pub theory: f64,
}

#[derive(Serialize)]
pub struct Splits {
    pub random: SplitRow,
    pub stratified: SplitRow,
}

#[derive(Serialize)]
pub struct SplitRow {
    pub train: usize,
    pub test: usize,
    pub survival_train: f64,
    pub survival_test: f64,
}

#[derive(Serialize)]
pub struct Model {
    pub learning_rate: f64,
    pub iterations: usize,
    pub weights: Vec<f64>,
    pub intercept: f64,
    pub first_train_log_loss: f64,
    pub train_log_loss: f64,
    pub test_log_loss: f64,
    pub test: Metrics,
}

#[derive(Serialize)]
pub struct Baseline {
    pub predicts: f64,
    pub test: Metrics,
}

#[derive(Serialize)]
pub struct Metrics {
    pub accuracy: f64,
    pub precision: f64,
    pub recall: f64,
    pub tp: usize,
    pub fp: usize,
    pub tn: usize,
    #[serde(rename = "fn")]
    pub fn_: usize,
}

#[derive(Serialize)]
pub struct GroupErrors {
    pub group: String,
    pub rows: usize,
    pub errors: usize,
    pub survivors: usize,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.n;
        writeln!(
            f,
            "Data: datasets/tabular/titanic.csv — {n} passengers, {} survived ({})",
            self.survivors,
            pct(self.survivors as f64 / n.max(1) as f64)
        )?;
        let stats = &self.age_statistics;
        writeln!(
            f,
            "      {} ages missing; columns: pclass, sex (categories), age, sibsp, parch (numbers)\n",
            stats.n_missing_age
        )?;
        writeln!(
            f,
            "1. Statistics of the {} known ages ({:.2} ms)",
            stats.n_with_age, self.ms.statistics
        )?;
        writeln!(
            f,
            "   mean {:.2}, median {:.2} years",
            stats.mean, stats.median
        )?;
        writeln!(
            f,
            "   variance: population {:.2}, sample {:.2} (divides by n − 1; the gap shrinks as n grows)",
            stats.variance_population, stats.variance_sample
        )?;
        writeln!(
            f,
            "   standard deviation (sample) {:.2} years",
            stats.std_sample
        )?;
        let qline: Vec<String> = stats
            .quantiles
            .iter()
            .map(|q| format!("{}%: {:.1}", q.q * 100.0, q.value))
            .collect();
        writeln!(
            f,
            "   quantiles (numpy's linear rule): {}",
            qline.join(", ")
        )?;
        writeln!(
            f,
            "   correlation of age with siblings/spouses aboard {:+.3}, with parents/children {:+.3}\n",
            stats.correlation_age_sibsp, stats.correlation_age_parch
        )?;

        writeln!(
            f,
            "2. Central limit theorem: means of n draws from Exponential(1), 4000 times each"
        )?;
        writeln!(
            f,
            "   {:>4}  {:>13}  {:>12}  {:>12}",
            "n", "mean of means", "sd of means", "theory 1/√n"
        )?;
        for r in &self.central_limit_theorem {
            let (s, m, sd, th) = (r.n, r.mean_of_means, r.std_of_means, r.theory);
            writeln!(f, "   {s:>4}  {m:>13.3}  {sd:>12.3}  {th:>12.3}")?;
        }
        writeln!(
            f,
            "   The draws are skewed, yet their means pile up in a bell around 1 that narrows like 1/√n.\n"
        )?;

        writeln!(
            f,
            "3. Train/test split, test fraction {} (seed {})",
            self.test_fraction, self.seed
        )?;
        writeln!(
            f,
            "   {:<11} {:>6} {:>6}  {:>14}  {:>13}",
            "", "train", "test", "survival train", "survival test"
        )?;
        for (name, r) in [
            ("random", &self.split.random),
            ("stratified", &self.split.stratified),
        ] {
            writeln!(
                f,
                "   {:<11} {:>6} {:>6}  {:>14}  {:>13}",
                name,
                r.train,
                r.test,
                pct(r.survival_train),
                pct(r.survival_test)
            )?;
        }
        writeln!(
            f,
            "   Stratifying keeps the survival rate equal in both parts. The model below uses the stratified"
        )?;
        writeln!(
            f,
            "   split, fits everything on the training rows, and looks at the test rows once, at the end.\n"
        )?;

        writeln!(
            f,
            "4. Preprocessing, fitted on the {} training rows ({:.2} ms)",
            self.split.stratified.train, self.ms.preprocessing
        )?;
        writeln!(
            f,
            "   age: missing values → the training median; age, sibsp, parch → standardised"
        )?;
        writeln!(
            f,
            "   pclass, sex → one-hot; {} features: {}\n",
            self.features.len(),
            self.features.join(", ")
        )?;

        let m = &self.model;
        writeln!(
            f,
            "5. Logistic regression from scratch, lr {}, {} iterations ({:.1} ms)",
            m.learning_rate, m.iterations, self.ms.fit
        )?;
        writeln!(
            f,
            "   training log-loss {:.4} → {:.4}; test log-loss {:.4}",
            m.first_train_log_loss, m.train_log_loss, m.test_log_loss
        )?;
        writeln!(
            f,
            "   {:<26} {:>9} {:>10} {:>7}",
            "on the test set", "accuracy", "precision", "recall"
        )?;
        let base = &self.baseline;
        let always = if base.predicts == 1.0 {
            "survived"
        } else {
            "died"
        };
        for (name, r) in [
            (format!("baseline (always \"{always}\")"), &base.test),
            ("logistic regression".to_string(), &m.test),
        ] {
            writeln!(
                f,
                "   {:<26} {:>9} {:>10} {:>7}",
                name,
                pct(r.accuracy),
                pct(r.precision),
                pct(r.recall)
            )?;
        }
        writeln!(
            f,
            "   The model beats the baseline by {:.1} accuracy points.",
            100.0 * self.accuracy_gain_over_baseline
        )?;
        writeln!(
            f,
            "   Confusion: {} survivors found, {} missed; {} deaths right, {} predicted to survive.\n",
            m.test.tp, m.test.fn_, m.test.tn, m.test.fp
        )?;

        writeln!(f, "6. Where are the errors? Test rows by class and sex")?;
        writeln!(
            f,
            "   {:<12} {:>5} {:>9} {:>7}",
            "group", "rows", "survived", "errors"
        )?;
        for g in &self.errors_by_group {
            let survived = pct(g.survivors as f64 / g.rows as f64);
            writeln!(
                f,
                "   {:<12} {:>5} {survived:>9} {:>7}",
                g.group, g.rows, g.errors
            )?;
        }
        writeln!(
            f,
            "   The model learned \"women and the first class survive\": its errors are the groups where that"
        )?;
        writeln!(
            f,
            "   rule is closest to a coin toss (women in third class) and the men who survived against it."
        )
    }
}

pub fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

#[derive(Default)]
pub struct Timings {
    pub statistics: f64,
    pub preprocessing: f64,
    pub fit: f64,
}
