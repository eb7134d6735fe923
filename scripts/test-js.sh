#!/usr/bin/env bash
# JS / wasm tests: builds the wasm (release, simd128 + scalar), runs the kernel conformance
# under wasm-bindgen-test in Node and Chromium, `node --test` over the JS API, the headless
# Chromium page tests (in-memory, OPFS, worker, reload), and the Python ↔ Node ↔ Chromium
# cross-runtime checks (loudly skipped when the Python wheel is not installed). Exits non-zero
# on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
unset RUSTFLAGS

echo "== build wasm"
bash scripts/build-wasm.sh

echo "== host unit tests of numpack-wasm (package format)"
cargo test -q -p numpack-wasm --lib

echo "== wasm-bindgen-test: kernel conformance in Node (simd128, then scalar)"
cargo test -p numpack-wasm --target wasm32-unknown-unknown --release --test kernels
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-Ctarget-feature=-simd128" \
  cargo test -p numpack-wasm --target wasm32-unknown-unknown --release --test kernels --target-dir target/wasm-scalar

echo "== wasm-bindgen-test: kernel conformance in headless Chromium"
(cd wasm && CHROMEDRIVER=/usr/bin/chromedriver WASM_BINDGEN_USE_BROWSER=1 WASM_BINDGEN_TEST_TIMEOUT=300 \
  cargo test -p numpack-wasm --target wasm32-unknown-unknown --release --test kernels)

echo "== node --test"
# Every js/test/*.test.mjs (a new test file cannot be left out); cli and docs run below.
node --test $(ls js/test/*.test.mjs | grep -v -e /cli.test.mjs -e /docs.test.mjs)

echo "== headless Chromium page tests"
node js/test/browser/run.mjs

echo "== npx numpack: every verb against real and corrupted stores"
node --test js/test/cli.test.mjs

echo "== the example search page in headless Chromium (NumPy oracle, OPFS across reloads, offline)"
node js/test/browser/search-page.run.mjs

echo "== make docs (smoke)"
node --test js/test/docs.test.mjs

echo "== test-js: all passed"
