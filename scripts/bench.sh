#!/usr/bin/env bash
# Benchmarks: every figure is a ratio against a peer measured in the same run (numpy .npy, h5py,
# faiss, plain JS). Not part of `make test`. Peers run with OpenBLAS's own CPU detection.
set -euo pipefail
cd "$(dirname "$0")/.."
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
.venv/bin/python -c "import faiss, h5py" 2>/dev/null || .venv/bin/pip install -q faiss-cpu h5py
bash scripts/test-python.sh --build-only
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), warm page cache"
.venv/bin/python benches/storage_bench.py
.venv/bin/python benches/vector_bench.py
bash scripts/build-wasm.sh
node benches/js_bench.mjs
# The page benchmark in headless Chromium: OPFS store open and load against Node's file system,
# search on the page's thread against Node, and 1M × 128 on two threads against one in a worker.
node js/test/browser/run.mjs --bench
