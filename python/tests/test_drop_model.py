"""Row drops against a NumPy model: sequences of drops given in every index form the store
takes (int64 arrays with any strides or order, with duplicates and negative indices, other
integer dtypes, lists, slices, masks, single ints), checked after each step from the same
handle and from a store reopened from disk, over two arrays dropped together."""

import numpy as np
import pytest

from numpack import NumPack


def forms(rng, n):
    """(description, index as the user passes it, logical rows it drops) for `n` live rows."""
    pick = rng.choice(n, min(n, 7), replace=False)
    base = np.sort(rng.choice(n, min(n, 12), replace=False)).astype(np.int64)
    mask = rng.random(n) < 0.05
    start = int(rng.integers(0, n))
    yield "contiguous int64", pick.astype(np.int64), pick
    yield "strided int64 view", base[::2], base[::2]
    yield "reversed int64 view", base[::-1], base
    yield "int64 with duplicates", np.concatenate([pick, pick]).astype(np.int64), pick
    yield "negative int64", (pick - n).astype(np.int64), pick
    yield "int32", pick.astype(np.int32), pick
    yield "uint16", pick.astype(np.uint16) if n < 65536 else pick.astype(np.uint32), pick
    yield "2-d int64", pick.astype(np.int64).reshape(1, -1), pick
    yield "list", [int(v) for v in pick], pick
    yield "slice", slice(start, None, 5), np.arange(n)[start::5]
    yield "mask", mask, np.flatnonzero(mask)
    yield "int", int(pick[0]), pick[:1]


@pytest.mark.parametrize("seed", [0, 1])
def test_drop_sequences_match_a_numpy_model_after_reopening(tmp_path, seed):
    rng = np.random.default_rng(seed)
    path = tmp_path / "s.npk"
    a = rng.standard_normal((3000, 3)).astype(np.float32)
    b = np.arange(3000, dtype=np.int64)
    model = {"a": a, "b": b}
    with NumPack(path) as npk:
        npk.save(model)
        for _ in range(3):
            for k in range(12):
                n = len(model["a"])
                what, index, dropped = list(forms(rng, n))[k]
                npk.drop(["a", "b"], index)
                keep = np.ones(n, dtype=bool)
                keep[dropped] = False
                model = {name: v[keep] for name, v in model.items()}
                n = len(model["a"])
                for name, v in model.items():
                    np.testing.assert_array_equal(npk.load(name), v, err_msg=what)
                with NumPack(path) as other:
                    for name, v in model.items():
                        np.testing.assert_array_equal(other.load(name), v, err_msg=f"{what}, reopened")
                        assert other.get_shape(name) == v.shape
                    np.testing.assert_array_equal(other.load("a", lazy=True)[n // 2 :], model["a"][n // 2 :])


def test_refused_drops_change_nothing(tmp_path):
    path = tmp_path / "s.npk"
    a = np.arange(100, dtype=np.float64)
    with NumPack(path) as npk:
        npk.save({"a": a})
        npk.drop("a", np.array([3], dtype=np.int64))
        before = npk.load("a")
        for bad, err in [
            (np.array([0, 99], dtype=np.int64), IndexError),  # 99 is past the 99 live rows
            (np.array([-100], dtype=np.int64), IndexError),
            (np.array([1.0]), ValueError),
            (np.ones(98, dtype=bool), IndexError),
        ]:
            with pytest.raises(err):
                npk.drop("a", bad)
            np.testing.assert_array_equal(npk.load("a"), before)
    with NumPack(path) as other:
        np.testing.assert_array_equal(other.load("a"), before)
