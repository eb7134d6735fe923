"""``from_npk``: a stored array as a dask array."""

import functools
import itertools
from typing import Any, Dict, Optional, Tuple

import dask.array as da
import numpy as np
from dask.base import tokenize

from ._ref import Identity, StoreRef, read_rows


def _block(ref: StoreRef, name: str, expect: Identity, start: int, stop: int, tail: Tuple[slice, ...]) -> np.ndarray:
    """One chunk: rows ``start:stop`` (a 0-d array: its value), then the trailing slices."""
    rows = read_rows(ref, name, expect, start, stop)
    if not expect[2]:
        return rows
    return rows[(slice(None),) + tail] if tail else rows


def from_npk(path: Any, name: str, chunks: Any = "auto", *, storage_options: Optional[Dict[str, Any]] = None) -> da.Array:
    """The live (logical) rows of array ``name`` of the store at ``path`` (a folder, a URL, or
    an open :class:`numpack.NumPack`) as a dask array.

    Building it reads only the catalogue. Each task reads its rows through the store's read
    path (one lock, runs of rows coalesced; on object storage only those byte ranges). The graph
    holds the path or URL (and ``storage_options``), not data, so workers on other machines that
    see the same path or URL can run it.

    If the array changes between building the graph and computing it (a save, append, drop or
    replace; another array changing does not matter), every task that notices raises
    :class:`StoreChangedError`: a result never mixes two states. ``chunks`` is anything
    ``dask.array`` accepts (``"auto"``, a row count, a tuple per axis).
    """
    ref = StoreRef.of(path, storage_options)
    if not isinstance(name, str):
        raise TypeError("name must be a string")
    expect = ref.identity(name)
    dtype = np.dtype(expect[1])
    shape = expect[2]
    if not shape:
        key = "from-npk-" + tokenize(ref, name, expect)
        graph: Dict[Any, Any] = {(key,): (functools.partial(_block, ref, name, expect, 0, 1, ()),)}
        return da.Array(graph, key, (), dtype=dtype)
    norm = da.core.normalize_chunks(chunks, shape, dtype=dtype)
    key = "from-npk-" + tokenize(ref, name, expect, norm)
    starts = [list(itertools.accumulate((0,) + c[:-1])) for c in norm]
    graph = {}
    for idx in itertools.product(*(range(len(c)) for c in norm)):
        r0 = starts[0][idx[0]]
        tail = tuple(
            slice(starts[a][i], starts[a][i] + norm[a][i]) for a, i in enumerate(idx) if a > 0
        )
        full = all(s.start == 0 and s.stop == shape[a + 1] for a, s in enumerate(tail))
        # A task is a partial with every argument bound: nothing in it is read as a graph key.
        graph[(key,) + idx] = (functools.partial(_block, ref, name, expect, r0, r0 + norm[0][idx[0]], () if full else tail),)
    return da.Array(graph, key, norm, dtype=dtype)
