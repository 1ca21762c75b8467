# Recipes for learners and contributors. `just --list` shows them all.
# (Install just with `cargo install --locked just`, or run the commands below by hand.)

# Run a lab, for example: just run week02-linreg -- --json
run lab *args:
    cargo run -p {{lab}} -- {{args}}

# Grade one lab (just grade week02) or every lab (just grade)
grade week="":
    cargo run -q -p workbook -- grade {{week}}

# Build the book and serve it on http://localhost:3000
book:
    mdbook serve book --open

# Regenerate what the book shows from each lab: plots and expected output
book-assets *labs:
    bash scripts/book-assets.sh {{labs}}

# Week 8's service against FastAPI + uvicorn, same model and contract (creates bench/fastapi/.venv)
bench-service:
    bash bench/compare_service.sh

# Week 15's batch job against pandas + scikit-learn on 1M generated rows (creates bench/batch/.venv)
bench-batch rows="1000000":
    bash bench/compare_batch.sh {{rows}}

# Week 16's service in a real container: built FROM scratch, run, predicted, stopped (podman)
container-test profile="debug":
    bash labs/week16-deploy-dl/deploy/container-test.sh {{profile}}

# Week 17's from-scratch GPT-2 encoder and tiktoken-rs vs Python's tiktoken (creates bench/tokenize/.venv)
bench-tokenize:
    bash bench/compare_tokenize.sh

# Week 19's vector indexes (flat, IVF, HNSW) and instant-distance vs faiss-cpu (creates bench/ann/.venv)
bench-ann:
    bash bench/compare_ann.sh

# Week 21's retrieval vs FastAPI + faiss + numpy over the same store (creates bench/rag/.venv)
bench-rag:
    bash bench/compare_rag.sh

# Week 26's tracking store vs Python's sqlite3 and MLflow on SQLite: logging metric points
bench-tracking:
    bash bench/compare_tracking.sh

# The classical benchmark: from-scratch CART and k-means vs linfa vs scikit-learn (release build)
bench:
    bash bench/compare_classical.sh

# The deep-learning benchmark: a transformer block and a CNN step in candle vs numpy (release build)
bench-deep:
    bash bench/compare_deep.sh

# Everything CI runs
ci:
    bash .ci/run

# Regenerate the grader's reference values with pinned numpy/scikit-learn (needs Python 3.11+)
fixtures:
    test -x .venv/bin/python || python3 -m venv .venv
    .venv/bin/pip install -q -r crates/grader/fixtures/requirements.txt
    .venv/bin/python crates/grader/fixtures/make_fixtures.py

# Regenerate the LLM runtime's references (tokenizer ids, MiniLM embeddings by numpy; fetches the models)
llm-fixtures:
    test -x .venv-llm/bin/python || python3 -m venv .venv-llm
    .venv-llm/bin/pip install -q -r crates/wb-llm/fixtures/requirements.txt
    cargo run -q -p workbook -- models
    .venv-llm/bin/python crates/wb-llm/fixtures/make_fixtures.py "$(cargo run -q -p workbook -- models --dir)"

# The OpenAI-compatible server on both local models: http://127.0.0.1:8080/v1
llm-serve *args:
    cargo run -q --release -p wb-llm -- serve {{args}}

# The server end to end through the official openai Python client (creates .venv-e2e)
llm-e2e:
    bash crates/wb-llm/tests/openai-e2e.sh

# The local model's speed: prefill and decode tokens/s of both weight formats, embeddings/s
llm-bench:
    cargo run -q --release -p wb-llm -- bench

# The local model against llama.cpp on the same GGUF (builds llama-cpp-python from source once)
llm-bench-cpp:
    bash bench/llm/compare.sh

# Measure the build and grading times quoted in the README (a fresh clone, empty target dir)
times:
    bash bench/measure-times.sh

# Scaffold a new lab: just new-lab 3 preprocessing "Statistics, splits and preprocessing"
new-lab week slug title:
    bash scripts/new-lab.sh {{week}} {{slug}} "{{title}}"
