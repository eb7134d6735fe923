"""``python -m numpack``: the ``numpack`` command line (see :mod:`numpack.cli`)."""

from .cli import run

if __name__ == "__main__":
    run()
