//! API keys. A key is `sk-wb-<id>-<secret>`: the id (6 random bytes, 12 hex digits) finds the
//! key's record and may be logged; the secret (32 random bytes, 64 hex digits) is shown once, at
//! creation, and only its SHA-256 is stored. A fast hash is right here and wrong for passwords:
//! 256 random bits cannot be guessed however fast the hash, whereas a password must be hashed
//! slowly (argon2, scrypt) because people choose guessable ones.
//!
//! The stored hash is compared with the presented secret's hash in constant time: the time a
//! comparison takes must not say how many leading bytes were right.

use crate::{Result, invalid};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Every key starts with this.
pub const PREFIX: &str = "sk-wb-";
/// Bytes of the id and of the secret.
pub const ID_BYTES: usize = 6;
pub const SECRET_BYTES: usize = 32;

/// A key just made: `key` is given to its owner once; `id` and `hash` are stored.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub id: String,
    pub key: String,
    pub hash: [u8; 32],
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A new key from the operating system's random numbers.
pub fn generate() -> NewKey {
    let mut id = [0u8; ID_BYTES];
    let mut secret = [0u8; SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut id);
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let (id, secret) = (hex(&id), hex(&secret));
    NewKey {
        key: format!("{PREFIX}{id}-{secret}"),
        hash: hash_secret(&secret),
        id,
    }
}

/// SHA-256 of a key's secret part: what the ledger stores.
pub fn hash_secret(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// `key` split into its id and secret, once its shape is checked (prefix, lengths, hex digits).
pub fn parse(key: &str) -> Result<(&str, &str)> {
    let rest = key
        .strip_prefix(PREFIX)
        .ok_or_else(|| invalid("key", format!("expected a key starting with `{PREFIX}`")))?;
    let (id, secret) = rest
        .split_once('-')
        .ok_or_else(|| invalid("key", "expected `sk-wb-<id>-<secret>`"))?;
    let hex_of = |s: &str, n: usize| s.len() == 2 * n && s.bytes().all(|b| b.is_ascii_hexdigit());
    if !hex_of(id, ID_BYTES) || !hex_of(secret, SECRET_BYTES) {
        return Err(invalid(
            "key",
            format!(
                "expected {} hex digits of id and {} of secret",
                2 * ID_BYTES,
                2 * SECRET_BYTES
            ),
        ));
    }
    Ok((id, secret))
}

// ANCHOR: constant_time_eq
/// Whether `a` and `b` are equal, in a time that depends on their lengths only, never on where
/// they first differ: every byte pair is looked at, and the differences are folded together with
/// OR, so no branch depends on a byte.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    // BEGIN SOLUTION constant_time_eq
    if a.len() != b.len() {
        return false;
    }
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    // `black_box` keeps the optimiser from turning the fold back into an early exit.
    std::hint::black_box(diff) == 0
    // END SOLUTION
}
// ANCHOR_END: constant_time_eq

/// Whether `secret` is the one whose hash is `stored`.
pub fn verify(secret: &str, stored: &[u8]) -> bool {
    constant_time_eq(&hash_secret(secret), stored)
}

/// What a request presents: the token of an `Authorization: Bearer <token>` header.
pub fn bearer(header: Option<&str>) -> Option<&str> {
    let value = header?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// What a key may do.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Chat completions and one's own usage.
    Chat,
    /// Users, keys, budgets and the whole ledger.
    Admin,
}

impl Scope {
    pub fn name(self) -> &'static str {
        match self {
            Scope::Chat => "chat",
            Scope::Admin => "admin",
        }
    }

    /// Scopes from a comma-separated list (`chat,admin`).
    pub fn parse_list(text: &str) -> Result<Vec<Scope>> {
        let mut out = Vec::new();
        for s in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let scope = match s {
                "chat" => Scope::Chat,
                "admin" => Scope::Admin,
                other => {
                    return Err(invalid(
                        "scopes",
                        format!("expected chat or admin, got {other:?}"),
                    ));
                }
            };
            if !out.contains(&scope) {
                out.push(scope);
            }
        }
        if out.is_empty() {
            return Err(invalid("scopes", "expected at least one scope"));
        }
        Ok(out)
    }

    /// The list as stored: `chat,admin`.
    pub fn join(scopes: &[Scope]) -> String {
        scopes
            .iter()
            .map(|s| s.name())
            .collect::<Vec<_>>()
            .join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_parses_and_verifies_against_its_hash_only() {
        let k = generate();
        let (id, secret) = parse(&k.key).unwrap();
        assert_eq!(id, k.id);
        assert!(verify(secret, &k.hash));
        let mut wrong = secret.to_string();
        wrong.replace_range(0..1, if wrong.starts_with('0') { "1" } else { "0" });
        assert!(!verify(&wrong, &k.hash));
        assert!(parse("sk-wb-abc-def").is_err());
        assert!(parse("sk-other").is_err());
        assert_eq!(bearer(Some("Bearer abc")), Some("abc"));
        assert_eq!(bearer(Some("bearer  abc ")), Some("abc"));
        assert_eq!(bearer(Some("Basic abc")), None);
        assert_eq!(bearer(Some("Bearer ")), None);
        assert_eq!(bearer(None), None);
        assert_eq!(
            Scope::parse_list("chat, admin,chat").unwrap(),
            vec![Scope::Chat, Scope::Admin]
        );
        assert!(Scope::parse_list("root").is_err());
    }
}
