//! Vector search over the core engine: vectors uploaded once into wasm memory ([`WasmMatrix`]),
//! pair / batch / top-k / multi-query calls, and top-k streamed over an array of a store.
//! Every dtype rule is the core's (`numpack_core::vector::meet`): the element type a dtype is
//! computed in, where a query and candidates of different types meet, the widening to f64.

use std::borrow::Cow;
use std::cell::OnceCell;

use half::{bf16, f16};
use numpack_core::vector::meet::{self, compute_type};
use numpack_core::vector::{
    self as v, Element, ElementType, Matrix, Metric, NormCache, RowBatch, RowFilter, RowIds,
    RowRange, RowSource, TopK, TopKResult, VectorError,
};
use numpack_core::{DType, Io, Store, with_element};
use wasm_bindgen::prelude::*;

use crate::error::{JsResult, Kind, dtype_error, js_error, to_js, value_error};
use crate::simd128::kernels;
use crate::store::{Inner, WasmStore, with_store};

/// Owned vectors of one element type the engine computes on.
#[derive(Clone)]
pub enum Vectors {
    /// float32.
    F32(Vec<f32>),
    /// float64 (also every integer dtype widened by the core's rule).
    F64(Vec<f64>),
    /// float16.
    F16(Vec<f16>),
    /// bfloat16.
    Bf16(Vec<bf16>),
    /// int8.
    I8(Vec<i8>),
    /// uint8 (bit metrics).
    U8(Vec<u8>),
}

/// An element type `Vectors` can hold: borrowing it back out, and wrapping it in.
trait Held: Element {
    fn view(v: &Vectors) -> Option<&[Self]>;
    fn wrap(v: Vec<Self>) -> Vectors;
}

macro_rules! held {
    ($($t:ty => $variant:ident),*) => {$(
        impl Held for $t {
            fn view(v: &Vectors) -> Option<&[Self]> {
                if let Vectors::$variant(x) = v { Some(x) } else { None }
            }
            fn wrap(v: Vec<Self>) -> Vectors {
                Vectors::$variant(v)
            }
        }
    )*};
}
held!(f32 => F32, f64 => F64, f16 => F16, bf16 => Bf16, i8 => I8, u8 => U8);

impl Vectors {
    fn element(&self) -> ElementType {
        match self {
            Vectors::F32(_) => ElementType::F32,
            Vectors::F64(_) => ElementType::F64,
            Vectors::F16(_) => ElementType::F16,
            Vectors::Bf16(_) => ElementType::Bf16,
            Vectors::I8(_) => ElementType::I8,
            Vectors::U8(_) => ElementType::U8,
        }
    }

    fn to_f64(&self) -> Vec<f64> {
        fn wide<T: Element>(x: &[T]) -> Vec<f64> {
            x.iter().map(|e| e.to_f64()).collect()
        }
        match self {
            Vectors::F32(x) => wide(x),
            Vectors::F64(x) => x.clone(),
            Vectors::F16(x) => wide(x),
            Vectors::Bf16(x) => wide(x),
            Vectors::I8(x) => wide(x),
            Vectors::U8(x) => wide(x),
        }
    }

    /// The elements as `T`: borrowed when they are `T`, else cast (the core's `meet::cast`).
    fn as_type<T: Held>(&self) -> Cow<'_, [T]> {
        match T::view(self) {
            Some(x) => Cow::Borrowed(x),
            None => Cow::Owned(meet::cast(self.to_f64())),
        }
    }
}

/// The element type query `q` and candidates of element type `cands` are computed in.
fn meet_type(q: &Vectors, cands: ElementType) -> ElementType {
    match compute_type(q.element(), cands, || {
        Ok::<_, std::convert::Infallible>(q.to_f64())
    }) {
        Ok(t) => t,
        Err(never) => match never {},
    }
}

/// Vectors uploaded into wasm memory once: `rows × dim` elements, row-major.
#[wasm_bindgen]
pub struct WasmMatrix {
    data: Vectors,
    rows: usize,
    dim: usize,
    /// The core's norm cache of the rows (`NormCache`), built on the first cosine / l2 / l2sq
    /// search in the rows' own element type and reused afterwards (the rows never change).
    norms: OnceCell<NormCache>,
    /// Whether searches may build `norms` (set for matrices kept across searches; a matrix
    /// made for one call would pay a norm pass it never reuses).
    keep_norms: bool,
}

