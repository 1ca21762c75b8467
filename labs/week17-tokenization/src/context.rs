//! Context windows: what to keep when a text does not fit (head, tail, middle), and sliding
//! windows with overlap that cover a long text in pieces the model can take.

use crate::TokenError;
use std::ops::Range;

/// Which part of a too-long sequence survives truncation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Keep {
    /// The beginning (instructions first, the end of a long document lost).
    Head,
    /// The end (the latest turns of a chat).
    Tail,
    /// The beginning and the end, the middle dropped (a document's introduction and conclusion).
    Middle,
}

// ANCHOR: truncate
/// At most `max` tokens of `tokens`: all of them when they fit; otherwise the first `max`
/// (`Head`), the last `max` (`Tail`), or the first ⌈max/2⌉ and the last ⌊max/2⌋ (`Middle`).
pub fn truncate(tokens: &[u32], max: usize, keep: Keep) -> Result<Vec<u32>, TokenError> {
    if max == 0 {
        return Err(TokenError::InvalidArgument {
            arg: "max".into(),
            detail: "0 tokens leaves nothing to send: give at least 1".into(),
        });
    }
    // BEGIN SOLUTION truncate
    if tokens.len() <= max {
        return Ok(tokens.to_vec());
    }
    Ok(match keep {
        Keep::Head => tokens[..max].to_vec(),
        Keep::Tail => tokens[tokens.len() - max..].to_vec(),
        Keep::Middle => {
            let head = max.div_ceil(2);
            let tail = max - head;
            let mut kept = tokens[..head].to_vec();
            kept.extend_from_slice(&tokens[tokens.len() - tail..]);
            kept
        }
    })
    // END SOLUTION
}
// ANCHOR_END: truncate

// ANCHOR: windows
/// Windows of at most `window` tokens over a sequence of `len`, each starting `window − overlap`
/// after the previous one, the last one ending at `len`: together they cover every token, and
/// neighbours share `overlap` tokens (so that a sentence cut by one window is whole in the next).
pub fn sliding_windows(
    len: usize,
    window: usize,
    overlap: usize,
) -> Result<Vec<Range<usize>>, TokenError> {
    if window == 0 {
        return Err(TokenError::InvalidArgument {
            arg: "window".into(),
            detail: "0 tokens: a window must hold at least 1".into(),
        });
    }
    if overlap >= window {
        return Err(TokenError::InvalidArgument {
            arg: "overlap".into(),
            detail: format!(
                "{overlap} tokens, not less than the window ({window}): the windows would never advance"
            ),
        });
    }
    // BEGIN SOLUTION windows
    let step = window - overlap;
    let mut out = Vec::new();
    let mut start = 0;
    while start < len {
        let end = (start + window).min(len);
        out.push(start..end);
        if end == len {
            break;
        }
        start += step;
    }
    Ok(out)
    // END SOLUTION
}
// ANCHOR_END: windows
