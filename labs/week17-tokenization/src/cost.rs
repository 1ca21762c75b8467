//! What a request costs: a pricing table (US dollars per million tokens, input and output priced
//! apart) and each model's context limit.

use crate::TokenError;
use serde::{Deserialize, Serialize};

/// One model's prices and context window.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Price {
    pub model: String,
    /// US dollars per million prompt (input) tokens.
    pub input_per_million: f64,
    /// US dollars per million generated (output) tokens.
    pub output_per_million: f64,
    /// The most tokens, prompt and output together, one request may hold.
    pub context: usize,
}

/// The pricing table of `pricing.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PriceTable {
    pub note: String,
    #[serde(rename = "model")]
    pub models: Vec<Price>,
}

impl PriceTable {
    /// Reads a table; a price that is negative or not a number, or a context of 0, is refused
    /// with the model's name.
    pub fn parse(text: &str) -> Result<Self, TokenError> {
        let table: PriceTable = toml::from_str(text).map_err(|e| TokenError::InvalidArgument {
            arg: "pricing table".into(),
            detail: e.to_string(),
        })?;
        for p in &table.models {
            for (what, v) in [
                ("input_per_million", p.input_per_million),
                ("output_per_million", p.output_per_million),
            ] {
                if !(v.is_finite() && v >= 0.0) {
                    return Err(TokenError::InvalidArgument {
                        arg: format!("{}.{what}", p.model),
                        detail: format!("{v}: a price is a finite number ≥ 0"),
                    });
                }
            }
            if p.context == 0 {
                return Err(TokenError::InvalidArgument {
                    arg: format!("{}.context", p.model),
                    detail: "0 tokens".into(),
                });
            }
        }
        Ok(table)
    }

    /// The table shipped with the lab (`pricing.toml`).
    pub fn shipped() -> Result<Self, TokenError> {
        Self::parse(include_str!("../pricing.toml"))
    }
}

// ANCHOR: request_cost
/// The cost in US dollars of one request of `input` prompt tokens and `output` generated tokens;
/// a request that does not fit the model's context is refused.
pub fn request_cost(price: &Price, input: usize, output: usize) -> Result<f64, TokenError> {
    // BEGIN SOLUTION request_cost
    if input + output > price.context {
        return Err(TokenError::ContextFull {
            model: price.model.clone(),
            input,
            output,
            context: price.context,
        });
    }
    Ok((input as f64 * price.input_per_million + output as f64 * price.output_per_million) / 1e6)
    // END SOLUTION
}
// ANCHOR_END: request_cost
