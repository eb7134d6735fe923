#!/usr/bin/env bash
# Code gates run first by `make test`: formatting, clippy on every crate and target (host, and
# wasm32 with and without simd128), missing docs (core denies them), rustdoc warnings, and a
# build at the declared rust-version.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYO3_PYTHON="$PWD/.venv/bin/python"
MSRV=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)

echo "== cargo fmt --check"
cargo fmt --all --check

echo "== clippy (host, every crate and target)"
cargo clippy --workspace --all-targets --release -- -D warnings

echo "== clippy (wasm32, simd128 and scalar)"
env -u RUSTFLAGS cargo clippy -p numpack-wasm --target wasm32-unknown-unknown --all-targets --release -- -D warnings
env -u RUSTFLAGS CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-Ctarget-feature=-simd128" \
  cargo clippy -p numpack-wasm --target wasm32-unknown-unknown --all-targets --release --target-dir target/wasm-scalar -- -D warnings

echo "== cargo doc (no warnings)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --release -q

echo "== build at rust-version $MSRV"
cargo "+$MSRV" check --workspace --all-targets --release --target-dir target/msrv

echo "check-gates: all passed"
