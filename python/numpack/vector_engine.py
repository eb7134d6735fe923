"""Exact similarity search: ``VectorSearch`` over arrays in memory (or a ``LazyArray``), and
``StreamingVectorSearch`` over an array stored in a NumPack folder, read in place batch by batch.

Every call runs in Rust without the GIL, on the SIMD tier chosen at import (AVX2, AVX-512, AMX,
NEON, SVE or portable; ``NUMPACK_SIMD=scalar|avx2|avx512|amx|neon|sve`` overrides it, see
``capabilities()``), on ``threads`` workers (default: all cores). Results do not depend on
the thread count or the batch size.

Metrics (exact definitions in ``docs/METRICS.md``; names case-insensitive, upstream aliases
accepted): ``dot``, ``cosine`` (similarities, ranked descending), ``l2``, ``l2sq``, ``kl``,
``js`` (distances, ranked ascending) for float16 / bfloat16 / float32 / float64 (int8: dot,
cosine, l2, l2sq); ``hamming`` and ``jaccard`` over the bits of uint8 vectors. Cosine with an
all-zero vector is 0.0. Scores are float64; indices uint64.

Input rules:

* Vectors are any array-like (lists, strided or Fortran-ordered arrays, big-endian arrays,
  memmaps); queries are 1-D (one) or 2-D (several), candidates 2-D ``(N, D)``. Anything else
  (0-d, 3-d) is a ``ValueError``; bool, complex, object and string arrays are a ``TypeError``.
* The engine computes in float32, float64, float16, bfloat16 (``ml_dtypes``), int8 or uint8.
  Other integer types (and longdouble) are converted to float64.
* Mixed dtypes follow the core's one rule (``docs/METRICS.md``, "Mixed dtypes"; the same in
  Node and the browsers): the query is cast to the candidates' dtype (the candidates are the
  big operand and are never copied for this): always for float candidates, unless a value
  would overflow (then both are computed in float64); for int8 / uint8 candidates only when
  every query value is exactly representable (else both in float64, which copies the
  candidates). ``compute_metric(a, b)`` and ``cdist(A, B)`` treat ``b`` / ``B`` as the
  candidates.
* A metric the dtype does not support (``hamming`` on float32, ``cosine`` on uint8, ``kl`` on
  int8) raises :class:`MetricDtypeError`, which is both a ``TypeError`` (our rule) and a
  ``ValueError`` (what upstream raised). An unknown metric is a ``ValueError``.
* ``k`` is an integer ≥ 1 (any integer type; ``k = 0`` is a ``ValueError``); ``k > N`` is
  clipped to ``N``. ``threads`` (≥ 0) and ``batch_size`` (≥ 1) are integers up to 2**63 - 1:
  a bool or non-integer is a ``TypeError``, anything out of range a ``ValueError``. No candidates: top-k raises ``ValueError``; ``batch_compute``/``cdist``
  return an empty array. A dimension mismatch is a ``ValueError``.
* ``filter=`` on every top-k call (in memory, ``LazyArray``, streaming; one or many queries)
  restricts the search to some logical rows: a boolean mask of length N or a list/array of row
  indices (any order; duplicates count once; negative or ≥ N is an ``IndexError``, as is a mask
  of the wrong length). Results are exact over the allowed rows, with logical indices; an empty
  filter gives empty results. Few allowed rows cost in proportion to their number.
* NaN and ±inf are computed like any value (IEEE arithmetic); a NaN score ranks after every
  number, ties rank by the lower row index, so results are deterministic.

Streaming (``StreamingVectorSearch``) maps the stored array's files (plain or segmented) and
scores them in place, ``batch_size`` rows per step per worker, so the array may be larger than
RAM (the page cache holds what was read, and the kernel can drop it at any time). Rows of
another dtype, or behind many dropped rows, are copied into a ``batch_size``-row buffer first.
Dropped rows are skipped and returned indices are logical row numbers, as ``load`` counts
them. The array's layout is snapshotted when the call starts (under the store's shared lock):
rows that another process appends or drops during the call are not seen; rows it replaces in
place may or may not be.
"""

