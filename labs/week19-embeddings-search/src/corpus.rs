//! The corpus: 79 State of the Union addresses (1945–2021), cut into chunks of whole sentences
//! of at most `max_words` words — paragraph-sized pieces, since the texts carry no paragraph
//! breaks. Week 20 compares chunkers; here a chunk is what one embedding stands for.

use crate::{Result, invalid};
use serde::{Deserialize, Serialize};

/// One address.
#[derive(Debug, Clone, Deserialize)]
pub struct Speech {
    pub year: u32,
    pub president: String,
    pub party: String,
    pub text: String,
}

/// A chunk: which address it comes from and where, and its text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Chunk {
    /// The address's position in the corpus.
    pub speech: usize,
    pub year: u32,
    pub president: String,
    /// Byte range in the address's text.
    pub start: usize,
    pub end: usize,
    pub text: String,
}

impl Chunk {
    /// Bytes `start..end` of address `speech` (its position `index` in the corpus).
    pub fn of(index: usize, speech: &Speech, start: usize, end: usize) -> Self {
        Self {
            speech: index,
            year: speech.year,
            president: speech.president.clone(),
            start,
            end,
            text: speech.text[start..end].to_string(),
        }
    }
}

/// The shipped corpus, in year order.
pub fn load_speeches() -> Result<Vec<Speech>> {
    let path = wb_data::dataset("text/sotu.jsonl.gz")?;
    Ok(wb_data::read_jsonl(&path)?)
}

/// Words before a full stop that do not end a sentence.
const ABBREVIATIONS: [&str; 16] = [
    "Mr", "Mrs", "Ms", "Dr", "St", "Jr", "Sr", "Gen", "Lt", "Col", "Sen", "Rep", "Gov", "No", "vs",
    "Mt",
];

/// Where sentences end: after `.`, `?` or `!` (and any closing quotes or brackets) followed by
/// white space and a capital, a digit or an opening quote — unless the word before the stop is
/// an abbreviation, an initial ("John F. Kennedy") or dotted ("U.S."). Returns byte ranges that
/// cover the text without its surrounding white space.
pub fn sentences(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut start = chars.iter().find(|(_, c)| !c.is_whitespace()).map(|p| p.0);
    let mut i = 0;
    while i < chars.len() {
        let (pos, c) = chars[i];
        if matches!(c, '.' | '?' | '!') && start.is_some_and(|s| s <= pos) {
            let mut j = i + 1;
            while j < chars.len() && matches!(chars[j].1, '"' | '\'' | '”' | '’' | ')' | ']') {
                j += 1;
            }
            let end = chars.get(j).map_or(text.len(), |p| p.0);
            let mut next = j;
            while next < chars.len() && chars[next].1.is_whitespace() {
                next += 1;
            }
            let spaced = next > j;
            let opens = chars.get(next).is_none_or(|&(_, n)| {
                n.is_uppercase() || n.is_ascii_digit() || matches!(n, '"' | '“' | '‘' | '(' | '[')
            });
            let word = text[..pos]
                .rsplit(|ch: char| ch.is_whitespace() || ch == '(' || ch == '—')
                .next()
                .unwrap_or("");
            let abbreviation = c == '.'
                && (ABBREVIATIONS.contains(&word)
                    || (word.chars().count() == 1 && word.chars().all(char::is_uppercase))
                    || word.contains('.'));
            if (spaced && opens && !abbreviation) || next == chars.len() {
                if let Some(s) = start {
                    out.push((s, end));
                }
                start = chars.get(next).map(|p| p.0);
                i = next;
                continue;
            }
        }
        i += 1;
    }
    if let Some(s) = start {
        let end = text.trim_end().len();
        if s < end {
            out.push((s, end));
        }
    }
    out
}

// ANCHOR: chunk_speech
/// Cuts one address into chunks of whole sentences, each at most `max_words` words (a longer
/// sentence is cut between words). Consecutive chunks tile the text: only the white space
/// between them is left out.
pub fn chunk_speech(text: &str, max_words: usize) -> Result<Vec<(usize, usize)>> {
    if max_words == 0 {
        return Err(invalid("max_words", "must be at least 1"));
    }
    // BEGIN SOLUTION chunk_speech
    let words = |s: &str| s.split_whitespace().count();
    let mut out: Vec<(usize, usize)> = Vec::new();
    let mut current: Option<(usize, usize, usize)> = None; // start, end, words
    for (s, e) in sentences(text) {
        let n = words(&text[s..e]);
        if n > max_words {
            if let Some((cs, ce, _)) = current.take() {
                out.push((cs, ce));
            }
            // Word boundaries of the long sentence, cut every max_words words.
            let mut starts = text[s..e]
                .split_whitespace()
                .map(|w| w.as_ptr() as usize - text.as_ptr() as usize)
                .collect::<Vec<_>>();
            starts.push(e);
            for piece in starts.chunks(max_words) {
                let from = piece[0];
                let to_word = *piece.last().unwrap_or(&from);
                let to = if to_word == e {
                    e
                } else {
                    let w = &text[to_word..e];
                    to_word + w.find(char::is_whitespace).unwrap_or(w.len())
                };
                if from < to {
                    out.push((from, to));
                }
            }
            continue;
        }
        current = match current {
            Some((cs, _, cw)) if cw + n <= max_words => Some((cs, e, cw + n)),
            Some((cs, ce, _)) => {
                out.push((cs, ce));
                Some((s, e, n))
            }
            None => Some((s, e, n)),
        };
    }
    if let Some((cs, ce, _)) = current {
        out.push((cs, ce));
    }
    Ok(out)
    // END SOLUTION
}
// ANCHOR_END: chunk_speech

/// Every address cut into chunks.
pub fn chunk_corpus(speeches: &[Speech], max_words: usize) -> Result<Vec<Chunk>> {
    let mut chunks = Vec::new();
    for (i, speech) in speeches.iter().enumerate() {
        for (start, end) in chunk_speech(&speech.text, max_words)? {
            chunks.push(Chunk::of(i, speech, start, end));
        }
    }
    if chunks.is_empty() {
        return Err(invalid("speeches", "no text to cut into chunks"));
    }
    Ok(chunks)
}
