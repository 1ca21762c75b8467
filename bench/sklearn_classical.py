#!/usr/bin/env python3
"""scikit-learn's side of the classical benchmark: the same tasks, data and settings as
`cargo run --release -p bench-classical`. Median of BENCH_REPS fits (default 7); prints JSON.

    .venv/bin/python bench/sklearn_classical.py     (after `just fixtures` made the venv)
"""

import json
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

rows = [
    {"task": "decision tree (digits, Gini, no depth limit)", "sklearn_ms": median_ms(lambda: DecisionTreeClassifier(random_state=0).fit(x, y))},
    {"task": "k-means (digits, k = 10, n_init = 1)", "sklearn_ms": median_ms(lambda: KMeans(n_clusters=10, n_init=1, max_iter=300, tol=1e-4, random_state=0).fit(x))},
    {"task": "linear regression (diabetes), linfa only", "sklearn_ms": median_ms(lambda: LinearRegression().fit(dx, dy))},
]
print(json.dumps({"scikit-learn": sklearn.__version__, "numpy": np.__version__, "reps": REPS, "rows": rows}, indent=1))
