"""Drives week 21's Rust service and the Python baseline (app.py) over the same SQLite store with
the 116 labelled questions, one service after the other, one request at a time over a kept-alive
connection: recall@1/3/10 against the gold sentences, how often both return the same passages,
latency p50/p99 (nearest rank) per retriever. Prints a Markdown table.

    python compare.py STORE RUST_PORT PYTHON_PORT
"""

import http.client
import json
import math
import sqlite3
import statistics
import sys
import time
from pathlib import Path

store, rust_port, py_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ROOT = Path(__file__).resolve().parents[2]
KS = (1, 3, 10)
MODES = ("bm25", "dense", "hybrid")

questions = [json.loads(line) for line in open(ROOT / "datasets/text/sotu_questions.jsonl")]
db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)


def relevant(q) -> set[int]:
    """The passages of the question's address holding at least half of its gold sentence (the
    lab's rule: week 20's `relevant`)."""
    need = max(1, math.ceil((q["end"] - q["start"]) / 2))
    rows = db.execute(
        "SELECT p.id, p.start, p.end FROM passages p JOIN documents d ON d.id = p.document "
        "WHERE d.title = ?", (f"{q['year']} {q['president']}",)).fetchall()
    if not rows:
        sys.exit(f"no document titled {q['year']} {q['president']} in {store}")
    return {pid for pid, s, e in rows if min(e, q["end"]) - max(s, q["start"]) >= need}


gold = [relevant(q) for q in questions]


def post(conn, body):
    data = json.dumps(body)
    started = time.perf_counter()
    conn.request("POST", "/v1/search", data, {"content-type": "application/json"})
    resp = conn.getresponse()
    payload = resp.read()
    return resp.status, payload, (time.perf_counter() - started) * 1e3


def run(port, extra):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for q in questions[:5]:  # warm-up: first requests load caches and code paths
        post(conn, {"query": q["question"], "k": 10, "mode": "hybrid"} | extra)
    results = {}
    for mode in MODES:
        ranked, latency = [], []
        for q in questions:
            status, payload, ms = post(conn, {"query": q["question"], "k": 10, "mode": mode} | extra)
            if status != 200:
                sys.exit(f"port {port}, {mode}: HTTP {status}: {payload[:300]!r}")
            ranked.append([h["id"] for h in json.loads(payload)["hits"]])
            latency.append(ms)
        results[mode] = {"ranked": ranked, "latency_ms": latency}
    status, payload, _ = post(conn, {"query": "x", "k": 10, "no_such_field": 1} | extra)
    results["unknown_field_status"] = status
    status, payload, _ = post(conn, {"query": "x", "k": 0} | extra)
    results["k0_status"] = status
    return results


def recall(ranked, k):
    return statistics.fmean(len(set(r[:k]) & g) / len(g) for r, g in zip(ranked, gold) if g)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, math.ceil(p / 100 * len(xs)) - 1)]


rust = run(rust_port, {"rerank": False})
py = run(py_port, {})
with_gold = sum(1 for g in gold if g)
print(f"{len(questions)} labelled questions ({with_gold} with a gold passage), one request at "
      "a time, top 10, no reranking; the same SQLite store\n")
print("| retriever | service | recall@1 | recall@3 | recall@10 | same top 10 | p50 (ms) | p99 (ms) |")
print("|---|---|---:|---:|---:|---:|---:|---:|")
for mode in MODES:
    a, b = rust[mode], py[mode]
    same = sum(x == y for x, y in zip(a["ranked"], b["ranked"])) / len(questions)
    for name, r in (("Rust (axum, candle)", a), ("Python (FastAPI, faiss, numpy)", b)):
        rec = [recall(r["ranked"], k) for k in KS]
        p50, p99 = pct(r["latency_ms"], 50), pct(r["latency_ms"], 99)
        print(f"| {mode} | {name} | " + " | ".join(f"{x:.3f}" for x in rec)
              + f" | {same:.0%} | {p50:.1f} | {p99:.1f} |")
    ratio = pct(b["latency_ms"], 50) / pct(a["latency_ms"], 50)
    print(f"|  | Python p50 / Rust p50 | | | | | {ratio:.1f}× | |")
bad = {s: {"unknown field": r["unknown_field_status"], "k = 0": r["k0_status"]}
       for s, r in (("rust", rust), ("python", py))}
print(f"\nbad requests (HTTP status): {bad}")
