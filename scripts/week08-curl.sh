#!/usr/bin/env bash
# Starts the week 8 service on a spare port, sends the requests the book shows with curl, and
# writes the commands and their real answers to book/src/phase1/week08-curl.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
port=18283
out=book/src/phase1/week08-curl.txt
work=$(mktemp -d)
cargo run -q -p week08-ml-service -- train --model "$work/model.json" > /dev/null
cargo run -q -p week08-ml-service -- serve --model "$work/model.json" --port "$port" --max-batch 4 > "$work/log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" > /dev/null && break; sleep 0.1; done
record=$(python3 -c '
import csv, json
r = next(csv.DictReader(open("datasets/tabular/breast_cancer.csv"))); r.pop("diagnosis")
print(json.dumps({k: float(v) for k, v in r.items()}))')
broken=$(python3 -c '
import json, sys
r = json.loads(sys.argv[1]); r.pop("mean_radius"); r["mean_area"] = "large"; r["colour"] = "red"
print(json.dumps(r))' "$record")
show() { # show TITLE SHOWN-COMMAND CURL-ARGS...: the command as a reader would type it, and the real answer
  local title=$1 shown=$2; shift 2
  echo "# $title"
  echo "\$ $shown"
  curl -s -w '\n[HTTP %{http_code}]\n' "$@"
  echo
}
url="http://127.0.0.1:$port"
json=(-H 'content-type: application/json')
{
  show "liveness" "curl localhost:8080/healthz" "$url/healthz"
  show "one record: record.json holds the first row of breast_cancer.csv" \
    "curl -H 'content-type: application/json' -d @record.json localhost:8080/v1/predict" "${json[@]}" -d "$record" "$url/v1/predict"
  show "the same record without mean_radius, with mean_area as text and an extra field" \
    "curl -H 'content-type: application/json' -d @broken.json localhost:8080/v1/predict" "${json[@]}" -d "$broken" "$url/v1/predict"
  show "malformed JSON" "curl -H 'content-type: application/json' -d '{\"mean_radius\": ' localhost:8080/v1/predict" \
    "${json[@]}" -d '{"mean_radius": ' "$url/v1/predict"
  show "the wrong content type" "curl -H 'content-type: text/plain' -d @record.json localhost:8080/v1/predict" \
    -H 'content-type: text/plain' -d "$record" "$url/v1/predict"
  show "five records when the service was started with --max-batch 4" \
    "curl -H 'content-type: application/json' -d @five-records.json localhost:8080/v1/predict" \
    "${json[@]}" -d "{\"records\": [$record, $record, $record, $record, $record]}" "$url/v1/predict"
} > "$out"
curl -s "http://127.0.0.1:$port/metrics" | grep -E '^(http_requests_total|predictions_total|model_info|http_requests_in_flight)' | sed 's/^/  /' > "$work/metrics"
{ echo "# GET /metrics (excerpt: counters, in-flight gauge, model info)"; echo "\$ curl localhost:8080/metrics"; cat "$work/metrics"; echo; echo "# the service's log lines for these requests (one JSON object each)"; tail -n 3 "$work/log"; } >> "$out"
echo "wrote $out"
