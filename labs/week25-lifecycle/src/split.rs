//! Splitting traffic by a hash of the user id: every request of a user lands in the same arm,
//! with no table of assignments, and a new experiment (a new salt) reshuffles everyone. The
//! sample-ratio-mismatch test checks that the split that happened is the split that was asked
//! for.

use serde::Serialize;
use sha2::{Digest, Sha256};
use statrs::distribution::{ChiSquared, ContinuousCDF};
use wb_core::{MlError, Result};

/// Buckets per experiment: a share is set to 0.01 % steps.
pub const BUCKETS: u64 = 10_000;

/// The arm a user sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Variant {
    Control,
    Treatment,
}

/// The user's bucket in 0..BUCKETS: the first 8 bytes of SHA-256(`"{salt}:{user}"`), read
/// big-endian, modulo BUCKETS. The same (salt, user) always gives the same bucket, in any
/// process and any language.
pub fn bucket(salt: &str, user: u64) -> u64 {
    let digest = Sha256::digest(format!("{salt}:{user}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first) % BUCKETS
}

// ANCHOR: assign
/// The arm of `user` in the experiment `salt` when `treatment_share` of the users (0 to 1) see
/// the treatment: buckets below share·BUCKETS are treated.
pub fn assign(salt: &str, user: u64, treatment_share: f64) -> Result<Variant> {
    if !(0.0..=1.0).contains(&treatment_share) {
        return Err(MlError::InvalidArgument {
            arg: "treatment_share".into(),
            detail: format!("must be between 0 and 1, got {treatment_share}"),
        });
    }
    // BEGIN SOLUTION assign
    let treated = (treatment_share * BUCKETS as f64).round() as u64;
    Ok(if bucket(salt, user) < treated {
        Variant::Treatment
    } else {
        Variant::Control
    })
    // END SOLUTION
}
// ANCHOR_END: assign

/// Pearson's chi-square goodness-of-fit test of observed arm sizes against the shares the
/// experiment asked for.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SrmTest {
    pub chi2: f64,
    pub p_value: f64,
}

/// The sample-ratio-mismatch test: `counts` per arm against `shares` (summing to 1). A p-value
/// below 0.001 says the split is broken (a bug, a bot filter, a redirect that loses users) and
/// the experiment's result cannot be trusted, whatever it says.
pub fn srm_test(counts: &[u64], shares: &[f64]) -> Result<SrmTest> {
    wb_core::check_len("shares", shares.len(), counts.len(), "one share per arm")?;
    if counts.len() < 2 {
        return Err(MlError::InvalidArgument {
            arg: "counts".into(),
            detail: format!("needs at least 2 arms, got {}", counts.len()),
        });
    }
    if let Some(s) = shares.iter().find(|s| !(**s > 0.0 && **s < 1.0)) {
        return Err(MlError::InvalidArgument {
            arg: "shares".into(),
            detail: format!("each must be strictly between 0 and 1, got {s}"),
        });
    }
    let total_share: f64 = shares.iter().sum();
    if (total_share - 1.0).abs() > 1e-9 {
        return Err(MlError::InvalidArgument {
            arg: "shares".into(),
            detail: format!("must add up to 1, they add up to {total_share}"),
        });
    }
    let n: u64 = counts.iter().sum();
    if n == 0 {
        return Err(MlError::Empty {
            arg: "counts".into(),
            detail: "no user in any arm".into(),
        });
    }
    let chi2: f64 = counts
        .iter()
        .zip(shares)
        .map(|(&c, &s)| {
            let expected = s * n as f64;
            (c as f64 - expected).powi(2) / expected
        })
        .sum();
    let dist =
        ChiSquared::new((counts.len() - 1) as f64).map_err(|e| MlError::InvalidArgument {
            arg: "counts".into(),
            detail: e.to_string(),
        })?;
    Ok(SrmTest {
        chi2,
        p_value: dist.sf(chi2),
    })
}
