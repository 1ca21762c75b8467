//! What the service accepts: documents from plain text, Markdown and JSON lines, each checked
//! (UTF-8, not empty, at most 16 MiB: week 20's [`Document`]) and given a content hash, the key
//! that makes re-ingesting a document a no-op.

use crate::week20::document::Document;
use crate::{Result, invalid, lift};
use sha2::{Digest, Sha256};
use std::path::Path;

/// The longest source name (a path, a URL, an id), in bytes.
pub const MAX_SOURCE: usize = 512;

/// The formats the service reads.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Plain text, stored as it is.
    Text,
    /// Markdown, stored as its text (markup removed, paragraphs kept).
    Markdown,
    /// One JSON object per line, each a document: `{"text": …, "id": …, "title": …}`.
    Jsonl,
}

impl Format {
    /// The format a file's extension names: `.txt`, `.md`/`.markdown`, `.jsonl`/`.ndjson`.
    pub fn of_path(path: &Path) -> Result<Self> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("txt" | "text") => Ok(Self::Text),
            Some("md" | "markdown") => Ok(Self::Markdown),
            Some("jsonl" | "ndjson") => Ok(Self::Jsonl),
            _ => Err(invalid(
                &path.display().to_string(),
                "unknown format: expected a .txt, .md or .jsonl file",
            )),
        }
    }
}

/// A document ready for the store.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Doc {
    /// Its unique name in the store: ingesting the same source again replaces it.
    pub source: String,
    pub title: String,
    pub text: String,
    /// [`content_hash`] of the text.
    pub hash: String,
}

impl Doc {
    /// A checked document: `source` not blank, at most [`MAX_SOURCE`] bytes, no control
    /// characters; `text` accepted by week 20's [`Document`] (UTF-8, not blank, ≤ 16 MiB).
    pub fn new(source: &str, title: &str, text: String) -> Result<Self> {
        if source.trim().is_empty() {
            return Err(invalid("source", "empty: every document needs a name"));
        }
        if source.len() > MAX_SOURCE {
            return Err(invalid(
                "source",
                format!("{} bytes, more than the {MAX_SOURCE} allowed", source.len()),
            ));
        }
        if source.chars().any(char::is_control) {
            return Err(invalid(
                "source",
                format!("{source:?} holds a control character"),
            ));
        }
        let doc = Document::new(source, text).map_err(lift)?;
        let title = if title.trim().is_empty() {
            source
        } else {
            title.trim()
        };
        Ok(Self {
            source: source.to_string(),
            title: title.to_string(),
            hash: content_hash(&doc.text),
            text: doc.text,
        })
    }
}

// ANCHOR: content_hash
/// The SHA-256 (hex) of `text` with its white space normalised: every run of spaces, tabs and
/// line breaks counts as one space, and the ends are trimmed. The same words re-saved with other
/// line endings or indentation hash the same; any change of a word does not.
pub fn content_hash(text: &str) -> String {
    // BEGIN SOLUTION content_hash
    let mut h = Sha256::new();
    for (i, word) in text.split_whitespace().enumerate() {
        if i > 0 {
            h.update(b" ");
        }
        h.update(word.as_bytes());
    }
    format!("{:x}", h.finalize())
    // END SOLUTION
}
// ANCHOR_END: content_hash

// ANCHOR: markdown_to_text
/// The text of a Markdown document: headings, paragraphs, list items, quotes and code kept as
/// text, each block ending with a blank line; emphasis, links and HTML markup dropped (a link
/// keeps its words, an image its alt text).
pub fn markdown_to_text(markdown: &str) -> String {
    // BEGIN SOLUTION markdown_to_text
    use pulldown_cmark::{Event, Parser, TagEnd};
    let mut out = String::with_capacity(markdown.len());
    for event in Parser::new(markdown) {
        match event {
            Event::Text(t) | Event::Code(t) => out.push_str(&t),
            Event::SoftBreak => out.push(' '),
            Event::HardBreak => out.push('\n'),
            Event::End(
                TagEnd::Paragraph
                | TagEnd::Heading(_)
                | TagEnd::Item
                | TagEnd::CodeBlock
                | TagEnd::BlockQuote(_)
                | TagEnd::TableRow,
            ) => {
                let trimmed = out.trim_end_matches([' ', '\n']).len();
                out.truncate(trimmed);
                out.push_str("\n\n");
            }
            Event::End(TagEnd::TableCell) => out.push(' '),
            _ => {}
        }
    }
    out.trim_end().to_string()
    // END SOLUTION
}
// ANCHOR_END: markdown_to_text

