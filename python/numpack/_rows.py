"""Row selections for replace, drop and getitem, in the form the compiled module takes:
``None`` (all rows), a ``(start, stop, step)`` tuple, or a 1-D int64 array."""

import operator
from typing import Any, Callable, Optional, Tuple, Union

import numpy as np

Selection = Union[None, Tuple[Optional[int], Optional[int], int], np.ndarray]

_I64_MAX = 2**63 - 1


def _clamp(v: Any) -> Optional[int]:
    if v is None:
        return None
    v = operator.index(v)
    return max(min(v, _I64_MAX), -_I64_MAX)


def oob(index: int, n: int) -> IndexError:
    """NumPy's error for an index outside an axis."""
    return IndexError(f"index {index} is out of bounds for axis 0 with size {n}")


def mask_rows(mask: np.ndarray, n: int) -> np.ndarray:
    """The rows a 1-D boolean mask over ``n`` rows selects."""
    if mask.ndim != 1 or mask.shape[0] != n:
        raise IndexError(
            f"boolean index did not match indexed array along axis 0; size of axis is {n} "
            f"but size of corresponding boolean axis is {mask.shape[0] if mask.ndim else 0}"
        )
    return np.flatnonzero(mask).astype(np.int64)


def int_rows(a: np.ndarray) -> np.ndarray:
    """An integer index array as contiguous 1-D int64."""
    if a.dtype.kind == "u" and a.size and int(a.max()) > _I64_MAX:
        raise IndexError(f"index {int(a.max())} is out of bounds")
    return np.ascontiguousarray(a.reshape(-1), dtype=np.int64)


def selection(indexes: Any, nrows: Callable[[], int]) -> Selection:
    """Translates a user's ``indexes`` (int, slice, list, tuple, range or array of ints or
    bools); ``nrows`` gives the logical row count when a mask needs it."""
    if isinstance(indexes, (bool, np.bool_)):
        raise ValueError("indexes must be ints, slices or arrays, not a bool")
    if isinstance(indexes, (int, np.integer)):
        return np.array([_clamp(indexes)], dtype=np.int64)
    if isinstance(indexes, slice):
        step = 1 if indexes.step is None else _clamp(indexes.step)
        if step == 0:
            raise ValueError("slice step cannot be zero")
        return (_clamp(indexes.start), _clamp(indexes.stop), step)
    if isinstance(indexes, (list, tuple, range, np.ndarray)):
        a = np.asarray(indexes)
        if a.dtype == np.bool_:
            return mask_rows(a, nrows())
        if a.size == 0:
            return np.empty(0, dtype=np.int64)
        if a.dtype.kind not in "iu":
            raise ValueError(f"indexes must be integers or booleans, not {a.dtype}")
        return int_rows(a)
    raise ValueError(
        f"indexes must be an int, a slice, or a list/array of ints or bools, not {type(indexes).__name__}"
    )
