#!/usr/bin/env bash
# Runs the classical benchmark in Rust (release) and in scikit-learn, one after the other on the
# same machine, and prints the fit times and the ratios. Needs the fixtures venv (`just fixtures`).
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
BENCH_JSON="$out/rust.json" cargo run -q --release -p bench-classical
.venv/bin/python bench/sklearn_classical.py > "$out/sklearn.json"
python3 - "$out/rust.json" "$out/sklearn.json" <<'PY'
import json, sys
rust, sk = (json.load(open(p)) for p in sys.argv[1:3])
skl = {r["task"]: r["sklearn_ms"] for r in sk["rows"]}
print(f"\nscikit-learn {sk['scikit-learn']}, numpy {sk['numpy']}; median of {sk['reps']} fits each\n")
print("| task | from scratch (ms) | linfa (ms) | scikit-learn / numpy (ms) | scratch / Python | linfa / Python |")
print("|---|---|---|---|---|---|")
for r in rust["rows"]:
    s = skl[r["task"]]
    ours = r["ours_ms"]
    fmt = lambda v: "—" if v is None else f"{v:.2f}"
    ratio = lambda v: "—" if v is None else f"{v / s:.2f}×"
    print(f"| {r['task']} | {fmt(ours)} | {fmt(r['linfa_ms'])} | {s:.2f} | {ratio(ours)} | {ratio(r['linfa_ms'])} |")
PY
