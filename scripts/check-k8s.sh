#!/usr/bin/env bash
# Every Kubernetes manifest of the labs (labs/*/deploy/*.yaml, and week 29's kustomize base)
# against the real Kubernetes schemas, strictly (an unknown or misspelt field fails), with
# kubernetes-validate in a venv made once (.venv-k8s). Then a manifest with a planted misspelt
# field (week 29's `plant`) must be refused, naming the field: the check is known to bite. The
# labs' own checks test what the manifests mean (selectors, probes, ports, references).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-k8s
if [ ! -x "$venv/bin/kubernetes-validate" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q kubernetes-validate==1.37.0
fi
shopt -s nullglob
manifests=(labs/*/deploy/*.yaml)
[ ${#manifests[@]} -gt 0 ] || { echo "no manifests under labs/*/deploy/" >&2; exit 1; }
for f in labs/*/deploy/k8s/base/*.yaml; do
  [ "$(basename "$f")" = kustomization.yaml ] || manifests+=("$f")
done
"$venv/bin/kubernetes-validate" --strict "${manifests[@]}"

planted=$(mktemp --suffix=.yaml)
trap 'rm -f "$planted" "$planted.log"' EXIT
cargo run -q -p week29-containers-k8s --locked -- plant --out "$planted"
if "$venv/bin/kubernetes-validate" --strict "$planted" > "$planted.log" 2>&1; then
  echo "the planted manifest (readinesProbe) passed the schema check: the check does not bite" >&2
  exit 1
fi
grep -q "'readinesProbe' was unexpected" "$planted.log" \
  || { echo "the planted manifest failed, but without naming readinesProbe:" >&2; cat "$planted.log" >&2; exit 1; }
echo "the planted manifest is refused: $(grep -o "spec.template.spec.containers.0: .*" "$planted.log" | head -1)"
