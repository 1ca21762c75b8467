//! `workbook doctor`: the toolchain, the data sets' checksums, the models of the LLM weeks.

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
    println!(
        "Models of the LLM weeks ({}; `cargo run -p workbook -- models` fetches them):",
        wb_data::models::models_dir().display()
    );
    for spec in wb_data::models::MODELS {
        let dir = wb_data::models::models_dir().join(spec.id);
        match wb_data::models::model_status(&spec, &dir, true) {
            wb_data::models::ModelStatus::Ready => {
                println!("  ✓ {} — {}", spec.id, spec.description)
            }
            // Not a problem before week 17: the first lab that needs a model fetches it.
            wb_data::models::ModelStatus::Missing => println!(
                "  · {} not fetched yet (needed from week 17; fetched on first use)",
                spec.id
            ),
            wb_data::models::ModelStatus::Corrupt { file, detail } => {
                problems += 1;
                println!("  ✗ {}: {} {detail}", spec.id, file.display());
            }
        }
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
