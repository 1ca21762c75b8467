//! Structured output by asking: the reply is parsed and validated, and an invalid one is sent back
//! with the error until the model gets it right or the attempts run out.

use crate::PromptError;
use crate::prompts::Prompts;
use crate::schema::{extract_json, validate};
use serde::Serialize;
use serde_json::Value;
use wb_llm::{ChatModel, GenerateOptions, Message};

/// What asking for JSON gave.
#[derive(Debug, Clone, Serialize)]
pub struct JsonOutcome {
    /// The valid document, if an attempt produced one.
    pub value: Option<Value>,
    /// Replies asked for (1 when the first was valid).
    pub attempts: usize,
    /// Why each invalid reply was refused, in order.
    pub errors: Vec<String>,
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
}

// ANCHOR: ask_json
/// Asks `model` for a JSON document valid for `schema`, at most `max_attempts` times: each
/// invalid reply stays in the conversation, followed by the repair prompt naming its error.
pub fn ask_json(
    model: &mut dyn ChatModel,
    prompts: &Prompts,
    messages: &[Message],
    schema: &Value,
    opts: &GenerateOptions,
    max_attempts: usize,
) -> Result<JsonOutcome, PromptError> {
    if max_attempts == 0 {
        return Err(PromptError::InvalidArgument {
            arg: "max_attempts".into(),
            detail: "0: at least one attempt".into(),
        });
    }
    let mut outcome = JsonOutcome {
        value: None,
        attempts: 0,
        errors: Vec::new(),
        prompt_tokens: 0,
        completion_tokens: 0,
    };
    // BEGIN SOLUTION ask_json
    let mut conversation = messages.to_vec();
    while outcome.attempts < max_attempts {
        let reply = model.chat(&conversation, opts)?;
        outcome.attempts += 1;
        outcome.prompt_tokens += reply.prompt_tokens;
        outcome.completion_tokens += reply.completion_tokens;
        let error = match extract_json(&reply.text) {
            None => "no JSON object found in the reply".to_string(),
            Some(doc) => match validate(&doc, schema) {
                Ok(()) => {
                    outcome.value = Some(doc);
                    return Ok(outcome);
                }
                Err(e) => e.to_string(),
            },
        };
        conversation.push(Message::assistant(reply.text));
        conversation.push(Message::user(prompts.repair(&error)?));
        outcome.errors.push(error);
    }
    // END SOLUTION
    Ok(outcome)
}
// ANCHOR_END: ask_json
