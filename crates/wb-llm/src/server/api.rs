//! The OpenAI wire format: requests as clients send them, read into the runtime's types with
//! every field checked, and the errors in OpenAI's shape.

use crate::chat::{Message, Role};
use crate::constrain::Node;
use crate::model::GenerateOptions;
use crate::tools::{self, Tool};
use crate::{LlmError, Result};
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

/// An error as OpenAI's API returns it: `{"error": {"message", "type", "param", "code"}}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub param: Option<String>,
    pub code: Option<&'static str>,
    /// Seconds, for 429 and 503.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn bad_request(param: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            param: Some(param.into()),
            code: None,
            retry_after: None,
        }
    }

    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            param: None,
            code: Some(code),
            retry_after: None,
        }
    }

    fn kind(&self) -> &'static str {
        match self.status.as_u16() {
            401 => "authentication_error",
            404 => "not_found_error",
            429 => "rate_limit_error",
            400..=499 => "invalid_request_error",
            _ => "server_error",
        }
    }
}

impl From<LlmError> for ApiError {
    /// The runtime's refusals are the client's mistakes (400, naming the field); anything else
    /// is the server's (500).
    fn from(e: LlmError) -> Self {
        match &e {
            LlmError::InvalidArgument { arg, .. } => Self::bad_request(arg.clone(), e.to_string()),
            LlmError::ContextFull { .. } => Self {
                code: Some("context_length_exceeded"),
                ..Self::bad_request("messages", e.to_string())
            },
            LlmError::Template(_) | LlmError::Tokenizer(_) => {
                Self::bad_request("messages", e.to_string())
            }
            _ => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                e.to_string(),
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {
            "message": self.message,
            "type": self.kind(),
            "param": self.param,
            "code": self.code,
        }});
        let mut response = (self.status, Json(body)).into_response();
        if let Some(s) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        response
    }
}

/// Reads a JSON body into `T`; a mistake is a 400 naming the field (`messages[0].role`).
pub fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." || inner.is_syntax() || inner.is_eof() {
            ApiError::bad_request("body", format!("the body is not valid JSON: {inner}"))
        } else {
            ApiError::bad_request(path.clone(), format!("{path}: {inner}"))
        }
    })
}

// ---------------------------------------------------------------- chat completions

/// `POST /v1/chat/completions`, the fields this server reads. Others a client sends (`user`,
/// `metadata`, …) are ignored; those that would change the answer and are not supported are
/// refused with a 400 naming them.
#[derive(Debug, Deserialize)]
pub struct ChatRequest {
    pub model: String,
    pub messages: Vec<WireMessage>,
    pub max_tokens: Option<u64>,
    pub max_completion_tokens: Option<u64>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    /// Not OpenAI's, but vLLM's, llama.cpp's and Ollama's.
    pub top_k: Option<u64>,
    pub seed: Option<i64>,
    pub stop: Option<Stop>,
    #[serde(default)]
    pub stream: bool,
    pub stream_options: Option<StreamOptions>,
    pub tools: Option<Vec<WireTool>>,
    pub tool_choice: Option<Value>,
    pub response_format: Option<Value>,
    pub n: Option<u64>,
    pub logprobs: Option<bool>,
    pub presence_penalty: Option<f64>,
    pub frequency_penalty: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Stop {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Default, Deserialize)]
