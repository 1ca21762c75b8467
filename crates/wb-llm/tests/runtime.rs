//! The runtime against independent references: the Python `tokenizers` package and a numpy
//! forward pass (fixtures/reference.json, made by fixtures/make_fixtures.py), closed-form
//! properties, and the model's known answers. The models are fetched into the cache first if
//! needed (about 190 MB, once).

use serde_json::Value;
use std::sync::{Mutex, MutexGuard, OnceLock};
use wb_data::SplitMix64;
use wb_llm::{
    ChatModel, Embedder, FinishReason, GenerateOptions, LlmError, LocalModel, Message, WeightFormat,
};

fn reference() -> Value {
    let path = std::path::Path::new("fixtures/reference.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn say(line: &str) {
    eprintln!("{line}");
}

fn model() -> MutexGuard<'static, LocalModel> {
    static MODEL: OnceLock<Mutex<LocalModel>> = OnceLock::new();
    MODEL
        .get_or_init(|| Mutex::new(LocalModel::smollm2(WeightFormat::default(), &mut say).unwrap()))
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

fn embedder() -> &'static Embedder {
    static EMBEDDER: OnceLock<Embedder> = OnceLock::new();
    EMBEDDER.get_or_init(|| Embedder::minilm(&mut say).unwrap())
}

#[test]
fn token_ids_equal_the_python_tokenizers_package() {
    let r = reference();
    let text = r["smollm2"]["text"].as_str().unwrap();
    let expected: Vec<u32> = serde_json::from_value(r["smollm2"]["ids"].clone()).unwrap();
    let m = model();
    let ids = m.tokenizer.encode(text).unwrap();
    assert_eq!(ids, expected);
    assert_eq!(m.tokenizer.decode(&ids).unwrap(), text);
}

#[test]
fn every_control_token_is_one_id() {
    let r = reference();
    let specials: Vec<String> = serde_json::from_value(r["smollm2"]["specials"].clone()).unwrap();
    let m = model();
    assert_eq!(specials.len(), 17);
    assert_eq!(m.tokenizer.specials.len(), 17);
    for s in &specials {
        let ids = m.tokenizer.encode(&format!("a{s}b")).unwrap();
        let id = m.tokenizer.token_id(s).unwrap();
        assert!(ids.contains(&id) && ids.len() == 3, "{s}: {ids:?}");
    }
}

/// A random string mixing ASCII, accents, CJK, emoji, controls, digits and lookalikes of the
/// special tokens.
fn random_text(rng: &mut SplitMix64) -> String {
    let pieces = [
        "a",
        " ",
        "  ",
        "\n",
        "\t",
        "\r\n",
        "é",
        "ß",
        "四",
        "🐋",
        "👩‍👩‍👧",
        "\u{0}",
        "\u{7f}",
        "0",
        "12",
        "<|im_start|>",
        "<|im_",
        "|>",
        "Ġ",
        "\u{FFFD}",
        "'s",
        "don't",
        "ﬁ",
        "\u{200b}",
        "x̄",
    ];
    let n = (rng.next_f64() * 20.0) as usize;
    (0..n)
        .map(|_| {
            if rng.next_f64() < 0.3 {
                // Any scalar value, surrogates excluded.
                let c = (rng.next_f64() * 0x10FFFF as f64) as u32;
                char::from_u32(c).map_or("?".to_string(), |c| c.to_string())
            } else {
                pieces[(rng.next_f64() * pieces.len() as f64) as usize % pieces.len()].to_string()
            }
        })
        .collect()
}

