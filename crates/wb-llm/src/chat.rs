//! Chat messages and the model's own chat template (a Jinja template inside the GGUF), rendered
//! with minijinja as Hugging Face's `apply_chat_template` renders it.

use crate::{LlmError, Result};
use minijinja::{Environment, context};
use serde::{Deserialize, Serialize};

/// Who says a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
    /// The result of a tool call, given back to the model.
    Tool,
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

impl Message {
    pub fn system(content: impl Into<String>) -> Self {
        Self {
            role: Role::System,
            content: content.into(),
        }
    }
    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            content: content.into(),
        }
    }
    pub fn assistant(content: impl Into<String>) -> Self {
        Self {
            role: Role::Assistant,
            content: content.into(),
        }
    }
    pub fn tool(content: impl Into<String>) -> Self {
        Self {
            role: Role::Tool,
            content: content.into(),
        }
    }
}

/// Refuses an empty conversation or a message with no text, naming it.
pub fn check_messages(messages: &[Message]) -> Result<()> {
    if messages.is_empty() {
        return Err(LlmError::InvalidArgument {
            arg: "messages".into(),
            detail: "no messages".into(),
        });
    }
    if let Some(i) = messages.iter().position(|m| m.content.trim().is_empty()) {
        return Err(LlmError::InvalidArgument {
            arg: format!("messages[{i}].content"),
            detail: "empty".into(),
        });
    }
    Ok(())
}

/// A chat template, compiled once.
#[derive(Debug, Clone)]
pub struct ChatTemplate {
    source: String,
    env: Environment<'static>,
}

impl ChatTemplate {
    /// Compiles a Jinja chat template (Hugging Face's conventions: `messages`,
    /// `add_generation_prompt`, `bos_token`, `eos_token`).
    pub fn new(source: &str) -> Result<Self> {
        let mut env = Environment::new();
        env.add_template_owned("chat", source.to_string())
            .map_err(|e| LlmError::Template(e.to_string()))?;
        Ok(Self {
            source: source.to_string(),
            env,
        })
    }

    /// The template's source.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The conversation as the model was trained to read it; with `add_generation_prompt`, the
    /// assistant's turn is opened for the model to write. Refuses an empty conversation or an
    /// empty message.
    pub fn render(&self, messages: &[Message], add_generation_prompt: bool) -> Result<String> {
        check_messages(messages)?;
        let template = self
            .env
            .get_template("chat")
            .map_err(|e| LlmError::Template(e.to_string()))?;
        template
            .render(context! {
                messages => messages,
                add_generation_prompt => add_generation_prompt,
                bos_token => "<|im_start|>",
                eos_token => "<|im_end|>",
            })
            .map_err(|e| LlmError::Template(e.to_string()))
    }
}
