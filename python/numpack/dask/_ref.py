"""What a task carries to find a store: its path or URL (never data), and the check that the
array is still the one the graph was built for."""

import os
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

import numpy as np

from .. import _numpack as _n
from .. import remote
from ..errors import NumPackError

_METADATA = "metadata.npkm"

#: An array's identity: ``Store.info`` — (name, dtype, shape, physical_shape, data_file,
#: last_modified). Every commit that changes the array changes one of them.
Identity = Tuple[str, str, Tuple[int, ...], Tuple[int, ...], str, int]


class StoreChangedError(NumPackError, RuntimeError):
    """The stored array changed (or was removed) between building a Dask graph over it and
    running that graph; no rows of the new state were mixed with the old. Build the graph
    again."""


@dataclass(frozen=True)
class StoreRef:
    """A store folder (on a file system every worker sees at the same path) or a URL."""

    path: str
    storage_options: Optional[Dict[str, Any]] = None

    @staticmethod
    def of(path: Any, storage_options: Optional[Dict[str, Any]] = None) -> "StoreRef":
        from ..store import NumPack

        if isinstance(path, NumPack):  # an open NumPack: its folder or URL
            path = path._url or path.path
        if remote.is_url(path):
            return StoreRef(path, dict(storage_options or {}))
        if storage_options:
            raise ValueError("storage_options apply to URLs only")
        p = os.fspath(path)
        return StoreRef(os.path.abspath(p[7:] if p.startswith("file://") else p))

    @property
    def is_url(self) -> bool:
        return remote.is_url(self.path)

    def open(self) -> Any:
        """The compiled store (read-only for a URL). A local path must hold a store."""
        if self.is_url:
            return remote.open_store(self.path, self.storage_options)
        if not os.path.isfile(os.path.join(self.path, _METADATA)):
            raise FileNotFoundError(f"{self.path!r} is not a NumPack store (no {_METADATA})")
        return _n.Store(self.path)

    def identity(self, name: str) -> Identity:
        """The identity of ``name`` now (``KeyError`` if absent)."""
        return _identity(self.open().info(name))

    def __dask_tokenize__(self) -> Any:
        return (self.path, sorted((self.storage_options or {}).items(), key=lambda kv: kv[0]))


def _identity(info: Any) -> Identity:
    n, dt, shape, phys, data_file, modified = info
    return (n, dt, tuple(shape), tuple(phys), data_file, int(modified))


def changed(ref: StoreRef, name: str, expect: Identity) -> StoreChangedError:
    try:
        now: Any = ref.identity(name)
    except KeyError:
        now = "no such array"
    return StoreChangedError(
        f"array {name!r} in {ref.path} changed after the Dask graph was built "
        f"(then {expect[1]} {expect[2]}, modified {expect[5]}; now {now}): build the graph again"
    )


def read_rows(ref: StoreRef, name: str, expect: Identity, start: int, stop: int) -> np.ndarray:
    """Logical rows ``start:stop`` of ``name``, read under one lock through the store's own read
    path, only if the array is still ``expect`` (else :class:`StoreChangedError`)."""
    if ref.is_url:
        out = ref.open().read_rows_if(name, expect, start, stop)
    else:
        if not os.path.isfile(os.path.join(ref.path, _METADATA)):
            raise StoreChangedError(f"the store {ref.path!r} is gone (no {_METADATA})")
        out = _n.dask_read_rows(ref.path, name, expect, start, stop)
    if out is None:
        raise changed(ref, name, expect)
    return out
