#!/usr/bin/env python3
"""Python's tiktoken on the files week 17's `bench` wrote: GPT-2's ranks (r50k_base.tiktoken,
loaded from the local file: nothing is downloaded) and the text. Prints one JSON line: MB/s of
encode_ordinary (best of `repeat` runs), the token count, and whether the ranks file written by
the Rust lab is byte for byte the one tiktoken expects (its published SHA-256)."""

import hashlib
import json
import sys
import time

import tiktoken
from tiktoken.load import load_tiktoken_bpe

folder, repeat = sys.argv[1], int(sys.argv[2])
R50K_SHA256 = "306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930"
ranks_path = f"{folder}/r50k_base.tiktoken"
same_file = hashlib.sha256(open(ranks_path, "rb").read()).hexdigest() == R50K_SHA256
enc = tiktoken.Encoding(
    name="r50k_base",
    pat_str=r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""",
    mergeable_ranks=load_tiktoken_bpe(ranks_path),
    special_tokens={"<|endoftext|>": 50256},
)
text = open(f"{folder}/moby_dick.txt", encoding="utf-8").read()
size = len(text.encode("utf-8"))
best, n = float("inf"), 0
for _ in range(repeat):
    t = time.perf_counter()
    n = len(enc.encode_ordinary(text))
    best = min(best, time.perf_counter() - t)
print(json.dumps({"tiktoken": tiktoken.__version__, "mb_s": size / 1e6 / best, "tokens": n,
                  "ranks_file_is_openais": same_file}))
