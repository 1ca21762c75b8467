//! SmolLM2 on candle: loading the GGUF, and generation with a KV cache, sampling, stop
//! sequences and token-by-token streaming.

use crate::chat::{ChatTemplate, Message};
use crate::tokenizer::ChatTokenizer;
use crate::{LlmError, Result};
use candle_core::quantized::{GgmlDType, QTensor, gguf_file};
use candle_core::{Device, Tensor};
use candle_transformers::generation::{LogitsProcessor, Sampling};
use candle_transformers::models::quantized_llama::{MAX_SEQ_LEN, ModelWeights};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// How the weights are held in memory, and whose forward pass runs. Chosen by measurement (the
/// chapter's table): candle 0.11's quantised dot products are compiled for the baseline x86-64
/// unless the whole build targets the CPU, so its 4-bit path decodes at a few tokens per second;
/// its f32 path picks the CPU's vector instructions at run time but reads 690 MB per token. The
/// default keeps the 98 MB of packed weights and multiplies them with kernels vectorised for the
/// CPU at run time ([`crate::llama`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeightFormat {
    /// Every 4-bit matrix expanded to f32 at load (candle's Llama): about 690 MB of memory.
    F32,
    /// The GGUF's own formats (Q4_1 matrices, Q8_0 embeddings): 98 MB, slow on a CPU build
    /// without AVX enabled at compile time.
    AsShipped,
    /// The GGUF's own formats, multiplied by the workbook's own kernels ([`crate::llama`]),
    /// which pick the CPU's vector instructions at run time: 98 MB, the fastest here.
    #[default]
    Quantized,
}

/// The forward pass: candle's Llama, or the workbook's own on quantised weights.
enum Weights {
    Candle(ModelWeights),
    Own(crate::llama::Llama),
}

impl Weights {
    fn clear_kv_cache(&mut self) {
        match self {
            Weights::Candle(w) => w.clear_kv_cache(),
            Weights::Own(w) => w.clear_kv_cache(),
        }
    }
}

/// The most tokens one generation may hold, whatever the model: a bound for `max_tokens` before
/// the model's own context is known (which may be smaller).
pub const MAX_TOKENS: usize = 8192;

/// Settings of one generation. The defaults: greedy, at most 256 new tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GenerateOptions {
    pub max_tokens: usize,
    /// 0 is greedy (always the most likely token).
    pub temperature: f64,
    /// Sample only among the k most likely tokens (0: no limit).
    pub top_k: usize,
    /// Sample only among the most likely tokens whose probabilities add up to p (1: no limit).
    pub top_p: f64,
    pub seed: u64,
    /// Generation stops before the first of these strings (they are not part of the text).
    pub stop: Vec<String>,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        Self {
            max_tokens: 256,
            temperature: 0.0,
            top_k: 0,
            top_p: 1.0,
            seed: 0,
            stop: Vec::new(),
        }
    }
}

impl GenerateOptions {
    /// Checks every field; the error names the field.
    pub fn check(&self) -> Result<()> {
        let bad = |field: &str, detail: String| {
            Err(LlmError::InvalidArgument {
                arg: field.into(),
                detail,
            })
        };
        if self.max_tokens == 0 || self.max_tokens > MAX_TOKENS {
            return bad(
                "max_tokens",
                format!("expected 1 to {MAX_TOKENS}, got {}", self.max_tokens),
            );
        }
        if !(self.temperature.is_finite() && self.temperature >= 0.0) {
            return bad(
                "temperature",
                format!("expected a number ≥ 0, got {}", self.temperature),
            );
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return bad("top_p", format!("expected 0 < p ≤ 1, got {}", self.top_p));
        }
        if self.stop.iter().any(String::is_empty) {
            return bad("stop", "a stop sequence is empty".into());
        }
        Ok(())
    }

    fn sampling(&self) -> Sampling {
        let temperature = self.temperature;
        match (temperature == 0.0, self.top_k, self.top_p < 1.0) {
            (true, _, _) => Sampling::ArgMax,
            (false, 0, false) => Sampling::All { temperature },
            (false, k, false) => Sampling::TopK { k, temperature },
            (false, 0, true) => Sampling::TopP {
                p: self.top_p,
                temperature,
            },
            (false, k, true) => Sampling::TopKThenTopP {
                k,
                p: self.top_p,
                temperature,
            },
        }
    }
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// The model ended its turn (an end-of-sequence token) or a stop sequence came.
    Stop,
    /// `max_tokens` were generated.
    Length,
    /// The caller asked to stop (a streaming client went away).
    Cancelled,
}

