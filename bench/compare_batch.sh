#!/usr/bin/env bash
# The week 15 batch job against the same job in pandas + scikit-learn: the same generated input
# (1,000,000 transactions by default), the same model file, the same chunks, one after the other
# on this machine. Checks that both wrote the same scores, then prints a Markdown table with the
# ratios. Creates bench/batch/.venv the first time.
# Usage: bash bench/compare_batch.sh [rows]
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-1000000}
source bench/lib.sh
venv_for bench/batch python
venv=bench/batch/.venv
cargo build -q --release -p week15-serving-patterns
bin=$(target_dir release)/week15-serving-patterns
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin" generate --dir "$work/data" --rows "$rows" > /dev/null
"$bin" train --data "$work/data" --model "$work/model.json" > /dev/null
# Each job in its own process, so that its peak memory is its own. Rust: one partition, then 4.
rust=$("$bin" score --input "$work/data/transactions.parquet" --customers "$work/data/customers.csv" \
  --model "$work/model.json" --out "$work/rust" | tail -1)
rust4=$("$bin" score --input "$work/data/transactions.parquet" --customers "$work/data/customers.csv" \
  --model "$work/model.json" --out "$work/rust4" --parts 4 | tail -1)
py=$("$venv/bin/python" bench/batch/score_pandas.py "$work/data" "$work/model.json" "$work/pandas.parquet")
"$venv/bin/python" - "$work" "$rows" "$rust" "$rust4" "$py" <<'PY'
import json, re, sys
import numpy as np, pandas as pd, sklearn
work, rows, rust, rust4, py = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], json.loads(sys.argv[5])
r = pd.read_parquet(f"{work}/rust/part-00000-of-00001.parquet")
p = pd.read_parquet(f"{work}/pandas.parquet")
assert len(r) == len(p) == rows and (r["input_row"].to_numpy() == np.arange(rows)).all()
diff = np.abs(r["score"].to_numpy() - p["score"].to_numpy()).max()
assert diff < 1e-12 and (r["flagged"] == p["flagged"]).all(), diff
def parse(line):
    m = re.search(r"([\d.]+) rows/s; peak memory (\d+) MiB", line)
    return float(m.group(1)), float(m.group(2))
(rr, rm), (r4, r4m) = parse(rust), parse(rust4)
print(f"{rows:,} transactions; pandas {pd.__version__}, scikit-learn {sklearn.__version__}; "
      f"largest difference between the two outputs' scores: {diff:.1e}\n")
print("| job | rows/s | peak memory (MiB) |")
print("|---|---|---|")
print(f"| polars SQL + Rust, 1 partition | {rr:,.0f} | {rm:.0f} |")
print(f"| polars SQL + Rust, 4 partitions in a row | {r4:,.0f} | {r4m:.0f} |")
print(f"| pandas + scikit-learn | {py['rows_per_second']:,.0f} | {py['peak_mib']:.0f} |")
print(f"\nrows/s ratio {rr / py['rows_per_second']:.1f}×; peak memory ratio {rm / py['peak_mib']:.2f}×")
PY
