//! The prompt's tokens, counted before the model sees them: SmolLM2's own chat template and
//! tokenizer, read from the GGUF file's metadata (its weights are not loaded). The API reserves
//! a request's worst case (these prompt tokens and `max_tokens` of answer) before the model runs,
//! and the model's own count is checked against this one.

use crate::{Result, invalid};
use candle_core::quantized::gguf_file;
use std::path::Path;
use wb_llm::{ChatTemplate, ChatTokenizer, Message};

#[derive(Clone)]
pub struct PromptCounter {
    tokenizer: ChatTokenizer,
    template: ChatTemplate,
}

impl PromptCounter {
    /// SmolLM2's, from the model cache (fetched first if needed; `say` hears about it).
    pub fn smollm2(say: &mut dyn FnMut(&str)) -> Result<Self> {
        let dir = wb_data::models::ensure_model(&wb_data::models::SMOLLM2, say)
            .map_err(|e| invalid("model", e.to_string()))?;
        Self::load(&dir.join(wb_data::models::SMOLLM2.files[0].name))
    }

    /// The tokenizer and chat template of a loaded model (copies: the model goes to its server).
    pub fn of(model: &wb_llm::LocalModel) -> Self {
        Self {
            tokenizer: model.tokenizer.clone(),
            template: model.template.clone(),
        }
    }

    /// The tokenizer and chat template of the GGUF file at `path`.
    pub fn load(path: &Path) -> Result<Self> {
        let bad = |e: &dyn std::fmt::Display| invalid("path", format!("{}: {e}", path.display()));
        let mut file = std::fs::File::open(path).map_err(|e| bad(&e))?;
        let ct = gguf_file::Content::read(&mut file).map_err(|e| bad(&e))?;
        let tokenizer = ChatTokenizer::from_gguf(&ct)?;
        let template = match ct.metadata.get("tokenizer.chat_template") {
            Some(gguf_file::Value::String(t)) => ChatTemplate::new(t)?,
            _ => return Err(bad(&"the GGUF has no tokenizer.chat_template")),
        };
        Ok(Self {
            tokenizer,
            template,
        })
    }

    /// Tokens of `messages` as the model reads them: the rendered template, the assistant's turn
    /// opened.
    pub fn count(&self, messages: &[Message]) -> Result<u64> {
        let text = self.template.render(messages, true)?;
        Ok(self.tokenizer.encode(&text)?.len() as u64)
    }
}
