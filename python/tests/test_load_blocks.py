"""Big eager loads (≥ 16 MiB) go into reused, already-faulted blocks: a reused block must hold
exactly the new array's values, and two live results never share memory."""

import gc

import numpy as np

from numpack import NumPack

ROWS = 1 << 20  # 1M × 4 float64 = 32 MiB, above the block threshold


def test_reused_blocks_hold_exactly_the_new_values(tmp_path, rng):
    a = rng.standard_normal((ROWS, 4))
    b = rng.standard_normal((ROWS, 4))
    c = rng.integers(-(2**62), 2**62, size=(ROWS, 4))
    with NumPack(tmp_path / "s.npk") as npk:
        npk.save({"a": a, "b": b, "c": c})
        for _ in range(3):
            x = npk.load("a")
            np.testing.assert_array_equal(x, a)
            x[:] = np.nan  # dirty the block before it is handed back
            del x
            gc.collect()
            y = npk.load("b")  # same byte size: may reuse the block just freed
            np.testing.assert_array_equal(y, b)
            z = npk.load("c")  # same size again, while `y` is alive
            np.testing.assert_array_equal(z, c)
            assert not np.shares_memory(y, z)
            # Writes into one result never show in the other, nor in the store.
            y[0, 0] = 12345.0
            np.testing.assert_array_equal(z, c)
            del y, z
            gc.collect()
        np.testing.assert_array_equal(npk.load("b"), b)
        # Selections and a different size still come out right after the reuse.
        np.testing.assert_array_equal(npk.load("a")[::7], a[::7])
        np.testing.assert_array_equal(npk.getitem("c", list(range(0, ROWS, 1000))), c[::1000])