pub struct StreamOptions {
    #[serde(default)]
    pub include_usage: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WireRole {
    System,
    /// OpenAI's newer name for the system role.
    Developer,
    User,
    Assistant,
    Tool,
}

#[derive(Debug, Deserialize)]
pub struct WireMessage {
    pub role: WireRole,
    #[serde(default)]
    pub content: Option<Content>,
    #[serde(default)]
    pub tool_calls: Option<Vec<WireToolCall>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Content {
    Text(String),
    Parts(Vec<Value>),
}

#[derive(Debug, Deserialize)]
pub struct WireToolCall {
    pub function: WireCall,
}

#[derive(Debug, Deserialize)]
pub struct WireCall {
    pub name: String,
    /// A JSON object, as text.
    pub arguments: String,
}

#[derive(Debug, Deserialize)]
pub struct WireTool {
    #[serde(rename = "type")]
    pub kind: String,
    pub function: WireFunction,
}

#[derive(Debug, Deserialize)]
pub struct WireFunction {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub parameters: Option<Value>,
}

/// The name of the alternative that `tool_choice: "auto"` adds: an answer in words.
pub const ANSWER_TOOL: &str = "answer";

/// What the model must write.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Free text.
    Text,
    /// A JSON document valid for this schema (`response_format`).
    Json(Value),
    /// One call to one of the tools, as `{"tool": name, arguments…}` valid for this schema;
    /// with `answer`, the model may instead reply in words through the `answer` alternative.
    ToolCall { schema: Value, answer: bool },
}

/// A chat request read and checked: what the model worker needs.
#[derive(Debug)]
pub struct ChatJob {
    pub messages: Vec<Message>,
    pub opts: GenerateOptions,
    pub output: Output,
    pub stream: bool,
    pub include_usage: bool,
}

/// The default `max_tokens` (OpenAI's is "up to the context"; a small model that rambles would
/// then hold the queue for minutes).
pub const DEFAULT_MAX_TOKENS: usize = 512;

impl ChatRequest {
    /// Checks every field and builds the job; the error names the field.
    pub fn into_job(self, seed_if_unset: u64) -> Result<ChatJob, ApiError> {
        let unsupported = |param: &str, detail: &str| {
            Err(ApiError::bad_request(
                param,
                format!("`{param}`: {detail} is not supported by this server"),
            ))
        };
        if self.n.is_some_and(|n| n != 1) {
            return unsupported("n", "more than one choice");
        }
        if self.logprobs == Some(true) {
            return unsupported("logprobs", "returning log-probabilities");
        }
        for (param, value) in [
            ("presence_penalty", self.presence_penalty),
            ("frequency_penalty", self.frequency_penalty),
        ] {
            if value.is_some_and(|v| v != 0.0) {
                return unsupported(param, "a penalty other than 0");
            }
        }
        if self.messages.is_empty() {
            return Err(ApiError::bad_request("messages", "`messages` is empty"));
        }
        // The token limit, under whichever name the client used.
        let (max_param, max_tokens) = match (self.max_completion_tokens, self.max_tokens) {
            (Some(m), _) => ("max_completion_tokens", Some(m)),
            (None, m) => ("max_tokens", m),
        };
        let temperature = self.temperature.unwrap_or(1.0);
        if !(0.0..=2.0).contains(&temperature) {
            return Err(ApiError::bad_request(
                "temperature",
                format!("`temperature`: expected 0 to 2, got {temperature}"),
            ));
        }
        let stop = match self.stop {
            None => Vec::new(),
            Some(Stop::One(s)) => vec![s],
            Some(Stop::Many(v)) if v.len() > 4 => {
                return Err(ApiError::bad_request(
                    "stop",
                    format!("`stop`: at most 4 sequences, got {}", v.len()),
                ));
            }
            Some(Stop::Many(v)) => v,
        };
        let opts = GenerateOptions {
            max_tokens: max_tokens.map_or(DEFAULT_MAX_TOKENS, |m| {
                usize::try_from(m).unwrap_or(usize::MAX)
            }),
            temperature,
            top_k: self
                .top_k
                .map_or(0, |k| usize::try_from(k).unwrap_or(usize::MAX)),
            top_p: self.top_p.unwrap_or(1.0),
            // OpenAI's seed is signed; the bits are the seed.
            seed: self.seed.map_or(seed_if_unset, |s| s as u64),
            stop,
        };
        opts.check().map_err(|e| match e {
            LlmError::InvalidArgument { arg, detail } if arg == "max_tokens" => {
                ApiError::bad_request(max_param, format!("`{max_param}`: {detail}"))
            }
            LlmError::InvalidArgument { arg, detail } => {
                ApiError::bad_request(arg.clone(), format!("`{arg}`: {detail}"))
            }
            e => e.into(),
        })?;

        let mut messages = self
            .messages
            .into_iter()
            .enumerate()
            .map(|(i, m)| m.into_message(i))
            .collect::<Result<Vec<_>, _>>()?;
        crate::chat::check_messages(&messages).map_err(ApiError::from)?;

        let tools = self.tools.unwrap_or_default();
        let output = match (tools.is_empty(), self.response_format) {
            (false, Some(_)) => {
                return Err(ApiError::bad_request(
                    "response_format",
                    "`response_format` and `tools` together are not supported: choose one",
                ));
            }
            (true, Some(format)) => response_format(&format)?,
            (true, None) => {
                if self.tool_choice.is_some_and(|c| c != "none" && c != "auto") {
                    return Err(ApiError::bad_request(
                        "tool_choice",
                        "`tool_choice` asks for a tool, but `tools` is empty",
                    ));
                }
                Output::Text
            }
            (false, None) => tool_output(&tools, self.tool_choice.as_ref(), &mut messages)?,
        };
        Ok(ChatJob {
            messages,
            opts,
            output,
            stream: self.stream,
            include_usage: self.stream_options.is_some_and(|o| o.include_usage),
        })
    }
}

impl WireMessage {
    fn into_message(self, i: usize) -> Result<Message, ApiError> {
        let role = match self.role {
            WireRole::System | WireRole::Developer => Role::System,
            WireRole::User => Role::User,
            WireRole::Assistant => Role::Assistant,
            WireRole::Tool => Role::Tool,
        };
        let mut content = match self.content {
            None => String::new(),
            Some(Content::Text(t)) => t,
            Some(Content::Parts(parts)) => {
                let mut text = String::new();
                for (j, part) in parts.iter().enumerate() {
                    match (part.get("type").and_then(Value::as_str), part.get("text")) {
                        (Some("text"), Some(Value::String(t))) => text.push_str(t),
                        _ => {
                            return Err(ApiError::bad_request(
                                format!("messages[{i}].content[{j}]"),
                                "only text parts ({\"type\": \"text\", \"text\": …}) are supported",
                            ));
                        }
                    }
                }
                text
            }
        };
        // A call the assistant made earlier is shown to the model as it would have written it.
        for (j, call) in self.tool_calls.unwrap_or_default().into_iter().enumerate() {
            let param = format!("messages[{i}].tool_calls[{j}].function.arguments");
            let args: Value = serde_json::from_str(&call.function.arguments).map_err(|e| {
                ApiError::bad_request(param.clone(), format!("not a JSON object: {e}"))
            })?;
            let Value::Object(args) = args else {
                return Err(ApiError::bad_request(param, "not a JSON object"));
            };
            // `{"tool": name, arguments…}`, the name first as the model writes it.
            let name = Value::String(call.function.name).to_string();
            let args = Value::Object(args).to_string();
            content.push_str(&match args.as_str() {
                "{}" => format!("{{\"tool\":{name}}}"),
                _ => format!("{{\"tool\":{name},{}", &args[1..]),
            });
        }
        Ok(Message { role, content })
    }
}

/// `response_format`: `{"type": "text"}`, `{"type": "json_schema", "json_schema": {"schema":
/// …}}`; the schema is compiled here so that a bad one is a 400 before the request waits.
fn response_format(format: &Value) -> Result<Output, ApiError> {
    match format.get("type").and_then(Value::as_str) {
        Some("text") => Ok(Output::Text),
        Some("json_schema") => {
            let schema = format
                .get("json_schema")
                .and_then(|j| j.get("schema"))
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "response_format.json_schema.schema",
                        "`response_format.json_schema.schema` is missing",
                    )
                })?;
            check_schema(schema, "response_format.json_schema.schema")?;
            Ok(Output::Json(schema.clone()))
        }
        Some("json_object") => Err(ApiError::bad_request(
            "response_format.type",
            "`json_object` (any JSON object) is not supported: give a `json_schema`",
        )),
        other => Err(ApiError::bad_request(
            "response_format.type",
            format!("expected \"text\" or \"json_schema\", got {other:?}"),
        )),
    }
}

