"""Apache Arrow tables, Parquet and Feather files through ``pyarrow`` (``pip install pyarrow``).

How arrays map to tables, both ways:

- a 1-D array is one column ``data``;
- a 2-D array is one column per array column, ``col0``, ``col1``…;
- an array of 3 or more dimensions is one ``data`` column of fixed-size lists (each row
  flattened), and the schema metadata ``numpack.row_shape`` (JSON) keeps the row shape.

Reading a table stacks its (chosen) columns into one array: one column gives a 1-D array,
several a 2-D array of their common dtype, a fixed-size-list column the original rows. Nulls
become NaN in float columns and are an error elsewhere; Arrow has no complex type.
Parquet is read by record batches and Feather (Arrow IPC) by its record batches through a
memory map, so neither file is loaded whole; exports write one batch per streamed block.
"""

from __future__ import annotations

import json
import operator
from typing import Any, Iterator, List, Optional, Sequence, Tuple

import numpy as np

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
    open_for_read,
    require,
    row_blocks,
    single_name,
    snapshot,
)

_ROW_SHAPE_KEY = b"numpack.row_shape"


def _pa() -> Any:
    return require("pyarrow")


# -- table -> array --------------------------------------------------------------------------
def _row_shape(schema: Any) -> Optional[Tuple[int, ...]]:
    meta = schema.metadata or {}
    if _ROW_SHAPE_KEY not in meta:
        return None
    return tuple(int(d) for d in json.loads(meta[_ROW_SHAPE_KEY].decode()))


def _column_dtype(pa: Any, name: str, typ: Any) -> np.dtype:
    while pa.types.is_fixed_size_list(typ):
        typ = typ.value_type
    try:
        dtype = np.dtype(typ.to_pandas_dtype())
    except (NotImplementedError, TypeError):
        dtype = np.dtype(object)
    if dtype.kind not in "biuf":
        raise TypeError(f"column {name!r} of Arrow type {typ} has no NumPy numeric equivalent")
    return dtype


def _column_array(pa: Any, name: str, col: Any) -> np.ndarray:
    """One column (Array or ChunkedArray) as an ndarray; fixed-size lists add dimensions."""
    typ = col.type
    dtype = _column_dtype(pa, name, typ)
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    dims: List[int] = []
    values = col
    while pa.types.is_fixed_size_list(values.type):
        if values.null_count:
            raise ValueError(f"column {name!r} has null rows")
        dims.append(values.type.list_size)
        values = values.flatten()
    if values.null_count and dtype.kind != "f":
        raise ValueError(f"column {name!r} of type {values.type} has nulls, which only float columns can hold")
    out = values.to_numpy(zero_copy_only=False)
    if out.dtype != dtype:
        out = out.astype(dtype)
    return out.reshape((len(col),) + tuple(dims)) if dims else out


def _table_array(pa: Any, table: Any, row_shape: Optional[Tuple[int, ...]] = None) -> np.ndarray:
    """A Table or RecordBatch as one ndarray (see the module docstring)."""
    names = list(table.schema.names)
    if not names:
        raise ValueError("the table has no columns")
    cols = [_column_array(pa, n, table.column(i)) for i, n in enumerate(names)]
    if len(cols) == 1:
        arr = cols[0]
        if row_shape is not None and arr.ndim >= 2:
            arr = arr.reshape((arr.shape[0],) + tuple(row_shape))
        return np.ascontiguousarray(arr)
    if any(c.ndim != 1 for c in cols):
        raise ValueError("list columns can only be read on their own: pass columns=[name]")
    dtype = np.result_type(*[c.dtype for c in cols])
    out = np.empty((len(cols[0]), len(cols)), dtype=dtype)
    for i, c in enumerate(cols):
        out[:, i] = c
    return out


