"""Stores at URLs (``s3://``, ``gs://``, ``http(s)://``, any fsspec protocol), read-only.

The store format is read by the same Rust store code as on disk, over a back end that fetches
byte ranges through an fsspec filesystem (``native/src/python/remote_io.rs``): the catalogue and
deletion bitmaps once per open, then only the rows asked for. ``storage_options`` are passed to
fsspec as zarr and Dask pass them (``key``, ``secret``, ``endpoint_url``, ``anon``, …).

A store is published to a URL with :func:`publish`. Requires ``fsspec`` (and the protocol's
package, e.g. ``s3fs``): ``pip install numpack[dask]``.
"""

import os
from typing import Any, Dict, Optional

from . import _numpack as _n

__all__ = ["is_url", "open_store", "publish", "pack_to"]

_METADATA = "metadata.npkm"


def is_url(path: Any) -> bool:
    """Whether ``path`` is a URL with a protocol (``s3://…``) rather than a local path."""
    return isinstance(path, str) and "://" in path and not path.startswith("file://")


def _fs(url: str, storage_options: Optional[Dict[str, Any]]) -> Any:
    try:
        import fsspec
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("stores at URLs need fsspec: pip install numpack[dask]") from e
    return fsspec.core.url_to_fs(url, **(storage_options or {}))


def open_store(url: str, storage_options: Optional[Dict[str, Any]] = None) -> Any:
    """The compiled read-only store at ``url`` (the object ``NumPack`` drives). A URL without a
    catalogue is an empty store; a missing or truncated object raises when it is read."""
    fs, root = _fs(url, storage_options)
    return _n.RemoteStore(fs, root, url)


def publish(path: "os.PathLike[str] | str", url: str, storage_options: Optional[Dict[str, Any]] = None, *, overwrite: bool = False) -> None:
    """Uploads the store folder ``path`` to ``url``: every file of the folder, the catalogue
    (``metadata.npkm``) last, so a reader never finds a catalogue whose files are not there yet.
    The lock file, temporary files and staging folders are not uploaded. Publish a store no one
    is writing to. A URL that already holds a store is refused unless ``overwrite`` (overwriting
    is not atomic for readers of the old store)."""
    fs, root = _fs(url, storage_options)
    root = root.rstrip("/")
    src = os.fspath(path)
    if not os.path.isfile(os.path.join(src, _METADATA)):
        raise FileNotFoundError(f"{src!r} is not a NumPack store (no {_METADATA})")
    if fs.exists(f"{root}/{_METADATA}") and not overwrite:
        raise FileExistsError(f"{url} already holds a NumPack store (pass overwrite=True)")
    skip_dir = _n.dask_stage_prefix()
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames[:] = [d for d in dirnames if not d.startswith(skip_dir)]
        for f in sorted(filenames):
            rel = os.path.relpath(os.path.join(dirpath, f), src).replace(os.sep, "/")
            if rel == _METADATA or f.endswith(".tmp") or f == ".numpack.lock":
                continue
            fs.put_file(os.path.join(src, rel), f"{root}/{rel}")
    fs.put_file(os.path.join(src, _METADATA), f"{root}/{_METADATA}")


def pack_to(path: "os.PathLike[str] | str", url: str, storage_options: Optional[Dict[str, Any]] = None, *, compression: bool = True) -> None:
    """Packs the store folder ``path`` into one ``.npkg`` package (:func:`numpack.pack`) and
    uploads it to ``url`` as a single object (a reader sees the old object or the new one).
    ``numpack.unpack`` turns a downloaded package back into a store."""
    import tempfile

    from .package import pack

    fs, target = _fs(url, storage_options)
    with tempfile.TemporaryDirectory() as tmp:
        out = pack(path, os.path.join(tmp, "store.npkg"), compression=compression)
        fs.put_file(str(out), target)
