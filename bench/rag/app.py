"""Week 21's retrieval in Python, for the benchmark: FastAPI over the *same* SQLite store the
Rust service writes (opened read-only), the same retrievers and the same fusion:

- BM25: SQLite's FTS5 with the same query (each word of the question quoted, joined by OR);
- dense: the stored MiniLM vectors in a faiss IndexFlatIP (exact inner product = cosine, the
  vectors being unit length), the question embedded by all-MiniLM-L6-v2 in numpy (float32,
  the same safetensors and tokenizer.json; mean pooling, normalised, truncated at 256 tokens);
- hybrid: reciprocal-rank fusion, c = 60, ties to the smaller passage id.

What a Python team would write with the usual stack, minus torch (not installable offline
here): the numpy MiniLM stands in for sentence-transformers. Its forward pass is the one of
crates/wb-llm/fixtures/make_fixtures.py, in float32 with scipy's vectorised erf where the
fixture computes a float64 reference with math.erf element by element: a server's arithmetic,
not a reference's. No reranker: the benchmark compares retrieval without it.

    STORE=store.sqlite MODELS=… uvicorn app:app --port 8121
"""

import math
import os
import re
import sqlite3
from pathlib import Path
from typing import Literal

import faiss
import numpy as np
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field
from safetensors.numpy import load_file
from scipy.special import erf
from tokenizers import Tokenizer

DEPTH = 50  # candidates each retriever hands to fusion (the Rust service's Settings::depth)
RRF_C = 60.0
MAX_WORD_BYTES = 40  # week 20's tokenize: words this long or longer are dropped

STORE = os.environ.get("STORE", "store.sqlite")
MODELS = Path(os.environ["MODELS"])


class MiniLM:
    """all-MiniLM-L6-v2's forward pass in numpy (BERT: 6 layers, 12 heads, width 384)."""

    def __init__(self, folder: Path):
        raw = load_file(str(folder / "model.safetensors"))
        p = "" if "embeddings.word_embeddings.weight" in raw else "bert."
        self.w = {k.removeprefix(p): v.astype(np.float32) for k, v in raw.items()}
        self.tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tok.no_padding()
        self.tok.enable_truncation(256)

    @staticmethod
    def _norm(x, w, b, eps=1e-12):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + eps) * w + b

    def embed(self, text: str) -> np.ndarray:
        w = self.w
        ids = self.tok.encode(text).ids
        n = len(ids)
        x = (w["embeddings.word_embeddings.weight"][ids]
             + w["embeddings.position_embeddings.weight"][:n]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = self._norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        heads, width = 12, x.shape[1]
        hd = width // heads
        for layer in range(6):
            q = f"encoder.layer.{layer}."
            lin = lambda name, v: v @ w[q + name + ".weight"].T + w[q + name + ".bias"]  # noqa: E731
            Q = lin("attention.self.query", x).reshape(n, heads, hd).transpose(1, 0, 2)
            K = lin("attention.self.key", x).reshape(n, heads, hd).transpose(1, 0, 2)
            V = lin("attention.self.value", x).reshape(n, heads, hd).transpose(1, 0, 2)
            att = Q @ K.transpose(0, 2, 1) / math.sqrt(hd)
            att = np.exp(att - att.max(-1, keepdims=True))
            att /= att.sum(-1, keepdims=True)
            ctx = (att @ V).transpose(1, 0, 2).reshape(n, width)
            x = self._norm(lin("attention.output.dense", ctx) + x,
                           w[q + "attention.output.LayerNorm.weight"],
                           w[q + "attention.output.LayerNorm.bias"])
            h = lin("intermediate.dense", x)
            h = 0.5 * h * (1.0 + erf(h / math.sqrt(2.0)))
            x = self._norm(lin("output.dense", h) + x,
                           w[q + "output.LayerNorm.weight"], w[q + "output.LayerNorm.bias"])
        e = x.mean(0)
        return (e / np.linalg.norm(e)).astype(np.float32)


def words(text: str) -> list[str]:
    """Week 20's tokenize: runs of letters and digits, lower-cased."""
    return [w.lower() for w in re.split(r"[^\w]|_", text)
            if w and len(w.encode()) < MAX_WORD_BYTES]


db = sqlite3.connect(f"file:{STORE}?mode=ro", uri=True, check_same_thread=False)
ids, blobs = zip(*db.execute("SELECT id, embedding FROM passages ORDER BY id"))
IDS = np.array(ids, dtype=np.int64)
vectors = np.stack([np.frombuffer(b, dtype="<f4") for b in blobs])
index = faiss.IndexFlatIP(vectors.shape[1])
index.add(vectors)
model = MiniLM(MODELS / "all-minilm-l6-v2")
faiss.omp_set_num_threads(1)

app = FastAPI(title="week 21 retrieval (Python baseline)")


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str = Field(min_length=1, max_length=2000)
    k: int = Field(default=10, ge=1, le=DEPTH)
    mode: Literal["bm25", "dense", "hybrid"] = "hybrid"


def bm25(query: str, k: int) -> list[int]:
    terms = words(query)
    if not terms:
        return []
    match = " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
    rows = db.execute(
        "SELECT rowid FROM passages_fts WHERE passages_fts MATCH ?1 "
        "ORDER BY bm25(passages_fts), rowid LIMIT ?2", (match, k))
    return [r[0] for r in rows]


def dense(query: str, k: int) -> list[int]:
    _, found = index.search(model.embed(query)[None, :], k)
    return [int(IDS[i]) for i in found[0] if i >= 0]


def rrf(lists: list[list[int]], k: int) -> list[int]:
    votes: dict[int, float] = {}
    for ranked in lists:
        for rank, pid in enumerate(ranked, start=1):
            votes[pid] = votes.get(pid, 0.0) + 1.0 / (RRF_C + rank)
    return [pid for pid, _ in sorted(votes.items(), key=lambda v: (-v[1], v[0]))[:k]]


@app.post("/v1/search")
def search(req: SearchRequest):
    if req.mode == "bm25":
        found = bm25(req.query, req.k)
    elif req.mode == "dense":
        found = dense(req.query, req.k)
    else:
        found = rrf([bm25(req.query, DEPTH), dense(req.query, DEPTH)], req.k)
    marks = ",".join("?" * len(found))
    rows = {r[0]: r for r in db.execute(
        "SELECT p.id, d.source, d.title, p.start, p.end, p.text FROM passages p "
        f"JOIN documents d ON d.id = p.document WHERE p.id IN ({marks})", found)} if found else {}
    return {"hits": [dict(zip(["id", "source", "title", "start", "end", "text"], rows[i]))
                     for i in found]}


@app.get("/healthz")
def healthz():
    return {"ok": True}
