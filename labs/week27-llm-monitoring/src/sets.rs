//! The lab's data, all from the State of the Union addresses: prompts of two eras (the traffic
//! whose drift is watched), the labelled question set of week 20 with each question's context,
//! and the planted hallucinations made from it.

use crate::drift::{ks_2samp, mmd_test, psi};
use crate::ground::{Kind, Planted, change_number, first_name, is_common, negate, swap_entity};
use std::ops::RangeInclusive;
use wb_core::{MlError, Result};
use wb_data::SplitMix64;
use week20_rag_retrieval::questions::Question;
use week20_rag_retrieval::week19::corpus::{Speech, sentences};

/// The sentences of the addresses given in `years` with 6 to 60 words: the prompts users of an
/// assistant over the addresses might send, one era at a time.
pub fn era_sentences(speeches: &[Speech], years: RangeInclusive<u32>) -> Vec<String> {
    speeches
        .iter()
        .filter(|s| years.contains(&s.year))
        .flat_map(|s| {
            sentences(&s.text)
                .into_iter()
                .map(|(a, b)| s.text[a..b].trim().to_string())
                .collect::<Vec<_>>()
        })
        .filter(|t| (6..=60).contains(&t.split_whitespace().count()))
        .collect()
}

/// The words of a prompt: the univariate feature PSI and KS watch.
pub fn words(text: &str) -> f64 {
    text.split_whitespace().count() as f64
}

/// The context retrieved for a question: its gold sentence with the sentence before and after.
pub fn context_of(speech: &Speech, q: &Question) -> Result<(String, Vec<String>)> {
    let spans = sentences(&speech.text);
    let at = spans
        .iter()
        .position(|&(s, e)| s <= q.start && q.start < e)
        .ok_or_else(|| MlError::InvalidArgument {
            arg: format!("question {}", q.id),
            detail: format!("no sentence of address {} holds byte {}", q.speech, q.start),
        })?;
    let window = &spans[at.saturating_sub(1)..(at + 2).min(spans.len())];
    let parts: Vec<String> = window
        .iter()
        .map(|&(s, e)| speech.text[s..e].trim().to_string())
        .collect();
    Ok((parts.join(" "), parts))
}

/// The labelled answers: for each question its gold sentence and a neighbouring sentence
/// (grounded), and whichever plantings it allows — a figure changed, a name swapped for one from
/// another address, the statement negated, another address's sentence.
pub fn planted_set(speeches: &[Speech], questions: &[Question]) -> Result<Vec<Planted>> {
    let n = questions.len();
    let mut out = Vec::new();
    for (k, q) in questions.iter().enumerate() {
        let speech = speeches
            .get(q.speech)
            .ok_or_else(|| MlError::InvalidArgument {
                arg: format!("question {}", q.id),
                detail: format!("address {} is not in the corpus", q.speech),
            })?;
        let (context, parts) = context_of(speech, q)?;
        let other = |step: usize| {
            (1..n)
                .map(|d| &questions[(k + step * d) % n])
                .find(|o| o.speech != q.speech)
        };
        let mut add = |answer: String, kind: Kind| {
            // Answers are framed as a model frames them, the same way whatever their kind, so
            // that a framing word the context lacks does not give an answer away.
            let framed = frame(&answer, out.len());
            out.push(Planted {
                question: q.question.clone(),
                context: context.clone(),
                answer: framed,
                kind,
            })
        };
        add(q.gold.clone(), Kind::Grounded);
        if let Some(n) = parts.iter().find(|p| **p != q.gold.trim()) {
            add(last_clause(n).to_string(), Kind::Neighbour);
        }
        if let Some(a) = change_number(&q.gold) {
            add(a, Kind::Number);
        }
        let lower = context.to_lowercase();
        let name = (1..n)
            .filter_map(|d| {
                let o = &questions[(k + 37 * d) % n];
                (o.speech != q.speech)
                    .then(|| first_name(&o.gold))
                    .flatten()
            })
            .find(|w| !lower.contains(&w.to_lowercase()));
        if let Some(a) = name.and_then(|w| swap_entity(&q.gold, w)) {
            add(a, Kind::Entity);
        }
        if let Some(a) = negate(&q.gold) {
            add(a, Kind::Negation);
        }
        if let Some(o) = other(59) {
            add(o.gold.clone(), Kind::OffContext);
        }
    }
    Ok(out)
}

/// The framings answers get in turn: none, or an opening a model might write.
pub const FRAMES: [&str; 4] = [
    "",
    "According to the address, ",
    "The president said that ",
    "In short, ",
];

/// `answer` with the `i`-th framing (in turn), its first letter lowered after one when its first
/// word is a common word ("The", "We"), not a name.
pub fn frame(answer: &str, i: usize) -> String {
    let opening = FRAMES[i % FRAMES.len()];
    let first = answer.split_whitespace().next().unwrap_or("");
    match answer.chars().next() {
        Some(a) if !opening.is_empty() && first != "I" && is_common(first) => {
            format!("{opening}{}{}", a.to_lowercase(), &answer[a.len_utf8()..])
        }
        _ => format!("{opening}{answer}"),
    }
}