/// The outcome of a generation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Generation {
    pub text: String,
    pub tokens: Vec<u32>,
    pub finish: FinishReason,
    pub prompt_tokens: usize,
    pub prefill_ms: f64,
    pub decode_ms: f64,
}

impl Generation {
    /// Decoded tokens per second (after the first, which the prefill produced).
    pub fn decode_tokens_per_s(&self) -> f64 {
        let n = self.tokens.len().saturating_sub(1) as f64;
        if self.decode_ms > 0.0 {
            1e3 * n / self.decode_ms
        } else {
            0.0
        }
    }
}

/// SmolLM2-135M-Instruct, ready to generate.
pub struct LocalModel {
    weights: Weights,
    pub tokenizer: ChatTokenizer,
    pub template: ChatTemplate,
    pub path: PathBuf,
    pub format: WeightFormat,
    /// The most tokens (prompt and reply) one generation may hold.
    pub context: usize,
    device: Device,
    /// Each token's text, for constrained decoding (filled on first use).
    token_texts: Vec<Option<String>>,
    /// Those texts as a prefix tree (built on first use).
    token_trie: Option<std::sync::Arc<crate::constrain::TokenTrie>>,
}

impl std::fmt::Debug for LocalModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalModel")
            .field("path", &self.path)
            .field("format", &self.format)
            .field("context", &self.context)
            .finish()
    }
}

fn load_err(path: &Path, detail: impl std::fmt::Display) -> LlmError {
    LlmError::Load {
        path: path.to_path_buf(),
        detail: detail.to_string(),
    }
}

impl LocalModel {
    /// SmolLM2 from the model cache, fetched first if needed (`say` hears about it).
    pub fn smollm2(format: WeightFormat, say: &mut dyn FnMut(&str)) -> Result<Self> {
        let dir = wb_data::models::ensure_model(&wb_data::models::SMOLLM2, say)?;
        Self::load(&dir.join(wb_data::models::SMOLLM2.files[0].name), format)
    }

    /// A llama-architecture GGUF with a `gpt2` tokenizer and a chat template. Everything is read
    /// and checked before the model exists: a damaged file is an error naming it.
    pub fn load(path: &Path, format: WeightFormat) -> Result<Self> {
        let device = Device::Cpu;
        let mut file = std::fs::File::open(path).map_err(|e| load_err(path, e))?;
        let ct = gguf_file::Content::read(&mut file).map_err(|e| load_err(path, e))?;
        match ct.metadata.get("general.architecture") {
            Some(gguf_file::Value::String(a)) if a == "llama" => {}
            other => {
                return Err(load_err(
                    path,
                    format!("expected a llama model, found {other:?}"),
                ));
            }
        }
        let tokenizer = ChatTokenizer::from_gguf(&ct).map_err(|e| load_err(path, e))?;
        let template = match ct.metadata.get("tokenizer.chat_template") {
            Some(gguf_file::Value::String(t)) => ChatTemplate::new(t)?,
            _ => return Err(load_err(path, "the GGUF has no tokenizer.chat_template")),
        };
        // The model's own context (8,192 for SmolLM2); candle's Llama holds at most 4,096.
        let trained = ct
            .metadata
            .get("llama.context_length")
            .and_then(|v| v.to_u32().ok())
            .map_or(MAX_SEQ_LEN, |c| (c as usize).min(MAX_TOKENS));
        let context = match format {
            WeightFormat::Quantized => trained,
            WeightFormat::F32 | WeightFormat::AsShipped => trained.min(MAX_SEQ_LEN),
        };
        let weights = match format {
            WeightFormat::Quantized => Ok(Weights::Own(
                crate::llama::Llama::from_gguf(&ct, &mut file, context)
                    .map_err(|e| load_err(path, e))?,
            )),
            WeightFormat::AsShipped => {
                ModelWeights::from_gguf(ct, &mut file, &device).map(Weights::Candle)
            }
            WeightFormat::F32 => {
                // The same file with every quantised matrix expanded to f32, built in memory:
                // candle's QMatMul multiplies f32 weights with its fast matrix product.
                let mut tensors = Vec::with_capacity(ct.tensor_infos.len());
                for name in ct.tensor_infos.keys() {
                    let q = ct
                        .tensor(&mut file, name, &device)
                        .map_err(|e| load_err(path, e))?;
                    let q = match q.dtype() {
                        GgmlDType::F32 | GgmlDType::F16 => q,
                        _ => QTensor::quantize(&q.dequantize(&device)?, GgmlDType::F32)?,
                    };
                    tensors.push((name.clone(), q));
                }
                let metadata: Vec<(&str, &gguf_file::Value)> =
                    ct.metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
                let refs: Vec<(&str, &QTensor)> =
                    tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
                let mut buffer = std::io::Cursor::new(Vec::new());
                gguf_file::write(&mut buffer, &metadata, &refs)?;
                drop(tensors);
                buffer.set_position(0);
                let expanded = gguf_file::Content::read(&mut buffer)?;
                ModelWeights::from_gguf(expanded, &mut buffer, &device).map(Weights::Candle)
            }
        }
        .map_err(|e| load_err(path, e))?;
        Ok(Self {
            weights,
            tokenizer,
            template,
            path: path.to_path_buf(),
            format,
            context,
            device,
            token_texts: Vec::new(),
            token_trie: None,
        })
    }

