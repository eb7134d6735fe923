"""Zarr stores through ``zarr`` (``pip install zarr``; written for zarr 3, reads v2 and v3).

Arrays are read and written by slices of rows. Array paths below ``group`` become array names
with ``/`` replaced by ``.``.
"""

from __future__ import annotations

import operator
import os
from typing import Any, Optional, Sequence, Tuple, Union

from ._common import (
    DEFAULT_CHUNK_SIZE,
    PathLike,
    check_chunk_size,
    estimate_chunk_rows,
    import_arrays,
    input_file,
    names_or_all,
    open_for_read,
    require,
    row_blocks,
    sliced,
    snapshot,
)


def _zarr() -> Any:
    return require("zarr")


def from_zarr(input_path: PathLike, output_path: PathLike,
              array_names: Optional[Union[str, Sequence[str]]] = None, group: str = "/",
              drop_if_exists: bool = False, chunk_size: int = DEFAULT_CHUNK_SIZE,
              return_npk_obj: bool = False) -> Any:
    """Imports arrays of the zarr store ``input_path`` into the store ``output_path``: those
    named in ``array_names`` (paths relative to ``group``) or every array directly in
    ``group``. If ``input_path`` is a single zarr array it is imported under the name
    ``array_names`` (a str) or the folder stem. Rows are copied ``chunk_size`` bytes at a time.

    Returns None, or the opened store if ``return_npk_obj``.

    >>> import numpy as np, tempfile, pathlib, numpack
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> import zarr
    >>> z = zarr.open_group(str(d / "g.zarr"), mode="w")
    >>> z.create_array("x", data=np.arange(3))  # doctest: +ELLIPSIS
    <Array ...>
    >>> from_zarr(d / "g.zarr", d / "s.npk", return_npk_obj=True).load("x")
    array([0, 1, 2])
    """
    zarr = _zarr()
    src = input_file(input_path)
    chunk_size = check_chunk_size(chunk_size)
    root = zarr.open(str(src), mode="r")
    items: list = []
    if not hasattr(root, "array_keys"):  # a lone array, not a group
        if array_names is not None and not isinstance(array_names, str):
            raise ValueError("a single zarr array is imported under one name: pass array_names as a str")
        items.append((array_names or src.stem, root))
    else:
        sub = group.strip("/")
        grp = root[sub] if sub else root
        if not hasattr(grp, "array_keys"):
            raise KeyError(f"{group!r} is not a group of {str(src)!r}")
        if array_names is None:
            paths = sorted(grp.array_keys())
        else:
            paths = [array_names] if isinstance(array_names, str) else list(array_names)
        for path in paths:
            try:
                arr = grp[path.strip("/")]
            except KeyError:
                raise KeyError(f"no array {path!r} in group {group!r} of {str(src)!r}") from None
            if hasattr(arr, "array_keys"):
                raise KeyError(f"{path!r} in {str(src)!r} is a group, not an array")
            items.append((path.strip("/").replace("/", "."), arr))
    plan = [(name, sliced(arr, arr.shape, arr.dtype, chunk_size)) for name, arr in items]
    return import_arrays(output_path, drop_if_exists, return_npk_obj, plan)


def to_zarr(input_path: PathLike, output_path: PathLike,
            array_names: Optional[Union[str, Sequence[str]]] = None, group: str = "/",
            chunks: Optional[Tuple[int, ...]] = None, chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
    """Exports arrays of the store ``input_path`` (those named, default all) into ``group`` of
    the zarr store ``output_path`` (created if missing; arrays of the same name are replaced).
    ``chunks`` is the zarr chunk shape (default: about 1 MiB of rows). Rows stream out
    ``chunk_size`` bytes at a time.

    >>> import numpy as np, tempfile, pathlib, numpack
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with numpack.NumPack(d / "s.npk") as npk:
    ...     npk.save({"m": np.arange(6.0).reshape(3, 2)})
    >>> import zarr
    >>> to_zarr(d / "s.npk", d / "g.zarr")
    >>> zarr.open_group(str(d / "g.zarr"), mode="r")["m"][:].shape
    (3, 2)
    """
    zarr = _zarr()
    chunk_size = check_chunk_size(chunk_size)
    npk = open_for_read(input_path)
    try:
        names = names_or_all(npk, array_names)
        root = zarr.open_group(os.fspath(output_path), mode="a")
        sub = group.strip("/")
        grp = root.require_group(sub) if sub else root
        for name in names:
            snap, shape, dtype = snapshot(npk, name)
            if chunks is not None:
                arr_chunks: Any = tuple(operator.index(c) for c in chunks)
                if any(c <= 0 for c in arr_chunks):
                    raise ValueError(f"chunks must be positive, not {chunks!r}")
            elif len(shape) == 0:
                arr_chunks = ()
            else:
                rows = estimate_chunk_rows(shape, dtype, min(chunk_size, 1024 ** 2))
                arr_chunks = (max(1, rows),) + tuple(max(1, d) for d in shape[1:])
            create = getattr(grp, "create_array", None) or grp.create_dataset
            arr = create(name, shape=shape, dtype=dtype, chunks=arr_chunks, overwrite=True)
            start = 0
            for block in row_blocks(snap, chunk_size):
                if len(shape) == 0:
                    arr[()] = block
                    break
                if len(block):
                    arr[start:start + len(block)] = block
                start += len(block)
    finally:
        npk.close()
