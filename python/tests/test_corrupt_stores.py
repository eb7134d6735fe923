"""Corrupted whole stores (issue 9): bit flips, truncations, deleted and swapped files, huge
declared shapes, hostile journals and leftover temporary files, each opened, read every way,
written and reopened in a child process under a 4 GiB address-space limit. A crash, an abort,
a hang or an undocumented exception fails the case it happened in.

``make test`` runs 300 cases; the longer run is
``NUMPACK_CORRUPT_CASES=100000 python -m pytest python/tests/test_corrupt_stores.py``, or split
over cores with ``NUMPACK_CORRUPT_FIRST`` (the number of the first case) in each of several runs.
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from child_runner import run_cases  # noqa: E402

CHILD = Path(__file__).with_name("corrupt_stores_child.py")


def test_corrupted_stores_never_crash_hang_or_raise_undocumented_errors(tmp_path):
    total, verdicts = run_cases(CHILD, tmp_path, 30, {"NUMPACK_LOCK_TIMEOUT": "5"})
    assert total == int(os.environ.get("NUMPACK_CORRUPT_CASES", "300"))
    assert sorted(k for k in verdicts if k >= 0) == list(range(total))
    bad = [f"case {i}: {v}" for i, v in sorted(verdicts.items()) if v != "ok"]
    assert not bad, f"{len(bad)} of {total} corrupted stores misbehaved:\n" + "\n".join(bad[:40])
