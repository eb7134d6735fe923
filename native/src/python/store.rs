//! The compiled half of `numpack.NumPack`: one core [`Store`] over [`FsIo`] behind a mutex.
//! Every call releases the GIL before it takes the mutex (so no thread ever waits for the
//! mutex while holding the GIL) and does its I/O without the GIL.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use numpack_core::{ArrayLayout, NewArray, Options, ReadPlan, Selection, Store};
use numpy::PyReadonlyArray1;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

use super::arrays::{self, Input};
use super::catalogue::store_pymethods;
use super::errors::{IntoPy, PyResult};
use super::lazy::PyMapped;
use super::progress::PyHook;
use crate::fs_io::FsIo;
use crate::mapped::MappedArray;

/// An open store folder.
#[pyclass(frozen, module = "numpack._numpack", name = "Store")]
pub struct PyStore {
    store: Mutex<Store<FsIo>>,
    path: PathBuf,
    /// The layout each array had when it was last read: a guess at the next read's result
    /// shape, so a read can size its result before taking the store lock (the read checks the
    /// guess under the lock, and sizes the result again if the array changed meanwhile).
    seen: Mutex<HashMap<String, ArrayLayout>>,
}

/// A selection as the Python layer passes it: None (all rows), a `(start, stop, step)` tuple
/// (`None` bounds are the ends; the bounds are clamped to ±(2^63 − 1) by the caller), a 1-D
/// int64 array of indices (any strides), or a 1-D bool array (a mask, checked against the row
/// count by the core under the same lock as the rows it selects).
pub(super) fn selection(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Selection> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(Selection::All);
    };
    if let Ok(t) = obj.cast::<PyTuple>() {
        let (start, stop, step): (Option<i64>, Option<i64>, i64) = t.extract()?;
        return Ok(Selection::Slice { start, stop, step });
    }
    if let Ok(idx) = obj.extract::<PyReadonlyArray1<'_, i64>>() {
        // Any strides (the Python layer passes a caller's 1-D int64 array as it is); a
        // contiguous one is copied as one slice.
        return Ok(Selection::Indices(idx.as_array().to_vec()));
    }
    let mask: PyReadonlyArray1<'_, bool> = obj.extract().map_err(|_| {
        PyValueError::new_err(
            "internal: a selection is None, a slice tuple, or a 1-D int64 or bool array",
        )
    })?;
    Ok(Selection::Mask(mask.as_slice()?.to_vec()))
}

impl PyStore {
    /// Runs `f` on the store without the GIL.
    fn run<R: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut Store<FsIo>) -> numpack_core::Result<R> + Send,
    ) -> PyResult<R> {
        self.run_core(py, f).py()
    }

    /// [`Self::run`] with core's result as it is (for a [`PyHook`] to finish).
    fn run_core<R: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut Store<FsIo>) -> numpack_core::Result<R> + Send,
    ) -> numpack_core::Result<R> {
        py.detach(|| {
            let mut store = self.store.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut store)
        })
    }

    /// The array's rows mapped, as of now.
    fn mapped(&self, py: Python<'_>, name: &str) -> PyResult<Arc<MappedArray>> {
        self.run(py, |s| {
            s.with_plan(name, &Selection::All, |io, p| {
                MappedArray::open(io, p.layout())
            })
            .map(Arc::new)
        })
    }

    /// The rows `sel` selects, as a new array whose shape and rows come from one committed
    /// state: the result is allocated (with the GIL) for the dtype and shape planned from the
    /// layout last seen (or, the first time or when that plan fails, under the lock), then
    /// filled under the lock from a plan made under it, if that yields the same dtype and
    /// shape; otherwise it is sized again.
    fn read_selection<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        sel: &Selection,
    ) -> PyResult<Bound<'py, PyAny>> {
        let result = |p: &ReadPlan<'_>| (p.layout().dtype, p.shape().to_vec());
        let guess = {
            let seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
            seen.get(name)
                .and_then(|l| l.plan(sel).ok().map(|p| result(&p)))
        };
        let mut want = match guess {
            Some(want) => want,
            None => self.run(py, |s| s.with_plan(name, sel, |_, p| Ok(result(p))))?,
        };
        loop {
            let (out, bytes) = arrays::empty(py, &want.1, want.0)?;
            let done = self.run(py, |s| {
                s.with_plan(name, sel, |io, plan| {
                    if result(plan) != want {
                        return Ok(Err(result(plan)));
                    }
                    // SAFETY: `out` is fresh, unseen by Python code, and alive across this call.
                    MappedArray::open(io, plan.layout())?
                        .copy(plan, unsafe { bytes.as_mut_slice() })?;
                    Ok(Ok(plan.layout().clone()))
                })
            });
            match done {
                Ok(Ok(layout)) => {
                    let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
                    seen.insert(name.to_owned(), layout);
                    return Ok(out);
                }
                Ok(Err(changed)) => want = changed,
                Err(e) => {
                    let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
                    seen.remove(name);
                    return Err(e);
                }
            }
        }
    }
}

