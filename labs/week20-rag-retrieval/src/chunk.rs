//! Four ways to cut a document into passages, each returning byte ranges `(start, end)` of the
//! text in order: fixed windows of model tokens, whole sentences, recursive splitting by
//! structure — the first two with overlap. [`coverage`] proves that no character is lost.

use crate::document::Document;
use crate::{RagError, Result, invalid};
use std::path::Path;
use week19_embeddings_search::corpus::{Chunk, Speech, sentences};

/// MiniLM's WordPiece tokenizer without truncation: where each token lies in the text.
pub struct Tokens {
    tokenizer: tokenizers::Tokenizer,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tokens(MiniLM WordPiece)")
    }
}

impl Tokens {
    /// The tokenizer of the MiniLM folder `dir` (its `tokenizer.json`).
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join("tokenizer.json");
        let mut tokenizer = tokenizers::Tokenizer::from_file(&path)
            .map_err(|e| RagError::Tokenizer(format!("{}: {e}", path.display())))?;
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(None)
            .map_err(|e| RagError::Tokenizer(e.to_string()))?;
        Ok(Self { tokenizer })
    }

    /// MiniLM's tokenizer from the model cache.
    pub fn minilm(say: &mut dyn FnMut(&str)) -> Result<Self> {
        let dir = wb_data::models::ensure_model(&wb_data::models::MINILM, say)?;
        Self::load(&dir)
    }

    /// The byte range of every token of `text` (no [CLS]/[SEP]), in order.
    pub fn offsets(&self, text: &str) -> Result<Vec<(usize, usize)>> {
        let enc = self
            .tokenizer
            .encode(text, false)
            .map_err(|e| RagError::Tokenizer(e.to_string()))?;
        Ok(enc.get_offsets().to_vec())
    }

    /// How many tokens the model reads for `text`, [CLS] and [SEP] included.
    pub fn count(&self, text: &str) -> Result<usize> {
        Ok(self.offsets(text)?.len() + 2)
    }
}

/// `end` moved back over white space (never before `start`).
fn trim_end(text: &str, start: usize, end: usize) -> usize {
    start + text[start..end].trim_end().len()
}

// ANCHOR: fixed_tokens
/// Windows of `size` tokens, each starting `size − overlap` tokens after the one before.
/// `offsets` are the tokens' byte ranges in `text` ([`Tokens::offsets`]). A window runs from
/// its first token to the start of the token after it (so a character no token covers is
/// never lost), the last one to the end of the text.
pub fn fixed_tokens(
    text: &str,
    offsets: &[(usize, usize)],
    size: usize,
    overlap: usize,
) -> Result<Vec<(usize, usize)>> {
    if size == 0 {
        return Err(invalid("size", "must be at least 1 token"));
    }
    if overlap >= size {
        return Err(invalid(
            "overlap",
            format!("must be smaller than the window ({size} tokens), got {overlap}"),
        ));
    }
    let inside = |&(s, e): &(usize, usize)| {
        s <= e && e <= text.len() && text.is_char_boundary(s) && text.is_char_boundary(e)
    };
    if let Some(i) = offsets.iter().position(|o| !inside(o)) {
        return Err(invalid(
            "offsets",
            format!("token {i} ({:?}) is not a piece of the text", offsets[i]),
        ));
    }
    if let Some(i) = offsets.windows(2).position(|w| w[1].0 < w[0].0) {
        return Err(invalid(
            "offsets",
            format!("token {} starts before token {i}", i + 1),
        ));
    }
    let first = text.len() - text.trim_start().len();
    // BEGIN SOLUTION fixed_tokens
    let n = offsets.len();
    let mut out = Vec::new();
    let mut at = 0;
    while at < n {
        let start = if at == 0 { first } else { offsets[at].0 };
        let end = if at + size >= n {
            text.trim_end().len()
        } else {
            trim_end(text, start, offsets[at + size].0)
        };
        if start < end {
            out.push((start, end));
        }
        if at + size >= n {
            break;
        }
        at += size - overlap;
    }
    Ok(out)
    // END SOLUTION
}
// ANCHOR_END: fixed_tokens

/// A run of text the sentence chunker places whole: a sentence, or a piece of a sentence
/// longer than the word limit (a piece is a chunk on its own).
#[derive(Debug, Clone, Copy)]
struct Unit {
    start: usize,
    end: usize,
    words: usize,
    piece: bool,
}