import operator
import os
from typing import Any, Dict, Optional, Tuple, Union

import numpy as np

from . import _numpack as _n
from ._progress import native_hook
from .lazy_array import LazyArray

__all__ = [
    "VectorSearch",
    "VectorEngine",
    "StreamingVectorSearch",
    "StreamingVectorEngine",
    "PreparedCandidates",
    "MetricDtypeError",
    "METRICS",
    "set_simd_tier",
    "simd_info",
]

#: Canonical metric names (aliases: see ``docs/METRICS.md``).
METRICS = ("dot", "cosine", "l2", "l2sq", "hamming", "jaccard", "kl", "js")

#: dtypes the engine computes in directly.
_ENGINE = frozenset({"float32", "float64", "float16", "bfloat16", "int8", "uint8"})
_F64 = np.dtype(np.float64)
#: The engine dtypes by name (``np.dtype(name)`` costs more than the search of a few rows).
_DTYPE_OF_NAME = {n: np.dtype(n) for n in ("float32", "float64", "float16", "int8", "uint8")}
#: Rows per batch when searching a LazyArray in place.
_LAZY_BATCH = 16384
_METADATA = "metadata.npkm"

_Path = Union[str, "os.PathLike[str]", Any]


class MetricDtypeError(TypeError, ValueError):
    """The metric is not defined for the vectors' dtype (e.g. ``hamming`` on float32)."""


# -- argument checks ---------------------------------------------------------------------------
#: Largest ``threads`` / ``batch_size`` accepted (what the compiled module's counters hold).
_MAX_COUNT = 2**63 - 1


def _threads(threads: Optional[int]) -> int:
    if threads is None:
        return 0
    if isinstance(threads, (bool, np.bool_)):
        raise TypeError("threads must be an integer")
    try:
        t = operator.index(threads)
    except TypeError:
        raise TypeError(f"threads must be an integer, got {type(threads).__name__}") from None
    if t < 0:
        raise ValueError("threads must be >= 0 (0 or None: all cores)")
    if t > _MAX_COUNT:
        raise ValueError(f"threads must be at most 2**63 - 1, got {t}")
    return t


def _k(k: Any) -> int:
    if isinstance(k, (bool, np.bool_)):
        raise TypeError("k must be an integer")
    try:
        k = operator.index(k)
    except TypeError:
        raise TypeError(f"k must be an integer, got {type(k).__name__}") from None
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    return min(k, 2**63 - 1)


def _batch(b: Any) -> int:
    if isinstance(b, (bool, np.bool_)):
        raise TypeError("batch_size must be an integer")
    try:
        b = operator.index(b)
    except TypeError:
        raise TypeError(f"batch_size must be an integer, got {type(b).__name__}") from None
    if b < 1:
        raise ValueError(f"batch_size must be at least 1, got {b}")
    if b > _MAX_COUNT:
        raise ValueError(f"batch_size must be at most 2**63 - 1, got {b}")
    return b


def _metric(metric: Any) -> str:
    if not isinstance(metric, str):
        raise TypeError(f"metric must be a string, got {type(metric).__name__}")
    return metric


def _array(x: Any, what: str) -> np.ndarray:
    """``x`` as an ndarray of a dtype the engine accepts (possibly after widening)."""
    a = x if isinstance(x, np.ndarray) else np.asarray(x)
    dt = a.dtype
    if dt.kind in "iuf":
        if dt.kind == "f" and dt.itemsize > 8:
            return a.astype(_F64)  # longdouble: no engine type holds it; float64 does (documented)
        return a
    if dt.name in _ENGINE:
        return a
    raise TypeError(f"{what}: vector search is not defined for dtype {a.dtype}")


