"""Delimited text: ``.csv`` and whitespace-separated ``.txt``.

Imports parse the file in blocks of about ``chunk_size`` bytes of lines (``numpy.loadtxt`` on
each block), so a file larger than memory converts; exports format blocks streamed out of the
store with ``numpy.savetxt``. Text keeps no dtype: pass ``dtype`` when importing (default
float64). Floats are written with enough digits to read back bit-exact.
"""

from __future__ import annotations

import itertools
import operator
import sys
import warnings
from typing import Any, Iterator, List, Optional

import numpy as np

from ._common import (
    DEFAULT_CHUNK_SIZE,
    PathLike,
    atomic_output,
    check_chunk_size,
    commit_output,
    discard,
    import_arrays,
    input_file,
    open_for_read,
    row_blocks,
    single_name,
    snapshot,
)


def _line_blocks(lines: Iterator[str], chunk_size: int) -> Iterator[List[str]]:
    block: List[str] = []
    size = 0
    for line in lines:
        block.append(line)
        size += len(line)
        if size >= chunk_size:
            yield block
            block, size = [], 0
    if block:
        yield block


def _parse(path: Any, dtype: Any, delimiter: Optional[str], skiprows: int, max_rows: Optional[int],
           chunk_size: int, encoding: str, loadtxt_kwargs: Any) -> Iterator[np.ndarray]:
    comments = loadtxt_kwargs.pop("comments", "#")
    dt = np.dtype(dtype) if dtype is not None else np.dtype(np.float64)
    columns: Optional[int] = None
    remaining = max_rows
    with open(path, "r", encoding=encoding, newline=None) as f:
        lines: Iterator[str] = itertools.islice(f, skiprows, None)
        for block in _line_blocks(lines, chunk_size):
            if remaining is not None and remaining <= 0:
                break
            with warnings.catch_warnings():
                # A block of only comments or blank lines is normal here, not worth a warning.
                warnings.filterwarnings("ignore", message=".*contained no data", category=UserWarning)
                arr = np.loadtxt(block, dtype=dt, delimiter=delimiter, comments=comments, ndmin=2,
                                 max_rows=remaining, **loadtxt_kwargs)
            if arr.shape[0] == 0:
                continue
            if columns is None:
                columns = arr.shape[1]
            elif arr.shape[1] != columns:
                raise ValueError(f"rows have {columns} columns, then {arr.shape[1]}")
            if remaining is not None:
                remaining -= arr.shape[0]
            # A single column is stored as a 1-D array (what to_csv writes for one).
            yield arr[:, 0].copy() if columns == 1 else arr
    if columns is None:
        yield np.empty((0,), dtype=dt)


def _header_lines(header: Any) -> int:
    """Lines a ``header=`` of :func:`from_csv` skips: pandas' meaning (the row number of the
    column names, ``None`` for no header; rows above it go too), ``True`` for the first line."""
    if header is None or header is False:
        return 0
    if header is True:
        return 1
    if isinstance(header, str) and header == "infer":
        raise ValueError("header='infer' cannot be decided without pandas: pass header=0 or None")
    row = operator.index(header)
    if row < 0:
        raise ValueError("header must be None, a bool or a non-negative line number")
    return row + 1


def _from_text(input_path: PathLike, output_path: PathLike, array_name: Optional[str], drop_if_exists: bool,
               dtype: Any, delimiter: Optional[str], skiprows: int, max_rows: Optional[int], chunk_size: int,
               return_npk_obj: bool, encoding: str, kwargs: Any) -> Any:
    src = input_file(input_path)
    chunk_size = check_chunk_size(chunk_size)
    header = _header_lines(kwargs.pop("header", None))
    skiprows = min(operator.index(skiprows), sys.maxsize)
    if skiprows < 0:
        raise ValueError("skiprows must not be negative")
    skiprows = min(skiprows + header, sys.maxsize)
    if max_rows is not None:
        # More rows than any file holds means all of them (and must not overflow NumPy's C long).
        max_rows = min(operator.index(max_rows), sys.maxsize)
        if max_rows < 0:
            raise ValueError("max_rows must not be negative")
    blocks = _parse(src, dtype, delimiter, skiprows, max_rows, chunk_size, encoding, dict(kwargs))
    return import_arrays(output_path, drop_if_exists, return_npk_obj, [(src.stem if array_name is None else array_name, blocks)])


def from_csv(input_path: PathLike, output_path: PathLike, array_name: Optional[str] = None,
             drop_if_exists: bool = False, dtype: Any = None, delimiter: str = ",", skiprows: int = 0,
             max_rows: Optional[int] = None, chunk_size: int = DEFAULT_CHUNK_SIZE,
             return_npk_obj: bool = False, encoding: str = "utf-8", **kwargs: Any) -> Any:
    """Imports a CSV file into the array ``array_name`` (default: the file stem) of the store
    ``output_path``. ``skiprows`` skips leading lines, ``header`` (upstream's pandas meaning:
    ``None`` none, ``0`` or ``True`` the first line after them holds column names) skips the
    header line, ``max_rows`` caps the data rows, ``dtype`` defaults to float64; other keywords
    (``comments``, ``usecols``, ``converters``…) go to ``numpy.loadtxt``. One column gives a
    1-D array, several a 2-D one.

    Returns None, or the opened store if ``return_npk_obj``.

    >>> import numpy as np, tempfile, pathlib
    >>> from numpack.io import from_csv
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "t.csv").write_text("x,y\\n1,2\\n3,4\\n")
    >>> npk = from_csv(d / "t.csv", d / "s.npk", header=0, return_npk_obj=True)
    >>> npk.load("t")
    array([[1., 2.],
           [3., 4.]])
    >>> npk.close()
    """
    return _from_text(input_path, output_path, array_name, drop_if_exists, dtype, delimiter, skiprows,
                      max_rows, chunk_size, return_npk_obj, encoding, kwargs)