#[wasm_bindgen]
impl WasmMatrix {
    /// `rows × dim` little-endian elements of `dtype` (any numeric dtype name, or
    /// `"bfloat16"`), held in the element type the core computes that dtype in.
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(dtype: &str, bytes: &[u8], rows: u32, dim: u32) -> JsResult<WasmMatrix> {
        let et = meet::element_of_name(dtype)
            .ok_or_else(|| dtype_error(format!("vector search is not defined for {dtype}")))?;
        let stored = DType::from_numpy_name(dtype).ok(); // None for bfloat16 (not a store dtype)
        let itemsize = stored.map_or(et.size(), |d| d.itemsize() as usize);
        let (rows, dim, len) = (rows as usize, dim as usize, bytes.len() / itemsize);
        if !bytes.len().is_multiple_of(itemsize) || rows.checked_mul(dim) != Some(len) {
            return Err(value_error(format!(
                "{len} elements are not {rows} rows of {dim}"
            )));
        }
        let data = with_element!(et, T => {
            let mut out: Vec<T> = Vec::with_capacity(len);
            match stored {
                Some(d) => meet::decode::<T>(d, bytes, &mut out).map_err(vector_error)?,
                None => out.extend(bytes.chunks_exact(itemsize).map(<T as Element>::from_le)),
            }
            T::wrap(out)
        });
        Ok(WasmMatrix {
            data,
            rows,
            dim,
            norms: OnceCell::new(),
            keep_norms: false,
        })
    }
    /// Number of rows.
    #[wasm_bindgen(getter)]
    pub fn rows(&self) -> u32 {
        self.rows as u32
    }
    /// Row length.
    #[wasm_bindgen(getter)]
    pub fn dim(&self) -> u32 {
        self.dim as u32
    }
    /// The element type the engine computes in.
    #[wasm_bindgen(getter)]
    pub fn dtype(&self) -> String {
        self.data.element().name().to_string()
    }
    /// Byte offset in wasm memory of the held elements (little-endian, `dtype`), for copying
    /// row ranges out to worker threads without an intermediate array; valid until the next
    /// allocation. `byteLength` gives their size.
    #[wasm_bindgen(js_name = bytePtr)]
    pub fn byte_ptr(&self) -> usize {
        match &self.data {
            Vectors::F32(x) => x.as_ptr() as usize,
            Vectors::F64(x) => x.as_ptr() as usize,
            Vectors::F16(x) => x.as_ptr() as usize,
            Vectors::Bf16(x) => x.as_ptr() as usize,
            Vectors::I8(x) => x.as_ptr() as usize,
            Vectors::U8(x) => x.as_ptr() as usize,
        }
    }
    /// Lets cosine / l2 / l2sq searches build and keep the rows' norm cache (for a matrix
    /// searched many times).
    #[wasm_bindgen(setter, js_name = keepNorms)]
    pub fn set_keep_norms(&mut self, keep: bool) {
        self.keep_norms = keep;
    }
    /// Size in bytes of the held elements.
    #[wasm_bindgen(js_name = byteLength, getter)]
    pub fn byte_length(&self) -> usize {
        self.rows * self.dim * self.data.element().size()
    }
}

/// This module's linear memory (to read a matrix's bytes at `bytePtr`).
#[wasm_bindgen(js_name = wasmMemory)]
pub fn wasm_memory() -> JsValue {
    wasm_bindgen::memory()
}

