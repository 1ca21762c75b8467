#!/usr/bin/env bash
# Week 17's encoders against Python's tiktoken: the from-scratch GPT-2 encoder (this lab's BPE
# with GPT-2's ranks), tiktoken-rs, and tiktoken (its Rust core called from Python), on the same
# text (Moby-Dick, 1.2 MB) and the same ranks file, one after the other on this machine,
# single-threaded, best of 5 runs each. Checks that all three count the same tokens, then prints
# a Markdown table with the ratios. Creates bench/tokenize/.venv the first time.
# Usage: bash bench/compare_tokenize.sh [repeat]
set -euo pipefail
cd "$(dirname "$0")/.."
repeat=${1:-5}
source bench/lib.sh
venv_for bench/tokenize python
venv=bench/tokenize/.venv
cargo build -q --release -p week17-tokenization
bin=$(target_dir release)/week17-tokenization
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rust=$("$bin" bench --out "$work" --repeat "$repeat")
py=$("$venv/bin/python" bench/tokenize/tiktoken_bench.py "$work" "$repeat")
python3 - "$rust" "$py" <<'PY'
import json, sys
r, p = json.loads(sys.argv[1]), json.loads(sys.argv[2])
assert r["tokens"] == p["tokens"], (r["tokens"], p["tokens"])
print(f"Moby-Dick, {r['bytes']:,} bytes, {r['tokens']:,} GPT-2 tokens (all three agree); tiktoken {p['tiktoken']} (Python); "
      f"ranks file written by the lab identical to OpenAI's r50k_base: {p['ranks_file_is_openais']}\n")
print("| encoder | MB/s | vs Python tiktoken |")
print("|---|---:|---:|")
for name, v in [("from scratch (this lab, GPT-2's ranks)", r["from_scratch_mb_s"]),
                ("tiktoken-rs", r["tiktoken_rs_mb_s"]), ("tiktoken (Python)", p["mb_s"])]:
    print(f"| {name} | {v:.1f} | {v / p['mb_s']:.2f}× |")
PY
