#!/usr/bin/env bash
# Builds the wasm module twice (simd128 and scalar kernels) and runs wasm-bindgen into js/dist/.
# Usage: scripts/build-wasm.sh [--debug]   (release by default)
set -euo pipefail
cd "$(dirname "$0")/.."
profile=release; flag=--release
target="${CARGO_TARGET_DIR:-target}"  # respect a caller's target dir
[ "${1:-}" = "--debug" ] && { profile=debug; flag=; }

# simd128 build: .cargo/config.toml adds +simd128 for wasm32 (RUSTFLAGS would override it, so unset).
env -u RUSTFLAGS cargo build -p numpack-wasm --target wasm32-unknown-unknown $flag
# scalar build: same crate, no simd128, separate target dir so the two never rebuild each other.
env -u RUSTFLAGS CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-Ctarget-feature=-simd128" \
  cargo build -p numpack-wasm --target wasm32-unknown-unknown $flag --target-dir "$target/wasm-scalar"

bindgen() { # $1 = input .wasm, $2 = output dir
  mkdir -p "$2"
  wasm-bindgen --target web --out-dir "$2" "$1"
  if [ -x tools/node_modules/.bin/wasm-opt ] && [ "$profile" = release ]; then
    tools/node_modules/.bin/wasm-opt -O2 --enable-simd --enable-bulk-memory --enable-reference-types \
      --enable-nontrapping-float-to-int --enable-sign-ext --enable-multivalue \
      "$2/numpack_wasm_bg.wasm" -o "$2/numpack_wasm_bg.wasm"
  fi
}
bindgen "$target/wasm32-unknown-unknown/$profile/numpack_wasm.wasm" js/dist/wasm
bindgen "$target/wasm-scalar/wasm32-unknown-unknown/$profile/numpack_wasm.wasm" js/dist/wasm-scalar
ls -l js/dist/wasm/numpack_wasm_bg.wasm js/dist/wasm-scalar/numpack_wasm_bg.wasm