    /// The chat template rendered for `messages`, ending with the assistant's turn opened, as
    /// token ids.
    pub fn chat_prompt(&self, messages: &[Message]) -> Result<Vec<u32>> {
        let text = self.template.render(messages, true)?;
        self.tokenizer.encode(&text)
    }

    /// The logits of the token after `tokens`, with `tokens` placed at positions `pos…`: the
    /// model keeps the keys and values of earlier positions (its KV cache).
    fn step(&mut self, tokens: &[u32], pos: usize) -> Result<Tensor> {
        match &mut self.weights {
            Weights::Candle(w) => {
                let x = Tensor::new(tokens, &self.device)?.unsqueeze(0)?;
                Ok(w.forward(&x, pos)?.squeeze(0)?)
            }
            Weights::Own(w) => {
                if w.cached != pos {
                    return Err(LlmError::InvalidArgument {
                        arg: "pos".into(),
                        detail: format!("the cache holds {} positions, not {pos}", w.cached),
                    });
                }
                Ok(Tensor::new(w.forward(tokens)?, &self.device)?)
            }
        }
    }

    fn check_prompt(&self, prompt: &[u32], opts: &GenerateOptions) -> Result<()> {
        opts.check()?;
        if prompt.is_empty() {
            return Err(LlmError::InvalidArgument {
                arg: "prompt".into(),
                detail: "no tokens".into(),
            });
        }
        if let Some(&bad) = prompt
            .iter()
            .find(|&&t| t as usize >= self.tokenizer.vocab_size())
        {
            return Err(LlmError::InvalidArgument {
                arg: "prompt".into(),
                detail: format!(
                    "token id {bad} ≥ the vocabulary's {}",
                    self.tokenizer.vocab_size()
                ),
            });
        }
        if prompt.len() + opts.max_tokens > self.context {
            return Err(LlmError::ContextFull {
                prompt: prompt.len(),
                max_tokens: opts.max_tokens,
                context: self.context,
            });
        }
        Ok(())
    }

