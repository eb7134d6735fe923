"""HDF5 files through ``h5py`` (``pip install h5py``).

Datasets are read and written by slices of rows, so neither side is ever held whole. Dataset
paths below ``group`` become array names with ``/`` replaced by ``.`` (NumPack names cannot
contain ``/``).
"""

from __future__ import annotations

from typing import Any, Optional, Sequence, Union

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
    require,
    row_blocks,
    sliced,
    snapshot,
)


def _h5py() -> Any:
    return require("h5py")


def from_hdf5(input_path: PathLike, output_path: PathLike,
              dataset_names: Optional[Union[str, Sequence[str]]] = None, group: str = "/",
              drop_if_exists: bool = False, chunk_size: int = DEFAULT_CHUNK_SIZE,
              return_npk_obj: bool = False) -> Any:
    """Imports datasets of the HDF5 file ``input_path`` into the store ``output_path``: those
    named in ``dataset_names`` (paths relative to ``group``), or every dataset directly in
    ``group``. Each is copied ``chunk_size`` bytes of rows at a time.

    Returns None, or the opened store if ``return_npk_obj``.

    >>> import numpy as np, tempfile, pathlib, numpack
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> import h5py
    >>> with h5py.File(d / "f.h5", "w") as f:
    ...     _ = f.create_dataset("x", data=np.arange(3))
    >>> from_hdf5(d / "f.h5", d / "s.npk", return_npk_obj=True).load("x")
    array([0, 1, 2])
    """
    h5py = _h5py()
    src = input_file(input_path)
    chunk_size = check_chunk_size(chunk_size)
    with h5py.File(src, "r") as h5:
        if group not in h5:
            raise KeyError(f"no group {group!r} in {str(src)!r}")
        grp = h5[group]
        if dataset_names is None:
            names = [k for k, v in grp.items() if isinstance(v, h5py.Dataset)]
        else:
            names = [dataset_names] if isinstance(dataset_names, str) else list(dataset_names)
        datasets = []
        for path in names:
            obj = grp.get(path)
            if not isinstance(obj, h5py.Dataset):
                raise KeyError(f"no dataset {path!r} in group {group!r} of {str(src)!r}")
            datasets.append((path.strip("/").replace("/", "."), obj))
        plan = [(name, sliced(ds, ds.shape, ds.dtype, chunk_size)) for name, ds in datasets]
        return import_arrays(output_path, drop_if_exists, return_npk_obj, plan)


def to_hdf5(input_path: PathLike, output_path: PathLike,
            array_names: Optional[Union[str, Sequence[str]]] = None, group: str = "/",
            compression: Optional[str] = "gzip", compression_opts: Optional[int] = 4,
            chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
    """Exports arrays of the store ``input_path`` (those named, default all) as datasets of
    ``group`` in a new HDF5 file ``output_path`` (``compression`` None for none). Rows
    stream out ``chunk_size`` bytes at a time.

    >>> import numpy as np, tempfile, pathlib, numpack
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with numpack.NumPack(d / "s.npk") as npk:
    ...     npk.save({"m": np.arange(6.0).reshape(3, 2)})
    >>> import h5py
    >>> to_hdf5(d / "s.npk", d / "f.h5")
    >>> with h5py.File(d / "f.h5") as f:
    ...     f["m"][:].shape
    (3, 2)
    """
    h5py = _h5py()
    chunk_size = check_chunk_size(chunk_size)
    npk = open_for_read(input_path)
    try:
        names = names_or_all(npk, array_names)
        final, tmp = atomic_output(output_path)
        try:
            with h5py.File(tmp, "w") as h5:
                grp = h5.require_group(group) if group.strip("/") else h5
                for name in names:
                    snap, shape, dtype = snapshot(npk, name)
                    options: dict = {}
                    if len(shape) > 0 and 0 not in shape:
                        rows = estimate_chunk_rows(shape, dtype, min(chunk_size, 1024 ** 2))
                        options["chunks"] = (rows,) + tuple(shape[1:])
                        if compression:
                            options["compression"] = compression
                            if compression_opts is not None and compression == "gzip":
                                options["compression_opts"] = compression_opts
                    ds = grp.create_dataset(name, shape=shape, dtype=dtype, **options)
                    start = 0
                    for block in row_blocks(snap, chunk_size):
                        if len(shape) == 0:
                            ds[()] = block
                            break
                        ds[start:start + len(block)] = block
                        start += len(block)
            commit_output(tmp, final)
        except BaseException:
            discard(tmp)
            raise
    finally:
        npk.close()
