//! Grader checks for week 17: the BPE trainer against Hugging Face's, the GPT-2 encoder against
//! OpenAI's tiktoken, encode∘decode on arbitrary UTF-8, special tokens, context windows, cost,
//! the KV cache, and bad input.
//!
//! References: `crates/grader/fixtures/week17.json`, made by `make_fixtures.py` with Hugging
//! Face `tokenizers` (BpeTrainer) and `tiktoken` (r50k_base); hand-worked cases; the properties
//! themselves (every token covered once, text unchanged); the local model's own generation
//! without its cache.

use grader::{Called, Failure, Tol, check, close, ensure, expect_err, fixture};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::sync::{Mutex, OnceLock};
use week17_tokenization::bpe::{self, Bpe, MAX_MERGES, MAX_TEXT_BYTES, PreTokenizer, Specials};
use week17_tokenization::context::{Keep, sliding_windows, truncate};
use week17_tokenization::cost::{Price, PriceTable, request_cost};
use week17_tokenization::latency::{fit_line, measure};
use week17_tokenization::wb_llm::{GenerateOptions, LocalModel, Message, WeightFormat};
use week17_tokenization::{TokenError, moby_dick};

/// The first `chars` characters of Moby-Dick.
fn book_prefix(chars: usize) -> Result<String, Failure> {
    let book = moby_dick().called("moby_dick")?;
    Ok(book.chars().take(chars).collect())
}

fn gpt2() -> Result<&'static Bpe, Failure> {
    static GPT2: OnceLock<Result<Bpe, String>> = OnceLock::new();
    GPT2.get_or_init(|| Bpe::gpt2().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| Failure::new("Bpe::gpt2", e.clone()))
}

fn first_difference<T: PartialEq>(a: &[T], b: &[T]) -> Option<usize> {
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .or((a.len() != b.len()).then(|| a.len().min(b.len())))
}

/// A random string of up to `max_chars` characters from every corner of Unicode: ASCII,
/// whitespace of all kinds, Latin-1, Cyrillic, CJK, emoji, combining marks, and any scalar value.
fn random_text(rng: &mut SmallRng, max_chars: usize) -> String {
    let n = rng.gen_range(0..=max_chars);
    (0..n)
        .map(|_| {
            let c = match rng.gen_range(0..8) {
                0 => rng.gen_range(0x20..0x7F),
                1 => [0x09, 0x0A, 0x0D, 0x20, 0xA0, 0x2003, 0x3000][rng.gen_range(0..7)],
                2 => rng.gen_range(0x80..0x100),
                3 => rng.gen_range(0x400..0x500),
                4 => rng.gen_range(0x4E00..0x9FFF),
                5 => rng.gen_range(0x1F300..0x1FAFF),
                6 => rng.gen_range(0x300..0x370),
                _ => rng.gen_range(0..0x110000),
            };
            char::from_u32(c).unwrap_or('\u{FFFD}')
        })
        .collect()
}

check! {
    /// 300 merges learnt on the first 60,000 characters of Moby-Dick, in the same order as
    /// Hugging Face's BpeTrainer learns them (the fixture).
    fn trained_merges_equal_hugging_face(exercise = "train") {
        let fx = fixture("week17");
        let chars = fx["train_chars"].as_u64().unwrap_or(0) as usize;
        let expected: Vec<String> = fx["merges"]
            .as_array()
            .map(|a| a.iter().map(|m| format!("{} {}", m[0].as_str().unwrap_or(""), m[1].as_str().unwrap_or(""))).collect())
            .unwrap_or_default();
        let trained = bpe::train(&book_prefix(chars)?, expected.len(), &PreTokenizer::gpt2()).called("train")?;
        let got: Vec<String> = trained
            .merges()
            .iter()
            .map(|&(a, b)| {
                format!(
                    "{} {}",
                    bpe::show_token(trained.token_bytes(a).unwrap_or_default()),
                    bpe::show_token(trained.token_bytes(b).unwrap_or_default())
                )
            })
            .collect();
        match first_difference(&expected, &got) {
            None => Ok(()),
            Some(i) => Err(Failure::new(
                format!("merge {i} of {} (tokens shown as GPT-2 shows bytes: Ġ is a space)", expected.len()),
                format!(
                    "expected `{}`, got `{}` (merges before it agree; ties go to the pair of the smallest ids)",
                    expected.get(i).map_or("(none)", String::as_str),
                    got.get(i).map_or("(none)", String::as_str)
                ),
            )),
        }
    }
}

