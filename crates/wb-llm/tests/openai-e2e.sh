#!/usr/bin/env bash
# `wb-llm serve` end to end through the official `openai` Python client (tests/openai_e2e.py):
# makes the test's venv (once), builds and starts the server on a free port with a queue of 1,
# runs the checks (the last one stops the server with SIGTERM) and requires a clean exit.
# Needs the models (`cargo run -p workbook -- models`). Run it with `just llm-e2e`.
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$root"
venv=${WB_E2E_VENV:-$root/.venv-e2e}
if ! "$venv/bin/python" -c 'import openai, jsonschema' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r crates/wb-llm/tests/requirements-e2e.txt
fi
cargo build -q -p wb-llm --locked
bin="${CARGO_TARGET_DIR:-$root/target}/debug/wb-llm"
port=$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$(mktemp)
"$bin" serve --addr "127.0.0.1:$port" --queue 1 >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; echo "--- server log"; cat "$log"' EXIT
for _ in $(seq 1 600); do
  curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
  kill -0 $pid 2>/dev/null || { echo "the server did not start" >&2; exit 1; }
  sleep 0.1
done
"$venv/bin/python" crates/wb-llm/tests/openai_e2e.py "http://127.0.0.1:$port/v1" "$pid" "$root"
status=0
wait $pid || status=$?
if [ "$status" != 0 ]; then
  echo "the server exited with status $status after SIGTERM" >&2
  exit 1
fi
echo "the server stopped cleanly"
