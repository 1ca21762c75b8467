#!/usr/bin/env bash
# Every Kubernetes manifest of the labs (labs/*/deploy/*.yaml) against the real Kubernetes
# schemas, strictly (an unknown or misspelt field fails), with kubernetes-validate in a venv made
# once (.venv-k8s). The labs' own checks test what the manifests mean (the index wiring, probes).
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
"$venv/bin/kubernetes-validate" --strict "${manifests[@]}"