def from_txt(input_path: PathLike, output_path: PathLike, array_name: Optional[str] = None,
             drop_if_exists: bool = False, dtype: Any = None, delimiter: Optional[str] = None,
             skiprows: int = 0, max_rows: Optional[int] = None, chunk_size: int = DEFAULT_CHUNK_SIZE,
             return_npk_obj: bool = False, encoding: str = "utf-8", **kwargs: Any) -> Any:
    """:func:`from_csv` for text whose columns are separated by whitespace (by default).

    >>> import numpy as np, tempfile, pathlib, numpack
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "t.txt").write_text("1 2\\n3 4\\n")
    >>> from_txt(d / "t.txt", d / "s.npk", return_npk_obj=True).load("t")
    array([[1., 2.],
           [3., 4.]])
    """
    return _from_text(input_path, output_path, array_name, drop_if_exists, dtype, delimiter, skiprows,
                      max_rows, chunk_size, return_npk_obj, encoding, kwargs)


def _default_fmt(dtype: np.dtype) -> str:
    if dtype.kind in "biu":
        return "%d"
    if dtype.kind in "fc":
        # Shortest %g precision that reads every value of the type back exactly.
        part = dtype.itemsize // (2 if dtype.kind == "c" else 1)
        digits = {2: 5, 4: 9, 8: 17}.get(part, 21)
        return f"%.{digits}g"
    raise TypeError(f"cannot write dtype {dtype} as text")


def _to_text(input_path: PathLike, output_path: PathLike, array_name: Optional[str], delimiter: str,
             fmt: Optional[str], header: str, chunk_size: int, encoding: str, kwargs: Any) -> None:
    chunk_size = check_chunk_size(chunk_size)
    npk = open_for_read(input_path)
    try:
        name = single_name(npk, array_name)
        snap, shape, dtype = snapshot(npk, name)
        if len(shape) > 2:
            raise ValueError(f"text holds 1-D or 2-D arrays; {name!r} has shape {shape}")
        fmt = fmt or _default_fmt(dtype)
        if header is True:
            # Upstream's header=True: numbered column names, as a comment line.
            cols = shape[1] if len(shape) == 2 else 1
            header = "# " + delimiter.join(f"col{i}" for i in range(cols))
        elif header is False or header is None:
            header = ""
        final, tmp = atomic_output(output_path)
        try:
            with open(tmp, "w", encoding=encoding, newline="") as f:
                if header:
                    f.write("\n".join(header.splitlines()) + "\n")
                for block in row_blocks(snap, chunk_size):
                    block = np.atleast_1d(block)
                    if block.dtype.kind == "b":
                        block = block.astype(np.uint8)
                    np.savetxt(f, block, fmt=fmt, delimiter=delimiter, **kwargs)
            commit_output(tmp, final)
        except BaseException:
            discard(tmp)
            raise
    finally:
        npk.close()


def to_csv(input_path: PathLike, output_path: PathLike, array_name: Optional[str] = None,
           delimiter: str = ",", fmt: Optional[str] = None, header: Any = "",
           chunk_size: int = DEFAULT_CHUNK_SIZE, encoding: str = "utf-8", **kwargs: Any) -> None:
    """Exports one 1-D or 2-D array (``array_name``, or the store's only array) to a CSV file.
    ``fmt`` defaults to ``%d`` for integers and booleans and to a round-trip ``%g`` precision
    for floats; a str ``header`` is written as is on the first lines (read it back with
    ``skiprows``), ``header=True`` writes upstream's ``# col0,col1,…`` comment line (which
    :func:`from_csv` skips as a comment). Other keywords go to ``numpy.savetxt``.

    >>> import numpy as np, tempfile, pathlib, numpack
    >>> from numpack.io import to_csv
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with numpack.NumPack(d / "s.npk") as npk:
    ...     npk.save({"m": np.array([[1, 2], [3, 4]])})
    >>> to_csv(d / "s.npk", d / "m.csv", header=True)
    >>> print((d / "m.csv").read_text(), end="")
    # col0,col1
    1,2
    3,4
    """
    _to_text(input_path, output_path, array_name, delimiter, fmt, header, chunk_size, encoding, kwargs)


def to_txt(input_path: PathLike, output_path: PathLike, array_name: Optional[str] = None,
           delimiter: str = " ", fmt: Optional[str] = None, header: str = "",
           chunk_size: int = DEFAULT_CHUNK_SIZE, encoding: str = "utf-8", **kwargs: Any) -> None:
    """:func:`to_csv` with columns separated by a space.

    >>> import numpy as np, tempfile, pathlib, numpack
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with numpack.NumPack(d / "s.npk") as npk:
    ...     npk.save({"m": np.arange(6.0).reshape(3, 2)})
    >>> to_txt(d / "s.npk", d / "m.txt")
    >>> print((d / "m.txt").read_text(), end="")
    0 1
    2 3
    4 5
    """
    _to_text(input_path, output_path, array_name, delimiter, fmt, header, chunk_size, encoding, kwargs)
