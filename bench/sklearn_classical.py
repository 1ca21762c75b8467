#!/usr/bin/env python3
"""scikit-learn's side of the classical benchmark: the same tasks, data and settings as
`cargo run --release -p bench-classical`. Median of BENCH_REPS fits (default 7); prints JSON.

    .venv/bin/python bench/sklearn_classical.py     (after `just fixtures` made the venv)
"""

import json
import sys
import os
import pathlib
import statistics
import time

import numpy as np
import pandas as pd
import sklearn
from sklearn.cluster import KMeans
from sklearn.linear_model import LinearRegression
from sklearn.tree import DecisionTreeClassifier

DATA = pathlib.Path(__file__).resolve().parents[1] / "datasets" / "tabular"
REPS = int(os.environ.get("BENCH_REPS", "7"))


def median_ms(fit):
    times = []
    for _ in range(REPS):
        start = time.perf_counter()
        fit()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


digits = pd.read_csv(DATA / "digits.csv.gz")
x = digits.drop(columns="label").to_numpy(dtype=np.float64)
y = digits["label"].to_numpy()
diabetes = pd.read_csv(DATA / "diabetes.csv")
dx, dy = diabetes.drop(columns="target").to_numpy(), diabetes["target"].to_numpy()

MLP_RNG = np.random.default_rng(42)
MLP_SIZES = [64, 128, 64, 10]
MLP_W0 = [MLP_RNG.normal(0, np.sqrt(2 / a), (a, b)) for a, b in zip(MLP_SIZES, MLP_SIZES[1:])]


def mlp_epoch():
    """One epoch of week 10's network in numpy: 64-128-64-10, ReLU, He init, softmax
    cross-entropy, Adam(1e-3), batch 32, on 75 % of digits (the cost of an epoch does not depend
    on which rows), then the training loss, which week 10's epoch also computes."""
    rng = np.random.default_rng(42)
    xs = x[: int(len(x) * 0.75)] / 16.0
    ys = y[: len(xs)]
    # The network is initialised once, outside the timing (as in the Rust bench): a copy here.
    ws = [w.copy() for w in MLP_W0]
    bs = [np.zeros(b) for b in MLP_SIZES[1:]]
    params = ws + bs
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    t = 0
    order = rng.permutation(len(xs))
    for start in range(0, len(xs), 32):
        idx = order[start : start + 32]
        a = [xs[idx]]
        zs = []
        for i, (w, b) in enumerate(zip(ws, bs)):
            z = a[-1] @ w + b
            zs.append(z)
            a.append(np.maximum(z, 0) if i < len(ws) - 1 else z)
        p = np.exp(zs[-1] - zs[-1].max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        p[np.arange(len(idx)), ys[idx]] -= 1
        delta = p / len(idx)
        gw, gb = [None] * len(ws), [None] * len(ws)
        for l in reversed(range(len(ws))):
            gw[l] = a[l].T @ delta
            gb[l] = delta.sum(axis=0)
            if l > 0:
                delta = (delta @ ws[l].T) * (zs[l - 1] > 0)
        t += 1
        for k, g in enumerate(gw + gb):
            m[k] = 0.9 * m[k] + 0.1 * g
            v[k] = 0.999 * v[k] + 0.001 * g * g
            params[k] -= 1e-3 * (m[k] / (1 - 0.9**t)) / (np.sqrt(v[k] / (1 - 0.999**t)) + 1e-8)
    # The loss over the training rows after the epoch, as week 10's train_epochs reports it.
    a = xs
    for i, (w, b) in enumerate(zip(ws, bs)):
        z = a @ w + b
        a = np.maximum(z, 0) if i < len(ws) - 1 else z
    z = a - a.max(axis=1, keepdims=True)
    return float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(xs)), ys]))


kmeans = lambda: KMeans(n_clusters=10, n_init=1, max_iter=300, tol=1e-4, random_state=0).fit(x)
kmeans_ms = median_ms(kmeans)
kmeans_iters = kmeans().n_iter_
print(f"k-means in scikit-learn: {kmeans_iters} Lloyd iterations from its k-means++ start", file=sys.stderr)

rows = [
    {"task": "decision tree (digits, Gini, no depth limit)", "sklearn_ms": median_ms(lambda: DecisionTreeClassifier(random_state=0).fit(x, y))},
    {"task": "k-means (digits, k = 10, n_init = 1)", "sklearn_ms": kmeans_ms},
    {"task": "k-means, one Lloyd iteration (fit time / iterations)", "sklearn_ms": kmeans_ms / kmeans_iters},
    {"task": "linear regression (diabetes), linfa only", "sklearn_ms": median_ms(lambda: LinearRegression().fit(dx, dy))},
    {"task": "MLP epoch (digits, 64-128-64-10, batch 32, Adam)", "sklearn_ms": median_ms(mlp_epoch)},
]
print(json.dumps({"scikit-learn": sklearn.__version__, "numpy": np.__version__, "reps": REPS, "rows": rows}, indent=1))
