//! The third backend of [`ChatModel`]: any server that speaks OpenAI's chat-completions API
//! (OpenAI itself, Ollama, vLLM, llama.cpp's server, or `wb-llm serve`), over HTTP. Replies are
//! always requested as a stream of server-sent events and read line by line, so that `on_text`
//! sees the text as it comes and can stop it: returning `false` closes the connection, which
//! tells the server to stop generating.

use crate::chat::{Message, Role};
use crate::chat_model::{ChatModel, Reply};
use crate::model::{FinishReason, GenerateOptions};
use crate::{LlmError, Result};
use serde_json::{Value, json};
use std::io::BufRead;
use std::time::Duration;

/// A chat model behind an OpenAI-compatible HTTP API.
#[derive(Debug, Clone)]
pub struct OpenAiClient {
    /// Up to and including `/v1`, e.g. `http://127.0.0.1:8080/v1`.
    base_url: String,
    model: String,
    api_key: Option<String>,
    http: reqwest::blocking::Client,
}

fn remote(url: &str, detail: impl std::fmt::Display) -> LlmError {
    LlmError::Remote {
        url: url.to_string(),
        detail: detail.to_string(),
    }
}

/// A reqwest error with its causes (reqwest's own message alone says only "error sending
/// request"), and whether the time limit ran out.
fn http_error(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    if e.is_timeout() {
        format!("timed out (the client's time limit ran out): {text}")
    } else {
        text
    }
}