check! {
    /// GPT-2's ranks through this lab's encoder give tiktoken's ids: on a text with prose,
    /// numbers, accents, emoji, code, tabs, CRLF, Cyrillic, CJK and odd spaces, and in number on
    /// the first 200,000 characters of Moby-Dick.
    fn gpt2_ids_equal_tiktoken(exercise = "encode_piece") {
        let fx = fixture("week17");
        let text = fx["text"].as_str().unwrap_or_default();
        let ids = |key: &str| -> Vec<u32> {
            fx[key].as_array().map(|a| a.iter().map(|v| v.as_u64().unwrap_or(0) as u32).collect()).unwrap_or_default()
        };
        let gpt2 = gpt2()?;
        for (key, specials) in [("gpt2_ordinary", Specials::AsText), ("gpt2_allowed", Specials::Allow)] {
            let expected = ids(key);
            let got = gpt2.encode(text, specials).called("encode")?;
            if let Some(i) = first_difference(&expected, &got) {
                return Err(Failure::new(
                    format!("{key}: token {i} of the fixture text"),
                    format!("tiktoken gives {:?}…, yours {:?}…", &expected[i..(i + 5).min(expected.len())], &got[i..(i + 5).min(got.len())]),
                ));
            }
        }
        let n = gpt2.encode_ordinary(&book_prefix(200_000)?).called("encode_ordinary")?.len();
        let expected = fx["gpt2_book_prefix_tokens"].as_u64().unwrap_or(0) as usize;
        ensure(n == expected, "GPT-2 tokens in the first 200,000 characters of Moby-Dick", format!("tiktoken counts {expected}, yours {n}"))
    }
}

check! {
    /// decode(encode(s)) == s for 400 random strings from all of Unicode, with GPT-2's ranks and
    /// with a tokenizer trained here; every id is in the vocabulary.
    fn encode_then_decode_is_the_identity_on_arbitrary_utf8(exercise = "encode_piece") {
        let trained = bpe::train(&book_prefix(30_000)?, 200, &PreTokenizer::gpt2()).called("train")?;
        let mut rng = SmallRng::seed_from_u64(17);
        for (name, tok) in [("GPT-2", gpt2()?), ("trained", &trained)] {
            for case in 0..200 {
                let text = random_text(&mut rng, 60);
                let ids = tok.encode_ordinary(&text).called("encode_ordinary")?;
                if let Some(&id) = ids.iter().find(|&&id| id as usize >= tok.vocab_size()) {
                    return Err(Failure::new(format!("{name}, case {case}: {text:?}"), format!("id {id} is outside the vocabulary of {}", tok.vocab_size())));
                }
                let back = tok.decode(&ids).called("decode")?;
                ensure(back == text, &format!("{name}, case {case}"), format!("encoded {text:?} into {ids:?}, which decodes to {back:?}"))?;
            }
        }
        Ok(())
    }
}

check! {
    /// `<|endoftext|>` in the text: one id (50256) when allowed, an error naming its byte offset
    /// when refused, plain characters when encoded as text.
    fn special_tokens_are_one_id_refused_or_text(exercise = "encode_piece") {
        let gpt2 = gpt2()?;
        let text = "Hi there<|endoftext|>Bye<|endoftext|>";
        let allowed = gpt2.encode(text, Specials::Allow).called("encode(Allow)")?;
        let expected = [
            gpt2.encode_ordinary("Hi there").called("encode_ordinary")?,
            vec![50256],
            gpt2.encode_ordinary("Bye").called("encode_ordinary")?,
            vec![50256],
        ]
        .concat();
        ensure(allowed == expected, "Specials::Allow", format!("expected {expected:?}, got {allowed:?}"))?;
        match gpt2.encode(text, Specials::Refuse) {
            Err(TokenError::DisallowedSpecial { token, offset }) => ensure(
                token == "<|endoftext|>" && offset == 8,
                "Specials::Refuse",
                format!("expected <|endoftext|> at byte 8, got {token} at {offset}"),
            )?,
            other => return Err(Failure::new("Specials::Refuse", format!("expected DisallowedSpecial, got {other:?}"))),
        }
        let as_text = gpt2.encode(text, Specials::AsText).called("encode(AsText)")?;
        ensure(!as_text.contains(&50256) && gpt2.decode(&as_text).called("decode")? == text, "Specials::AsText", "no special id, and the same text back")
    }
}