/// The sentences of `text`, those longer than `max_words` cut every `max_words` words.
fn units(text: &str, max_words: usize) -> Vec<Unit> {
    let mut out = Vec::new();
    for (s, e) in sentences(text) {
        let words: Vec<(usize, usize)> = text[s..e]
            .split_whitespace()
            .map(|w| {
                let at = w.as_ptr() as usize - text.as_ptr() as usize;
                (at, at + w.len())
            })
            .collect();
        if words.len() <= max_words {
            out.push(Unit {
                start: s,
                end: e,
                words: words.len(),
                piece: false,
            });
        } else {
            for piece in words.chunks(max_words) {
                out.push(Unit {
                    start: piece[0].0,
                    end: piece[piece.len() - 1].1,
                    words: piece.len(),
                    piece: true,
                });
            }
        }
    }
    out
}

// ANCHOR: by_sentences
/// Chunks of whole sentences of at most `max_words` words; each chunk after the first repeats
/// the last `overlap` sentences of the one before (as many as leave room for a new one). A
/// sentence longer than `max_words` is cut between words, its pieces chunks of their own.
/// With no overlap this is week 19's `chunk_speech`.
pub fn by_sentences(text: &str, max_words: usize, overlap: usize) -> Result<Vec<(usize, usize)>> {
    if max_words == 0 {
        return Err(invalid("max_words", "must be at least 1"));
    }
    let units = units(text, max_words);
    // BEGIN SOLUTION by_sentences
    let mut out = Vec::new();
    let mut i = 0;
    while i < units.len() {
        if units[i].piece {
            out.push((units[i].start, units[i].end));
            i += 1;
            continue;
        }
        let mut j = i;
        let mut words = 0;
        while j < units.len() && !units[j].piece && words + units[j].words <= max_words {
            words += units[j].words;
            j += 1;
        }
        out.push((units[i].start, units[j - 1].end));
        if j == units.len() {
            break;
        }
        // Step back `overlap` sentences, but always move forward, and only while the repeated
        // sentences leave room for the next one.
        let mut next = j.saturating_sub(overlap).max(i + 1);
        while next < j
            && (units[j].piece
                || units[next..=j].iter().map(|u| u.words).sum::<usize>() > max_words)
        {
            next += 1;
        }
        i = next;
    }
    Ok(out)
    // END SOLUTION
}
// ANCHOR_END: by_sentences

/// Separators tried in order by [`recursive`]: paragraphs, lines, sentences, clauses, words.
pub const SEPARATORS: [&str; 6] = ["\n\n", "\n", ". ", "; ", ", ", " "];

/// `text[start..end]` split after each `sep` (the separator stays with the piece before it).
fn split_after(text: &str, start: usize, end: usize, sep: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut at = start;
    for (i, _) in text[start..end].match_indices(sep) {
        let cut = start + i + sep.len();
        out.push((at, cut));
        at = cut;
    }
    if at < end {
        out.push((at, end));
    }
    out
}

/// Pieces of at most `max_bytes` covering `start..end`: split by the first separator, pieces
/// still too long split by the next ones, and by characters when none is left.
fn pieces(
    text: &str,
    start: usize,
    end: usize,
    max_bytes: usize,
    seps: &[&str],
) -> Vec<(usize, usize)> {
    if end - start <= max_bytes {
        return vec![(start, end)];
    }
    let Some((sep, rest)) = seps.split_first() else {
        // Cut at the last character boundary within the limit (at least one character).
        let mut out = Vec::new();
        let mut at = start;
        while at < end {
            let mut cut = (at + max_bytes).min(end);
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            if cut == at {
                cut = at + text[at..].chars().next().map_or(1, char::len_utf8);
            }
            out.push((at, cut));
            at = cut;
        }
        return out;
    };
    split_after(text, start, end, sep)
        .into_iter()
        .flat_map(|(s, e)| pieces(text, s, e, max_bytes, rest))
        .collect()
}

// ANCHOR: recursive
/// LangChain's recursive splitter: split by the coarsest structure first (paragraphs, then
/// lines, sentences, clauses, words, characters) until every piece holds at most `max_bytes`,
/// then merge neighbouring pieces while they fit, trimming white space at the edges.
pub fn recursive(text: &str, max_bytes: usize) -> Result<Vec<(usize, usize)>> {
    if max_bytes < 4 {
        return Err(invalid(
            "max_bytes",
            format!("must be at least 4 (one character of UTF-8), got {max_bytes}"),
        ));
    }
    // BEGIN SOLUTION recursive
    let mut out: Vec<(usize, usize)> = Vec::new();
    let mut current: Option<(usize, usize)> = None;
    for (s, e) in pieces(text, 0, text.len(), max_bytes, &SEPARATORS) {
        current = match current {
            Some((cs, _)) if e - cs <= max_bytes => Some((cs, e)),
            Some(done) => {
                out.push(done);
                Some((s, e))
            }
            None => Some((s, e)),
        };
    }
    out.extend(current);
    Ok(out
        .into_iter()
        .filter_map(|(s, e)| {
            let piece = &text[s..e];
            let start = s + (piece.len() - piece.trim_start().len());
            let end = trim_end(text, start, e);
            (start < end).then_some((start, end))
        })
        .collect())
    // END SOLUTION
}
// ANCHOR_END: recursive

