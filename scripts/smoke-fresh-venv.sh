#!/usr/bin/env bash
# Installs the built wheel into a brand-new venv (only numpy beside it) and runs the README's
# quick start there: proves the wheel works for a user on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(mktemp -d)/venv
python3 -m venv "$venv"
"$venv/bin/pip" install -q dist/numpack-*.whl
cd "$(mktemp -d)"
"$venv/bin/python" - <<'PY'
import numpy as np
from numpack import NumPack
with NumPack("data.npk") as npk:
    npk.save({'embeddings': np.random.rand(10000, 128).astype(np.float32)})
    data = npk.load("embeddings")
    lazy = npk.load("embeddings", lazy=True)
    npk.replace({'embeddings': data[:3] * 2}, indices=[0, 1, 2])
    npk.append({'embeddings': data[:5]})
    npk.drop('embeddings', [0, 1, 2])
    subset = npk.getitem('embeddings', [100, 200, 300])
    assert npk.get_shape('embeddings') == (10002, 128) and subset.shape == (3, 128)
print("fresh venv: wheel installs and the quick start runs")
PY
rm -rf "$(dirname "$venv")"
