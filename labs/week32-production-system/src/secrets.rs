//! Secrets from where a platform puts them — an environment variable, or a file that
//! Kubernetes or podman mounts — and nowhere else: never a command-line argument (any user of the
//! machine can read `ps`), never a file in the image, never a log line.

use crate::{Context, Result, invalid};
use std::fmt;
use std::path::Path;

/// The fewest bytes a key may have: 256 bits of HMAC key.
pub const MIN_BYTES: usize = 32;

/// A secret's bytes. `Debug` and `Display` print its length, never its value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// `bytes` as a secret: at least [`MIN_BYTES`] of them, `what` names it in the error.
    pub fn new(what: &str, bytes: Vec<u8>) -> Result<Self> {
        if bytes.len() < MIN_BYTES {
            return Err(invalid(
                what,
                format!(
                    "a secret needs at least {MIN_BYTES} bytes, got {}",
                    bytes.len()
                ),
            ));
        }
        Ok(Self(bytes))
    }

    /// The bytes, for the one function that needs them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(redacted, {} bytes)", self.0.len())
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[redacted secret]")
    }
}

/// Reads the secret `name` from the environment variable `name`, or from the file that
/// `name_FILE` names (a mounted Kubernetes Secret, a podman secret); a trailing newline is
/// dropped. Exactly one of the two must be set; the file must not be open to every user
/// (group-readable is how Kubernetes mounts a Secret for the pod's `fsGroup`).
pub fn from_env_or_file(name: &str) -> Result<Secret> {
    let file_var = format!("{name}_FILE");
    let value = std::env::var_os(name);
    let file = std::env::var_os(&file_var);
    match (value, file) {
        (Some(_), Some(_)) => Err(invalid(
            name,
            format!("both {name} and {file_var} are set: set one"),
        )),
        (None, None) => Err(invalid(
            name,
            format!("the secret is missing: set {name}, or {file_var} to a file that holds it"),
        )),
        (Some(v), None) => {
            let v = v
                .into_string()
                .map_err(|_| invalid(name, "the variable is not UTF-8"))?;
            Secret::new(name, v.into_bytes())
        }
        (None, Some(path)) => from_file(name, Path::new(&path)),
    }
}

/// Reads the secret `name` from `path` (see [`from_env_or_file`]).
pub fn from_file(name: &str, path: &Path) -> Result<Secret> {
    let meta = std::fs::metadata(path).during(format!("the secret file {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o007 != 0 {
            return Err(invalid(
                name,
                format!(
                    "{} is open to every user of the machine (mode {mode:o}): a secret file must be 600, 440 or 400",
                    path.display()
                ),
            ));
        }
    }
    let _ = meta;
    let mut bytes = std::fs::read(path).during(format!("reading {}", path.display()))?;
    while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        bytes.pop();
    }
    Secret::new(name, bytes)
}
