#!/usr/bin/env bash
# Storage benchmark (1M x 10 float32 vs .npy and h5py); builds the wheel first if needed.
set -euo pipefail
cd "$(dirname "$0")/.."
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
.venv/bin/python -c "import numpack" 2>/dev/null || bash scripts/test-python.sh -q -k quick_start >/dev/null
exec .venv/bin/python benches/storage_bench.py "$@"
