//! A read-only store back end over object storage, and the compiled half of `numpack.dask`.
//!
//! [`RemoteIo`] implements the core's [`Io`] by calling a Python fsspec filesystem
//! (`s3fs`, `gcsfs`, `HTTPFileSystem`, …): `cat_file(path, start, end)` for byte ranges, `size`
//! and `ls`. The GIL is taken per call only (store calls run with it released). The store reads
//! through it exactly as over files: the catalogue and bitmaps once per open, then only the
//! byte ranges of the rows asked for (runs of rows coalesced by the store's read path).
//! Every write is a typed read-only error. fsspec errors map onto the store's: a missing
//! object is `FileNotFoundError`, a refused credential `PermissionError`, a short object a
//! corrupt-store error naming the object.
//!
//! The functions at the end serve `numpack.dask` on a file system: staged parts, the staged
//! commit and reads checked against the array a task graph was built for (core `store::stage`).

use std::io::ErrorKind;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};

use numpack_core::store::stage;
use numpack_core::{DType, Error, Io, Options, Store};
use pyo3::exceptions::{PyFileNotFoundError, PyPermissionError};
use pyo3::prelude::*;
use pyo3::types::{IntoPyDict, PyBytes};

use super::arrays;
use super::catalogue::{Identity, identity, store_pymethods};
use super::errors::{IntoPy, PyResult};
use super::store::selection;
use crate::fs_io::FsIo;
use crate::mapped::MappedArray;

/// The error every write to a remote store returns.
fn read_only() -> Error {
    Error::Io(std::io::Error::new(
        ErrorKind::ReadOnlyFilesystem,
        "a store opened at a URL is read-only (publish with numpack.dask.publish or to_npk)",
    ))
}

/// A store folder on an fsspec filesystem, read-only.
pub struct RemoteIo {
    fs: Py<PyAny>,
    root: String,
    stamp: Option<u64>,
}

impl RemoteIo {
    /// The store at `root` (a path as `fs` spells it, without a trailing `/`).
    fn open(fs: Py<PyAny>, root: String) -> Result<RemoteIo, Error> {
        let mut io = RemoteIo {
            fs,
            root,
            stamp: None,
        };
        // A snapshot: the catalogue is read once per open, so its token never changes.
        io.stamp = io.len(numpack_core::format::METADATA_FILE)?.map(|_| 1);
        Ok(io)
    }

    fn full(&self, rel: &str) -> String {
        if rel.is_empty() {
            self.root.clone()
        } else {
            format!("{}/{rel}", self.root)
        }
    }

    /// Runs `f` with the GIL on the filesystem object, mapping a Python error for `rel`.
    fn call<R>(
        &self,
        rel: &str,
        f: impl FnOnce(&Bound<'_, PyAny>, String) -> PyResult<R>,
    ) -> Result<R, Error> {
        Python::attach(|py| f(self.fs.bind(py), self.full(rel)).map_err(|e| map_err(py, e, rel)))
    }
}

/// An fsspec exception as the store's error: missing object, refused credential, or other.
fn map_err(py: Python<'_>, e: PyErr, rel: &str) -> Error {
    let kind = if e.is_instance_of::<PyFileNotFoundError>(py) {
        ErrorKind::NotFound
    } else if e.is_instance_of::<PyPermissionError>(py) {
        ErrorKind::PermissionDenied
    } else {
        ErrorKind::Other
    };
    Error::Io(std::io::Error::new(kind, format!("{rel}: {e}")))
}

impl Io for RemoteIo {
    fn read_at(&self, path: &str, offset: u64, buf: &mut [u8]) -> Result<(), Error> {
        if buf.is_empty() {
            return Ok(());
        }
        let end = offset + buf.len() as u64;
        let got = self.call(path, |fs, full| {
            // By keyword: implementations differ in their positional parameters (s3fs puts
            // `version_id` second).
            let kwargs = [("start", offset), ("end", end)].into_py_dict(fs.py())?;
            let b = fs.call_method("cat_file", (full,), Some(&kwargs))?;
            let bytes = b.cast::<PyBytes>()?;
            let data = bytes.as_bytes();
            let n = data.len().min(buf.len());
            buf[..n].copy_from_slice(&data[..n]);
            Ok(data.len())
        })?;
        if got != buf.len() {
            return Err(Error::Corrupt(format!(
                "{path} is truncated: {} bytes at offset {offset} were asked for, {got} came",
                buf.len()
            )));
        }
        Ok(())
    }

    fn write_at(&self, _: &str, _: u64, _: &[u8]) -> Result<(), Error> {
        Err(read_only())
    }

