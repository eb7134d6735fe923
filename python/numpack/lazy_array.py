"""``LazyArray``: an array in a store, read on demand through a shared memory mapping.

Indexing follows NumPy exactly and always addresses *logical* rows (dropped rows never
show). ``np.asarray(lazy)`` is a zero-copy, read-only view when no row is dropped; the view
keeps the mapping alive however long it lives. A LazyArray is the array as it was when
loaded: replacements of rows show through, later saves, appends and drops do not.
"""

import operator
from typing import Any, Iterator, List, Optional, Tuple

import numpy as np

from . import _rows

#: Rows read per block when iterating.
_ITER_ROWS = 4096


class LazyArray:
    """A read-only, memory-mapped view of one stored array (see the module doc).

    >>> import numpy as np, numpack, tempfile
    >>> with numpack.NumPack(tempfile.mkdtemp() + "/s.npk") as npk:
    ...     npk.save({"a": np.arange(10).reshape(5, 2)})
    ...     npk.drop("a", [0])
    ...     lazy = npk.load("a", lazy=True)
    >>> lazy.shape, lazy[0], lazy[lazy[:, 0] > 5]
    ((4, 2), array([2, 3]), array([[6, 7],
           [8, 9]]))
    """

    __slots__ = ("_m", "_shape", "_dtype", "_zc", "__weakref__")

    def __init__(self, mapped: Any) -> None:
        self._m = mapped
        self._shape: Tuple[int, ...] = tuple(mapped.shape)
        self._dtype = np.dtype(mapped.dtype)
        self._zc: Any = None  # the zero-copy view once made; False if there is none

    # -- description ------------------------------------------------------------------------
    @property
    def shape(self) -> Tuple[int, ...]:
        """Logical shape."""
        return self._shape

    @property
    def dtype(self) -> np.dtype:
        """Element type."""
        return self._dtype

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return len(self._shape)

    @property
    def size(self) -> int:
        """Number of elements."""
        return int(np.prod(self._shape, dtype=np.int64))

    @property
    def itemsize(self) -> int:
        """Bytes per element."""
        return self._dtype.itemsize

    @property
    def nbytes(self) -> int:
        """Bytes of all logical elements."""
        return self.size * self._dtype.itemsize

    @property
    def T(self) -> np.ndarray:
        """The transpose, as an ndarray."""
        return np.asarray(self).T

    def __len__(self) -> int:
        if not self._shape:
            raise TypeError("len() of unsized object")
        return self._shape[0]

    def __repr__(self) -> str:
        return f"LazyArray(shape={self._shape}, dtype={self._dtype})"

    # -- conversion -------------------------------------------------------------------------
    def _view(self) -> Optional[np.ndarray]:
        """The zero-copy read-only ndarray of all rows, or None when rows are dropped."""
        if self._zc is None:
            v = self._m.view()
            self._zc = False if v is None else v
        return self._zc if self._zc is not False else None

    def __array__(self, dtype: Any = None, copy: Optional[bool] = None) -> np.ndarray:
        v = self._view()
        if v is None:
            if copy is False:
                raise ValueError("rows were dropped: a LazyArray cannot become an ndarray without a copy")
            v = self._m.read()
        elif copy:
            v = v.copy()
        if dtype is not None and np.dtype(dtype) != v.dtype:
            if copy is False:
                raise ValueError("a dtype change needs a copy")
            v = v.astype(dtype)
        return v

    def __dlpack__(self, *, stream: Any = None, max_version: Any = None, dl_device: Any = None,
                   copy: Optional[bool] = None) -> Any:
        """The DLPack protocol (read-only): zero-copy over the mapping when no row is dropped,
        so ``torch.from_dlpack(lazy)`` and ``jax.dlpack.from_dlpack(lazy)`` share its memory.
        With dropped rows the logical rows are copied once (``copy=False`` then raises
        ``BufferError``).

        >>> import numpy as np, numpack, tempfile, os
        >>> with numpack.NumPack(os.path.join(tempfile.mkdtemp(), "s.npk")) as npk:
        ...     npk.save({"a": np.arange(6.0).reshape(3, 2)})
        ...     np.from_dlpack(npk.load("a", lazy=True))
        array([[0., 1.],
               [2., 3.],
               [4., 5.]])
        """
        v = self._view()
        if v is None:
            if copy is False:
                raise BufferError("rows were dropped: the logical rows need a copy")
            v = self._m.read()
        kwargs: dict = {"stream": stream}
        if max_version is not None:
            kwargs["max_version"] = max_version
        if dl_device is not None:
            kwargs["dl_device"] = dl_device
        if copy is not None:
            kwargs["copy"] = copy
        try:
            return v.__dlpack__(**kwargs)
        except BufferError:
            # A consumer of the pre-1.0 protocol cannot be told the memory is read-only: it
            # gets a copy rather than a writable alias of the read-only mapping.
            if copy is False or v.flags.writeable:
                raise
            return v.copy().__dlpack__(**kwargs)

    def __dlpack_device__(self) -> Tuple[int, int]:
        """``(1, 0)``: CPU memory."""
        return (1, 0)

    def _repr_html_(self) -> str:
        """Jupyter's view: shape, dtype, size and a preview of the first rows."""
        from ._html import lazy_html

        try:
            n = self._shape[0] if self._shape else 0
            head = np.asarray(self[:min(n, 5)]) if self._shape else np.asarray(self)
            with np.printoptions(threshold=30, edgeitems=3):
                preview = np.array2string(head) + ("\n…" if self._shape and n > 5 else "")
        except Exception:  # a repr must not raise
            preview = None
        return lazy_html(self._shape, self._dtype, self.nbytes, preview)

    def __buffer__(self, flags: int) -> memoryview:
        """The buffer protocol (Python 3.12+): read-only, zero-copy when no row is dropped."""
        return memoryview(np.asarray(self))

    def copy(self) -> np.ndarray:
        """A writable copy of the logical rows.

        >>> import numpy as np, numpack, tempfile
        >>> with numpack.NumPack(tempfile.mkdtemp() + "/s.npk") as npk:
        ...     npk.save({"a": np.arange(3)})
        ...     c = npk.load("a", lazy=True).copy(); c[0] = 9; c
        array([9, 1, 2])
        """
        return self._m.read()

    __copy__ = copy

    def __deepcopy__(self, memo: Any) -> np.ndarray:
        return self._m.read()

    def to_numpy(self) -> np.ndarray:
        """Same as :meth:`copy`."""
        return self._m.read()

    def reshape(self, *shape: Any) -> np.ndarray:
        """``np.asarray(self).reshape(shape)``: zero-copy when no row is dropped."""
        if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
            shape = tuple(shape[0])
        return np.asarray(self).reshape(shape)

    # -- upstream NumPack's extra LazyArray methods, kept so code written for it runs as is --
    def vectorized_gather(self, indices: Any) -> np.ndarray:
        """Rows at the given logical indices (``self[indices]``)."""
        return self._select(_rows.int_rows(indices))

    def parallel_boolean_index(self, mask: Any) -> np.ndarray:
        """Rows where the boolean ``mask`` over logical rows is true (``self[mask]``)."""
        return self[np.asarray(mask, dtype=bool)]

    boolean_index_production = parallel_boolean_index
    boolean_index_adaptive_algorithm = parallel_boolean_index
    boolean_index_smart = parallel_boolean_index
    boolean_index_adaptive = parallel_boolean_index

    def mega_batch_get_rows(self, indices: Any, batch_size: int = 1000) -> List[np.ndarray]:
        """The rows at ``indices`` as a list of rows, gathered ``batch_size`` indices at a time."""
        if operator.index(batch_size) <= 0:
            raise ValueError("batch_size must be positive")
        idx = _rows.int_rows(indices)
        rows: List[np.ndarray] = []
        for start in range(0, len(idx), batch_size):
            rows.extend(self[idx[start:start + batch_size]])
        return rows

    def choose_optimal_algorithm(self, mask: Any) -> str:
        """Upstream's hint: ``"sparse"`` (< 10 % selected), ``"dense"`` (> 90 %) or ``"adaptive"``."""
        m = np.asarray(mask, dtype=bool)
        share = float(m.mean()) if m.size else 0.0
        return "sparse" if share < 0.1 else "dense" if share > 0.9 else "adaptive"

    def intelligent_warmup(self, hint: Any = None) -> None:
        """Accepted for compatibility; the page cache needs no warm-up call."""

    def close(self) -> None:
        """Accepted for compatibility: the mapping is released when the last view of it goes."""

    def __enter__(self) -> "LazyArray":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __iter__(self) -> Iterator[Any]:
        if not self._shape:
            raise TypeError("iteration over a 0-d array")
        n = self._shape[0]
        for start in range(0, n, _ITER_ROWS):
            yield from self._m.range(start, min(_ITER_ROWS, n - start))

    def blocks(self, rows: int) -> Iterator[np.ndarray]:
        """Copies of the logical rows, ``rows`` at a time (what ``NumPack.stream_load`` yields).
        TypeError for a 0-d array, which has no rows."""
        if not self._shape:
            raise TypeError("iteration over a 0-d array")
        n = self._shape[0]

        def gen() -> Iterator[np.ndarray]:
            for start in range(0, n, rows):
                yield self._m.range(start, min(rows, n - start))

        return gen()

    # -- indexing ---------------------------------------------------------------------------
    def _select(self, sel: Any) -> np.ndarray:
        """The rows a selection in the compiled module's form picks (bounds, negative indices
        and mask lengths are checked there, by the core's rules)."""
        return self._m.select(sel)

    def __getitem__(self, key: Any) -> Any:
        if not self._shape:
            return np.asarray(self)[key]
        if isinstance(key, (int, np.integer)) and not isinstance(key, (bool, np.bool_)):
            return self._select(_rows.selection(key))[0]
        if isinstance(key, slice):
            return self._select(_rows.selection(key))
        if isinstance(key, np.ndarray) and key.ndim == 1 and key.dtype.kind in "iub":
            return self._select(_rows.selection(key))
        if isinstance(key, list) and key and all(type(k) is int for k in key):
            return self._select(_rows.selection(key))
        return self._general(key if isinstance(key, tuple) else (key,), self._shape[0])

    def _general(self, key: Tuple[Any, ...], n: int) -> Any:
        """Any NumPy index: the rows the axis-0 part selects are gathered into a compact
        block, and the index, rewritten to address that block, is applied by NumPy."""
        v = self._view()
        if v is not None:
            r = v[key]
            return r.copy() if isinstance(r, np.ndarray) and not r.flags.owndata else r
        items = list(key)
        i = 0
        while i < len(items) and items[i] is None:
            i += 1
        if i == len(items) or items[i] is Ellipsis:
            return self._m.read()[key]
        comp = items[i]
        # The rows the first-axis part picks are selected by the compiled module (bounds,
        # negative indices and mask lengths checked there, as for NumPack.getitem); the rest
        # of the index is NumPy's, over that block.
        if isinstance(comp, (int, np.integer)) and not isinstance(comp, (bool, np.bool_)):
            block = self._select(_rows.selection(comp))
            items[i] = 0
        elif isinstance(comp, slice):
            block = self._select(_rows.selection(comp))
            items[i] = slice(None)
        else:
            a = comp if isinstance(comp, np.ndarray) else np.asarray(comp)
            if isinstance(comp, list) and a.size == 0:
                a = a.astype(np.intp)  # NumPy reads an empty list as an empty integer index
            if a.dtype == np.bool_:
                if a.ndim == 0:
                    return self._m.read()[key]
                # The rows with any selected element; NumPy's length check on the first axis.
                for axis in range(1, a.ndim):
                    if axis >= len(self._shape) or a.shape[axis] != self._shape[axis]:
                        size = self._shape[axis] if axis < len(self._shape) else 0
                        raise IndexError(
                            f"boolean index did not match indexed array along axis {axis}; size of axis "
                            f"is {size} but size of corresponding boolean axis is {a.shape[axis]}"
                        )
                rows = a.reshape(a.shape[0], -1).any(axis=1) if a.ndim > 1 else a
                block = self._select(_rows.mask(rows))
                nz = a[rows].nonzero()
                items[i : i + 1] = list(nz)
            elif a.dtype.kind in "iu" or (a.dtype == object and a.size):
                flat = _rows.int_rows(a)
                block = self._select(flat)
                items[i] = np.arange(flat.size, dtype=np.intp).reshape(a.shape)
            else:
                raise IndexError(
                    "only integers, slices (`:`), ellipsis (`...`), numpy.newaxis (`None`) "
                    "and integer or boolean arrays are valid indices"
                )
        return block[tuple(items)]


