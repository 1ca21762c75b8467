#!/usr/bin/env bash
# The week 8 service against FastAPI + uvicorn: the same model artifact and JSON contract, both
# driven by the lab's load generator at the same concurrency, one after the other, on this
# machine. Creates bench/fastapi/.venv the first time. Prints a Markdown table.
# Usage: bash bench/compare_service.sh [concurrency] [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
conc=${1:-32}
secs=${2:-10}
source bench/lib.sh
venv_for bench/fastapi uvicorn
venv=bench/fastapi/.venv
cargo build -q --release -p week08-ml-service
bin=$(target_dir release)/week08-ml-service
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
"$bin" train --model "$work/model.json" > /dev/null
port_free 18181
port_free 18182
"$bin" serve --model "$work/model.json" --port 18181 > "$work/rust.log" 2>&1 &
# uvicorn itself is the background job, so that the trap's kill reaches it.
MODEL_PATH="$work/model.json" "$venv/bin/uvicorn" --app-dir bench/fastapi app:app --port 18182 \
  --log-level warning > "$work/fastapi.log" 2>&1 &
wait_for 18181 "$work/rust.log"
wait_for 18182 "$work/fastapi.log"
body=$("$bin" loadgen --help > /dev/null; python3 -c '
import csv, json
r = next(csv.DictReader(open("datasets/tabular/breast_cancer.csv"))); r.pop("diagnosis")
print(json.dumps({k: float(v) for k, v in r.items()}))')
# Same answers from both?
a=$(curl -s -X POST -H 'content-type: application/json' -d "$body" http://127.0.0.1:18181/v1/predict)
b=$(curl -s -X POST -H 'content-type: application/json' -d "$body" http://127.0.0.1:18182/v1/predict)
python3 -c "
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
pa, pb = a['predictions'][0], b['predictions'][0]
assert pa['class'] == pb['class'] and abs(pa['probability'] - pb['probability']) < 1e-9, (a, b)
print('same prediction from both services:', pa)
" "$a" "$b"
"$bin" loadgen --url http://127.0.0.1:18181/v1/predict --body "$body" --concurrency "$conc" --seconds "$secs" --json > "$work/rust.json"
"$bin" loadgen --url http://127.0.0.1:18182/v1/predict --body "$body" --concurrency "$conc" --seconds "$secs" --json > "$work/fastapi.json"
python3 - "$work/rust.json" "$work/fastapi.json" "$conc" "$secs" <<'PY'
import json, sys
r, f = (json.load(open(p)) for p in sys.argv[1:3])
print(f"\n{sys.argv[3]} concurrent clients, {sys.argv[4]} s each, one record per request (release build; uvicorn, 1 worker)\n")
print("| service | requests/s | errors | p50 (ms) | p99 (ms) | max (ms) |")
print("|---|---|---|---|---|---|")
for name, d in [("axum (this lab)", r), ("FastAPI + uvicorn", f)]:
    print(f"| {name} | {d['throughput_rps']:.0f} | {d['errors']} | {d['p50_ms']:.2f} | {d['p99_ms']:.2f} | {d['max_ms']:.2f} |")
print(f"\nthroughput ratio {r['throughput_rps'] / f['throughput_rps']:.1f}×; p99 {r['p99_ms']:.2f} ms vs {f['p99_ms']:.2f} ms")
PY