    fn len(&self, path: &str) -> Result<Option<u64>, Error> {
        match self.call(path, |fs, full| {
            fs.call_method1("size", (full,))?.extract::<Option<u64>>()
        }) {
            Ok(Some(n)) => Ok(Some(n)),
            Ok(None) => Err(Error::Io(std::io::Error::other(format!(
                "{path}: the server does not report the object's size"
            )))),
            Err(Error::Io(e)) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn set_len(&self, _: &str, _: u64) -> Result<(), Error> {
        Err(read_only())
    }

    fn sync(&self, _: &str) -> Result<(), Error> {
        Err(read_only())
    }

    fn rename(&self, _: &str, _: &str) -> Result<(), Error> {
        Err(read_only())
    }

    fn remove(&self, _: &str) -> Result<(), Error> {
        Err(read_only())
    }

    fn create_dir(&self, _: &str) -> Result<(), Error> {
        Err(read_only())
    }

    fn remove_dir(&self, _: &str) -> Result<(), Error> {
        Err(read_only())
    }

    fn list(&self, dir: &str) -> Result<Vec<String>, Error> {
        let names: Vec<String> = self.call(dir, |fs, full| {
            fs.call_method(
                "ls",
                (full,),
                Some(&[("detail", false)].into_py_dict(fs.py())?),
            )?
            .extract()
        })?;
        Ok(names
            .into_iter()
            .map(|n| {
                n.trim_end_matches('/')
                    .rsplit('/')
                    .next()
                    .unwrap_or("")
                    .to_string()
            })
            .collect())
    }

    fn catalogue_stamp(&self) -> Result<Option<u64>, Error> {
        Ok(self.stamp)
    }

    fn now_micros(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64)
    }
}

/// Runs `f` on the locked store without the GIL: the one way both store classes (file system
/// and remote) reach their store.
pub(crate) fn run_locked<I: Io, R: Send>(
    py: Python<'_>,
    store: &Mutex<Store<I>>,
    f: impl FnOnce(&mut Store<I>) -> numpack_core::Result<R> + Send,
) -> PyResult<R>
where
    Store<I>: Send,
{
    py.detach(|| f(&mut store.lock().unwrap_or_else(PoisonError::into_inner)))
        .py()
}

/// Rows `start..stop` of `name` as a new array, read only if the array still is `expect`;
/// `None` if it changed. Shared by the file-system and the remote store.
fn read_rows_if<'py, I: Io>(
    py: Python<'py>,
    store: &Mutex<Store<I>>,
    name: &str,
    expect: Identity,
    start: u64,
    stop: u64,
) -> PyResult<Option<Bound<'py, PyAny>>>
where
    Store<I>: Send,
{
    let expect = identity(expect)?;
    let count = stop.saturating_sub(start);
    let mut shape = expect.shape.clone();
    if let Some(rows) = shape.first_mut() {
        *rows = count;
    }
    let (out, bytes) = arrays::empty(py, &shape, expect.dtype)?;
    let ok = run_locked(py, store, |s| {
        // SAFETY: `out` is fresh, unseen by Python code, and alive across this call.
        s.read_range_if(name, &expect, start, count, unsafe { bytes.as_mut_slice() })
    })?;
    Ok(ok.then_some(out))
}

/// A store read at a URL through an fsspec filesystem (see the module doc). Offers the read
/// calls of `Store`; every mutation raises the read-only `OSError`.
#[pyclass(frozen, module = "numpack._numpack", name = "RemoteStore")]
pub struct PyRemoteStore {
    store: Mutex<Store<RemoteIo>>,
    url: String,
}

impl PyRemoteStore {
    /// Runs `f` on the store without the GIL.
    fn run<R: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut Store<RemoteIo>) -> numpack_core::Result<R> + Send,
    ) -> PyResult<R> {
        run_locked(py, &self.store, f)
    }
}

store_pymethods! {
impl PyRemoteStore {
    /// Opens the store at `root` on the fsspec filesystem `fs`; `url` is kept for messages.
    #[new]
    fn new(py: Python<'_>, fs: Py<PyAny>, root: String, url: String) -> PyResult<PyRemoteStore> {
        let root = root.trim_end_matches('/').to_string();
        let store = py
            .detach(move || Store::open_read_only(RemoteIo::open(fs, root)?))
            .py()?;
        Ok(PyRemoteStore {
            store: Mutex::new(store),
            url,
        })
    }

    /// The URL the store was opened at.
    #[getter]
    fn path(&self) -> String {
        self.url.clone()
    }

    /// The logical rows of `name` that `sel` selects (None: all), as a new array.
    #[pyo3(signature = (name, sel = None))]
    fn read<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        sel: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let sel = selection(sel)?;
        let dtype = self.run(py, |s| s.info(name))?.dtype;
        let (shape, data) = self.run(py, |s| s.read_selection(name, &sel))?;
        let (out, bytes) = arrays::empty(py, &shape, dtype)?;
        // SAFETY: `out` is fresh and exactly `data.len()` bytes (shape × itemsize).
        unsafe { bytes.as_mut_slice() }.copy_from_slice(&data);
        Ok(out)
    }

    /// Rows `start..stop` of `name` if it still is `expect` (an info tuple), else None.
    fn read_rows_if<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        expect: Identity,
        start: u64,
        stop: u64,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        read_rows_if(py, &self.store, name, expect, start, stop)
    }

    /// Any mutation (`save`, `append`, `replace`, …): the read-only `OSError`; other unknown
    /// attributes: `AttributeError`.
    fn __getattr__(&self, attr: &str) -> PyResult<()> {
        const MUTATIONS: [&str; 11] = [
            "save",
            "append",
            "replace",
            "drop_rows",
            "drop_arrays",
            "compact",
            "clone_array",
            "reset",
            "writable",
            "diff_rows",
            "lazy",
        ];
        if attr == "lazy" {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "lazy (memory-mapped) loads need a store on a local file system; load() copies",
            ));
        }
        if MUTATIONS.contains(&attr) {
            return Err(read_only()).py();
        }
        Err(pyo3::exceptions::PyAttributeError::new_err(
            attr.to_string(),
        ))
    }
}
}