impl OpenAiClient {
    /// A client of the server at `base_url` (up to `/v1`) for `model`. Nothing is sent yet.
    pub fn new(base_url: &str, model: &str) -> Result<Self> {
        let parsed = reqwest::Url::parse(base_url).map_err(|e| LlmError::InvalidArgument {
            arg: "base_url".into(),
            detail: format!("{base_url:?} is not a URL: {e}"),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(LlmError::InvalidArgument {
                arg: "base_url".into(),
                detail: format!("expected http:// or https://, got {base_url:?}"),
            });
        }
        if model.is_empty() {
            return Err(LlmError::InvalidArgument {
                arg: "model".into(),
                detail: "empty".into(),
            });
        }
        let http = reqwest::blocking::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            // A generation may take minutes; the stream itself has no deadline.
            .timeout(None)
            .build()
            .map_err(|e| remote(base_url, e))?;
        Ok(Self {
            base_url: base_url.trim_end_matches('/').to_string(),
            model: model.to_string(),
            api_key: None,
            http,
        })
    }

    /// Gives every request at most `limit`, from connecting to the last byte of the stream (by
    /// default there is none: a long generation may take minutes). A server that stops answering
    /// is then an error after `limit`, not a caller blocked for ever.
    pub fn with_timeout(mut self, limit: Duration) -> Result<Self> {
        self.http = reqwest::blocking::Client::builder()
            .connect_timeout(Duration::from_secs(10).min(limit))
            .timeout(limit)
            .build()
            .map_err(|e| remote(&self.base_url, e))?;
        Ok(self)
    }

    /// Sends `Authorization: Bearer <key>` (OpenAI's API needs it; local servers ignore it).
    pub fn with_api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// The request body: OpenAI's fields only (`top_k` and `seed` only when they matter, since
    /// OpenAI refuses fields it does not know).
    fn body(&self, messages: &[Message], opts: &GenerateOptions) -> Value {
        let messages: Vec<Value> = messages
            .iter()
            .map(|m| {
                let role = match m.role {
                    Role::System => "system",
                    Role::User => "user",
                    Role::Assistant => "assistant",
                    Role::Tool => "tool",
                };
                json!({"role": role, "content": m.content})
            })
            .collect();
        let mut body = json!({
            "model": self.model,
            "messages": messages,
            "max_tokens": opts.max_tokens,
            "temperature": opts.temperature,
            "top_p": opts.top_p,
            "seed": opts.seed,
            "stream": true,
            "stream_options": {"include_usage": true},
        });
        if opts.top_k > 0 {
            body["top_k"] = json!(opts.top_k);
        }
        if !opts.stop.is_empty() {
            body["stop"] = json!(opts.stop);
        }
        body
    }

    /// Posts `body` and reads the event stream.
    fn stream(&self, body: &Value, on_text: &mut dyn FnMut(&str) -> bool) -> Result<Reply> {
        let url = format!("{}/chat/completions", self.base_url);
        let mut request = self.http.post(&url).json(body);
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        let response = request.send().map_err(|e| remote(&url, http_error(&e)))?;
        let status = response.status();
        if !status.is_success() {
            // OpenAI's error shape, or whatever the server said.
            let text = response.text().unwrap_or_default();
            let message = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v["error"]["message"].as_str().map(String::from))
                .unwrap_or(text);
            return Err(remote(&url, format!("{status}: {message}")));
        }
        let mut reply = Reply {
            text: String::new(),
            finish: FinishReason::Stop,
            prompt_tokens: 0,
            completion_tokens: 0,
        };
        let mut pieces = 0;
        let mut ended = false;
        for line in std::io::BufReader::new(response).lines() {
            let line = line.map_err(|e| {
                let detail = match e
                    .get_ref()
                    .and_then(|inner| inner.downcast_ref::<reqwest::Error>())
                {
                    Some(inner) => http_error(inner),
                    None => e.to_string(),
                };
                remote(&url, format!("reading the stream: {detail}"))
            })?;
            // Server-sent events: `data: …` lines; comments (`:`) and other fields are skipped.
            let Some(data) = line.strip_prefix("data:").map(str::trim_start) else {
                continue;
            };
            if data == "[DONE]" {
                ended = true;
                break;
            }
            let chunk: Value = serde_json::from_str(data)
                .map_err(|e| remote(&url, format!("a stream chunk is not JSON ({e}): {data}")))?;
            if let Some(message) = chunk["error"]["message"].as_str() {
                return Err(remote(&url, message));
            }
            if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
                let count = |k: &str| usage[k].as_u64().unwrap_or(0) as usize;
                reply.prompt_tokens = count("prompt_tokens");
                reply.completion_tokens = count("completion_tokens");
            }
            let Some(choice) = chunk["choices"].get(0) else {
                continue;
            };
            if let Some(text) = choice["delta"]["content"].as_str()
                && !text.is_empty()
            {
                reply.text.push_str(text);
                pieces += 1;
                if !on_text(text) {
                    // Dropping the response closes the connection: the server stops.
                    reply.finish = FinishReason::Cancelled;
                    return Ok(reply);
                }
            }
            match choice["finish_reason"].as_str() {
                Some("length") => reply.finish = FinishReason::Length,
                Some(_) => reply.finish = FinishReason::Stop,
                None => {}
            }
        }
        if !ended {
            return Err(remote(&url, "the stream ended before [DONE]"));
        }
        // A server that does not report usage: the pieces it sent (one per token, usually).
        if reply.completion_tokens == 0 {
            reply.completion_tokens = pieces;
        }
        Ok(reply)
    }
}

impl ChatModel for OpenAiClient {
    fn name(&self) -> &str {
        &self.model
    }

    fn chat_stream(
        &mut self,
        messages: &[Message],
        opts: &GenerateOptions,
        on_text: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Reply> {
        opts.check()?;
        crate::chat::check_messages(messages)?;
        self.stream(&self.body(messages, opts), on_text)
    }

    /// Asks for `response_format: {"type": "json_schema", …}`, which OpenAI, vLLM, llama.cpp,
    /// Ollama and `wb-llm serve` honour by constrained decoding.
    fn chat_json_stream(
        &mut self,
        messages: &[Message],
        schema: &Value,
        opts: &GenerateOptions,
        on_text: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Reply> {
        opts.check()?;
        crate::chat::check_messages(messages)?;
        let mut body = self.body(messages, opts);
        body["response_format"] = json!({
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": schema, "strict": true},
        });
        self.stream(&body, on_text)
    }
}
