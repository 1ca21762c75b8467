//! The book's mdBook preprocessor and the checks of the built book.
//!
//! **Maths.** KaTeX renders `$…$` and `$$…$$` in the browser, after Markdown has turned the
//! chapter into HTML. Markdown reads the TeX first and damages it: `\,` loses its backslash (an
//! escaped comma), `_…_` and `*` become emphasis, `'` becomes a curly quote. [`protect_maths`]
//! escapes every ASCII punctuation character of a maths span with a backslash, which Markdown
//! turns back into the character itself: the TeX reaches KaTeX exactly as written. Code (fenced
//! blocks and inline code) is left alone.
//!
//! **Solution markers.** The labs' sources mark each exercise's solution with
//! `// BEGIN SOLUTION <id>` and `// END SOLUTION` for `workbook start`; the book includes those
//! sources, and [`hide_solution_markers`] drops the marker lines from its code blocks.
//!
//! **Checks.** [`maths_spans`] lists the maths of a chapter's Markdown and of the HTML built from
//! it, so that a test can compare them span by span.

/// Escapes the ASCII punctuation inside every maths span of `markdown` (outside code), so that
/// Markdown renders each span's TeX unchanged.
pub fn protect_maths(markdown: &str) -> String {
    let mut out = String::with_capacity(markdown.len() + markdown.len() / 8);
    for segment in segments(markdown) {
        match segment {
            Segment::Code(text) | Segment::Text(text) => out.push_str(text),
            Segment::Maths { delimiter, tex } => {
                out.push_str(delimiter);
                for c in tex.chars() {
                    if c.is_ascii_punctuation() {
                        out.push('\\');
                    }
                    out.push(c);
                }
                out.push_str(delimiter);
            }
        }
    }
    out
}

/// The TeX of every maths span of `markdown`, in order, outside code, with its delimiter
/// (`$` or `$$`).
pub fn maths_spans(markdown: &str) -> Vec<(String, String)> {
    segments(markdown)
        .into_iter()
        .filter_map(|s| match s {
            Segment::Maths { delimiter, tex } => Some((delimiter.to_string(), tex.to_string())),
            _ => None,
        })
        .collect()
}

/// Drops the lines `// BEGIN SOLUTION …` and `// END SOLUTION` from the fenced code blocks of
/// `markdown` (they are for `workbook start`, not for the reader).
pub fn hide_solution_markers(markdown: &str) -> String {
    let mut out = String::with_capacity(markdown.len());
    let mut fence: Option<String> = None;
    for line in markdown.split_inclusive('\n') {
        let trimmed = line.trim_start();
        match &fence {
            Some(f) if trimmed.starts_with(f.as_str()) => fence = None,
            Some(_) => {
                if trimmed.starts_with("// BEGIN SOLUTION")
                    || trimmed.starts_with("// END SOLUTION")
                {
                    continue;
                }
            }
            None => fence = fence_opener(trimmed),
        }
        out.push_str(line);
    }
    out
}

/// The fence a line opens (```` ``` ```` or `~~~`, three or more), if it opens one.
fn fence_opener(trimmed: &str) -> Option<String> {
    for ch in ['`', '~'] {
        let n = trimmed.chars().take_while(|&c| c == ch).count();
        if n >= 3 {
            return Some(ch.to_string().repeat(n));
        }
    }
    None
}