fn check_schema(schema: &Value, param: &str) -> Result<Node, ApiError> {
    Node::compile(schema).map_err(|e| match e {
        // `arg` is `schema/properties/x/...`: the keyword's place inside the schema.
        LlmError::InvalidArgument { arg, detail } => {
            let place = arg.trim_start_matches("schema");
            ApiError::bad_request(
                format!("{param}{}", place.replace('/', ".")),
                format!("{param}{place}: {detail}"),
            )
        }
        e => e.into(),
    })
}

/// Tools: the schema of a call to any of them (or the one `tool_choice` names), and their
/// description added to the system message.
fn tool_output(
    wire: &[WireTool],
    choice: Option<&Value>,
    messages: &mut Vec<Message>,
) -> Result<Output, ApiError> {
    let mut tools = Vec::with_capacity(wire.len());
    for (i, t) in wire.iter().enumerate() {
        if t.kind != "function" {
            return Err(ApiError::bad_request(
                format!("tools[{i}].type"),
                format!("expected \"function\", got {:?}", t.kind),
            ));
        }
        let parameters = t
            .function
            .parameters
            .clone()
            .unwrap_or_else(|| json!({"type": "object", "properties": {}}));
        check_schema(&parameters, &format!("tools[{i}].function.parameters"))?;
        tools.push(Tool::new(
            &t.function.name,
            &t.function.description,
            parameters,
        ));
    }
    let answer = match choice {
        None => true,
        Some(Value::String(c)) if c == "auto" => true,
        Some(Value::String(c)) if c == "required" => false,
        Some(Value::String(c)) if c == "none" => return Ok(Output::Text),
        Some(Value::Object(o)) => {
            let name = o
                .get("function")
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "tool_choice.function.name",
                        "`tool_choice` names no function",
                    )
                })?;
            tools.retain(|t| t.name == name);
            if tools.is_empty() {
                return Err(ApiError::bad_request(
                    "tool_choice.function.name",
                    format!("no tool is named {name:?}"),
                ));
            }
            false
        }
        Some(other) => {
            return Err(ApiError::bad_request(
                "tool_choice",
                format!(
                    "expected \"none\", \"auto\", \"required\" or {{\"type\": \"function\", \"function\": {{\"name\": …}}}}, got {other}"
                ),
            ));
        }
    };
    let answer = answer && !tools.iter().any(|t| t.name == ANSWER_TOOL);
    if answer {
        tools.push(Tool::new(
            ANSWER_TOOL,
            "reply in words when no other tool fits",
            json!({"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}),
        ));
    }
    let schema = tools::call_schema(&tools).map_err(ApiError::from)?;
    let described = tools::system_prompt(&tools);
    match messages.first_mut() {
        Some(first) if first.role == Role::System => {
            first.content = format!("{}\n\n{described}", first.content);
        }
        _ => messages.insert(0, Message::system(described)),
    }
    Ok(Output::ToolCall { schema, answer })
}

/// A call the model wrote (`{"tool": name, arguments…}`), as (name, arguments as JSON text).
pub fn split_call(text: &str) -> Option<(String, String)> {
    let Ok(Value::Object(mut map)) = serde_json::from_str::<Value>(text) else {
        return None;
    };
    let Some(Value::String(name)) = map.remove("tool") else {
        return None;
    };
    Some((name, Value::Object(map).to_string()))
}

// ---------------------------------------------------------------- embeddings

#[derive(Debug, Deserialize)]
pub struct EmbeddingRequest {
    pub model: String,
    pub input: EmbeddingInput,
    pub encoding_format: Option<String>,
    pub dimensions: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum EmbeddingInput {
    One(String),
    Many(Vec<String>),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(body: Value) -> Result<ChatJob, ApiError> {
        parse_body::<ChatRequest>(body.to_string().as_bytes())?.into_job(7)
    }

    #[test]
    fn a_bad_field_is_named_in_the_error() {
        let cases = [
            (
                json!({"model": "m", "messages": [{"role": "robot", "content": "hi"}]}),
                "messages[0].role",
            ),
            (
                json!({"model": "m", "messages": [{"role": "user", "content": ""}]}),
                "messages[0].content",
            ),
            (json!({"model": "m", "messages": []}), "messages"),
            (
                json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": -1}),
                "temperature",
            ),
            (
                json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 0}),
                "max_tokens",
            ),
            (
                json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": 1_000_000}),
                "max_completion_tokens",
            ),
            (
                json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object", "properties": {"s": {"type": "string", "pattern": "a+"}}}}}}),
                "response_format.json_schema.schema.properties.s",
            ),
            (
                json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "n": 2}),
                "n",
            ),
            (
                json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "tool_choice": {"type": "function", "function": {"name": "nope"}}, "tools": [{"type": "function", "function": {"name": "f"}}]}),
                "tool_choice.function.name",
            ),
        ];
        for (body, param) in cases {
            let e = job(body.clone()).expect_err(&body.to_string());
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(e.param.as_deref(), Some(param), "{body}: {}", e.message);
        }
        let e = parse_body::<ChatRequest>(b"{not json").unwrap_err();
        assert_eq!(e.param.as_deref(), Some("body"));
    }

    #[test]
    fn tools_become_a_call_schema_and_a_system_message() {
        let j = job(json!({"model": "m", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather in Oslo?"}],
            "tools": [{"type": "function", "function": {"name": "get_weather", "description": "the weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]}))
        .unwrap();
        let Output::ToolCall { schema, answer } = &j.output else {
            panic!("{:?}", j.output)
        };
        assert!(answer);
        let node = Node::compile(schema).unwrap();
        let m = crate::constrain::Matcher::new(&node);
        assert!(
            m.after(r#"{"tool":"get_weather","city":"Oslo"}"#)
                .unwrap()
                .can_end()
        );
        assert!(
            m.after(r#"{"tool":"answer","text":"hi"}"#)
                .unwrap()
                .can_end()
        );
        assert!(m.after(r#"{"tool":"other""#).is_none());
        assert_eq!(j.messages.len(), 2);
        assert!(j.messages[0].content.starts_with("Be brief.\n\n"));
        assert!(j.messages[0].content.contains("- get_weather: the weather"));
        assert_eq!(
            split_call(r#"{"tool":"get_weather","city":"Oslo"}"#),
            Some(("get_weather".into(), r#"{"city":"Oslo"}"#.into()))
        );
        // A defaulted seed and OpenAI's default temperature.
        assert_eq!((j.opts.seed, j.opts.temperature), (7, 1.0));
    }

    #[test]
    fn an_earlier_tool_call_is_shown_as_the_model_writes_it() {
        let j = job(json!({"model": "m", "messages": [
            {"role": "user", "content": "Weather in Oslo?"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Oslo\"}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "4 °C, rain"},
            {"role": "user", "content": [{"type": "text", "text": "And "}, {"type": "text", "text": "tomorrow?"}]}]}))
        .unwrap();
        assert_eq!(
            j.messages[1],
            Message::assistant(r#"{"tool":"get_weather","city":"Oslo"}"#)
        );
        assert_eq!(j.messages[2], Message::tool("4 °C, rain"));
        assert_eq!(j.messages[3], Message::user("And tomorrow?"));
        assert_eq!(j.output, Output::Text);
    }
}