def _binary(op: Any, reflected: bool = False) -> Any:
    if reflected:
        def method(self: LazyArray, other: Any) -> Any:
            return op(other, np.asarray(self))
    else:
        def method(self: LazyArray, other: Any) -> Any:
            return op(np.asarray(self), other)
    return method


for _name, _op in {
    "add": operator.add, "sub": operator.sub, "mul": operator.mul, "truediv": operator.truediv,
    "floordiv": operator.floordiv, "mod": operator.mod, "pow": operator.pow, "matmul": operator.matmul,
    "and": operator.and_, "or": operator.or_, "xor": operator.xor, "lshift": operator.lshift,
    "rshift": operator.rshift,
}.items():
    setattr(LazyArray, f"__{_name}__", _binary(_op))
    setattr(LazyArray, f"__r{_name}__", _binary(_op, reflected=True))
for _name, _op in {"eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "le": operator.le,
                   "gt": operator.gt, "ge": operator.ge}.items():
    setattr(LazyArray, f"__{_name}__", _binary(_op))
LazyArray.__neg__ = lambda self: -np.asarray(self)  # type: ignore[attr-defined]
LazyArray.__pos__ = lambda self: +np.asarray(self)  # type: ignore[attr-defined]
LazyArray.__abs__ = lambda self: abs(np.asarray(self))  # type: ignore[attr-defined]
LazyArray.__invert__ = lambda self: ~np.asarray(self)  # type: ignore[attr-defined]
LazyArray.__hash__ = None  # type: ignore[assignment]
