"""Converting between NumPack stores and other array formats.

Every converter takes the store folder as ``output_path`` (imports, ``from_*``) or
``input_path`` (exports, ``to_*``). Imports accept ``drop_if_exists=False`` (empty the store
first; otherwise arrays are added, replacing any of the same name), ``chunk_size`` (bytes of
rows converted at a time, default 100 MiB) and ``return_npk_obj=False`` (return the store,
still open, instead of None). Sources that can be sliced (``.npy`` by memory map, ``.npz``
members, CSV/TXT lines, HDF5 and zarr datasets, Parquet and Feather batches, safetensors
slices) are never read whole: each block is saved, then appended. Exports stream the store
with ``stream_load`` and write files to a temporary name renamed into place at the end. An
import that fails part way drops the array it was writing.

======================  =============================================  ==============
format                  functions                                      needs
======================  =============================================  ==============
NumPy .npy / .npz       from_npy, to_npy                               (numpy)
CSV / text              from_csv, to_csv, from_txt, to_txt             (numpy)
HDF5                    from_hdf5, to_hdf5                             h5py
zarr                    from_zarr, to_zarr                             zarr
Parquet                 from_parquet (= from_parquet_file),            pyarrow
                        to_parquet (= to_parquet_file),
                        from_parquet_table, to_parquet_table
Feather / Arrow         from_feather (= from_feather_file),            pyarrow
                        to_feather (= to_feather_file),
                        from_table, to_table
pandas                  from_dataframe, to_dataframe                   pandas
safetensors             from_safetensors_file, iter_safetensors,       safetensors
                        get_safetensors_metadata,
                        to_safetensors_file, from_tensor_dict,         (numpy)
                        to_tensor_dict
.npkg packages          pack, unpack, get_package_info                 (numpy)
zero-copy               DLPackBuffer, to_dlpack, from_dlpack,          (numpy)
                        numpy_to_arrow_zero_copy,                      pyarrow
                        arrow_to_numpy_zero_copy,
                        table_to_numpy_zero_copy,
                        ZeroCopyArray, wrap_for_zero_copy
======================  =============================================  ==============

Every file converter also takes ``progress=False``: ``True`` shows a ``tqdm`` bar of the bytes
of rows moved (``pip install tqdm``), a callable gets ``(done, total)``. Ctrl-C stops a
conversion between chunks.

A missing optional package raises :class:`DependencyError` (an ImportError) naming the
``pip install`` that fixes it; importing ``numpack.io`` itself needs none of them.

Not provided (upstream NumPack 0.7 has them): the PyTorch converters ``from_pt``, ``to_pt``,
``from_tensor``, ``to_tensor``, ``numpy_to_torch_zero_copy``, ``torch_to_numpy_zero_copy``,
and the S3 converters ``from_s3``, ``to_s3``. Nor the aliases upstream removed in 0.7
(``from_numpy``, ``to_pandas``…).

>>> import os, tempfile
>>> import numpy as np
>>> from numpack.io import from_npy, to_npy
>>> d = tempfile.mkdtemp()
>>> np.save(os.path.join(d, "vectors.npy"), np.arange(12.0).reshape(4, 3))
>>> from_npy(os.path.join(d, "vectors.npy"), os.path.join(d, "data.npk"))
>>> to_npy(os.path.join(d, "data.npk"), os.path.join(d, "back.npy"), array_names="vectors")
>>> np.load(os.path.join(d, "back.npy"))[1]
array([3., 4., 5.])
"""

from ..package import get_package_info, pack, unpack
from ._common import (
    DEFAULT_BATCH_ROWS,
    DEFAULT_CHUNK_SIZE,
    LARGE_FILE_THRESHOLD,
    DependencyError,
    estimate_chunk_rows,
    get_file_size,
    is_large_file,
)
from .arrow import (
    from_feather,
    from_feather_file,
    from_parquet,
    from_parquet_file,
    from_parquet_table,
    from_table,
    to_feather,
    to_feather_file,
    to_parquet,
    to_parquet_file,
    to_parquet_table,
    to_table,
)
from .hdf5 import from_hdf5, to_hdf5
from .npy import from_npy, to_npy
from .pandas import from_dataframe, to_dataframe
from .safetensors import (
    from_safetensors_file,
    from_tensor_dict,
    get_safetensors_metadata,
    iter_safetensors,
    to_safetensors_file,
    to_tensor_dict,
)
from .text import from_csv, from_txt, to_csv, to_txt
from .zarr import from_zarr, to_zarr
from .zero_copy import (
    DLPackBuffer,
    ZeroCopyArray,
    arrow_to_numpy_zero_copy,
    from_dlpack,
    numpy_to_arrow_zero_copy,
    table_to_numpy_zero_copy,
    to_dlpack,
    wrap_for_zero_copy,
)

from .._progress import with_progress as _with_progress

# ``progress=False`` on every file converter: True shows a tqdm bar of the bytes of rows moved
# (Ctrl-C stops between chunks: an import drops the array it was writing, an export leaves no
# file), a callable gets ``(done, total)``.
for _name in ("from_npy", "to_npy", "from_csv", "to_csv", "from_txt", "to_txt", "from_hdf5", "to_hdf5",
              "from_zarr", "to_zarr", "from_parquet", "from_parquet_file", "to_parquet", "to_parquet_file",
              "from_feather", "from_feather_file", "to_feather", "to_feather_file", "from_table",
              "from_parquet_table", "from_dataframe", "from_safetensors_file", "to_safetensors_file"):
    _fn = globals()[_name]
    # Aliases (from_parquet_file is from_parquet) stay one function.
    _wrapped = next((w for w in globals().values() if getattr(w, "__wrapped__", None) is _fn), None)
    globals()[_name] = _wrapped or _with_progress(_name)(_fn)
del _name, _fn, _wrapped

__all__ = [
    "from_npy", "to_npy",
    "from_csv", "to_csv", "from_txt", "to_txt",
    "from_hdf5", "to_hdf5",
    "from_zarr", "to_zarr",
    "from_parquet", "from_parquet_file", "to_parquet", "to_parquet_file",
    "from_parquet_table", "to_parquet_table",
    "from_feather", "from_feather_file", "to_feather", "to_feather_file",
    "from_table", "to_table",
    "from_dataframe", "to_dataframe",
    "from_safetensors_file", "to_safetensors_file", "from_tensor_dict", "to_tensor_dict",
    "get_safetensors_metadata", "iter_safetensors",
    "pack", "unpack", "get_package_info",
    "DependencyError", "get_file_size", "is_large_file", "estimate_chunk_rows",
    "LARGE_FILE_THRESHOLD", "DEFAULT_CHUNK_SIZE", "DEFAULT_BATCH_ROWS",
    "DLPackBuffer", "to_dlpack", "from_dlpack",
    "numpy_to_arrow_zero_copy", "arrow_to_numpy_zero_copy", "table_to_numpy_zero_copy",
    "ZeroCopyArray", "wrap_for_zero_copy",
]
