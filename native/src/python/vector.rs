//! The compiled half of `numpack.vector_engine`: pair scores, score matrices and top-k over
//! NumPy arrays (zero-copy) or over the mapped rows of a stored array (`MappedRows`, zero-copy
//! where possible, see `vector_scan`). The Python layer chooses the compute dtype and passes
//! C-contiguous, aligned, native-endian arrays; every call runs without the GIL on the
//! runtime-dispatched SIMD kernels, on up to `threads` workers (0 = all cores).

use std::sync::Arc;

use numpack_core::vector::meet::{self, compute_type};
use numpack_core::vector::{
    self as v, Element, ElementType, Matrix, Metric, RowFilter, TopK, TopKResult, VectorError,
};
use numpack_core::{DType, with_element};
use numpy::{
    PyArray1, PyArrayDescr, PyArrayDyn, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2,
    PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyIndexError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyType};

use super::arrays;
use super::errors::{self, PyResult};
use super::lazy::PyMapped;
use super::progress::SharedHook;
use super::vector_scan::{self as scan, Rows, ScanError};
use crate::mapped::MappedArray;
use crate::simd;

/// A borrowed 1-D (one row) or 2-D C-contiguous ndarray of one engine element type.
#[derive(Clone, Copy)]
struct Vecs {
    et: ElementType,
    rows: usize,
    dim: usize,
    ptr: *const u8,
}

// SAFETY: the pointer is the buffer of an ndarray that the calling Python frame keeps alive
// across the GIL-free section; it is only read.
unsafe impl Send for Vecs {}
// SAFETY: as above (read-only).
unsafe impl Sync for Vecs {}

impl Vecs {
    /// The rows as a matrix of `T`.
    ///
    /// # Safety
    /// The ndarray must be alive and unresized for `'a`, and `T` must be `self.et`'s type.
    unsafe fn matrix<'a, T: Element>(&self) -> Result<Matrix<'a, T>, VectorError> {
        debug_assert_eq!(T::TYPE, self.et);
        let len = self.rows * self.dim;
        let data: &'a [T] = if len == 0 {
            &[]
        } else {
            // SAFETY: `vecs` checked that the buffer holds `rows × dim` aligned elements of
            // this type; the caller keeps it alive.
            unsafe { std::slice::from_raw_parts(self.ptr.cast::<T>(), len) }
        };
        Matrix::new(data, self.rows, self.dim)
    }
}

/// Reads a vector argument: a 1-D (one row) or 2-D ndarray, C-contiguous, aligned, native-endian.
fn vecs(arr: &Bound<'_, PyAny>, what: &str) -> PyResult<Vecs> {
    let a = arr
        .cast::<PyUntypedArray>()
        .map_err(|_| PyTypeError::new_err(format!("{what} must be a numpy.ndarray")))?;
    let d = a.dtype();
    let name = arrays::dtype_name(&d)?;
    let et = ElementType::from_name(&name).ok_or_else(|| {
        PyTypeError::new_err(format!(
            "{what}: vector search is not defined for dtype {name}"
        ))
    })?;
    let native = arrays::is_native(&d);
    let (rows, dim) = match a.shape() {
        [n] => (1, *n),
        [r, n] => (*r, *n),
        s => {
            return Err(PyValueError::new_err(format!(
                "{what} must be 1-D or 2-D, got {}-D",
                s.len()
            )));
        }
    };
    let ptr = a.data_ptr();
    if !native
        || !a.is_c_contiguous()
        || !(ptr as usize).is_multiple_of(et.size())
        || rows.checked_mul(dim).is_none()
    {
        return Err(PyValueError::new_err(format!(
            "internal: {what} must be C-contiguous, aligned and native-endian"
        )));
    }
    Ok(Vecs { et, rows, dim, ptr })
}

/// The data pointer of an ndarray.
trait DataPtr {
    fn data_ptr(&self) -> *const u8;
}

impl DataPtr for Bound<'_, PyUntypedArray> {
    fn data_ptr(&self) -> *const u8 {
        // SAFETY: `self` is a live ndarray; reading its data field is what NumPy's macro does.
        unsafe {
            (*numpy::npyffi::_PyArray_GET_ITEM_DATA(self.as_array_ptr()))
                .data
                .cast::<u8>()
                .cast_const()
        }
    }
}

