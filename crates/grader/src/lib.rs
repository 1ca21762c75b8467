//! The grader: checks every lab against independent reference results.
//!
//! Each lab's checks sit beside it, in `labs/weekNN-slug/tests/grade.rs` (a test target named
//! `grade`); each [`check!`] in it is one *check*, a `#[test]` named once:
//!
//! ```no_run
//! use grader::{Tol, check, close};
//! check! {
//!     /// The dot product of two small vectors.
//!     fn dot_matches_numpy(exercise = "dot") {
//!         let got = 32.0; // the learner's function, called here
//!         close("dot([1,2,3], [4,5,6])", 32.0, got, Tol::rel(1e-12))
//!     }
//! }
//! ```
//!
//! `workbook grade weekNN` runs one lab's checks (`cargo test -p <lab> --test grade`), building
//! only what that lab needs; `cargo test -p grader` runs every lab's (`tests/every_lab.rs`).
//!
//! A check runs its body on its own thread under a time limit, so a looping exercise cannot hang
//! the grader; a `todo!()` or any panic in the learner's code becomes a failed check, not a crash.
//! Failure messages say which lab and check, what was expected and what came (for arrays: the
//! shapes, the largest absolute and relative errors and the first index that differs) and which
//! hint to read.

use ndarray::{ArrayView, Dimension};
use serde_json::Value;
use std::fmt::{Debug, Display};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

/// Why a check failed: what was compared and how it differed.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub what: String,
    pub detail: String,
}

impl Failure {
    pub fn new(what: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            what: what.into(),
            detail: detail.into(),
        }
    }
}

/// The result of a check's body.
pub type Outcome = Result<(), Failure>;

/// Tolerance of a numeric comparison: `|expected − got| ≤ abs + rel·|expected|`
/// (numpy's `isclose` rule).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tol {
    pub rel: f64,
    pub abs: f64,
}

impl Tol {
    pub fn rel(rel: f64) -> Self {
        Self { rel, abs: 0.0 }
    }
    pub fn abs(abs: f64) -> Self {
        Self { rel: 0.0, abs }
    }
    pub fn and_abs(self, abs: f64) -> Self {
        Self { abs, ..self }
    }
    fn allows(&self, expected: f64, got: f64) -> bool {
        if expected.is_nan() || got.is_nan() {
            return false;
        }
        expected == got || (expected - got).abs() <= self.abs + self.rel * expected.abs()
    }
}

impl Display for Tol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.rel > 0.0, self.abs > 0.0) {
            (true, true) => write!(f, "relative {:.0e} + absolute {:.0e}", self.rel, self.abs),
            (true, false) => write!(f, "relative {:.0e}", self.rel),
            (false, _) => write!(f, "absolute {:.0e}", self.abs),
        }
    }
}

/// Compares two numbers.
pub fn close(what: &str, expected: f64, got: f64, tol: Tol) -> Outcome {
    if tol.allows(expected, got) {
        return Ok(());
    }
    let abs = (expected - got).abs();
    let rel = abs / expected.abs();
    Err(Failure::new(
        what,
        format!(
            "expected {expected:.10e}\n  got      {got:.10e}\n  absolute error {abs:.2e}, relative error {rel:.2e} (allowed: {tol})"
        ),
    ))
}

