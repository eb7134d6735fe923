"""``top_k``: exact top-k over a sharded store set; ``split_shards``: make one."""

import os
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import dask
import numpy as np

from .. import _numpack as _n
from .. import remote
from ..store import NumPack
from ..vector_engine import StreamingVectorSearch, VectorSearch
from ._ref import Identity, StoreRef, changed

#: Rows per step of a remote shard's scan (what one task holds besides its results).
_REMOTE_BATCH = 65536


def _merge(parts: Sequence[Tuple[np.ndarray, np.ndarray]], k: int, metric: str) -> Tuple[np.ndarray, np.ndarray]:
    """The best ``k`` per query row of the candidates ``parts`` (each ``(Q, k_i)`` global
    indices and scores), ranked by the engine's own top-k (core ``TopK``: better score first,
    NaN after every number, ties by the lower index)."""
    idx = np.ascontiguousarray(np.concatenate([p[0] for p in parts], axis=1), dtype=np.uint64)
    sc = np.ascontiguousarray(np.concatenate([p[1] for p in parts], axis=1), dtype=np.float64)
    return _n.dask_merge_top_k(idx, sc, metric, k)


def _shard_top_k(ref: StoreRef, name: str, expect: Identity, queries: np.ndarray, metric: str, k: int, offset: int, threads: Optional[int], batch_size: int) -> Tuple[np.ndarray, np.ndarray]:
    """One shard's exact top-k (indices made global by ``offset``), from the array as it was
    when the search was planned (else :class:`StoreChangedError`)."""
    n = expect[2][0]
    if ref.is_url:
        # Rows come as byte ranges: scan them in batches, merging as the engine would.
        vs = VectorSearch(threads)
        store = ref.open()  # one catalogue fetch for the whole scan
        best: List[Tuple[np.ndarray, np.ndarray]] = []
        for start in range(0, n, batch_size):
            stop = min(n, start + batch_size)
            rows = store.read_rows_if(name, expect, start, stop)
            if rows is None:
                raise changed(ref, name, expect)
            i, s = vs.multi_query_top_k(queries, rows, metric, k)
            best = [_merge(best + [(i + np.uint64(start), s)], k, metric)]
        idx, sc = best[0]
    else:
        if ref.identity(name) != expect:
            raise changed(ref, name, expect)
        idx, sc = StreamingVectorSearch(threads).streaming_multi_query_top_k(queries, ref.path, name, metric, k, batch_size)
        # The search mapped the array under the store's lock between these two checks: the
        # identity did not change, so it scanned the planned rows.
        if ref.identity(name) != expect:
            raise changed(ref, name, expect)
    return idx + np.uint64(offset), sc


