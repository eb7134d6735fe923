"""Every dtype × ndim 1–3 × operation, against the same operations on a NumPy model."""

import numpy as np
import pytest

from conftest import DTYPES, random_array
from numpack import NumPack

SHAPES = {1: (17,), 2: (17, 3), 3: (17, 2, 3)}


@pytest.mark.parametrize("ndim", [1, 2, 3])
@pytest.mark.parametrize("dtype", DTYPES)
def test_every_operation_matches_numpy(tmp_path, rng, dtype, ndim):
    shape = SHAPES[ndim]
    model = random_array(rng, dtype, shape)
    path = tmp_path / "s.npk"
    with NumPack(path) as npk:
        npk.save({"a": model})
        np.testing.assert_array_equal(npk.load("a"), model)
        assert npk.load("a").dtype == model.dtype
        # replace
        rows = random_array(rng, dtype, (3,) + shape[1:])
        npk.replace({"a": rows}, [1, -2, 5])
        model[[1, -2, 5]] = rows
        # append
        more = random_array(rng, dtype, (4,) + shape[1:])
        npk.append({"a": more})
        model = np.concatenate([model, more])
        # drop rows
        npk.drop("a", [0, 7, -1])
        model = np.delete(model, [0, 7, len(model) - 1], axis=0)
        assert npk.get_shape("a") == model.shape
        np.testing.assert_array_equal(npk.load("a"), model)
        # replace after drops uses logical rows
        row = random_array(rng, dtype, (1,) + shape[1:])
        npk.replace({"a": row}, slice(2, 3))
        model[2:3] = row
        # getitem and lazy access
        idx = [3, 0, -1, 3]
        np.testing.assert_array_equal(npk.getitem("a", idx), model[idx])
        lazy = npk.load("a", lazy=True)
        np.testing.assert_array_equal(np.asarray(lazy), model)
        np.testing.assert_array_equal(lazy[::-2], model[::-2])
        np.testing.assert_array_equal(lazy[1], model[1])
        # clone + compaction
        npk.clone("a", "b")
        npk.update("a")
        np.testing.assert_array_equal(npk.load("a"), model)
        np.testing.assert_array_equal(npk.load("b"), model)
        lazy = npk.load("a", lazy=True)
        view = np.asarray(lazy)
        assert not view.flags.owndata
        np.testing.assert_array_equal(view, model)
    # reopen
    with NumPack(path) as npk:
        np.testing.assert_array_equal(npk.load("a"), model)
        assert npk.get_metadata()["arrays"]["a"]["shape"] == list(model.shape)


@pytest.mark.parametrize("dtype", DTYPES)
def test_zero_d_and_empty_arrays(tmp_path, rng, dtype):
    with NumPack(tmp_path / "s.npk") as npk:
        scalar = random_array(rng, dtype, ())
        empty = random_array(rng, dtype, (0, 3))
        npk.save({"s": scalar, "e": empty})
        got = npk.load("s")
        assert got.shape == () and got.dtype == scalar.dtype and got == scalar
        assert npk.load("e").shape == (0, 3)
        assert npk.load("e", lazy=True).shape == (0, 3)
        assert np.asarray(npk.load("s", lazy=True)) == scalar
        npk.append({"e": random_array(rng, dtype, (2, 3))})
        assert npk.get_shape("e") == (2, 3)
