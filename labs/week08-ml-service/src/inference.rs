//! Request validation and prediction: the two pieces of the service that are about the model
//! rather than HTTP.

use crate::model::{ModelArtifact, sigmoid};
use serde::Serialize;
use serde_json::{Map, Value};

/// What is wrong with one field of a request.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// The field's path in the request, for example `records[2].mean_radius`.
    pub field: String,
    pub problem: String,
}

/// A number as a person reads it back: `1e308`, not the 309 digits of its full decimal form.
pub fn readable(x: f64) -> String {
    if x != 0.0 && !(1e-4..1e9).contains(&x.abs()) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

// ANCHOR: validate
/// Checks one record (a JSON object of feature name → number) against the model's schema and
/// returns its values in the model's feature order, or every problem found: a missing feature, an
/// unknown field, a value that is not a number, or a number outside the feature's allowed range.
/// (JSON has no NaN or infinity, so a finite check is the range check's job.) `prefix` names the
/// record in messages, for example `records[2]`.
pub fn validate_record(
    record: &Map<String, Value>,
    model: &ModelArtifact,
    prefix: &str,
) -> Result<Vec<f64>, Vec<FieldError>> {
    let field = |name: &str| {
        if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}.{name}")
        }
    };
    // BEGIN SOLUTION validate
    let mut errors = Vec::new();
    let mut values = Vec::with_capacity(model.features.len());
    for spec in &model.features {
        match record.get(&spec.name) {
            None => errors.push(FieldError {
                field: field(&spec.name),
                problem: "missing".into(),
            }),
            Some(v) => match v.as_f64() {
                None => errors.push(FieldError {
                    field: field(&spec.name),
                    problem: format!("must be a number, got {}", kind(v)),
                }),
                Some(x) if !(x.is_finite() && x >= spec.min && x <= spec.max) => {
                    errors.push(FieldError {
                        field: field(&spec.name),
                        problem: format!(
                            "{} is outside the allowed range [{}, {}]",
                            readable(x),
                            readable(spec.min),
                            readable(spec.max)
                        ),
                    })
                }
                Some(x) => values.push(x),
            },
        }
    }
    for name in record.keys() {
        if !model.features.iter().any(|s| &s.name == name) {
            errors.push(FieldError {
                field: field(name),
                problem: "unknown field".into(),
            });
        }
    }
    if errors.is_empty() {
        Ok(values)
    } else {
        Err(errors)
    }
    // END SOLUTION
}
// ANCHOR_END: validate

/// A JSON value's kind, for error messages.
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// One prediction.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Prediction {
    /// The predicted class.
    pub class: String,
    /// P(classes[1]) — here, the probability that the tumour is malignant.
    pub probability: f64,
}

// ANCHOR: predict
/// The model's prediction for one validated record (values in feature order): standardise with
/// the training mean and scale, score `w·z + b`, squash with the sigmoid, threshold at 0.5.
pub fn predict(model: &ModelArtifact, values: &[f64]) -> Prediction {
    // BEGIN SOLUTION predict
    let z: f64 = values
        .iter()
        .zip(&model.mean)
        .zip(&model.scale)
        .zip(&model.weights)
        .map(|(((x, m), s), w)| w * (x - m) / s)
        .sum::<f64>()
        + model.intercept;
    let p = sigmoid(z);
    Prediction {
        class: model.classes[usize::from(p >= 0.5)].clone(),
        probability: p,
    }
    // END SOLUTION
}
// ANCHOR_END: predict

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_shown_short() {
        assert_eq!(readable(1e308), "1e308");
        assert_eq!(readable(-2.5e-7), "-2.5e-7");
        assert_eq!(readable(14.25), "14.25");
        assert_eq!(readable(0.0), "0");
    }
}
