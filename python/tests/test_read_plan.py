"""Reads that take the read plan's fast and parallel paths, checked against NumPy on the same
data: big contiguous copies (cut into chunks that two threads share), gathers of fixed-width
rows of every specialised width and an odd one, long gathers of every dtype, and the same
reads after dropped rows."""

import numpy as np
import pytest

from conftest import DTYPES, random_array
from numpack import NumPack


def test_big_loads_and_slices_match_numpy(tmp_path):
    rng = np.random.default_rng(1)
    a = rng.integers(0, 2**31, size=(1_300_001, 4), dtype=np.int32)  # ~20.8 MB, odd rows
    with NumPack(tmp_path / "s.npk") as npk:
        npk.save({"a": a})
        assert np.array_equal(npk.load("a"), a)
        for sl in (slice(1, None), slice(3, -5), slice(None, None, -1), slice(7, None, 2)):
            assert np.array_equal(npk.getitem("a", sl), a[sl]), sl
        npk.drop("a", [0, 5, 600_000])
        kept = np.delete(a, [0, 5, 600_000], axis=0)
        assert np.array_equal(npk.load("a"), kept)
        assert np.array_equal(npk.getitem("a", slice(2, None)), kept[2:])


@pytest.mark.parametrize("rows", ["small", "big"])
@pytest.mark.parametrize("cols", [1, 2, 3, 4, 6, 8, 10, 12, 16, 32, 7])
def test_gathers_of_every_row_width_match_numpy(tmp_path, cols, rows):
    # A big array (over 1 MiB) is gathered with look-ahead, a small one without.
    n = 3_000 if rows == "small" else (1 << 20) // (4 * cols) + 3_000
    rng = np.random.default_rng(cols)
    a = rng.standard_normal((n, cols)).astype(np.float32)
    idx = rng.integers(-n, n, size=1_500)
    idx[100:140] = np.arange(40)  # a run of consecutive rows, merged into one span
    with NumPack(tmp_path / "s.npk") as npk:
        npk.save({"a": a})
        assert np.array_equal(npk.getitem("a", idx), a[idx])
        assert np.array_equal(npk.getitem("a", np.sort(idx)), a[np.sort(idx)])
        assert np.array_equal(npk.load("a", lazy=True)[idx], a[idx])
        npk.drop("a", [1, 2, n - 1])
        kept = np.delete(a, [1, 2, n - 1], axis=0)
        j = idx % len(kept)
        assert np.array_equal(npk.getitem("a", j), kept[j])
        with pytest.raises(IndexError):
            npk.getitem("a", np.array([0, len(kept)]))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1_500,), (1_500, 3), "big"])
def test_long_gathers_of_every_dtype_match_numpy_fancy_indexing(tmp_path, dtype, shape):
    """Gathers long enough to cross the copy's batches and prefetch distance (hundreds of
    spans), over a segmented array with dropped rows: random, sorted, duplicated and negative
    indices and strided slices, through getitem and LazyArray, against NumPy's fancy indexing
    of the same rows. A "big" array (over 1 MiB) is gathered with look-ahead, the others
    without."""
    if shape == "big":
        shape = ((1 << 20) // np.dtype(dtype).itemsize + 1_000,)
    rng = np.random.default_rng(len(shape) * 100 + DTYPES.index(dtype))
    a = random_array(rng, dtype, shape)
    more = random_array(rng, dtype, (700,) + shape[1:])
    with NumPack(tmp_path / "s.npk") as npk:
        npk.save({"a": a})
        npk.append({"a": more})
        model = np.concatenate([a, more])
        dropped = rng.choice(len(model), size=90, replace=False)
        npk.drop("a", dropped)
        model = np.delete(model, dropped, axis=0)
        n = len(model)
        idx = rng.integers(-n, n, size=3_000)
        idx[500:700] = idx[300:500]  # duplicates
        idx[900:1_000] = np.arange(1_400, 1_500)  # a run crossing the appended segment
        keys = [idx, np.sort(idx), idx[::-1].copy(), idx.astype(np.int32), list(idx[:400].tolist())]
        lazy = npk.load("a", lazy=True)
        for key in keys:
            want = model[key]
            got = npk.getitem("a", key)
            assert got.dtype == want.dtype and got.shape == want.shape
            np.testing.assert_array_equal(got, want)
            np.testing.assert_array_equal(lazy[key], want)
        for sl in (slice(None, None, 3), slice(-2, None, -7), slice(5, n - 5, 2)):
            np.testing.assert_array_equal(npk.getitem("a", sl), model[sl])
            np.testing.assert_array_equal(lazy[sl], model[sl])
        bad = idx.copy()
        bad[2_500] = n
        with pytest.raises(IndexError):
            npk.getitem("a", bad)
        bad[2_500] = -n - 1
        with pytest.raises(IndexError):
            lazy[bad]
        with pytest.raises(ValueError):
            npk.getitem("a", idx.astype(np.float64))
        np.testing.assert_array_equal(npk.load("a"), model)  # the failed calls changed nothing
