//! `numpack verify` and `numpack info`'s compiled half: [`numpack_core::verify::verify`] and
//! [`numpack_core::facts::facts`] (and the checksums of `verify --data`) over the store folder, under the store's shared lock (so no
//! writer commits half-way through), with the GIL released. Nothing is written (the lock file
//! is created if the folder has none).

use std::path::{Path, PathBuf};

use numpack_core::{Io, LockMode, Store};
use pyo3::prelude::*;

use super::errors::{IntoPy, PyResult};
use super::progress::PyHook;
use crate::fs_io::FsIo;

/// One array's facts as Python gets them: `(name, dtype, shape, physical_shape, live_rows,
/// dropped_rows, [(file, bytes)], bytes_on_disk, reclaimable_bytes, last_modified_us)`.
type ArrayRow = (
    String,
    String,
    Vec<u64>,
    Vec<u64>,
    u64,
    u64,
    Vec<(String, u64)>,
    u64,
    u64,
    u64,
);

/// The back end of the existing store folder `root` (a missing folder is an error: the store
/// is unreadable).
fn existing(root: &Path) -> numpack_core::Result<FsIo> {
    if !root.is_dir() {
        return Err(numpack_core::Error::Io(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{} is not a NumPack store folder", root.display()),
        )));
    }
    FsIo::open(root)
}

/// One array's checksum as Python gets it: `(name, dtype, shape, sha256)`.
type SumRow = (String, String, Vec<u64>, String);

/// Runs `f` over the existing store folder `root` under its shared lock.
fn read_locked<R>(
    root: &Path,
    f: impl FnOnce(&FsIo) -> numpack_core::Result<R>,
) -> numpack_core::Result<R> {
    let io = existing(root)?;
    io.lock(LockMode::Shared)?;
    let out = f(&io);
    io.unlock();
    out
}

/// `[(fault, path, message)]` of every problem in the store folder `root` (empty: clean). A
/// folder that is missing, or whose catalogue cannot be read, raises (the store is unreadable).
#[pyfunction]
pub fn store_verify(py: Python<'_>, root: PathBuf) -> PyResult<Vec<(String, String, String)>> {
    py.detach(move || {
        read_locked(&root, |io| {
            Ok(numpack_core::verify::verify(io)?
                .into_iter()
                .map(|p| (p.fault.as_str().to_string(), p.path, p.message))
                .collect())
        })
    })
    .py()
}

/// `([array rows], bytes_on_disk, reclaimable_bytes, last_modified_us or None)` of the store
/// folder `root` (every array, or only `name`: KeyError if absent); see [`ArrayRow`].
#[pyfunction]
#[pyo3(signature = (root, name=None))]
pub fn store_facts(
    py: Python<'_>,
    root: PathBuf,
    name: Option<String>,
) -> PyResult<(Vec<ArrayRow>, u64, u64, Option<u64>)> {
    py.detach(move || {
        read_locked(&root, |io| {
            let f = numpack_core::facts::facts(io, name.as_deref())?;
            let arrays = f
                .arrays
                .into_iter()
                .map(|a| {
                    (
                        a.name,
                        a.dtype.numpy_name().to_string(),
                        a.shape,
                        a.physical_shape,
                        a.live_rows,
                        a.dropped_rows,
                        a.files,
                        a.bytes_on_disk,
                        a.reclaimable_bytes,
                        a.last_modified,
                    )
                })
                .collect();
            Ok((
                arrays,
                f.bytes_on_disk,
                f.reclaimable_bytes,
                f.last_modified,
            ))
        })
    })
    .py()
}

/// `[(name, dtype, shape, sha256)]` of every array of the store folder `root`, opened read-only
/// ([`numpack_core::verify::checksums`]); `progress(done, total)` hears the bytes hashed.
#[pyfunction]
#[pyo3(signature = (root, progress = None))]
pub fn store_checksums(
    py: Python<'_>,
    root: PathBuf,
    progress: Option<Py<PyAny>>,
) -> PyResult<Vec<SumRow>> {
    let mut hook = PyHook::new(progress.as_ref());
    let result = py.detach(|| {
        let mut store = Store::open_read_only(existing(&root)?)?;
        Ok(numpack_core::verify::checksums(&mut store, &mut hook)?
            .into_iter()
            .map(|c| (c.name, c.dtype.numpy_name().to_string(), c.shape, c.sha256))
            .collect())
    });
    hook.finish(result)
}
