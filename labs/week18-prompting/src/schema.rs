//! Structured output: a JSON Schema from a Rust type (schemars), a validator that names the path
//! of the first thing wrong, and the JSON found in a model's free-text reply.

use crate::email::Label;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

// ANCHOR: triage
/// What the extraction asks of the model for each e-mail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Triage {
    /// "spam" or "ham".
    pub label: Label,
    /// The sender's e-mail address.
    #[schemars(length(max = 80))]
    pub sender: String,
    /// The subject, copied exactly.
    #[schemars(length(max = 120))]
    pub subject: String,
}

/// The JSON Schema of `T`, every sub-schema written in place (no `$ref`) and no `$schema` line:
/// the form both a validator and constrained decoding take.
pub fn schema_of<T: JsonSchema>() -> Value {
    schemars::generate::SchemaSettings::draft2020_12()
        .with(|s| {
            s.inline_subschemas = true;
            s.meta_schema = None;
        })
        .into_generator()
        .into_root_schema_for::<T>()
        .to_value()
}
// ANCHOR_END: triage

/// The first thing a document gets wrong: where (a JSON Pointer: `/emails/2/label`, empty for the
/// document itself; for a field that is missing or not allowed, the object that should or should
/// not hold it, as the `jsonschema` package reports it), which keyword it breaks, and how.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SchemaError {
    pub path: String,
    pub keyword: String,
    pub detail: String,
}

impl std::fmt::Display for SchemaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = if self.path.is_empty() {
            "the document"
        } else {
            &self.path
        };
        write!(f, "at {at}: {} ({})", self.detail, self.keyword)
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn has_type(v: &Value, t: &str) -> bool {
    let actual = type_name(v);
    actual == t || (t == "number" && actual == "integer")
}

// ANCHOR: validate
/// Checks `doc` against `schema` (the keywords `type`, `enum`, `const`, `properties`, `required`,
/// `additionalProperties: false`, `items`, `minItems`, `maxItems`, `minLength`, `maxLength`,
/// `anyOf`, `oneOf`); the first error found, walking the document in order, names its path.
pub fn validate(doc: &Value, schema: &Value) -> Result<(), SchemaError> {
    validate_at(doc, schema, "")
}

fn validate_at(doc: &Value, schema: &Value, path: &str) -> Result<(), SchemaError> {
    let fail = |keyword: &str, detail: String| -> Result<(), SchemaError> {
        Err(SchemaError {
            path: path.to_string(),
            keyword: keyword.to_string(),
            detail,
        })
    };
    // BEGIN SOLUTION validate
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        if !types.iter().any(|t| has_type(doc, t)) {
            return fail(
                "type",
                format!("expected {}, got {}", types.join(" or "), type_name(doc)),
            );
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(doc)
    {
        return fail(
            "enum",
            format!(
                "expected one of {}, got {doc}",
                Value::Array(options.clone())
            ),
        );
    }
    if let Some(c) = schema.get("const")
        && c != doc
    {
        return fail("const", format!("expected {c}, got {doc}"));
    }
    if let Value::String(s) = doc {
        let n = s.chars().count();
        if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
            && n as u64 > max
        {
            return fail("maxLength", format!("{n} characters, at most {max}"));
        }
        if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
            && (n as u64) < min
        {
            return fail("minLength", format!("{n} characters, at least {min}"));
        }
    }
    if let Value::Object(fields) = doc {
        let properties = schema.get("properties").and_then(Value::as_object);
        if let Some(required) = schema.get("required").and_then(Value::as_array) {
            for name in required.iter().filter_map(Value::as_str) {
                if !fields.contains_key(name) {
                    return fail("required", format!("the field {name:?} is missing"));
                }
            }
        }
        for (name, value) in fields {
            let child = format!("{path}/{}", name.replace('~', "~0").replace('/', "~1"));
            match properties.and_then(|p| p.get(name)) {
                Some(sub) => validate_at(value, sub, &child)?,
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    return fail(
                        "additionalProperties",
                        format!("the field {name:?} is not allowed"),
                    );
                }
                None => {}
            }
        }
    }
    if let Value::Array(items) = doc {
        if let Some(min) = schema.get("minItems").and_then(Value::as_u64)
            && (items.len() as u64) < min
        {
            return fail("minItems", format!("{} items, at least {min}", items.len()));
        }
        if let Some(max) = schema.get("maxItems").and_then(Value::as_u64)
            && items.len() as u64 > max
        {
            return fail("maxItems", format!("{} items, at most {max}", items.len()));
        }
        if let Some(sub) = schema.get("items") {
            for (i, item) in items.iter().enumerate() {
                validate_at(item, sub, &format!("{path}/{i}"))?;
            }
        }
    }
    for keyword in ["anyOf", "oneOf"] {
        if let Some(options) = schema.get(keyword).and_then(Value::as_array) {
            let passing = options
                .iter()
                .filter(|s| validate_at(doc, s, path).is_ok())
                .count();
            if passing == 0 || (keyword == "oneOf" && passing > 1) {
                return fail(
                    keyword,
                    format!("{passing} of the {} alternatives match", options.len()),
                );
            }
        }
    }
    Ok(())
    // END SOLUTION
}
// ANCHOR_END: validate

/// The most opening (and closing) braces `extract_json` tries as the ends of a JSON object.
pub const MAX_BRACES: usize = 32;

// ANCHOR: extract_json
/// The JSON object in a model's reply: the whole reply if it parses, else the first `{` … `}`
/// span that parses (models wrap JSON in prose or in ```json fences). `None` if there is none.
pub fn extract_json(reply: &str) -> Option<Value> {
    // BEGIN SOLUTION extract_json
    if let Ok(v) = serde_json::from_str::<Value>(reply.trim()) {
        return Some(v);
    }
    // Each candidate is a parse: at most MAX_BRACES opening and closing braces are tried, so that
    // a hostile reply full of braces costs a bounded number of parses, not their square.
    for (start, _) in reply.match_indices('{').take(MAX_BRACES) {
        // The longest parse from this brace: try each closing brace from the last one back.
        for (end, _) in reply.rmatch_indices('}').take(MAX_BRACES) {
            if end <= start {
                break;
            }
            if let Ok(v) = serde_json::from_str::<Value>(&reply[start..=end]) {
                return Some(v);
            }
        }
    }
    None
    // END SOLUTION
}
// ANCHOR_END: extract_json
