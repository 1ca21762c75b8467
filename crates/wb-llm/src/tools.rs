//! Tool calling: tools described by JSON Schemas, one schema for "a call to any of them", the
//! prompt that describes them, and a parser/validator for what a model wrote.

use crate::constrain::{Matcher, Node};
use crate::{LlmError, Result};
use serde_json::{Map, Value, json};

/// A tool the model may call: its name, what it does, its arguments as a JSON Schema object.
#[derive(Debug, Clone, PartialEq)]
pub struct Tool {
    pub name: String,
    pub description: String,
    /// `{"type": "object", "properties": {...}, "required": [...]}`
    pub parameters: Value,
}

impl Tool {
    pub fn new(name: &str, description: &str, parameters: Value) -> Self {
        Self {
            name: name.into(),
            description: description.into(),
            parameters,
        }
    }
}

/// The schema of one call: `{"tool": <name>, <arguments>…}` for any of `tools` (an `anyOf`).
pub fn call_schema(tools: &[Tool]) -> Result<Value> {
    if tools.is_empty() {
        return Err(LlmError::InvalidArgument {
            arg: "tools".into(),
            detail: "no tools".into(),
        });
    }
    let alternatives = tools
        .iter()
        .map(|t| {
            let Some(Value::Object(props)) = t.parameters.get("properties") else {
                return Err(LlmError::InvalidArgument {
                    arg: format!("tools[{}].parameters", t.name),
                    detail: "expected an object schema with `properties`".into(),
                });
            };
            let mut properties = Map::new();
            properties.insert("tool".into(), json!({"const": t.name}));
            properties.extend(props.clone());
            let mut required = vec![Value::from("tool")];
            if let Some(Value::Array(r)) = t.parameters.get("required") {
                required.extend(r.iter().cloned());
            }
            Ok(json!({"type": "object", "properties": properties, "required": required}))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(json!({ "anyOf": alternatives }))
}

/// A system message that lists the tools and asks for one JSON call.
pub fn system_prompt(tools: &[Tool]) -> String {
    let mut s = String::from(
        "You can call exactly one of these tools. Reply with only a JSON object: a \"tool\" field with the tool's name, and its arguments.\n",
    );
    for t in tools {
        let args = t
            .parameters
            .get("properties")
            .and_then(Value::as_object)
            .map(|p| {
                p.iter()
                    .map(|(k, v)| {
                        format!(
                            "\"{k}\": {}",
                            v.get("type").and_then(Value::as_str).unwrap_or("value")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        s.push_str(&format!(
            "- {}: {}. Arguments: {{{args}}}\n",
            t.name, t.description
        ));
    }
    s
}

/// What a model wrote, read as a call: the first `{` to the last `}` parsed as JSON, and whether
/// it is valid for `schema`. `None` when it is not JSON at all.
pub fn parse_call(text: &str, schema: &Node) -> Option<(Value, bool)> {
    let (start, end) = (text.find('{')?, text.rfind('}')?);
    let value: Value = serde_json::from_str(text.get(start..=end)?).ok()?;
    let compact = value.to_string();
    let valid = Matcher::accepts(schema, &compact);
    Some((value, valid))
}

/// The five tools of the tool-use fixture (`fixtures/tool_calls.jsonl`): weather, addition,
/// currency conversion, a timer, a book search.
pub fn example_tools() -> Vec<Tool> {
    let currency = json!({"enum": ["USD", "EUR", "GBP", "JPY"]});
    vec![
        Tool::new(
            "get_weather",
            "the current weather of a city",
            json!({"type": "object", "properties": {"city": {"type": "string", "maxLength": 40}}, "required": ["city"]}),
        ),
        Tool::new(
            "add",
            "the sum of two numbers",
            json!({"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}, "required": ["a", "b"]}),
        ),
        Tool::new(
            "convert_currency",
            "converts an amount from one currency to another",
            json!({"type": "object", "properties": {"amount": {"type": "number"}, "from": currency, "to": currency}, "required": ["amount", "from", "to"]}),
        ),
        Tool::new(
            "set_timer",
            "starts a timer of a number of minutes",
            json!({"type": "object", "properties": {"minutes": {"type": "integer"}}, "required": ["minutes"]}),
        ),
        Tool::new(
            "search_books",
            "searches a library catalogue",
            json!({"type": "object", "properties": {"query": {"type": "string", "maxLength": 60}, "max_results": {"type": "integer"}}, "required": ["query"]}),
        ),
    ]
}
