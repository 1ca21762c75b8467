#!/usr/bin/env bash
# The local model against llama.cpp, one after the other on this machine: the same GGUF file, the
# same prompt (the same token ids), the same number of new tokens (greedy), the same number of
# threads. llama.cpp comes from llama-cpp-python, compiled from source into bench/llm/.venv on
# the first run (a C++ compiler is needed; pip fetches cmake; about 20 minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=bench/llm/.venv
if ! [ -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import llama_cpp" 2>/dev/null; then
  python3 -m venv "$venv"
  # GGML_NATIVE: llama.cpp compiled for this CPU, as its own build does by default.
  CMAKE_ARGS="-DGGML_NATIVE=ON" "$venv/bin/pip" install -q "llama-cpp-python==0.3.36" "numpy==2.4.6"
fi
tokens=${TOKENS:-64}
rust=$(cargo run -q --release -p wb-llm -- bench --json --tokens "$tokens")
model="$(cargo run -q -p workbook -- models --dir)/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf"
threads=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['threads'])" "$rust")
prompt=$(python3 -c "import json,sys; print(json.dumps(json.loads(sys.argv[1])['prompt']))" "$rust")
cpp=$("$venv/bin/python" bench/llm/run_llama_cpp.py "$model" "$prompt" "$tokens" "$threads")
python3 - "$rust" "$cpp" <<'PY'
import json, sys
r, c = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"\nSmolLM2-135M-Instruct Q4_1, a {len(r['prompt'])}-token prompt, {r['new_tokens']} new tokens (greedy), "
      f"{r['threads']} threads; llama-cpp-python {c['llama_cpp_python']}; best of three runs each\n")
print("| runtime | weights | prefill (tokens/s) | decode (tokens/s) | decode / llama.cpp | same greedy tokens |")
print("|---|---|---|---|---|---|")
def same(a, b):
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return f"first {n} of {len(b)}"
names = {"Quantized": ("wb-llm (own kernels)", "Q4_1 as shipped"), "F32": ("wb-llm (candle)", "f32, expanded at load"),
         "AsShipped": ("wb-llm (candle)", "Q4_1 as shipped")}
for run in r["runs"]:
    who, weights = names.get(run["weights"], ("wb-llm", run["weights"]))
    print(f"| {who} | {weights} | {run['prefill_tokens_per_s']:.0f} | {run['decode_tokens_per_s']:.1f} | "
          f"{run['decode_tokens_per_s'] / c['decode_tokens_per_s']:.2f}× | {same(run['tokens'], c['tokens'])} |")
print(f"| llama.cpp | Q4_1 as shipped | {c['prefill_tokens_per_s']:.0f} | {c['decode_tokens_per_s']:.1f} | 1.00× | — |")
PY
