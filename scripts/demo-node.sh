#!/usr/bin/env bash
# The Node demo: opens the store the Python demo wrote (bench-out/demo.npk, a float32
# `embeddings` array) — or the folder given as $1, creating a store there if there is none —
# and runs vector searches on it. Builds the wasm first if it is missing or stale.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f js/dist/wasm/numpack_wasm_bg.wasm ] || [ ! -f js/dist/wasm-scalar/numpack_wasm_bg.wasm ] \
   || [ -n "$(find wasm core/src -newer js/dist/wasm/numpack_wasm_bg.wasm -type f 2>/dev/null | head -1)" ]; then
  bash scripts/build-wasm.sh >&2
fi
exec node js/examples/demo.mjs "${1:-bench-out/demo.npk}"