/// Vector-engine errors as Python exceptions: a metric undefined for the dtype is
/// `numpack.vector_engine.MetricDtypeError` (a TypeError and a ValueError), the rest ValueError.
fn vector_err(py: Python<'_>, e: VectorError) -> PyErr {
    match e {
        VectorError::UnsupportedDtype { .. }
        | VectorError::Unsearchable { .. }
        | VectorError::CopyNeedsFloat32 { .. } => dtype_err(py, e.to_string()),
        VectorError::FilterIndexOutOfRange { .. }
        | VectorError::FilterMaskLength { .. }
        | VectorError::FilterRowsMismatch { .. } => PyIndexError::new_err(e.to_string()),
        other => PyValueError::new_err(other.to_string()),
    }
}

/// A `MetricDtypeError` (or a plain TypeError if the Python class cannot be found).
fn dtype_err(py: Python<'_>, msg: String) -> PyErr {
    let cls = py
        .import("numpack.vector_engine")
        .and_then(|m| m.getattr("MetricDtypeError"))
        .and_then(|c| c.cast_into::<PyType>().map_err(PyErr::from));
    match cls {
        Ok(c) => PyErr::from_type(c, msg),
        Err(_) => PyTypeError::new_err(msg),
    }
}

fn scan_err(py: Python<'_>, e: ScanError) -> PyErr {
    match e {
        ScanError::Store(s) => errors::to_py(s),
        ScanError::Vector(v) => vector_err(py, v),
        ScanError::Dtype(msg) => dtype_err(py, msg),
    }
}

fn metric(py: Python<'_>, name: &str) -> PyResult<Metric> {
    Metric::parse(name).map_err(|e| vector_err(py, e))
}

/// Candidate rows: an ndarray, or the mapped rows of a stored array.
enum Cands {
    Array(Vecs),
    Mapped(Arc<MappedArray>),
}

fn cands(obj: &Bound<'_, PyAny>) -> PyResult<Cands> {
    if let Ok(m) = obj.cast::<PyMapped>() {
        return Ok(Cands::Mapped(m.get().mapped().clone()));
    }
    let c = vecs(obj, "candidates")?;
    Ok(Cands::Array(c))
}

fn same_type(q: &Vecs, c: &Vecs) -> PyResult<()> {
    if q.et == c.et {
        Ok(())
    } else {
        Err(PyTypeError::new_err(format!(
            "internal: query is {}, candidates are {}",
            q.et.name(),
            c.et.name()
        )))
    }
}

/// (indices, scores) as `(Q, k')` uint64 and float64 arrays.
fn results<'py>(
    py: Python<'py>,
    rs: Vec<TopKResult>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let q = rs.len();
    let k = rs.first().map_or(0, |r| r.indices.len());
    let mut idx = Vec::with_capacity(q * k);
    let mut sc = Vec::with_capacity(q * k);
    for r in rs {
        idx.extend_from_slice(&r.indices);
        sc.extend_from_slice(&r.scores);
    }
    let idx = PyArray1::from_vec(py, idx).reshape([q, k])?.into_any();
    let sc = PyArray1::from_vec(py, sc).reshape([q, k])?.into_any();
    Ok((idx, sc))
}

/// The engine element type of a dtype name (the core's one mapping), or a TypeError.
fn element_of(name: &str, what: &str) -> PyResult<ElementType> {
    meet::element_of_name(name).ok_or_else(|| {
        PyTypeError::new_err(format!(
            "{what}: vector search is not defined for dtype {name}"
        ))
    })
}

/// The dtype name a query (any numeric ndarray) and candidates of dtype `cands` meet in: the
/// core's rule (`meet::compute_type`), given the query's values widened to float64.
#[pyfunction]
pub fn vector_compute_type(
    query: &Bound<'_, PyAny>,
    cands: &Bound<'_, PyArrayDescr>,
) -> PyResult<&'static str> {
    let a = query
        .cast::<PyUntypedArray>()
        .map_err(|_| PyTypeError::new_err("query must be a numpy.ndarray"))?;
    let (qt, ct) = (
        element_of(&arrays::dtype_name(&a.dtype())?, "query")?,
        element_of(&arrays::dtype_name(cands)?, "candidates")?,
    );
    let t = compute_type(qt, ct, || -> PyResult<Vec<f64>> {
        let wide = query
            .call_method1("astype", ("float64",))?
            .cast_into::<PyArrayDyn<f64>>()
            .map_err(PyErr::from)?;
        let values = wide.readonly().as_array().iter().copied().collect();
        Ok(values)
    })?;
    Ok(t.name())
}