check! {
    /// Truncation, worked by hand on ten tokens: head, tail, both ends; short input unchanged.
    fn truncation_keeps_head_tail_or_both_ends(exercise = "truncate") {
        let t: Vec<u32> = (0..10).collect();
        for (keep, max, expected) in [
            (Keep::Head, 4, vec![0, 1, 2, 3]),
            (Keep::Tail, 4, vec![6, 7, 8, 9]),
            (Keep::Middle, 4, vec![0, 1, 8, 9]),
            (Keep::Middle, 5, vec![0, 1, 2, 8, 9]),
            (Keep::Middle, 1, vec![0]),
            (Keep::Tail, 10, t.clone()),
            (Keep::Head, 50, t.clone()),
        ] {
            let got = truncate(&t, max, keep).called("truncate")?;
            ensure(got == expected, &format!("truncate(0..10, {max}, {keep:?})"), format!("expected {expected:?}, got {got:?}"))?;
        }
        Ok(())
    }
}

check! {
    /// Sliding windows, by hand (10 tokens, windows of 4 sharing 1: 0..4, 3..7, 6..10) and as
    /// properties over every length up to 60 and every window and overlap up to 12: the first
    /// starts at 0, the last ends at the length, none is longer than the window, neighbours share
    /// exactly the overlap.
    fn sliding_windows_cover_every_token_with_the_overlap(exercise = "windows") {
        let got = sliding_windows(10, 4, 1).called("sliding_windows")?;
        ensure(got == vec![0..4, 3..7, 6..10], "sliding_windows(10, 4, 1)", format!("expected [0..4, 3..7, 6..10], got {got:?}"))?;
        let got = sliding_windows(0, 4, 1).called("sliding_windows")?;
        ensure(got.is_empty(), "sliding_windows(0, 4, 1)", format!("no tokens, no windows; got {got:?}"))?;
        for len in 1..=60 {
            for window in 1..=12 {
                for overlap in 0..window {
                    let w = sliding_windows(len, window, overlap).called("sliding_windows")?;
                    let what = format!("sliding_windows({len}, {window}, {overlap}) = {w:?}");
                    ensure(w.first().map(|r| r.start) == Some(0) && w.last().map(|r| r.end) == Some(len), &what, "the first must start at 0 and the last end at the length")?;
                    ensure(w.iter().all(|r| r.end > r.start && r.len() <= window), &what, "every window holds 1 to `window` tokens")?;
                    ensure(w.windows(2).all(|p| p[0].end == p[1].start + overlap && p[1].start > p[0].start), &what, "neighbours share exactly `overlap` tokens")?;
                }
            }
        }
        Ok(())
    }
}

check! {
    /// Cost, worked by hand: 1,200 input and 300 output tokens at $3 and $15 per million are
    /// $0.0036 + $0.0045 = $0.0081; a request of exactly the context is priced, one token more is
    /// refused.
    fn request_cost_is_tokens_times_price(exercise = "request_cost") {
        let p = Price { model: "m".into(), input_per_million: 3.0, output_per_million: 15.0, context: 2_000 };
        close("cost of 1,200 in + 300 out", 0.0081, request_cost(&p, 1_200, 300).called("request_cost")?, Tol::rel(1e-12))?;
        close("cost of 1,500 in + 500 out (the whole context)", 0.012, request_cost(&p, 1_500, 500).called("request_cost")?, Tol::rel(1e-12))?;
        let e = expect_err("request_cost(1,501 in + 500 out, context 2,000)", request_cost(&p, 1_501, 500))?;
        ensure(e.contains("2000") && e.contains("1501"), "the error", format!("should name the tokens and the context: {e}"))?;
        let table = PriceTable::shipped().called("PriceTable::shipped")?;
        ensure(!table.models.is_empty(), "pricing.toml", "holds at least one model")
    }
}

check! {
    /// SmolLM2 with its KV cache generates exactly the tokens it generates without it (each step
    /// the whole sequence again); `measure` reports the same and times that are positive, with
    /// the prefill of the prompt cheaper than the whole uncached generation.
    fn kv_cache_generation_equals_generation_without_it(exercise = "measure", timeout_s = 240) {
        static MODEL: OnceLock<Mutex<LocalModel>> = OnceLock::new();
        let mut say = |_: &str| {};
        if MODEL.get().is_none() {
            let m = LocalModel::smollm2(WeightFormat::default(), &mut say).called("LocalModel::smollm2")?;
            let _ = MODEL.set(Mutex::new(m));
        }
        let mut model = MODEL.get().and_then(|m| m.lock().ok()).ok_or_else(|| Failure::new("the model", "unavailable"))?;
        let prompt = model
            .chat_prompt(&[Message::user("Name three animals that live in the sea.")])
            .called("chat_prompt")?;
        let opts = GenerateOptions { max_tokens: 12, ..GenerateOptions::default() };
        let cached = model.generate(&prompt, &opts, &mut |_| true).called("generate")?.tokens;
        let uncached = model.generate_uncached(&prompt, 12).called("generate_uncached")?;
        ensure(cached == uncached, "greedy tokens with and without the KV cache", format!("with {cached:?}, without {uncached:?}"))?;
        let points = measure(&mut model, &prompt, &[prompt.len()], 6).called("measure")?;
        let p = points.first().ok_or_else(|| Failure::new("measure", "returned no point"))?;
        ensure(points.len() == 1 && p.context == prompt.len() && p.same_tokens, "measure", format!("one point at {} tokens with same_tokens = true; got {points:?}", prompt.len()))?;
        ensure(
            p.prefill_ms > 0.0 && p.cached_ms_per_token > 0.0 && p.uncached_ms_per_token * 6.0 > p.prefill_ms,
            "measure's times",
            format!("positive, and 6 uncached tokens slower than one prefill; got {p:?}"),
        )
    }
}

