"""The bad-call matrix (issue 9): every public call of the package (except the vector engine,
covered by its own tests) with wrong types, shapes, dtypes, strided/0-d/empty inputs, NaN,
huge and negative indices, unknown and hostile names, and calls after close.

The cases live in ``bad_calls_child.py`` and run in child processes, so that a crash (a
signal, an abort) or a hang is a failure of the case it happened in, not of the test run: the
child reports each case's start and end, and after a crash a new child carries on with the
next case. Each case must raise a documented exception type (KeyError, IndexError,
ValueError, TypeError, MemoryError, OSError or the NumPackError family) and leave the store
folder byte-for-byte as it was.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from child_runner import run_cases  # noqa: E402

CHILD = Path(__file__).with_name("bad_calls_child.py")
#: A case that makes no progress for this long is a hang.
HANG_SECONDS = 30


def run_matrix(work: Path):
    """``(total, {case index: verdict})`` over all cases of ``bad_calls_child.py``."""
    return run_cases(CHILD, work, HANG_SECONDS, {"NUMPACK_LOCK_TIMEOUT": "5"})


def test_every_bad_call_raises_a_documented_error_and_changes_nothing(tmp_path):
    sys.path.insert(0, str(CHILD.parent))
    try:
        import bad_calls_child
    finally:
        sys.path.pop(0)
    total, verdicts = run_matrix(tmp_path)
    names = [c[0] for c in bad_calls_child.cases()]
    assert total == len(names) and total > 400
    bad = [f"{names[i] if i >= 0 else 'the child process'}: {v}" for i, v in sorted(verdicts.items()) if v != "ok"]
    assert sorted(k for k in verdicts if k >= 0) == list(range(total))
    assert not bad, f"{len(bad)} of {total} bad calls misbehaved:\n" + "\n".join(bad)


def test_the_matrix_counts_crashes_and_undocumented_errors(tmp_path, monkeypatch):
    """The harness itself: an abort, an undocumented exception and a call that raises nothing
    are each reported against their own case, and the cases after a crash still run."""
    extra = ["import os; os.abort()", "raise RuntimeError('undocumented')", "pass",
             "npk.getitem('f', 99)"]
    monkeypatch.setenv("BAD_CALLS_EXTRA", "\n#\n".join(extra))
    total, verdicts = run_matrix(tmp_path)
    tail = [verdicts[i] for i in range(total - 4, total)]
    assert tail[0].startswith("CRASH"), tail
    assert tail[1].startswith("FAIL undocumented builtins.RuntimeError"), tail
    assert tail[2] == "FAIL no exception", tail
    assert tail[3] == "ok", tail


def test_huge_sizes_and_bounds_behave_as_numpy(tmp_path):
    """Issue 9 item 17: sizes and bounds beyond 64 bits are values (as in NumPy), never an
    OverflowError."""
    import numpy as np

    from numpack import NumPack

    a = np.arange(24, dtype=np.float64).reshape(8, 3)
    big = 10**30
    with NumPack(tmp_path / "s.npk") as npk:
        npk.save({"a": a})
        blocks = list(npk.stream_load("a", big))
        assert len(blocks) == 1 and np.array_equal(blocks[0], a)
        lazy = npk.load("a", lazy=True)
        for key in (slice(-big, big), slice(None, None, big), slice(None, None, -big), slice(big, -big, -1),
                    slice(2, big, 3), slice(-big, 3)):
            assert np.array_equal(npk.getitem("a", key), a[key]), key
            assert np.array_equal(lazy[key], a[key]), key
        for call in (lambda: npk.getitem("a", big), lambda: npk.getitem("a", [0, -big]), lambda: lazy[big],
                     lambda: lazy.vectorized_gather([big]), lambda: npk.drop("a", big),
                     lambda: npk.replace({"a": a[:1]}, -big)):
            try:
                call()
            except IndexError:
                pass
            else:
                raise AssertionError("an index beyond 64 bits selected a row")
        assert np.array_equal(npk.load("a"), a)


def test_nested_batch_mode_joins_the_active_one(tmp_path):
    """Issue 9 item 17: a batch_mode() entered inside another joins it (it raised a bare
    RuntimeError). Leaving the inner block writes what is pending; the cache lives until the
    outermost block ends."""
    import numpy as np

    from numpack import NumPack

    path = tmp_path / "s.npk"
    with NumPack(path) as npk:
        npk.save({"a": np.zeros(4)})
        with npk.batch_mode() as outer:
            a = npk.load("a")
            a[0] = 1
            npk.save({"a": a})
            with npk.batch_mode() as inner:
                assert npk.load("a") is a  # the outer cache, shared
                a[1] = 2
                npk.save({"a": a})
            with NumPack(path) as other:  # the inner exit wrote the pending array
                assert other.load("a").tolist() == [1, 2, 0, 0]
            assert npk._batch is outer and inner is not outer
            a[2] = 3
            npk.save({"a": a})
            with outer:  # re-entering the active one is nesting too
                pass
            assert npk._batch is outer
        assert npk._batch is None
        assert npk.load("a").tolist() == [1, 2, 3, 0]