/// What a set of chunks does to a text.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Coverage {
    /// Bytes of the text inside at least one chunk.
    pub covered: usize,
    /// Bytes of the chunks beyond the text's (what overlap repeats).
    pub repeated: usize,
    /// The first run of non-white-space text no chunk holds, if any.
    pub lost: Option<(usize, usize)>,
}

/// Which bytes of `text` the chunks hold; chunks must be in order of their starts, inside the
/// text and on character boundaries.
pub fn coverage(text: &str, chunks: &[(usize, usize)]) -> Result<Coverage> {
    let mut reach = 0; // the end of the text covered so far
    let mut covered = 0;
    let mut total = 0;
    let mut lost = None;
    for (i, &(s, e)) in chunks.iter().enumerate() {
        if s >= e || e > text.len() || !text.is_char_boundary(s) || !text.is_char_boundary(e) {
            return Err(invalid(
                &format!("chunks[{i}]"),
                format!("{s}..{e} is not a piece of a text of {} bytes", text.len()),
            ));
        }
        if i > 0 && s < chunks[i - 1].0 {
            return Err(invalid(
                &format!("chunks[{i}]"),
                "starts before the chunk before it",
            ));
        }
        if s > reach && lost.is_none() && !text[reach..s].trim().is_empty() {
            lost = Some((reach, s));
        }
        covered += e.saturating_sub(s.max(reach));
        reach = reach.max(e);
        total += e - s;
    }
    if lost.is_none() && !text[reach..].trim().is_empty() {
        lost = Some((reach, text.len()));
    }
    Ok(Coverage {
        covered,
        repeated: total - covered,
        lost,
    })
}

/// A chunker and its settings.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub enum Chunker {
    /// Windows of `size` MiniLM tokens overlapping by `overlap`.
    FixedTokens { size: usize, overlap: usize },
    /// Whole sentences up to `max_words`, repeating `overlap` sentences.
    Sentences { max_words: usize, overlap: usize },
    /// Recursive splitting by structure up to `max_bytes`.
    Recursive { max_bytes: usize },
}

impl std::fmt::Display for Chunker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::FixedTokens { size, overlap } => {
                write!(f, "fixed {size} tokens, overlap {overlap}")
            }
            Self::Sentences { max_words, overlap } => {
                write!(f, "sentences ≤ {max_words} words, overlap {overlap}")
            }
            Self::Recursive { max_bytes } => write!(f, "recursive ≤ {max_bytes} bytes"),
        }
    }
}

impl Chunker {
    /// The byte ranges of `doc`'s chunks (`tokens` is needed by [`Chunker::FixedTokens`]).
    pub fn chunk(&self, doc: &Document, tokens: Option<&Tokens>) -> Result<Vec<(usize, usize)>> {
        match *self {
            Self::FixedTokens { size, overlap } => {
                let tokens = tokens.ok_or_else(|| {
                    invalid("tokens", "fixed-token chunking needs the model's tokenizer")
                })?;
                fixed_tokens(&doc.text, &tokens.offsets(&doc.text)?, size, overlap)
            }
            Self::Sentences { max_words, overlap } => by_sentences(&doc.text, max_words, overlap),
            Self::Recursive { max_bytes } => recursive(&doc.text, max_bytes),
        }
    }
}

/// Every address cut by `chunker`, each checked as a [`Document`] first.
pub fn chunk_corpus(
    speeches: &[Speech],
    chunker: &Chunker,
    tokens: Option<&Tokens>,
) -> Result<Vec<Chunk>> {
    let mut chunks = Vec::new();
    for (i, speech) in speeches.iter().enumerate() {
        let doc = Document::new(
            &format!("address {i} ({})", speech.year),
            speech.text.clone(),
        )?;
        for (start, end) in chunker.chunk(&doc, tokens)? {
            chunks.push(Chunk::of(i, speech, start, end));
        }
    }
    if chunks.is_empty() {
        return Err(invalid("speeches", "no text to cut into chunks"));
    }
    Ok(chunks)
}
