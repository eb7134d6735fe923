//! `numpack verify` and `numpack info`'s compiled half: [`numpack_core::verify::verify`] and
//! [`numpack_core::facts::facts`] over the store folder, under the store's shared lock (so no
//! writer commits half-way through), with the GIL released. Nothing is written (the lock file
//! is created if the folder has none).

use std::path::{Path, PathBuf};

use numpack_core::{Io, LockMode};
use pyo3::prelude::*;

use super::errors::{IntoPy, PyResult};
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

/// Runs `f` over the store folder `root` under its shared lock (a missing folder is an error:
/// the store is unreadable).
fn read_locked<R>(
    root: &Path,
    f: impl FnOnce(&FsIo) -> numpack_core::Result<R>,
) -> numpack_core::Result<R> {
    if !root.is_dir() {
        return Err(numpack_core::Error::Io(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{} is not a NumPack store folder", root.display()),
        )));
    }
    let io = FsIo::open(root)?;
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
