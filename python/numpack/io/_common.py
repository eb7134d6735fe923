"""What every converter shares: sizes and chunking, optional imports, opening stores, and the
chunked writer that turns a stream of row blocks into ``save`` + ``append`` calls."""

from __future__ import annotations

import importlib
import math
import operator
import os
from pathlib import Path
from typing import Any, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from .._progress import advance

PathLike = Union[str, "os.PathLike[str]"]

#: Files above this size count as large (:func:`is_large_file`): 1 GiB.
LARGE_FILE_THRESHOLD = 1024 ** 3
#: Bytes of rows converted at a time, unless a call says otherwise: 100 MiB.
DEFAULT_CHUNK_SIZE = 100 * 1024 ** 2
#: Rows per block when a row has no size (zero-width rows), and the unit of the row cap.
DEFAULT_BATCH_ROWS = 100_000


class DependencyError(ImportError):
    """An optional package a converter needs is not installed; the message names the
    ``pip install`` that fixes it."""


def require(module: str, pip_name: Optional[str] = None) -> Any:
    """Imports ``module`` or raises :class:`DependencyError` with an install hint."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        pip_name = pip_name or module.split(".")[0]
        raise DependencyError(
            f"this conversion needs the optional package {pip_name!r}: pip install {pip_name}"
        ) from exc


def get_file_size(path: PathLike) -> int:
    """Size in bytes of a file, or of every file under a folder; 0 if ``path`` is missing.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "f"; _ = p.write_bytes(b"abc")
    >>> get_file_size(p), get_file_size(p.parent / "missing")
    (3, 0)
    """
    p = Path(path)
    if p.is_file():
        return p.stat().st_size
    if p.is_dir():
        return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
    return 0


def is_large_file(path: PathLike, threshold: int = LARGE_FILE_THRESHOLD) -> bool:
    """Whether ``path`` holds more than ``threshold`` bytes (default 1 GiB).

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "f"; _ = p.write_bytes(b"abc")
    >>> is_large_file(p), is_large_file(p, threshold=2)
    (False, True)
    """
    return get_file_size(path) > threshold


def estimate_chunk_rows(shape: Sequence[int], dtype: Any, target_chunk_bytes: int = DEFAULT_CHUNK_SIZE) -> int:
    """Rows of an array of ``shape`` and ``dtype`` that fit in ``target_chunk_bytes``: at least
    1, at most the row count (when there are rows) and at most ``10 * DEFAULT_BATCH_ROWS``.

    >>> estimate_chunk_rows((1_000_000, 256), "float32", 1 << 20)
    1024
    """
    if len(shape) == 0:
        return 1
    row_bytes = math.prod(operator.index(d) for d in shape[1:]) * np.dtype(dtype).itemsize
    if row_bytes <= 0:
        return DEFAULT_BATCH_ROWS
    rows = max(1, int(target_chunk_bytes) // row_bytes)
    rows = min(rows, DEFAULT_BATCH_ROWS * 10)
    if shape[0] > 0:
        rows = min(rows, int(shape[0]))
    return rows


def check_chunk_size(chunk_size: int) -> int:
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size <= 0:
        raise ValueError(f"chunk_size must be a positive number of bytes, not {chunk_size!r}")
    return int(chunk_size)


def input_file(path: PathLike) -> Path:
    """The path of a source file, which must exist."""
    p = Path(os.fspath(path))
    if not p.exists():
        raise FileNotFoundError(f"no such file: {str(p)!r}")
    return p


# -- stores ----------------------------------------------------------------------------------
def open_for_write(output_path: PathLike, drop_if_exists: bool) -> Tuple[Any, List[str]]:
    """An opened store at ``output_path``, and the arrays to drop once the import has
    succeeded: with ``drop_if_exists``, a store already there keeps its arrays until then
    (so an import that fails changes nothing it had not written), while anything else at the
    path (a file, a folder that is not a store) is removed first."""
    from ..store import NumPack

    p = Path(os.fspath(output_path))
    is_store = p.is_dir() and not p.is_symlink() and (p / "metadata.npkm").is_file()
    npk = NumPack(str(p), drop_if_exists=drop_if_exists and not is_store)
    npk.open()
    try:
        stale = list(npk.get_member_list()) if drop_if_exists and is_store else []
    except BaseException:
        npk.close()
        raise
    return npk, stale


def finish_import(npk: Any, stale: Sequence[str], written: Iterable[str]) -> None:
    """Drops the arrays of ``stale`` that the import did not write (``drop_if_exists``)."""
    keep = set(written)
    leftover = [name for name in stale if name not in keep]
    if leftover:
        npk.drop(leftover)


def open_for_read(input_path: PathLike) -> Any:
    """An opened existing store; never creates one where there was none."""
    from ..store import NumPack

    p = Path(os.fspath(input_path))
    if not p.is_dir():
        raise FileNotFoundError(f"no NumPack store at {str(p)!r}")
    npk = NumPack(str(p))
    npk.open()
    return npk


def finish(npk: Any, return_npk_obj: bool) -> Any:
    """Closes ``npk`` and returns None, or hands it back open when ``return_npk_obj``."""
    if return_npk_obj:
        return npk
    npk.close()
    return None


def names_or_all(npk: Any, array_names: Optional[Union[str, Sequence[str]]]) -> List[str]:
    """The arrays to export: those named (each must exist) or all of them."""
    if array_names is None:
        return list(npk.get_member_list())
    names = [array_names] if isinstance(array_names, str) else list(array_names)
    for name in names:
        if not npk.has_array(name):
            raise KeyError(name)
    return names


def single_name(npk: Any, array_name: Optional[str]) -> str:
    """The one array to export: ``array_name`` (which must exist), or the store's only array."""
    if array_name is not None:
        if not npk.has_array(array_name):
            raise KeyError(array_name)
        return array_name
    members = list(npk.get_member_list())
    if len(members) != 1:
        raise ValueError(f"the store holds {len(members)} arrays {members}: pass array_name")
    return members[0]


