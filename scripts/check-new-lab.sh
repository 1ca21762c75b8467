#!/usr/bin/env bash
# Proves that adding a lab is one folder plus one line of the book's SUMMARY.md (and its chapter;
# cargo records the new package in Cargo.lock by itself): in a throwaway clone of this repository,
# `scripts/new-lab.sh` scaffolds the next lab of the roadmap, which must then build, be listed by
# `workbook list`, pass its checks (`workbook grade`), and have an exercise form that fails them
# (`workbook verify-exercises`). Run by CI; nothing here is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
week=${1:-37}
pkg=$(awk -v w="$week" '/^\[\[lab\]\]/ { p = "" } /^package = / { gsub(/"/, "", $3); p = $3 }
  /^weeks = / { gsub(/[][,]/, " "); if (p != "" && w >= $3 && w <= $4) { print p; exit } }' crates/workbook/roadmap.toml)
[ -n "$pkg" ] || { echo "the roadmap plans no lab for week $week" >&2; exit 1; }
[ ! -e "labs/$pkg" ] || { echo "labs/$pkg exists already: pass the week of a lab still to come" >&2; exit 1; }
slug=${pkg#week*-}
copy=$(mktemp -d)
trap 'rm -rf "$copy"' EXIT
# A target directory of its own: cargo names a workspace crate's artifacts by its path relative
# to the workspace, so the clone's builds would land on the main tree's artifacts in a shared
# one — with the clone's paths compiled in (the grader's fixtures folder among them), stale
# once the clone is gone. Kept between runs, so only the new lab is compiled each time.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}-new-lab"
git clone -q . "$copy/repo"
cd "$copy/repo"
bash scripts/new-lab.sh "$week" "$slug" "A scaffolded lab"
echo "--- what the scaffold changed outside its folder:"
# Every untracked file by name (a lab that opens a new phase also makes its chapter's folder):
# the lab, its chapter and the chapter's expected output are expected.
git status --short --untracked-files=all | grep -v "^?? labs/$pkg/" || true
changed=$(git status --porcelain --untracked-files=all | grep -v "^?? labs/$pkg/" | grep -Ev "^\?\? book/src/phase[0-9]/$pkg(\.md|-output\.txt)$" | grep -v "^ M book/src/SUMMARY.md$" | grep -v "^ M Cargo.lock$" || true)
if [ -n "$changed" ]; then
  echo "adding a lab touched more than its folder, its chapter and SUMMARY.md:" >&2
  echo "$changed" >&2
  exit 1
fi
ww=$(printf '%02d' "$week")
cargo run -q -p workbook -- list | grep -q "$pkg" || { echo "workbook list does not show $pkg" >&2; exit 1; }
cargo run -q -p workbook -- grade "week$ww"
cargo run -q -p workbook -- verify-exercises "week$ww"
echo "new lab $pkg: scaffolded, listed, graded, exercise form verified"
