"""Turning user arrays into what the store takes: one of 14 dtypes, native byte order, C order."""

from typing import Any

import numpy as np

#: NumPy names of the dtypes NumPack stores.
SUPPORTED = (
    "bool", "uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64",
    "float16", "float32", "float64", "complex64", "complex128",
)
_SUPPORTED = frozenset(SUPPORTED)

#: Upstream NumPack's names for the dtypes, as ``get_metadata()`` shows them.
UPSTREAM_NAMES = {
    "bool": "Bool", "uint8": "Uint8", "uint16": "Uint16", "uint32": "Uint32", "uint64": "Uint64",
    "int8": "Int8", "int16": "Int16", "int32": "Int32", "int64": "Int64", "float16": "Float16",
    "float32": "Float32", "float64": "Float64", "complex64": "Complex64", "complex128": "Complex128",
}


def _check_dtype(dt: np.dtype, name: str) -> None:
    if dt.name not in _SUPPORTED or dt.fields is not None:
        raise TypeError(
            f"unsupported dtype {dt} for array {name!r}: NumPack stores bool, int8-64, "
            "uint8-64, float16/32/64 and complex64/128"
        )


def prepare(value: Any, name: str) -> np.ndarray:
    """A C-contiguous, native-endian array of a supported dtype with the values of ``value``."""
    a = value if isinstance(value, np.ndarray) else np.asarray(value)
    if type(a) is not np.ndarray:
        a = np.asarray(a)  # subclasses (matrix, memmap, masked) become plain arrays
    dt = a.dtype
    _check_dtype(dt, name)
    if not dt.isnative:
        a = a.astype(dt.newbyteorder("="))
    if not a.flags.c_contiguous:
        a = a.copy(order="C")
    return a


def cast_to(value: Any, target: np.dtype, name: str) -> np.ndarray:
    """``value`` cast to the stored dtype ``target`` by the store's write rule (NumPy's
    same_kind, decided in the core), else TypeError."""
    a = prepare(value, name)
    if a.dtype != target:
        from . import _numpack

        a = _numpack.cast(a, np.dtype(target).name, name)
    return a
