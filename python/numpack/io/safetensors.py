"""safetensors files (reading needs ``pip install safetensors``; writing needs nothing).

Reads go through ``safetensors.safe_open(..., framework="np")`` and its slices, one block of
rows at a time. Exports stream too: the header (8-byte little-endian length, then JSON padded
with spaces to a multiple of 8) is computed from the shapes first, then each array's rows are
written in turn, largest item size first so every tensor stays aligned to its item size.
"""

from __future__ import annotations

import json
import struct
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from ._common import (
    DEFAULT_CHUNK_SIZE,
    PathLike,
    atomic_output,
    check_chunk_size,
    commit_output,
    discard,
    finish,
    finish_import,
    import_arrays,
    input_file,
    names_or_all,
    open_for_read,
    open_for_write,
    require,
    row_blocks,
    sliced,
    snapshot,
)

_DTYPE_CODES = {
    "bool": "BOOL", "uint8": "U8", "int8": "I8", "uint16": "U16", "int16": "I16",
    "uint32": "U32", "int32": "I32", "uint64": "U64", "int64": "I64",
    "float16": "F16", "float32": "F32", "float64": "F64", "complex64": "C64",
}


def _safe_open(path: Any) -> Any:
    """``safe_open`` whose refusal of a malformed file is a ValueError (the library raises its
    own ``SafetensorError``, outside the documented families)."""
    st = require("safetensors")
    try:
        return st.safe_open(str(path), framework="np")
    except Exception as exc:
        if isinstance(exc, (OSError, ValueError, TypeError)):
            raise
        raise ValueError(f"{str(path)!r} is not a valid safetensors file: {exc}") from exc


def get_safetensors_metadata(path: PathLike) -> Dict[str, Any]:
    """What a safetensors file holds, without reading its tensors:
    ``{"tensors": {name: {"shape": [...], "dtype": "F32"}}, "metadata": {...}}``.

    >>> import numpy as np, tempfile, pathlib, numpack
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with numpack.NumPack(d / "s.npk") as npk:
    ...     npk.save({"m": np.arange(6.0).reshape(3, 2)})
    >>> to_safetensors_file(d / "s.npk", d / "m.safetensors")
    >>> get_safetensors_metadata(d / "m.safetensors")["tensors"]["m"]["shape"]
    [3, 2]
    """
    src = input_file(path)
    with _safe_open(src) as f:
        tensors = {}
        for key in f.keys():
            sl = f.get_slice(key)
            tensors[key] = {"shape": list(sl.get_shape()), "dtype": sl.get_dtype()}
        return {"tensors": tensors, "metadata": dict(f.metadata() or {})}


def _chosen_keys(f: Any, keys: Optional[Union[str, Sequence[str]]], src: Any) -> List[str]:
    available = list(f.keys())
    if keys is None:
        return available
    chosen = [keys] if isinstance(keys, str) else list(keys)
    missing = [k for k in chosen if k not in available]
    if missing:
        raise KeyError(f"no tensor(s) {missing} in {str(src)!r}")
    return chosen


def iter_safetensors(path: PathLike, keys: Optional[Union[str, Sequence[str]]] = None) -> Iterator[Tuple[str, np.ndarray]]:
    """Yields ``(name, ndarray)`` for the tensors of a safetensors file (``keys``, default
    all), reading one tensor at a time.

    >>> import numpy as np, tempfile, pathlib, numpack
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with numpack.NumPack(d / "s.npk") as npk:
    ...     npk.save({"m": np.arange(6.0).reshape(3, 2)})
    >>> to_safetensors_file(d / "s.npk", d / "m.safetensors")
    >>> [(k, v.shape) for k, v in iter_safetensors(d / "m.safetensors")]
    [('m', (3, 2))]
    """
    src = input_file(path)
    with _safe_open(src) as f:
        for key in _chosen_keys(f, keys, src):
            yield key, f.get_tensor(key)


def from_safetensors_file(input_path: PathLike, output_path: PathLike,
                          keys: Optional[Union[str, Sequence[str]]] = None, drop_if_exists: bool = False,
                          chunk_size: int = DEFAULT_CHUNK_SIZE, return_npk_obj: bool = False) -> Any:
    """Imports the tensors of a safetensors file (``keys``, default all) into the store
    ``output_path``, each under its own name, ``chunk_size`` bytes of rows at a time.

    Returns None, or the opened store if ``return_npk_obj``.

    >>> import numpy as np, tempfile, pathlib, numpack
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with numpack.NumPack(d / "s.npk") as npk:
    ...     npk.save({"m": np.arange(6.0).reshape(3, 2)})
    >>> to_safetensors_file(d / "s.npk", d / "m.safetensors")
    >>> from_safetensors_file(d / "m.safetensors", d / "b.npk", return_npk_obj=True).load("m").shape
    (3, 2)
    """
    src = input_file(input_path)
    chunk_size = check_chunk_size(chunk_size)
    with _safe_open(src) as f:
        plan = []
        for key in _chosen_keys(f, keys, src):
            sl = f.get_slice(key)
            shape = tuple(sl.get_shape())
            code = sl.get_dtype()
            dtype = next((np.dtype(k) for k, v in _DTYPE_CODES.items() if v == code), None)
            if dtype is None:
                raise TypeError(f"tensor {key!r} has the safetensors dtype {code}, which NumPy cannot hold")
            if len(shape) == 0:
                plan.append((key, iter([f.get_tensor(key)])))
            else:
                plan.append((key, sliced(sl, shape, dtype, chunk_size)))
        return import_arrays(output_path, drop_if_exists, return_npk_obj, plan)