#[test]
fn decode_of_encode_is_the_identity_on_arbitrary_utf8() {
    let m = model();
    // The 21 bytes without a token, by hand from the GGUF's vocabulary (and GPT-2's byte map).
    let missing = [
        0x04, 0x06, 0x13, 0x14, 0x16, 0x1d, 0xc0, 0xc1, 0xf1, 0xf2, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9,
        0xfa, 0xfb, 0xfc, 0xfd, 0xfe, 0xff,
    ];
    assert_eq!(m.tokenizer.missing_bytes, missing);
    let representable = |s: &str| s.bytes().all(|b| !missing.contains(&b));
    let mut rng = SplitMix64::new(17);
    let (mut tried, mut refused) = (0, 0);
    while tried < 3000 {
        let text = random_text(&mut rng);
        match m.tokenizer.encode(&text) {
            Ok(ids) => {
                assert!(representable(&text), "{text:?} was accepted");
                assert_eq!(
                    m.tokenizer.decode(&ids).unwrap(),
                    text,
                    "{text:?} → {ids:?}"
                );
                tried += 1;
            }
            Err(e) => {
                // Refused, never dropped: only text with a byte the vocabulary lacks.
                assert!(!representable(&text), "{text:?}: {e}");
                assert!(e.to_string().contains("has no tokens"), "{e}");
                refused += 1;
            }
        }
    }
    assert!(
        refused > 0,
        "the generator never produced an unrepresentable character"
    );
    let e = m.tokenizer.encode("ok \u{4}").unwrap_err().to_string();
    assert!(e.contains("U+0004 at byte 3"), "{e}");
}

#[test]
fn the_model_knows_the_capital_of_france() {
    let mut m = model();
    let reply = m
        .chat(
            &[Message::user("What is the capital of France?")],
            &GenerateOptions {
                max_tokens: 24,
                ..Default::default()
            },
        )
        .unwrap();
    assert!(reply.text.contains("Paris"), "{reply:?}");
    assert_eq!(reply.finish, FinishReason::Stop);
}

/// The runtime's own forward pass on the packed 4-bit weights (the default) against candle's
/// Llama on the same weights expanded to f32: an independent implementation of the same model.
#[test]
fn the_own_kernels_compute_what_candles_llama_computes() {
    let mut reference = LocalModel::smollm2(WeightFormat::F32, &mut say).unwrap();
    let mut m = model();
    assert_eq!(m.format, WeightFormat::Quantized);
    let prompt = m
        .chat_prompt(&[Message::user(
            "Explain in a few sentences why the sky is blue.",
        )])
        .unwrap();
    let (ours, theirs) = (
        m.next_logits(&prompt).unwrap(),
        reference.next_logits(&prompt).unwrap(),
    );
    let scale = theirs.iter().fold(0f32, |a, v| a.max(v.abs()));
    let worst = ours
        .iter()
        .zip(&theirs)
        .fold(0f32, |a, (x, y)| a.max((x - y).abs()));
    assert!(
        worst < 1e-3 * scale,
        "logits differ by {worst} (largest {scale})"
    );
    let opts = GenerateOptions {
        max_tokens: 48,
        ..Default::default()
    };
    let ours = m.generate_exactly(&prompt, &opts).unwrap();
    let theirs = reference.generate_exactly(&prompt, &opts).unwrap();
    assert_eq!(ours.tokens, theirs.tokens);
    eprintln!("largest logit difference {worst:.1e} of {scale:.1}; 48 greedy tokens equal");
}

#[test]
fn the_kv_cache_changes_nothing_but_the_time() {
    let mut m = model();
    let prompt = m
        .chat_prompt(&[Message::user("Name three colours.")])
        .unwrap();
    let opts = GenerateOptions {
        max_tokens: 20,
        ..Default::default()
    };
    let cached = m.generate(&prompt, &opts, &mut |_| true).unwrap();
    let uncached = m.generate_uncached(&prompt, 20).unwrap();
    assert_eq!(cached.tokens, uncached);
}

#[test]
fn streaming_stop_sequences_and_limits() {
    let mut m = model();
    let messages = [Message::user("Count from 1 to 20, separated by commas.")];
    let mut pieces = Vec::new();
    let opts = GenerateOptions {
        max_tokens: 60,
        ..Default::default()
    };
    let full = m
        .chat_stream(&messages, &opts, &mut |p| {
            pieces.push(p.to_string());
            true
        })
        .unwrap();
    assert!(pieces.len() > 5);
    assert_eq!(pieces.concat(), full.text);
    // A stop sequence found in the reply cuts it there, wherever the tokens split it.
    let stop = GenerateOptions {
        stop: vec!["5".into()],
        ..opts.clone()
    };
    let cut = m.chat(&messages, &stop).unwrap();
    let at = full.text.find('5').expect("the count reaches 5");
    assert_eq!(cut.text, full.text[..at]);
    assert_eq!(cut.finish, FinishReason::Stop);
    // max_tokens ends it with `length`.
    let short = m
        .chat(
            &messages,
            &GenerateOptions {
                max_tokens: 3,
                ..opts.clone()
            },
        )
        .unwrap();
    assert_eq!(
        (short.completion_tokens, short.finish),
        (3, FinishReason::Length)
    );
    // The caller can cancel.
    let mut n = 0;
    let cancelled = m
        .chat_stream(&messages, &opts, &mut |_| {
            n += 1;
            n < 2
        })
        .unwrap();
    assert_eq!(cancelled.finish, FinishReason::Cancelled);
}