/// Rows `start..stop` of `name` in the store folder `path`, copied from the mapped files (as
/// `Store.read` does) under one shared lock, only if the array still is `expect` (an info
/// tuple); None if it changed or is gone.
#[pyfunction]
pub fn dask_read_rows<'py>(
    py: Python<'py>,
    path: PathBuf,
    name: &str,
    expect: Identity,
    start: u64,
    stop: u64,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let expect = identity(expect)?;
    let count = stop.saturating_sub(start);
    let mut shape = expect.shape.clone();
    if let Some(rows) = shape.first_mut() {
        *rows = count;
    }
    let (out, bytes) = arrays::empty(py, &shape, expect.dtype)?;
    let done = py
        .detach(|| {
            let mut store = Store::open(FsIo::open(&path)?)?;
            store.with_layout_if(name, &expect, |io, layout| {
                let m = MappedArray::open(io, &layout)?;
                // SAFETY: `out` is fresh, unseen by Python code, and alive across this call.
                m.copy(&layout.plan_range(start, count)?, unsafe {
                    bytes.as_mut_slice()
                })
            })
        })
        .py()?;
    Ok(done.map(|()| out))
}

/// Writes `arr` (C-contiguous, native-endian) as the part of logical rows `start..stop` in the
/// staging folder `stage` of the store folder `path` (named by core's `stage::part_path`): a
/// sibling `.tmp` file renamed into place, so a part is whole or absent. The staging folder must
/// already exist (the writer creates it before any task runs): a task still running after its
/// write was aborted then fails instead of bringing the folder back.
#[pyfunction]
pub fn dask_stage_part(
    py: Python<'_>,
    path: PathBuf,
    stage: &str,
    start: u64,
    stop: u64,
    arr: &Bound<'_, PyAny>,
) -> PyResult<()> {
    let part = stage::part_path(stage, start, stop).py()?;
    let a = arrays::input(arr)?;
    py.detach(|| {
        let io = FsIo::open(&path)?;
        let tmp = format!("{part}.tmp");
        // SAFETY: `arr` is borrowed by the caller for the whole call.
        io.write_file(&tmp, unsafe { a.bytes.as_slice() })?;
        io.rename(&tmp, &part)
    })
    .py()
}

/// Commits the parts staged in folder `stage` as array `name` of the store folder `path`,
/// whole, in one commit (`Store::commit_stage`: the parts must cover every row once).
#[pyfunction]
#[pyo3(signature = (path, name, dtype, shape, stage, durable = false))]
pub fn dask_commit_stage(
    py: Python<'_>,
    path: PathBuf,
    name: &str,
    dtype: &str,
    shape: Vec<u64>,
    stage: &str,
    durable: bool,
) -> PyResult<()> {
    let dtype = DType::from_numpy_name(dtype).py()?;
    py.detach(|| {
        let mut store = Store::open_with(FsIo::open(&path)?, Options { durable })?;
        store.commit_stage(name, dtype, &shape, stage)
    })
    .py()
}

/// The name prefix of array `name`'s staging folders (`stage::stage_root`).
#[pyfunction]
pub fn dask_stage_root(name: &str) -> String {
    stage::stage_root(name)
}

/// The prefix of staging folders (`numpack_core::store::stage::STAGE_PREFIX`).
#[pyfunction]
pub fn dask_stage_prefix() -> &'static str {
    stage::STAGE_PREFIX
}

/// Registers this file's class and functions in `numpack._numpack`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyRemoteStore>()?;
    m.add_function(wrap_pyfunction!(dask_read_rows, m)?)?;
    m.add_function(wrap_pyfunction!(dask_stage_part, m)?)?;
    m.add_function(wrap_pyfunction!(dask_commit_stage, m)?)?;
    m.add_function(wrap_pyfunction!(dask_stage_root, m)?)?;
    m.add_function(wrap_pyfunction!(dask_stage_prefix, m)?)?;
    Ok(())
}
