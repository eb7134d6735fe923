"""The write cast rule (decided once, in the core): replace and append take rows of any dtype
NumPy's ``np.can_cast(src, dst, "same_kind")`` allows and store ``rows.astype(dst)``; any other
pair is a TypeError that leaves the store byte for byte as it was. Checked over every pair of
the 14 dtypes against NumPy itself."""

import os

import numpy as np
import pytest

from conftest import DTYPES
from numpack import NumPack
from numpack import _dtypes


def edge_values(dtype):
    """Values of ``dtype`` that exercise a cast: extremes, wrap-around, rounding, inf and nan."""
    dt = np.dtype(dtype)
    if dt.kind == "b":
        return np.array([True, False, True, True, False, False], dtype=dt)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        vals = [info.min, info.max, 0, 1, 127, 128, 255, 256, 2049, 65504, 65519, 65520, 65535,
                65536, 2**24 + 1, 2**31 - 1, 2**53 + 1, 2**63 - 1, 2**64 - 1]
        vals += [-1, -129, -2049, -65519, -(2**24) - 1, -(2**53) - 1, -(2**63)]
        return np.array([v for v in vals if info.min <= v <= info.max], dtype=dt)
    vals = [0.0, -0.0, 1 / 3, 0.1, -2.5, 1e10, -1e300, 65504.0, 65519.0, 65520.0, 6e-8, 2.98e-8,
            1e-40, 3.4028235e38, 1 + 2**-11, 1 + 2**-24, 1 + 2**-11 + 2**-40, -(1 + 2**-11 + 2**-40),
            2**-25 + 2**-60, np.inf, -np.inf, np.nan]
    if dt.kind == "c":
        return np.array([complex(v, w) for v, w in zip(vals, reversed(vals))], dtype=dt)
    with np.errstate(over="ignore"):
        return np.array(vals, dtype=dt)


def snapshot(folder):
    """Every file of the store folder and its bytes."""
    out = {}
    for name in sorted(os.listdir(folder)):
        p = os.path.join(folder, name)
        if os.path.isfile(p):
            with open(p, "rb") as f:
                out[name] = f.read()
    return out


def expected(src, dst):
    with np.errstate(all="ignore"):
        return src.astype(dst)


@pytest.mark.parametrize("dst", DTYPES)
@pytest.mark.parametrize("src", DTYPES)
def test_replace_and_append_cast_like_numpy_same_kind(tmp_path, src, dst):
    values = edge_values(src)
    n = len(values)
    rows = values.reshape(n, 1)
    base = np.zeros((n + 2, 1), dtype=dst)
    path = tmp_path / "s.npk"
    with NumPack(path) as npk:
        npk.save({"a": base})
        before = snapshot(path)
        idx = list(range(1, n + 1))
        if np.can_cast(src, dst, "same_kind"):
            npk.replace({"a": rows}, idx)
            npk.append({"a": rows})
            model = base.copy()
            model[1:n + 1] = expected(rows, dst)
            model = np.concatenate([model, expected(rows, dst)])
            got = npk.load("a")
            assert got.dtype == np.dtype(dst)
            np.testing.assert_array_equal(got, model)
            # The binding's own cast (used by the dask writer) is the same rule and values.
            np.testing.assert_array_equal(_dtypes.cast_to(rows, np.dtype(dst), "a"), expected(rows, dst))
        else:
            with pytest.raises(TypeError, match="same_kind"):
                npk.replace({"a": rows}, idx)
            with pytest.raises(TypeError, match="same_kind"):
                npk.append({"a": rows})
            with pytest.raises(TypeError, match="same_kind"):
                _dtypes.cast_to(rows, np.dtype(dst), "a")
            assert snapshot(path) == before
            np.testing.assert_array_equal(npk.load("a"), base)


def test_a_refused_cast_in_a_multi_array_call_writes_nothing(tmp_path):
    path = tmp_path / "s.npk"
    with NumPack(path) as npk:
        npk.save({"f": np.zeros((4, 2), np.float32), "u": np.zeros((4, 2), np.uint8)})
        before = snapshot(path)
        good = np.ones((2, 2), np.float64)  # float64 -> float32: allowed
        bad = -np.ones((2, 2), np.int8)  # int8 -> uint8: refused
        with pytest.raises(TypeError):
            npk.replace({"f": good, "u": bad}, [0, 1])
        with pytest.raises(TypeError):
            npk.append({"f": good, "u": bad})
        assert snapshot(path) == before


def test_one_row_without_the_leading_axis_and_python_values(tmp_path):
    path = tmp_path / "s.npk"
    with NumPack(path) as npk:
        npk.save({"a": np.zeros((3, 2), np.float32), "i": np.zeros(3, np.int16)})
        npk.replace({"a": [1.5, 2.5]}, 1)  # one row, no leading axis, float64 values
        npk.append({"a": np.array([7, 8], np.int64)})  # int64 -> float32
        npk.replace({"i": 5}, [2])  # a 0-d Python int (int64 -> int16 is same_kind)
        np.testing.assert_array_equal(
            npk.load("a"), np.array([[0, 0], [1.5, 2.5], [0, 0], [7, 8]], np.float32))
        np.testing.assert_array_equal(npk.load("i"), np.array([0, 0, 5], np.int16))
        with pytest.raises(TypeError):
            npk.replace({"i": 1.5}, [0])  # float64 -> int16 is not same_kind
        with pytest.raises(ValueError):
            npk.replace({"a": np.zeros(3, np.float32)}, 1)  # not a row of shape (2,)
        with pytest.raises(KeyError):
            npk.replace({"missing": np.zeros(2)}, 0)
