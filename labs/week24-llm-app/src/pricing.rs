//! What a request costs. Prices are integers in nano-dollars (10⁻⁹ $) per token, and so is every
//! cost and budget: sums of integers are exact, where sums of dollar amounts in floating point
//! drift (0.1 + 0.2 ≠ 0.3) and a ledger that does not add up cannot be audited.

use crate::{Result, invalid};

/// Nano-dollars per prompt (input) token and per completion (output) token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Price {
    pub input: u64,
    pub output: u64,
}

/// The lab's list price for SmolLM2: $0.15 per million prompt tokens and $0.60 per million
/// completion tokens — made up, in the proportions hosted small models are priced at (output
/// dearer than input: each output token is a whole forward pass).
pub const SMOLLM2: Price = Price {
    input: 150,
    output: 600,
};

/// Nano-dollars in a dollar.
pub const NANOS_PER_DOLLAR: u64 = 1_000_000_000;

// ANCHOR: cost
/// The cost of `prompt` input and `completion` output tokens at `price`, in nano-dollars; an
/// error (not a wrapped number) if it does not fit in 63 bits, SQLite's integers.
pub fn cost(price: Price, prompt: u64, completion: u64) -> Result<u64> {
    // BEGIN SOLUTION cost
    prompt
        .checked_mul(price.input)
        .and_then(|a| completion.checked_mul(price.output).and_then(|b| a.checked_add(b)))
        .filter(|&c| c <= i64::MAX as u64)
        .ok_or_else(|| {
            invalid(
                "tokens",
                format!("{prompt} prompt and {completion} completion tokens cost more than a ledger entry holds"),
            )
        })
    // END SOLUTION
}
// ANCHOR_END: cost

/// Nano-dollars as dollars, every digit kept: `$0.000012300`.
pub fn dollars(nanos: u64) -> String {
    format!(
        "${}.{:09}",
        nanos / NANOS_PER_DOLLAR,
        nanos % NANOS_PER_DOLLAR
    )
}

/// Dollars (as typed by a person: `0.25`, `$1`, `0.000001`) as nano-dollars, exactly.
pub fn parse_dollars(text: &str) -> Result<u64> {
    let t = text.trim().trim_start_matches('$');
    let bad = || {
        invalid(
            "dollars",
            format!("expected an amount like 0.25 with at most 9 decimals, got {text:?}"),
        )
    };
    let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
    if (whole.is_empty() && frac.is_empty())
        || frac.len() > 9
        || !whole
            .bytes()
            .chain(frac.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| bad())?
    };
    let frac: u64 = format!("{frac:0<9}").parse().map_err(|_| bad())?;
    whole
        .checked_mul(NANOS_PER_DOLLAR)
        .and_then(|w| w.checked_add(frac))
        .filter(|&n| n <= i64::MAX as u64)
        .ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollars_round_trip_exactly() {
        assert_eq!(dollars(12_300), "$0.000012300");
        assert_eq!(dollars(1_500_000_000), "$1.500000000");
        assert_eq!(parse_dollars("0.25").unwrap(), 250_000_000);
        assert_eq!(parse_dollars("$1").unwrap(), 1_000_000_000);
        assert_eq!(parse_dollars(".000000001").unwrap(), 1);
        for bad in ["", ".", "1.0000000001", "-1", "1e3", "abc"] {
            assert!(parse_dollars(bad).is_err(), "{bad}");
        }
    }
}
