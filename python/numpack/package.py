"""``.npkg`` packages: a whole store in one file, to ship it or to ``fetch()`` it into a browser.

The layout is upstream NumPack's version 2 (all integers little-endian; docs/FORMAT.md §7)::

    b"NPKG", u32 version = 2, u8 compression (0 none, 1 zstd), u32 file_count
    per file: u32 path_len, UTF-8 path, u64 original_size, u64 compressed_size, data
              (compressed_size 0: the data is stored raw, original_size bytes)
    u32 CRC-32 chained over each file's CRC-32 (each as 4 little-endian bytes)

Packing and unpacking are ``numpack_core::package``'s, the code JavaScript runs too (which files
a package holds, parsing, checksums; zstd from the C library here, without the GIL): no
``zstandard`` package is needed, and packages that ``zstandard`` wrote (ours before, or
upstream's) still open. Unlike upstream, segmented arrays are packed with their segment files
instead of being left out.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, Optional, Union

from . import _numpack as _native

PathLike = Union[str, "os.PathLike[str]"]


def pack(input_path: PathLike, output_path: Optional[PathLike] = None, compression: bool = True,
         chunk_size: int = 8 * 1024 * 1024) -> Path:
    """Packs the store folder ``input_path`` into one ``.npkg`` file (default: beside it, with
    the ``.npkg`` suffix). With ``compression``, files are zstd frames where that makes them
    smaller and raw otherwise. Returns the package path. ``chunk_size`` is accepted for
    compatibility: files are read one at a time, each whole."""
    root = Path(input_path)
    out = Path(output_path) if output_path is not None else root.with_suffix(".npkg")
    _native.package_pack(str(root), str(out), bool(compression))
    return out


def unpack(input_path: PathLike, output_path: Optional[PathLike] = None, overwrite: bool = False,
           verify: bool = True) -> Path:
    """Unpacks a ``.npkg`` file into a store folder (default: beside it, ``.npk`` suffix).
    An existing folder is an error unless ``overwrite`` (the store in it is then replaced). With
    ``verify``, the checksum must match. A bad package creates nothing."""
    src = Path(input_path)
    out = Path(output_path) if output_path is not None else src.with_suffix(".npk")
    _native.package_unpack(str(src), str(out), bool(overwrite), bool(verify))
    return out


def get_package_info(input_path: PathLike) -> Dict[str, Any]:
    """Describes a package without unpacking it (upstream's keys)."""
    version, compression, entries = _native.package_info(Path(input_path).read_bytes())
    files = [{"name": p, "original_size": o, "compressed_size": c, "actual_size": c or o} for p, o, c in entries]
    total_original = sum(f["original_size"] for f in files)
    total_actual = sum(f["actual_size"] for f in files)
    return {
        "version": version,
        "compression": compression,
        "compression_name": "zstd" if compression == 1 else "none",
        "file_count": len(files),
        "files": files,
        "total_original_size": total_original,
        "total_compressed_size": total_actual,
        "compression_ratio": (total_actual / total_original) if total_original else 1.0,
    }
