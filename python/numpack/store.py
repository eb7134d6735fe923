"""``NumPack``: a folder of named NumPy arrays (see the package docstring)."""

import operator
import os
import shutil
import warnings
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _dtypes, _rows, remote
from ._numpack import Store
from .batch import BatchModeContext, WritableBatchMode
from .errors import StoreClosedError
from .lazy_array import LazyArray

_MISSING = object()


def _reported_blocks(lazy: LazyArray, size: int, progress: Any, name: str) -> Iterator[np.ndarray]:
    """``lazy.blocks(size)`` reporting rows to ``progress`` (the bar closes when the iteration
    ends or the generator is dropped)."""
    from ._progress import reporting

    total = lazy.shape[0] if lazy.shape else 1
    with reporting(progress, f"stream_load {name}", "rows", total) as rep:
        for block in lazy.blocks(size):
            yield block
            rep.update_to(rep.done + (len(block) if block.ndim else 1))


def _pick(indexes: Any, indices: Any, required: bool = True) -> Any:
    """Upstream spells the argument ``indexes``; the README spells it ``indices``."""
    if indexes is not _MISSING and indices is not _MISSING:
        raise TypeError("pass either indexes or indices, not both")
    value = indices if indexes is _MISSING else indexes
    if value is _MISSING:
        if required:
            raise TypeError("missing the row indexes")
        return None
    return value


