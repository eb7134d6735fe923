//! Vector search over the core engine: vectors uploaded once into wasm memory ([`WasmMatrix`]),
//! pair / batch / top-k / multi-query calls, and top-k streamed over an array of a store.
//! The dtype rules follow the Python binding: float32, float64, float16, int8 and uint8 are
//! computed natively; other integer dtypes are widened to float64; mixed dtypes meet in float64.

use std::cell::OnceCell;

use half::f16;
use numpack_core::vector::{self as v, formulas, DTypeKernels, Element, TopK, Matrix, Metric, RowBatch, RowIds, RowSource, RowsFn, TopKResult, VectorError};
use numpack_core::{DType, Io, Store};
use wasm_bindgen::prelude::*;

use crate::error::{dtype_error, to_js, value_error, JsResult};
use crate::simd128::kernels;
use crate::store::{with_store, Inner, WasmStore};

/// Owned vectors of one element type the engine computes on.
#[derive(Clone)]
pub enum Vectors {
    /// float32.
    F32(Vec<f32>),
    /// float64 (also every widened integer dtype).
    F64(Vec<f64>),
    /// float16.
    F16(Vec<f16>),
    /// int8.
    I8(Vec<i8>),
    /// uint8 (bit metrics).
    U8(Vec<u8>),
}

impl Vectors {
    fn dtype(&self) -> &'static str {
        match self {
            Vectors::F32(_) => "float32",
            Vectors::F64(_) => "float64",
            Vectors::F16(_) => "float16",
            Vectors::I8(_) => "int8",
            Vectors::U8(_) => "uint8",
        }
    }

    fn to_f64(&self) -> Vec<f64> {
        match self {
            Vectors::F32(x) => x.iter().map(|&e| e as f64).collect(),
            Vectors::F64(x) => x.clone(),
            Vectors::F16(x) => x.iter().map(|e| e.to_f64()).collect(),
            Vectors::I8(x) => x.iter().map(|&e| e as f64).collect(),
            Vectors::U8(x) => x.iter().map(|&e| e as f64).collect(),
        }
    }
}

/// Decodes stored little-endian element bytes into `T`.
trait Decode: Element {
    /// Appends the elements of `bytes` (of stored dtype `dtype`) to `out`.
    fn decode(dtype: DType, bytes: &[u8], out: &mut Vec<Self>);
    /// The query converted to `Self`.
    fn from_vectors(q: &Vectors) -> Vec<Self>;
}

macro_rules! decode_same {
    ($t:ty, $variant:ident, $size:expr, $conv:expr) => {
        impl Decode for $t {
            fn decode(_dtype: DType, bytes: &[u8], out: &mut Vec<Self>) {
                let conv: fn([u8; $size]) -> $t = $conv;
                out.extend(bytes.chunks_exact($size).map(|c| {
                    let mut raw = [0u8; $size];
                    raw.copy_from_slice(c);
                    conv(raw)
                }));
            }
            fn from_vectors(q: &Vectors) -> Vec<Self> {
                match q {
                    Vectors::$variant(x) => x.clone(),
                    other => other.to_f64().into_iter().map(<$t as Element>::from_f64).collect(),
                }
            }
        }
    };
}
decode_same!(f32, F32, 4, f32::from_le_bytes);
decode_same!(f16, F16, 2, f16::from_le_bytes);
decode_same!(i8, I8, 1, i8::from_le_bytes);
decode_same!(u8, U8, 1, u8::from_le_bytes);

