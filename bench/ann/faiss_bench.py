"""faiss-cpu on the vectors week 19 wrote (bench/compare_ann.sh runs this): exact search
(IndexFlatIP), IVF (IndexIVFFlat over an L2 quantiser, inner product, nprobe swept) and HNSW
(IndexHNSWFlat, inner product, efSearch swept), one thread, all queries in one call each.
Prints recall@k against faiss's own exact search and queries per second, as JSON."""

import json
import sys
import time

import faiss
import numpy as np


def main():
    folder, spec = sys.argv[1], json.loads(sys.argv[2])
    d, k = spec["dim"], spec["k"]
    base = np.fromfile(f"{folder}/base.f32", dtype="<f4").reshape(-1, d)
    queries = np.fromfile(f"{folder}/queries.f32", dtype="<f4").reshape(-1, d)
    assert len(base) == spec["base"] and len(queries) == spec["queries"]
    faiss.omp_set_num_threads(1)

    def timed(index):
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            _, ids = index.search(queries, k)
            best = min(best, time.perf_counter() - start)
        return ids, len(queries) / best

    flat = faiss.IndexFlatIP(d)
    flat.add(base)
    truth, flat_qps = timed(flat)

    def recall(ids):
        return float(np.mean([len(set(t) & set(g)) / k for t, g in zip(truth, ids)]))

    points = [{"index": "flat", "setting": 0, "recall": 1.0, "qps": flat_qps, "build_s": 0.0}]
    start = time.perf_counter()
    quantizer = faiss.IndexFlatL2(d)
    ivf = faiss.IndexIVFFlat(quantizer, d, spec["nlist"], faiss.METRIC_INNER_PRODUCT)
    ivf.cp.niter = 25
    ivf.cp.seed = 19
    ivf.train(base)
    ivf.add(base)
    ivf_build = time.perf_counter() - start
    for nprobe in spec["nprobe"]:
        ivf.nprobe = nprobe
        ids, qps = timed(ivf)
        points.append({"index": "IVF", "setting": nprobe, "recall": recall(ids), "qps": qps, "build_s": ivf_build})
    start = time.perf_counter()
    hnsw = faiss.IndexHNSWFlat(d, spec["m"], faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = spec["ef_construction"]
    hnsw.add(base)
    hnsw_build = time.perf_counter() - start
    for ef in spec["ef_search"]:
        hnsw.hnsw.efSearch = ef
        ids, qps = timed(hnsw)
        points.append({"index": "HNSW", "setting": ef, "recall": recall(ids), "qps": qps, "build_s": hnsw_build})
    print(json.dumps({"faiss": faiss.__version__, "points": points}))


if __name__ == "__main__":
    main()
