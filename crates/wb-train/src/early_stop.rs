//! Early stopping: stop when a validation metric has not improved for `patience` evaluations.

use wb_core::{MlError, Result};

/// Whether a smaller or a larger metric is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    /// A loss: smaller is better.
    Minimise,
    /// An accuracy: larger is better.
    Maximise,
}

/// What [`EarlyStopping::update`] decided about the latest evaluation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StopDecision {
    /// A new best value (save a checkpoint of this model).
    Improved,
    /// No improvement by more than `min_delta`, `bad` evaluations in a row; keep going.
    Wait { bad: usize },
    /// `patience` evaluations in a row without improvement: stop and restore the best model.
    Stop,
}

/// Tracks the best value of a metric; an evaluation improves on it when it beats it by more than
/// `min_delta` (as Keras' `EarlyStopping` and PyTorch Lightning's do).
#[derive(Debug, Clone, PartialEq)]
pub struct EarlyStopping {
    goal: Goal,
    patience: usize,
    min_delta: f64,
    best: Option<f64>,
    best_at: usize,
    bad: usize,
    seen: usize,
}

impl EarlyStopping {
    pub fn new(goal: Goal, patience: usize, min_delta: f64) -> Result<Self> {
        if patience == 0 {
            return Err(MlError::InvalidArgument {
                arg: "patience".to_string(),
                detail: "expected at least 1 evaluation, got 0".to_string(),
            });
        }
        if !min_delta.is_finite() || min_delta < 0.0 {
            return Err(MlError::InvalidArgument {
                arg: "min_delta".to_string(),
                detail: format!("expected a finite value >= 0, got {min_delta}"),
            });
        }
        Ok(Self {
            goal,
            patience,
            min_delta,
            best: None,
            best_at: 0,
            bad: 0,
            seen: 0,
        })
    }

    /// Records one evaluation. A NaN or infinite metric is an error (the run has diverged).
    pub fn update(&mut self, value: f64) -> Result<StopDecision> {
        if !value.is_finite() {
            return Err(MlError::Diverged(format!(
                "the monitored metric is {value} at evaluation {}",
                self.seen
            )));
        }
        let index = self.seen;
        self.seen += 1;
        let improved = match (self.best, self.goal) {
            (None, _) => true,
            (Some(b), Goal::Minimise) => value < b - self.min_delta,
            (Some(b), Goal::Maximise) => value > b + self.min_delta,
        };
        if improved {
            self.best = Some(value);
            self.best_at = index;
            self.bad = 0;
            return Ok(StopDecision::Improved);
        }
        self.bad += 1;
        Ok(if self.bad >= self.patience {
            StopDecision::Stop
        } else {
            StopDecision::Wait { bad: self.bad }
        })
    }

    /// The best value so far and the (0-based) evaluation that gave it.
    pub fn best(&self) -> Option<(f64, usize)> {
        self.best.map(|b| (b, self.best_at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_after_patience_evaluations_without_improvement() {
        let mut es = EarlyStopping::new(Goal::Minimise, 2, 0.01).unwrap();
        let losses = [1.0, 0.8, 0.795, 0.7, 0.71, 0.70];
        let got: Vec<StopDecision> = losses.iter().map(|&l| es.update(l).unwrap()).collect();
        use StopDecision::*;
        // 0.795 is better than 0.8 but not by more than min_delta.
        assert_eq!(
            got,
            [
                Improved,
                Improved,
                Wait { bad: 1 },
                Improved,
                Wait { bad: 1 },
                Stop
            ]
        );
        assert_eq!(es.best(), Some((0.7, 3)));
    }

    #[test]
    fn maximising_an_accuracy() {
        let mut es = EarlyStopping::new(Goal::Maximise, 1, 0.0).unwrap();
        assert_eq!(es.update(0.9).unwrap(), StopDecision::Improved);
        assert_eq!(es.update(0.95).unwrap(), StopDecision::Improved);
        assert_eq!(es.update(0.95).unwrap(), StopDecision::Stop);
    }

    #[test]
    fn nan_is_divergence_and_bad_arguments_are_named() {
        let mut es = EarlyStopping::new(Goal::Minimise, 3, 0.0).unwrap();
        es.update(1.0).unwrap();
        let e = es.update(f64::NAN).unwrap_err().to_string();
        assert!(e.contains("diverged") && e.contains("evaluation 1"), "{e}");
        let e = EarlyStopping::new(Goal::Minimise, 0, 0.0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("patience"), "{e}");
    }
}