impl Decode for f64 {
    fn decode(dtype: DType, bytes: &[u8], out: &mut Vec<Self>) {
        fn each<const N: usize>(bytes: &[u8], out: &mut Vec<f64>, f: fn([u8; N]) -> f64) {
            out.extend(bytes.chunks_exact(N).map(|c| {
                let mut raw = [0u8; N];
                raw.copy_from_slice(c);
                f(raw)
            }));
        }
        match dtype {
            DType::Int16 => each::<2>(bytes, out, |r| i16::from_le_bytes(r) as f64),
            DType::Int32 => each::<4>(bytes, out, |r| i32::from_le_bytes(r) as f64),
            DType::Int64 => each::<8>(bytes, out, |r| i64::from_le_bytes(r) as f64),
            DType::Uint16 => each::<2>(bytes, out, |r| u16::from_le_bytes(r) as f64),
            DType::Uint32 => each::<4>(bytes, out, |r| u32::from_le_bytes(r) as f64),
            DType::Uint64 => each::<8>(bytes, out, |r| u64::from_le_bytes(r) as f64),
            _ => each::<8>(bytes, out, f64::from_le_bytes),
        }
    }
    fn from_vectors(q: &Vectors) -> Vec<Self> {
        q.to_f64()
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

impl WasmMatrix {
    fn new(data: Vectors, rows: usize, dim: usize) -> WasmMatrix {
        WasmMatrix { data, rows, dim, norms: OnceCell::new() }
    }
}

fn check_shape(len: usize, rows: u32, dim: u32) -> JsResult<(usize, usize)> {
    let (rows, dim) = (rows as usize, dim as usize);
    match rows.checked_mul(dim) {
        Some(n) if n == len => Ok((rows, dim)),
        _ => Err(value_error(format!("{len} elements are not {rows} rows of {dim}"))),
    }
}

#[wasm_bindgen]
impl WasmMatrix {
    /// float32 rows.
    #[wasm_bindgen(js_name = fromF32)]
    pub fn from_f32(data: Vec<f32>, rows: u32, dim: u32) -> JsResult<WasmMatrix> {
        let (rows, dim) = check_shape(data.len(), rows, dim)?;
        Ok(WasmMatrix::new(Vectors::F32(data), rows, dim))
    }
    /// float64 rows (also every integer dtype the JS layer widened).
    #[wasm_bindgen(js_name = fromF64)]
    pub fn from_f64(data: Vec<f64>, rows: u32, dim: u32) -> JsResult<WasmMatrix> {
        let (rows, dim) = check_shape(data.len(), rows, dim)?;
        Ok(WasmMatrix::new(Vectors::F64(data), rows, dim))
    }
    /// float16 rows given as their bit patterns.
    #[wasm_bindgen(js_name = fromF16Bits)]
    pub fn from_f16_bits(data: Vec<u16>, rows: u32, dim: u32) -> JsResult<WasmMatrix> {
        let (rows, dim) = check_shape(data.len(), rows, dim)?;
        Ok(WasmMatrix::new(Vectors::F16(data.into_iter().map(f16::from_bits).collect()), rows, dim))
    }
    /// int8 rows.
    #[wasm_bindgen(js_name = fromI8)]
    pub fn from_i8(data: Vec<i8>, rows: u32, dim: u32) -> JsResult<WasmMatrix> {
        let (rows, dim) = check_shape(data.len(), rows, dim)?;
        Ok(WasmMatrix::new(Vectors::I8(data), rows, dim))
    }
    /// uint8 rows (bit vectors for hamming / jaccard).
    #[wasm_bindgen(js_name = fromU8)]
    pub fn from_u8(data: Vec<u8>, rows: u32, dim: u32) -> JsResult<WasmMatrix> {
        let (rows, dim) = check_shape(data.len(), rows, dim)?;
        Ok(WasmMatrix::new(Vectors::U8(data), rows, dim))
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
        self.data.dtype().to_string()
    }
}

fn parse_metric(name: &str) -> JsResult<Metric> {
    Metric::parse(name).map_err(vector_error)
}

/// A vector-engine error as a JS error (`DTypeError` for unsupported dtypes, else `ValueError`).
pub fn vector_error(err: VectorError) -> JsValue {
    match err {
        VectorError::UnsupportedDtype { .. } => dtype_error(err.to_string()),
        other => value_error(other.to_string()),
    }
}

/// Runs `$body` with `$a`, `$b` bound to same-typed slices of two `Vectors` (mixed → f64).
macro_rules! pair_dispatch {
    ($x:expr, $y:expr, |$a:ident, $b:ident| $body:expr) => {{
        match ($x, $y) {
            (Vectors::F32($a), Vectors::F32($b)) => $body,
            (Vectors::F64($a), Vectors::F64($b)) => $body,
            (Vectors::F16($a), Vectors::F16($b)) => $body,
            (Vectors::I8($a), Vectors::I8($b)) => $body,
            (Vectors::U8($a), Vectors::U8($b)) => $body,
            (x, y) => {
                let ($a, $b) = (&x.to_f64(), &y.to_f64());
                $body
            }
        }
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
    let _ = js_sys::Reflect::set(&o, &"indices".into(), &js_sys::Uint32Array::from(&idx[..]).into());
    let _ = js_sys::Reflect::set(&o, &"scores".into(), &js_sys::Float64Array::from(&scores[..]).into());
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
        let norms = cands.norms.get_or_init(|| data.chunks_exact(dim).map(norm).collect());
        Some(CachedCosine { dot_rows, query, qq: norm(query), data, dim, norms })
    }

    /// `out[i]` = cosine of the query and row `start + i`.
    fn score(&self, start: usize, out: &mut [f64]) {
        let end = start + out.len();
        (self.dot_rows)(self.query, &self.data[start * self.dim..end * self.dim], self.dim, out);
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

/// Runs `$body` with `$q`, `$c` bound to the slices of a query and a candidate matrix of the same
/// float / int8 type (the types cosine is defined on); `$other` for any other pair.
macro_rules! same_type_dispatch {
    ($x:expr, $y:expr, |$q:ident, $c:ident| $body:expr, else $other:expr) => {{
        match ($x, $y) {
            (Vectors::F32($q), Vectors::F32($c)) => $body,
            (Vectors::F64($q), Vectors::F64($c)) => $body,
            (Vectors::F16($q), Vectors::F16($c)) => $body,
            (Vectors::I8($q), Vectors::I8($c)) => $body,
            _ => $other,
        }
    }};
}

/// The metric between two vectors (`a` and `b` are one row each).
#[wasm_bindgen(js_name = computeMetric)]
pub fn compute_metric(a: &WasmMatrix, b: &WasmMatrix, metric: &str) -> JsResult<f64> {
    let m = parse_metric(metric)?;
    pair_dispatch!(&a.data, &b.data, |x, y| v::compute(kernels(), m, x, y)).map_err(vector_error)
}

/// Scores of every query row against every candidate row, `queries.rows × candidates.rows`.
#[wasm_bindgen(js_name = batchCompute)]
pub fn batch_compute(queries: &WasmMatrix, candidates: &WasmMatrix, metric: &str) -> JsResult<Vec<f64>> {
    let m = parse_metric(metric)?;
    let mut out = vec![0f64; queries.rows * candidates.rows];
    let (qr, cr, cd, qd) = (queries.rows, candidates.rows, candidates.dim, queries.dim);
    if m == Metric::Cosine && qr == 1 {
        let done = same_type_dispatch!(&queries.data, &candidates.data, |q, c| {
            CachedCosine::new(q, candidates, c).map(|s| s.score(0, &mut out)).is_some()
        }, else false);
        if done {
            return Ok(out);
        }
    }
    pair_dispatch!(&queries.data, &candidates.data, |q, c| {
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
pub fn top_k(query: &WasmMatrix, candidates: &WasmMatrix, metric: &str, k: u32) -> JsResult<JsValue> {
    let m = parse_metric(metric)?;
    if m == Metric::Cosine && k > 0 {
        let cached = same_type_dispatch!(&query.data, &candidates.data, |q, c| {
            CachedCosine::new(q, candidates, c).map(|s| s.top_k(k as usize))
        }, else None);
        if let Some(r) = cached {
            let kk = r.indices.len();
            return results_to_js(&[r], kk);
        }
    }
    let (cr, cd) = (candidates.rows, candidates.dim);
    let r = pair_dispatch!(&query.data, &candidates.data, |q, c| {
        let cm = Matrix::new(c, cr, cd).map_err(vector_error)?;
        v::top_k(kernels(), m, q, cm, k as usize)
    })
    .map_err(vector_error)?;
    let kk = r.indices.len();
    results_to_js(&[r], kk)
}

/// The `k` best candidates for each query row, flattened `queries.rows × k'` (k' = min(k, N)).
#[wasm_bindgen(js_name = multiQueryTopK)]
pub fn multi_query_top_k(queries: &WasmMatrix, candidates: &WasmMatrix, metric: &str, k: u32) -> JsResult<JsValue> {
    let m = parse_metric(metric)?;
    let (qr, qd, cr, cd) = (queries.rows, queries.dim, candidates.rows, candidates.dim);
    let rs = pair_dispatch!(&queries.data, &candidates.data, |q, c| {
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
struct StoredRows<'s, I: Io, T: Decode> {
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

impl<I: Io, T: Decode> RowSource<T> for StoredRows<'_, I, T> {
    type Error = StreamError;
    fn next_batch(&mut self) -> Result<Option<RowBatch<'_, T>>, StreamError> {
        if self.next >= self.rows {
            return Ok(None);
        }
        let n = self.batch.min(self.rows - self.next);
        let row_bytes = self.dim as u64 * self.dtype.itemsize();
        self.bytes.resize((n * row_bytes) as usize, 0);
        self.store.read_range(&self.name, self.next, n, &mut self.bytes).map_err(StreamError::Store)?;
        self.values.clear();
        T::decode(self.dtype, &self.bytes, &mut self.values);
        let start = self.next;
        self.next += n;
        let rows = Matrix::new(&self.values, n as usize, self.dim)?;
        Ok(Some(RowBatch { rows, ids: RowIds::Offset(start) }))
    }
}

/// The element type a stored dtype is searched in.
fn stored_type(dtype: DType) -> JsResult<&'static str> {
    Ok(match dtype {
        DType::Float32 => "f32",
        DType::Float16 => "f16",
        DType::Int8 => "i8",
        DType::Uint8 => "u8",
        DType::Float64 | DType::Int16 | DType::Int32 | DType::Int64 | DType::Uint16 | DType::Uint32 | DType::Uint64 => "f64",
        other => return Err(dtype_error(format!("vector search is not defined for {}", other.numpy_name()))),
    })
}

/// Top-k of `queries` over the stored 2-D array `name`, read `batch` rows at a time.
#[allow(clippy::too_many_arguments)] // the search's full description, passed once
fn stream_search<I: Io, T: Decode>(store: &mut Store<I>, name: &str, dtype: DType, shape: &[u64], queries: &WasmMatrix, m: Metric, k: usize, batch: u64) -> JsResult<Vec<TopKResult>> {
    if shape.len() != 2 {
        return Err(value_error(format!("array {name:?} must be 2-D (rows × dim) to be searched, it is {}-D", shape.len())));
    }
    let dim = usize::try_from(shape[1]).map_err(|_| value_error("dimension too large"))?;
    if queries.dim != dim {
        return Err(vector_error(VectorError::DimensionMismatch { expected: dim, found: queries.dim }));
    }
    let batch = batch.max(1);
    let q: Vec<T> = T::from_vectors(&queries.data);
    let mut source = StoredRows::<I, T> { store, name: name.to_string(), dtype, rows: shape[0], dim, next: 0, batch, bytes: Vec::new(), values: Vec::new() };
    let qm = Matrix::new(&q, queries.rows, dim).map_err(vector_error)?;
    let rs = if queries.rows == 1 {
        vec![v::top_k_stream(kernels(), m, &q, k, &mut source)?]
    } else {
        v::multi_query_top_k_stream(kernels(), m, qm, k, &mut source)?
    };
    Ok(rs)
}

/// Top-k of each query row over the stored array `name` (rows × dim), read `batchRows` rows
/// at a time so the array never has to fit in memory: `{ indices, scores, k }` flattened.
#[wasm_bindgen(js_name = topKStored)]
pub fn top_k_stored(store: &mut WasmStore, name: &str, queries: &WasmMatrix, metric: &str, k: u32, batch_rows: u32) -> JsResult<JsValue> {
    let m = parse_metric(metric)?;
    let k = k as usize;
    let batch = u64::from(batch_rows);
    let rs = with_store!(&mut store.inner, s => {
        let info = s.info(name).map_err(to_js)?;
        match stored_type(info.dtype)? {
            "f32" => stream_search::<_, f32>(s, name, info.dtype, &info.shape, queries, m, k, batch),
            "f16" => stream_search::<_, f16>(s, name, info.dtype, &info.shape, queries, m, k, batch),
            "i8" => stream_search::<_, i8>(s, name, info.dtype, &info.shape, queries, m, k, batch),
            "u8" => stream_search::<_, u8>(s, name, info.dtype, &info.shape, queries, m, k, batch),
            _ => stream_search::<_, f64>(s, name, info.dtype, &info.shape, queries, m, k, batch),
        }
    })?;
    let kk = rs.first().map_or(0, |r| r.indices.len());
    results_to_js(&rs, kk)
}


