//! Where the shipped data sets live, and their SHA-256 checks.

use crate::{DataError, Result, io_err};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The `datasets/` folder: `$WORKBOOK_DATASETS` when set, else the first `datasets/` holding a
/// `SHA256SUMS` file in the current folder or one of its parents, else the one of this repository.
pub fn datasets_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("WORKBOOK_DATASETS") {
        return PathBuf::from(dir);
    }
    if let Ok(cwd) = std::env::current_dir() {
        for dir in cwd.ancestors() {
            let candidate = dir.join("datasets");
            if candidate.join("SHA256SUMS").is_file() {
                return candidate;
            }
        }
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets")
}

/// The SHA-256 of a file, as lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path).map_err(io_err(path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(io_err(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

fn read_sums(dir: &Path) -> Result<Vec<(String, String)>> {
    let path = dir.join("SHA256SUMS");
    let text = std::fs::read_to_string(&path).map_err(io_err(&path))?;
    let mut sums = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mut parts = line.split_whitespace();
        match (parts.next(), parts.next(), parts.next()) {
            (Some(hash), Some(file), None) if hash.len() == 64 => sums.push((
                file.trim_start_matches('*').to_string(),
                hash.to_lowercase(),
            )),
            _ => {
                return Err(DataError::Malformed {
                    path,
                    line: i as u64 + 1,
                    column: None,
                    detail: "expected `<sha256>  <file>`".into(),
                });
            }
        }
    }
    Ok(sums)
}

/// The path of the shipped data set `rel` (for example `"tabular/diabetes.csv"`), after checking
/// that its SHA-256 matches the one in `datasets/SHA256SUMS`.
pub fn dataset(rel: &str) -> Result<PathBuf> {
    let dir = datasets_dir();
    let sums = read_sums(&dir)?;
    let Some((_, expected)) = sums.iter().find(|(f, _)| f == rel) else {
        let names: Vec<&str> = sums.iter().map(|(f, _)| f.as_str()).collect();
        return Err(DataError::NotFound(format!(
            "`{rel}` is not listed in {}; the data sets are: {}",
            dir.join("SHA256SUMS").display(),
            names.join(", ")
        )));
    };
    let path = dir.join(rel);
    let got = sha256_file(&path)?;
    if &got != expected {
        return Err(DataError::Checksum {
            path,
            expected: expected.clone(),
            got,
        });
    }
    Ok(path)
}

/// The state of one shipped file, for `workbook doctor`.
#[derive(Debug, Clone, PartialEq)]
pub enum ChecksumStatus {
    Ok,
    Missing,
    Mismatch { expected: String, got: String },
}

/// Checks every file listed in `dir/SHA256SUMS`.
pub fn verify_all(dir: &Path) -> Result<Vec<(String, ChecksumStatus)>> {
    let mut out = Vec::new();
    for (file, expected) in read_sums(dir)? {
        let path = dir.join(&file);
        let status = if !path.is_file() {
            ChecksumStatus::Missing
        } else {
            let got = sha256_file(&path)?;
            if got == expected {
                ChecksumStatus::Ok
            } else {
                ChecksumStatus::Mismatch { expected, got }
            }
        };
        out.push((file, status));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::temp_file;

    #[test]
    fn sha256_of_known_bytes() {
        // `printf abc | sha256sum`
        let p = temp_file("abc.txt", b"abc");
        assert_eq!(
            sha256_file(&p).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn shipped_data_sets_verify() {
        let dir = datasets_dir(); // found at run time, in the checkout the test runs in
        let all = verify_all(&dir).unwrap();
        assert!(all.len() >= 17, "SHA256SUMS lists {} files", all.len());
        for (file, status) in all {
            assert_eq!(status, ChecksumStatus::Ok, "{file}");
        }
    }

    #[test]
    fn the_datasets_readme_lists_every_checksum() {
        let dir = datasets_dir();
        let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
        for (file, hash) in read_sums(&dir).unwrap() {
            assert!(
                readme.contains(&format!("`{file}`")) && readme.contains(&hash),
                "datasets/README.md lacks {file} or its SHA-256 {hash}"
            );
        }
    }

    #[test]
    fn a_changed_file_is_reported() {
        let dir = std::env::temp_dir().join(format!("wb-data-sums-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.csv"), b"x\n1\n").unwrap();
        std::fs::write(
            dir.join("SHA256SUMS"),
            format!("{}  a.csv\n", "0".repeat(64)),
        )
        .unwrap();
        let all = verify_all(&dir).unwrap();
        assert!(matches!(all[0].1, ChecksumStatus::Mismatch { .. }));
    }
}