class NumPack:
    """A store of named NumPy arrays in the folder ``filename``.

    It is also a mapping of names to arrays: ``npk[name]`` loads, ``npk[name] = arr`` saves,
    ``del npk[name]`` removes, and ``len``, ``in`` and iteration see the array names. In
    Jupyter it shows as a table of its arrays.

    >>> import numpy as np, tempfile
    >>> with NumPack(tempfile.mkdtemp() + "/s.npk") as npk:
    ...     npk["emb"] = np.ones((3, 2), np.float32)
    ...     print(len(npk), "emb" in npk, list(npk), npk["emb"].shape)
    ...     del npk["emb"]
    1 True ['emb'] (3, 2)

    Every call that changes the store is committed before it returns, so a process killed
    without ``close()`` loses nothing it was told had succeeded. Writers in different
    processes are serialised by a lock file, and each call sees what others committed.

    Args:
        filename: the store folder (created on ``open()`` if missing).
        drop_if_exists: remove whatever is at ``filename`` on the first ``open()``.
        strict_context_mode: refuse calls made outside a ``with`` block.
        warn_no_context: warn at construction that ``with`` is recommended (default: on
            Windows only).
        force_gc_on_close: run the garbage collector on ``close()``.
        durable: also fsync files and the folder on every commit (survives power loss).
        mode: ``"r"`` for a store at a URL (read-only, see :mod:`numpack.remote`).
        storage_options: fsspec options for a URL (credentials, ``endpoint_url``, …).
    """

    def __init__(
        self,
        filename: Union[str, "os.PathLike[str]"],
        drop_if_exists: bool = False,
        strict_context_mode: bool = False,
        warn_no_context: Optional[bool] = None,
        force_gc_on_close: bool = False,
        *,
        durable: bool = False,
        mode: str = "r+",
        storage_options: Optional[Dict[str, Any]] = None,
    ) -> None:
        # A URL (s3://, gs://, http(s)://) opens read-only through fsspec: numpack/remote.py.
        self._url = filename if remote.is_url(filename) else None
        if mode != ("r" if self._url else "r+") or (storage_options and not self._url):
            raise ValueError("mode='r' and storage_options are for stores at URLs (read-only); local stores use mode='r+'")
        self._storage_options = storage_options
        self._path = Path(os.fspath(filename))
        self._drop_if_exists = drop_if_exists
        self._strict = strict_context_mode
        self._force_gc = force_gc_on_close
        self._durable = durable
        self._store: Optional[Store] = None
        self._opened_once = False
        self._in_context = False
        self._batch: Optional[BatchModeContext] = None
        if warn_no_context is None:
            warn_no_context = os.name == "nt"
        if warn_no_context and not strict_context_mode:
            warnings.warn("use NumPack as a context manager (`with NumPack(...) as npk:`)", UserWarning, stacklevel=2)

    # -- lifecycle ---------------------------------------------------------------------------
    def open(self) -> None:
        """Opens the store (idempotent); creates the folder if needed.

        >>> import tempfile
        >>> npk = NumPack(tempfile.mkdtemp() + "/s.npk")
        >>> npk.open(); npk.is_opened
        True
        >>> npk.close(); npk.is_closed
        True
        """
        if self._store is not None:
            return
        if self._url is not None:
            self._store, self._opened_once = remote.open_store(self._url, self._storage_options), True
            return
        if not self._opened_once and self._drop_if_exists and os.path.lexists(self._path):
            if self._path.is_dir() and not self._path.is_symlink():
                shutil.rmtree(self._path)
            else:
                self._path.unlink()
        self._store = Store(str(self._path), self._durable)
        self._opened_once = True

    def close(self, force_gc: Optional[bool] = None) -> None:
        """Writes a batch mode's pending arrays, then closes (idempotent; ``open()`` reopens).
        Lazy arrays and mapped arrays stay usable after close."""
        if self._store is None:
            return
        try:
            if self._batch is not None:
                self._batch.flush()
        finally:
            self._batch = None
            self._store = None
        if force_gc or (force_gc is None and self._force_gc):
            import gc

            gc.collect()

    def reopen(self) -> None:
        """Closes and opens again."""
        self.close()
        self.open()

    def __enter__(self) -> "NumPack":
        self.open()
        self._in_context = True
        return self

    def __exit__(self, *exc: Any) -> None:
        self._in_context = False
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    @property
    def is_opened(self) -> bool:
        """Whether the store is open."""
        return self._store is not None

    @property
    def is_closed(self) -> bool:
        """Whether the store is closed."""
        return self._store is None

    @property
    def path(self) -> Path:
        """The store folder."""
        return self._path

    def _check(self) -> Store:
        store = self._store
        if store is None:
            # The key phrases are upstream's, so code matching on them keeps working.
            raise StoreClosedError(
                f"NumPack instance '{self._path}' is not opened or has been closed: call open() or use "
                "`with NumPack(...) as npk:`"
            )
        if self._strict and not self._in_context:
            raise StoreClosedError(
                f"NumPack instance '{self._path}' is in strict context mode: call it inside "
                "`with NumPack(...) as npk:`"
            )
        return store

    def _open_store(self) -> Store:
        return self._check()

    def _flush(self, name: Optional[str] = None, evict: bool = False) -> None:
        """In batch mode, writes pending arrays (one, or all) before the disk is read or changed."""
        if self._batch is not None:
            if name is None:
                self._batch.flush()
            else:
                self._batch.flush_name(name, evict)

    # -- writing ----------------------------------------------------------------------------
    def save(self, arrays: Dict[str, Any]) -> None:
        """Saves each ``{name: array}``, creating the array or replacing it whole (shape and
        dtype may change), all in one commit.

        >>> import tempfile
        >>> npk = NumPack(tempfile.mkdtemp() + "/s.npk"); npk.open()
        >>> npk.save({"a": np.arange(6).reshape(3, 2), "b": np.zeros(2, np.float32)})
        >>> npk["c"] = np.ones(3)  # the same, one array
        >>> npk.get_member_list()
        ['a', 'b', 'c']
        """
        store = self._check()
        if not isinstance(arrays, dict):
            raise ValueError("save() takes a dict of {name: array}")
        prepared = {}
        for name, arr in arrays.items():
            if not isinstance(name, str):
                raise TypeError(f"array names must be str, not {type(name).__name__}")
            prepared[name] = _dtypes.prepare(arr, name)
        if self._batch is not None:
            self._batch.save({k: (arrays[k] if isinstance(arrays[k], np.ndarray) else v) for k, v in prepared.items()})
            return
        store.save(list(prepared.items()))

    def __setitem__(self, name: str, array: Any) -> None:
        self.save({name: array})

    def _rows_value(self, name: str, value: Any) -> np.ndarray:
        """``value`` as an array the store takes, as it is: the core casts it to the stored
        dtype (NumPy's same_kind rule, TypeError otherwise) and takes one row given without the
        leading axis as a block of one row, under the same lock as the write."""
        return _dtypes.prepare(value, name)

    def _rows_values(self, store: Store, arrays: Any, what: str) -> List[Tuple[str, np.ndarray]]:
        """Every ``{name: rows}`` of a call converted before any is written, so that a value
        that cannot be cast (TypeError) or a missing array (KeyError) changes nothing. Pending
        batch-mode arrays of those names are written first (the conversion needs their dtype
        and shape as stored)."""
        if not isinstance(arrays, dict):
            raise ValueError(f"{what}() takes a dict of {{name: rows}}")
        for name in arrays:
            self._flush(name, evict=True)
        return [(name, self._rows_value(name, value)) for name, value in arrays.items()]

    def replace(self, arrays: Dict[str, Any], indexes: Any = _MISSING, *, indices: Any = _MISSING) -> None:
        """Overwrites the given logical rows of each array with the given rows (cast by NumPy's
        same_kind rule). ``indexes``: int, slice (any step), list or array of ints (negative
        count from the end) or a boolean mask.

        >>> import tempfile
        >>> npk = NumPack(tempfile.mkdtemp() + "/s.npk"); npk.open()
        >>> npk.save({"a": np.zeros((3, 2))})
        >>> npk.replace({"a": [[1.0, 2.0]]}, [1])
        >>> npk.load("a")
        array([[0., 0.],
               [1., 2.],
               [0., 0.]])
        """
        store = self._check()
        sel = _rows.selection(_pick(indexes, indices))
        store.replace(self._rows_values(store, arrays, "replace"), sel)

    def append(self, arrays: Dict[str, Any]) -> None:
        """Appends rows to existing arrays (cast by NumPy's same_kind rule), in one commit: if any
        array is refused, none changes.

        >>> import tempfile
        >>> npk = NumPack(tempfile.mkdtemp() + "/s.npk"); npk.open()
        >>> npk.save({"a": np.arange(3)})
        >>> npk.append({"a": np.array([7, 8])})
        >>> npk.load("a")
        array([0, 1, 2, 7, 8])
        """
        store = self._check()
        store.append(self._rows_values(store, arrays, "append"))

    def drop(self, array_name: Union[str, Sequence[str]], indexes: Any = _MISSING, *, indices: Any = _MISSING) -> None:
        """Without indexes, removes the array(s) entirely; with them, drops those logical rows
        (the data file is not rewritten until ``update()``).

        >>> import tempfile
        >>> npk = NumPack(tempfile.mkdtemp() + "/s.npk"); npk.open()
        >>> npk.save({"a": np.arange(5), "b": np.arange(2)})
        >>> npk.drop("a", [0, 2])
        >>> npk.load("a")
        array([1, 3, 4])
        >>> npk.drop("b"); "b" in npk
        False
        """
        store = self._check()
        names = [array_name] if isinstance(array_name, str) else list(array_name)
        idx = _pick(indexes, indices, required=False)
        if self._batch is not None:
            for name in names:
                self._flush(name, evict=True)
        if idx is None:
            store.drop_arrays(names)
            return
        store.drop_rows(names, _rows.selection(idx))

    def __delitem__(self, name: str) -> None:
        self.drop(name)

    def reset(self) -> None:
        """Removes every array.

        >>> import tempfile
        >>> npk = NumPack(tempfile.mkdtemp() + "/s.npk"); npk.open()
        >>> npk.save({"a": np.arange(3)})
        >>> npk.reset(); len(npk)
        0
        """
        store = self._check()
        if self._batch is not None:
            self._batch.forget_all()
        store.reset()

    def update(self, array_name: str, *, progress: Any = False) -> None:
        """Compacts an array: rewrites it without its dropped rows. ``progress=True`` shows a
        bar of rows copied (needs ``tqdm``), a callable gets ``(rows done, total)``; Ctrl-C
        stops the copy and leaves the array as it was.

        >>> import tempfile
        >>> npk = NumPack(tempfile.mkdtemp() + "/s.npk"); npk.open()
        >>> npk.save({"a": np.arange(5)})
        >>> npk.drop("a", [1])
        >>> npk.update("a"); npk.get_metadata()["arrays"]["a"]["shape"]
        [4]
        """
        from ._progress import native_hook

        store = self._check()
        self._flush(array_name, evict=True)
        with native_hook(progress, f"update {array_name}", "rows") as hook:
            store.compact(array_name, hook)

    def clone(self, source_name: str, target_name: str, *, progress: Any = False) -> None:
        """Copies the logical rows of ``source_name`` into a new array ``target_name``.
        ``progress`` and Ctrl-C: as in :meth:`update` (an interrupted clone adds nothing).

        >>> import tempfile
        >>> npk = NumPack(tempfile.mkdtemp() + "/s.npk"); npk.open()
        >>> npk.save({"a": np.arange(3)})
        >>> npk.clone("a", "b"); npk.load("b")
        array([0, 1, 2])
        """
        from ._progress import native_hook

        store = self._check()
        self._flush(source_name)
        with native_hook(progress, f"clone {source_name}", "rows") as hook:
            store.clone_array(source_name, target_name, hook)

    # -- reading ----------------------------------------------------------------------------
    def load(self, array_name: str, lazy: bool = False) -> Union[np.ndarray, LazyArray]:
        """The array's logical rows: a new ndarray, or a :class:`LazyArray` if ``lazy``. In
        batch mode the cached array itself is returned (``lazy`` is ignored).

        >>> import tempfile
        >>> npk = NumPack(tempfile.mkdtemp() + "/s.npk"); npk.open()
        >>> npk.save({"a": np.arange(4)})
        >>> npk.load("a")
        array([0, 1, 2, 3])
        >>> lazy = npk.load("a", lazy=True); lazy[1:3]
        array([1, 2])
        """
        store = self._check()
        if self._batch is not None:
            return self._batch.load(array_name)
        if lazy:
            return LazyArray(store.lazy(array_name))
        return store.read(array_name)

    def __getitem__(self, array_name: str) -> np.ndarray:
        return self.load(array_name)  # type: ignore[return-value]

    def getitem(self, array_name: str, indexes: Any = _MISSING, *, indices: Any = _MISSING) -> np.ndarray:
        """A copy of the given logical rows; an int keeps the leading axis (shape ``(1, …)``).

        >>> import tempfile
        >>> npk = NumPack(tempfile.mkdtemp() + "/s.npk"); npk.open()
        >>> npk.save({"a": np.arange(10)})
        >>> npk.getitem("a", [1, -1]), npk.getitem("a", 3)
        (array([1, 9]), array([3]))
        """
        store = self._check()
        idx = _pick(indexes, indices)
        sel = _rows.selection(idx)
        if self._batch is not None:
            self._flush(array_name)
        return store.read(array_name, sel)

    def stream_load(self, array_name: str, buffer_size: Optional[int] = None, *,
                    progress: Any = False) -> Iterator[np.ndarray]:
        """Yields the logical rows in blocks of ``buffer_size`` rows (1 if None). The blocks are
        the rows of the array as it was committed when this was called (a snapshot, like
        ``load(lazy=True)``: rows replaced in place later may show through; saves, appends and
        drops made later do not). ``progress=True`` shows a bar of rows (needs ``tqdm``), a
        callable gets ``(rows_done, rows_total)``.

        >>> import numpy as np, numpack, tempfile, os
        >>> with numpack.NumPack(os.path.join(tempfile.mkdtemp(), "s.npk")) as npk:
        ...     npk.save({"a": np.arange(10)})
        ...     [len(b) for b in npk.stream_load("a", buffer_size=4)]
        [4, 4, 2]
        """
        store = self._check()
        size = 1 if buffer_size is None else operator.index(buffer_size)
        if size <= 0:
            raise ValueError("buffer_size must be positive")
        self._flush(array_name)
        lazy = LazyArray(store.lazy(array_name))
        if progress is None or progress is False:
            return lazy.blocks(size)
        return _reported_blocks(lazy, size, progress, array_name)

    def get_shape(self, array_name: str) -> Tuple[int, ...]:
        """The logical shape.

        >>> import tempfile
        >>> npk = NumPack(tempfile.mkdtemp() + "/s.npk"); npk.open()
        >>> npk.save({"a": np.zeros((4, 2))}); npk.drop("a", [0])
        >>> npk.get_shape("a")
        (3, 2)
        """
        store = self._check()
        self._flush(array_name)
        return tuple(store.info(array_name)[2])

    def get_member_list(self) -> List[str]:
        """Array names, in creation order.

        >>> import tempfile
        >>> npk = NumPack(tempfile.mkdtemp() + "/s.npk"); npk.open()
        >>> npk.save({"x": np.zeros(1), "y": np.zeros(1)}); npk.get_member_list()
        ['x', 'y']
        """
        store = self._check()
        self._flush()
        return store.names()

    def keys(self) -> List[str]:
        """Same as :meth:`get_member_list`.

        >>> import tempfile
        >>> npk = NumPack(tempfile.mkdtemp() + "/s.npk"); npk.open()
        >>> npk["x"] = np.zeros(1); npk.keys()
        ['x']
        """
        return self.get_member_list()

    def has_array(self, array_name: str) -> bool:
        """Whether the array exists.

        >>> import tempfile
        >>> npk = NumPack(tempfile.mkdtemp() + "/s.npk"); npk.open()
        >>> npk["x"] = np.zeros(1); npk.has_array("x"), npk.has_array("y")
        (True, False)
        """
        store = self._check()
        self._flush()
        return store.contains(array_name)

    def __contains__(self, array_name: object) -> bool:
        return isinstance(array_name, str) and self.has_array(array_name)

    def __iter__(self) -> Iterator[str]:
        return iter(self.get_member_list())

    def __len__(self) -> int:
        return len(self.get_member_list())

    def get_modify_time(self, array_name: str) -> Optional[int]:
        """Microseconds since the epoch of the array's last change, or None if it is missing.

        >>> import tempfile
        >>> npk = NumPack(tempfile.mkdtemp() + "/s.npk"); npk.open()
        >>> npk["x"] = np.zeros(1); npk.get_modify_time("x") > 1_600_000_000_000_000
        True
        """
        store = self._check()
        self._flush(array_name)
        try:
            return store.info(array_name)[5]
        except KeyError:
            return None

    def get_metadata(self) -> Dict[str, Any]:
        """Upstream's metadata dict: physical shapes and dtypes by their upstream names.

        >>> import tempfile
        >>> npk = NumPack(tempfile.mkdtemp() + "/s.npk"); npk.open()
        >>> npk["x"] = np.zeros((2, 3), np.float32)
        >>> meta = npk.get_metadata()["arrays"]["x"]; meta["shape"], meta["dtype"], meta["size_bytes"]
        ([2, 3], 'Float32', 24)
        """
        store = self._check()
        self._flush()
        arrays = {}
        for name, dtype, _shape, phys, data_file, modified in store.infos():
            itemsize = np.dtype(dtype).itemsize
            arrays[name] = {
                "shape": list(phys),
                "data_file": data_file,
                "last_modified": modified,
                "size_bytes": int(np.prod(phys, dtype=np.int64)) * itemsize,
                "dtype": _dtypes.UPSTREAM_NAMES[dtype],
            }
        return {"arrays": arrays, "base_dir": str(self._path), "total_arrays": len(arrays)}

    def sync_metadata(self) -> None:
        """Upstream compatibility: writes pending batch-mode arrays. Everything else is already
        committed when each call returns, so there is nothing else to sync.

        >>> import tempfile
        >>> npk = NumPack(tempfile.mkdtemp() + "/s.npk"); npk.open()
        >>> npk.sync_metadata()
        """
        self._check()
        if self._batch is not None:
            self._batch.flush()

    def get_io_stats(self) -> Dict[str, Any]:
        """I/O statistics are not collected.

        >>> import tempfile
        >>> npk = NumPack(tempfile.mkdtemp() + "/s.npk"); npk.open()
        >>> npk.get_io_stats()
        {'stats_available': False}
        """
        return {"stats_available": False}

    # -- batch modes --------------------------------------------------------------------------
    def batch_mode(self, memory_limit: Optional[int] = None) -> BatchModeContext:
        """Cached loads and saves, written on leaving the ``with`` block.

        >>> import tempfile
        >>> npk = NumPack(tempfile.mkdtemp() + "/s.npk"); npk.open()
        >>> npk.save({"a": np.zeros(3)})
        >>> with npk.batch_mode():
        ...     a = npk.load("a"); a[0] = 5; npk.save({"a": a})
        >>> npk.load("a")
        array([5., 0., 0.])
        """
        return BatchModeContext(self, memory_limit)

    def writable_batch_mode(self) -> WritableBatchMode:
        """Writable arrays mapped straight onto the data files.

        >>> import tempfile
        >>> npk = NumPack(tempfile.mkdtemp() + "/s.npk"); npk.open()
        >>> npk.save({"a": np.zeros(3)})
        >>> with npk.writable_batch_mode() as wb:
        ...     wb.load("a")[1] = 7
        >>> npk.load("a")
        array([0., 7., 0.])
        """
        return WritableBatchMode(self)

    def _repr_html_(self) -> str:
        """Jupyter's view: a table of the arrays, their shapes, dtypes and sizes."""
        from ._html import store_html

        if self._store is None:
            return store_html(str(self._path), None)
        try:
            rows = [(name, tuple(shape), dtype, phys[0] - shape[0] if shape else 0,
                     int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize)
                    for name, dtype, shape, phys, _f, _m in self._store.infos()]
        except Exception as exc:  # a repr must not raise
            return store_html(str(self._path), None, error=str(exc))
        return store_html(str(self._path), rows)

    def __repr__(self) -> str:
        if self._store is None:
            return f"NumPack({str(self._path)!r}, status=closed)"
        try:
            return f"NumPack({str(self._path)!r}, arrays={len(self._store.names())})"
        except Exception:
            return f"NumPack({str(self._path)!r})"