#[test]
fn sampling_is_reproducible_with_a_seed() {
    let mut m = model();
    let messages = [Message::user("Write one sentence about the sea.")];
    let opts = GenerateOptions {
        max_tokens: 20,
        temperature: 0.9,
        top_p: 0.95,
        top_k: 40,
        seed: 7,
        ..Default::default()
    };
    let a = m.chat(&messages, &opts).unwrap();
    let b = m.chat(&messages, &opts).unwrap();
    assert_eq!(a.text, b.text);
    let c = m
        .chat(&messages, &GenerateOptions { seed: 8, ..opts })
        .unwrap();
    assert_ne!(a.text, c.text, "two seeds gave the same 20 tokens");
}

#[test]
fn bad_requests_are_refused_with_the_field_named() {
    let mut m = model();
    let err = |r: Result<wb_llm::Reply, LlmError>| r.unwrap_err().to_string();
    let opts = GenerateOptions::default();
    assert!(err(m.chat(&[], &opts)).contains("messages"));
    assert!(err(m.chat(&[Message::user("  ")], &opts)).contains("messages[0].content"));
    // SmolLM2's own context, 8,192 tokens (candle's Llama would hold 4,096).
    let huge = GenerateOptions {
        max_tokens: 8000,
        ..Default::default()
    };
    let long = Message::user("word ".repeat(200));
    let e = err(m.chat(&[long], &huge));
    assert!(e.contains("exceed the context of 8192 tokens"), "{e}");
    let e = m
        .generate(&[60_000], &opts, &mut |_| true)
        .unwrap_err()
        .to_string();
    assert!(e.contains("60000"), "{e}");
}

