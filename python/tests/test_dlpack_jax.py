"""DLPack with a real consumer: JAX (CPU) imports loaded and lazy arrays through
``jax.dlpack.from_dlpack`` / ``jnp.from_dlpack``. JAX on CPU copies what it imports (its buffer
pointer never equals the source's here, even for 64-byte-aligned writable numpy arrays), so the
values, dtype and shape are what is checked, against numpy's own reading of the same store."""

import numpy as np

import jax
import jax.numpy as jnp

from numpack import NumPack


def _check(got, want):
    assert isinstance(got, jax.Array)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_array_equal(np.asarray(got), want)


def test_jax_imports_loaded_and_lazy_arrays(tmp_path):
    rng = np.random.default_rng(3)
    emb = rng.standard_normal((257, 9)).astype(np.float32)
    ids = rng.integers(-(2**31), 2**31 - 1, size=(40, 3), dtype=np.int32)
    with NumPack(tmp_path / "s.npk") as npk:
        npk.save({"emb": emb, "ids": ids})
        for name, want in (("emb", emb), ("ids", ids)):
            loaded = npk.load(name)
            lazy = npk.load(name, lazy=True)
            for import_ in (jax.dlpack.from_dlpack, jnp.from_dlpack):
                _check(import_(loaded), want)
                _check(import_(lazy), want)  # read-only mapping: JAX's pre-1.0 request gets a copy
        npk.drop("emb", [0, 100, 256])
        live = np.delete(emb, [0, 100, 256], axis=0)
        _check(jnp.from_dlpack(npk.load("emb", lazy=True)), live)
        _check(jax.dlpack.from_dlpack(npk.load("emb")), live)
        # The imported array is JAX's own: later writes to the store do not reach it.
        before = jnp.from_dlpack(npk.load("ids", lazy=True))
        npk.replace({"ids": np.zeros((1, 3), dtype=np.int32)}, [0])
        _check(before, ids)