/// Detected CPU features, available tiers and the active tier, as a dict.
#[pyfunction]
pub fn vector_capabilities(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let c = simd::capabilities();
    let d = PyDict::new(py);
    d.set_item("arch", c.arch)?;
    d.set_item(
        "features",
        c.features
            .iter()
            .filter(|f| f.1)
            .map(|f| f.0)
            .collect::<Vec<_>>(),
    )?;
    d.set_item(
        "available",
        c.available.iter().map(|t| t.name()).collect::<Vec<_>>(),
    )?;
    d.set_item("active", c.active.name())?;
    d.set_item("requested", c.requested)?;
    d.set_item("note", c.note)?;
    d.set_item("sve_vector_bytes", c.sve_vector_bytes)?;
    Ok(d)
}

/// Forces a SIMD tier for this process (`auto` = the best available); returns the active tier.
#[pyfunction]
pub fn vector_set_tier(name: &str) -> PyResult<&'static str> {
    let tier = match simd::Tier::parse(name).map_err(|e| PyValueError::new_err(e.to_string()))? {
        Some(t) => t,
        None => *simd::capabilities()
            .available
            .last()
            .unwrap_or(&simd::Tier::Scalar),
    };
    simd::set_tier(tier).map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(tier.name())
}

/// This machine's fp32 FMA peak in GFLOP/s on `threads` workers, measured by an in-register
/// kernel for about `seconds` (benchmarks put the multi-query search against it).
#[pyfunction]
#[pyo3(signature = (threads = 1, seconds = 0.2))]
pub fn vector_fma_peak(py: Python<'_>, threads: usize, seconds: f64) -> f64 {
    py.detach(move || simd::fma_peak_gflops(threads, seconds))
}

/// The metric between two 1-D vectors of the same dtype.
#[pyfunction]
pub fn vector_compute(
    py: Python<'_>,
    a: &Bound<'_, PyAny>,
    b: &Bound<'_, PyAny>,
    metric: &str,
) -> PyResult<f64> {
    let m = self::metric(py, metric)?;
    let (x, y) = (vecs(a, "a")?, vecs(b, "b")?);
    same_type(&x, &y)?;
    let r = py.detach(move || {
        with_element!(x.et, T => {
            // SAFETY: `a` and `b` are borrowed for this whole call; their type is `T`.
            let (xa, yb) = unsafe { (x.matrix::<T>()?, y.matrix::<T>()?) };
            v::compute(simd::kernels(), m, xa.data(), yb.data())
        })
    });
    r.map_err(|e| vector_err(py, e))
}

/// Every query row scored against every candidate row: a `(Q, N)` float64 array.
#[pyfunction]
#[pyo3(signature = (queries, candidates, metric, threads = 0, batch_rows = 16384, progress = None))]
pub fn vector_scores<'py>(
    py: Python<'py>,
    queries: &Bound<'py, PyAny>,
    candidates: &Bound<'py, PyAny>,
    metric: &str,
    threads: usize,
    batch_rows: usize,
    progress: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let m = self::metric(py, metric)?;
    let q = vecs(queries, "query")?;
    let c = cands(candidates)?;
    let n = match &c {
        Cands::Array(c) => {
            same_type(&q, c)?;
            c.rows
        }
        Cands::Mapped(mm) => {
            usize::try_from(mm.len()).map_err(|_| PyValueError::new_err("too many rows"))?
        }
    };
    let total = q
        .rows
        .checked_mul(n)
        .ok_or_else(|| PyValueError::new_err("score matrix too large"))?;
    let (out, bytes) = arrays::empty(py, &[q.rows as u64, n as u64], DType::Float64)?;
    // SAFETY: `out` is a fresh float64 array nobody else has seen; it stays alive (held here)
    // across the call. NumPy aligns its allocations to at least 16 bytes.
    let (pre, out_f64, _) = unsafe { bytes.as_mut_slice().align_to_mut::<f64>() };
    if !pre.is_empty() || out_f64.len() != total {
        return Err(PyValueError::new_err("internal: unaligned output"));
    }
    let hook = SharedHook::new(progress.as_ref(), n as u64);
    let tick = |rows: u64| hook.tick(rows);
    let r = py.detach(move || -> Result<(), ScanError> {
        with_element!(q.et, T => {
            // SAFETY: `queries` (and `candidates`) are borrowed for this whole call; type `T`.
            let qm = unsafe { q.matrix::<T>()? };
            match &c {
                Cands::Array(c) => {
                    // SAFETY: as above.
                    let cm = unsafe { c.matrix::<T>()? };
                    if qm.rows() == 1 {
                        simd::batch_compute(simd::kernels(), m, qm.row(0), cm, out_f64, threads)?;
                    } else {
                        simd::cdist(simd::kernels(), m, qm, cm, out_f64, threads)?;
                    }
                    Ok(())
                }
                Cands::Mapped(mm) => scan::scores(simd::kernels(), m, Rows::<T>::new(mm)?, qm, out_f64, batch_rows, threads, &tick),
            }
        })
    });
    hook.finish(r, |e| scan_err(py, e))?;
    Ok(out)
}