/// Merges per-thread top-k lists with the core's ranking (`TopK`, the same total order on
/// (score, index) every search uses): query `q`'s entries are `scores[offsets[q]..offsets[q+1]]`
/// with their global row `indices`; returns each query's best `k`, flattened like `topK`.
#[wasm_bindgen(js_name = mergeTopK)]
pub fn merge_top_k(
    metric: &str,
    k: u32,
    scores: &[f64],
    indices: &[u32],
    offsets: &[u32],
) -> JsResult<JsValue> {
    let m = parse_metric(metric)?;
    if scores.len() != indices.len() || offsets.last().map(|&o| o as usize) != Some(scores.len()) {
        return Err(value_error("mergeTopK: inconsistent lengths"));
    }
    let mut results = Vec::with_capacity(offsets.len().saturating_sub(1));
    for w in offsets.windows(2) {
        let (a, b) = (w[0] as usize, w[1] as usize);
        if a > b {
            return Err(value_error("mergeTopK: offsets must not decrease"));
        }
        let mut t = TopK::new(k as usize, m.is_similarity());
        for (&s, &i) in scores[a..b].iter().zip(&indices[a..b]) {
            t.push(s, u64::from(i));
        }
        results.push(t.into_sorted());
    }
    let kk = results.iter().map(|r| r.indices.len()).max().unwrap_or(0);
    results_to_js(&results, kk)
}

fn parse_metric(name: &str) -> JsResult<Metric> {
    Metric::parse(name).map_err(vector_error)
}

/// A vector-engine error as a JS error (`DTypeError` for unsupported dtypes, else `ValueError`).
pub fn vector_error(err: VectorError) -> JsValue {
    match err {
        VectorError::UnsupportedDtype { .. } | VectorError::Unsearchable { .. } => {
            dtype_error(err.to_string())
        }
        VectorError::FilterIndexOutOfRange { .. } => js_error(Kind::Index, &err.to_string()),
        other => value_error(other.to_string()),
    }
}

/// Runs `$body` with `$q`, `$c` bound to the query's and the candidates' elements in the type
/// they meet in (`meet_type`): the candidates are borrowed unless that type is float64 and
/// theirs is not; `$same` tells whether they were borrowed as they are.
macro_rules! meet_dispatch {
    ($query:expr, $cands:expr, |$q:ident, $c:ident, $same:ident| $body:expr) => {{
        let ct = meet_type(&$query.data, $cands.data.element());
        let $same = ct == $cands.data.element();
        with_element!(ct, T => {
            let (qv, cv) = ($query.data.as_type::<T>(), $cands.data.as_type::<T>());
            let ($q, $c): (&[T], &[T]) = (&qv, &cv);
            $body
        })
    }};
}

fn results_to_js(results: &[TopKResult], k: usize) -> JsResult<JsValue> {
    let mut idx = Vec::with_capacity(results.len() * k);
    let mut scores = Vec::with_capacity(results.len() * k);
    for r in results {
        for (&i, &s) in r.indices.iter().zip(&r.scores) {
            idx.push(u32::try_from(i).map_err(|_| value_error("row index beyond 2^32"))?);
            scores.push(s);
        }
    }
    let o = js_sys::Object::new();
    let _ = js_sys::Reflect::set(
        &o,
        &"indices".into(),
        &js_sys::Uint32Array::from(&idx[..]).into(),
    );
    let _ = js_sys::Reflect::set(
        &o,
        &"scores".into(),
        &js_sys::Float64Array::from(&scores[..]).into(),
    );
    let _ = js_sys::Reflect::set(&o, &"k".into(), &JsValue::from_f64(k as f64));
    Ok(o.into())
}

/// The metric between two vectors (`a` and `b` are one row each; `b` counts as the candidates).
#[wasm_bindgen(js_name = computeMetric)]
pub fn compute_metric(a: &WasmMatrix, b: &WasmMatrix, metric: &str) -> JsResult<f64> {
    let m = parse_metric(metric)?;
    meet_dispatch!(a, b, |x, y, _same| v::compute(kernels(), m, x, y)).map_err(vector_error)
}

/// Scores of every query row against every candidate row, `queries.rows × candidates.rows`.
#[wasm_bindgen(js_name = batchCompute)]
pub fn batch_compute(
    queries: &WasmMatrix,
    candidates: &WasmMatrix,
    metric: &str,
) -> JsResult<Vec<f64>> {
    let m = parse_metric(metric)?;
    let mut out = vec![0f64; queries.rows * candidates.rows];
    let (qr, cr, cd, qd) = (queries.rows, candidates.rows, candidates.dim, queries.dim);
    meet_dispatch!(queries, candidates, |q, c, _same| {
        let cm = Matrix::new(c, cr, cd).map_err(vector_error)?;
        if qr == 1 {
            v::batch_compute(kernels(), m, q, cm, &mut out)
        } else {
            let qm = Matrix::new(q, qr, qd).map_err(vector_error)?;
            v::cdist(kernels(), m, qm, cm, &mut out)
        }
    })
    .map_err(vector_error)?;
    Ok(out)
}

