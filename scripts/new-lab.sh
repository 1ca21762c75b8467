#!/usr/bin/env bash
# Scaffolds a lab that follows the lab contract: one folder (the crate on the lab harness, its
# lab.toml, its checks in tests/grade.rs) and its chapter, registered by one line of the book's
# SUMMARY.md. Nothing else lists the labs: the workspace, the grader and `workbook` find them.
# Usage: bash scripts/new-lab.sh WEEK SLUG "TITLE"     e.g. bash scripts/new-lab.sh 3 preprocessing "Preprocessing"
# Afterwards: cargo run -p workbook -- verify-exercises weekNN proves the scaffold's exercise fails.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 3 ] || { echo "usage: $0 WEEK SLUG TITLE" >&2; exit 2; }
week=$((10#$1)); slug=$2; title=$3
ww=$(printf '%02d' "$week")
pkg="week${ww}-${slug}"
crate="week${ww}_${slug//-/_}"
dir="labs/$pkg"
# The phase whose weeks hold this week, from the roadmap.
phase=$(awk -v w="$week" '/^\[\[phase\]\]/ { p = "" } /^number = / { p = $3 }
  /^weeks = / { gsub(/[][,]/, " "); if (p != "" && w >= $3 && w <= $4) { print p; exit } }' crates/workbook/roadmap.toml)
[ -n "$phase" ] || { echo "week $week is in no phase of crates/workbook/roadmap.toml" >&2; exit 1; }
grep -q "package = \"$pkg\"" crates/workbook/roadmap.toml || {
  echo "$pkg is not in crates/workbook/roadmap.toml: use the package name the roadmap gives week $week" >&2; exit 1; }
[ -e "$dir" ] && { echo "$dir exists already" >&2; exit 1; }
chapter="book/src/phase${phase}/${pkg}.md"

mkdir -p "$dir/src" "$dir/tests" "book/src/phase${phase}"
cat > "$dir/Cargo.toml" <<TOML
[package]
name = "$pkg"
version = "0.1.0"
description = "Week $week: $title"
edition.workspace = true
license.workspace = true
publish.workspace = true

[dependencies]
wb-core.workspace = true
wb-lab.workspace = true
wb-data.workspace = true
wb-plot.workspace = true
ndarray.workspace = true
clap.workspace = true
serde.workspace = true
anyhow.workspace = true

[dev-dependencies]
grader.workspace = true

# The grader's checks of this lab: \`workbook grade week$ww\` and \`cargo test -p grader\` run them.
[[test]]
name = "grade"
test = false

[lints]
workspace = true
TOML
cat > "$dir/src/lib.rs" <<RUST
//! # Week $week — $title

use ndarray::ArrayView1;
use wb_core::{Result, check_data};

// ANCHOR: mean
/// The mean of \`x\`.
///
/// x: [n]
pub fn mean(x: ArrayView1<f64>) -> Result<f64> {
    check_data("x", &x)?;
    // BEGIN SOLUTION mean
    Ok(x.sum() / x.len() as f64)
    // END SOLUTION
}
// ANCHOR_END: mean
RUST
cat > "$dir/src/main.rs" <<RUST
//! Runs the week $week lab end to end: \`cargo run -p $pkg -- --help\`.

mod report;

use anyhow::Result;
use clap::Parser;
use report::Report;
use wb_lab::{Lab, LabArgs};

/// Week $week: $title.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    lab: LabArgs,
}

// fn main: parses Args and runs \`run\` on the harness, under the package's name.
wb_lab::main!("Week $week — $title", run);

fn run(_args: &Args, lab: &mut Lab) -> Result<Report> {
    let mean = lab.timed("mean", || $crate::mean(ndarray::array![1.0, 2.0, 3.0].view()))?;
    Ok(Report {
        mean,
        mean_ms: lab.ms("mean"),
    })
}
RUST
cat > "$dir/src/report.rs" <<RUST
//! The report of the lab: its typed results (the JSON of \`--json\`) and how they read (\`Display\`).

use serde::Serialize;
use std::fmt;

/// The lab's results: the JSON of \`--json\` (its fields) and the printed report (\`Display\`).
#[derive(Serialize)]
pub struct Report {
    pub mean: f64,
    #[serde(skip)]
    pub mean_ms: f64,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "mean: {} ({:.2} ms)", self.mean, self.mean_ms)
    }
}
RUST
cat > "$dir/lab.toml" <<TOML
# Metadata and hints of the week $week lab, read by the \`workbook\` CLI. The week, the package, the
# phase and the chapter follow from the folder's name.

[lab]
title = "$title"
data = []
objectives = ["Compute a mean"]

[[exercise]]
id = "mean"
file = "src/lib.rs"
title = "The mean"
hints = ["Add the values and divide by how many there are.", "\`x.sum()\` and \`x.len()\`.", "\`Ok(x.sum() / x.len() as f64)\`"]
TOML
cat > "$dir/tests/grade.rs" <<RUST
//! Grader checks for week $week: $title.

use grader::{Called, Tol, check, close};
use ndarray::array;

check! {
    /// The mean of three numbers, worked by hand.
    fn mean_is_hand_worked(exercise = "mean") {
        let got = $crate::mean(array![1.0, 2.0, 6.0].view()).called("mean")?;
        close("mean([1, 2, 6]) = 3", 3.0, got, Tol::rel(1e-15))
    }
}
RUST
cat > "$chapter" <<MD
# Week $week: $title

## Run it

\`\`\`sh
cargo run -p $pkg
cargo run -p workbook -- start week$ww
cargo run -p workbook -- grade week$ww
\`\`\`

\`\`\`rust,ignore
{{#include ../../../$dir/src/lib.rs:mean}}
\`\`\`

## Expected output

\`\`\`text
{{#include $pkg-output.txt}}
\`\`\`
MD

# The registration line: the chapter replaces the "(coming)" entry of this week in the book.
# The roadmap's "(coming)" line for this week — `Week N:` or, for a lab spanning weeks,
# `Weeks N–M:` — becomes the chapter's link; a SUMMARY without that line is an error, not a lab
# silently left out of the book.
link=${chapter#book/src/}
sed -i -E "s#^- \[(Weeks? $week(–[0-9]+)?): .* \(coming\)\]\(\)#- [\1: $title]($link)#" book/src/SUMMARY.md
grep -qF "]($link)" book/src/SUMMARY.md || {
  echo "book/src/SUMMARY.md has no '(coming)' line for week $week: add \"- [Week $week: $title]($link)\" by hand" >&2
  exit 1
}
cargo run -q -p "$pkg" > "book/src/phase${phase}/${pkg}-output.txt"
cargo fmt --all
echo "Scaffolded $pkg: $dir (its checks in $dir/tests/grade.rs) and $chapter, listed in book/src/SUMMARY.md."
echo "Next: cargo run -p workbook -- verify-exercises week$ww"
