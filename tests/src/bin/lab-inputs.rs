//! `cargo run -q -p e2e --bin lab-inputs -- <package>`: prints the fingerprint of what the lab's
//! report is made from (see the library), as `scripts/book-assets.sh` saves it beside the report.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [package] = args.as_slice() else {
        eprintln!("usage: lab-inputs <package>   (for example week02-linreg)");
        return ExitCode::from(2);
    };
    // cargo sets CARGO_MANIFEST_DIR when it runs the binary: the checkout it runs in.
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(
        || std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")),
        std::path::PathBuf::from,
    );
    let root = manifest.join("..");
    match e2e::lab_inputs_hash(&root, package) {
        Ok(hash) => {
            print!("{}", e2e::inputs_record(package, &hash));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("lab-inputs: {e}");
            ExitCode::FAILURE
        }
    }
}