def top_k(
    queries: Any,
    shards: Sequence[Any],
    name: str,
    metric: str,
    k: int,
    client: Any = None,
    *,
    workers: Optional[Sequence[Any]] = None,
    storage_options: Optional[Union[Dict[str, Any], Sequence[Optional[Dict[str, Any]]]]] = None,
    threads: Optional[int] = None,
    batch_size: int = 10000,
) -> Tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` of every query row over the shards ``shards`` (store paths or URLs,
    each holding array ``name``; rows are numbered globally in list order).

    One task per shard runs the native streaming search over its shard (all ``threads``); the
    client merges per query. Returns ``(Q, min(k, N))`` uint64 global indices and float64
    scores, equal to ``VectorSearch().multi_query_top_k(queries, concatenation, metric, k)``
    (ties by the lower global index). A 1-D query is one row.

    ``client``: a ``distributed.Client``; ``workers[i]`` pins shard ``i``'s task to those
    workers (an address or a list of them), so each scans its own disk. Without a client the
    tasks run on Dask's default scheduler (threads). ``storage_options``: for URLs, one dict
    for all shards or one per shard.

    Raises ``KeyError`` if a shard lacks ``name``, ``ValueError`` if shards differ in dtype or
    row width, :class:`StoreChangedError` if a shard changes while the search runs.
    """
    if not isinstance(metric, str):
        raise TypeError(f"metric must be a string, got {type(metric).__name__}")
    q = np.asarray(queries)
    if q.ndim not in (1, 2):
        raise ValueError(f"queries must be 1-D or 2-D, got {q.ndim}-D")
    q2 = q.reshape(1, -1) if q.ndim == 1 else q
    if isinstance(shards, (str, os.PathLike)) or len(shards) == 0:
        raise ValueError("shards is a non-empty list of store paths or URLs")
    if workers is not None and len(workers) != len(shards):
        raise ValueError(f"workers has {len(workers)} entries for {len(shards)} shards")
    if isinstance(storage_options, dict) or storage_options is None:
        opts = [storage_options] * len(shards)
    else:
        opts = list(storage_options)
    refs = [StoreRef.of(s, o if remote.is_url(s) else None) for s, o in zip(shards, opts)]
    plans = []
    offset = 0
    for i, ref in enumerate(refs):
        try:
            ident = ref.identity(name)
        except KeyError:
            raise KeyError(f"shard {i} ({ref.path}) has no array {name!r}") from None
        if len(ident[2]) != 2:
            raise ValueError(f"shard {i} ({ref.path}): {name!r} is {len(ident[2])}-D, top_k needs 2-D rows")
        first = plans[0][1] if plans else ident
        if ident[1] != first[1] or ident[2][1] != first[2][1]:
            raise ValueError(
                f"shard {i} ({ref.path}) holds {ident[1]} rows of {ident[2][1]}, "
                f"shard 0 holds {first[1]} rows of {first[2][1]}"
            )
        plans.append((ref, ident, offset))
        offset += ident[2][0]
    if q2.shape[1] != plans[0][1][2][1]:
        raise ValueError(f"queries have {q2.shape[1]} dims, the shards {plans[0][1][2][1]}")
    live = [(i, ref, ident, off) for i, (ref, ident, off) in enumerate(plans) if ident[2][0] > 0]
    if not live:
        raise ValueError("no candidates: every shard is empty")
    if client is None and threads is None:
        # The tasks share this machine's cores: split them rather than oversubscribe.
        threads = max(1, (os.cpu_count() or 1) // len(live))
    args = [
        (ref, name, ident, q2, metric, k, off, threads, _REMOTE_BATCH if ref.is_url else batch_size)
        for _, ref, ident, off in live
    ]
    pinned = [workers[i] for i, *_ in live] if workers is not None else None
    if client is not None:
        futures = [
            client.submit(_shard_top_k, *a, pure=False, workers=(pinned[j] if pinned else None), allow_other_workers=False)
            for j, a in enumerate(args)
        ]
        results = client.gather(futures)
    else:
        if pinned is not None:
            raise ValueError("workers= pins tasks to distributed workers: pass client= too")
        results = dask.compute(*[dask.delayed(_shard_top_k, pure=False)(*a) for a in args])
    kk = min(int(k), offset)
    return _merge(list(results), kk, metric)


def split_shards(path: Any, name: str, out_paths: Sequence[Any], *, batch_rows: int = 65536) -> List[int]:
    """Splits array ``name`` of the store ``path`` into ``len(out_paths)`` shard stores (rows in
    order, as even as possible; each shard's array is called ``name``), e.g. to move them to
    as many machines. Copies ``batch_rows`` rows at a time. Returns the row count per shard."""
    n_out = len(out_paths)
    if n_out == 0:
        raise ValueError("out_paths is empty")
    with NumPack(os.fspath(path)) as src:
        lazy = src.load(name, lazy=True)
        n = lazy.shape[0]
        counts = [n // n_out + (1 if i < n % n_out else 0) for i in range(n_out)]
        start = 0
        for out, cnt in zip(out_paths, counts):
            with NumPack(os.fspath(out)) as dst:
                first = True
                for s in range(start, start + cnt, batch_rows) if cnt else []:
                    rows = np.ascontiguousarray(lazy[s : min(start + cnt, s + batch_rows)])
                    if first:
                        dst.save({name: rows})
                        first = False
                    else:
                        dst.append({name: rows})
                if cnt == 0:
                    dst.save({name: np.empty((0,) + tuple(lazy.shape[1:]), lazy.dtype)})
            start += cnt
    return counts
