//! `cargo test -p grader`: grades every lab. Each lab's checks sit beside it, in
//! `labs/<lab>/tests/grade.rs`; this runner finds the labs (every folder of `labs/` with a
//! `lab.toml`) and runs all their checks in one `cargo test -p <lab>… --test grade`, so that each
//! check is reported by libtest as usual and the exit status says whether every lab passed.
//! Arguments after `--` (a check's name to filter on, `--nocapture`, …) are passed on.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn main() -> ExitCode {
    // cargo sets CARGO_MANIFEST_DIR when it runs the test too: the checkout it runs in, even
    // when the binary was built by another checkout sharing the target folder.
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    let root = manifest.join("../..");
    let labs = match labs(&root.join("labs")) {
        Ok(labs) if !labs.is_empty() => labs,
        Ok(_) => {
            eprintln!("grader: no lab found under {}", root.join("labs").display());
            return ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("grader: cannot list {}: {e}", root.join("labs").display());
            return ExitCode::FAILURE;
        }
    };
    // Without the variables `cargo test` set for this process (see `wb_core::nested_cargo`).
    let mut cmd = wb_core::nested_cargo();
    cmd.current_dir(&root)
        .arg("test")
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"));
    for lab in &labs {
        cmd.arg("-p").arg(lab);
    }
    cmd.args(["--test", "grade", "--"]);
    cmd.args(std::env::args().skip(1));
    println!("grading {} labs: {}", labs.len(), labs.join(", "));
    match cmd.status() {
        Ok(status) if status.success() => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("grader: cannot run cargo: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The package names of the labs: the folders of `dir` with a `lab.toml`, sorted.
fn labs(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("lab.toml").is_file())
        .collect();
    found.sort();
    Ok(found
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect())
}