store_pymethods! {
impl PyStore {
    /// Opens (creating if needed) the store folder `path`.
    #[new]
    #[pyo3(signature = (path, durable = false))]
    fn new(py: Python<'_>, path: PathBuf, durable: bool) -> PyResult<PyStore> {
        let p = path.clone();
        let store = py
            .detach(move || Store::open_with(FsIo::open(&p)?, Options { durable }))
            .py()?;
        Ok(PyStore {
            store: Mutex::new(store),
            path,
            seen: Mutex::default(),
        })
    }

    /// The store folder.
    #[getter]
    fn path(&self) -> PathBuf {
        self.path.clone()
    }

    /// Saves `[(name, array), …]` in one commit (arrays C-contiguous and native-endian).
    fn save(&self, py: Python<'_>, items: &Bound<'_, PyList>) -> PyResult<()> {
        let (inputs, keep) = named_inputs(items)?;
        self.run(py, |s| s.save(&new_arrays(&inputs)))?;
        drop(keep);
        Ok(())
    }

    /// Appends `[(name, rows), …]` in one commit; every array is checked before any is written.
    fn append(&self, py: Python<'_>, items: &Bound<'_, PyList>) -> PyResult<()> {
        let (inputs, keep) = named_inputs(items)?;
        self.run(py, |s| s.append_all(&new_arrays(&inputs)))?;
        drop(keep);
        Ok(())
    }

    /// Overwrites the selected rows of each `(name, rows)` in one commit; every array and the
    /// selection are checked before any row is written.
    #[pyo3(signature = (items, sel))]
    fn replace(
        &self,
        py: Python<'_>,
        items: &Bound<'_, PyList>,
        sel: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let sel = selection(sel)?;
        let (inputs, keep) = named_inputs(items)?;
        self.run(py, |s| {
            s.replace_all(
                &new_arrays(&inputs)
                    .into_iter()
                    .map(|a| (&sel, a))
                    .collect::<Vec<_>>(),
            )
        })?;
        drop(keep);
        Ok(())
    }

    /// Drops the selected rows of every array in `names`, in one commit.
    #[pyo3(signature = (names, sel))]
    fn drop_rows(
        &self,
        py: Python<'_>,
        names: Vec<String>,
        sel: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let sel = selection(sel)?;
        self.run(py, |s| {
            s.drop_rows_all(&names.iter().map(String::as_str).collect::<Vec<_>>(), &sel)
        })
    }

    /// Removes whole arrays in one commit.
    fn drop_arrays(&self, py: Python<'_>, names: Vec<String>) -> PyResult<()> {
        self.run(py, |s| {
            s.drop_arrays(&names.iter().map(String::as_str).collect::<Vec<_>>())
        })
    }

    /// Rewrites `name` without its dropped rows; `progress(done, total)` gets rows copied, and
    /// Ctrl-C stops the copy before the commit.
    #[pyo3(signature = (name, progress = None))]
    fn compact(&self, py: Python<'_>, name: &str, progress: Option<Py<PyAny>>) -> PyResult<()> {
        let mut hook = PyHook::new(progress.as_ref());
        let result = self.run_core(py, |s| s.compact_with(name, &mut hook));
        hook.finish(result)
    }

    /// Copies `src` into a new array `dst`; `progress(done, total)` gets rows copied, and
    /// Ctrl-C stops the copy before the commit.
    #[pyo3(signature = (src, dst, progress = None))]
    fn clone_array(
        &self,
        py: Python<'_>,
        src: &str,
        dst: &str,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<()> {
        let mut hook = PyHook::new(progress.as_ref());
        let result = self.run_core(py, |s| s.clone_array_with(src, dst, &mut hook));
        hook.finish(result)
    }

    /// Removes every array.
    fn reset(&self, py: Python<'_>) -> PyResult<()> {
        self.run(py, |s| s.reset())
    }

    /// The logical rows of `name` that `sel` selects (None: all of them) as a new array; the
    /// row count and the rows are read from one committed state.
    #[pyo3(signature = (name, sel = None))]
    fn read<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        sel: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let sel = selection(sel)?;
        self.read_selection(py, name, &sel)
    }

    /// The mapped rows of `name` (for `LazyArray`).
    fn lazy(&self, py: Python<'_>, name: &str) -> PyResult<PyMapped> {
        Ok(PyMapped::new(self.mapped(py, name)?))
    }

    /// A writable zero-copy ndarray over the data file of `name` (compacted first if rows were
    /// dropped or it is segmented, so that physical rows are the logical ones).
    fn writable<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        // Compacting and mapping are two store calls: another process may drop rows in between,
        // so map, and compact again while the mapped layout still is not one plain file.
        let m = self.run(py, |s| {
            let mut tries = 0;
            loop {
                let m = s.with_plan(name, &Selection::All, |io, p| {
                    MappedArray::open(io, p.layout())
                })?;
                if (!m.has_drops() && m.parts() <= 1) || tries == 4 {
                    return Ok(m);
                }
                s.compact(name)?;
                tries += 1;
            }
        })?;
        if m.nbytes().py()? == 0 {
            return Ok(arrays::empty(py, &m.shape, m.dtype)?.0);
        }
        let map = m
            .contiguous()
            .ok_or_else(|| PyValueError::new_err("array is not one contiguous file"))?;
        arrays::view(py, map, &m.shape, m.dtype, true)
    }

    /// Logical rows of `name` whose bytes differ from the rows of `arr` (same shape and dtype).
    fn diff_rows<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        arr: &Bound<'py, PyAny>,
    ) -> PyResult<Vec<i64>> {
        let a = arrays::input(arr)?;
        let m = self.mapped(py, name)?;
        if m.dtype != a.dtype || m.shape != a.shape {
            return Err(PyValueError::new_err("diff: shape or dtype differ"));
        }
        // SAFETY: `arr` is borrowed for the whole call.
        py.detach(|| m.diff_rows(unsafe { a.bytes.as_slice() }))
            .py()
    }
}
}

