//! The learner CLI as a terminal user meets it: `workbook list` lines up its columns and stops
//! quietly when its reader goes away (`workbook list | head`).

mod common;
use common::*;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn workbook() -> Command {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    for (key, _) in std::env::vars() {
        if key.starts_with("CARGO_PKG_")
            || matches!(
                key.as_str(),
                "CARGO_MANIFEST_DIR" | "CARGO_MANIFEST_PATH" | "CARGO_CRATE_NAME"
            )
        {
            cmd.env_remove(&key);
        }
    }
    cmd.current_dir(root())
        .args(["run", "-q", "-p", "workbook", "--"]);
    cmd
}

#[test]
fn list_lines_up_every_row() {
    let out = workbook().arg("list").output().expect("workbook list");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let rows: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("  week "))
        .collect();
    assert_eq!(rows.len(), 52, "one row per week");
    // The status column starts where each row's package column ends: the same character for all.
    let status_at = |row: &str| {
        let chars: Vec<char> = row.chars().collect();
        (0..chars.len())
            .find(|&i| {
                ["reference", "exercise", "not built yet"]
                    .iter()
                    .any(|s| chars[i..].iter().collect::<String>().starts_with(s))
            })
            .unwrap_or_else(|| panic!("no status in {row:?}"))
    };
    let first = status_at(rows[0]);
    for row in &rows {
        assert_eq!(status_at(row), first, "misaligned: {row:?}");
    }
}

#[test]
fn list_into_a_closed_pipe_stops_quietly() {
    let mut child = workbook()
        .arg("list")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("workbook list");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = lines.next().expect("a line").expect("text");
    assert!(first.is_empty() || first.contains("Phase"), "{first:?}");
    drop(lines); // what `head -1` does once it has its line
    let out = child.wait_with_output().expect("wait");
    let err = text(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert!(out.status.success(), "exit status {:?}: {err}", out.status);
}
