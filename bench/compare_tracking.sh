#!/usr/bin/env bash
# Week 26's store against the Python peers, in one run: logging 100,000 metric points in
# batches of 1,000 (one transaction each), and 1,000 points one transaction each, with
#   - the lab's Tracker (Rust, rusqlite, the lab's dev profile),
#   - Python's sqlite3 on the same table with the same transactions,
#   - MLflow's client on a SQLite backend (log_batch: at most 1,000 metrics a call; log_metric).
# All three use WAL; the lab and sqlite3 use synchronous = FULL, MLflow SQLAlchemy's default
# (FULL in WAL mode, SQLite's default). Prints each time and the ratios to the lab.
# The venv (MLflow and its dependencies, about 850 MB) is made the first time.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
venv_for bench/tracking mlflow
cargo build -q -p week26-tracking-registry
bin="$(target_dir dev)/week26-tracking-registry"
py=bench/tracking/.venv/bin/python
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for spec in "100000 1000" "1000 1"; do
  set -- $spec
  rust=$("$bin" bench-log --store "$tmp/rust-$2" --points "$1" --batch "$2")
  sqlite=$("$py" bench/tracking/bench_tracking.py sqlite3 "$1" "$2")
  mlflow=$("$py" bench/tracking/bench_tracking.py mlflow "$1" "$2" 2>/dev/null)
  python3 - "$rust" "$sqlite" "$mlflow" <<'PY'
import json, sys
rust, sqlite, mlflow = (json.loads(a) for a in sys.argv[1:])
n, b = rust["points"], rust["batch"]
print(f"{n} points, {b} per transaction:")
for name, r in [("week 26 (Rust)", rust), ("Python sqlite3", sqlite), ("MLflow on SQLite", mlflow)]:
    ratio = r["seconds"] / rust["seconds"]
    print(f"  {name:<18} {r['seconds']:8.3f} s  {n / r['seconds']:>10.0f} points/s  {ratio:6.2f}x the lab's time")
PY
done