/// Converted inputs with their names, and the arrays they point into (kept alive by holding it).
type NamedInputs<'py> = (Vec<(String, Input)>, Vec<Bound<'py, PyAny>>);

/// `[(name, array), …]` as converted inputs, with the arrays kept alive by the second value.
fn named_inputs<'py>(items: &Bound<'py, PyList>) -> PyResult<NamedInputs<'py>> {
    let mut inputs = Vec::with_capacity(items.len());
    let mut keep = Vec::with_capacity(items.len());
    for item in items.iter() {
        let (name, arr): (String, Bound<'_, PyAny>) = item.extract()?;
        inputs.push((name, arrays::input(&arr)?));
        keep.push(arr);
    }
    Ok((inputs, keep))
}

/// The inputs as the store's `NewArray`s. The caller keeps the arrays alive and unresized (the
/// second value of [`named_inputs`]) for as long as the result is used.
fn new_arrays(inputs: &[(String, Input)]) -> Vec<NewArray<'_>> {
    // SAFETY: see above; every `Input` points into an array the caller holds.
    inputs
        .iter()
        .map(|(n, a)| NewArray {
            name: n,
            dtype: a.dtype,
            shape: &a.shape,
            data: unsafe { a.bytes.as_slice() },
        })
        .collect()
}
