#!/usr/bin/env bash
# Forward + backward of one transformer block and one CNN training step: candle (release build)
# and then numpy with the backward written out, one after the other on the same machine; prints
# the times and the ratios. Needs the fixtures venv (`just fixtures`) for numpy.
set -euo pipefail
cd "$(dirname "$0")/.."
rust=$(cargo run -q --release -p bench-deep)
py=$(.venv/bin/python bench/deep_numpy.py)
python3 - "$rust" "$py" <<'PY'
import json, sys
r, p = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"\nnumpy {p['numpy']}; median of 20 runs each, after 3 warm-ups\n")
print("| computation | candle (ms) | numpy (ms) | candle / numpy |")
print("|---|---|---|---|")
for key, name in [("block_forward_ms", "transformer block, forward"),
                  ("block_forward_backward_ms", "transformer block, forward + backward"),
                  ("cnn_step_ms", "CNN training step (batch 64), forward + backward")]:
    print(f"| {name} | {r[key]:.1f} | {p[key]:.1f} | {r[key] / p[key]:.2f}× |")
PY