/// Compares two arrays element by element: same shape, every element within `tol`.
pub fn close_array<D: Dimension>(
    what: &str,
    expected: ArrayView<f64, D>,
    got: ArrayView<f64, D>,
    tol: Tol,
) -> Outcome {
    let shape = |s: &[usize]| wb_core::shape_str(s);
    if expected.shape() != got.shape() {
        return Err(Failure::new(
            what,
            format!(
                "expected an array of shape {}\n  got one of shape      {}",
                shape(expected.shape()),
                shape(got.shape())
            ),
        ));
    }
    let mut first_bad = None;
    let (mut max_abs, mut max_rel) = (0.0_f64, 0.0_f64);
    for ((idx, &e), &g) in expected.indexed_iter().zip(got.iter()) {
        let abs = (e - g).abs();
        let abs = if abs.is_nan() { f64::INFINITY } else { abs };
        max_abs = max_abs.max(abs);
        if e != 0.0 {
            max_rel = max_rel.max(abs / e.abs());
        }
        if first_bad.is_none() && !tol.allows(e, g) {
            first_bad = Some((format!("{idx:?}"), e, g));
        }
    }
    match first_bad {
        None => Ok(()),
        Some((idx, e, g)) => Err(Failure::new(
            what,
            format!(
                "shape {} (as expected), but the values differ\n  largest absolute error {max_abs:.2e}, largest relative error {max_rel:.2e} (allowed: {tol})\n  first index that differs: {idx}: expected {e:.10e}, got {g:.10e}",
                shape(expected.shape())
            ),
        )),
    }
}

/// Fails with `detail` unless `condition` holds.
pub fn ensure(condition: bool, what: &str, detail: impl Into<String>) -> Outcome {
    if condition {
        Ok(())
    } else {
        Err(Failure::new(what, detail))
    }
}

/// Turns the learner's `Result` into the check's: an unexpected error fails the check and says
/// which call returned it.
pub trait Called<T> {
    fn called(self, call: &str) -> Result<T, Failure>;
}

impl<T, E: Display> Called<T> for Result<T, E> {
    fn called(self, call: &str) -> Result<T, Failure> {
        self.map_err(|e| {
            Failure::new(
                call,
                format!("returned an error where a result was expected:\n  {e}"),
            )
        })
    }
}

/// Expects `result` to be an error (bad input must be refused, not answered); returns its message.
pub fn expect_err<T: Debug, E: Display>(
    call: &str,
    result: Result<T, E>,
) -> Result<String, Failure> {
    match result {
        Err(e) => Ok(e.to_string()),
        Ok(v) => Err(Failure::new(
            call,
            format!("should have returned an error for this bad input, but returned Ok({v:?})"),
        )),
    }
}

/// One check of one lab.
#[derive(Debug, Clone)]
pub struct Check {
    lab: &'static str,
    name: &'static str,
    exercise: &'static str,
    timeout: Duration,
}

impl Check {
    /// `lab` is the week (`"week02"`), `name` the check, `exercise` the exercise whose hints help.
    pub fn new(lab: &'static str, name: &'static str, exercise: &'static str) -> Self {
        Self {
            lab,
            name,
            exercise,
            timeout: Duration::from_secs(60),
        }
    }

    /// The time limit of this check (60 s unless set).
    pub fn timeout(self, timeout: Duration) -> Self {
        Self { timeout, ..self }
    }

    /// Runs `body` on its own thread under the time limit and panics (fails the test) with a
    /// readable report if it fails, panics or runs out of time.
    pub fn run(self, body: impl FnOnce() -> Outcome + Send + 'static) {
        let (tx, rx) = mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name(format!("{}::{}", self.lab, self.name))
            .spawn(move || {
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body));
                let _ = tx.send(result);
            });
        if let Err(e) = spawned {
            panic!(
                "{}",
                self.report(
                    "(grader)",
                    &format!("could not start the check's thread: {e}")
                )
            );
        }
        let (what, detail) = match rx.recv_timeout(self.timeout) {
            Ok(Ok(Ok(()))) => return,
            Ok(Ok(Err(f))) => (f.what, f.detail),
            Ok(Err(panic)) => ("your code panicked".to_string(), panic_text(&*panic)),
            Err(_) => (
                "time limit".to_string(),
                format!(
                    "did not finish within {} s: is there a loop that never ends, or far too many iterations?",
                    self.timeout.as_secs_f64()
                ),
            ),
        };
        panic!("{}", self.report(&what, &detail));
    }

    fn report(&self, what: &str, detail: &str) -> String {
        let rule = "─".repeat(72);
        format!(
            "\n{rule}\n✗ {} · check `{}`\n  {what}\n  {detail}\n  hint: cargo run -p workbook -- hint {} {}\n{rule}\n",
            self.lab, self.name, self.lab, self.exercise
        )
    }
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    let msg = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    match msg.strip_prefix("not yet implemented: ") {
        Some(hint) => format!("this exercise is not done yet (todo!): {hint}"),
        None if msg == "not yet implemented" => "this exercise is not done yet (todo!)".to_string(),
        None => msg.to_string(),
    }
}

