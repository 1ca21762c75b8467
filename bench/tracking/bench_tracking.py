"""Logging metric points, the Python way, for bench/compare_tracking.sh: the same table and the
same transactions as week 26's store with the standard library's sqlite3, and MLflow's client on
a SQLite backend. Prints one JSON object per measurement."""

import json
import os
import sys
import tempfile
import time

SCHEMA = """
CREATE TABLE runs (id TEXT PRIMARY KEY, status TEXT NOT NULL) STRICT;
CREATE TABLE metrics (
    run_id TEXT NOT NULL REFERENCES runs(id), key TEXT NOT NULL, step INTEGER NOT NULL,
    value REAL NOT NULL, PRIMARY KEY (run_id, key, step)
) STRICT, WITHOUT ROWID;
"""


def sqlite3_log(points, batch):
    import sqlite3

    path = os.path.join(tempfile.mkdtemp(), "tracking.sqlite")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.executescript(SCHEMA)
    conn.execute("INSERT INTO runs VALUES ('r', 'running')")
    start = time.perf_counter()
    for lo in range(0, points, batch):
        conn.execute("BEGIN IMMEDIATE")
        # As the Rust store: the run must still be running, then the batch.
        conn.execute("SELECT status FROM runs WHERE id = 'r'").fetchone()
        conn.executemany(
            "INSERT INTO metrics VALUES ('r', 'loss', ?, ?)",
            ((s, 1.0 / (s + 1)) for s in range(lo, min(lo + batch, points))),
        )
        conn.execute("COMMIT")
    return time.perf_counter() - start


def mlflow_log(points, batch):
    import mlflow
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    path = os.path.join(tempfile.mkdtemp(), "mlflow.sqlite")
    client = MlflowClient(tracking_uri=f"sqlite:///{path}")
    run = client.create_run(client.create_experiment("bench"))
    rid = run.info.run_id
    now = int(time.time() * 1000)
    start = time.perf_counter()
    for lo in range(0, points, batch):
        metrics = [Metric("loss", 1.0 / (s + 1), now, s) for s in range(lo, min(lo + batch, points))]
        if batch == 1:
            client.log_metric(rid, "loss", metrics[0].value, timestamp=now, step=metrics[0].step)
        else:
            client.log_batch(rid, metrics=metrics)
    return time.perf_counter() - start


if __name__ == "__main__":
    which, points, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    seconds = {"sqlite3": sqlite3_log, "mlflow": mlflow_log}[which](points, batch)
    print(json.dumps({"peer": which, "points": points, "batch": batch, "seconds": seconds}))
