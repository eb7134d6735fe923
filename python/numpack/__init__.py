"""NumPack: fast storage for NumPy arrays.

A store is a folder of named arrays. Loads are zero-copy memory mappings or a single copy
into a NumPy-allocated array; row replacements and appends touch only the rows concerned;
every change is committed before the call returns. Writers in several processes are
serialised by a lock file.

>>> import os, tempfile
>>> import numpy as np
>>> from numpack import NumPack
>>> path = os.path.join(tempfile.mkdtemp(), "data.npk")
>>> with NumPack(path) as npk:
...     npk.save({"embeddings": np.random.rand(1000, 8).astype(np.float32)})
...     lazy = npk.load("embeddings", lazy=True)
...     lazy.shape
(1000, 8)
"""

from ._dtypes import SUPPORTED as SUPPORTED_DTYPES
from .batch import BatchModeContext, WritableBatchMode
from .errors import CorruptStoreError, LockError, NumPackError, StoreClosedError
from .lazy_array import LazyArray
from .package import get_package_info, pack, unpack
from .store import NumPack

__version__ = "0.1.0"

__all__ = [
    "NumPack",
    "LazyArray",
    "BatchModeContext",
    "WritableBatchMode",
    "NumPackError",
    "CorruptStoreError",
    "LockError",
    "StoreClosedError",
    "SUPPORTED_DTYPES",
    "force_cleanup_windows_handles",
    "pack",
    "unpack",
    "get_package_info",
    "__version__",
]


def force_cleanup_windows_handles() -> bool:
    """Upstream compatibility: nothing to clean up on this platform (mappings close when the
    last array using them is freed).

    >>> force_cleanup_windows_handles()
    True
    """
    import gc

    gc.collect()
    return True
