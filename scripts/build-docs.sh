#!/usr/bin/env bash
# `make docs`: the static documentation site in site/ (or $1): guides (README.md, docs/*.md,
# js/README.md), the Python API reference from the docstrings of python/numpack (read with ast,
# so no build or import is needed) and the JS API reference from js/types/index.d.ts. Needs only
# python3 and node; takes about a second. Open site/index.html.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-site}"
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
python3 scripts/docs/pyref.py python/numpack > "$tmp"
node scripts/docs/build.mjs "$out" "$tmp"
