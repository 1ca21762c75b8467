//! A document as a retriever accepts it: UTF-8, not empty, and of bounded size — checked once at
//! the door, so that the chunkers and indexes downstream can trust their input.

use crate::{Result, invalid};

/// The largest document accepted: 16 MiB (the longest address is 0.2 MB). A bigger one is
/// refused with its size rather than chunked into a corpus it would swamp.
pub const MAX_BYTES: usize = 16 << 20;

/// Refuses `len` bytes past [`MAX_BYTES`].
fn check_size(name: &str, len: u64) -> Result<()> {
    if len > MAX_BYTES as u64 {
        return Err(invalid(
            name,
            format!("{len} bytes is more than the {MAX_BYTES} a document may hold; split it first"),
        ));
    }
    Ok(())
}

/// Checked text with a name for error messages.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub name: String,
    pub text: String,
}

impl Document {
    /// Text that is not empty (nor only white space) and at most [`MAX_BYTES`].
    pub fn new(name: &str, text: String) -> Result<Self> {
        check_size(name, text.len() as u64)?;
        if text.trim().is_empty() {
            return Err(invalid(
                name,
                if text.is_empty() {
                    "empty document".to_string()
                } else {
                    format!("only white space ({} bytes)", text.len())
                },
            ));
        }
        Ok(Self {
            name: name.into(),
            text,
        })
    }

    /// Bytes that must be UTF-8: the error names the first bad byte's offset.
    pub fn from_bytes(name: &str, bytes: Vec<u8>) -> Result<Self> {
        check_size(name, bytes.len() as u64)?;
        match String::from_utf8(bytes) {
            Ok(text) => Self::new(name, text),
            Err(e) => {
                let at = e.utf8_error().valid_up_to();
                let bad = e.as_bytes()[at];
                Err(invalid(
                    name,
                    format!("not UTF-8: byte {at} is 0x{bad:02x}, which starts no valid character"),
                ))
            }
        }
    }

    /// A file read with [`Document::from_bytes`], named by its path.
    pub fn read(path: &std::path::Path) -> Result<Self> {
        let name = path.display().to_string();
        let unreadable = |e: std::io::Error| invalid(&name, format!("cannot be read: {e}"));
        check_size(&name, std::fs::metadata(path).map_err(unreadable)?.len())?;
        Self::from_bytes(&name, std::fs::read(path).map_err(unreadable)?)
    }
}
