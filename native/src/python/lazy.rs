//! The compiled half of `numpack.LazyArray`: an array's mapped rows as of the moment it was
//! loaded, read without the store lock (in-place replacements by anyone show through; saves,
//! drops and appends made later do not change its shape or rows).

use std::sync::Arc;

use numpack_core::ReadPlan;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use super::arrays;
use super::errors::{IntoPy, PyResult};
use crate::mapped::MappedArray;

/// Mapped rows of one array.
#[pyclass(frozen, module = "numpack._numpack", name = "MappedRows")]
pub struct PyMapped {
    inner: Arc<MappedArray>,
}

impl PyMapped {
    /// Wraps a mapped array.
    pub fn new(inner: Arc<MappedArray>) -> PyMapped {
        PyMapped { inner }
    }

    /// The mapped array (for the vector search over a `LazyArray`).
    pub fn mapped(&self) -> &Arc<MappedArray> {
        &self.inner
    }
}

/// Runs `plan` (made from `m`'s layout) into a new array of its shape.
fn copy_out<'py>(
    py: Python<'py>,
    m: &MappedArray,
    plan: &ReadPlan<'_>,
) -> PyResult<Bound<'py, PyAny>> {
    let (out, bytes) = arrays::empty(py, plan.shape(), m.dtype)?;
    // SAFETY: `out` is a fresh array nobody else has seen; it stays alive across the call.
    py.detach(|| m.copy(plan, unsafe { bytes.as_mut_slice() }))
        .py()?;
    Ok(out)
}

#[pymethods]
impl PyMapped {
    /// The logical shape.
    #[getter]
    fn shape<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.inner.shape.iter())
    }

    /// NumPy's dtype name.
    #[getter]
    fn dtype(&self) -> &'static str {
        self.inner.dtype.numpy_name()
    }

    /// Whether some rows are dropped (then no zero-copy view exists).
    #[getter]
    fn has_drops(&self) -> bool {
        self.inner.has_drops()
    }

    /// A read-only zero-copy ndarray of all logical rows, or None if rows are dropped or the
    /// array is split over several files.
    fn view<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        if self.inner.nbytes().py()? == 0 {
            return Ok(Some(
                arrays::empty(py, &self.inner.shape, self.inner.dtype)?.0,
            ));
        }
        match self.inner.contiguous() {
            Some(map) => Ok(Some(arrays::view(
                py,
                map,
                &self.inner.shape,
                self.inner.dtype,
                false,
            )?)),
            None => Ok(None),
        }
    }

    /// A copy of all logical rows.
    fn read<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.select(py, None)
    }

    /// A copy of `count` logical rows from `start`.
    fn range<'py>(&self, py: Python<'py>, start: u64, count: u64) -> PyResult<Bound<'py, PyAny>> {
        copy_out(
            py,
            &self.inner,
            &self.inner.layout().plan_range(start, count).py()?,
        )
    }

    /// A copy of the logical rows a selection picks (as `Store.read` takes it: None, a
    /// `(start, stop, step)` tuple, an int64 index array or a bool mask).
    #[pyo3(signature = (sel = None))]
    fn select<'py>(
        &self,
        py: Python<'py>,
        sel: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let sel = super::store::selection(sel)?;
        copy_out(py, &self.inner, &self.inner.plan(&sel).py()?)
    }
}
