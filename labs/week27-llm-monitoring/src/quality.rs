//! Quality metrics for generated text, each defined exactly as the implementation everyone
//! reports numbers with: exact match and token F1 as the SQuAD evaluation script, ROUGE-L as
//! Google's `rouge-score`, BLEU as `sacrebleu` (13a tokenisation, exponential smoothing).

use regex::Regex;
use std::collections::HashMap;
use std::sync::LazyLock;
use wb_core::{MlError, Result};

/// SQuAD's normalisation: lower case, punctuation removed, the articles a/an/the removed,
/// whitespace collapsed.
pub fn normalize_answer(text: &str) -> String {
    static ARTICLES: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\b(a|an|the)\b").expect("a valid pattern"));
    let lower = text.to_lowercase();
    let no_punct: String = lower
        .chars()
        .filter(|c| !c.is_ascii_punctuation())
        .collect();
    let no_articles = ARTICLES.replace_all(&no_punct, " ");
    no_articles.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// 1 when the normalised prediction equals the normalised reference, else 0.
pub fn exact_match(prediction: &str, reference: &str) -> f64 {
    f64::from(u8::from(
        normalize_answer(prediction) == normalize_answer(reference),
    ))
}

// ANCHOR: token_f1
/// SQuAD's token F1: the harmonic mean of precision and recall of the normalised tokens,
/// counting each token as often as it occurs in both (a multiset intersection). When either
/// side has no tokens, 1 if both are empty, else 0.
pub fn token_f1(prediction: &str, reference: &str) -> f64 {
    let p = normalize_answer(prediction);
    let r = normalize_answer(reference);
    let p: Vec<&str> = p.split_whitespace().collect();
    let r: Vec<&str> = r.split_whitespace().collect();
    // BEGIN SOLUTION token_f1
    if p.is_empty() || r.is_empty() {
        return f64::from(u8::from(p == r));
    }
    let mut counts: HashMap<&str, i64> = HashMap::new();
    for t in &r {
        *counts.entry(t).or_default() += 1;
    }
    let mut same = 0;
    for t in &p {
        if let Some(c) = counts.get_mut(t)
            && *c > 0
        {
            *c -= 1;
            same += 1;
        }
    }
    if same == 0 {
        return 0.0;
    }
    let precision = same as f64 / p.len() as f64;
    let recall = same as f64 / r.len() as f64;
    2.0 * precision * recall / (precision + recall)
    // END SOLUTION
}
// ANCHOR_END: token_f1

/// The best score of `prediction` against any of `references` (SQuAD takes the maximum).
pub fn best_of(
    metric: fn(&str, &str) -> f64,
    prediction: &str,
    references: &[&str],
) -> Result<f64> {
    if references.is_empty() {
        return Err(MlError::Empty {
            arg: "references".into(),
            detail: "at least one reference answer is needed".into(),
        });
    }
    Ok(references
        .iter()
        .map(|r| metric(prediction, r))
        .fold(f64::NEG_INFINITY, f64::max))
}

/// `rouge-score`'s tokens: lower case, every run of characters other than a–z and 0–9 a
/// separator.
pub fn rouge_tokens(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit()))
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// Precision, recall and F-measure.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Prf {
    pub precision: f64,
    pub recall: f64,
    pub f: f64,
}

// ANCHOR: rouge_l
/// ROUGE-L of `prediction` against `reference`: the longest common subsequence of their tokens,
/// divided by the prediction's length (precision) and the reference's (recall), and their
/// harmonic mean. All 0 when either has no tokens.
pub fn rouge_l(prediction: &str, reference: &str) -> Prf {
    let p = rouge_tokens(prediction);
    let r = rouge_tokens(reference);
    let zero = Prf {
        precision: 0.0,
        recall: 0.0,
        f: 0.0,
    };
    if p.is_empty() || r.is_empty() {
        return zero;
    }
    // BEGIN SOLUTION rouge_l
    // One row of the dynamic programme at a time: lcs[j] is the LCS of r[..i] and p[..j].
    let mut prev = vec![0usize; p.len() + 1];
    let mut row = vec![0usize; p.len() + 1];
    for rt in &r {
        for (j, pt) in p.iter().enumerate() {
            row[j + 1] = if rt == pt {
                prev[j] + 1
            } else {
                prev[j + 1].max(row[j])
            };
        }
        std::mem::swap(&mut prev, &mut row);
    }
    let lcs = prev[p.len()] as f64;
    let precision = lcs / p.len() as f64;
    let recall = lcs / r.len() as f64;
    if precision + recall == 0.0 {
        return zero;
    }
    Prf {
        precision,
        recall,
        f: 2.0 * precision * recall / (precision + recall),
    }
    // END SOLUTION
}
// ANCHOR_END: rouge_l

