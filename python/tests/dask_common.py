"""Shared by the numpack.dask tests: stores with drops, shard sets, the in-memory reference."""

import os

import numpy as np

from numpack import NumPack

# (dtype, shape) cases for from_npk / to_npk: ranks 0–3, empty, every dtype family.
CASES = [
    ("float32", (257, 5)),
    ("float64", (100,)),
    ("int16", (64, 3, 4)),
    ("uint8", (90, 16)),
    ("bool", (33, 2)),
    ("complex64", (40, 3)),
    ("int64", ()),
    ("float16", (0, 4)),
]


def store_with_drops(path, name, arr, rng):
    """Saves ``arr`` in a new store at ``path``, drops a few rows; returns the live rows."""
    with NumPack(path) as npk:
        npk.save({name: arr})
        if arr.ndim >= 1 and len(arr) > 3:
            drop = np.unique(rng.integers(0, len(arr), size=max(1, len(arr) // 7)))
            npk.drop(name, drop)
            return np.delete(arr, drop, axis=0)
    return arr


def make_shards(tmp_path, rng, metric, sizes=(37, 0, 52, 41)):
    """Shard stores holding ``vecs`` (with a dropped row in one), the concatenation of live rows,
    and queries; uint8 bits for hamming, float32 otherwise. A few rows are duplicated across
    shards so that ties between shards decide by global index."""
    dim = 8
    paths, live = [], []
    for i, n in enumerate(sizes):
        if metric == "hamming":
            v = rng.integers(0, 256, size=(n, dim), dtype=np.uint8)
        else:
            v = rng.standard_normal((n, dim)).astype(np.float32)
        if i > 0 and n > 2 and live and len(live[0]) > 2:
            v[:2] = live[0][:2]  # exact ties across shards
        p = os.path.join(tmp_path, f"shard{i}.npk")
        with NumPack(p) as npk:
            npk.save({"vecs": v})
            if n > 5 and i == 2:
                npk.drop("vecs", [3])
                v = np.delete(v, [3], axis=0)
        paths.append(p)
        live.append(v)
    allv = np.concatenate(live)
    if metric == "hamming":
        q = rng.integers(0, 256, size=(6, dim), dtype=np.uint8)
    else:
        q = rng.standard_normal((6, dim)).astype(np.float32)
    q[0] = allv[1]
    return paths, allv, q