def from_tensor_dict(tensors: Mapping[str, Any], output_path: PathLike, drop_if_exists: bool = False,
                     return_npk_obj: bool = False) -> Any:
    """Saves a ``{name: array}`` dict (NumPy arrays, or anything ``numpy.asarray`` takes) into
    the store ``output_path`` in one commit.

    Returns None, or the opened store if ``return_npk_obj``.

    >>> import numpy as np, tempfile, pathlib, numpack
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> from_tensor_dict({"w": np.eye(2)}, d / "s.npk", return_npk_obj=True).load("w")
    array([[1., 0.],
           [0., 1.]])
    """
    if not isinstance(tensors, Mapping):
        raise TypeError(f"expected a dict of name -> array, not {type(tensors).__name__}")
    arrays = {name: np.asarray(value) for name, value in tensors.items()}
    npk, stale = open_for_write(output_path, drop_if_exists)
    try:
        npk.save(arrays)
        finish_import(npk, stale, arrays)
    except BaseException:
        npk.close()
        raise
    return finish(npk, return_npk_obj)


def to_tensor_dict(input_path: PathLike, array_names: Optional[Union[str, Sequence[str]]] = None) -> Dict[str, np.ndarray]:
    """The arrays of the store ``input_path`` (those named, default all) as a dict of
    ndarrays, ready for ``safetensors.numpy.save_file``.

    >>> import numpy as np, tempfile, pathlib, numpack
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with numpack.NumPack(d / "s.npk") as npk:
    ...     npk.save({"m": np.arange(6.0).reshape(3, 2)})
    >>> {k: v.shape for k, v in to_tensor_dict(d / "s.npk").items()}
    {'m': (3, 2)}
    """
    npk = open_for_read(input_path)
    try:
        return {name: npk.load(name) for name in names_or_all(npk, array_names)}
    finally:
        npk.close()


def to_safetensors_file(input_path: PathLike, output_path: PathLike,
                        array_names: Optional[Union[str, Sequence[str]]] = None,
                        metadata: Optional[Mapping[str, str]] = None,
                        chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
    """Exports arrays of the store ``input_path`` (those named, default all) to a safetensors
    file, with the optional string ``metadata``. Rows stream out ``chunk_size`` bytes at a
    time. complex128 arrays raise TypeError (safetensors has no such type).

    >>> import numpy as np, tempfile, pathlib, numpack
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with numpack.NumPack(d / "s.npk") as npk:
    ...     npk.save({"m": np.arange(6.0).reshape(3, 2)})
    >>> to_safetensors_file(d / "s.npk", d / "m.safetensors")
    >>> (d / "m.safetensors").stat().st_size > 48
    True
    """
    chunk_size = check_chunk_size(chunk_size)
    if metadata is not None and not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise TypeError("safetensors metadata maps str to str")
    npk = open_for_read(input_path)
    try:
        names = names_or_all(npk, array_names)
        infos = []
        for name in names:
            snap, shape, dtype = snapshot(npk, name)
            if dtype.name not in _DTYPE_CODES:
                raise TypeError(f"safetensors cannot hold {name!r} of dtype {dtype}")
            infos.append((name, shape, dtype, snap))
        infos.sort(key=lambda t: (-t[2].itemsize, t[0]))
        header: Dict[str, Any] = {}
        if metadata:
            header["__metadata__"] = dict(metadata)
        offset = 0
        for name, shape, dtype, _ in infos:
            size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            header[name] = {"dtype": _DTYPE_CODES[dtype.name], "shape": list(shape),
                            "data_offsets": [offset, offset + size]}
            offset += size
        text = json.dumps(header, separators=(",", ":")).encode("utf-8")
        text += b" " * (-len(text) % 8)
        final, tmp = atomic_output(output_path)
        try:
            with open(tmp, "wb") as out:
                out.write(struct.pack("<Q", len(text)))
                out.write(text)
                for name, _, dtype, snap in infos:
                    little = dtype.newbyteorder("<")
                    for block in row_blocks(snap, chunk_size):
                        out.write(np.ascontiguousarray(block, dtype=little).tobytes())
            commit_output(tmp, final)
        except BaseException:
            discard(tmp)
            raise
    finally:
        npk.close()