check! {
    /// A tokenizer saved in tiktoken's file format loads back to the same ids; damaged files,
    /// empty or oversized text, too many merges, unknown ids, ids that end inside a character,
    /// bad windows and a bad line fit are refused, naming what was wrong.
    fn files_round_trip_and_bad_input_is_refused_by_name(exercise = "train") {
        let trained = bpe::train(&book_prefix(20_000)?, 100, &PreTokenizer::gpt2()).called("train")?;
        let file = trained.to_tiktoken();
        let back = Bpe::from_tiktoken(&file, bpe::GPT2_PATTERN, &["<|endoftext|>"]).called("from_tiktoken")?;
        let sample = "The whale — la baleine, 鲸鱼 🐋 — surfaced.\r\n";
        ensure(
            back.encode_ordinary(sample).called("encode")? == trained.encode_ordinary(sample).called("encode")?,
            "a tokenizer through its file",
            "gives the same ids",
        )?;
        let lines: Vec<&str> = file.lines().collect();
        let cases: Vec<(String, &str)> = vec![
            (file.replacen(lines[5], "%%% 5", 1), "line 6"),
            (format!("{file}{}\n", lines[7]), "appears twice"),
            (lines[1..].join("\n"), "rank 0 is missing"),
            (file.replacen(lines[3], "IQ== three", 1), "line 4"),
        ];
        for (damaged, needle) in cases {
            let e = expect_err("from_tiktoken of a damaged file", Bpe::from_tiktoken(&damaged, bpe::GPT2_PATTERN, &[]))?;
            ensure(e.contains(needle), "the error", format!("should say {needle:?}: {e}"))?;
        }
        let pre = PreTokenizer::gpt2();
        let named = |call: &str, e: String, needle: &str| ensure(e.contains(needle), call, format!("the error should name {needle:?}: {e}"));
        named("train(\"\")", expect_err("train(\"\")", bpe::train("", 10, &pre))?, "text")?;
        named("train(too many merges)", expect_err("train", bpe::train("abc", MAX_MERGES + 1, &pre))?, "merges")?;
        let huge = "a".repeat(MAX_TEXT_BYTES + 1);
        named("encode(65 MiB)", expect_err("encode_ordinary", trained.encode_ordinary(&huge))?, "text")?;
        named("decode(unknown id)", expect_err("decode", trained.decode(&[5, 999_999]))?, "position 1")?;
        let whale = gpt2()?.encode_ordinary("🐋").called("encode")?;
        ensure(whale.len() > 1, "🐋 in GPT-2", "takes several tokens")?;
        named("decode(half an emoji)", expect_err("decode", gpt2()?.decode(&whale[..1]))?, "UTF-8")?;
        named("sliding_windows(window 0)", expect_err("sliding_windows", sliding_windows(10, 0, 0))?, "window")?;
        named("sliding_windows(overlap = window)", expect_err("sliding_windows", sliding_windows(10, 4, 4))?, "overlap")?;
        named("truncate(max 0)", expect_err("truncate", truncate(&[1, 2], 0, Keep::Head))?, "max")?;
        named("fit_line(one point)", expect_err("fit_line", fit_line(&[(1.0, 2.0)]))?, "points")?;
        named("PriceTable(negative price)", expect_err("PriceTable::parse", PriceTable::parse("note = \"x\"\n[[model]]\nmodel = \"m\"\ninput_per_million = -1.0\noutput_per_million = 1.0\ncontext = 10\n"))?, "m.input_per_million")?;
        let (a, b) = fit_line(&[(0.0, 1.0), (1.0, 3.0), (2.0, 5.0), (3.0, 7.0)]).called("fit_line")?;
        close("fit_line intercept of y = 1 + 2x", 1.0, a, Tol::abs(1e-12))?;
        close("fit_line slope of y = 1 + 2x", 2.0, b, Tol::abs(1e-12))
    }
}
