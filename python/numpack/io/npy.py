"""NumPy ``.npy`` / ``.npz`` files.

Imports read ``.npy`` files through a memory map and ``.npz`` members through the zip stream,
one block of rows at a time; exports write the header, then the rows as they stream out of the
store, into a temporary file renamed into place at the end.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any, BinaryIO, Iterator, Optional, Sequence, Tuple, Union

import numpy as np
from numpy.lib import format as npformat

from ._common import (
    DEFAULT_CHUNK_SIZE,
    PathLike,
    atomic_output,
    check_chunk_size,
    commit_output,
    discard,
    estimate_chunk_rows,
    import_arrays,
    input_file,
    names_or_all,
    open_for_read,
    row_blocks,
    sliced,
    snapshot,
)


def _read_header(f: BinaryIO) -> Tuple[Tuple[int, ...], bool, np.dtype]:
    version = npformat.read_magic(f)
    if version == (1, 0):
        return npformat.read_array_header_1_0(f)
    if version == (2, 0):
        return npformat.read_array_header_2_0(f)
    # Version 3.0 only differs by allowing UTF-8 field names, which we do not store.
    return npformat._read_array_header(f, version)  # type: ignore[attr-defined]


def _read_exact(f: BinaryIO, n: int) -> bytes:
    parts = []
    while n > 0:
        part = f.read(n)
        if not part:
            raise ValueError("the .npy data ends before its header says it should")
        parts.append(part)
        n -= len(part)
    return b"".join(parts)


def _stream_npy(f: BinaryIO, chunk_size: int) -> Iterator[np.ndarray]:
    """Row blocks of the ``.npy`` stream ``f`` (positioned at its magic string)."""
    shape, fortran, dtype = _read_header(f)
    if dtype.hasobject:
        raise TypeError("object arrays cannot be imported (they are pickled Python objects)")
    if fortran or len(shape) == 0:
        # Column-major data has no contiguous rows: read it whole.
        count = int(np.prod(shape, dtype=np.int64))
        data = np.frombuffer(_read_exact(f, count * dtype.itemsize), dtype=dtype, count=count)
        yield np.array(data.reshape(shape, order="F" if fortran else "C"), order="C")
        return
    row_items = int(np.prod(shape[1:], dtype=np.int64))
    rows = estimate_chunk_rows(shape, dtype, chunk_size)
    done, total = 0, int(shape[0])
    if total == 0:
        yield np.empty(shape, dtype=dtype)
        return
    while done < total:
        n = min(rows, total - done)
        count = n * row_items
        block = np.frombuffer(_read_exact(f, count * dtype.itemsize), dtype=dtype, count=count)
        yield block.reshape((n,) + tuple(shape[1:]))
        done += n


def _npy_blocks(path: Path, chunk_size: int) -> Iterator[np.ndarray]:
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError:
        # Not mappable (for instance a 0-byte payload); read it through the stream instead.
        with open(path, "rb") as f:
            yield from _stream_npy(f, chunk_size)
        return
    try:
        yield from sliced(arr, arr.shape, arr.dtype, chunk_size)
    finally:
        del arr


def _npz_plan(path: Path, chunk_size: int) -> Iterator[Tuple[str, Iterator[np.ndarray]]]:
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{str(path)!r} is not a .npz archive: {exc}") from exc
    with zf:
        for member in zf.namelist():
            if not member.endswith(".npy"):
                continue
            name = member[: -len(".npy")]

            def blocks(member: str = member) -> Iterator[np.ndarray]:
                with zf.open(member) as f:
                    yield from _stream_npy(f, chunk_size)

            yield name, blocks()


def from_npy(input_path: PathLike, output_path: PathLike, array_name: Optional[str] = None,
             drop_if_exists: bool = False, chunk_size: int = DEFAULT_CHUNK_SIZE,
             return_npk_obj: bool = False) -> Any:
    """Imports a ``.npy`` file (one array, named ``array_name`` or the file stem) or a ``.npz``
    archive (every member, under its own name; ``array_name`` is then ignored) into the store
    ``output_path``, ``chunk_size`` bytes of rows at a time.

    Returns None, or the opened store if ``return_npk_obj``.

    >>> import numpy as np, tempfile, pathlib, numpack
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> np.save(d / "v.npy", np.arange(4))
    >>> from_npy(d / "v.npy", d / "s.npk")
    >>> with numpack.NumPack(d / "s.npk") as npk:
    ...     npk.load("v")
    array([0, 1, 2, 3])
    """
    src = input_file(input_path)
    chunk_size = check_chunk_size(chunk_size)
    suffix = src.suffix.lower()
    if suffix == ".npy":
        plan: Any = [(src.stem if array_name is None else array_name, _npy_blocks(src, chunk_size))]
    elif suffix == ".npz":
        plan = _npz_plan(src, chunk_size)
    else:
        raise ValueError(f"from_npy reads .npy and .npz files, not {suffix or 'a file without suffix'!r}")
    return import_arrays(output_path, drop_if_exists, return_npk_obj, plan)


def _write_npy(f: BinaryIO, npk: Any, name: str, chunk_size: int) -> None:
    snap, shape, dtype = snapshot(npk, name)
    header = {"descr": npformat.dtype_to_descr(dtype), "fortran_order": False, "shape": shape}
    try:
        npformat.write_array_header_1_0(f, header)
    except ValueError:  # a header over 64 KiB needs format 2.0
        npformat.write_array_header_2_0(f, header)
    for block in row_blocks(snap, chunk_size):
        # Written from the block's own memory (no bytes copy), and let go before the next block
        # is read: one chunk in memory at a time.
        f.write(memoryview(np.ascontiguousarray(block)).cast("B"))
        del block


def to_npy(input_path: PathLike, output_path: PathLike,
           array_names: Optional[Union[str, Sequence[str]]] = None, compressed: bool = True,
           chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
    """Exports arrays of the store ``input_path``: to a ``.npy`` file (exactly one array must
    be chosen, or the store must hold just one) or to a ``.npz`` archive (the chosen arrays,
    default all; deflated if ``compressed``). Rows stream out ``chunk_size`` bytes at a time.

    >>> import numpy as np, tempfile, pathlib, numpack
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with numpack.NumPack(d / "s.npk") as npk:
    ...     npk.save({"m": np.arange(6.0).reshape(3, 2)})
    >>> to_npy(d / "s.npk", d / "m.npy")
    >>> np.load(d / "m.npy")
    array([[0., 1.],
           [2., 3.],
           [4., 5.]])
    """
    out = Path(output_path)
    chunk_size = check_chunk_size(chunk_size)
    suffix = out.suffix.lower()
    if suffix not in (".npy", ".npz"):
        raise ValueError(f"to_npy writes .npy and .npz files, not {suffix or 'a file without suffix'!r}")
    npk = open_for_read(input_path)
    try:
        names = names_or_all(npk, array_names)
        final, tmp = atomic_output(out)
        try:
            if suffix == ".npy":
                if len(names) != 1:
                    raise ValueError(f"a .npy file holds one array, but {len(names)} were chosen: "
                                     "pass array_names=[name] or write a .npz")
                with open(tmp, "wb") as f:
                    _write_npy(f, npk, names[0], chunk_size)
            else:
                method = zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED
                with zipfile.ZipFile(tmp, "w", compression=method, allowZip64=True) as zf:
                    for name in names:
                        with zf.open(name + ".npy", "w", force_zip64=True) as f:
                            _write_npy(f, npk, name, chunk_size)
            commit_output(tmp, final)
        except BaseException:
            discard(tmp)
            raise
    finally:
        npk.close()
