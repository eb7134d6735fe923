#!/usr/bin/env bash
# Builds the numpack wheel (release), installs it into .venv, and runs the pytest suite.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYO3_PYTHON="$PWD/.venv/bin/python"
rm -f dist/numpack-*.whl
(cd python && ../.venv/bin/maturin build --release -o ../dist)
.venv/bin/pip install -q --force-reinstall --no-deps dist/numpack-*.whl
if [ "${1:-}" = "--build-only" ]; then exit 0; fi
# The cross-runtime lock tests run Node over js/dist (make test builds it first).
[ -f js/dist/wasm/numpack_wasm_bg.wasm ] || bash scripts/build-wasm.sh
# Run from outside python/ so the installed wheel (not the source folder) is imported.
cd /tmp
status=0
"$OLDPWD/.venv/bin/python" -m pytest -q -p no:cacheprovider "$OLDPWD/python/tests" "$@" || status=$?
# The examples in the docstrings of the installed package run as doctests.
[ "$status" = 0 ] && { "$OLDPWD/.venv/bin/python" -m pytest -q -p no:cacheprovider --doctest-modules --pyargs numpack || status=$?; }
if [ "$status" = 5 ]; then
  echo "pytest collected no tests" >&2
  exit 1
fi
[ "$status" = 0 ] || exit "$status"
cd "$OLDPWD"
bash scripts/smoke-fresh-venv.sh
