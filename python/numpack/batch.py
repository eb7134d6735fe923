"""The two batch modes of :class:`numpack.NumPack`.

``batch_mode()`` caches arrays in memory: ``load`` returns the cached array itself and
``save`` only records it; on leaving the block (also on an exception) every saved array is
written. An array whose shape and dtype did not change is written by replacing only the rows
that differ from the file (one commit per array); any other is saved whole (one commit).
Batch modes nest: a ``batch_mode()`` entered while one is active on the same store joins it
(a library function may open one without knowing whether its caller did). Leaving any of the
blocks writes what is pending; the cache is dropped when the outermost block is left.

``writable_batch_mode()`` hands out writable NumPy arrays mapped straight onto the data
files: assignments land in the OS page cache at once (a killed process loses nothing) and no
``save`` is needed. Shapes cannot change. An array with dropped rows is compacted first, so
its rows are the logical ones. Saving the same array anew through the store while a mapped
array is in use detaches that mapped array from the store (it keeps the old file).
"""

from typing import TYPE_CHECKING, Any, Dict, Optional, Set

import numpy as np

from . import _dtypes

if TYPE_CHECKING:  # pragma: no cover
    from .store import NumPack


class BatchModeContext:
    """``with npk.batch_mode():`` — cached loads and saves, flushed on exit.

    >>> import numpy as np, numpack, tempfile
    >>> with numpack.NumPack(tempfile.mkdtemp() + "/s.npk") as npk:
    ...     npk.save({"a": np.zeros(4)})
    ...     with npk.batch_mode():
    ...         for i in range(4):
    ...             a = npk.load("a"); a[i] = i; npk.save({"a": a})
    ...     npk.load("a")
    array([0., 1., 2., 3.])
    """

    def __init__(self, npk: "NumPack", memory_limit: Optional[int] = None) -> None:
        self._npk = npk
        #: Accepted for compatibility; the cache holds exactly the arrays you load or save.
        self.memory_limit = memory_limit
        self._cache: Dict[str, np.ndarray] = {}
        self._dirty: Set[str] = set()
        #: The active batch mode this one joined (nested use), if any.
        self._joined: Optional["BatchModeContext"] = None
        self._depth = 0

    def __enter__(self) -> "BatchModeContext":
        self._npk._check()
        active = self._npk._batch
        if active is not None and active is not self:
            active._depth += 1
            self._joined = active
            return self
        self._depth += 1
        self._npk._batch = self
        return self

    def __exit__(self, *exc: Any) -> None:
        owner = self._joined or self
        self._joined = None
        owner._depth -= 1
        try:
            owner.flush()
        finally:
            if owner._depth == 0:
                self._npk._batch = None
                owner._cache.clear()
                owner._dirty.clear()

    # -- used by NumPack ----------------------------------------------------------------------
    def load(self, name: str) -> np.ndarray:
        arr = self._cache.get(name)
        if arr is None:
            arr = self._npk._open_store().read(name)
            self._cache[name] = arr
        return arr

    def save(self, prepared: Dict[str, np.ndarray]) -> None:
        self._cache.update(prepared)
        self._dirty.update(prepared)

    def flush_name(self, name: str, evict: bool) -> None:
        """Writes ``name`` if it is dirty; forgets it if ``evict`` (the file will change)."""
        if name in self._dirty:
            self._write(name)
        if evict:
            self._cache.pop(name, None)

    def flush(self) -> None:
        """Writes every array saved since the last flush."""
        for name in list(self._dirty):
            self._write(name)

    def forget_all(self) -> None:
        self._cache.clear()
        self._dirty.clear()

    def _write(self, name: str) -> None:
        store = self._npk._open_store()
        arr = _dtypes.prepare(self._cache[name], name)
        self._dirty.discard(name)
        rows = None
        if arr.ndim >= 1 and store.contains(name):
            _, dtype, shape, _, _, _ = store.info(name)
            if dtype == arr.dtype.name and tuple(shape) == arr.shape:
                rows = np.asarray(store.diff_rows(name, arr), dtype=np.int64)
        if rows is None or 4 * len(rows) > max(arr.shape[0], 1):
            store.save([(name, arr)])
        elif len(rows):
            store.replace([(name, np.ascontiguousarray(arr[rows]))], rows)


class WritableBatchMode:
    """``with npk.writable_batch_mode() as wb:`` — writable arrays mapped onto the files.

    >>> import numpy as np, numpack, tempfile
    >>> with numpack.NumPack(tempfile.mkdtemp() + "/s.npk") as npk:
    ...     npk.save({"a": np.zeros(3)})
    ...     with npk.writable_batch_mode() as wb:
    ...         wb.load("a")[:] = 2
    ...     npk.load("a")
    array([2., 2., 2.])
    """

    def __init__(self, npk: "NumPack") -> None:
        self._npk = npk
        self._arrays: Dict[str, np.ndarray] = {}

    def __enter__(self) -> "WritableBatchMode":
        self._npk._check()
        return self

    def load(self, name: str) -> np.ndarray:
        """A writable ndarray over the data file of ``name``; assignments persist at once."""
        arr = self._arrays.get(name)
        if arr is None:
            arr = self._npk._open_store().writable(name)
            self._arrays[name] = arr
        return arr

    def save(self, arrays: Optional[Dict[str, Any]] = None) -> None:
        """Nothing to do for mapped arrays; other arrays are saved normally."""
        if arrays:
            other = {k: v for k, v in arrays.items() if self._arrays.get(k) is not v}
            if other:
                self._npk.save(other)

    def __exit__(self, *exc: Any) -> None:
        store = self._npk._store
        try:
            if store is not None:
                for name, arr in self._arrays.items():
                    # Rewriting row 0 with itself commits: the modify time moves and other
                    # processes re-read the catalogue.
                    if arr.ndim < 1 or arr.shape[0] == 0 or not store.contains(name):
                        continue
                    _, dtype, shape, _, _, _ = store.info(name)
                    if dtype == arr.dtype.name and tuple(shape) == arr.shape:
                        store.replace([(name, np.array(arr[:1]))], np.zeros(1, dtype=np.int64))
        finally:
            self._arrays.clear()
