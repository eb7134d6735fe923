"""Reads that take the read plan's fast and parallel paths, checked against NumPy on the same
data: big contiguous copies (cut into chunks that two threads share), gathers of fixed-width
rows of every specialised width and an odd one, and the same reads after dropped rows."""

import numpy as np
import pytest

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


@pytest.mark.parametrize("cols", [1, 2, 3, 4, 6, 8, 10, 12, 16, 32, 7])
def test_gathers_of_every_row_width_match_numpy(tmp_path, cols):
    rng = np.random.default_rng(cols)
    a = rng.standard_normal((3_000, cols)).astype(np.float32)
    idx = rng.integers(-3_000, 3_000, size=1_500)
    idx[100:140] = np.arange(40)  # a run of consecutive rows, merged into one span
    with NumPack(tmp_path / "s.npk") as npk:
        npk.save({"a": a})
        assert np.array_equal(npk.getitem("a", idx), a[idx])
        assert np.array_equal(npk.getitem("a", np.sort(idx)), a[np.sort(idx)])
        assert np.array_equal(npk.load("a", lazy=True)[idx], a[idx])
        npk.drop("a", [1, 2, 2_999])
        kept = np.delete(a, [1, 2, 2_999], axis=0)
        j = idx % len(kept)
        assert np.array_equal(npk.getitem("a", j), kept[j])
        with pytest.raises(IndexError):
            npk.getitem("a", np.array([0, len(kept)]))
