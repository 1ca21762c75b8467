#!/usr/bin/env bash
# Week 19's indexes against faiss-cpu on the same vectors, in one run on this machine: the lab's
# `bench` subcommand (release build) writes the MiniLM vectors of the corpus (base and held-out
# queries, raw f32) and measures flat, IVF and HNSW built here and instant-distance's HNSW; then
# faiss builds the same three kinds with the same parameters. One thread each; recall@10
# against exact search. Prints a Markdown table with the ratios to faiss. Creates
# bench/ann/.venv the first time.
# Usage: bash bench/compare_ann.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
venv_for bench/ann python
venv=bench/ann/.venv
cargo build -q --release -p week19-embeddings-search
bin=$(target_dir release)/week19-embeddings-search
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# instant-distance builds with every core; the searches are one thread each.
rust=$("$bin" bench --out "$work")
spec=$(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print(json.dumps({k: r[k] for k in ["dim","base","queries","k","nlist","m","ef_construction"]} | {"nprobe": sorted({p["setting"] for p in r["points"] if p["index"]=="IVF"}), "ef_search": sorted({p["setting"] for p in r["points"] if p["index"]=="HNSW"})}))' "$rust")
py=$("$venv/bin/python" bench/ann/faiss_bench.py "$work" "$spec")
python3 - "$rust" "$py" <<'PY'
import json, sys
r, f = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"{r['base']:,} MiniLM vectors ({r['dim']}-d) of the State of the Union, {r['queries']} held-out queries, "
      f"recall@{r['k']}; faiss {f['faiss']}; IVF nlist {r['nlist']}; HNSW m {r['m']}, ef_construction {r['ef_construction']}\n")
print(f"build: IVF {r['ivf_build_s']:.2f} s here, {next(p['build_s'] for p in f['points'] if p['index']=='IVF'):.2f} s faiss; "
      f"HNSW {r['hnsw_build_s']:.2f} s here, {next(p['build_s'] for p in f['points'] if p['index']=='HNSW'):.2f} s faiss, "
      f"instant-distance {r['crate_build_s']:.2f} s (all cores)\n")
faiss = {(p["index"], p["setting"]): p for p in f["points"]}
print("| index | setting | recall here | recall faiss | queries/s here | queries/s faiss | here / faiss |")
print("|---|---:|---:|---:|---:|---:|---:|")
for p in r["points"]:
    key = (p["index"], p["setting"])
    name = {"IVF": "nprobe", "HNSW": "efSearch", "instant-distance": "efSearch"}.get(p["index"], "–")
    setting = f"{name} {p['setting']}" if p["setting"] else "–"
    if key in faiss:
        q = faiss[key]
        print(f"| {p['index']} | {setting} | {p['recall']:.3f} | {q['recall']:.3f} | {p['qps']:,.0f} | {q['qps']:,.0f} | {p['qps'] / q['qps']:.2f}× |")
    else:
        print(f"| {p['index']} | {setting} | {p['recall']:.3f} | – | {p['qps']:,.0f} | – | – |")
PY