/// Candidates' per-row squared norms, kept by the caller across searches (`NormCache` in the
/// core; exposed in Python through `VectorSearch.prepare`).
#[pyclass(name = "NormCache", module = "numpack._numpack", frozen)]
pub struct PyNormCache {
    cache: v::NormCache,
}

#[pymethods]
impl PyNormCache {
    /// Number of rows.
    #[getter]
    fn rows(&self) -> usize {
        self.cache.rows()
    }

    /// The element type the norms were computed in (a NumPy dtype name).
    #[getter]
    fn dtype(&self) -> &'static str {
        self.cache.dtype().name()
    }

    /// Whether the cache holds a bfloat16 copy of the rows.
    #[getter]
    fn bf16_copy(&self) -> bool {
        self.cache.has_bf16_copy()
    }

    /// The squared norms as a float64 array.
    fn norm_sq<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_slice(py, self.cache.norm_sq())
    }
}

/// Computes the norm cache of a 2-D candidate array (without the GIL, on up to `threads`
/// workers).
#[pyfunction]
#[pyo3(signature = (candidates, threads = 0, bf16_copy = false))]
pub fn vector_norm_cache(
    py: Python<'_>,
    candidates: &Bound<'_, PyAny>,
    threads: usize,
    bf16_copy: bool,
) -> PyResult<PyNormCache> {
    let c = vecs(candidates, "candidates")?;
    let r = py.detach(move || {
        with_element!(c.et, T => {
            // SAFETY: `candidates` is borrowed for this whole call; its type is `T`.
            let cm = unsafe { c.matrix::<T>()? };
            simd::norm_cache(simd::kernels(), cm, bf16_copy, threads)
        })
    });
    let cache = r.map_err(|e| vector_err(py, e))?;
    Ok(PyNormCache { cache })
}

/// The core's row filter from a bool mask or an int64 index array (the Python layer passes
/// one-dimensional contiguous arrays of exactly those dtypes), for `rows` candidate rows.
fn row_filter(
    py: Python<'_>,
    mask: Option<PyReadonlyArray1<'_, bool>>,
    indices: Option<PyReadonlyArray1<'_, i64>>,
    rows: u64,
) -> PyResult<Option<RowFilter>> {
    let f = match (mask, indices) {
        (Some(m), None) => match m.as_slice() {
            Ok(b) => {
                // SAFETY: `bool` is one byte holding 0 or 1, a valid `u8`; same length and
                // lifetime as the borrowed mask.
                let bytes = unsafe { std::slice::from_raw_parts(b.as_ptr().cast::<u8>(), b.len()) };
                RowFilter::from_mask_bytes(bytes, rows)
            }
            Err(_) => RowFilter::from_mask(m.as_array().iter().copied(), rows),
        },
        (None, Some(i)) => RowFilter::from_indices(i.as_array().iter().copied(), rows),
        (None, None) => return Ok(None),
        _ => return Err(PyValueError::new_err("internal: a mask and indices")),
    };
    f.map(Some).map_err(|e| vector_err(py, e))
}

