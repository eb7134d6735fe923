//! `numpack verify`'s compiled half: [`numpack_core::verify::verify`] over the store folder,
//! under the store's shared lock (so no writer commits half-way through the check), with the
//! GIL released. Nothing is written (the lock file is created if the folder has none).

use std::path::PathBuf;

use numpack_core::{Io, LockMode};
use pyo3::prelude::*;

use super::errors::{IntoPy, PyResult};
use crate::fs_io::FsIo;

/// `[(fault, path, message)]` of every problem in the store folder `root` (empty: clean). A
/// folder that is missing, or whose catalogue cannot be read, raises (the store is unreadable).
#[pyfunction]
pub fn store_verify(py: Python<'_>, root: PathBuf) -> PyResult<Vec<(String, String, String)>> {
    py.detach(
        move || -> numpack_core::Result<Vec<(String, String, String)>> {
            if !root.is_dir() {
                return Err(numpack_core::Error::Io(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("{} is not a NumPack store folder", root.display()),
                )));
            }
            let io = FsIo::open(&root)?;
            io.lock(LockMode::Shared)?;
            let found = numpack_core::verify::verify(&io);
            io.unlock();
            Ok(found?
                .into_iter()
                .map(|p| (p.fault.as_str().to_string(), p.path, p.message))
                .collect())
        },
    )
    .py()
}
