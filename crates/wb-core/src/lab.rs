//! Small helpers the labs use: timings, paths in reports, the shared command-line checks, and
//! train-only standardisation (the lab harness itself is the `wb-lab` crate). Never the answer to an exercise: weeks 2
//! and 3 ask the learner to write standardisation; later labs use this one.

use crate::{MlError, Result};
use ndarray::{Array2, Axis};
use std::path::Path;
use std::time::Instant;

/// Milliseconds since `start`.
pub fn elapsed_ms(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1e3
}

/// The median wall time of `f`, in milliseconds, over `reps` runs (at least one) after
/// `warmups` runs that are not timed (caches, allocator and thread pools settle in them).
pub fn median_ms<E>(
    warmups: usize,
    reps: usize,
    mut f: impl FnMut() -> std::result::Result<(), E>,
) -> std::result::Result<f64, E> {
    for _ in 0..warmups {
        f()?;
    }
    let mut times = Vec::with_capacity(reps.max(1));
    for _ in 0..reps.max(1) {
        let t = Instant::now();
        f()?;
        times.push(elapsed_ms(t));
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

/// `path` relative to the current folder when it lies below it (shorter, and the same on every
/// machine), else as given.
pub fn display_path(path: &Path) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    path.strip_prefix(&cwd)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Fails unless `value` is strictly between 0 and 1 (a test fraction, for example), naming the
/// command-line option.
pub fn check_open_fraction(option: &str, value: f64) -> Result<()> {
    if value > 0.0 && value < 1.0 {
        Ok(())
    } else {
        Err(MlError::InvalidArgument {
            arg: option.into(),
            detail: format!("must be strictly between 0 and 1, got {value}"),
        })
    }
}

/// Standardises `train` and `test` with the training rows' column means and population standard
/// deviations (a constant column gets scale 1).
///
/// train: [n, d], test: [m, d] → ([n, d], [m, d])
pub fn standardise_with_train(
    train: &Array2<f64>,
    test: &Array2<f64>,
) -> Result<(Array2<f64>, Array2<f64>)> {
    crate::check_data("train", train)?;
    crate::check_len(
        "test (columns)",
        test.ncols(),
        train.ncols(),
        "the columns of train",
    )?;
    let mean = train.mean_axis(Axis(0)).unwrap_or_default();
    let sd = train
        .std_axis(Axis(0), 0.0)
        .mapv(|s| if s > 0.0 { s } else { 1.0 });
    Ok(((train - &mean) / &sd, (test - &mean) / &sd))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn median_ms_counts_the_runs_and_passes_errors_on() {
        let mut calls = 0;
        let ms = median_ms::<()>(2, 5, || {
            calls += 1;
            std::thread::sleep(std::time::Duration::from_millis(if calls == 3 {
                200
            } else {
                1
            }));
            Ok(())
        })
        .unwrap();
        assert_eq!(calls, 7, "2 warm-ups + 5 timed runs");
        // One slow run of the five timed ones does not move the median.
        assert!((1.0..200.0).contains(&ms), "{ms}");
        let mut n = 0;
        let err = median_ms(0, 5, || {
            n += 1;
            if n == 2 {
                Err("second run failed")
            } else {
                Ok(())
            }
        });
        assert_eq!(err, Err("second run failed"));
        assert_eq!(n, 2, "stops at the first error");
    }

    #[test]
    fn helpers() {
        assert!(check_open_fraction("--test-fraction", 0.5).is_ok());
        let err = check_open_fraction("--test-fraction", 1.5)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "invalid `--test-fraction`: must be strictly between 0 and 1, got 1.5"
        );
        let (a, b) =
            standardise_with_train(&array![[1.0, 5.0], [3.0, 5.0]], &array![[5.0, 6.0]]).unwrap();
        assert_eq!(a, array![[-1.0, 0.0], [1.0, 0.0]]);
        assert_eq!(b, array![[3.0, 1.0]]);
        assert!(standardise_with_train(&array![[1.0]], &array![[1.0, 2.0]]).is_err());
    }
}