    // ANCHOR: generate
    /// Generates after `prompt`: one forward pass over the prompt (the prefill), then one token
    /// at a time, each a forward pass over that token alone thanks to the KV cache. `on_text`
    /// receives the text as it grows (never a partial UTF-8 character, never the start of a stop
    /// sequence that may yet complete); returning `false` stops the generation.
    pub fn generate(
        &mut self,
        prompt: &[u32],
        opts: &GenerateOptions,
        on_text: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Generation> {
        self.check_prompt(prompt, opts)?;
        self.weights.clear_kv_cache();
        let mut sampler = LogitsProcessor::from_sampling(opts.seed, opts.sampling());
        let mut stream = TextStream::new(&opts.stop);
        let start = Instant::now();
        let mut logits = self.step(prompt, 0)?;
        let mut next = sampler.sample(&logits)?;
        let prefill_ms = start.elapsed().as_secs_f64() * 1e3;
        let start = Instant::now();
        let mut tokens = Vec::new();
        let finish = loop {
            if self.tokenizer.eos.contains(&next) {
                break FinishReason::Stop;
            }
            tokens.push(next);
            let text = self.tokenizer.decode(&tokens)?;
            match stream.push(&text) {
                Push::Delta(delta) => {
                    if !delta.is_empty() && !on_text(&delta) {
                        break FinishReason::Cancelled;
                    }
                }
                Push::Stopped(delta) => {
                    if !delta.is_empty() {
                        on_text(&delta);
                    }
                    break FinishReason::Stop;
                }
            }
            if tokens.len() == opts.max_tokens {
                break FinishReason::Length;
            }
            logits = self.step(&[next], prompt.len() + tokens.len() - 1)?;
            next = sampler.sample(&logits)?;
        };
        if finish != FinishReason::Cancelled {
            let rest = stream.finish();
            if !rest.is_empty() {
                on_text(&rest);
            }
        }
        Ok(Generation {
            text: stream.text().to_string(),
            tokens,
            finish,
            prompt_tokens: prompt.len(),
            prefill_ms,
            decode_ms: start.elapsed().as_secs_f64() * 1e3,
        })
    }
    // ANCHOR_END: generate

    /// Generates exactly `opts.max_tokens` tokens, end-of-sequence tokens included (for speed
    /// measurements: every run does the same work).
    pub fn generate_exactly(
        &mut self,
        prompt: &[u32],
        opts: &GenerateOptions,
    ) -> Result<Generation> {
        self.check_prompt(prompt, opts)?;
        self.weights.clear_kv_cache();
        let mut sampler = LogitsProcessor::from_sampling(opts.seed, opts.sampling());
        let start = Instant::now();
        let mut next = sampler.sample(&self.step(prompt, 0)?)?;
        let prefill_ms = start.elapsed().as_secs_f64() * 1e3;
        let start = Instant::now();
        let mut tokens = vec![next];
        while tokens.len() < opts.max_tokens {
            next = sampler.sample(&self.step(&[next], prompt.len() + tokens.len() - 1)?)?;
            tokens.push(next);
        }
        Ok(Generation {
            text: self.tokenizer.decode(&tokens)?,
            tokens,
            finish: FinishReason::Length,
            prompt_tokens: prompt.len(),
            prefill_ms,
            decode_ms: start.elapsed().as_secs_f64() * 1e3,
        })
    }

    /// The vocabulary as a prefix tree of every token's text on its own, without the control
    /// tokens and the tokens that are not whole UTF-8 characters (pieces of a multi-byte
    /// character); built once.
    fn token_trie(&mut self) -> Result<std::sync::Arc<crate::constrain::TokenTrie>> {
        if self.token_trie.is_none() {
            let n = self.tokenizer.vocab_size() as u32;
            let specials: Vec<u32> = self.tokenizer.specials.iter().map(|(id, _)| *id).collect();
            self.token_texts = (0..n)
                .map(|id| {
                    if specials.contains(&id) {
                        return Ok(None);
                    }
                    let text = self.tokenizer.decode(&[id])?;
                    Ok((!text.is_empty() && !text.contains('\u{FFFD}')).then_some(text))
                })
                .collect::<Result<_>>()?;
            self.token_trie = Some(std::sync::Arc::new(crate::constrain::TokenTrie::new(
                &self.token_texts,
            )));
        }
        Ok(self.token_trie.clone().expect("built above"))
    }

    /// Generates a JSON document valid for `schema`: at every step, the tokens that cannot
    /// continue a valid document are masked out before sampling, and the end of the turn is
    /// allowed only once the document is complete. `on_text` receives each token's text and may
    /// stop the generation by returning `false`. `mask_ms` in the result is the time spent
    /// computing masks.
    pub fn generate_json(
        &mut self,
        prompt: &[u32],
        schema: &crate::constrain::Node,
        opts: &GenerateOptions,
        on_text: &mut dyn FnMut(&str) -> bool,
    ) -> Result<(Generation, f64)> {
        self.check_prompt(prompt, opts)?;
        let trie = self.token_trie()?;
        let texts = std::mem::take(&mut self.token_texts);
        let result = self.generate_json_with(prompt, schema, opts, &trie, &texts, on_text);
        self.token_texts = texts;
        result
    }

    fn generate_json_with(
        &mut self,
        prompt: &[u32],
        schema: &crate::constrain::Node,
        opts: &GenerateOptions,
        trie: &crate::constrain::TokenTrie,
        texts: &[Option<String>],
        on_text: &mut dyn FnMut(&str) -> bool,
    ) -> Result<(Generation, f64)> {
        let mut matcher = crate::constrain::Matcher::new(schema);
        self.weights.clear_kv_cache();
        let mut sampler = LogitsProcessor::from_sampling(opts.seed, opts.sampling());
        let eos = self.tokenizer.eos.clone();
        let mut mask_ms = 0.0;
        let mut allowed = vec![false; texts.len()];
        let start = Instant::now();
        let mut logits = self.step(prompt, 0)?;
        let prefill_ms = start.elapsed().as_secs_f64() * 1e3;
        let start = Instant::now();
        let mut tokens = Vec::new();
        let mut text = String::new();
        let finish = loop {
            if matcher.must_end() {
                break FinishReason::Stop;
            }
            let t = Instant::now();
            allowed.fill(false);
            let mut any = trie.allowed(&matcher, &mut allowed) > 0;
            if matcher.can_end() {
                for &e in &eos {
                    allowed[e as usize] = true;
                    any = true;
                }
            }
            let mut scores = logits.to_vec1::<f32>()?;
            for (s, &ok) in scores.iter_mut().zip(&allowed) {
                if !ok {
                    *s = f32::NEG_INFINITY;
                }
            }
            mask_ms += t.elapsed().as_secs_f64() * 1e3;
            if !any {
                return Err(LlmError::InvalidArgument {
                    arg: "schema".into(),
                    detail: "no token can continue the document".into(),
                });
            }
            let next = sampler.sample(&Tensor::new(scores, &self.device)?)?;
            if eos.contains(&next) {
                break FinishReason::Stop;
            }
            let piece = texts[next as usize].as_deref().unwrap_or("");
            matcher.advance(piece);
            text.push_str(piece);
            tokens.push(next);
            if !on_text(piece) {
                break FinishReason::Cancelled;
            }
            if tokens.len() == opts.max_tokens {
                break FinishReason::Length;
            }
            logits = self.step(&[next], prompt.len() + tokens.len() - 1)?;
        };
        Ok((
            Generation {
                text,
                tokens,
                finish,
                prompt_tokens: prompt.len(),
                prefill_ms,
                decode_ms: start.elapsed().as_secs_f64() * 1e3,
            },
            mask_ms,
        ))
    }

    /// Greedy generation without the KV cache: every step runs the whole sequence through the
    /// model again. The same tokens as [`LocalModel::generate`], quadratically slower: the test
    /// that the cache is right, and the measurement of what it saves.
    pub fn generate_uncached(&mut self, prompt: &[u32], max_tokens: usize) -> Result<Vec<u32>> {
        let opts = GenerateOptions {
            max_tokens,
            ..GenerateOptions::default()
        };
        self.check_prompt(prompt, &opts)?;
        let mut sequence = prompt.to_vec();
        let mut out = Vec::new();
        while out.len() < max_tokens {
            self.weights.clear_kv_cache();
            let logits = self.step(&sequence, 0)?;
            let next = logits.argmax(0)?.to_scalar::<u32>()?;
            if self.tokenizer.eos.contains(&next) {
                break;
            }
            out.push(next);
            sequence.push(next);
        }
        Ok(out)
    }

    /// The log-probabilities of the next token after `tokens` (for constrained decoding and
    /// tests). Clears the KV cache first.
    pub fn next_logits(&mut self, tokens: &[u32]) -> Result<Vec<f32>> {
        self.weights.clear_kv_cache();
        Ok(self.step(tokens, 0)?.to_vec1::<f32>()?)
    }
}

/// What [`TextStream::push`] releases.
#[derive(Debug, PartialEq)]
pub(crate) enum Push {
    Delta(String),
    /// A stop sequence completed: the text before it, not yet released.
    Stopped(String),
}

/// Turns the growing decoded text into safe deltas: it holds back a trailing U+FFFD (a UTF-8
/// character whose bytes have not all come) and any tail that could still become a stop
/// sequence, and cuts the text at the first complete stop sequence.
#[derive(Debug)]
pub(crate) struct TextStream {
    stop: Vec<String>,
    text: String,
    released: usize,
}

impl TextStream {
    pub(crate) fn new(stop: &[String]) -> Self {
        Self {
            stop: stop.to_vec(),
            text: String::new(),
            released: 0,
        }
    }

