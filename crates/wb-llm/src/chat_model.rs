//! The chat-model interface of the LLM weeks, and two of its backends: the local model and a
//! scripted model for deterministic tests. (The OpenAI-compatible HTTP client, [`crate::client`],
//! is the third.)

use crate::chat::Message;
use crate::constrain::{Matcher, Node};
use crate::model::{FinishReason, GenerateOptions, Generation, LocalModel};
use crate::{LlmError, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A model's answer to a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    pub text: String,
    pub finish: FinishReason,
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
}

impl From<Generation> for Reply {
    fn from(g: Generation) -> Self {
        Self {
            completion_tokens: g.tokens.len(),
            text: g.text,
            finish: g.finish,
            prompt_tokens: g.prompt_tokens,
        }
    }
}

/// Anything that answers a conversation, token by token.
pub trait ChatModel {
    /// The model's name, as an API reports it.
    fn name(&self) -> &str;

    /// Answers `messages`; `on_text` receives the reply as it grows and may stop it by
    /// returning `false`.
    fn chat_stream(
        &mut self,
        messages: &[Message],
        opts: &GenerateOptions,
        on_text: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Reply>;

    /// Answers `messages` with a JSON document valid for `schema` (a JSON Schema of the subset
    /// that [`crate::constrain`] supports), streamed like [`ChatModel::chat_stream`].
    fn chat_json_stream(
        &mut self,
        messages: &[Message],
        schema: &Value,
        opts: &GenerateOptions,
        on_text: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Reply>;

    /// Answers `messages` in one piece.
    fn chat(&mut self, messages: &[Message], opts: &GenerateOptions) -> Result<Reply> {
        self.chat_stream(messages, opts, &mut |_| true)
    }

    /// Answers `messages` with a JSON document valid for `schema`, in one piece.
    fn chat_json(
        &mut self,
        messages: &[Message],
        schema: &Value,
        opts: &GenerateOptions,
    ) -> Result<Reply> {
        self.chat_json_stream(messages, schema, opts, &mut |_| true)
    }
}

impl ChatModel for LocalModel {
    fn name(&self) -> &str {
        "smollm2-135m-instruct"
    }

    fn chat_stream(
        &mut self,
        messages: &[Message],
        opts: &GenerateOptions,
        on_text: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Reply> {
        let prompt = self.chat_prompt(messages)?;
        let g = self.generate(&prompt, opts, on_text)?;
        Ok(g.into())
    }

    fn chat_json_stream(
        &mut self,
        messages: &[Message],
        schema: &Value,
        opts: &GenerateOptions,
        on_text: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Reply> {
        let schema = Node::compile(schema)?;
        let prompt = self.chat_prompt(messages)?;
        let (g, _mask_ms) = self.generate_json(&prompt, &schema, opts, on_text)?;
        Ok(g.into())
    }
}

/// A model that answers from a script, in order: for tests that must not depend on sampling.
/// Token counts are words (whitespace-separated), a stand-in documented as such.
#[derive(Debug, Clone)]
pub struct ScriptedModel {
    replies: Vec<String>,
    next: usize,
    /// Every conversation it was asked, in order (what a test inspects).
    pub seen: Vec<Vec<Message>>,
}

impl ScriptedModel {
    pub fn new(replies: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            replies: replies.into_iter().map(Into::into).collect(),
            next: 0,
            seen: Vec::new(),
        }
    }
}

impl ChatModel for ScriptedModel {
    fn name(&self) -> &str {
        "scripted"
    }

    /// The next scripted reply, which must be valid for `schema` (an error otherwise, naming it).
    fn chat_json_stream(
        &mut self,
        messages: &[Message],
        schema: &Value,
        opts: &GenerateOptions,
        on_text: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Reply> {
        let node = Node::compile(schema)?;
        if let Some(reply) = self.replies.get(self.next)
            && !Matcher::accepts(&node, reply)
        {
            return Err(LlmError::InvalidArgument {
                arg: "schema".into(),
                detail: format!(
                    "scripted reply {} is not a document valid for the schema: {reply}",
                    self.next
                ),
            });
        }
        self.chat_stream(messages, opts, on_text)
    }

    fn chat_stream(
        &mut self,
        messages: &[Message],
        opts: &GenerateOptions,
        on_text: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Reply> {
        opts.check()?;
        crate::chat::check_messages(messages)?;
        let reply = self
            .replies
            .get(self.next)
            .cloned()
            .ok_or(LlmError::ScriptExhausted(self.replies.len()))?;
        self.next += 1;
        self.seen.push(messages.to_vec());
        // Stream word by word, honouring max_tokens (in words) and stop sequences.
        let cut = opts
            .stop
            .iter()
            .filter_map(|s| reply.find(s.as_str()))
            .min()
            .unwrap_or(reply.len());
        let mut text = String::new();
        let mut finish = FinishReason::Stop;
        let mut words = 0;
        for piece in reply[..cut].split_inclusive(' ') {
            if words == opts.max_tokens {
                finish = FinishReason::Length;
                break;
            }
            text.push_str(piece);
            words += 1;
            if !on_text(piece) {
                finish = FinishReason::Cancelled;
                break;
            }
        }
        let prompt_tokens = messages
            .iter()
            .map(|m| m.content.split_whitespace().count())
            .sum();
        Ok(Reply {
            text,
            finish,
            prompt_tokens,
            completion_tokens: words,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scripted_model_replies_in_order_and_streams_words() {
        let mut m = ScriptedModel::new(["one two three", "four"]);
        let mut pieces = Vec::new();
        let r = m
            .chat_stream(
                &[Message::user("hi")],
                &GenerateOptions::default(),
                &mut |p| {
                    pieces.push(p.to_string());
                    true
                },
            )
            .unwrap();
        assert_eq!(r.text, "one two three");
        assert_eq!(pieces, ["one ", "two ", "three"]);
        assert_eq!(r.completion_tokens, 3);
        let r = m
            .chat(&[Message::user("again")], &GenerateOptions::default())
            .unwrap();
        assert_eq!(r.text, "four");
        assert!(matches!(
            m.chat(&[Message::user("more")], &GenerateOptions::default()),
            Err(LlmError::ScriptExhausted(2))
        ));
        assert_eq!(m.seen.len(), 2);
    }

    #[test]
    fn the_scripted_model_honours_max_tokens_and_stop() {
        let mut m = ScriptedModel::new(["a b c d", "x y END z"]);
        let opts = GenerateOptions {
            max_tokens: 2,
            ..Default::default()
        };
        let r = m.chat(&[Message::user("q")], &opts).unwrap();
        assert_eq!((r.text.as_str(), r.finish), ("a b ", FinishReason::Length));
        let opts = GenerateOptions {
            stop: vec!["END".into()],
            ..Default::default()
        };
        let r = m.chat(&[Message::user("q")], &opts).unwrap();
        assert_eq!((r.text.as_str(), r.finish), ("x y ", FinishReason::Stop));
    }

    #[test]
    fn the_scripted_model_checks_structured_replies_against_the_schema() {
        let schema = serde_json::json!({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]});
        let mut m = ScriptedModel::new([r#"{"n":3}"#, r#"{"n":"three"}"#]);
        let opts = GenerateOptions::default();
        let r = m.chat_json(&[Message::user("q")], &schema, &opts).unwrap();
        assert_eq!(r.text, r#"{"n":3}"#);
        let err = m
            .chat_json(&[Message::user("q")], &schema, &opts)
            .unwrap_err();
        assert!(err.to_string().contains("scripted reply 1"), "{err}");
    }
}