/// The row filter of a search over `rows` candidate rows from its JS form: logical row
/// `indices` (integral numbers) or a boolean `mask` (one byte per row, non-zero = allowed);
/// every rule (range, duplicates, mask length) is the core's `RowFilter`.
fn row_filter(
    indices: Option<Vec<f64>>,
    mask: Option<Vec<u8>>,
    rows: u64,
) -> JsResult<Option<RowFilter>> {
    let f = match (indices, mask) {
        (None, None) => return Ok(None),
        (Some(ix), None) => {
            if let Some(bad) = ix.iter().find(|x| x.fract() != 0.0 || !x.is_finite()) {
                return Err(js_error(
                    Kind::Index,
                    &format!("filter indices must be integers, got {bad}"),
                ));
            }
            RowFilter::from_indices(ix.iter().map(|&x| x as i64), rows)
        }
        (None, Some(mk)) => RowFilter::from_mask_bytes(&mk, rows),
        (Some(_), Some(_)) => return Err(value_error("give filter indices or a mask, not both")),
    };
    f.map(Some).map_err(vector_error)
}

/// The allowed rows of a filter (ascending, each once), for splitting a search over threads.
#[wasm_bindgen(js_name = filterAllowed)]
pub fn filter_allowed(
    rows: f64,
    filter_indices: Option<Vec<f64>>,
    filter_mask: Option<Vec<u8>>,
) -> JsResult<Vec<f64>> {
    let f = row_filter(filter_indices, filter_mask, rows as u64)?;
    Ok(f.map_or_else(Vec::new, |f| {
        f.allowed().iter().map(|&r| r as f64).collect()
    }))
}

/// The rows of `rows` a search covers: `rowStart..rowStop` when given (a thread's share,
/// indices stay global), else every row.
fn part(rows: usize, start: Option<f64>, stop: Option<f64>) -> RowRange {
    let clip = |x: f64| (x.max(0.0) as usize).min(rows); // NaN.max(0) is 0
    let end = stop.map_or(rows, clip);
    RowRange(start.map_or(0, clip).min(end), end)
}

/// The `k` best candidates for one query: `{ indices: Uint32Array, scores: Float64Array, k }`.
/// An optional row filter (`filterIndices` or `filterMask`) limits them to the allowed rows;
/// an optional `rowStart..rowStop` searches only those rows (a thread's share of a search,
/// indices stay those of all rows). Cosine, l2 and l2sq over the candidates' own element type
/// use their norm cache.
#[wasm_bindgen(js_name = topK)]
#[allow(clippy::too_many_arguments)] // the search's full description, passed once
pub fn top_k(
    query: &WasmMatrix,
    candidates: &WasmMatrix,
    metric: &str,
    k: u32,
    filter_indices: Option<Vec<f64>>,
    filter_mask: Option<Vec<u8>>,
    row_start: Option<f64>,
    row_stop: Option<f64>,
) -> JsResult<JsValue> {
    let m = parse_metric(metric)?;
    let (cr, cd) = (candidates.rows, candidates.dim);
    let filter = row_filter(filter_indices, filter_mask, cr as u64)?;
    let d = part(cr, row_start, row_stop);
    let r = meet_dispatch!(query, candidates, |q, c, same| {
        let cm = Matrix::new(c, cr, cd).map_err(vector_error)?;
        let cacheable = matches!(m, Metric::Cosine | Metric::L2 | Metric::L2sq)
            && (candidates.keep_norms || candidates.norms.get().is_some())
            && same
            && k > 0
            && cr > 0
            && cd > 0
            && q.len() == cd
            && has_norm_kernel(c);
        if cacheable && filter.is_none() {
            let cache = norms_of(candidates, cm).map_err(vector_error)?;
            v::top_k_cached_with(kernels(), m, q, cm, k as usize, cache, &d)
        } else {
            v::top_k_with(kernels(), m, q, cm, k as usize, filter.as_ref(), &d)
        }
    })
    .map_err(vector_error)?;
    let kk = r.indices.len();
    results_to_js(&[r], kk)
}