/// The lab's id (`week02`) from its package name (`week02-linreg`).
pub fn lab_id(package: &'static str) -> &'static str {
    package.split('-').next().unwrap_or(package)
}

/// The id (`week02`) of the lab whose checks call it.
#[macro_export]
macro_rules! this_lab {
    () => {
        $crate::lab_id(env!("CARGO_PKG_NAME"))
    };
}

/// One check: a `#[test]` named after the function, whose body returns an [`Outcome`], run by
/// [`Check::run`] on its own thread under a time limit (60 s, or `timeout_s`). `exercise` names
/// the exercise whose hints a failure points to.
///
/// ```no_run
/// use grader::{check, ensure};
/// check! {
///     /// A doc comment says what the check proves.
///     fn the_sum_is_right(exercise = "sum", timeout_s = 5) {
///         ensure(1 + 1 == 2, "1 + 1", "is 2")
///     }
/// }
/// ```
#[macro_export]
macro_rules! check {
    (
        $(#[$attr:meta])*
        fn $name:ident(exercise = $exercise:literal $(, timeout_s = $secs:expr)? $(,)?) $body:block
    ) => {
        $(#[$attr])*
        #[test]
        fn $name() {
            $crate::Check::new($crate::this_lab!(), stringify!($name), $exercise)
                $(.timeout(::std::time::Duration::from_secs($secs)))?
                .run(move || $body);
        }
    };
}

/// A candle tensor's values as an n-dimensional f64 array of the same shape, for
/// [`close_array`].
#[cfg(feature = "candle")]
pub fn tensor_values(t: &candle_core::Tensor) -> Result<ndarray::ArrayD<f64>, Failure> {
    let v: Vec<f64> = t
        .flatten_all()
        .and_then(|f| f.to_dtype(candle_core::DType::F64))
        .and_then(|f| f.to_vec1::<f64>())
        .called("reading a tensor")?;
    ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(t.dims()), v)
        .map_err(|e| Failure::new("tensor shape", e.to_string()))
}

/// The folder of the fixture files made by `fixtures/make_fixtures.py`: the first
/// `crates/grader/fixtures` above the current folder (cargo runs a lab's checks in the lab's
/// folder), else the one this crate was compiled in. Found at run time, so that a build shared
/// by two checkouts of the repository (one target folder) reads the fixtures of the one it runs in.
pub fn fixtures_dir() -> PathBuf {
    let here = std::env::current_dir().ok();
    here.iter()
        .flat_map(|d| d.ancestors())
        .map(|d| d.join("crates/grader/fixtures"))
        .find(|d| d.is_dir())
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures"))
}

/// Reads `fixtures/<name>.json`.
pub fn fixture(name: &str) -> Value {
    let path = fixtures_dir().join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e} (run `just fixtures`)", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not valid JSON: {e}", path.display()))
}

/// The number at `pointer` (a JSON pointer such as `/vectors/dot`) in a fixture.
pub fn num(v: &Value, pointer: &str) -> f64 {
    v.pointer(pointer)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("fixture has no number at {pointer}"))
}

/// The array of numbers at `pointer` in a fixture.
pub fn nums(v: &Value, pointer: &str) -> ndarray::Array1<f64> {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("fixture has no array at {pointer}"))
        .iter()
        .map(|x| {
            x.as_f64()
                .unwrap_or_else(|| panic!("non-number in {pointer}"))
        })
        .collect()
}

