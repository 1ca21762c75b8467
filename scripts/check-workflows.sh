#!/usr/bin/env bash
# The labs' CI workflows (labs/*/workflows/*.yml) against GitHub's workflow schema (the copy
# check-jsonschema vendors from SchemaStore; no network at run time), in a venv made once
# (.venv-workflows); a misspelt copy must fail, so the validator is known to bite. Then week 28's
# pipeline runs here as a runner would run it (`-- ci`): it must pass, and fail at the gate when
# the candidate's labels are 20 % flipped.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-workflows
if [ ! -x "$venv/bin/check-jsonschema" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q check-jsonschema==0.39.0
fi
shopt -s nullglob
workflows=(labs/*/workflows/*.yml)
[ ${#workflows[@]} -gt 0 ] || { echo "no workflows under labs/*/workflows/" >&2; exit 1; }
"$venv/bin/check-jsonschema" --builtin-schema vendor.github-workflows "${workflows[@]}"
broken=$(mktemp --suffix=.yml)
trap 'rm -f "$broken"' EXIT
sed 's/runs-on:/runs-onn:/' "${workflows[0]}" > "$broken"
if "$venv/bin/check-jsonschema" --builtin-schema vendor.github-workflows "$broken" >/dev/null 2>&1; then
  echo "a workflow with a misspelt runs-on passed the schema: the check does not bite" >&2
  exit 1
fi
echo "a misspelt workflow is refused by the schema"
rm -rf output/week28-cicd-canary/ci-store
cargo run -q -p week28-cicd-canary --locked -- ci --main
if cargo run -q -p week28-cicd-canary --locked -- ci --plant 0.2; then
  echo "the pipeline passed a candidate with 20 % of its labels flipped" >&2
  exit 1
fi
echo "the pipeline fails at the gate on a planted regression"