/// The candidates' norm cache, built on first use and kept (they never change).
fn norms_of<'a, T: Element>(
    candidates: &'a WasmMatrix,
    cm: Matrix<'_, T>,
) -> Result<&'a NormCache, VectorError> {
    if let Some(c) = candidates.norms.get() {
        return Ok(c);
    }
    let built = NormCache::new(kernels(), cm)?;
    Ok(candidates.norms.get_or_init(|| built))
}

/// Whether the element type of `_c` has a squared-norm kernel (every float type and int8).
fn has_norm_kernel<T: Element>(_c: &[T]) -> bool {
    kernels().get::<T>().norm_sq.is_some()
}

/// The `k` best candidates for each query row, flattened `queries.rows × k'` (k' = min(k, N),
/// or the allowed rows under a filter); `rowStart..rowStop` as in `topK`.
#[wasm_bindgen(js_name = multiQueryTopK)]
#[allow(clippy::too_many_arguments)] // the search's full description, passed once
pub fn multi_query_top_k(
    queries: &WasmMatrix,
    candidates: &WasmMatrix,
    metric: &str,
    k: u32,
    filter_indices: Option<Vec<f64>>,
    filter_mask: Option<Vec<u8>>,
    row_start: Option<f64>,
    row_stop: Option<f64>,
) -> JsResult<JsValue> {
    let m = parse_metric(metric)?;
    let (qr, qd, cr, cd) = (queries.rows, queries.dim, candidates.rows, candidates.dim);
    let filter = row_filter(filter_indices, filter_mask, cr as u64)?;
    let d = part(cr, row_start, row_stop);
    let rs = meet_dispatch!(queries, candidates, |q, c, _same| {
        let qm = Matrix::new(q, qr, qd).map_err(vector_error)?;
        let cm = Matrix::new(c, cr, cd).map_err(vector_error)?;
        v::multi_query_top_k_with(kernels(), m, qm, cm, k as usize, filter.as_ref(), &d)
    })
    .map_err(vector_error)?;
    let kk = rs.first().map_or(0, |r| r.indices.len());
    results_to_js(&rs, kk)
}

/// Errors of a search streamed over a store.
enum StreamError {
    Vector(VectorError),
    Store(numpack_core::Error),
}

impl From<VectorError> for StreamError {
    fn from(e: VectorError) -> Self {
        StreamError::Vector(e)
    }
}

impl From<StreamError> for JsValue {
    fn from(e: StreamError) -> JsValue {
        match e {
            StreamError::Vector(v) => vector_error(v),
            StreamError::Store(s) => to_js(s),
        }
    }
}

/// Rows of a stored array, read `batch` logical rows at a time and decoded into `T`.
struct StoredRows<'s, I: Io, T: Element> {
    store: &'s mut Store<I>,
    name: String,
    dtype: DType,
    rows: u64,
    dim: usize,
    next: u64,
    batch: u64,
    bytes: Vec<u8>,
    values: Vec<T>,
}

impl<I: Io, T: Element> RowSource<T> for StoredRows<'_, I, T> {
    type Error = StreamError;
    fn next_batch(&mut self) -> Result<Option<RowBatch<'_, T>>, StreamError> {
        if self.next >= self.rows {
            return Ok(None);
        }
        let n = self.batch.min(self.rows - self.next);
        let row_bytes = self.dim as u64 * self.dtype.itemsize();
        self.bytes.resize((n * row_bytes) as usize, 0);
        self.store
            .read_range(&self.name, self.next, n, &mut self.bytes)
            .map_err(StreamError::Store)?;
        self.values.clear();
        meet::decode(self.dtype, &self.bytes, &mut self.values)?;
        let start = self.next;
        self.next += n;
        let rows = Matrix::new(&self.values, n as usize, self.dim)?;
        Ok(Some(RowBatch {
            rows,
            ids: RowIds::Offset(start),
        }))
    }
}

