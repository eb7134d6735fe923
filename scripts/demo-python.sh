#!/usr/bin/env bash
# The Python quick start: builds the wheel into .venv (if the sources changed), then saves,
# lazy-loads, replaces, appends, drops and reopens a store, then runs vector searches on it (in
# memory, over the LazyArray, streamed from the folder), printing what it did. The last
# line of stdout is the path of the store it leaves (a float32 `embeddings` array) for the
# Node demo.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYO3_PYTHON="$PWD/.venv/bin/python"
stamp=dist/.numpack-wheel-stamp
if [ ! -f "$stamp" ] || [ -n "$(find native core python/numpack python/pyproject.toml -newer "$stamp" -type f 2>/dev/null | head -1)" ] \
   || ! .venv/bin/python -c "import numpack" 2>/dev/null; then
  rm -f dist/numpack-*.whl
  (cd python && ../.venv/bin/maturin build --release -o ../dist) >&2
  .venv/bin/pip install -q --force-reinstall --no-deps dist/numpack-*.whl >&2
  touch "$stamp"
fi
mkdir -p bench-out
cd /tmp && exec "$OLDPWD/.venv/bin/python" "$OLDPWD/python/examples/quick_start.py" "$OLDPWD/bench-out/demo.npk"
