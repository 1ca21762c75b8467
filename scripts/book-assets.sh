#!/usr/bin/env bash
# Regenerates what the book shows from each lab: its plots (next to its chapter, in weekNN/) and
# its expected output (<package>-output.txt, checked by tests/tests/labs_run.rs).
# Every lab by default; name packages (week12-rnn …) to regenerate only those.
set -euo pipefail
cd "$(dirname "$0")/.."
for toml in labs/*/lab.toml; do
  pkg=$(sed -n 's/^package = "\(.*\)"/\1/p' "$toml")
  if [ $# -gt 0 ] && [[ " $* " != *" $pkg "* ]]; then continue; fi
  chapter=$(sed -n 's/^chapter = "\(.*\)"/\1/p' "$toml")
  week=${pkg%%-*}
  dir=$(dirname "$chapter")
  echo "$pkg → $dir/$week/, $dir/$pkg-output.txt"
  # Plots only: some labs also write runs, logs or a model beside their plots.
  tmp=$(mktemp -d)
  cargo run -q -p "$pkg" -- --plots "$tmp" > /dev/null
  mkdir -p "$dir/$week"
  cp "$tmp"/*.png "$tmp"/*.svg "$dir/$week/"
  rm -rf "$tmp"
  cargo run -q -p "$pkg" > "$dir/$pkg-output.txt"
done
