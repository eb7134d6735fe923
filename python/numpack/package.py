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

The signatures are upstream 0.7's: ``pack(source, target=None, compression=True,
overwrite=False)`` and ``unpack(source, target=None, overwrite=False, verify=True)``; the names
``input_path``/``output_path`` of our earlier releases are accepted as keywords too.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, Optional, Union

from . import _numpack as _native
from ._progress import native_hook

PathLike = Union[str, "os.PathLike[str]"]


def _paths(source: Optional[PathLike], target: Optional[PathLike], input_path: Optional[PathLike],
           output_path: Optional[PathLike]) -> "tuple[Path, Optional[Path]]":
    if source is not None and input_path is not None:
        raise TypeError("pass either source or input_path, not both")
    if target is not None and output_path is not None:
        raise TypeError("pass either target or output_path, not both")
    src = source if source is not None else input_path
    if src is None:
        raise TypeError("missing the source path")
    dst = target if target is not None else output_path
    return Path(os.fspath(src)), (None if dst is None else Path(os.fspath(dst)))


def pack(source: Optional[PathLike] = None, target: Optional[PathLike] = None, compression: bool = True,
         overwrite: bool = False, *, input_path: Optional[PathLike] = None,
         output_path: Optional[PathLike] = None, chunk_size: int = 8 * 1024 * 1024,
         progress: Any = False) -> Path:
    """Packs the store folder ``source`` into one ``.npkg`` file and returns its path.

    ``target`` defaults to ``source`` with the ``.npkg`` suffix; a target without a suffix gets
    one. An existing target is a ``FileExistsError`` unless ``overwrite``; a missing source a
    ``FileNotFoundError``. With ``compression``, files are zstd frames where that makes them
    smaller and raw otherwise. ``progress=True`` shows a bar (needs ``tqdm``); Ctrl-C stops the
    call between files and leaves no package behind. ``chunk_size`` is accepted for
    compatibility (files are read one at a time, each whole).

    >>> import numpy as np, numpack, tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with numpack.NumPack(d / "s.npk") as npk:
    ...     npk.save({"a": np.arange(1000)})
    >>> numpack.pack(d / "s.npk").name
    's.npkg'
    >>> numpack.pack(d / "s.npk", d / "copy", overwrite=True).name
    'copy.npkg'
    """
    src, dst = _paths(source, target, input_path, output_path)
    if dst is None:
        dst = src.with_suffix(".npkg")
    elif not dst.suffix:
        dst = dst.with_suffix(".npkg")
    if not src.is_dir():
        raise FileNotFoundError(f"no NumPack store folder at {str(src)!r}")
    if (dst.exists() or dst.is_symlink()) and not overwrite:
        raise FileExistsError(f"{str(dst)!r} exists (pass overwrite=True to replace it)")
    with native_hook(progress, "pack", "B") as hook:
        _native.package_pack(str(src), str(dst), bool(compression), hook)
    return dst


def unpack(source: Optional[PathLike] = None, target: Optional[PathLike] = None, overwrite: bool = False,
           verify: bool = True, *, input_path: Optional[PathLike] = None,
           output_path: Optional[PathLike] = None, progress: Any = False) -> Path:
    """Unpacks a ``.npkg`` file into a store folder and returns its path (default: beside the
    package, ``.npk`` suffix). An existing folder is a ``FileExistsError`` unless ``overwrite``
    (the store in it is then replaced); a missing package a ``FileNotFoundError``. With
    ``verify``, the checksum must match. A bad package, or Ctrl-C before the files are renamed
    into place, creates nothing. ``progress=True`` shows a bar (needs ``tqdm``).

    >>> import numpy as np, numpack, tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with numpack.NumPack(d / "s.npk") as npk:
    ...     npk.save({"a": np.arange(5)})
    >>> out = numpack.unpack(numpack.pack(d / "s.npk"), d / "back.npk")
    >>> with numpack.NumPack(out) as npk:
    ...     npk["a"]
    array([0, 1, 2, 3, 4])
    """
    src, dst = _paths(source, target, input_path, output_path)
    if dst is None:
        dst = src.with_suffix(".npk")
    with native_hook(progress, "unpack", "B") as hook:
        _native.package_unpack(str(src), str(dst), bool(overwrite), bool(verify), hook)
    return dst


def get_package_info(source: PathLike) -> Dict[str, Any]:
    """Describes a package without unpacking it (upstream's keys, ``compression_ratio`` =
    stored bytes / original bytes).

    >>> import numpy as np, numpack, tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with numpack.NumPack(d / "s.npk") as npk:
    ...     npk.save({"zeros": np.zeros(100_000)})
    >>> info = numpack.get_package_info(numpack.pack(d / "s.npk"))
    >>> info["file_count"], info["compression_name"], info["compression_ratio"] < 0.01
    (2, 'zstd', True)
    """
    version, compression, entries = _native.package_info(Path(os.fspath(source)).read_bytes())
    files = [{"name": p, "original_size": o, "compressed_size": c, "actual_size": c or o}
             for p, o, c in entries]
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