def snapshot(npk: Any, name: str) -> Tuple[Any, Tuple[int, ...], np.dtype]:
    """``(array, shape, dtype)`` of ``name`` as committed now (the array is a
    :class:`~numpack.LazyArray`, or the cached ndarray in batch mode): an export takes its
    shape, dtype and rows all from this one state, so a commit by another process while it
    runs cannot mix two states in one file."""
    snap = npk.load(name, lazy=True)
    return snap, tuple(snap.shape), np.dtype(snap.dtype)


def row_blocks(snap: Any, chunk_size: int) -> Iterator[np.ndarray]:
    """The logical rows of a :func:`snapshot` in blocks of about ``chunk_size`` bytes (a 0-d
    array is yielded whole, once)."""
    shape, dtype = tuple(snap.shape), np.dtype(snap.dtype)
    if len(shape) == 0:
        yield np.asarray(snap)
        return
    rows = estimate_chunk_rows(shape, dtype, chunk_size)
    advance(0, int(np.prod(shape, dtype=np.int64)) * dtype.itemsize)
    for start in range(0, shape[0], rows):
        block = np.asarray(snap[start:start + rows])
        nbytes = block.nbytes
        yield block
        del block  # the caller drops its reference too: one block alive at a time
        advance(nbytes)


# -- importing in chunks ---------------------------------------------------------------------
class ChunkWriter:
    """Writes one array from consecutive row blocks: the first block is saved (replacing any
    array of that name), the next ones appended. If the import fails part way, the partial
    array is dropped, so a store never keeps a silently truncated copy."""

    def __init__(self, npk: Any, name: str) -> None:
        self.npk = npk
        self.name = name
        self.started = False

    def write(self, block: Any) -> None:
        block = np.asarray(block)
        if not self.started:
            # Marked before the call: a Ctrl-C raised just after the save committed (signals
            # are handled when the Rust call returns) must still drop the partial array. A save
            # that raises changed nothing, so the mark is taken back.
            self.started = True
            try:
                self.npk.save({self.name: block})
            except Exception:
                self.started = False
                raise
        else:
            self.npk.append({self.name: block})
        advance(block.nbytes)

    def abort(self) -> None:
        if self.started:
            try:
                self.npk.drop(self.name)
            except Exception:
                pass


def write_blocks(npk: Any, name: str, blocks: Iterable[Any], empty: Optional[np.ndarray] = None) -> None:
    """Saves ``name`` from ``blocks``; ``empty`` is saved if no block comes at all."""
    writer = ChunkWriter(npk, name)
    try:
        for block in blocks:
            writer.write(block)
        if not writer.started and empty is not None:
            writer.write(empty)
    except BaseException:
        writer.abort()
        raise


def sliced(source: Any, shape: Sequence[int], dtype: Any, chunk_size: int) -> Iterator[np.ndarray]:
    """Blocks ``source[start:stop]`` over the rows of any sliceable source (memory map, HDF5 or
    zarr dataset), each of about ``chunk_size`` bytes, as C-contiguous arrays."""
    if len(shape) == 0:
        yield np.array(source[()], order="C")  # (np.ascontiguousarray would make it 1-D)
        return
    rows = estimate_chunk_rows(shape, dtype, chunk_size)
    total = int(shape[0])
    if total == 0:
        yield np.empty(tuple(shape), dtype=dtype)  # nothing to read (and some sources refuse [0:0])
        return
    for start in range(0, total, rows):
        yield np.ascontiguousarray(source[start:min(start + rows, total)])


def import_arrays(output_path: PathLike, drop_if_exists: bool, return_npk_obj: bool,
                  plan: Iterable[Tuple[str, Iterable[Any]]]) -> Any:
    """Opens the output store, writes each ``(name, blocks)`` of ``plan`` in turn, and closes
    the store (or returns it open). ``plan`` is consumed lazily, after the store is open."""
    npk, stale = open_for_write(output_path, drop_if_exists)
    written = []
    try:
        for name, blocks in plan:
            write_blocks(npk, name, blocks)
            written.append(name)
        finish_import(npk, stale, written)
    except BaseException:
        npk.close()
        raise
    return finish(npk, return_npk_obj)


def atomic_output(path: PathLike) -> Tuple[Path, Path]:
    """``(final, temporary)`` paths: write the temporary sibling, then :func:`commit_output`."""
    final = Path(os.fspath(path))
    tmp = final.with_name(f".{final.name}.tmp.{os.getpid()}")
    return final, tmp


def commit_output(tmp: Path, final: Path) -> None:
    os.replace(tmp, final)


def discard(tmp: Path) -> None:
    try:
        if tmp.is_dir():
            import shutil

            shutil.rmtree(tmp)
        elif tmp.exists():
            tmp.unlink()
    except OSError:
        pass
