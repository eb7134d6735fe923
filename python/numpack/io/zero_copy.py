"""Handing arrays to other libraries without copying them: DLPack and Apache Arrow.

Each helper shares memory when the layouts allow it and otherwise copies, as documented on
it; pass ``strict=True`` where offered to get an error instead of a copy. A loaded array or a
:class:`~numpack.LazyArray` with no dropped rows can be shared this way (``numpy.asarray``
of a lazy array is a view of its mapping). The PyTorch helpers of upstream NumPack are not
provided.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple, Union

import numpy as np

from ._common import require

_CPU = (1, 0)  # DLPack device (kDLCPU, device id 0)


def _check_dlpack_dtype(arr: np.ndarray) -> np.ndarray:
    """``arr`` if DLPack can carry its dtype (bool, integers, floats, complex), else TypeError
    (NumPy's own refusal is a BufferError, outside the documented families)."""
    if arr.dtype.kind not in "biufc":
        raise TypeError(f"DLPack carries bool, integer, float and complex arrays, not {arr.dtype}")
    return arr


def _is_capsule(obj: Any) -> bool:
    return type(obj).__name__ == "PyCapsule"


class DLPackBuffer:
    """An object speaking the DLPack protocol (``__dlpack__`` / ``__dlpack_device__``) for an
    array, for anything else that speaks it, or for a raw DLPack capsule (which can be
    consumed only once), so ``numpy.from_dlpack`` and other libraries' ``from_dlpack`` accept
    it.

    >>> import numpy as np
    >>> np.from_dlpack(DLPackBuffer(np.arange(2)))
    array([0, 1])
    """

    def __init__(self, source: Any) -> None:
        self._capsule = None
        self._source = None
        if _is_capsule(source):
            self._capsule = source
        elif isinstance(source, np.ndarray):
            self._source = _check_dlpack_dtype(source)
        elif hasattr(source, "__dlpack__"):
            self._source = source
        else:
            self._source = _check_dlpack_dtype(np.asarray(source))

    def __dlpack__(self, *, stream: Any = None, max_version: Optional[Tuple[int, int]] = None,
                   dl_device: Any = None, copy: Optional[bool] = None) -> Any:
        if self._source is None:
            capsule, self._capsule = self._capsule, None
            if capsule is None:
                raise BufferError("this DLPack capsule was already consumed")
            return capsule
        kwargs = {k: v for k, v in (("max_version", max_version), ("dl_device", dl_device), ("copy", copy)) if v is not None}
        if stream is not None:
            kwargs["stream"] = stream
        try:
            return self._source.__dlpack__(**kwargs)
        except TypeError:
            if not kwargs:
                raise
            return self._source.__dlpack__()

    def __dlpack_device__(self) -> Tuple[int, int]:
        if self._source is not None and hasattr(self._source, "__dlpack_device__"):
            return tuple(self._source.__dlpack_device__())  # type: ignore[return-value]
        return _CPU


def to_dlpack(array: Any) -> Any:
    """A DLPack capsule sharing ``array``'s memory (an ndarray, a LazyArray, or anything with
    ``__dlpack__``). Read-only arrays need a consumer that reads versioned (DLPack 1.0)
    capsules.

    >>> import numpy as np
    >>> from_dlpack(to_dlpack(np.arange(3)))
    array([0, 1, 2])
    """
    if not hasattr(array, "__dlpack__") or not isinstance(array, np.ndarray):
        array = np.asarray(array)
    if isinstance(array, np.ndarray):
        _check_dlpack_dtype(array)
    try:
        return array.__dlpack__()
    except BufferError:
        return array.__dlpack__(max_version=(1, 0))


def from_dlpack(obj: Any) -> np.ndarray:
    """An ndarray sharing the memory of a DLPack capsule or of any object with
    ``__dlpack__`` (CPU memory only).

    >>> import numpy as np
    >>> a = np.arange(3); np.shares_memory(from_dlpack(a), a)
    True
    """
    if _is_capsule(obj):
        obj = DLPackBuffer(obj)
    elif not hasattr(obj, "__dlpack__"):
        raise TypeError(f"{type(obj).__name__} is neither a DLPack capsule nor has __dlpack__")
    return np.from_dlpack(obj)


# -- Arrow -----------------------------------------------------------------------------------
def numpy_to_arrow_zero_copy(array: Any, strict: bool = False) -> Any:
    """A pyarrow Array over ``array``'s memory: 1-D arrays give a primitive array, N-D arrays
    nested fixed-size lists (one element per row). Booleans (bit-packed in Arrow) and
    non-contiguous arrays are copied, or rejected with ValueError if ``strict``; complex and
    0-d arrays raise TypeError / ValueError.

    >>> import numpy as np
    >>> numpy_to_arrow_zero_copy(np.arange(3)).to_pylist()
    [0, 1, 2]
    """
    pa = require("pyarrow")
    arr = np.asarray(array)
    if arr.ndim == 0:
        raise ValueError("Arrow arrays have at least one dimension; this array is 0-d")
    if arr.dtype.kind == "c":
        raise TypeError("Arrow has no complex type")
    needs_copy = arr.dtype.kind == "b" or not arr.flags.c_contiguous or not arr.dtype.isnative
    if needs_copy and strict:
        raise ValueError("this array cannot be shared with Arrow without a copy "
                         "(bool, non-contiguous or non-native byte order)")
    flat = np.ascontiguousarray(arr).reshape(-1)
    if flat.dtype.kind == "b":
        values = pa.array(flat)
    else:
        if not flat.dtype.isnative:
            flat = flat.astype(flat.dtype.newbyteorder("="))
        values = pa.Array.from_buffers(pa.from_numpy_dtype(flat.dtype), len(flat), [None, pa.py_buffer(flat)])
    for size in reversed(arr.shape[1:]):
        values = pa.FixedSizeListArray.from_arrays(values, size)
    return values


def arrow_to_numpy_zero_copy(arrow_array: Any, strict: bool = False) -> np.ndarray:
    """An ndarray over an Arrow array's memory (Array, or ChunkedArray of one chunk); nested
    fixed-size lists become extra dimensions. Arrays with nulls, booleans and several chunks
    need a copy: made, or refused with ValueError if ``strict``.

    >>> import pyarrow as pa
    >>> arrow_to_numpy_zero_copy(pa.array([1.5, 2.5]))
    array([1.5, 2.5])
    """
    pa = require("pyarrow")
    col = arrow_array
    if isinstance(col, pa.ChunkedArray):
        if col.num_chunks == 1:
            col = col.chunk(0)
        elif strict:
            raise ValueError(f"an array of {col.num_chunks} chunks cannot be read without a copy")
        else:
            col = col.combine_chunks()
    if not isinstance(col, pa.Array):
        raise TypeError(f"expected a pyarrow Array or ChunkedArray, not {type(arrow_array).__name__}")
    dims = []
    values = col
    while pa.types.is_fixed_size_list(values.type):
        if values.null_count:
            raise ValueError("fixed-size-list arrays with null rows have no NumPy equivalent")
        dims.append(values.type.list_size)
        values = values.flatten()
    try:
        out = values.to_numpy(zero_copy_only=True)
    except pa.ArrowInvalid:
        if strict:
            raise ValueError(f"an Arrow {values.type} array with {values.null_count} nulls cannot be read "
                             "without a copy") from None
        out = values.to_numpy(zero_copy_only=False)
    return out.reshape((len(col),) + tuple(dims)) if dims else out


def table_to_numpy_zero_copy(table: Any, column: Union[str, int], strict: bool = False) -> np.ndarray:
    """One column (by name or position) of a pyarrow Table or RecordBatch as an ndarray over
    its memory; see :func:`arrow_to_numpy_zero_copy`.

    >>> import pyarrow as pa
    >>> table_to_numpy_zero_copy(pa.table({"x": [1, 2]}), "x")
    array([1, 2])
    """
    pa = require("pyarrow")
    if not isinstance(table, (pa.Table, pa.RecordBatch)):
        raise TypeError(f"expected a pyarrow Table or RecordBatch, not {type(table).__name__}")
    if isinstance(column, str) and column not in table.schema.names:
        raise KeyError(column)
    return arrow_to_numpy_zero_copy(table.column(column), strict=strict)


# -- one wrapper -----------------------------------------------------------------------------
class ZeroCopyArray:
    """An array offered to several libraries at once, each view sharing its memory:
    ``to_numpy()``, ``to_arrow()``, ``to_dlpack()``, and the NumPy and DLPack protocols
    (``numpy.asarray(z)``, ``numpy.from_dlpack(z)``).

    >>> import numpy as np
    >>> ZeroCopyArray(np.arange(3)).to_numpy()
    array([0, 1, 2])
    """

    def __init__(self, array: Any) -> None:
        arr = np.asarray(array)
        if arr.dtype.hasobject:
            raise TypeError("object arrays have no shareable memory")
        self._array = arr

    @property
    def shape(self) -> Tuple[int, ...]:
        return self._array.shape

    @property
    def dtype(self) -> np.dtype:
        return self._array.dtype

    @property
    def nbytes(self) -> int:
        return self._array.nbytes

    def __len__(self) -> int:
        return len(self._array)

    def to_numpy(self) -> np.ndarray:
        """The array itself (no copy)."""
        return self._array

    def to_arrow(self, strict: bool = False) -> Any:
        """See :func:`numpy_to_arrow_zero_copy`."""
        return numpy_to_arrow_zero_copy(self._array, strict=strict)

    def to_dlpack(self) -> Any:
        """See :func:`to_dlpack`."""
        return to_dlpack(self._array)

    def __array__(self, dtype: Any = None, copy: Optional[bool] = None) -> np.ndarray:
        if dtype is not None and np.dtype(dtype) != self._array.dtype:
            if copy is False:
                raise ValueError("a dtype change needs a copy")
            return self._array.astype(dtype)
        return self._array.copy() if copy else self._array

    def __dlpack__(self, **kwargs: Any) -> Any:
        return DLPackBuffer(self._array).__dlpack__(**kwargs)

    def __dlpack_device__(self) -> Tuple[int, int]:
        return _CPU

    def __repr__(self) -> str:
        return f"ZeroCopyArray(shape={self.shape}, dtype={self.dtype})"


def wrap_for_zero_copy(array: Any) -> ZeroCopyArray:
    """``ZeroCopyArray(array)``.

    >>> import numpy as np
    >>> z = wrap_for_zero_copy(np.zeros((2, 3))); z.shape, z.nbytes
    ((2, 3), 48)
    """
    return ZeroCopyArray(array)
