#!/usr/bin/env bash
# Measures what the README promises, on a fresh clone with an empty target directory:
#   1. the first `cargo run -p week02-linreg` (crates already downloaded: `cargo fetch` first),
#   2. the first `cargo test -p grader` after it,
#   3. `cargo run -p week02-linreg` again right after the grader (feature unification rebuilds),
#   4. the first run of the other labs (week01 compiles polars), the grader over every lab, and
#      each lab again right after it,
#   5. edit a lab's sources, then `workbook grade weekNN` (the learner's inner loop).
# Usage: bash bench/measure-times.sh   (about 5–8 minutes on 2 cores; prints a Markdown table)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git clone -q "$repo" "$work/clone"
cd "$work/clone"
export CARGO_TARGET_DIR="$work/target"
cargo fetch -q

t() { # t LABEL CMD...: runs CMD, prints "| LABEL | seconds |"
  local label=$1; shift
  local start end
  start=$(date +%s.%N)
  "$@" >"$work/last.log" 2>&1 || { echo "FAILED: $*"; tail -30 "$work/last.log"; exit 1; }
  end=$(date +%s.%N)
  printf '| %s | %.1f s |\n' "$label" "$(echo "$end - $start" | bc)"
}

echo "| step (2 cores, $(nproc) CPUs seen, $(rustc --version | cut -d' ' -f2)) | time |"
echo "|---|---|"
t "first \`cargo run -p week02-linreg\` on a fresh clone" cargo run -q -p week02-linreg
t "then the first \`cargo run -p week03-preprocessing\`" cargo run -q -p week03-preprocessing
t "then the first \`cargo run -p week04-supervised\` (compiles linfa)" cargo run -q -p week04-supervised
t "then the first \`cargo run -p week05-trees\`" cargo run -q -p week05-trees
t "then the first \`cargo run -p week06-evaluation\`" cargo run -q -p week06-evaluation
t "then the first \`cargo run -p week07-features-pipelines\`" cargo run -q -p week07-features-pipelines
t "then the first \`cargo run -p week08-ml-service\` (compiles axum; the demo sends 4,000 requests)" cargo run -q -p week08-ml-service
t "then the first \`cargo run -p week09-neural-nets\`" cargo run -q -p week09-neural-nets
t "then the first \`cargo run -p week10-backprop\` (trains the digits MLP)" cargo run -q -p week10-backprop
t "then the first \`cargo run -p week01-data-basics\` (compiles polars)" cargo run -q -p week01-data-basics
t "then the first \`cargo test -p grader\` (every lab)" cargo test -q -p grader
t "\`cargo run -p week02-linreg\` right after the grader" cargo run -q -p week02-linreg
t "\`cargo run -p week01-data-basics\` right after the grader" cargo run -q -p week01-data-basics
t "\`cargo run -p workbook -- list\` (builds the CLI)" cargo run -q -p workbook -- list
# The inner loop: change a lab's library (as a learner does), then grade it.
echo "// edited" >> labs/week02-linreg/src/linreg.rs
t "edit \`labs/week02-linreg/src/linreg.rs\`, then \`workbook grade week02\`" cargo run -q -p workbook -- grade week02
echo "// edited again" >> labs/week02-linreg/src/linreg.rs
t "the same, a second time" cargo run -q -p workbook -- grade week02
echo "// edited" >> labs/week01-data-basics/src/frames.rs
t "edit \`labs/week01-data-basics/src/frames.rs\`, then \`workbook grade week01\`" cargo run -q -p workbook -- grade week01
t "\`cargo test -p grader\` again after those edits" cargo test -q -p grader
