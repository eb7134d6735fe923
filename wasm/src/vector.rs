//! Vector search over the core engine: vectors uploaded once into wasm memory ([`WasmMatrix`]),
//! pair / batch / top-k / multi-query calls, and top-k streamed over an array of a store.
//! Every dtype rule is the core's (`numpack_core::vector::meet`): the element type a dtype is
//! computed in, where a query and candidates of different types meet, the widening to f64.

use std::borrow::Cow;
use std::cell::OnceCell;

use half::{bf16, f16};
use numpack_core::vector::meet::{self, compute_type};
use numpack_core::vector::{
    self as v, DTypeKernels, Element, ElementType, Matrix, Metric, RowBatch, RowIds, RowSource,
    RowsFn, TopK, TopKResult, VectorError, formulas,
};
use numpack_core::{DType, Io, Store, with_element};
use wasm_bindgen::prelude::*;

use crate::error::{JsResult, dtype_error, to_js, value_error};
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
    /// Σ bᵢ² of every row (the tier's `norm_sq` kernel, f64), computed on the first cosine
    /// search against this matrix and reused afterwards (the rows never change).
    norms: OnceCell<Vec<f64>>,
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

/// Rows scored per chunk by the cached-norm cosine search (a stack buffer, as in the core).
const COSINE_CHUNK: usize = 256;

/// Cosine of one query against an uploaded matrix from the tier's dot-rows kernel and the
/// matrix's cached row norms: each score is `formulas::cosine(q·b, ‖q‖², ‖b‖²)`, the f64 final
/// step every cosine kernel ends with (0.0 for a zero vector, clamped to [−1, 1]). The row's
/// dot and norm² accumulations are the cosine kernel's own (same lanes, same order), so the
/// scores equal the pair / rows cosine kernels bit for bit, at the cost of a dot search.
struct CachedCosine<'a, T: Element> {
    dot_rows: RowsFn<T>,
    query: &'a [T],
    qq: f64,
    data: &'a [T],
    dim: usize,
    norms: &'a [f64],
}

impl<'a, T: Element> CachedCosine<'a, T> {
    /// `None` where the core path must run instead (it reports the errors and edge cases:
    /// a wrong query length, no rows, zero-length rows, a tier without the kernels).
    fn new(query: &'a [T], cands: &'a WasmMatrix, data: &'a [T]) -> Option<Self> {
        let dim = cands.dim;
        if dim == 0 || cands.rows == 0 || query.len() != dim || data.len() != cands.rows * dim {
            return None;
        }
        T::TYPE.check(Metric::Cosine).ok()?;
        let dk: &DTypeKernels<T> = kernels().get::<T>();
        let dot_rows = dk.rows[Metric::Dot.index()]?;
        let norm = dk.norm_sq?;
        let norms = cands
            .norms
            .get_or_init(|| data.chunks_exact(dim).map(norm).collect());
        Some(CachedCosine {
            dot_rows,
            query,
            qq: norm(query),
            data,
            dim,
            norms,
        })
    }

    /// `out[i]` = cosine of the query and row `start + i`.
    fn score(&self, start: usize, out: &mut [f64]) {
        let end = start + out.len();
        (self.dot_rows)(
            self.query,
            &self.data[start * self.dim..end * self.dim],
            self.dim,
            out,
        );
        for (o, &bb) in out.iter_mut().zip(&self.norms[start..end]) {
            *o = formulas::cosine(*o, self.qq, bb);
        }
    }

