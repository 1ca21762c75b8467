//! Characters as tokens: a vocabulary built from a text, and the corpus the labs train on.

use std::collections::HashMap;
use std::io::Read;

use serde::{Deserialize, Serialize};
use wb_core::{MlError, Result};

/// The distinct characters of a text, sorted, each with its id (its position).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CharVocab {
    chars: Vec<char>,
    #[serde(skip)]
    index: HashMap<char, u32>,
}

impl CharVocab {
    /// Every distinct character of `text`, sorted by code point.
    pub fn from_text(text: &str) -> Result<Self> {
        let mut chars: Vec<char> = text.chars().collect();
        chars.sort_unstable();
        chars.dedup();
        Self::from_chars(chars)
    }

    /// A vocabulary from its characters in id order (as saved with a model).
    pub fn from_chars(chars: Vec<char>) -> Result<Self> {
        if chars.is_empty() {
            return Err(MlError::Empty {
                arg: "text".to_string(),
                detail: "a vocabulary needs at least one character".to_string(),
            });
        }
        let index: HashMap<char, u32> = chars
            .iter()
            .enumerate()
            .map(|(i, &c)| (c, i as u32))
            .collect();
        if index.len() != chars.len() {
            return Err(MlError::InvalidArgument {
                arg: "chars".to_string(),
                detail: "a character appears twice".to_string(),
            });
        }
        Ok(Self { chars, index })
    }

    pub fn len(&self) -> usize {
        self.chars.len()
    }

    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    pub fn chars(&self) -> &[char] {
        &self.chars
    }

    /// The ids of `text`'s characters; a character outside the vocabulary is an error naming it
    /// and its position (a model cannot read what it never saw).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        text.chars()
            .enumerate()
            .map(|(i, c)| {
                self.index.get(&c).copied().ok_or_else(|| MlError::InvalidArgument {
                    arg: "text".to_string(),
                    detail: format!(
                        "character {c:?} (U+{:04X}) at position {i} is not in the model's vocabulary of {} characters",
                        c as u32,
                        self.chars.len()
                    ),
                })
            })
            .collect()
    }

    /// The ids of a generation prompt: as [`CharVocab::encode`], and an empty prompt is an error
    /// too (a model needs at least one character to continue).
    pub fn encode_prompt(&self, prompt: &str) -> Result<Vec<u32>> {
        let ids = self.encode(prompt)?;
        if ids.is_empty() {
            return Err(MlError::Empty {
                arg: "prompt".to_string(),
                detail: "give at least one character".to_string(),
            });
        }
        Ok(ids)
    }

    /// The text of `ids`; an id outside the vocabulary is an error.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        ids.iter()
            .enumerate()
            .map(|(i, &id)| {
                self.chars
                    .get(id as usize)
                    .copied()
                    .ok_or_else(|| MlError::InvalidArgument {
                        arg: "ids".to_string(),
                        detail: format!(
                            "id {id} at position {i} is outside the vocabulary (0..{})",
                            self.chars.len()
                        ),
                    })
            })
            .collect()
    }
}

/// Training windows: for each start `s`, the inputs `ids[s..s + len]` and the targets (the next
/// character of each) `ids[s + 1..s + len + 1]`, as two `[starts.len(), len]` u32 tensors.
pub fn windows(
    ids: &[u32],
    starts: &[usize],
    len: usize,
) -> Result<(candle_core::Tensor, candle_core::Tensor)> {
    let mut x = Vec::with_capacity(starts.len() * len);
    let mut y = Vec::with_capacity(starts.len() * len);
    for &s in starts {
        if s + len + 1 > ids.len() {
            return Err(MlError::InvalidArgument {
                arg: "starts".to_string(),
                detail: format!(
                    "a window of {} at {s} runs past the {} ids",
                    len + 1,
                    ids.len()
                ),
            });
        }
        x.extend_from_slice(&ids[s..s + len]);
        y.extend_from_slice(&ids[s + 1..s + len + 1]);
    }
    let n = starts.len();
    let dev = candle_core::Device::Cpu;
    let tensor = |v: Vec<u32>| {
        candle_core::Tensor::from_vec(v, (n, len), &dev).map_err(|e| MlError::InvalidArgument {
            arg: "starts".to_string(),
            detail: e.to_string(),
        })
    };
    Ok((tensor(x)?, tensor(y)?))
}

/// Moby-Dick (1.2 MB of text, checked against datasets/SHA256SUMS).
pub fn moby_dick() -> crate::ModelResult<String> {
    let path = wb_data::dataset("text/moby_dick.txt.gz")?;
    let mut text = String::new();
    wb_data::open(&path)?
        .read_to_string(&mut text)
        .map_err(|e| crate::ModelError::File {
            path: path.clone(),
            detail: format!("cannot read: {e}"),
        })?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_round_trip_and_unknown_characters_are_named() {
        let v = CharVocab::from_text("hello world").unwrap();
        assert_eq!(v.chars(), &[' ', 'd', 'e', 'h', 'l', 'o', 'r', 'w']);
        let ids = v.encode("hello").unwrap();
        assert_eq!(ids, [3, 2, 4, 4, 5]);
        assert_eq!(v.decode(&ids).unwrap(), "hello");
        let e = v.encode("hex").unwrap_err().to_string();
        assert!(e.contains("'x'") && e.contains("position 2"), "{e}");
        assert!(v.decode(&[8]).is_err());
        assert_eq!(v.encode_prompt("he").unwrap(), [3, 2]);
        let e = v.encode_prompt("").unwrap_err().to_string();
        assert!(e.contains("`prompt` is empty"), "{e}");
    }
}
