"""pandas DataFrames (``pip install pandas``), in memory.

A DataFrame becomes one array (``df.to_numpy()``: its columns' common dtype, so keep the
columns numeric); an array comes back as a DataFrame, 1-D as one column, 2-D as one column per
array column.
"""

from __future__ import annotations

from typing import Any, Iterator, Optional, Sequence

import numpy as np

from ._common import (
    DEFAULT_CHUNK_SIZE,
    PathLike,
    check_chunk_size,
    estimate_chunk_rows,
    import_arrays,
    open_for_read,
    require,
    single_name,
)


def _pd() -> Any:
    return require("pandas")


def from_dataframe(df: Any, output_path: PathLike, array_name: str = "data", drop_if_exists: bool = False,
                   chunk_size: int = DEFAULT_CHUNK_SIZE, return_npk_obj: bool = False) -> Any:
    """Saves the DataFrame ``df`` as the 2-D array ``array_name`` of the store ``output_path``,
    converting ``chunk_size`` bytes of rows at a time (so the whole frame is never copied at
    once). Non-numeric columns raise TypeError.

    Returns None, or the opened store if ``return_npk_obj``.

    >>> import numpy as np, tempfile, pathlib, numpack
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> import pandas as pd
    >>> from_dataframe(pd.DataFrame({"a": [1, 2]}), d / "s.npk", return_npk_obj=True).load("data")
    array([[1],
           [2]])
    """
    pd = _pd()
    chunk_size = check_chunk_size(chunk_size)
    if isinstance(df, pd.Series):
        df = df.to_frame()
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, not {type(df).__name__}")
    for col, dt in df.dtypes.items():
        if not (pd.api.types.is_bool_dtype(dt) or pd.api.types.is_numeric_dtype(dt)):
            raise TypeError(f"column {col!r} has the non-numeric dtype {dt}")
    dtype = np.result_type(*[np.dtype(getattr(dt, "numpy_dtype", dt)) for dt in df.dtypes]) if df.shape[1] else np.float64
    rows = estimate_chunk_rows(df.shape, dtype, chunk_size)

    def blocks() -> Iterator[np.ndarray]:
        if len(df) == 0:
            yield np.empty(df.shape, dtype=dtype)
            return
        for start in range(0, len(df), rows):
            part = df.iloc[start:start + rows].to_numpy()
            if part.dtype == object:
                raise TypeError("the DataFrame's columns have no common numeric dtype (nulls in integer columns?)")
            yield np.ascontiguousarray(part)

    return import_arrays(output_path, drop_if_exists, return_npk_obj, [(array_name, blocks())])


def to_dataframe(input_path: PathLike, array_name: Optional[str] = None,
                 columns: Optional[Sequence[Any]] = None) -> Any:
    """The array ``array_name`` (or the store's only array) of the store ``input_path`` as a
    DataFrame, with the given ``columns`` names (default ``col0``, ``col1``… for 2-D arrays,
    ``data`` for 1-D ones).

    >>> import numpy as np, tempfile, pathlib, numpack
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with numpack.NumPack(d / "s.npk") as npk:
    ...     npk.save({"m": np.arange(6.0).reshape(3, 2)})
    >>> to_dataframe(d / "s.npk").shape
    (3, 2)
    """
    pd = _pd()
    npk = open_for_read(input_path)
    try:
        name = single_name(npk, array_name)
        arr = npk.load(name)
    finally:
        npk.close()
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
        default = ["data"]
    elif arr.ndim == 2:
        default = [f"col{i}" for i in range(arr.shape[1])]
    else:
        raise ValueError(f"a DataFrame holds 1-D or 2-D arrays; {name!r} has shape {arr.shape}")
    names = list(columns) if columns is not None else default
    if len(names) != arr.shape[1]:
        raise ValueError(f"{len(names)} column names for {arr.shape[1]} columns")
    return pd.DataFrame(arr, columns=names, copy=False)