/// The first heading of a Markdown document (its title), if it has one.
fn markdown_title(markdown: &str) -> Option<String> {
    use pulldown_cmark::{Event, Parser, Tag, TagEnd};
    let mut inside = false;
    let mut title = String::new();
    for event in Parser::new(markdown) {
        match event {
            Event::Start(Tag::Heading { .. }) => inside = true,
            Event::End(TagEnd::Heading(_)) => return Some(title.trim().to_string()),
            Event::Text(t) | Event::Code(t) if inside => title.push_str(&t),
            _ => {}
        }
    }
    None
}

/// The documents in `bytes`, read as `format`; `name` (a file name) is the source of a text or
/// Markdown document, and prefixes the line number of a JSON-lines document that has no `id`.
/// Every error names the file, and the line for JSON lines.
pub fn parse(name: &str, bytes: Vec<u8>, format: Format) -> Result<Vec<Doc>> {
    let doc = Document::from_bytes(name, bytes).map_err(lift)?;
    match format {
        Format::Text => {
            let title = doc
                .text
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            let title: String = title.trim().chars().take(80).collect();
            Ok(vec![Doc::new(name, &title, doc.text)?])
        }
        Format::Markdown => {
            let title = markdown_title(&doc.text).unwrap_or_default();
            let text = markdown_to_text(&doc.text);
            Ok(vec![
                Doc::new(name, &title, text).map_err(|e| in_file(name, e))?,
            ])
        }
        Format::Jsonl => {
            let mut docs = Vec::new();
            for (i, line) in doc.text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let at = format!("{name} line {}", i + 1);
                docs.push(jsonl_doc(name, i + 1, line).map_err(|e| in_file(&at, e))?);
            }
            if docs.is_empty() {
                return Err(invalid(name, "no document in it (every line is blank)"));
            }
            Ok(docs)
        }
    }
}

/// One line of a JSON-lines file as a document.
fn jsonl_doc(name: &str, line_no: usize, line: &str) -> Result<Doc> {
    let value: serde_json::Value =
        serde_json::from_str(line).map_err(|e| invalid("line", format!("not JSON: {e}")))?;
    let obj = value
        .as_object()
        .ok_or_else(|| invalid("line", "expected a JSON object"))?;
    let field = |key: &str| -> Result<Option<String>> {
        match obj.get(key) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
            Some(serde_json::Value::Number(n)) if key == "id" => Ok(Some(n.to_string())),
            Some(other) => Err(invalid(key, format!("expected a string, got {other}"))),
        }
    };
    let text =
        field("text")?.ok_or_else(|| invalid("text", "missing: each line needs its text"))?;
    let source = match field("id")? {
        Some(id) => format!("{name}#{id}"),
        None => format!("{name}#{line_no}"),
    };
    Doc::new(&source, &field("title")?.unwrap_or_default(), text)
}

/// `e` with the place it was found prefixed to its argument.
fn in_file(place: &str, e: crate::ServiceError) -> crate::ServiceError {
    match e {
        crate::ServiceError::InvalidArgument { arg, detail } => {
            invalid(&format!("{place}: {arg}"), detail)
        }
        other => other,
    }
}

/// The documents of a file (its format from its extension) or of every .txt, .md and .jsonl
/// file in a folder (sorted by name, hidden files skipped). A file's source is its path as given.
pub fn read_path(path: &Path) -> Result<Vec<Doc>> {
    if path.is_dir() {
        let mut files: Vec<_> = std::fs::read_dir(path)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.is_file()
                    && !p
                        .file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with('.'))
                    && Format::of_path(p).is_ok()
            })
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(invalid(
                &path.display().to_string(),
                "no .txt, .md or .jsonl file in this folder",
            ));
        }
        let mut docs = Vec::new();
        for f in files {
            docs.extend(read_path(&f)?);
        }
        return Ok(docs);
    }
    let format = Format::of_path(path)?;
    let meta = std::fs::metadata(path)
        .map_err(|e| invalid(&path.display().to_string(), format!("cannot read it: {e}")))?;
    let limit = crate::week20::document::MAX_BYTES as u64;
    if meta.len() > limit {
        return Err(invalid(
            &path.display().to_string(),
            format!(
                "{} bytes is more than the {limit} a file may hold",
                meta.len()
            ),
        ));
    }
    let bytes = std::fs::read(path)?;
    parse(&path.display().to_string(), bytes, format)
}