    /// The text so far (cut at a stop sequence once one came).
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    // ANCHOR: push
    pub(crate) fn push(&mut self, full: &str) -> Push {
        self.text = full.to_string();
        if let Some(cut) = self
            .stop
            .iter()
            .filter_map(|s| self.text.find(s.as_str()))
            .min()
        {
            self.text.truncate(cut);
            let delta = self.text.get(self.released..).unwrap_or("").to_string();
            self.released = self.text.len();
            return Push::Stopped(delta);
        }
        // Hold back the longest tail that is a proper prefix of some stop sequence.
        let mut safe = self.text.len();
        for s in &self.stop {
            for (k, _) in s.char_indices().skip(1) {
                if self.text.ends_with(&s[..k]) {
                    safe = safe.min(self.text.len() - k);
                }
            }
        }
        // And an incomplete character at the end.
        if let Some(pos) = self.text[..safe].rfind('\u{FFFD}')
            && pos + '\u{FFFD}'.len_utf8() == safe
        {
            safe = pos;
        }
        let safe = safe.max(self.released);
        let delta = self.text.get(self.released..safe).unwrap_or("").to_string();
        self.released = safe;
        Push::Delta(delta)
    }
    // ANCHOR_END: push

    /// What is still held back when generation ends without a stop sequence.
    pub(crate) fn finish(&mut self) -> String {
        let rest = self.text.get(self.released..).unwrap_or("").to_string();
        self.released = self.text.len();
        rest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_holds_back_what_may_become_a_stop_sequence() {
        let mut s = TextStream::new(&["END".to_string()]);
        assert_eq!(s.push("Hello E"), Push::Delta("Hello ".into()));
        assert_eq!(s.push("Hello EN"), Push::Delta(String::new()));
        // "ENx" cannot become "END": released.
        assert_eq!(s.push("Hello ENx"), Push::Delta("ENx".into()));
        assert_eq!(
            s.push("Hello ENx and END more"),
            Push::Stopped(" and ".into())
        );
        assert_eq!(s.text(), "Hello ENx and ");
    }

    #[test]
    fn the_stream_never_releases_half_a_character() {
        let mut s = TextStream::new(&[]);
        assert_eq!(s.push("caf\u{FFFD}"), Push::Delta("caf".into()));
        assert_eq!(s.push("café"), Push::Delta("é".into()));
        assert_eq!(s.finish(), "");
    }

    #[test]
    fn a_stop_sequence_split_across_tokens_is_found() {
        let mut s = TextStream::new(&["\n\n".to_string()]);
        assert_eq!(s.push("a\n"), Push::Delta("a".into()));
        assert_eq!(s.push("a\n\nb"), Push::Stopped(String::new()));
        assert_eq!(s.text(), "a");
    }

    #[test]
    fn options_are_checked_field_by_field() {
        let bad = |o: GenerateOptions, field: &str| {
            let e = o.check().unwrap_err().to_string();
            assert!(e.contains(field), "{e}");
        };
        bad(
            GenerateOptions {
                max_tokens: 0,
                ..Default::default()
            },
            "max_tokens",
        );
        bad(
            GenerateOptions {
                temperature: -0.1,
                ..Default::default()
            },
            "temperature",
        );
        bad(
            GenerateOptions {
                top_p: 0.0,
                ..Default::default()
            },
            "top_p",
        );
        bad(
            GenerateOptions {
                stop: vec![String::new()],
                ..Default::default()
            },
            "stop",
        );
        assert!(GenerateOptions::default().check().is_ok());
    }
}