/// The matrix (array of equal-length arrays of numbers) at `pointer` in a fixture; `null`
/// becomes NaN, the way numpy writes a missing value.
pub fn matrix(v: &Value, pointer: &str) -> ndarray::Array2<f64> {
    let rows = v
        .pointer(pointer)
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("fixture has no array at {pointer}"));
    let width = rows.first().and_then(Value::as_array).map_or(0, Vec::len);
    let mut out = ndarray::Array2::zeros((rows.len(), width));
    for (i, row) in rows.iter().enumerate() {
        let row = row.as_array().filter(|r| r.len() == width);
        let row = row.unwrap_or_else(|| panic!("{pointer}: row {i} is not an array of {width}"));
        for (j, x) in row.iter().enumerate() {
            out[[i, j]] = if x.is_null() {
                f64::NAN
            } else {
                x.as_f64().unwrap_or_else(|| panic!("{pointer}[{i}][{j}]"))
            };
        }
    }
    out
}

/// The matrix of strings at `pointer` in a fixture.
pub fn strings(v: &Value, pointer: &str) -> ndarray::Array2<String> {
    let rows = v
        .pointer(pointer)
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("fixture has no array at {pointer}"));
    let width = rows.first().and_then(Value::as_array).map_or(0, Vec::len);
    let flat: Vec<String> = rows
        .iter()
        .flat_map(|r| r.as_array().cloned().unwrap_or_default())
        .map(|x| {
            x.as_str()
                .unwrap_or_else(|| panic!("{pointer}: not a string"))
                .to_string()
        })
        .collect();
    ndarray::Array2::from_shape_vec((rows.len(), width), flat)
        .unwrap_or_else(|e| panic!("{pointer}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn close_reports_both_values_and_the_tolerance() {
        assert!(close("x", 1.0, 1.0 + 1e-9, Tol::rel(1e-6)).is_ok());
        let f = close("x", 1.0, 1.1, Tol::rel(1e-6)).unwrap_err();
        assert!(
            f.detail
                .contains("relative error 1.00e-1 (allowed: relative 1e-6)"),
            "{}",
            f.detail
        );
        assert!(close("nan", 1.0, f64::NAN, Tol::abs(1.0)).is_err());
    }

    #[test]
    fn close_array_reports_shape_errors_and_first_index() {
        let e = array![[1.0, 2.0], [3.0, 4.0]];
        let f = close_array("m", e.view(), array![[1.0, 2.0]].view(), Tol::rel(1e-9)).unwrap_err();
        assert!(
            f.detail.contains("shape [2, 2]") && f.detail.contains("shape      [1, 2]"),
            "{}",
            f.detail
        );
        let g = array![[1.0, 2.0], [3.5, 4.0]];
        let f = close_array("m", e.view(), g.view(), Tol::rel(1e-9)).unwrap_err();
        assert!(
            f.detail.contains("first index that differs: (1, 0)"),
            "{}",
            f.detail
        );
        assert!(
            f.detail.contains("largest absolute error 5.00e-1"),
            "{}",
            f.detail
        );
        assert!(close_array("m", e.view(), e.view(), Tol::rel(0.0)).is_ok());
    }

    #[test]
    fn a_passing_check_returns() {
        Check::new("week00", "passes", "none").run(|| Ok(()));
    }

    #[test]
    #[should_panic(expected = "this exercise is not done yet (todo!): write the dot product")]
    fn a_todo_becomes_a_readable_failure() {
        Check::new("week00", "todo", "dot").run(|| todo!("write the dot product"));
    }

    #[test]
    #[should_panic(expected = "did not finish within 0.2 s")]
    fn a_loop_is_stopped_by_the_time_limit() {
        Check::new("week00", "loops", "none")
            .timeout(Duration::from_millis(200))
            .run(|| {
                loop {
                    std::thread::sleep(Duration::from_millis(50));
                }
            });
    }

    #[test]
    #[should_panic(expected = "hint: cargo run -p workbook -- hint week00 ex")]
    fn a_failure_names_lab_check_and_hint() {
        Check::new("week00", "fails", "ex").run(|| close("v", 1.0, 2.0, Tol::abs(0.1)));
    }
}
