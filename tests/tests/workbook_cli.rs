//! The learner CLI as a terminal user meets it: `workbook list` lines up its columns and stops
//! quietly when its reader goes away (`workbook list | head`).

mod common;
use common::*;
use std::process::{Command, Stdio};

fn workbook() -> Command {
    let mut cmd = cargo_command();
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
    // The pipe's reading end is closed before `workbook list` starts (what `| head -1` has done
    // by the time a long listing reaches it), so its very first line meets a broken pipe.
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let out = workbook()
        .arg("list")
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .expect("workbook list");
    let err = text(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert!(out.status.success(), "exit status {:?}: {err}", out.status);
}
