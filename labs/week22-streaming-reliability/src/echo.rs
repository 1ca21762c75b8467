//! A deterministic stand-in for the model, for the checks whose answer must be known in advance
//! and whose timing must be steady: it answers "You said: " and the words of the last user
//! message, one word per token, `pace` apart. The lab itself runs SmolLM2 (greedy decoding, so
//! its answers are deterministic too); one check runs SmolLM2 through the faults as well.

use crate::wb_llm::chat::check_messages;
use crate::wb_llm::constrain::{Matcher, Node};
use crate::wb_llm::{ChatModel, FinishReason, GenerateOptions, LlmError, Message, Reply, Role};
use serde_json::Value;
use std::time::Duration;

/// The echo model.
#[derive(Debug, Clone)]
pub struct EchoModel {
    /// The time each word takes.
    pub pace: Duration,
}

/// What the echo model answers to `prompt`, before `max_tokens` cuts it.
pub fn echo_answer(prompt: &str) -> String {
    let mut out = String::from("You said:");
    for w in prompt.split_whitespace() {
        out.push(' ');
        out.push_str(w);
    }
    out
}

impl EchoModel {
    fn stream(
        &self,
        messages: &[Message],
        reply: &str,
        opts: &GenerateOptions,
        on_text: &mut dyn FnMut(&str) -> bool,
    ) -> crate::wb_llm::Result<Reply> {
        let mut text = String::new();
        let mut finish = FinishReason::Stop;
        let mut words = 0;
        for piece in reply.split_inclusive(' ') {
            if words == opts.max_tokens {
                finish = FinishReason::Length;
                break;
            }
            std::thread::sleep(self.pace);
            text.push_str(piece);
            words += 1;
            if !on_text(piece) {
                finish = FinishReason::Cancelled;
                break;
            }
        }
        Ok(Reply {
            text,
            finish,
            prompt_tokens: messages
                .iter()
                .map(|m| m.content.split_whitespace().count())
                .sum(),
            completion_tokens: words,
        })
    }
}

fn last_user(messages: &[Message]) -> &str {
    messages
        .iter()
        .rev()
        .find(|m| m.role == Role::User)
        .map_or("", |m| m.content.as_str())
}

impl ChatModel for EchoModel {
    fn name(&self) -> &str {
        "echo"
    }

    fn chat_stream(
        &mut self,
        messages: &[Message],
        opts: &GenerateOptions,
        on_text: &mut dyn FnMut(&str) -> bool,
    ) -> crate::wb_llm::Result<Reply> {
        opts.check()?;
        check_messages(messages)?;
        let reply = echo_answer(last_user(messages));
        self.stream(messages, &reply, opts, on_text)
    }

    /// `{"said": "<the words>"}`, if the schema accepts it.
    fn chat_json_stream(
        &mut self,
        messages: &[Message],
        schema: &Value,
        opts: &GenerateOptions,
        on_text: &mut dyn FnMut(&str) -> bool,
    ) -> crate::wb_llm::Result<Reply> {
        opts.check()?;
        check_messages(messages)?;
        let reply = serde_json::json!({ "said": last_user(messages) }).to_string();
        if !Matcher::accepts(&Node::compile(schema)?, &reply) {
            return Err(LlmError::InvalidArgument {
                arg: "schema".into(),
                detail: format!("the echo model answers {reply}, which the schema refuses"),
            });
        }
        self.stream(messages, &reply, opts, on_text)
    }
}
