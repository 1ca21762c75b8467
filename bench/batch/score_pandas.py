#!/usr/bin/env python3
"""The week 15 batch job in pandas + scikit-learn, for the side-by-side benchmark.

The same input files, the same features (the lab's SQL written as a pandas merge and column
expressions), the same model (its JSON parameters set into a StandardScaler + LogisticRegression
pipeline), scored in the same chunks and written to Parquet with the same metadata. Prints one
JSON object: rows, seconds, rows/s, peak resident memory.

    python score_pandas.py DATA_DIR MODEL_JSON OUT_PARQUET [CHUNK_ROWS]
"""

import json
import resource
import sys
import time

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

FEATURES = ["log_amount", "night", "web", "items", "tenure_months", "pro"]


def pipeline(m):
    d = len(FEATURES)
    scaler = StandardScaler()
    scaler.mean_, scaler.scale_ = np.array(m["mean"]), np.array(m["scale"])
    scaler.var_, scaler.n_features_in_ = scaler.scale_**2, d
    clf = LogisticRegression()
    clf.coef_, clf.intercept_ = np.array([m["weights"]]), np.array([m["intercept"]])
    clf.classes_, clf.n_features_in_ = np.array([0, 1]), d
    return Pipeline([("scale", scaler), ("logreg", clf)])


def main():
    data, model_path, out = sys.argv[1], sys.argv[2], sys.argv[3]
    chunk = int(sys.argv[4]) if len(sys.argv) > 4 else 65_536
    started = time.perf_counter()
    raw = open(model_path, "rb").read()
    m = json.loads(raw)
    pipe = pipeline(m)
    import hashlib

    meta = {"model_version": m["model_version"], "model_sha256": hashlib.sha256(raw).hexdigest()}
    transactions = pd.read_parquet(f"{data}/transactions.parquet")
    customers = pd.read_csv(f"{data}/customers.csv")
    schema = pa.schema([("input_row", pa.uint32()), ("txn_id", pa.int64()),
                        ("score", pa.float64()), ("flagged", pa.bool_())]).with_metadata(meta)
    writer = pq.ParquetWriter(out, schema)
    for start in range(0, len(transactions), chunk):
        t = transactions.iloc[start:start + chunk]
        j = t.merge(customers, on="customer_id", how="left", validate="many_to_one")
        if j["tenure_months"].isna().any():
            raise SystemExit("transactions with no customer")
        x = np.column_stack([
            np.log(j["amount"].to_numpy() + 1.0),
            (j["hour"].to_numpy() < 6) * 1.0,
            (j["channel"].to_numpy() == "web") * 1.0,
            j["items"].to_numpy(dtype=np.float64),
            j["tenure_months"].to_numpy(dtype=np.float64),
            (j["plan"].to_numpy() == "pro") * 1.0,
        ])
        p = pipe.predict_proba(x)[:, 1]
        batch = pa.table({
            "input_row": pa.array(np.arange(start, start + len(t), dtype=np.uint32)),
            "txn_id": pa.array(j["txn_id"].to_numpy()),
            "score": pa.array(p),
            "flagged": pa.array(p >= m["threshold"]),
        }, schema=schema)
        writer.write_table(batch)
    writer.close()
    seconds = time.perf_counter() - started
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"rows": len(transactions), "seconds": seconds,
                      "rows_per_second": len(transactions) / seconds, "peak_mib": rss_mib}))


if __name__ == "__main__":
    main()