#[derive(Debug, PartialEq)]
enum Segment<'a> {
    Text(&'a str),
    Code(&'a str),
    Maths { delimiter: &'a str, tex: &'a str },
}

/// Splits Markdown into text, code (fenced blocks and inline code spans, copied verbatim) and
/// maths spans, as KaTeX's auto-render finds them: `$$…$$` first, then `$…$`; `\$` is a
/// literal dollar.
fn segments(markdown: &str) -> Vec<Segment<'_>> {
    let mut out = Vec::new();
    let bytes = markdown.as_bytes();
    let (mut i, mut text_start) = (0, 0);
    let mut at_line_start = true;
    while i < bytes.len() {
        // A fenced code block: from its opening line to its closing fence (or the end).
        if at_line_start {
            let line_end = markdown[i..].find('\n').map_or(bytes.len(), |e| i + e + 1);
            let line = &markdown[i..line_end];
            if let Some(fence) = fence_opener(line.trim_start()) {
                let mut j = line_end;
                let end = loop {
                    if j >= bytes.len() {
                        break bytes.len();
                    }
                    let e = markdown[j..].find('\n').map_or(bytes.len(), |e| j + e + 1);
                    if markdown[j..e].trim_start().starts_with(&fence) {
                        break e;
                    }
                    j = e;
                };
                push_text(&mut out, markdown, text_start, i);
                out.push(Segment::Code(&markdown[i..end]));
                i = end;
                text_start = i;
                continue;
            }
        }
        let b = bytes[i];
        at_line_start = false;
        match b {
            b'\n' => {
                at_line_start = true;
                i += 1;
            }
            b'\\' => i += 2, // an escaped character, `\$` among them
            b'`' => {
                let n = bytes[i..].iter().take_while(|&&c| c == b'`').count();
                let ticks = &markdown[i..i + n];
                // The code span closes at the next run of exactly as many backticks.
                let mut j = i + n;
                let mut close = None;
                while let Some(k) = markdown[j..].find(ticks) {
                    let at = j + k;
                    let run = bytes[at..].iter().take_while(|&&c| c == b'`').count();
                    if run == n {
                        close = Some(at + n);
                        break;
                    }
                    j = at + run;
                }
                match close {
                    Some(end) => {
                        push_text(&mut out, markdown, text_start, i);
                        out.push(Segment::Code(&markdown[i..end]));
                        i = end;
                        text_start = i;
                    }
                    None => i += n,
                }
            }
            b'$' => {
                let delimiter = if bytes.get(i + 1) == Some(&b'$') {
                    "$$"
                } else {
                    "$"
                };
                let start = i + delimiter.len();
                match find_closing(markdown, start, delimiter) {
                    Some(end) if end > start => {
                        push_text(&mut out, markdown, text_start, i);
                        out.push(Segment::Maths {
                            delimiter,
                            tex: &markdown[start..end],
                        });
                        i = end + delimiter.len();
                        text_start = i;
                    }
                    _ => i += delimiter.len(),
                }
            }
            _ => i += 1,
        }
    }
    push_text(&mut out, markdown, text_start, bytes.len().min(i));
    out
}

fn push_text<'a>(out: &mut Vec<Segment<'a>>, s: &'a str, from: usize, to: usize) {
    if to > from {
        out.push(Segment::Text(&s[from..to]));
    }
}

/// Where the maths opened just before `from` closes: the next unescaped `delimiter` (an inline
/// span does not cross a blank line).
fn find_closing(s: &str, from: usize, delimiter: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut i = from;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'\n' if delimiter == "$" && s[i + 1..].starts_with('\n') => return None,
            b'$' if s[i..].starts_with(delimiter) => {
                // `$$` does not close an inline `$…$` span that it would also open.
                if delimiter == "$" && bytes.get(i + 1) == Some(&b'$') {
                    return None;
                }
                return Some(i);
            }
            _ => i += 1,
        }
    }
    None
}

/// The text that KaTeX's auto-render reads in a built page: `<main>`'s text without code blocks
/// and inline code, entities decoded, each tag replaced by a space (auto-render reads one run of
/// text at a time: a span never continues into the next table cell or paragraph).
pub fn page_text(html: &str) -> String {
    let main = match (html.find("<main>"), html.rfind("</main>")) {
        (Some(a), Some(b)) if b > a => &html[a + 6..b],
        _ => html,
    };
    let mut text = String::with_capacity(main.len());
    let mut rest = main;
    while let Some(lt) = rest.find('<') {
        text.push_str(&rest[..lt]);
        let tag_end = rest[lt..].find('>').map_or(rest.len(), |e| lt + e + 1);
        let tag = &rest[lt..tag_end];
        // Code is not maths: skip <pre>…</pre> and <code>…</code> whole.
        let skip_to = ["pre", "code"].iter().find_map(|name| {
            let opens =
                tag.starts_with(&format!("<{name}>")) || tag.starts_with(&format!("<{name} "));
            opens.then(|| {
                let close = format!("</{name}>");
                rest[tag_end..]
                    .find(&close)
                    .map_or(rest.len(), |c| tag_end + c + close.len())
            })
        });
        rest = &rest[skip_to.unwrap_or(tag_end)..];
        text.push(' ');
    }
    text.push_str(rest);
    decode_entities(&text)
}

fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let tail = &rest[amp..];
        let end = tail.find(';').filter(|&e| e <= 10);
        let decoded = end.and_then(|e| {
            let name = &tail[1..e];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => name
                    .strip_prefix("#x")
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .or_else(|| name.strip_prefix('#').and_then(|d| d.parse().ok()))
                    .and_then(char::from_u32),
            };
            c.map(|c| (c, e + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &tail[len..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Compares every maths span of each chapter (`src/**/*.md`) with the TeX that reached the built
/// page (`build/**/*.html`): the same spans, in the same order, character for character. Returns
/// one line per difference.
pub fn check_book(src: &std::path::Path, build: &std::path::Path) -> anyhow::Result<Vec<String>> {
    let mut problems = Vec::new();
    let mut chapters = Vec::new();
    collect_md(src, &mut chapters)?;
    chapters.sort();
    for md in chapters {
        let rel = md.strip_prefix(src)?.with_extension("html");
        let html = build.join(&rel);
        let source = std::fs::read_to_string(&md)?;
        let want = maths_spans(&source);
        if want.is_empty() {
            continue;
        }
        let page = std::fs::read_to_string(&html)
            .map_err(|e| anyhow::anyhow!("{}: {e} (build the book first)", html.display()))?;
        let got = maths_spans(&page_text(&page));
        for (i, w) in want.iter().enumerate() {
            match got.get(i) {
                Some(g) if g == w => {}
                Some(g) => problems.push(format!(
                    "{}: maths span {} is {}{}{} in the source but {}{}{} in the page",
                    rel.display(),
                    i + 1,
                    w.0,
                    w.1,
                    w.0,
                    g.0,
                    g.1,
                    g.0
                )),
                None => problems.push(format!(
                    "{}: maths span {} ({}{}{}) is missing from the page",
                    rel.display(),
                    i + 1,
                    w.0,
                    w.1,
                    w.0
                )),
            }
        }
        if got.len() > want.len() {
            problems.push(format!(
                "{}: the page has {} maths spans, the source {} (a stray $?)",
                rel.display(),
                got.len(),
                want.len()
            ));
        }
    }
    Ok(problems)
}

fn collect_md(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let p = entry?.path();
        if p.is_dir() {
            collect_md(&p, out)?;
        } else if p.extension().is_some_and(|e| e == "md") {
            out.push(p);
        }
    }
    Ok(())
}

/// mdBook's preprocessor protocol: `[context, book]` in, the book out, every chapter's content
/// (at any depth) passed through [`hide_solution_markers`] and [`protect_maths`].
pub fn preprocess(input: &str) -> anyhow::Result<String> {
    let mut pair: serde_json::Value = serde_json::from_str(input)?;
    let book = pair
        .get_mut(1)
        .ok_or_else(|| anyhow::anyhow!("expected [context, book] from mdBook"))?;
    rewrite_chapters(book);
    Ok(serde_json::to_string(book)?)
}

fn rewrite_chapters(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            let is_chapter = map.contains_key("sub_items") || map.contains_key("sub-items");
            if let (true, Some(serde_json::Value::String(content))) =
                (is_chapter, map.get_mut("content"))
            {
                *content = protect_maths(&hide_solution_markers(content));
            }
            for v in map.values_mut() {
                rewrite_chapters(v);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(rewrite_chapters),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maths_punctuation_is_escaped_and_code_is_not() {
        assert_eq!(
            protect_maths(r"see $a\,b_i^{*}$ and `$x_1$` here"),
            r"see $a\\\,b\_i\^\{\*\}$ and `$x_1$` here"
        );
        assert_eq!(
            protect_maths("no maths: \\$5 and $"),
            "no maths: \\$5 and $"
        );
        let display = "text\n$$\n\\hat f(x)_{\\text{bias}}^2 = \\sigma'\n$$\nmore";
        assert_eq!(
            maths_spans(display),
            [(
                "$$".to_string(),
                "\n\\hat f(x)_{\\text{bias}}^2 = \\sigma'\n".to_string()
            )]
        );
        assert!(
            protect_maths(display).contains(r"\\hat f\(x\)\_\{\\text\{bias\}\}\^2 \= \\sigma\'")
        );
    }

    #[test]
    fn fenced_code_and_inline_code_are_left_alone() {
        let md = "```rust\nlet cost = \"$5 and $6\";\n```\nA `$` sign, then $x$.\n";
        assert_eq!(maths_spans(md), [("$".to_string(), "x".to_string())]);
        assert_eq!(
            protect_maths(md),
            "```rust\nlet cost = \"$5 and $6\";\n```\nA `$` sign, then $x$.\n"
        );
        let ticks = "``a ` b`` then $y_1$";
        assert_eq!(protect_maths(ticks), r"``a ` b`` then $y\_1$");
    }

    #[test]
    fn inline_maths_does_not_cross_a_blank_line() {
        assert!(maths_spans("costs $5\n\nand $6").is_empty());
        assert_eq!(maths_spans("$a$ and $b$").len(), 2);
    }

    #[test]
    fn page_text_is_what_katex_reads() {
        let html = "<nav>$nav$</nav><main><p>a $x_1 &lt; y$ <em>b</em></p><pre><code>$no$</code></pre><p><code>$no$</code> $$z$$</p></main>";
        assert_eq!(page_text(html), " a $x_1 < y$  b      $$z$$ ");
        assert_eq!(
            maths_spans(&page_text(html)),
            [
                ("$".to_string(), "x_1 < y".to_string()),
                ("$$".to_string(), "z".to_string())
            ]
        );
        assert_eq!(
            decode_entities("&#x27;&#39;&amp;&unknown; &"),
            "''&&unknown; &"
        );
    }

    #[test]
    fn check_book_finds_damaged_and_stray_maths() {
        let dir = std::env::temp_dir().join(format!("book-maths-{}", std::process::id()));
        let (src, build) = (dir.join("src"), dir.join("build"));
        std::fs::create_dir_all(src.join("p")).unwrap();
        std::fs::create_dir_all(build.join("p")).unwrap();
        std::fs::write(src.join("p/a.md"), "$a\\,b$ and $c$").unwrap();
        std::fs::write(build.join("p/a.html"), "<main>$a\\,b$ and $c$</main>").unwrap();
        assert!(check_book(&src, &build).unwrap().is_empty());
        std::fs::write(
            build.join("p/a.html"),
            "<main>$a\\,b$ and $c$ and $d$</main>",
        )
        .unwrap();
        let problems = check_book(&src, &build).unwrap();
        assert!(problems[0].contains("stray"), "{problems:?}");
        // What Markdown does to unprotected TeX: the backslash of `\,` eaten.
        std::fs::write(build.join("p/a.html"), "<main>$a,b$ and $c$</main>").unwrap();
        let problems = check_book(&src, &build).unwrap();
        assert!(problems[0].contains("maths span 1"), "{problems:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn solution_markers_leave_the_code_blocks() {
        let md = "```rust\nfn f() {\n    // BEGIN SOLUTION dot\n    1\n    // END SOLUTION\n}\n```\n// BEGIN SOLUTION in text stays\n";
        assert_eq!(
            hide_solution_markers(md),
            "```rust\nfn f() {\n    1\n}\n```\n// BEGIN SOLUTION in text stays\n"
        );
    }

    #[test]
    fn the_preprocessor_rewrites_chapters_at_every_depth() {
        let input = r#"[{"root": "."}, {"items": [{"Chapter": {"name": "a", "content": "$x_1$", "sub_items": [{"Chapter": {"name": "b", "content": "$y*z$", "sub_items": []}}]}}, "Separator"]}]"#;
        let out: serde_json::Value = serde_json::from_str(&preprocess(input).unwrap()).unwrap();
        let a = &out["items"][0]["Chapter"];
        assert_eq!(a["content"], r"$x\_1$");
        assert_eq!(a["sub_items"][0]["Chapter"]["content"], r"$y\*z$");
        assert_eq!(out["items"][1], "Separator");
        assert!(preprocess("{}").is_err());
    }
}
