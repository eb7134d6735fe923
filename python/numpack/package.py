"""``.npkg`` packages: a whole store in one file, to ship it or to ``fetch()`` it into a browser.

The layout is upstream NumPack's version 2 (all integers little-endian; docs/FORMAT.md §7)::

    b"NPKG", u32 version = 2, u8 compression (0 none, 1 zstd), u32 file_count
    per file: u32 path_len, UTF-8 path, u64 original_size, u64 compressed_size, data
              (compressed_size 0: the data is stored raw, original_size bytes)
    u32 CRC-32 chained over each file's CRC-32 (each as 4 little-endian bytes)

The codec is the compiled one that JavaScript uses too (parsing, checksums and zstd, in Rust,
without the GIL): no ``zstandard`` package is needed, and packages that ``zstandard`` wrote
(ours before, or upstream's) still open. Unlike upstream, segmented arrays are packed with their
segment files instead of being left out.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from . import _numpack as _native

_STORE_FILES = (".npkm", ".npkd", ".npkb", ".npkseg")

PathLike = Union[str, "os.PathLike[str]"]


def _store_files(root: Path) -> List[str]:
    """The store's own files (relative, `/`-separated), catalogue first, in a stable order."""
    if not (root / "metadata.npkm").is_file():
        raise FileNotFoundError(f"{root} is not a NumPack store (no metadata.npkm)")
    names = ["metadata.npkm"]
    for entry in sorted(os.listdir(root)):
        path = root / entry
        if entry == "metadata.npkm":
            continue
        if path.is_file() and entry.endswith(_STORE_FILES):
            names.append(entry)
        elif path.is_dir() and entry.startswith("data_") and entry.endswith("_segments"):
            names += [f"{entry}/{seg}" for seg in sorted(os.listdir(path)) if seg.endswith(".npkd")]
    return names


def pack(input_path: PathLike, output_path: Optional[PathLike] = None, compression: bool = True,
         chunk_size: int = 8 * 1024 * 1024) -> Path:
    """Packs the store folder ``input_path`` into one ``.npkg`` file (default: beside it, with
    the ``.npkg`` suffix). With ``compression``, files are zstd frames where that makes them
    smaller and raw otherwise. Returns the package path. ``chunk_size`` is accepted for
    compatibility: files are read one at a time, each whole."""
    root = Path(input_path)
    out = Path(output_path) if output_path is not None else root.with_suffix(".npkg")
    names = _store_files(root)
    tmp = out.with_name(out.name + ".tmp")
    try:
        _native.package_pack(str(root), names, str(tmp), bool(compression))
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, out)
    return out


def unpack(input_path: PathLike, output_path: Optional[PathLike] = None, overwrite: bool = False,
           verify: bool = True) -> Path:
    """Unpacks a ``.npkg`` file into a store folder (default: beside it, ``.npk`` suffix).
    An existing folder is an error unless ``overwrite``. With ``verify``, the checksum must
    match. Entry paths may not leave the folder."""
    src = Path(input_path)
    out = Path(output_path) if output_path is not None else src.with_suffix(".npk")
    buf = src.read_bytes()
    _native.package_info(buf)  # a malformed package fails before the folder is looked at
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} exists (pass overwrite=True to replace it)")
    files = _native.package_decode(buf, bool(verify))
    out.mkdir(parents=True, exist_ok=True)
    for path, data in files:
        target = out / path
        target.parent.mkdir(exist_ok=True)
        tmp = target.with_name(target.name + ".unpack")
        tmp.write_bytes(data)
        os.replace(tmp, target)
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
