#!/usr/bin/env bash
# Refreshes the vendored advisory snapshot (advisory-db/): the RustSec advisories of every crate
# that Cargo.lock names, copied from a checkout of the RustSec advisory database (CC0-1.0) given
# as a git directory or work tree. Usage: bash vendor-advisories.sh PATH-TO-advisory-db
set -euo pipefail
cd "$(dirname "$0")"
db=${1:?usage: $0 PATH-TO-advisory-db (a clone of the RustSec advisory database)}
if [ -d "$db/.git" ]; then git_dir="$db/.git"; else git_dir="$db"; fi
commit=$(git --git-dir="$git_dir" rev-parse HEAD)
date=$(git --git-dir="$git_dir" log -1 --format=%cs HEAD)
rm -rf advisory-db && mkdir -p advisory-db/crates
crates=$(awk '/^name = / { gsub(/"/, "", $3); print $3 }' ../../Cargo.lock | sort -u)
n=0
for f in $(git --git-dir="$git_dir" ls-tree -r --name-only HEAD crates/); do
  c=$(echo "$f" | cut -d/ -f2)
  if echo "$crates" | grep -qx "$c"; then
    mkdir -p "advisory-db/crates/$c"
    git --git-dir="$git_dir" show "HEAD:$f" > "advisory-db/$f"
    n=$((n + 1))
  fi
done
cat > advisory-db/SOURCE.md <<MD
# Vendored RustSec advisories

The advisories of the RustSec advisory database (CC0-1.0, public domain) for the crates named in
this workspace's \`Cargo.lock\` when the snapshot was taken: $n advisories, database commit
\`$commit\` of $date. Refreshed by \`bash labs/week32-production-system/vendor-advisories.sh\`.
Each advisory keeps its own \`license\` field where it has one (CC-BY-4.0 for those imported from
GitHub's advisory database). A crate added to the workspace later has no advisories here until
the snapshot is refreshed.
MD
echo "vendored $n advisories (commit $commit, $date)"
