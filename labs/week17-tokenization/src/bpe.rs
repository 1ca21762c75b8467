//! Byte-level BPE from scratch: GPT-2's pre-tokenisation, training (the merge loop), encoding by
//! ranks (tiktoken's algorithm), decoding, special tokens, and the `.tiktoken` file format.
//!
//! Token ids 0–255 are the 256 bytes, in GPT-2's order (the printable bytes first, then the
//! others); every merge adds the next id. With GPT-2's own ranks the same code is GPT-2's
//! tokenizer, id for id.

use crate::TokenError;
use base64::Engine;
use fancy_regex::Regex;
use rustc_hash::FxHashMap;
use std::collections::HashMap;

// ANCHOR: pattern
/// GPT-2's pre-tokenisation: contractions, letters with an optional leading space, digits,
/// other symbols, and whitespace (a run of spaces gives its last one to the word that follows).
pub const GPT2_PATTERN: &str =
    r"'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";
// ANCHOR_END: pattern

/// The longest text a single call encodes (64 MiB): longer input is refused, not swapped.
pub const MAX_TEXT_BYTES: usize = 64 << 20;

/// The most merges a training run may ask for.
pub const MAX_MERGES: usize = 200_000;

/// The 256 bytes in GPT-2's id order: the printable bytes (`!`–`~`, `¡`–`¬`, `®`–`ÿ`) first,
/// then the others (control bytes, space, DEL, NBSP, soft hyphen) in byte order.
pub fn byte_order() -> [u8; 256] {
    let mut order = [0u8; 256];
    let bytes = (0..=255u8)
        .filter(|&b| printable(b))
        .chain((0..=255u8).filter(|&b| !printable(b)));
    for (slot, b) in order.iter_mut().zip(bytes) {
        *slot = b;
    }
    order
}

/// The bytes GPT-2 shows as themselves: `!`–`~`, `¡`–`¬`, `®`–`ÿ` (188 of them).
fn printable(b: u8) -> bool {
    (b'!'..=b'~').contains(&b) || (0xA1..=0xAC).contains(&b) || b >= 0xAE
}

/// The character GPT-2 (and Hugging Face's byte-level BPE) shows for a byte: a printable byte is
/// itself, the n-th other byte is U+0100 + n (a space shows as `Ġ`, a newline as `Ċ`).
pub fn byte_char(b: u8) -> char {
    if printable(b) {
        char::from(b)
    } else {
        let n = (0..b).filter(|&x| !printable(x)).count() as u32;
        char::from_u32(256 + n).expect("U+0100 to U+0143 are characters")
    }
}

/// A token's bytes as GPT-2 shows them (`Ġthe` for " the").
pub fn show_token(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| byte_char(b)).collect()
}

/// Splits text into pre-tokens with a regex; BPE merges never cross their boundaries.
#[derive(Debug, Clone)]
pub struct PreTokenizer {
    regex: Regex,
}

impl PreTokenizer {
    pub fn new(pattern: &str) -> Result<Self, TokenError> {
        Ok(Self {
            regex: Regex::new(pattern).map_err(|e| TokenError::InvalidArgument {
                arg: "pattern".into(),
                detail: e.to_string(),
            })?,
        })
    }

    pub fn gpt2() -> Self {
        Self::new(GPT2_PATTERN).expect("GPT-2's pattern compiles")
    }

    pub fn pattern(&self) -> &str {
        self.regex.as_str()
    }

    /// The pre-tokens of `text`, in order; together they are `text` exactly.
    pub fn split<'t>(&self, text: &'t str) -> Result<Vec<&'t str>, TokenError> {
        self.regex
            .find_iter(text)
            .map(|m| {
                m.map(|m| m.as_str())
                    .map_err(|e| TokenError::Regex(e.to_string()))
            })
            .collect()
    }
}

/// What to do with the text of a special token (`<|endoftext|>`) found in ordinary input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Specials {
    /// Encode it as its one special id (only for text the application wrote itself).
    Allow,
    /// Refuse the input (tiktoken's default: user text must not inject control tokens).
    Refuse,
    /// Encode it as ordinary text, character by character.
    AsText,
}

/// A byte-level BPE tokenizer: every token's bytes and rank (= id), the merges that built them
/// (for a trained one), the pre-tokenisation pattern and the special tokens.
#[derive(Debug, Clone)]
pub struct Bpe {
    tokens: Vec<Vec<u8>>,
    ranks: FxHashMap<Vec<u8>, u32>,
    merges: Vec<(u32, u32)>,
    specials: Vec<(String, u32)>,
    pre: PreTokenizer,
}