def _ndim(a: np.ndarray, what: str, allowed: Tuple[int, ...]) -> None:
    if a.ndim not in allowed:
        want = " or ".join(f"{d}-D" for d in allowed)
        raise ValueError(f"{what} must be {want}, got a {a.ndim}-D array of shape {a.shape}")


def _compute_dtype(q: np.ndarray, cand: np.dtype) -> np.dtype:
    """The dtype query and candidates meet in: the core's one rule (``docs/METRICS.md``,
    "Mixed dtypes"), shared with Node and the browsers."""
    name = _n.vector_compute_type(q, cand)
    dt = _DTYPE_OF_NAME.get(name)
    return dt if dt is not None else np.dtype(name)


def _prepare(a: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """C-contiguous, aligned, native-endian, of ``dtype`` (no copy when already so)."""
    if a.dtype == dtype and dtype.isnative and a.flags.c_contiguous and a.flags.aligned:
        return a
    return np.require(a, dtype=dtype, requirements=["C", "A"])


class PreparedCandidates:
    """Candidate vectors in memory with what is per-candidate computed once: each row's
    squared norm (``docs/METRICS.md``, "Norm cache"). Pass it wherever candidates go; one-query
    cosine / l2 / l2sq searches then score rows with the dot kernel and rescore only rows that
    may enter the top k, and several-query float searches take each row's key factor from the
    kept norm instead of computing it, with results bit for bit those of the plain array. Made
    by :meth:`VectorSearch.prepare`.

    With ``bf16_copy=True`` (float32 candidates only) a bfloat16 copy of the rows is kept
    too, half their size in memory: one-query dot, cosine, l2 and l2sq searches then read the
    copy (half the bytes), bound each row's rounding exactly, and rescore every row that may
    enter the top k from the float32 rows, so results are still bit for bit those of the plain
    array, in about half the time where the scan is bound by memory. On the ``amx`` tier (x86
    CPUs with AMX-BF16) several-query searches read the copy too, on the tile unit (rows of a
    multiple of 32 elements), again rescoring from the float32 rows.

    The rows are held (C-contiguous, no copy when they already are); do not modify them
    afterwards — prepare again after a change (stale norms can make a search miss rows).
    """

    __slots__ = ("array", "_norms")

    def __init__(self, candidates: Any, threads: int = 0, bf16_copy: bool = False) -> None:
        a = _array(candidates, "candidates")
        _ndim(a, "candidates", (2,))
        self.array = _prepare(a, a.dtype)
        normed = self.array.dtype.name in _NORMED or bf16_copy  # (the core rejects a copy of non-float32)
        self._norms = _n.vector_norm_cache(self.array, threads, bool(bf16_copy)) if normed else None

    @property
    def shape(self) -> Tuple[int, ...]:
        """``(rows, dim)``."""
        return self.array.shape

    @property
    def dtype(self) -> np.dtype:
        """The candidates' dtype."""
        return self.array.dtype

    def __len__(self) -> int:
        return len(self.array)

    @property
    def bf16_copy(self) -> bool:
        """Whether a bfloat16 copy of the rows is kept."""
        return self._norms is not None and self._norms.bf16_copy

    def norms_squared(self) -> np.ndarray:
        """The cached squared norms, float64 ``(rows,)`` (empty for uint8 bit vectors)."""
        return self._norms.norm_sq() if self._norms is not None else np.empty(0)


#: dtypes with a norm cache (uint8 bit vectors have no norms).
_NORMED = frozenset({"float32", "float64", "float16", "bfloat16", "int8"})


class _Candidates:
    """Candidate rows: an ndarray, or a stored array's mapped rows (LazyArray, streaming)."""

    __slots__ = ("obj", "dtype", "shape", "mapped", "norms")

    def __init__(self, c: Any, what: str = "candidates") -> None:
        self.norms = None
        if isinstance(c, PreparedCandidates):
            self.obj, self.dtype, self.shape, self.mapped = c.array, c.array.dtype, c.array.shape, False
            self.norms = c._norms
        elif isinstance(c, LazyArray):
            self._from_mapped(c._m, what)
        elif isinstance(c, _n.MappedRows):
            self._from_mapped(c, what)
        else:
            a = _array(c, what)
            _ndim(a, what, (2,))
            self.obj, self.dtype, self.shape, self.mapped = a, a.dtype, a.shape, False

    def _from_mapped(self, m: Any, what: str) -> None:
        shape = tuple(m.shape)
        if len(shape) != 2:
            raise ValueError(f"{what} must be a 2-D array (rows × dim), the stored array has shape {shape}")
        dt = np.dtype(m.dtype)
        if dt.kind not in "iuf":
            raise MetricDtypeError(f"{what}: vector search is not defined for dtype {dt}")
        self.obj, self.dtype, self.shape, self.mapped = m, dt, shape, True

    def meet(self, q: np.ndarray) -> Tuple[np.ndarray, Any]:
        """(query, candidates) ready for the compiled module."""
        ct = _compute_dtype(q, self.dtype)
        query = _prepare(q, ct)
        if self.mapped:
            return query, self.obj  # converted batch by batch in Rust when dtypes differ
        return query, _prepare(self.obj, ct)

    def cache(self) -> Dict[str, Any]:
        """The norm cache keyword for the compiled module (it checks that it fits)."""
        return {} if self.norms is None else {"norms": self.norms}


def _filter(f: Any) -> Dict[str, np.ndarray]:
    """The ``filter=`` argument as the compiled module's keywords: a boolean mask (one entry per
    candidate row) or logical row indices (any order, duplicates merged, no negatives)."""
    if f is None:
        return {}
    a = f if isinstance(f, np.ndarray) else np.asarray(f)
    if a.ndim != 1:
        raise ValueError(f"filter must be 1-D (a mask or a list of row indices), got {a.ndim}-D")
    if a.dtype == np.bool_:
        return {"filter_mask": np.ascontiguousarray(a)}
    if a.size == 0:
        return {"filter_indices": np.empty(0, dtype=np.int64)}
    if a.dtype.kind not in "iu":
        raise TypeError(f"filter must be a boolean mask or integer row indices, got dtype {a.dtype}")
    if a.dtype.kind == "u" and a.dtype.itemsize == 8 and a.max() > np.iinfo(np.int64).max:
        raise IndexError(f"filter index {int(a.max())} is out of range")
    return {"filter_indices": np.ascontiguousarray(a, dtype=np.int64)}


def _queries(q: Any, what: str, allowed: Tuple[int, ...]) -> np.ndarray:
    a = _array(q, what)
    _ndim(a, what, allowed)
    return a


# -- capabilities ------------------------------------------------------------------------------
_TIER_LABEL = {"scalar": "portable scalar", "avx2": "AVX2", "avx512": "AVX-512", "amx": "AVX-512 + AMX-BF16", "neon": "NEON", "sve": "SVE"}


def simd_info() -> Dict[str, Any]:
    """What this CPU offers and which kernel tier runs: ``arch``, ``features``, ``available``
    tiers, ``active`` tier, the ``requested`` ``NUMPACK_SIMD`` value and a ``note`` when that
    request could not be honoured."""
    return dict(_n.vector_capabilities())


def set_simd_tier(tier: str) -> str:
    """Forces a SIMD tier (``scalar``, ``avx2``, ``avx512``, ``amx``, ``neon``, ``sve``, or ``auto`` for
    the best one) for every later call in this process; for tests and benchmarks. Raises
    ``ValueError`` for a tier this CPU cannot run. Returns the active tier."""
    return _n.vector_set_tier(str(tier))


def _capabilities() -> str:
    info = simd_info()
    active = info["active"]
    feats = ", ".join(info["features"]) or "none"
    text = f"CPU: {_TIER_LABEL.get(active, active)} ({feats}) tier={active} [{info['arch']}; available: {', '.join(info['available'])}]"
    if info.get("note"):
        text += f"; {info['note']}"
    return text


# -- in-memory search --------------------------------------------------------------------------
class VectorSearch:
    """Exact similarity search over vectors in memory (or a ``LazyArray``, searched in place).

    Args:
        threads: default worker count for every call (None or 0: all cores); each call's own
            ``threads=`` keyword overrides it.
    """

    def __init__(self, threads: Optional[int] = None) -> None:
        self._threads = _threads(threads)

    def _t(self, threads: Optional[int]) -> int:
        return self._threads if threads is None else _threads(threads)

    def capabilities(self) -> str:
        """Which SIMD tier runs and the CPU features it found, e.g.
        ``"CPU: AVX-512 (avx2, fma, …) tier=avx512 [...]"``."""
        return _capabilities()

    def prepare(self, candidates: Any, *, threads: Optional[int] = None, bf16_copy: bool = False) -> PreparedCandidates:
        """Candidates with their per-row norms computed once (and, with ``bf16_copy``, a
        bfloat16 copy of float32 rows), for searching the same candidates many times (see
        :class:`PreparedCandidates`)."""
        return PreparedCandidates(candidates, self._t(threads), bf16_copy)

    def compute_metric(self, a: Any, b: Any, metric: str, *, threads: Optional[int] = None) -> float:
        """The metric between two 1-D vectors of equal length (``threads`` is accepted for
        symmetry; one pair runs on one core)."""
        self._t(threads)  # checked like every other call's, though one pair runs on one core
        x, y = _queries(a, "a", (1,)), _queries(b, "b", (1,))
        ct = _compute_dtype(x, y.dtype)
        return float(_n.vector_compute(_prepare(x, ct), _prepare(y, ct), _metric(metric)))

    def batch_compute(self, query_or_queries: Any, candidates: Any, metric: str, *, threads: Optional[int] = None) -> np.ndarray:
        """Scores of a query against every candidate row, float64 ``(N,)``; a 2-D query array
        gives ``(M, N)`` (computed with the cache-blocked ``cdist`` kernel)."""
        q = _queries(query_or_queries, "query", (1, 2))
        c = _Candidates(candidates)
        query, cand = c.meet(q)
        out = _n.vector_scores(query.reshape(-1, query.shape[-1]), cand, _metric(metric), self._t(threads), _LAZY_BATCH)
        return out.reshape(-1) if q.ndim == 1 else out

    def top_k_search(
        self, query: Any, candidates: Any, metric: str, k: int, *, threads: Optional[int] = None, filter: Any = None
    ) -> Tuple[np.ndarray, np.ndarray]:
        """The ``k`` best candidates for one 1-D query: ``(indices uint64, scores float64)``,
        best first, ``min(k, N)`` entries.

        ``filter`` restricts the search to some rows: a boolean mask of length N, or logical row
        indices (any order; duplicates count once). Results are exact over the allowed rows
        (``min(k, allowed)`` entries; none for an empty filter). An index out of range or a
        mask of the wrong length is an ``IndexError``."""
        q = _queries(query, "query", (1,))
        kk = _k(k)
        c = _Candidates(candidates)
        query_, cand = c.meet(q)
        idx, sc = _n.vector_top_k(
            query_[None, :], cand, _metric(metric), kk, self._t(threads), _LAZY_BATCH, **_filter(filter), **c.cache()
        )
        return idx[0], sc[0]

    def multi_query_top_k(
        self, queries: Any, candidates: Any, metric: str, k: int, *, threads: Optional[int] = None, filter: Any = None
    ) -> Tuple[np.ndarray, np.ndarray]:
        """The ``k`` best candidates for every query row: ``(Q, min(k, N))`` uint64 indices and
        float64 scores, best first per row (a fused, cache-blocked kernel: the Q × N score
        matrix is never materialised). A 1-D query counts as one row. ``filter``: as in
        :meth:`top_k_search`, the same allowed rows for every query."""
        q = _queries(queries, "queries", (1, 2))
        kk = _k(k)
        c = _Candidates(candidates)
        query, cand = c.meet(q)
        return _n.vector_top_k(
            query.reshape(-1, query.shape[-1]), cand, _metric(metric), kk, self._t(threads), _LAZY_BATCH, **_filter(filter),
            **c.cache(),
        )

    def segmented_top_k_search(
        self,
        query: Any,
        candidates: Any,
        metric: str,
        global_offset: int,
        current_indices: Any,
        current_scores: Any,
        k: int,
        is_similarity: Optional[bool] = None,
        *,
        threads: Optional[int] = None,
    ) -> Tuple[np.ndarray, np.ndarray]:
        """Merges one batch of candidates into a running top-k (upstream NumPack's call, for
        scans a caller drives batch by batch). The batch's rows are numbered from
        ``global_offset``; ``current_indices``/``current_scores`` are the running result (empty
        at the start). Returns the new ``(indices uint64, scores float64)``, best first, ranked
        as every top-k here (ties by the lower index). ``is_similarity``, if given, must agree
        with the metric (``ValueError`` otherwise).

        >>> import numpy as np
        >>> from numpack.vector_engine import VectorSearch
        >>> vs, data = VectorSearch(), np.eye(4, dtype=np.float32)
        >>> idx, sc = np.empty(0, np.uint64), np.empty(0)
        >>> for start in (0, 2):
        ...     idx, sc = vs.segmented_top_k_search(data[3], data[start:start + 2], "dot", start, idx, sc, 2)
        >>> idx.tolist(), sc.tolist()
        ([3, 0], [1.0, 0.0])
        """
        offset = int(global_offset)
        if offset < 0:
            raise ValueError(f"global_offset must be >= 0, got {offset}")
        kk = _k(k)
        ci = np.ascontiguousarray(np.asarray(current_indices).reshape(-1), dtype=np.uint64)
        cs = np.ascontiguousarray(np.asarray(current_scores).reshape(-1), dtype=np.float64)
        if ci.shape != cs.shape:
            raise ValueError(f"current_indices {ci.shape} and current_scores {cs.shape} differ in length")
        bi, bs = self.top_k_search(query, candidates, metric, kk, threads=threads)
        idx = np.concatenate([ci, bi + np.uint64(offset)])[None, :]
        sc = np.concatenate([cs, bs])[None, :]
        similar = None if is_similarity is None else bool(is_similarity)
        mi, ms = _n.vector_merge_top_k(idx, sc, _metric(metric), kk, similar)
        return mi[0], ms[0]

    def cdist(self, A: Any, B: Any, metric: str, *, threads: Optional[int] = None) -> np.ndarray:
        """All pairwise scores, float64 ``(len(A), len(B))`` (both 2-D, like SciPy's ``cdist``;
        ``metric`` is ours, so ``cosine`` is the similarity)."""
        a = _queries(A, "A", (2,))
        c = _Candidates(B, "B")
        query, cand = c.meet(a)
        return _n.vector_scores(query, cand, _metric(metric), self._t(threads), _LAZY_BATCH)

    def __repr__(self) -> str:
        return f"VectorSearch({_capabilities()})"


# -- streaming over a store --------------------------------------------------------------------
def _open_rows(path: _Path, array_name: str) -> Any:
    """The mapped rows of ``array_name``: from an open ``NumPack``, or from the folder ``path``
    (opened for the call and closed again)."""
    from .store import NumPack

    if not isinstance(array_name, str):
        raise TypeError("array_name must be a string")
    if isinstance(path, NumPack):
        return path._check().lazy(array_name)
    p = os.fspath(path)
    if not os.path.isdir(p) or not os.path.isfile(os.path.join(p, _METADATA)):
        raise FileNotFoundError(f"{p!r} is not a NumPack store (no {_METADATA})")
    store = _n.Store(p)
    try:
        return store.lazy(array_name)
    finally:
        del store


class StreamingVectorSearch:
    """Exact search over an array stored in a NumPack folder, read in place batch by batch
    (the array may be larger than RAM; see the module doc for drops, segments and concurrent
    writers). ``path`` is a store folder or an open :class:`numpack.NumPack`.

    Args:
        threads: default worker count for every call (None or 0: all cores).
    """

    def __init__(self, threads: Optional[int] = None) -> None:
        self._threads = _threads(threads)

    def _t(self, threads: Optional[int]) -> int:
        return self._threads if threads is None else _threads(threads)

    def capabilities(self) -> str:
        """As :meth:`VectorSearch.capabilities`."""
        return _capabilities()

    def streaming_top_k_from_file(
        self,
        query: Any,
        path: _Path,
        array_name: str,
        metric: str,
        k: int,
        batch_size: int = 10000,
        *,
        threads: Optional[int] = None,
        filter: Any = None,
        progress: Any = False,
    ) -> Tuple[np.ndarray, np.ndarray]:
        """The ``k`` best stored rows for one 1-D query: ``(logical indices uint64, scores
        float64)``, best first. ``filter``: a mask over the logical rows or logical row indices
        (as in :meth:`VectorSearch.top_k_search`); only allowed rows are read. ``progress``:
        ``True`` shows a bar of rows scanned (needs ``tqdm``), a callable gets ``(rows done,
        total)``; Ctrl-C stops the scan promptly either way."""
        q = _queries(query, "query", (1,))
        kk, bs, m = _k(k), _batch(batch_size), _metric(metric)
        c = _Candidates(_open_rows(path, array_name), "the stored array")
        query_, rows = c.meet(q)
        with native_hook(progress, f"search {array_name}", "rows") as hook:
            idx, sc = _n.vector_top_k(query_[None, :], rows, m, kk, self._t(threads), bs, **_filter(filter), progress=hook)
        return idx[0], sc[0]

    def streaming_multi_query_top_k(
        self,
        queries: Any,
        path: _Path,
        array_name: str,
        metric: str,
        k: int,
        batch_size: int = 10000,
        *,
        threads: Optional[int] = None,
        filter: Any = None,
        progress: Any = False,
    ) -> Tuple[np.ndarray, np.ndarray]:
        """The ``k`` best stored rows for every query row: ``(Q, min(k, N))`` arrays.
        ``filter`` and ``progress``: as in :meth:`streaming_top_k_from_file`."""
        q = _queries(queries, "queries", (1, 2))
        kk, bs, m = _k(k), _batch(batch_size), _metric(metric)
        c = _Candidates(_open_rows(path, array_name), "the stored array")
        query, rows = c.meet(q)
        with native_hook(progress, f"search {array_name}", "rows") as hook:
            return _n.vector_top_k(query.reshape(-1, query.shape[-1]), rows, m, kk, self._t(threads), bs, **_filter(filter),
                                   progress=hook)

    def streaming_batch_compute(
        self, query: Any, path: _Path, array_name: str, metric: str, batch_size: int = 10000, *, threads: Optional[int] = None,
        progress: Any = False,
    ) -> np.ndarray:
        """Scores of the query against every stored (logical) row: ``(N,)``, or ``(M, N)`` for
        a 2-D query. ``progress``: as in :meth:`streaming_top_k_from_file`."""
        q = _queries(query, "query", (1, 2))
        bs, m = _batch(batch_size), _metric(metric)
        c = _Candidates(_open_rows(path, array_name), "the stored array")
        query_, rows = c.meet(q)
        with native_hook(progress, f"scores {array_name}", "rows") as hook:
            out = _n.vector_scores(query_.reshape(-1, query_.shape[-1]), rows, m, self._t(threads), bs, progress=hook)
        return out.reshape(-1) if q.ndim == 1 else out

    def __repr__(self) -> str:
        return f"StreamingVectorSearch({_capabilities()})"


#: Upstream's name.
VectorEngine = VectorSearch
#: Upstream's name.
StreamingVectorEngine = StreamingVectorSearch