/// sacrebleu's `13a` tokeniser (mteval-v13a's): punctuation split off, except periods and commas
/// between digits and dashes not after a digit.
pub fn tokenize_13a(line: &str) -> String {
    static RULES: LazyLock<[(Regex, &'static str); 4]> = LazyLock::new(|| {
        let re = |p: &str| Regex::new(p).expect("a valid pattern");
        [
            (re(r"([{-~\[-` -&(-+:-@/])"), " $1 "),
            (re(r"([^0-9])([.,])"), "$1 $2 "),
            (re(r"([.,])([^0-9])"), " $1 $2"),
            (re(r"([0-9])(-)"), "$1 $2 "),
        ]
    });
    let mut s = line
        .replace("<skipped>", "")
        .replace("-\n", "")
        .replace('\n', " ");
    if s.contains('&') {
        s = s
            .replace("&quot;", "\"")
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">");
    }
    let mut s = format!(" {s} ");
    for (re, to) in RULES.iter() {
        s = re.replace_all(&s, *to).into_owned();
    }
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Corpus BLEU and what it is made of.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Bleu {
    /// 0 to 100.
    pub score: f64,
    /// The n-gram precisions, 1 to 4, in percent (smoothed where no n-gram matched).
    pub precisions: [f64; 4],
    pub brevity_penalty: f64,
    pub sys_len: usize,
    pub ref_len: usize,
}

fn ngrams(tokens: &[&str]) -> HashMap<Vec<String>, usize> {
    let mut out = HashMap::new();
    for n in 1..=4 {
        for w in tokens.windows(n) {
            *out.entry(w.iter().map(|t| t.to_string()).collect())
                .or_default() += 1;
        }
    }
    out
}

/// Corpus BLEU as sacrebleu computes it by default: each hypothesis against its references
/// (tokenised with 13a), n-gram matches clipped by the largest count in any one reference, the
/// closest reference length (the shorter on a tie), summed over the corpus, then
/// [`bleu_from_counts`]. `references[k][i]` is the k-th reference of hypothesis i.
pub fn corpus_bleu(hypotheses: &[&str], references: &[Vec<&str>]) -> Result<Bleu> {
    if hypotheses.is_empty() || references.is_empty() {
        return Err(MlError::Empty {
            arg: "hypotheses, references".into(),
            detail: "BLEU needs at least one hypothesis and one set of references".into(),
        });
    }
    for (k, refs) in references.iter().enumerate() {
        wb_core::check_len(
            &format!("references[{k}]"),
            refs.len(),
            hypotheses.len(),
            "one reference per hypothesis",
        )?;
    }
    let (mut correct, mut total) = ([0usize; 4], [0usize; 4]);
    let (mut sys_len, mut ref_len) = (0usize, 0usize);
    for (i, hyp) in hypotheses.iter().enumerate() {
        let hyp = tokenize_13a(hyp.trim_end());
        let hyp: Vec<&str> = hyp.split_whitespace().collect();
        let mut max_ref: HashMap<Vec<String>, usize> = HashMap::new();
        let mut closest: Option<usize> = None;
        for refs in references {
            let r = tokenize_13a(refs[i].trim_end());
            let r: Vec<&str> = r.split_whitespace().collect();
            for (g, c) in ngrams(&r) {
                let e = max_ref.entry(g).or_default();
                *e = (*e).max(c);
            }
            let d = r.len().abs_diff(hyp.len());
            closest = Some(match closest {
                Some(c) if c.abs_diff(hyp.len()) < d => c,
                Some(c) if c.abs_diff(hyp.len()) == d => c.min(r.len()),
                _ => r.len(),
            });
        }
        for (g, c) in ngrams(&hyp) {
            let n = g.len() - 1;
            total[n] += c;
            correct[n] += c.min(max_ref.get(&g).copied().unwrap_or(0));
        }
        sys_len += hyp.len();
        ref_len += closest.unwrap_or(0);
    }
    Ok(bleu_from_counts(correct, total, sys_len, ref_len))
}

// ANCHOR: bleu
/// BLEU from the corpus's counts: matched (`correct`) and hypothesis (`total`) n-grams of each
/// order 1–4, and the hypothesis and reference lengths. The geometric mean of the four
/// precisions (in percent) times the brevity penalty exp(1 − ref/sys) when the hypotheses are
/// shorter; an order that matched nothing gets NIST's exponential smoothing, 100 / (2^k·total)
/// for the k-th such order; no match at all is a score of 0.
pub fn bleu_from_counts(
    correct: [usize; 4],
    total: [usize; 4],
    sys_len: usize,
    ref_len: usize,
) -> Bleu {
    // BEGIN SOLUTION bleu
    let brevity_penalty = if sys_len >= ref_len {
        1.0
    } else if sys_len == 0 {
        0.0
    } else {
        (1.0 - ref_len as f64 / sys_len as f64).exp()
    };
    let mut precisions = [0.0; 4];
    if correct.iter().all(|c| *c == 0) {
        return Bleu {
            score: 0.0,
            precisions,
            brevity_penalty,
            sys_len,
            ref_len,
        };
    }
    let mut smooth = 1.0;
    for n in 0..4 {
        if total[n] == 0 {
            break;
        }
        precisions[n] = if correct[n] == 0 {
            smooth *= 2.0;
            100.0 / (smooth * total[n] as f64)
        } else {
            100.0 * correct[n] as f64 / total[n] as f64
        };
    }
    // sacrebleu's log of 0 is −9,999,999,999 (an order with no n-gram at all).
    let log = |p: f64| if p > 0.0 { p.ln() } else { -9_999_999_999.0 };
    let score = brevity_penalty * (precisions.iter().map(|p| log(*p)).sum::<f64>() / 4.0).exp();
    Bleu {
        score,
        precisions,
        brevity_penalty,
        sys_len,
        ref_len,
    }
    // END SOLUTION
}
// ANCHOR_END: bleu
