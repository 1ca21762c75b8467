//! # Week 32 — the production AI system: observability, rollback, security, compliance
//!
//! Weeks 24–28's model service made fit to operate:
//!
//! - [`audit`]: a hash-chained, HMAC-keyed, append-only audit log: every record carries the MAC
//!   of the one before, so a changed, forged, removed or reordered record is found and located;
//! - [`telemetry`]: tracing spans named and attributed by the OpenTelemetry conventions, JSON
//!   logs tied by request id with personal data redacted, and Prometheus metrics;
//! - [`secrets`]: secrets only from the environment or a mounted file, never printed;
//! - [`retention`]: the request store and the job that deletes what its policy says, and only
//!   that, leaving a record of what it did in the audit log;
//! - [`registry`]: week 28's pipeline makes two versions in week 26's registry; the model card;
//! - [`service`]: the HTTP service (axum): API keys and scopes from week 24, input limits,
//!   rollback through the registry while it serves;
//! - [`load`]: a load test on loopback, with a rollback in the middle of it;
//! - [`advisories`]: the dependency audit of `Cargo.lock` against a vendored advisory snapshot;
//! - [`deploy`]: the Kubernetes manifests, as Rust types.

pub mod advisories;
pub mod audit;
pub mod deploy;
pub mod load;
pub mod registry;
pub mod retention;
pub mod secrets;
pub mod service;
pub mod telemetry;

use thiserror::Error;

/// What can go wrong; every variant says which argument, or what failed and how.
#[derive(Debug, Error)]
pub enum ProdError {
    #[error("invalid `{arg}`: {detail}")]
    InvalidArgument { arg: String, detail: String },
    #[error("{context}: {source}")]
    Db {
        context: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the registry: {0}")]
    Registry(String),
}

pub type Result<T, E = ProdError> = std::result::Result<T, E>;

/// A [`ProdError::InvalidArgument`] naming `arg`.
pub fn invalid(arg: &str, detail: impl Into<String>) -> ProdError {
    ProdError::InvalidArgument {
        arg: arg.into(),
        detail: detail.into(),
    }
}

/// Adds what was being done to an I/O or SQLite error.
pub trait Context<T> {
    fn during(self, context: impl Into<String>) -> Result<T>;
}

impl<T> Context<T> for std::result::Result<T, std::io::Error> {
    fn during(self, context: impl Into<String>) -> Result<T> {
        self.map_err(|source| ProdError::Io {
            context: context.into(),
            source,
        })
    }
}

impl<T> Context<T> for std::result::Result<T, rusqlite::Error> {
    fn during(self, context: impl Into<String>) -> Result<T> {
        self.map_err(|source| ProdError::Db {
            context: context.into(),
            source,
        })
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
