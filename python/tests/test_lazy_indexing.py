"""LazyArray indexing equals NumPy indexing on the same logical data, with and without drops."""

import numpy as np
import pytest

from numpack import NumPack

KEYS = [
    0, 5, -1, -12, np.int64(3),
    slice(None), slice(2, 9), slice(None, None, 3), slice(-3, None), slice(10, 2, -2), slice(None, None, -1), slice(50, 60),
    [0, 3, 3, -1], np.array([5, 1, 0]), np.array([], dtype=np.int64), np.array([[1, 2], [3, 4]]),
    (1, 2), (-1, -1), (slice(1, 5), 1), (slice(None), [0, 2]), ([0, 2, 4], [1, 1, 0]), ([1, 3], slice(1, None)),
    (Ellipsis, 1), (None, 2), (2, None), (slice(None, None, 2), None, 0), Ellipsis, (), (0, Ellipsis),
    np.array([[0], [2]]), ([[0], [2]], [1, 2]),
]


@pytest.fixture(params=["no drops", "after drops"])
def data(request, tmp_path, rng):
    a = rng.standard_normal((24, 3)).astype(np.float32)
    with NumPack(tmp_path / "s.npk") as npk:
        npk.save({"a": a})
        if request.param == "after drops":
            npk.drop("a", [0, 4, 5, 17, -1])
            a = np.delete(a, [0, 4, 5, 17, 23], axis=0)
        yield npk.load("a", lazy=True), a


@pytest.mark.parametrize("key", KEYS, ids=repr)
def test_indexing_matches_numpy(data, key):
    lazy, a = data
    want = a[key]
    got = lazy[key]
    assert np.shape(got) == np.shape(want)
    np.testing.assert_array_equal(got, want)
    if isinstance(want, np.ndarray):
        assert got.dtype == want.dtype


def test_masks_match_numpy(data, rng):
    lazy, a = data
    mask = rng.integers(0, 2, len(a)).astype(bool)
    np.testing.assert_array_equal(lazy[mask], a[mask])
    np.testing.assert_array_equal(lazy[mask, 1:], a[mask, 1:])
    mask2 = rng.integers(0, 2, a.shape).astype(bool)
    np.testing.assert_array_equal(lazy[mask2], a[mask2])
    with pytest.raises(IndexError):
        lazy[np.ones(len(a) + 1, bool)]


@pytest.mark.parametrize("key", [lambda n: n, lambda n: -n - 1, lambda n: [0, n], lambda n: (0, 3), lambda n: 1.5])
def test_bad_indices_raise_index_error(data, key):
    lazy, a = data
    k = key(len(a)) if callable(key) else key
    with pytest.raises(IndexError):
        a[k]
    with pytest.raises(IndexError):
        lazy[k]


def test_one_d_int_is_a_scalar(tmp_path):
    with NumPack(tmp_path / "s.npk") as npk:
        npk.save({"v": np.arange(10, dtype=np.int32)})
        npk.drop("v", [0])
        lazy = npk.load("v", lazy=True)
        assert lazy[0] == 1 and np.ndim(lazy[0]) == 0
        assert list(lazy) == list(range(1, 10))
        assert np.asarray(lazy).tolist() == list(range(1, 10))
        with pytest.raises(ValueError):
            np.asarray(lazy, copy=False)