/// Top-k of `queries` over the stored 2-D array `name`, read `batch` rows at a time, in the
/// compute type `T` the query and the stored dtype meet in.
#[allow(clippy::too_many_arguments)] // the search's full description, passed once
fn stream_search<I: Io, T: Held>(
    store: &mut Store<I>,
    name: &str,
    dtype: DType,
    shape: &[u64],
    queries: &WasmMatrix,
    m: Metric,
    k: usize,
    batch: u64,
    filter: (Option<Vec<f64>>, Option<Vec<u8>>),
    range: (Option<f64>, Option<f64>),
) -> JsResult<Vec<TopKResult>> {
    if shape.len() != 2 {
        return Err(value_error(format!(
            "array {name:?} must be 2-D (rows × dim) to be searched, it is {}-D",
            shape.len()
        )));
    }
    let dim = usize::try_from(shape[1]).map_err(|_| value_error("dimension too large"))?;
    if queries.dim != dim {
        return Err(vector_error(VectorError::DimensionMismatch {
            expected: dim,
            found: queries.dim,
        }));
    }
    let filter = row_filter(filter.0, filter.1, shape[0])?;
    // A range of logical rows (one thread's share); indices stay those of the whole array.
    let stop = range
        .1
        .map_or(shape[0], |s| (s.max(0.0) as u64).min(shape[0]));
    let start = range.0.map_or(0, |s| (s.max(0.0) as u64).min(stop));
    let q = queries.data.as_type::<T>();
    let mut source = StoredRows::<I, T> {
        store,
        name: name.to_string(),
        dtype,
        rows: stop,
        dim,
        next: start,
        batch: batch.max(1),
        bytes: Vec::new(),
        values: Vec::new(),
    };
    let rs = match (&filter, queries.rows) {
        (None, 1) => vec![v::top_k_stream(kernels(), m, &q, k, &mut source)?],
        (Some(f), 1) => vec![v::top_k_stream_filtered(
            kernels(),
            m,
            &q,
            k,
            &mut source,
            f,
        )?],
        (f, rows) => {
            let qm = Matrix::new(&q, rows, dim).map_err(vector_error)?;
            match f {
                None => v::multi_query_top_k_stream(kernels(), m, qm, k, &mut source)?,
                Some(f) => {
                    v::multi_query_top_k_stream_filtered(kernels(), m, qm, k, &mut source, f)?
                }
            }
        }
    };
    Ok(rs)
}

/// Top-k of each query row over the stored array `name` (rows × dim), read `batchRows` rows
/// at a time so the array never has to fit in memory: `{ indices, scores, k }` flattened.
/// An optional row filter (logical rows) limits the results to the allowed rows; an optional
/// `rowStart..rowStop` searches only those logical rows (a search thread's share).
#[wasm_bindgen(js_name = topKStored)]
#[allow(clippy::too_many_arguments)] // the search's full description, passed once
pub fn top_k_stored(
    store: &mut WasmStore,
    name: &str,
    queries: &WasmMatrix,
    metric: &str,
    k: u32,
    batch_rows: u32,
    filter_indices: Option<Vec<f64>>,
    filter_mask: Option<Vec<u8>>,
    row_start: Option<f64>,
    row_stop: Option<f64>,
) -> JsResult<JsValue> {
    let m = parse_metric(metric)?;
    let k = k as usize;
    let batch = u64::from(batch_rows);
    let rs = with_store!(&mut store.inner, s => {
        let info = s.info(name).map_err(to_js)?;
        let own = meet::own_element(info.dtype)
            .ok_or_else(|| dtype_error(format!("vector search is not defined for {}", info.dtype.numpy_name())))?;
        with_element!(meet_type(&queries.data, own), T => stream_search::<_, T>(s, name, info.dtype, &info.shape, queries, m, k, batch, (filter_indices, filter_mask), (row_start, row_stop)))
    })?;
    let kk = rs.first().map_or(0, |r| r.indices.len());
    results_to_js(&rs, kk)
}