impl Bpe {
    /// A tokenizer from every token's bytes, in id order (ids are ranks: a lower id merges
    /// first), its pattern and its special tokens (numbered after the vocabulary).
    pub fn from_tokens(
        tokens: Vec<Vec<u8>>,
        pattern: &str,
        specials: &[&str],
    ) -> Result<Self, TokenError> {
        let mut ranks = FxHashMap::default();
        for (id, t) in tokens.iter().enumerate() {
            if t.is_empty() {
                return Err(TokenError::InvalidArgument {
                    arg: "tokens".into(),
                    detail: format!("token {id} is empty"),
                });
            }
            if let Some(first) = ranks.insert(t.clone(), id as u32) {
                return Err(TokenError::InvalidArgument {
                    arg: "tokens".into(),
                    detail: format!("tokens {first} and {id} are the same bytes {t:?}"),
                });
            }
        }
        for b in 0..=255u8 {
            if !ranks.contains_key(&[b][..]) {
                return Err(TokenError::InvalidArgument {
                    arg: "tokens".into(),
                    detail: format!("byte {b:#04x} has no token: some text could not be encoded"),
                });
            }
        }
        let specials = specials
            .iter()
            .enumerate()
            .map(|(i, s)| (s.to_string(), (tokens.len() + i) as u32))
            .collect();
        Ok(Self {
            tokens,
            ranks,
            merges: Vec::new(),
            specials,
            pre: PreTokenizer::new(pattern)?,
        })
    }

