#!/usr/bin/env bash
# Installs everything `make test` and `make demo` need. Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
WB_VERSION=0.2.130
export DEBIAN_FRONTEND=noninteractive

need_apt=0
for b in chromium chromedriver aarch64-linux-gnu-gcc qemu-aarch64; do
  command -v "$b" >/dev/null 2>&1 || need_apt=1
done
if [ "$need_apt" = 1 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium chromium-driver \
    gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user >/dev/null
fi

# The declared rust-version, for the gate that builds at it (scripts/check-gates.sh).
msrv=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
rustup toolchain list | grep -q "^$msrv" || rustup toolchain install "$msrv" --profile minimal
rustup component list --installed | grep -q '^rustfmt' || rustup component add rustfmt clippy

installed_targets=$(rustup target list --installed)
for t in wasm32-unknown-unknown aarch64-unknown-linux-gnu; do
  grep -qx "$t" <<<"$installed_targets" || rustup target add "$t"
done

if [ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $WB_VERSION" ]; then
  # --locked fails here: its lockfile pins a webpki-roots the registry does not serve.
  cargo install wasm-bindgen-cli --version "$WB_VERSION" --force
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
if ! .venv/bin/python -c "import maturin, numpy, pytest, scipy, h5py, zstandard, zarr, pyarrow, pandas, safetensors, ml_dtypes, tqdm, jax" 2>/dev/null; then
  # jax[cpu] (jax + jaxlib, ~89 MB of wheels): a real DLPack consumer for the tests.
  .venv/bin/pip install -q "maturin>=1.9.4,<2" "numpy>=2" pytest scipy h5py zstandard "zarr>=3" pyarrow pandas safetensors ml_dtypes tqdm "jax[cpu]"
fi
# numpack.dask's extra and its tests' S3-compatible server (moto in server mode).
.venv/bin/python -c "import dask.array, distributed, fsspec, s3fs, moto.server" 2>/dev/null \
  || .venv/bin/pip install -q "dask[array]" distributed fsspec s3fs "moto[server]"
touch .venv/.setup-done
