//! The life of a model in production as an explicit state machine: each stage says what may
//! happen next, and anything else is refused with a reason. A model cannot reach users without
//! an evaluation, cannot be promoted without an online test, and every step is kept in a history
//! (who did what, when, why): the questions an incident review asks.

use serde::Serialize;
use std::fmt;
use thiserror::Error;

/// Where a model version is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Stage {
    /// A dataset is frozen (hashed) for training.
    Data,
    /// A model was fitted on it.
    Trained,
    /// Its offline metrics on held-out data are known.
    Evaluated,
    /// It passed the offline gate and is stored as a candidate version.
    Registered,
    /// It serves a share of live traffic in an online test against production.
    Testing,
    /// It serves everyone; monitoring watches it.
    Production,
    /// Out of service for good.
    Retired,
}

/// What can happen to a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Event {
    Train,
    Evaluate,
    /// The offline gate passed: keep it as a candidate.
    Register,
    /// The offline gate failed: back to the data (features, labels, more rows).
    Reject,
    /// Start the online A/B test.
    StartTest,
    /// The online test won: serve it to everyone.
    Promote,
    /// The online test lost or production misbehaves: take it off live traffic.
    RollBack,
    /// Monitoring saw the data drift: train again on fresh data.
    Drift,
    Retire,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// An event that the current stage does not allow.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("`{event}` is not allowed in stage `{from}`: it needs a model in {needs}")]
pub struct IllegalTransition {
    pub from: Stage,
    pub event: Event,
    /// The stages that allow `event`, in words.
    pub needs: String,
}

// ANCHOR: next
/// The stage after `event` in stage `from`, or the refusal.
pub fn next(from: Stage, event: Event) -> Result<Stage, IllegalTransition> {
    use Event::*;
    use Stage::*;
    // BEGIN SOLUTION next
    let to = match (from, event) {
        (Data, Train) => Trained,
        (Trained, Evaluate) => Evaluated,
        (Evaluated, Register) => Registered,
        (Evaluated, Reject) => Data,
        (Registered, StartTest) => Testing,
        (Testing, Promote) => Production,
        (Testing | Production, RollBack) => Registered,
        (Production, Drift) => Data,
        (Registered | Production, Retire) => Retired,
        _ => return Err(illegal(from, event)),
    };
    Ok(to)
    // END SOLUTION
}
// ANCHOR_END: next

/// The refusal of `event` in `from`, naming the stages that allow it.
pub fn illegal(from: Stage, event: Event) -> IllegalTransition {
    let needs = ALL_STAGES
        .iter()
        .filter(|s| allowed(**s, event))
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(" or ");
    IllegalTransition { from, event, needs }
}

/// Every stage, in the order of a model's life.
pub const ALL_STAGES: [Stage; 7] = [
    Stage::Data,
    Stage::Trained,
    Stage::Evaluated,
    Stage::Registered,
    Stage::Testing,
    Stage::Production,
    Stage::Retired,
];

/// Every event.
pub const ALL_EVENTS: [Event; 9] = [
    Event::Train,
    Event::Evaluate,
    Event::Register,
    Event::Reject,
    Event::StartTest,
    Event::Promote,
    Event::RollBack,
    Event::Drift,
    Event::Retire,
];

/// The table of the machine, written out once for the error messages (the grader checks that
/// `next` agrees with it).
fn allowed(from: Stage, event: Event) -> bool {
    use Event::*;
    use Stage::*;
    matches!(
        (from, event),
        (Data, Train)
            | (Trained, Evaluate)
            | (Evaluated, Register | Reject)
            | (Registered, StartTest | Retire)
            | (Testing, Promote | RollBack)
            | (Production, RollBack | Drift | Retire)
    )
}

/// One step of a model's history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    pub from: Stage,
    pub event: Event,
    pub to: Stage,
    /// Why, with the evidence (metrics, p-values).
    pub reason: String,
}

/// A model version and its history.
#[derive(Debug, Clone, Serialize)]
pub struct Lifecycle {
    pub model: String,
    pub stage: Stage,
    pub history: Vec<Step>,
}

impl Lifecycle {
    /// A new version, at `Data`.
    pub fn new(model: &str) -> Self {
        Self {
            model: model.to_string(),
            stage: Stage::Data,
            history: Vec::new(),
        }
    }

    /// Applies `event`, recording `reason`; a refused event changes nothing.
    pub fn apply(&mut self, event: Event, reason: &str) -> Result<Stage, IllegalTransition> {
        let to = next(self.stage, event)?;
        self.history.push(Step {
            from: self.stage,
            event,
            to,
            reason: reason.to_string(),
        });
        self.stage = to;
        Ok(to)
    }
}