def _schema_row_bytes(pa: Any, schema: Any) -> int:
    total = 0
    for field in schema:
        typ, items = field.type, 1
        while pa.types.is_fixed_size_list(typ):
            items *= typ.list_size
            typ = typ.value_type
        width = getattr(typ, "bit_width", 64) if pa.types.is_primitive(typ) else 64
        total += items * max(1, width // 8)
    return max(1, total)


def _batch_rows(pa: Any, schema: Any, chunk_size: int) -> int:
    return estimate_chunk_rows((0, _schema_row_bytes(pa, schema)), np.uint8, chunk_size)


# -- array -> table --------------------------------------------------------------------------
def _array_table(pa: Any, arr: np.ndarray) -> Any:
    arr = np.asarray(arr)
    if arr.dtype.kind == "c":
        raise TypeError("Arrow has no complex type: convert complex arrays to real first")
    if arr.ndim == 0:
        raise ValueError("a table needs at least one dimension; this array is 0-d")
    if arr.ndim == 1:
        return pa.table({"data": pa.array(np.ascontiguousarray(arr))})
    if arr.ndim == 2:
        return pa.table({f"col{i}": pa.array(np.ascontiguousarray(arr[:, i])) for i in range(arr.shape[1])})
    row_shape = arr.shape[1:]
    size = int(np.prod(row_shape))
    flat = pa.array(np.ascontiguousarray(arr).reshape(-1))
    column = pa.FixedSizeListArray.from_arrays(flat, size)
    meta = {_ROW_SHAPE_KEY: json.dumps(list(row_shape)).encode()}
    return pa.Table.from_arrays([column], names=["data"]).replace_schema_metadata(meta)


def _store_tables(pa: Any, npk: Any, name: str, chunk_size: int) -> Iterator[Any]:
    """The array ``name`` as tables of about ``chunk_size`` bytes (one empty table if it has
    no rows)."""
    snap, shape, dtype = snapshot(npk, name)
    produced = False
    for block in row_blocks(snap, chunk_size):
        produced = True
        yield _array_table(pa, block)
    if not produced:
        yield _array_table(pa, np.empty(shape, dtype=dtype))


# -- in memory -------------------------------------------------------------------------------
def _as_table(pa: Any, data: Any) -> Any:
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if isinstance(data, (pa.Array, pa.ChunkedArray)):
        return pa.table({"data": data})
    raise TypeError(f"expected a pyarrow Table, RecordBatch, Array or ChunkedArray, not {type(data).__name__}")


def from_table(table: Any, output_path: PathLike, array_name: Optional[str] = None,
               drop_if_exists: bool = False, chunk_size: int = DEFAULT_CHUNK_SIZE,
               return_npk_obj: bool = False) -> Any:
    """Saves a pyarrow Table, RecordBatch, Array or ChunkedArray as the array ``array_name``
    (default ``"data"``) of the store ``output_path``, converting ``chunk_size`` bytes of rows
    at a time.

    Returns None, or the opened store if ``return_npk_obj``.

    >>> import numpy as np, tempfile, pathlib, numpack
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> import pyarrow as pa
    >>> from_table(pa.table({"a": [1.0, 2.0], "b": [3.0, 4.0]}), d / "s.npk", "t", return_npk_obj=True).load("t")
    array([[1., 3.],
           [2., 4.]])
    """
    pa = _pa()
    chunk_size = check_chunk_size(chunk_size)
    tbl = _as_table(pa, table)
    row_shape = _row_shape(tbl.schema)
    rows = _batch_rows(pa, tbl.schema, chunk_size)

    def blocks() -> Iterator[np.ndarray]:
        if tbl.num_rows == 0:
            yield _table_array(pa, tbl, row_shape)
            return
        for batch in tbl.to_batches(max_chunksize=rows):
            yield _table_array(pa, batch, row_shape)

    return import_arrays(output_path, drop_if_exists, return_npk_obj, [("data" if array_name is None else array_name, blocks())])


def to_table(input_path: PathLike, array_name: Optional[str] = None) -> Any:
    """The array ``array_name`` (or the store's only array) of the store ``input_path`` as a
    pyarrow Table.

    >>> import numpy as np, tempfile, pathlib, numpack
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with numpack.NumPack(d / "s.npk") as npk:
    ...     npk.save({"m": np.arange(6.0).reshape(3, 2)})
    >>> to_table(d / "s.npk").column_names
    ['col0', 'col1']
    """
    pa = _pa()
    npk = open_for_read(input_path)
    try:
        name = single_name(npk, array_name)
        return _array_table(pa, npk.load(name))
    finally:
        npk.close()


def from_parquet_table(table: Any, output_path: PathLike, array_name: Optional[str] = None,
                       drop_if_exists: bool = False, chunk_size: int = DEFAULT_CHUNK_SIZE,
                       return_npk_obj: bool = False) -> Any:
    """Saves a table read with ``pyarrow.parquet`` (any pyarrow Table) into the store; the same
    conversion as :func:`from_table`.

    >>> import numpy as np, tempfile, pathlib, numpack
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> import pyarrow as pa
    >>> from_parquet_table(pa.table({"a": [1, 2]}), d / "s.npk", "t", return_npk_obj=True).load("t")
    array([1, 2])
    """
    return from_table(table, output_path, array_name, drop_if_exists, chunk_size, return_npk_obj)


def to_parquet_table(input_path: PathLike, array_name: Optional[str] = None) -> Any:
    """A pyarrow Table ready for ``pyarrow.parquet.write_table``; the same as :func:`to_table`.

    >>> import numpy as np, tempfile, pathlib, numpack
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with numpack.NumPack(d / "s.npk") as npk:
    ...     npk.save({"m": np.arange(6.0).reshape(3, 2)})
    >>> to_parquet_table(d / "s.npk").num_rows
    3
    """
    return to_table(input_path, array_name)


# -- Parquet files ---------------------------------------------------------------------------
def from_parquet(input_path: PathLike, output_path: PathLike, array_name: Optional[str] = None,
                 columns: Optional[Sequence[str]] = None, drop_if_exists: bool = False,
                 chunk_size: int = DEFAULT_CHUNK_SIZE, return_npk_obj: bool = False) -> Any:
    """Imports the Parquet file ``input_path`` (its ``columns``, default all) as the array
    ``array_name`` (default: the file stem) of the store ``output_path``, one record batch of
    about ``chunk_size`` bytes at a time.

    Returns None, or the opened store if ``return_npk_obj``.

    >>> import numpy as np, tempfile, pathlib, numpack
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with numpack.NumPack(d / "s.npk") as npk:
    ...     npk.save({"m": np.arange(6.0).reshape(3, 2)})
    >>> to_parquet(d / "s.npk", d / "m.parquet")
    >>> from_parquet(d / "m.parquet", d / "b.npk", return_npk_obj=True).load("m")
    array([[0., 1.],
           [2., 3.],
           [4., 5.]])
    """
    pa = _pa()
    pq = require("pyarrow.parquet", "pyarrow")
    src = input_file(input_path)
    chunk_size = check_chunk_size(chunk_size)
    pf = pq.ParquetFile(str(src))
    schema = pf.schema_arrow
    if columns is not None:
        missing = [c for c in columns if c not in schema.names]
        if missing:
            raise KeyError(f"no column(s) {missing} in {str(src)!r}")
        schema = pa.schema([schema.field(c) for c in columns], metadata=schema.metadata)
    row_shape = _row_shape(schema)
    rows = _batch_rows(pa, schema, chunk_size)

    def blocks() -> Iterator[np.ndarray]:
        try:
            produced = False
            for batch in pf.iter_batches(batch_size=rows, columns=list(columns) if columns else None):
                if batch.num_rows:
                    produced = True
                    yield _table_array(pa, batch, row_shape)
            if not produced:
                yield _table_array(pa, schema.empty_table(), row_shape)
        finally:
            pf.close()

    return import_arrays(output_path, drop_if_exists, return_npk_obj, [(src.stem if array_name is None else array_name, blocks())])


def to_parquet(input_path: PathLike, output_path: PathLike, array_name: Optional[str] = None,
               compression: Optional[str] = "snappy", row_group_size: Optional[int] = None,
               chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
    """Exports one array (``array_name``, or the store's only array) to a Parquet file,
    streaming ``chunk_size`` bytes of rows at a time (each at most ``row_group_size`` rows
    per row group).

    >>> import numpy as np, tempfile, pathlib, numpack
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with numpack.NumPack(d / "s.npk") as npk:
    ...     npk.save({"m": np.arange(6.0).reshape(3, 2)})
    >>> to_parquet(d / "s.npk", d / "m.parquet")
    >>> import pyarrow.parquet as pq
    >>> pq.read_table(d / "m.parquet").num_rows
    3
    """
    pa = _pa()
    pq = require("pyarrow.parquet", "pyarrow")
    chunk_size = check_chunk_size(chunk_size)
    if row_group_size is not None:
        # More rows than any array holds means one group per block (and must fit Arrow's int64).
        row_group_size = min(operator.index(row_group_size), 2**62)
        if row_group_size <= 0:
            raise ValueError(f"row_group_size must be positive, not {row_group_size}")
    npk = open_for_read(input_path)
    try:
        name = single_name(npk, array_name)
        final, tmp = atomic_output(output_path)
        writer = None
        try:
            for table in _store_tables(pa, npk, name, chunk_size):
                if writer is None:
                    try:
                        writer = pq.ParquetWriter(str(tmp), table.schema, compression=compression or "none")
                    except pa.ArrowException as exc:
                        if isinstance(exc, (ValueError, TypeError, OSError)):
                            raise
                        raise ValueError(f"parquet compression {compression!r}: {exc}") from exc
                writer.write_table(table, row_group_size=row_group_size)
            writer.close()
            writer = None
            commit_output(tmp, final)
        except BaseException:
            if writer is not None:
                writer.close()
            discard(tmp)
            raise
    finally:
        npk.close()


# -- Feather (Arrow IPC) files ---------------------------------------------------------------
def _feather_batches(pa: Any, src: Any) -> Tuple[Any, Iterator[Any]]:
    """The schema and the record batches of a Feather v2 (Arrow IPC) file, through a memory
    map; Feather v1 files have no batches to stream and are read whole."""
    try:
        reader = pa.ipc.open_file(pa.memory_map(str(src), "r"))
    except pa.ArrowInvalid:
        feather = require("pyarrow.feather", "pyarrow")
        table = feather.read_table(str(src))
        return table.schema, iter(table.to_batches())

    def gen() -> Iterator[Any]:
        for i in range(reader.num_record_batches):
            yield reader.get_batch(i)

    return reader.schema, gen()


def from_feather(input_path: PathLike, output_path: PathLike, array_name: Optional[str] = None,
                 columns: Optional[Sequence[str]] = None, drop_if_exists: bool = False,
                 chunk_size: int = DEFAULT_CHUNK_SIZE, return_npk_obj: bool = False) -> Any:
    """Imports the Feather file ``input_path`` (its ``columns``, default all) as the array
    ``array_name`` (default: the file stem) of the store ``output_path``, record batch by
    record batch, each cut to about ``chunk_size`` bytes.

    Returns None, or the opened store if ``return_npk_obj``.

    >>> import numpy as np, tempfile, pathlib, numpack
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with numpack.NumPack(d / "s.npk") as npk:
    ...     npk.save({"m": np.arange(6.0).reshape(3, 2)})
    >>> to_feather(d / "s.npk", d / "m.feather")
    >>> from_feather(d / "m.feather", d / "b.npk", return_npk_obj=True).load("m").shape
    (3, 2)
    """
    pa = _pa()
    src = input_file(input_path)
    chunk_size = check_chunk_size(chunk_size)
    schema, batches = _feather_batches(pa, src)
    if columns is not None:
        missing = [c for c in columns if c not in schema.names]
        if missing:
            raise KeyError(f"no column(s) {missing} in {str(src)!r}")
        schema = pa.schema([schema.field(c) for c in columns], metadata=schema.metadata)
    row_shape = _row_shape(schema)
    rows = _batch_rows(pa, schema, chunk_size)

    def blocks() -> Iterator[np.ndarray]:
        produced = False
        for batch in batches:
            if columns is not None:
                batch = batch.select(list(columns))
            for start in range(0, batch.num_rows, rows):
                produced = True
                yield _table_array(pa, batch.slice(start, rows), row_shape)
        if not produced:
            yield _table_array(pa, schema.empty_table(), row_shape)

    return import_arrays(output_path, drop_if_exists, return_npk_obj, [(src.stem if array_name is None else array_name, blocks())])


def to_feather(input_path: PathLike, output_path: PathLike, array_name: Optional[str] = None,
               compression: Optional[str] = "lz4", chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
    """Exports one array (``array_name``, or the store's only array) to a Feather v2 file
    (``compression``: ``"lz4"``, ``"zstd"`` or None), one record batch per ``chunk_size``
    bytes of rows.

    >>> import numpy as np, tempfile, pathlib, numpack
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with numpack.NumPack(d / "s.npk") as npk:
    ...     npk.save({"m": np.arange(6.0).reshape(3, 2)})
    >>> to_feather(d / "s.npk", d / "m.feather")
    >>> import pyarrow.feather as pf
    >>> pf.read_table(d / "m.feather").num_rows
    3
    """
    pa = _pa()
    chunk_size = check_chunk_size(chunk_size)
    if compression in ("uncompressed", "none"):
        compression = None
    options = pa.ipc.IpcWriteOptions(compression=compression)
    npk = open_for_read(input_path)
    try:
        name = single_name(npk, array_name)
        final, tmp = atomic_output(output_path)
        writer = None
        try:
            with pa.OSFile(str(tmp), "wb") as sink:
                for table in _store_tables(pa, npk, name, chunk_size):
                    if writer is None:
                        writer = pa.ipc.new_file(sink, table.schema, options=options)
                    writer.write_table(table)
                writer.close()
                writer = None
            commit_output(tmp, final)
        except BaseException:
            if writer is not None:
                writer.close()
            discard(tmp)
            raise
    finally:
        npk.close()


from_parquet_file = from_parquet
to_parquet_file = to_parquet
from_feather_file = from_feather
to_feather_file = to_feather
