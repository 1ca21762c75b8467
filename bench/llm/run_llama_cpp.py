#!/usr/bin/env python3
"""llama.cpp's side of the local-model benchmark (bench/llm/compare.sh): the same GGUF, the same
chat prompt, the same number of new tokens (greedy), the same number of threads as
`wb-llm bench --json`. Prints JSON: prefill and decode tokens/s, best of three.

    python bench/llm/run_llama_cpp.py MODEL.gguf PROMPT_TOKENS_JSON NEW_TOKENS THREADS
"""

import json
import sys
import time

import llama_cpp
import numpy as np
from llama_cpp import Llama

model, prompt_json, new_tokens, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
prompt = json.loads(prompt_json)
llm = Llama(model_path=model, n_ctx=1024, n_batch=512, n_threads=threads, n_threads_batch=threads,
            verbose=False)
vocab = llm.n_vocab()


def next_token():
    # The logits of the last evaluated token (llama.cpp keeps only those without logits_all).
    logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits(llm.ctx), shape=(vocab,))
    return int(np.argmax(logits))


runs = []
for _ in range(3):
    llm.reset()
    start = time.perf_counter()
    llm.eval(prompt)
    prefill = time.perf_counter() - start
    tokens = [next_token()]
    start = time.perf_counter()
    while len(tokens) < new_tokens:
        llm.eval([tokens[-1]])
        tokens.append(next_token())
    decode = time.perf_counter() - start
    runs.append({"prefill_tokens_per_s": len(prompt) / prefill,
                 "decode_tokens_per_s": (len(tokens) - 1) / decode, "tokens": tokens})
best = max(runs, key=lambda r: r["decode_tokens_per_s"])
print(json.dumps({"llama_cpp_python": llama_cpp.__version__, "threads": threads,
                  "prompt_tokens": len(prompt), **best}))