    /// GPT-2's tokenizer (r50k_base: 50,256 ranks and `<|endoftext|>` = 50256), its ranks read
    /// out of tiktoken-rs's bundled table.
    pub fn gpt2() -> Result<Self, TokenError> {
        let core = tiktoken_rs::r50k_base().map_err(|e| TokenError::Format(e.to_string()))?;
        let tokens = (0..50_256u32)
            .map(|rank| {
                core.decode_bytes(&[rank])
                    .map_err(|e| TokenError::Format(format!("rank {rank}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_tokens(tokens, GPT2_PATTERN, &["<|endoftext|>"])
    }

    pub fn vocab_size(&self) -> usize {
        self.tokens.len() + self.specials.len()
    }

    /// The merges of a trained tokenizer, in order: merge `i` made token `256 + i`.
    pub fn merges(&self) -> &[(u32, u32)] {
        &self.merges
    }

    pub fn token_bytes(&self, id: u32) -> Option<&[u8]> {
        self.tokens.get(id as usize).map(Vec::as_slice)
    }

    pub fn special_id(&self, text: &str) -> Option<u32> {
        self.specials.iter().find(|(s, _)| s == text).map(|s| s.1)
    }

    pub fn pre_tokenizer(&self) -> &PreTokenizer {
        &self.pre
    }

    /// The same tokenizer with only its first `merges` merges (for the compression curve).
    pub fn truncated(&self, merges: usize) -> Result<Self, TokenError> {
        let keep = 256 + merges.min(self.merges.len());
        let specials: Vec<&str> = self.specials.iter().map(|(s, _)| s.as_str()).collect();
        let mut bpe =
            Self::from_tokens(self.tokens[..keep].to_vec(), self.pre.pattern(), &specials)?;
        bpe.merges = self.merges[..keep - 256].to_vec();
        Ok(bpe)
    }

    // ANCHOR: encode_piece
    /// The ids of one pre-token: start from its bytes, and merge again and again the adjacent
    /// pair whose joined bytes have the lowest rank, until no joined pair is a token.
    pub fn encode_piece(&self, piece: &[u8]) -> Vec<u32> {
        // BEGIN SOLUTION encode_piece
        if let Some(&id) = self.ranks.get(piece) {
            return vec![id];
        }
        // parts[i]..parts[i + 1] is the i-th token of the piece.
        let mut parts: Vec<usize> = (0..=piece.len()).collect();
        loop {
            let mut best: Option<(u32, usize)> = None;
            for i in 0..parts.len().saturating_sub(2) {
                if let Some(&rank) = self.ranks.get(&piece[parts[i]..parts[i + 2]])
                    && best.is_none_or(|(r, _)| rank < r)
                {
                    best = Some((rank, i));
                }
            }
            match best {
                Some((_, i)) => {
                    parts.remove(i + 1);
                }
                None => break,
            }
        }
        parts
            .windows(2)
            .map(|w| self.ranks[&piece[w[0]..w[1]]])
            .collect()
        // END SOLUTION
    }
    // ANCHOR_END: encode_piece

    /// Encodes text with no special tokens: pre-tokens, then BPE inside each.
    pub fn encode_ordinary(&self, text: &str) -> Result<Vec<u32>, TokenError> {
        check_size(text)?;
        let mut ids = Vec::with_capacity(text.len() / 3);
        for piece in self.pre.split(text)? {
            ids.extend(self.encode_piece(piece.as_bytes()));
        }
        Ok(ids)
    }

    /// Encodes text; what happens to the text of a special token is `specials`' choice.
    pub fn encode(&self, text: &str, specials: Specials) -> Result<Vec<u32>, TokenError> {
        check_size(text)?;
        if specials == Specials::AsText || self.specials.is_empty() {
            return self.encode_ordinary(text);
        }
        let mut ids = Vec::new();
        let mut rest = text;
        let mut offset = 0;
        loop {
            let next = self
                .specials
                .iter()
                .filter_map(|(s, id)| rest.find(s.as_str()).map(|at| (at, s, *id)))
                .min_by_key(|(at, s, _)| (*at, std::cmp::Reverse(s.len())));
            let Some((at, special, id)) = next else {
                ids.extend(self.encode_ordinary(rest)?);
                return Ok(ids);
            };
            if specials == Specials::Refuse {
                return Err(TokenError::DisallowedSpecial {
                    token: special.clone(),
                    offset: offset + at,
                });
            }
            ids.extend(self.encode_ordinary(&rest[..at])?);
            ids.push(id);
            offset += at + special.len();
            rest = &rest[at + special.len()..];
        }
    }

    /// The bytes of `ids` (a token may hold part of a UTF-8 character).
    pub fn decode_bytes(&self, ids: &[u32]) -> Result<Vec<u8>, TokenError> {
        let mut out = Vec::with_capacity(ids.len() * 4);
        for (position, &id) in ids.iter().enumerate() {
            if let Some(t) = self.tokens.get(id as usize) {
                out.extend_from_slice(t);
            } else if let Some((s, _)) = self.specials.iter().find(|s| s.1 == id) {
                out.extend_from_slice(s.as_bytes());
            } else {
                return Err(TokenError::UnknownId {
                    id,
                    position,
                    vocab: self.vocab_size(),
                });
            }
        }
        Ok(out)
    }

    /// The text of `ids`; ids that end inside a UTF-8 character are an error that says where.
    pub fn decode(&self, ids: &[u32]) -> Result<String, TokenError> {
        String::from_utf8(self.decode_bytes(ids)?).map_err(|e| TokenError::NotUtf8 {
            valid_up_to: e.utf8_error().valid_up_to(),
        })
    }

    /// The ranks in tiktoken's file format: one `base64(bytes) rank` line per token, so that
    /// Python's tiktoken loads this tokenizer (`load_tiktoken_bpe`).
    pub fn to_tiktoken(&self) -> String {
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut out = String::new();
        for (id, t) in self.tokens.iter().enumerate() {
            out.push_str(&b64.encode(t));
            out.push(' ');
            out.push_str(&id.to_string());
            out.push('\n');
        }
        out
    }

    /// Reads a `.tiktoken` file: every rank from 0 up, once each, every byte present; a damaged
    /// file is refused with its line number.
    pub fn from_tiktoken(file: &str, pattern: &str, specials: &[&str]) -> Result<Self, TokenError> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut by_rank: HashMap<u32, Vec<u8>> = HashMap::new();
        for (i, line) in file.lines().enumerate() {
            let bad = |detail: String| TokenError::File {
                line: i + 1,
                detail,
            };
            if line.trim().is_empty() {
                continue;
            }
            let (token, rank) = line
                .split_once(' ')
                .ok_or_else(|| bad("expected `base64 rank`".into()))?;
            let bytes = b64
                .decode(token)
                .map_err(|e| bad(format!("the token is not base64: {e}")))?;
            let rank: u32 = rank
                .trim()
                .parse()
                .map_err(|_| bad(format!("the rank {rank:?} is not a whole number")))?;
            if by_rank.insert(rank, bytes).is_some() {
                return Err(bad(format!("rank {rank} appears twice")));
            }
        }
        let n = by_rank.len() as u32;
        let tokens = (0..n)
            .map(|r| {
                by_rank.remove(&r).ok_or_else(|| {
                    TokenError::Format(format!(
                        "ranks file: rank {r} is missing (the file has {n} ranks, which must be 0 to {})",
                        n - 1
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_tokens(tokens, pattern, specials)
    }
}

fn check_size(text: &str) -> Result<(), TokenError> {
    if text.len() > MAX_TEXT_BYTES {
        return Err(TokenError::InvalidArgument {
            arg: "text".into(),
            detail: format!(
                "{} bytes; at most {MAX_TEXT_BYTES} per call: encode it in parts",
                text.len()
            ),
        });
    }
    Ok(())
}

/// One distinct pre-token of the training text: its current tokens and how often it occurs.
struct Word {
    ids: Vec<u32>,
    count: u64,
}

impl Word {
    /// Adds `sign × count` to the count of each adjacent pair, and records where pairs occur.
    fn count_pairs(
        &self,
        index: usize,
        sign: i64,
        counts: &mut FxHashMap<(u32, u32), i64>,
        seen_in: &mut FxHashMap<(u32, u32), Vec<usize>>,
    ) {
        for pair in self.ids.windows(2) {
            let pair = (pair[0], pair[1]);
            *counts.entry(pair).or_default() += sign * self.count as i64;
            if sign > 0 {
                seen_in.entry(pair).or_default().push(index);
            }
        }
    }

    /// Replaces every occurrence of `pair`, left to right, by `new`.
    fn merge(&mut self, pair: (u32, u32), new: u32) {
        let mut out = Vec::with_capacity(self.ids.len());
        let mut i = 0;
        while i < self.ids.len() {
            if i + 1 < self.ids.len() && (self.ids[i], self.ids[i + 1]) == pair {
                out.push(new);
                i += 2;
            } else {
                out.push(self.ids[i]);
                i += 1;
            }
        }
        self.ids = out;
    }
}

// ANCHOR: train
/// Trains a byte-level BPE on `text`: counts the pre-tokens, starts every one as its bytes, then
/// `merges` times joins the most frequent adjacent pair into a new token (a tie goes to the pair
/// of the earliest tokens: Hugging Face's rule). Stops early when no pair is left.
pub fn train(text: &str, merges: usize, pre: &PreTokenizer) -> Result<Bpe, TokenError> {
    if text.is_empty() {
        return Err(TokenError::InvalidArgument {
            arg: "text".into(),
            detail: "the training text is empty".into(),
        });
    }
    check_size(text)?;
    if merges > MAX_MERGES {
        return Err(TokenError::InvalidArgument {
            arg: "merges".into(),
            detail: format!("{merges}; at most {MAX_MERGES}"),
        });
    }
    let order = byte_order();
    let mut id_of_byte = [0u32; 256];
    for (id, &b) in order.iter().enumerate() {
        id_of_byte[b as usize] = id as u32;
    }
    let mut tokens: Vec<Vec<u8>> = order.iter().map(|&b| vec![b]).collect();
    let mut words: FxHashMap<&str, u64> = FxHashMap::default();
    for piece in pre.split(text)? {
        *words.entry(piece).or_default() += 1;
    }
    let mut words: Vec<(&str, u64)> = words.into_iter().collect();
    words.sort_unstable();
    let mut words: Vec<Word> = words
        .into_iter()
        .map(|(w, count)| Word {
            ids: w.bytes().map(|b| id_of_byte[b as usize]).collect(),
            count,
        })
        .collect();
    let mut counts: FxHashMap<(u32, u32), i64> = FxHashMap::default();
    let mut seen_in: FxHashMap<(u32, u32), Vec<usize>> = FxHashMap::default();
    for (i, w) in words.iter().enumerate() {
        w.count_pairs(i, 1, &mut counts, &mut seen_in);
    }
    let mut done = Vec::with_capacity(merges);
    // BEGIN SOLUTION train
    while done.len() < merges {
        // The most frequent pair; on a tie, the smallest (left id, right id).
        let best = counts
            .iter()
            .filter(|(_, c)| **c > 0)
            .max_by(|(p, c), (q, d)| c.cmp(d).then(q.cmp(p)))
            .map(|(p, _)| *p);
        let Some(pair) = best else { break };
        let new = tokens.len() as u32;
        let joined = [tokens[pair.0 as usize].as_slice(), &tokens[pair.1 as usize]].concat();
        tokens.push(joined);
        let mut at = seen_in.remove(&pair).unwrap_or_default();
        at.sort_unstable();
        at.dedup();
        for i in at {
            let word = &mut words[i];
            if !word.ids.windows(2).any(|w| (w[0], w[1]) == pair) {
                continue;
            }
            word.count_pairs(i, -1, &mut counts, &mut seen_in);
            word.merge(pair, new);
            words[i].count_pairs(i, 1, &mut counts, &mut seen_in);
        }
        counts.retain(|_, c| *c > 0);
        done.push(pair);
    }
    // END SOLUTION
    let mut bpe = Bpe::from_tokens(tokens, pre.pattern(), &["<|endoftext|>"])?;
    bpe.merges = done;
    Ok(bpe)
}
// ANCHOR_END: train
