"""``to_npk`` and :class:`NpkTarget`: a dask array written into a store by parallel workers.

Each worker writes its rows as a staged part (a plain file in a ``.npk_stage_*`` folder inside
the store, which no reader looks at; a part is written as ``.tmp`` and renamed, so it is whole
or absent; the core names it after its rows). When every part is there, one commit
(``Store::commit_stage`` in the core, which checks that the parts cover every row once) makes
them the array's segment files: the array appears whole or not at all. A failed or killed
compute leaves only the staging folder, which ``to_npk`` removes on failure and the next
writer of the same array removes before it starts. Workers write distinct files and take no
lock, so none can lose another's rows. Each task holds one chunk in memory.
"""

import os
import shutil
import uuid
from typing import Any, Dict, Optional, Tuple

import dask
import dask.array as da
import numpy as np

from .. import _dtypes
from .. import _numpack as _n
from .. import remote
from ..store import NumPack

class NpkTarget:
    """A ``da.store`` target that stages rows of array ``name`` (``shape``, ``dtype``) in the
    store folder ``path``; :meth:`commit` then makes the array appear in one commit.

    ``target[region] = block`` accepts a region covering whole rows (all of axes 1…). Use it
    as ``t = NpkTarget(...); da.store(x, t, lock=False); t.commit()`` (or with regions:
    ``da.store([a, b], [t, t], regions=[np.s_[0:10], np.s_[10:30]], lock=False)``), or let
    :func:`to_npk` do all of it. Pickles to a small object (path, name, staging folder).
    """

    def __init__(self, path: Any, name: str, shape: Tuple[int, ...], dtype: Any, *, durable: bool = False, _stage: Optional[str] = None) -> None:
        if remote.is_url(path):
            raise ValueError("a NpkTarget writes into a store folder; publish it to a URL with numpack.remote.publish")
        if not isinstance(name, str):
            raise TypeError("name must be a string")
        self.path = os.path.abspath(os.fspath(path))
        self.name = name
        self.shape = tuple(int(s) for s in shape)
        if not self.shape:
            raise ValueError("NpkTarget needs at least one dimension (save 0-d arrays with NumPack.save)")
        self.dtype = np.dtype(dtype)
        _dtypes._check_dtype(self.dtype, name)
        self.durable = durable
        if _stage is None:
            self._clean_stale()
            _stage = _n.dask_stage_root(name) + uuid.uuid4().hex
            os.makedirs(os.path.join(self.path, _stage))
        self.stage = _stage

    def __reduce__(self) -> Any:
        return (_rebuild, (self.path, self.name, self.shape, self.dtype.str, self.durable, self.stage))

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def _clean_stale(self) -> None:
        """Removes staging folders of this array left by writers that died."""
        root = _n.dask_stage_root(self.name)
        if os.path.isdir(self.path):
            for d in os.listdir(self.path):
                if d.startswith(root):
                    shutil.rmtree(os.path.join(self.path, d), ignore_errors=True)

    def __setitem__(self, region: Any, block: Any) -> None:
        region = region if isinstance(region, tuple) else (region,)
        rows = range(self.shape[0])[region[0]] if region else range(self.shape[0])
        if rows.step != 1:
            raise ValueError("NpkTarget regions are contiguous row ranges")
        for axis, r in enumerate(region[1:], start=1):
            if range(self.shape[axis])[r] != range(self.shape[axis]):
                raise ValueError("NpkTarget regions cover whole rows (every column)")
        arr = _dtypes.prepare(np.asarray(block), self.name)
        if arr.dtype != self.dtype:
            arr = _dtypes.prepare(_dtypes.cast_to(arr, self.dtype, self.name), self.name)
        want = (len(rows),) + self.shape[1:]
        if arr.shape != want:
            raise ValueError(f"block of shape {arr.shape} for region of shape {want}")
        _n.dask_stage_part(self.path, self.stage, rows.start, rows.stop, arr)

    def commit(self) -> None:
        """Makes the staged rows the array ``name`` (created, or replaced whole) in one commit,
        then removes the staging folder."""
        if self.shape[0] == 0:
            with NumPack(self.path, durable=self.durable) as npk:
                npk.save({self.name: np.empty(self.shape, self.dtype)})
        else:
            _n.dask_commit_stage(self.path, self.name, self.dtype.name, list(self.shape), self.stage, self.durable)
        self.abort()

    def abort(self) -> None:
        """Removes the staging folder (what a failed write leaves).

        The folder is first renamed away, so a task still running (a scheduler raises at the
        first failed task without waiting for the others) cannot write into it any more: its
        part write fails, as parts never create the folder."""
        folder = os.path.join(self.path, self.stage)
        gone = folder + "_aborted"
        try:
            os.rename(folder, gone)
        except FileNotFoundError:
            return
        shutil.rmtree(gone, ignore_errors=True)


def _rebuild(path: str, name: str, shape: Tuple[int, ...], dtype: str, durable: bool, stage: str) -> NpkTarget:
    return NpkTarget(path, name, shape, dtype, durable=durable, _stage=stage)


def to_npk(darr: Any, path: Any, name: str, *, durable: bool = False, storage_options: Optional[Dict[str, Any]] = None, **compute_kwargs: Any) -> None:
    """Writes the dask array ``darr`` as array ``name`` of the store at ``path`` (created if
    missing; an existing array of that name is replaced whole).

    Workers write their chunks in parallel (one chunk in memory per task); the array appears
    only when all are written, in one commit. If the compute fails or a worker is killed, the
    store is left as it was (the staging folder is removed) and the error is raised here.
    ``path`` may be a URL: the array is then written to a local temporary store and published
    there with :func:`numpack.remote.publish` (workers need a shared file system for the
    temporary store only if they are not local). ``compute_kwargs`` go to ``dask.compute``
    (``scheduler=``, …).
    """
    darr = da.asarray(darr)
    if remote.is_url(path):
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            to_npk(darr, tmp, name, durable=durable, **compute_kwargs)
            remote.publish(tmp, path, storage_options, overwrite=True)
        return
    if storage_options:
        raise ValueError("storage_options apply to URLs only")
    if darr.ndim == 0:
        (value,) = dask.compute(darr, **compute_kwargs)
        with NumPack(os.fspath(path), durable=durable) as npk:
            npk.save({name: np.asarray(value)})
        return
    if darr.ndim > 1:
        darr = darr.rechunk({a: -1 for a in range(1, darr.ndim)})
    os.makedirs(os.fspath(path), exist_ok=True)
    target = NpkTarget(path, name, darr.shape, darr.dtype, durable=durable)
    try:
        da.store(darr, target, lock=False, compute=True, **compute_kwargs)
        target.commit()
    except BaseException:
        target.abort()
        raise
