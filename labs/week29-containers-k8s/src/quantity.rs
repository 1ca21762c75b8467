//! Kubernetes resource quantities (`250m`, `1.5`, `128Mi`, `1G`, `2e3`) as numbers, so that limits
//! and requests can be compared.

use anyhow::{Result, bail};

// ANCHOR: parse_quantity
/// The value of a Kubernetes quantity: a decimal number followed by an optional suffix — a
/// binary one (`Ki Mi Gi Ti Pi Ei`: powers of 1024), a decimal one (`n u m k M G T P E`: powers
/// of 1000, `m` being milli) or an exponent (`e3`, `E-2`). CPU `"250m"` is 0.25 cores, memory
/// `"128Mi"` is 134,217,728 bytes.
pub fn parse_quantity(text: &str) -> Result<f64> {
    let s = text.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(split);
    let valid_number = !number.is_empty()
        && number.chars().filter(|c| *c == '.').count() <= 1
        && number
            .trim_start_matches(['+', '-'])
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.')
        && number.chars().any(|c| c.is_ascii_digit());
    if !valid_number {
        bail!(
            "quantity {text:?}: expected a number followed by an optional suffix (250m, 1.5, 128Mi)"
        );
    }
    let value: f64 = number
        .parse()
        .map_err(|_| anyhow::anyhow!("quantity {text:?}: {number:?} is not a number"))?;
    // BEGIN SOLUTION parse_quantity
    let scale = match suffix {
        "" => 1.0,
        "Ki" => 1024f64,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        exponent if exponent.starts_with(['e', 'E']) => {
            let power: i32 = exponent[1..].parse().map_err(|_| {
                anyhow::anyhow!("quantity {text:?}: {exponent:?} is not an exponent")
            })?;
            10f64.powi(power)
        }
        other => bail!(
            "quantity {text:?}: unknown suffix {other:?} (expected one of Ki Mi Gi Ti Pi Ei n u m k M G T P E or an exponent)"
        ),
    };
    let quantity = value * scale;
    if !quantity.is_finite() {
        bail!("quantity {text:?}: too large to be a number");
    }
    Ok(quantity)
    // END SOLUTION
}
// ANCHOR_END: parse_quantity
