# The two commands: `make demo` and `make test`. Both install what they need first (idempotent).
SHELL := /bin/bash
.PHONY: setup test demo bench docs

setup:
	@bash scripts/setup.sh

test: setup
	bash scripts/check-gates.sh
	bash scripts/test-rust.sh
	bash scripts/test-aarch64.sh
	bash scripts/build-wasm.sh   # the Python cross-runtime lock tests drive Node over js/dist
	bash scripts/test-python.sh
	bash scripts/test-js.sh

demo: setup
	bash scripts/demo-python.sh
	bash scripts/demo-node.sh

bench: setup
	bash scripts/bench.sh

# The documentation site in site/: guides, Python reference (docstrings), JS reference (js/types).
docs:
	bash scripts/build-docs.sh site
