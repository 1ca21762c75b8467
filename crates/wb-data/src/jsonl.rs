//! JSON Lines: one JSON value per line.

use crate::{DataError, Result, io_err, open};
use serde::de::DeserializeOwned;
use std::io::BufRead;
use std::path::Path;

/// Reads a JSON Lines file (plain or gzip) into a vector of `T`. Blank lines are skipped; a line
/// that is not valid JSON for `T` is an error naming the line and the column within it.
pub fn read_jsonl<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    let reader = std::io::BufReader::new(open(path)?);
    let mut out = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let line = line.map_err(io_err(path))?;
        if line.trim().is_empty() {
            continue;
        }
        let value = serde_json::from_str(&line).map_err(|e| DataError::Malformed {
            path: path.to_path_buf(),
            line: i as u64 + 1,
            column: Some(format!("character {}", e.column())),
            detail: e.to_string(),
        })?;
        out.push(value);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::temp_file;

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Doc {
        year: u32,
        text: String,
    }

    #[test]
    fn reads_lines_and_reports_the_bad_one() {
        let p = temp_file(
            "ok.jsonl",
            b"{\"year\":1945,\"text\":\"a\"}\n\n{\"year\":1946,\"text\":\"b\"}\n",
        );
        let docs: Vec<Doc> = read_jsonl(&p).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1].year, 1946);
        let p = temp_file(
            "bad.jsonl",
            b"{\"year\":1945,\"text\":\"a\"}\n{\"year\":\"x\"}\n",
        );
        let err = read_jsonl::<Doc>(&p).unwrap_err().to_string();
        assert!(err.contains("bad.jsonl:2, column `character"), "{err}");
    }

    #[test]
    fn the_shipped_sotu_corpus_loads() {
        #[derive(serde::Deserialize)]
        struct Speech {
            year: u32,
        }
        let p = crate::dataset("text/sotu.jsonl.gz").unwrap();
        let speeches: Vec<Speech> = read_jsonl(&p).unwrap();
        assert_eq!(speeches.len(), 79);
        assert_eq!(speeches[0].year, 1945);
    }
}