#[test]
fn a_truncated_gguf_is_an_error_naming_the_file() {
    let src = model().path.clone();
    let bytes = std::fs::read(&src).unwrap();
    let dir = std::env::temp_dir().join(format!("wb-llm-truncated-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("half.gguf");
    std::fs::write(&bad, &bytes[..bytes.len() / 2]).unwrap();
    for format in [WeightFormat::Quantized, WeightFormat::F32] {
        let e = LocalModel::load(&bad, format).unwrap_err().to_string();
        assert!(e.contains("half.gguf"), "{format:?}: {e}");
    }
    std::fs::write(&bad, b"not a gguf").unwrap();
    let e = LocalModel::load(&bad, WeightFormat::AsShipped)
        .unwrap_err()
        .to_string();
    assert!(e.contains("half.gguf"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn embeddings_equal_a_numpy_forward_pass() {
    let r = reference();
    let sentences: Vec<String> = serde_json::from_value(r["minilm"]["sentences"].clone()).unwrap();
    let expected: Vec<Vec<f64>> =
        serde_json::from_value(r["minilm"]["embeddings"].clone()).unwrap();
    let ids: Vec<Vec<u32>> = serde_json::from_value(r["minilm"]["ids"].clone()).unwrap();
    let e = embedder();
    let refs: Vec<&str> = sentences.iter().map(String::as_str).collect();
    // In one padded batch, and one by one: the padding must not change anything.
    let batch = e.embed(&refs).unwrap();
    for (i, s) in refs.iter().enumerate() {
        assert_eq!(e.tokenize(s).unwrap(), ids[i]);
        let alone = e.embed(&[s]).unwrap().remove(0);
        for (got, row) in [&batch[i], &alone].into_iter().zip([0, 1]) {
            let worst = got
                .iter()
                .zip(&expected[i])
                .map(|(a, b)| (f64::from(*a) - b).abs())
                .fold(0.0, f64::max);
            let how = ["batched", "alone"][row];
            eprintln!("sentence {i}, {how}: max difference to numpy {worst:.1e}");
            assert!(
                worst < 1e-5,
                "sentence {i} ({row}): max difference {worst:e}"
            );
        }
        let norm: f32 = batch[i].iter().map(|v| v * v).sum();
        assert!((norm - 1.0).abs() < 1e-5);
    }
    // The paraphrase is nearer than an unrelated sentence.
    let sim = |a: usize, b: usize| wb_llm::embed::dot(&batch[a], &batch[b]);
    assert!(
        sim(0, 1) > sim(0, 2) + 0.2,
        "{} vs {}",
        sim(0, 1),
        sim(0, 2)
    );
}

#[test]
fn the_chat_template_renders_chatml_as_transformers_does() {
    let m = model();
    // By hand from the template in the GGUF: a default system message when none is given.
    let text = m
        .template
        .render(&[Message::user("What is the capital of France?")], true)
        .unwrap();
    assert_eq!(
        text,
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n\
         <|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"
    );
    let text = m
        .template
        .render(
            &[
                Message::system("Be brief."),
                Message::user("Hi"),
                Message::assistant("Hello."),
                Message::tool("42"),
            ],
            false,
        )
        .unwrap();
    assert_eq!(
        text,
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n\
         <|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>tool\n42<|im_end|>\n"
    );
    assert_eq!(
        m.chat_prompt(&[Message::user("What is the capital of France?")])
            .unwrap()
            .len(),
        37
    );
}

#[test]
fn constrained_output_is_valid_json_for_the_schema() {
    use wb_llm::constrain::Node;
    let mut m = model();
    let schema = serde_json::json!({"anyOf": [
        {"type": "object", "properties": {"tool": {"const": "get_weather"}, "city": {"type": "string", "maxLength": 40}}, "required": ["tool", "city"]},
        {"type": "object", "properties": {"tool": {"const": "add"}, "a": {"type": "number"}, "b": {"type": "number"}}, "required": ["tool", "a", "b"]}
    ]});
    let node = Node::compile(&schema).unwrap();
    let prompt = m
        .chat_prompt(&[
            Message::system("Answer with a JSON tool call: get_weather(city) or add(a, b)."),
            Message::user("What is the weather in Lyon?"),
        ])
        .unwrap();
    let opts = GenerateOptions {
        max_tokens: 40,
        ..Default::default()
    };
    let (g, mask_ms) = m
        .generate_json(&prompt, &node, &opts, &mut |_| true)
        .unwrap();
    eprintln!(
        "{:?} ({} tokens, masks {mask_ms:.0} ms)",
        g.text,
        g.tokens.len()
    );
    let v: serde_json::Value = serde_json::from_str(&g.text).unwrap();
    assert!(v["tool"] == "get_weather" || v["tool"] == "add", "{v}");
}

#[test]
fn constrained_tool_calls_always_parse_and_validate() {
    use wb_llm::constrain::Node;
    use wb_llm::tools;
    let path = std::path::Path::new("fixtures/tool_calls.jsonl");
    let cases: Vec<Value> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(cases.len(), 50);
    let tools = tools::example_tools();
    let schema = Node::compile(&tools::call_schema(&tools).unwrap()).unwrap();
    let system = tools::system_prompt(&tools);
    let mut m = model();
    let opts = GenerateOptions {
        max_tokens: 120,
        ..Default::default()
    };
    // One prompt per tool (the fixture holds ten of each, in order).
    for case in cases.iter().step_by(10) {
        let prompt = m
            .chat_prompt(&[
                Message::system(system.clone()),
                Message::user(case["prompt"].as_str().unwrap()),
            ])
            .unwrap();
        let (g, _) = m
            .generate_json(&prompt, &schema, &opts, &mut |_| true)
            .unwrap();
        let (value, valid) = tools::parse_call(&g.text, &schema).expect("JSON");
        assert!(
            valid && g.finish == FinishReason::Stop,
            "{:?}: {}",
            case["prompt"],
            g.text
        );
        assert!(value["tool"].is_string());
    }
}
