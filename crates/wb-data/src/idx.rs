//! The IDX format of MNIST: a magic number `0x0000_08_NN` (unsigned bytes, NN dimensions), the
//! dimensions as big-endian u32, then the bytes.

use crate::{DataError, Result, io_err, open};
use std::io::Read;
use std::path::Path;

/// An IDX file of unsigned bytes: `dims` (for example `[10000, 28, 28]`) and the data, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct IdxData {
    pub dims: Vec<usize>,
    pub data: Vec<u8>,
}

/// Reads an IDX file of unsigned bytes (plain or gzip).
pub fn read_idx(path: &Path) -> Result<IdxData> {
    let mut bytes = Vec::new();
    open(path)?.read_to_end(&mut bytes).map_err(io_err(path))?;
    let bad = |detail: String| DataError::Malformed {
        path: path.to_path_buf(),
        line: 1,
        column: None,
        detail: format!("IDX: {detail}"),
    };
    if bytes.len() < 4 || bytes[0] != 0 || bytes[1] != 0 {
        return Err(bad("does not start with the IDX magic number 00 00".into()));
    }
    if bytes[2] != 0x08 {
        return Err(bad(format!(
            "element type 0x{:02x} is not supported (only 0x08, unsigned bytes)",
            bytes[2]
        )));
    }
    let ndim = bytes[3] as usize;
    let header = 4 + 4 * ndim;
    if ndim == 0 || bytes.len() < header {
        return Err(bad(format!("header of {ndim} dimensions is truncated")));
    }
    let dims: Vec<usize> = (0..ndim)
        .map(|i| {
            let b = &bytes[4 + 4 * i..8 + 4 * i];
            u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize
        })
        .collect();
    let expected: usize = dims.iter().product();
    let got = bytes.len() - header;
    if got != expected {
        return Err(bad(format!(
            "dimensions {dims:?} need {expected} data bytes, the file has {got}"
        )));
    }
    bytes.drain(..header);
    Ok(IdxData { dims, data: bytes })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{gzip, temp_file};

    #[test]
    fn reads_a_hand_made_file() {
        let mut b = vec![0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3];
        b.extend([1, 2, 3, 4, 5, 6]);
        let p = temp_file("m.idx.gz", &gzip(&b));
        let d = read_idx(&p).unwrap();
        assert_eq!(d.dims, [2, 3]);
        assert_eq!(d.data, [1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn truncated_and_foreign_files_are_errors() {
        let p = temp_file("short.idx", &[0, 0, 8, 1, 0, 0, 0, 5, 1, 2]);
        let err = read_idx(&p).unwrap_err().to_string();
        assert!(err.contains("need 5 data bytes, the file has 2"), "{err}");
        let p = temp_file("f.idx", &[0, 0, 0x0d, 1, 0, 0, 0, 0]);
        assert!(read_idx(&p).unwrap_err().to_string().contains("0x0d"));
        let p = temp_file("txt.idx", b"hello");
        assert!(read_idx(&p).unwrap_err().to_string().contains("magic"));
    }

    #[test]
    fn the_shipped_mnist_labels_load() {
        let p = crate::dataset("images/mnist-10k-labels-idx1-ubyte.gz").unwrap();
        let d = read_idx(&p).unwrap();
        assert_eq!(d.dims, [10_000]);
        assert!(d.data.iter().all(|&l| l < 10));
    }
}
