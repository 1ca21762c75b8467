#!/usr/bin/env bash
# Regenerates what the book shows from each lab: its plots (next to its chapter, in weekNN/) and
# its expected output (<package>-output.txt, checked by tests/tests/labs_run.rs).
# Every lab by default; name packages (week12-rnn …) to regenerate only those.
set -euo pipefail
cd "$(dirname "$0")/.."
for toml in labs/*/lab.toml; do
  pkg=$(basename "$(dirname "$toml")")
  if [ $# -gt 0 ] && [[ " $* " != *" $pkg "* ]]; then continue; fi
  # The chapter is book/src/phase<P>/<package>.md (lab.toml does not repeat it).
  chapter=$(ls book/src/phase*/"$pkg".md 2>/dev/null | head -1)
  [ -n "$chapter" ] || { echo "$pkg has no chapter book/src/phase*/$pkg.md" >&2; exit 1; }
  week=${pkg%%-*}
  dir=$(dirname "$chapter")
  echo "$pkg → $dir/$week/, $dir/$pkg-output.txt"
  # One run gives both the report and the plots, so that the plots show the numbers the report
  # prints (two runs of week 8's load test differ). Plots only are copied: some labs also write
  # runs, logs or a model beside them.
  out="output/$pkg"
  rm -f "$out"/*.png "$out"/*.svg
  # The fingerprint of the inputs this run reads (tests/src/lib.rs): the end-to-end test runs the
  # lab again only when they move.
  inputs=$(cargo run -q -p e2e --bin lab-inputs -- "$pkg")
  cargo run -q -p "$pkg" > "$dir/$pkg-output.txt"
  printf '%s\n' "$inputs" > "$dir/$pkg-output.sources"
  mkdir -p "$dir/$week"
  cp "$out"/*.png "$out"/*.svg "$dir/$week/"
done
