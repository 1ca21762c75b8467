#!/usr/bin/env bash
# Week 21's retrieval against a Python baseline, in one run on this machine: the 79 addresses
# ingested into a SQLite store through the lab's service (`serve`, release build: axum, MiniLM in
# candle, FTS5, exact dense search, RRF), then that service and bench/rag/app.py
# (FastAPI + uvicorn over the same store read-only: FTS5, faiss IndexFlatIP, MiniLM in numpy, the
# same fusion) asked the 116 labelled questions by bench/rag/compare.py, one service after the
# other: recall@1/3/10, the share of identical top 10s, latency p50/p99 per retriever. Prints a
# Markdown table. Creates bench/rag/.venv the first time. Ingesting embeds the corpus (about
# 6 minutes on 2 cores) unless the lab or week 19 has cached its vectors.
# Usage: bash bench/compare_rag.sh         (PROFILE=dev: the lab's own build, no release build)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
venv_for bench/rag uvicorn
venv=bench/rag/.venv
profile=${PROFILE:-release}
cargo build -q --profile "$profile" -p week21-rag-service -p workbook
target=$(target_dir "$profile")
bin=$target/week21-rag-service
models=$("$target/workbook" models --dir)
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
port_free 18211
port_free 18212
"$bin" serve --store "$work/store.sqlite" --addr 127.0.0.1:18211 > "$work/rust.log" 2>&1 &
wait_for 18211 "$work/rust.log"
# The 79 addresses in one request, named and titled as the lab names them: the same passages,
# so their vectors come from the cache the lab (or week 19) filled.
python3 - "$work/docs.json" <<'PY'
import gzip, json, sys
docs = []
with gzip.open("datasets/text/sotu.jsonl.gz", "rt") as f:
    for line in f:
        s = json.loads(line)
        docs.append({"source": f"sotu/{s['year']}-{s['president'].split()[-1].lower()}",
                     "title": f"{s['year']} {s['president']}", "text": s["text"]})
json.dump({"documents": docs}, open(sys.argv[1], "w"))
PY
started=$SECONDS
curl -sf -X POST -H 'content-type: application/json' --data-binary "@$work/docs.json" \
  http://127.0.0.1:18211/v1/documents > "$work/ingest.json"
python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["counts"]; print(f"ingested over HTTP in {sys.argv[2]} s: {c}")' "$work/ingest.json" $((SECONDS - started))
# uvicorn itself is the background job, so that the trap's kill reaches it.
STORE="$work/store.sqlite" MODELS="$models" "$venv/bin/uvicorn" --app-dir bench/rag app:app \
  --port 18212 --log-level warning > "$work/python.log" 2>&1 &
wait_for 18212 "$work/python.log"
"$venv/bin/python" bench/rag/compare.py "$work/store.sqlite" 18211 18212
