"""Row selections for replace, drop and getitem, in the form the compiled module takes:
``None`` (all rows), a ``(start, stop, step)`` tuple, a 1-D int64 array of indices or a 1-D
bool mask. Nothing here depends on the array: bounds, negative indices and the mask length
are resolved by the core under the same lock as the rows they address."""

import operator
from typing import Any, Optional, Tuple, Union

import numpy as np

Selection = Union[None, Tuple[Optional[int], Optional[int], int], np.ndarray]

_I64_MAX = 2**63 - 1
_INT64 = np.dtype(np.int64)


def _clamp(v: Any) -> Optional[int]:
    if v is None:
        return None
    v = operator.index(v)
    return max(min(v, _I64_MAX), -_I64_MAX)


def mask(a: np.ndarray) -> np.ndarray:
    """A boolean mask as contiguous 1-D bool (its length is checked against the row count by
    the core); NumPy's IndexError for a mask of another rank."""
    if a.ndim != 1:
        raise IndexError(f"a boolean row mask must be 1-D, not {a.ndim}-D")
    return np.ascontiguousarray(a, dtype=np.bool_)


def int_rows(a: Any) -> np.ndarray:
    """Integer indices as contiguous 1-D int64. Python ints beyond 64 bits (NumPy holds them
    as objects) and uint64 values beyond 2^63 − 1 are clamped to ±(2^63 − 1): out of range
    of any array either way, which the core reports as an IndexError."""
    a = np.asarray(a)
    if a.dtype == object:
        return np.array([_clamp(v) for v in a.reshape(-1)], dtype=np.int64)
    if a.dtype.kind == "u" and a.size and int(a.max()) > _I64_MAX:
        a = np.minimum(a, np.uint64(_I64_MAX))
    if a.dtype.kind not in "iu" and a.size:
        raise ValueError(f"indexes must be integers or booleans, not {a.dtype}")
    return np.ascontiguousarray(a.reshape(-1), dtype=np.int64)


def selection(indexes: Any) -> Selection:
    """Translates a user's ``indexes`` (int, slice, list, tuple, range or array of ints or
    bools)."""
    if type(indexes) is np.ndarray and indexes.dtype is _INT64 and indexes.ndim == 1:
        return indexes  # as it is (~0.1 us; the compiled module copies any strides)
    if isinstance(indexes, (bool, np.bool_)):
        raise ValueError("indexes must be ints, slices or arrays, not a bool")
    if isinstance(indexes, (int, np.integer)):
        return np.array([_clamp(indexes)], dtype=np.int64)
    if isinstance(indexes, slice):
        step = 1 if indexes.step is None else _clamp(indexes.step)
        return (_clamp(indexes.start), _clamp(indexes.stop), step)
    if isinstance(indexes, (list, tuple, range, np.ndarray)):
        a = np.asarray(indexes)
        if a.dtype == np.bool_:
            return mask(a)
        return int_rows(a)
    raise ValueError(
        f"indexes must be an int, a slice, or a list/array of ints or bools, not {type(indexes).__name__}"
    )