/// The part of a sentence after its first comma when that leaves at least 6 words (an answer
/// quotes a clause more often than a whole sentence), else the sentence.
pub fn last_clause(sentence: &str) -> &str {
    match sentence.split_once(", ") {
        Some((_, rest)) if rest.split_whitespace().count() >= 6 => rest,
        _ => sentence,
    }
}

/// How often each test fired at one share of new-era prompts in the current window.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct FireRates {
    /// The share of the current window drawn from the new era (0: no drift at all).
    pub share: f64,
    pub windows: usize,
    /// KS on prompt length, p < α.
    pub ks: f64,
    /// PSI on prompt length above its alarm level.
    pub psi: f64,
    /// MMD on the prompts' embeddings, permutation p < α.
    pub mmd: f64,
}

/// The prompts of both eras, their lengths and embeddings.
pub struct Traffic<'a> {
    pub old_words: &'a [f64],
    pub old_embeddings: &'a [Vec<f32>],
    pub new_words: &'a [f64],
    pub new_embeddings: &'a [Vec<f32>],
}

/// The settings of a drift study.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Study {
    /// Prompts in the reference window and in each current window (length tests).
    pub window: usize,
    /// Embeddings in each window of the MMD test (it costs n² kernel evaluations).
    pub embedding_window: usize,
    pub alpha: f64,
    pub psi_alarm: f64,
    pub permutations: usize,
    pub windows: usize,
    pub shares: Vec<f64>,
    pub seed: u64,
}

// ANCHOR: study
/// The drift study: at each share of new-era traffic, `windows` trials, each with a reference
/// window of old-era prompts and a current window (that share from the new era, the rest old-era
/// prompts not in the reference), and the rate at which each test fires. At share 0 that rate is
/// the false-alarm rate, which for KS and MMD should be α.
pub fn fire_rates(t: &Traffic, s: &Study) -> Result<Vec<FireRates>> {
    let (w, e) = (s.window, s.embedding_window);
    if t.old_words.len() != t.old_embeddings.len() || t.new_words.len() != t.new_embeddings.len() {
        return Err(MlError::ShapeMismatch {
            arg: "traffic".into(),
            expected: "one embedding per prompt in each era".into(),
            got: format!(
                "{}/{} old, {}/{} new",
                t.old_words.len(),
                t.old_embeddings.len(),
                t.new_words.len(),
                t.new_embeddings.len()
            ),
        });
    }
    if e > w || e < 2 || t.old_words.len() < 2 * w || t.new_words.len() < w {
        return Err(MlError::InvalidArgument {
            arg: "study".into(),
            detail: format!(
                "needs 2 ≤ embedding window ≤ window, 2 × {w} old prompts and {w} new ones; got {e}, {} and {}",
                t.old_words.len(),
                t.new_words.len()
            ),
        });
    }
    let mut rng = SplitMix64::new(s.seed ^ 0x5eed);
    let mut out = Vec::new();
    for &share in &s.shares {
        let (mut ks, mut ps, mut mm) = (0usize, 0usize, 0usize);
        for _ in 0..s.windows {
            let new_n = (share * w as f64).round() as usize;
            let order = wb_data::shuffled_indices(t.old_words.len(), rng.next_u64());
            let (reference, old) = order.split_at(w);
            let ref_words: Vec<f64> = reference.iter().map(|&i| t.old_words[i]).collect();
            let ref_emb: Vec<Vec<f32>> = reference[..e]
                .iter()
                .map(|&i| t.old_embeddings[i].clone())
                .collect();
            let new = wb_data::shuffled_indices(t.new_words.len(), rng.next_u64());
            // Both eras interleaved, so the embedding window (the first e) has the same share.
            let mut cur: Vec<(bool, usize)> = new[..new_n].iter().map(|&i| (true, i)).collect();
            cur.extend(old[..w - new_n].iter().map(|&i| (false, i)));
            let mix = wb_data::shuffled_indices(cur.len(), rng.next_u64());
            let cur: Vec<(bool, usize)> = mix.iter().map(|&i| cur[i]).collect();
            let words: Vec<f64> = cur
                .iter()
                .map(|&(n, i)| if n { t.new_words[i] } else { t.old_words[i] })
                .collect();
            let emb: Vec<Vec<f32>> = cur[..e]
                .iter()
                .map(|&(n, i)| {
                    if n {
                        t.new_embeddings[i].clone()
                    } else {
                        t.old_embeddings[i].clone()
                    }
                })
                .collect();
            ks += usize::from(ks_2samp(&ref_words, &words)?.p_value < s.alpha);
            ps += usize::from(psi(&ref_words, &words, 10)? > s.psi_alarm);
            mm += usize::from(
                mmd_test(&ref_emb, &emb, s.permutations, rng.next_u64())?.p_value < s.alpha,
            );
        }
        let rate = |c: usize| c as f64 / s.windows as f64;
        out.push(FireRates {
            share,
            windows: s.windows,
            ks: rate(ks),
            psi: rate(ps),
            mmd: rate(mm),
        });
    }
    Ok(out)
}
// ANCHOR_END: study

/// The sentences of a context (each compared with an answer's claims by meaning).
pub fn split_context(context: &str) -> Vec<String> {
    let parts: Vec<String> = sentences(context)
        .into_iter()
        .map(|(a, b)| context[a..b].trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    if parts.is_empty() {
        vec![context.to_string()]
    } else {
        parts
    }
}
