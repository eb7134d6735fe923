#!/usr/bin/env bash
# Rust tests of the whole workspace on the host (x86_64: every SIMD tier this CPU has).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYO3_PYTHON="$PWD/.venv/bin/python"
cargo test --workspace --release