/// The `k` best candidates of every query row: `(Q, k')` uint64 indices and float64 scores,
/// best first, `k' = min(k, N)` (`k' = min(k, allowed rows)` with a filter). One query uses the
/// single-query kernel, several the fused cache-blocked multi-query kernel. `filter_mask` (bool,
/// one per row) or `filter_indices` (int64 logical rows) restricts the rows searched.
#[pyfunction]
#[pyo3(signature = (queries, candidates, metric, k, threads = 0, batch_rows = 16384, filter_mask = None, filter_indices = None, norms = None, progress = None))]
#[allow(clippy::too_many_arguments)]
pub fn vector_top_k<'py>(
    py: Python<'py>,
    queries: &Bound<'py, PyAny>,
    candidates: &Bound<'py, PyAny>,
    metric: &str,
    k: usize,
    threads: usize,
    batch_rows: usize,
    filter_mask: Option<PyReadonlyArray1<'py, bool>>,
    filter_indices: Option<PyReadonlyArray1<'py, i64>>,
    norms: Option<Bound<'py, PyNormCache>>,
    progress: Option<Py<PyAny>>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let m = self::metric(py, metric)?;
    let q = vecs(queries, "query")?;
    let c = cands(candidates)?;
    let n = match &c {
        Cands::Array(c) => {
            same_type(&q, c)?;
            c.rows as u64
        }
        Cands::Mapped(mm) => mm.len(),
    };
    let filter = row_filter(py, filter_mask, filter_indices, n)?;
    let filter = filter.as_ref();
    // Whether the cache serves this search is core's rule (`top_k_rows_with`).
    let cache = norms.as_ref().map(|c| &c.get().cache);
    let hook = SharedHook::new(progress.as_ref(), n);
    let tick = |rows: u64| hook.tick(rows);
    let r = py.detach(move || -> Result<Vec<TopKResult>, ScanError> {
        with_element!(q.et, T => {
            // SAFETY: `queries` (and `candidates`) are borrowed for this whole call; type `T`.
            let qm = unsafe { q.matrix::<T>()? };
            let single = qm.rows() == 1;
            match &c {
                Cands::Array(c) => {
                    // SAFETY: as above.
                    let cm = unsafe { c.matrix::<T>()? };
                    if cm.dim() != qm.dim() {
                        return Err(VectorError::DimensionMismatch { expected: cm.dim(), found: qm.dim() }.into());
                    }
                    let d = &simd::Parallel(threads);
                    Ok(v::top_k_rows_with(simd::kernels(), m, qm, cm, k, filter, cache, d)?)
                }
                Cands::Mapped(mm) => {
                    let rows = Rows::<T>::new(mm)?;
                    if single {
                        Ok(vec![scan::top_k(simd::kernels(), m, rows, qm.row(0), k, filter, batch_rows, threads, &tick)?])
                    } else {
                        scan::multi_top_k(simd::kernels(), m, rows, qm, k, filter, batch_rows, threads, &tick)
                    }
                }
            }
        })
    });
    let rs = hook.finish(r, |e| scan_err(py, e))?;
    results(py, rs)
}

/// The best `k` per row of the candidates `indices` / `scores` (`(Q, m)` each: top-k results of
/// several parts side by side, indices already global: shards, or a running top-k and a batch), in the engine's one order
/// (`numpack_core::vector::TopK`: better score first by `metric`'s direction, NaN after every
/// number, ties by the lower index). Returns `(Q, min(k, m))` uint64 and float64 arrays.
/// `is_similarity`, when given (upstream's `segmented_top_k_search` passes it), must agree with
/// the metric's direction.
#[pyfunction]
#[pyo3(signature = (indices, scores, metric, k, is_similarity=None))]
pub fn vector_merge_top_k<'py>(
    py: Python<'py>,
    indices: PyReadonlyArray2<'py, u64>,
    scores: PyReadonlyArray2<'py, f64>,
    metric: &str,
    k: usize,
    is_similarity: Option<bool>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let metric = Metric::parse(metric).map_err(|e| PyValueError::new_err(e.to_string()))?;
    let direction = if metric.is_similarity() {
        "higher"
    } else {
        "lower"
    };
    if let Some(similar) = is_similarity
        && similar != metric.is_similarity()
    {
        return Err(PyValueError::new_err(format!(
            "is_similarity={similar} contradicts metric {metric:?}, which ranks {direction} scores first"
        )));
    }
    let (idx, sc) = (indices.as_array(), scores.as_array());
    if idx.shape() != sc.shape() {
        return Err(PyValueError::new_err(format!(
            "indices {:?} and scores {:?} differ in shape",
            idx.shape(),
            sc.shape()
        )));
    }
    let (q, m) = (idx.nrows(), idx.ncols());
    let kk = k.min(m);
    let mut out_i = Vec::with_capacity(q * kk);
    let mut out_s = Vec::with_capacity(q * kk);
    for (ri, rs) in idx.rows().into_iter().zip(sc.rows()) {
        let mut top = TopK::new(kk, metric.is_similarity());
        for (&i, &s) in ri.iter().zip(rs.iter()) {
            top.push(s, i);
        }
        let r = top.into_sorted();
        out_i.extend_from_slice(&r.indices);
        out_s.extend_from_slice(&r.scores);
    }
    let out_i = PyArray1::from_vec(py, out_i).reshape([q, kk])?.into_any();
    let out_s = PyArray1::from_vec(py, out_s).reshape([q, kk])?.into_any();
    Ok((out_i, out_s))
}
