"""The week 8 service's contract in FastAPI, for the benchmark: the same model artifact, the same
JSON in and out, the same validation (missing, unknown, non-number, out-of-range fields → 422).

    uvicorn app:app --port 8090        (MODEL_PATH=path/to/model.json)
"""

import json
import math
import os
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

with open(os.environ.get("MODEL_PATH", "model.json")) as f:
    MODEL = json.load(f)
FEATURES = MODEL["features"]
NAMES = [f["name"] for f in FEATURES]
MAX_BATCH = 256

app = FastAPI(title="week08 ML service (FastAPI)")


def validate(record: Any, prefix: str):
    errors, values = [], []
    field = lambda n: f"{prefix}.{n}" if prefix else n  # noqa: E731
    for spec in FEATURES:
        v = record.get(spec["name"])
        if v is None:
            errors.append({"field": field(spec["name"]), "problem": "missing"})
        elif isinstance(v, bool) or not isinstance(v, (int, float)):
            errors.append({"field": field(spec["name"]), "problem": "must be a number"})
        elif not (spec["min"] <= v <= spec["max"]):
            errors.append({"field": field(spec["name"]), "problem": "outside the allowed range"})
        else:
            values.append(float(v))
    errors += [{"field": field(k), "problem": "unknown field"} for k in record if k not in NAMES]
    return values, errors


def predict(values):
    z = sum(w * (x - m) / s for x, m, s, w in zip(values, MODEL["mean"], MODEL["scale"], MODEL["weights"])) + MODEL["intercept"]
    p = 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))
    return {"class": MODEL["classes"][int(p >= 0.5)], "probability": p}


@app.post("/v1/predict")
async def predict_endpoint(request: Request):
    try:
        body = json.loads(await request.body())
    except ValueError as e:
        return JSONResponse({"error": f"malformed JSON: {e}"}, status_code=400)
    if isinstance(body, dict) and "records" in body:
        records = body["records"]
        if not isinstance(records, list) or not records or len(records) > MAX_BATCH:
            return JSONResponse({"error": "invalid records"}, status_code=422)
        items = [(f"records[{i}]", r) for i, r in enumerate(records)]
    elif isinstance(body, dict):
        items = [("", body)]
    else:
        return JSONResponse({"error": "the body must be an object"}, status_code=422)
    predictions, fields = [], []
    for prefix, record in items:
        if not isinstance(record, dict):
            fields.append({"field": prefix, "problem": "must be an object"})
            continue
        values, errors = validate(record, prefix)
        if errors:
            fields += errors
        else:
            predictions.append(predict(values))
    if fields:
        return JSONResponse({"error": "invalid fields", "fields": fields}, status_code=422)
    return {"model_version": MODEL["model_version"], "predictions": predictions}


@app.get("/healthz")
async def healthz():
    return {"status": "ok"}
