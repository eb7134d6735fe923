"""NumPack on Dask: stores as dask arrays, parallel writes, sharded exact search.

Install with ``pip install numpack[dask]`` (Dask, distributed, fsspec, s3fs). Nothing outside
this package imports Dask.

* :func:`from_npk` — a stored array as a ``dask.array.Array`` (live rows only; the graph holds
  the store's path or URL, never data).
* :func:`to_npk` / :class:`NpkTarget` — write a dask array from parallel workers; the array
  appears whole or not at all.
* :func:`top_k` — exact top-k over a list of shard stores, one task per shard, equal to a
  single-process ``VectorSearch`` over their concatenation; :func:`split_shards` makes shards.
* Stores at ``s3://``, ``gs://``, ``http(s)://`` URLs are read through fsspec
  (``storage_options=``); :func:`numpack.remote.publish` uploads a store.

Every function runs on whatever scheduler Dask would use (the local threaded one when no
``distributed`` client exists), so ``dask.diagnostics.ProgressBar`` and the dashboard show
progress. See ``docs/DASK.md``.
"""

from ..remote import publish
from ._ref import StoreChangedError
from .read import from_npk
from .search import split_shards, top_k
from .write import NpkTarget, to_npk

__all__ = ["from_npk", "to_npk", "NpkTarget", "top_k", "split_shards", "publish", "StoreChangedError"]
