//! The book: every include and every local link resolves (mdBook itself only warns about a
//! missing include), every anchor exists, every lab has a chapter in SUMMARY.md.

mod common;
use common::*;
use std::path::{Path, PathBuf};

fn markdown_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let p = entry.expect("entry").path();
        if p.is_dir() {
            markdown_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "md") {
            out.push(p);
        }
    }
}

/// `{{#include path}}` / `{{#include path:anchor}}` directives: (path, anchor).
fn includes(text: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    for part in text.split("{{#include ").skip(1) {
        let Some(end) = part.find("}}") else { continue };
        let spec = part[..end].trim();
        match spec.split_once(':') {
            Some((path, anchor)) if anchor.parse::<usize>().is_err() && !anchor.contains(':') => {
                out.push((path.to_string(), Some(anchor.to_string())))
            }
            Some((path, _)) => out.push((path.to_string(), None)), // line ranges
            None => out.push((spec.to_string(), None)),
        }
    }
    out
}

/// Targets of markdown links and images `](target)` that are local files.
fn local_links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_code = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        for part in line.split("](").skip(1) {
            let Some(end) = part.find(')') else { continue };
            let target = part[..end].split('#').next().unwrap_or("").trim();
            if target.is_empty() || target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            out.push(target.to_string());
        }
    }
    out
}

#[test]
fn includes_anchors_and_links_resolve() {
    let src = root().join("book/src");
    let mut files = Vec::new();
    markdown_files(&src, &mut files);
    assert!(
        files.len() >= 3,
        "book/src has {} markdown files",
        files.len()
    );
    let mut problems = Vec::new();
    let mut n_includes = 0;
    for md in &files {
        let text = std::fs::read_to_string(md).expect("read");
        let dir = md.parent().expect("dir");
        for (path, anchor) in includes(&text) {
            n_includes += 1;
            let target = dir.join(&path);
            let Ok(body) = std::fs::read_to_string(&target) else {
                problems.push(format!("{}: include {path} does not exist", md.display()));
                continue;
            };
            if let Some(a) = anchor {
                let (start, end) = (format!("ANCHOR: {a}"), format!("ANCHOR_END: {a}"));
                let has = |m: &str| body.lines().any(|l| l.trim_end().ends_with(m));
                if !has(&start) || !has(&end) {
                    problems.push(format!(
                        "{}: {path} has no anchor `{a}` (ANCHOR/ANCHOR_END)",
                        md.display()
                    ));
                }
            }
        }
        for link in local_links(&text) {
            if !dir.join(&link).exists() {
                problems.push(format!("{}: link {link} does not exist", md.display()));
            }
        }
    }
    assert!(n_includes > 0, "no include found: the parser is broken");
    assert!(
        problems.is_empty(),
        "broken book references:\n{}",
        problems.join("\n")
    );
}

#[test]
fn every_lab_has_a_chapter_in_the_summary() {
    let summary = std::fs::read_to_string(root().join("book/src/SUMMARY.md")).expect("SUMMARY.md");
    for lab in labs() {
        let pkg = package(&lab);
        assert!(
            summary.contains(&format!("{pkg}.md)")),
            "{pkg} has no chapter in SUMMARY.md"
        );
    }
    for phase in 0..=5 {
        assert!(
            summary.contains(&format!("# Phase {phase} ")),
            "SUMMARY.md lacks phase {phase}"
        );
    }
    for week in 1..=52 {
        let listed = summary.contains(&format!("Week {week}:"))
            || summary.lines().any(|l| {
                l.split("Weeks ")
                    .nth(1)
                    .and_then(|r| r.split(':').next())
                    .is_some_and(|range| {
                        let (a, b) = range.split_once('–').unwrap_or((range, range));
                        let (a, b) = (
                            a.trim().parse::<u32>().unwrap_or(0),
                            b.trim().parse::<u32>().unwrap_or(0),
                        );
                        (a..=b).contains(&week)
                    })
            });
        assert!(listed, "week {week} is not in SUMMARY.md");
    }
}

#[test]
fn the_parsers_see_what_they_should() {
    let text = "{{#include ../a.rs:dot}} {{#include b.txt}} {{#include c.rs:3:5}}\n[x](y.md) ![p](img/p.svg) [w](https://e.org)\n```\n[no](code.md)\n```\n";
    assert_eq!(
        includes(text),
        vec![
            ("../a.rs".into(), Some("dot".into())),
            ("b.txt".into(), None),
            ("c.rs".into(), None)
        ]
    );
    assert_eq!(
        local_links(text),
        vec!["y.md".to_string(), "img/p.svg".to_string()]
    );
}