    /// The `k` best rows (k ≥ 1, clipped to the number of rows), best first.
    fn top_k(&self, k: usize) -> TopKResult {
        let n = self.norms.len();
        let mut topk = TopK::new(k, true);
        let mut buf = [0f64; COSINE_CHUNK];
        let mut start = 0;
        while start < n {
            let end = (start + COSINE_CHUNK).min(n);
            let out = &mut buf[..end - start];
            self.score(start, out);
            topk.push_scores(out, start as u64);
            start = end;
        }
        topk.into_sorted()
    }
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
    meet_dispatch!(queries, candidates, |q, c, same| {
        let cached = if m == Metric::Cosine && qr == 1 && same {
            CachedCosine::new(q, candidates, c)
        } else {
            None
        };
        if let Some(s) = cached {
            s.score(0, &mut out);
            return Ok(out);
        }
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

/// The `k` best candidates for one query: `{ indices: Uint32Array, scores: Float64Array, k }`.
#[wasm_bindgen(js_name = topK)]
pub fn top_k(
    query: &WasmMatrix,
    candidates: &WasmMatrix,
    metric: &str,
    k: u32,
) -> JsResult<JsValue> {
    let m = parse_metric(metric)?;
    let (cr, cd) = (candidates.rows, candidates.dim);
    let r = meet_dispatch!(query, candidates, |q, c, same| {
        let cached = if m == Metric::Cosine && k > 0 && same {
            CachedCosine::new(q, candidates, c)
        } else {
            None
        };
        match cached {
            Some(s) => Ok(s.top_k(k as usize)),
            None => v::top_k(
                kernels(),
                m,
                q,
                Matrix::new(c, cr, cd).map_err(vector_error)?,
                k as usize,
            ),
        }
    })
    .map_err(vector_error)?;
    let kk = r.indices.len();
    results_to_js(&[r], kk)
}

/// The `k` best candidates for each query row, flattened `queries.rows × k'` (k' = min(k, N)).
#[wasm_bindgen(js_name = multiQueryTopK)]
pub fn multi_query_top_k(
    queries: &WasmMatrix,
    candidates: &WasmMatrix,
    metric: &str,
    k: u32,
) -> JsResult<JsValue> {
    let m = parse_metric(metric)?;
    let (qr, qd, cr, cd) = (queries.rows, queries.dim, candidates.rows, candidates.dim);
    let rs = meet_dispatch!(queries, candidates, |q, c, _same| {
        let qm = Matrix::new(q, qr, qd).map_err(vector_error)?;
        let cm = Matrix::new(c, cr, cd).map_err(vector_error)?;
        v::multi_query_top_k(kernels(), m, qm, cm, k as usize)
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
    let q = queries.data.as_type::<T>();
    let mut source = StoredRows::<I, T> {
        store,
        name: name.to_string(),
        dtype,
        rows: shape[0],
        dim,
        next: 0,
        batch: batch.max(1),
        bytes: Vec::new(),
        values: Vec::new(),
    };
    let rs = if queries.rows == 1 {
        vec![v::top_k_stream(kernels(), m, &q, k, &mut source)?]
    } else {
        let qm = Matrix::new(&q, queries.rows, dim).map_err(vector_error)?;
        v::multi_query_top_k_stream(kernels(), m, qm, k, &mut source)?
    };
    Ok(rs)
}

/// Top-k of each query row over the stored array `name` (rows × dim), read `batchRows` rows
/// at a time so the array never has to fit in memory: `{ indices, scores, k }` flattened.
#[wasm_bindgen(js_name = topKStored)]
pub fn top_k_stored(
    store: &mut WasmStore,
    name: &str,
    queries: &WasmMatrix,
    metric: &str,
    k: u32,
    batch_rows: u32,
) -> JsResult<JsValue> {
    let m = parse_metric(metric)?;
    let k = k as usize;
    let batch = u64::from(batch_rows);
    let rs = with_store!(&mut store.inner, s => {
        let info = s.info(name).map_err(to_js)?;
        let own = meet::own_element(info.dtype)
            .ok_or_else(|| dtype_error(format!("vector search is not defined for {}", info.dtype.numpy_name())))?;
        with_element!(meet_type(&queries.data, own), T => stream_search::<_, T>(s, name, info.dtype, &info.shape, queries, m, k, batch))
    })?;
    let kk = rs.first().map_or(0, |r| r.indices.len());
    results_to_js(&rs, kk)
}
