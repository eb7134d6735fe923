"""``.npkg`` packages: a whole store in one file, to ship it or to ``fetch()`` it into a browser.

The layout is upstream NumPack's version 2 (all integers little-endian)::

    b"NPKG", u32 version = 2, u8 compression (0 none, 1 zstd), u32 file_count
    per file: u32 path_len, UTF-8 path, u64 original_size, u64 compressed_size, data
              (compressed_size 0: the data is stored raw, original_size bytes)
    u32 CRC-32 chained over each file's CRC-32 (each as 4 little-endian bytes)

Unlike upstream we never write zlib data under the zstd code (without the ``zstandard``
package, ``compression=True`` stores files raw and says so), and segmented arrays are packed
with their segment files instead of being left out.
"""

from __future__ import annotations

import os
import struct
import warnings
import zlib
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

from .errors import CorruptStoreError

_MAGIC = b"NPKG"
_VERSION = 2
_NONE, _ZSTD = 0, 1
_STORE_FILES = (".npkm", ".npkd", ".npkb", ".npkseg")

PathLike = Union[str, "os.PathLike[str]"]


def _zstd() -> Any:
    try:
        import zstandard  # type: ignore[import-not-found]
    except ImportError:
        return None
    return zstandard


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
    the ``.npkg`` suffix). Files that compression would not shrink are stored raw. Returns the
    package path. ``chunk_size`` bounds the bytes read at a time while checksumming."""
    root = Path(input_path)
    out = Path(output_path) if output_path is not None else root.with_suffix(".npkg")
    zstd = _zstd() if compression else None
    if compression and zstd is None:
        warnings.warn("the zstandard package is not installed: packing without compression", stacklevel=2)
    names = _store_files(root)
    tmp = out.with_name(out.name + ".tmp")
    crc_chain = 0
    with open(tmp, "wb") as f:
        f.write(_MAGIC + struct.pack("<IBI", _VERSION, _ZSTD if zstd else _NONE, len(names)))
        for name in names:
            data = (root / name).read_bytes()
            crc = 0
            for start in range(0, len(data), max(1, chunk_size)):
                crc = zlib.crc32(data[start:start + chunk_size], crc)
            crc_chain = zlib.crc32(struct.pack("<I", crc), crc_chain)
            packed = zstd.ZstdCompressor(level=3).compress(data) if zstd else data
            stored_raw = zstd is None or len(packed) >= len(data)
            encoded = name.encode("utf-8")
            f.write(struct.pack("<I", len(encoded)) + encoded)
            f.write(struct.pack("<QQ", len(data), 0 if stored_raw else len(packed)))
            f.write(data if stored_raw else packed)
        f.write(struct.pack("<I", crc_chain))
    os.replace(tmp, out)
    return out


def _read_entries(buf: bytes) -> Tuple[int, List[Tuple[str, int, int, bytes]], int, int]:
    """Parses a package: (compression, [(path, original, compressed, payload)], stored crc,
    computed crc of the decoded files)."""
    def fail(msg: str) -> CorruptStoreError:
        return CorruptStoreError(f"not a valid .npkg package: {msg}")

    if len(buf) < 13 or buf[:4] != _MAGIC:
        raise fail("bad magic")
    version, compression, count = struct.unpack_from("<IBI", buf, 4)
    if version != _VERSION:
        raise fail(f"unsupported version {version}")
    if compression not in (_NONE, _ZSTD):
        raise fail(f"unknown compression {compression}")
    at, entries = 13, []
    if count > (len(buf) - at) // 20:
        raise fail("file count exceeds the package size")
    for _ in range(count):
        if at + 4 > len(buf):
            raise fail("truncated")
        (n,) = struct.unpack_from("<I", buf, at)
        at += 4
        if n > 1024 or at + n + 16 > len(buf):
            raise fail("truncated or oversized path")
        try:
            path = buf[at:at + n].decode("utf-8")
        except UnicodeDecodeError:
            raise fail("a path is not UTF-8") from None
        at += n
        original, compressed = struct.unpack_from("<QQ", buf, at)
        at += 16
        size = compressed or original
        if at + size > len(buf):
            raise fail(f"{path!r} is truncated")
        entries.append((path, original, compressed, buf[at:at + size]))
        at += size
    if at + 4 != len(buf):
        raise fail("bad trailer")
    (stored,) = struct.unpack_from("<I", buf, at)
    return compression, entries, stored, 0


def _safe_path(path: str) -> str:
    parts = path.split("/")
    ok = (0 < len(parts) <= 2 and all(p not in ("", ".", "..") for p in parts)
          and "\\" not in path and "\0" not in path
          and (len(parts) == 1 or (parts[0].startswith("data_") and parts[0].endswith("_segments"))))
    if not ok:
        raise CorruptStoreError(f"package entry {path!r} would leave the store folder")
    return path


def unpack(input_path: PathLike, output_path: Optional[PathLike] = None, overwrite: bool = False,
           verify: bool = True) -> Path:
    """Unpacks a ``.npkg`` file into a store folder (default: beside it, ``.npk`` suffix).
    An existing folder is an error unless ``overwrite``. With ``verify``, the checksum must
    match. Entry paths may not leave the folder."""
    src = Path(input_path)
    out = Path(output_path) if output_path is not None else src.with_suffix(".npk")
    compression, entries, stored, _ = _read_entries(src.read_bytes())
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} exists (pass overwrite=True to replace it)")
    zstd = _zstd()
    decoded: Dict[str, bytes] = {}
    crc_chain = 0
    for path, original, compressed, payload in entries:
        path = _safe_path(path)
        if compressed:
            if compression != _ZSTD or zstd is None:
                raise CorruptStoreError(f"{path!r} is zstd-compressed; install the zstandard package")
            data = zstd.ZstdDecompressor().decompress(payload, max_output_size=original)
        else:
            data = payload
        if len(data) != original:
            raise CorruptStoreError(f"{path!r} decodes to {len(data)} bytes, not {original}")
        crc_chain = zlib.crc32(struct.pack("<I", zlib.crc32(data)), crc_chain)
        decoded[path] = data
    if verify and crc_chain != stored:
        raise CorruptStoreError("package checksum mismatch")
    out.mkdir(parents=True, exist_ok=True)
    for path, data in decoded.items():
        target = out / path
        target.parent.mkdir(exist_ok=True)
        tmp = target.with_name(target.name + ".unpack")
        tmp.write_bytes(data)
        os.replace(tmp, target)
    return out


def get_package_info(input_path: PathLike) -> Dict[str, Any]:
    """Describes a package without unpacking it (upstream's keys)."""
    compression, entries, _, _ = _read_entries(Path(input_path).read_bytes())
    files = [{"name": p, "original_size": o, "compressed_size": c, "actual_size": c or o} for p, o, c, _ in entries]
    total_original = sum(f["original_size"] for f in files)
    total_actual = sum(f["actual_size"] for f in files)
    return {
        "version": _VERSION,
        "compression": compression,
        "compression_name": "zstd" if compression == _ZSTD else "none",
        "file_count": len(files),
        "files": files,
        "total_original_size": total_original,
        "total_compressed_size": total_actual,
        "compression_ratio": (total_actual / total_original) if total_original else 1.0,
    }
