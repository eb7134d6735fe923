//! Vector search over a stored array in place: the rows of a [`MappedArray`] (plain or
//! segmented files, dropped rows skipped) visited in logical order, batch by batch, on up to
//! `threads` workers. Runs of live rows in the compute type are searched zero-copy straight
//! from the mapping; short runs (many drops) and other stored dtypes (widened to float64) go
//! through a per-worker staging buffer of at most `batch_rows` rows. Every batch covers
//! consecutive logical rows, so ids are always `RowIds::Offset(first logical row)`.

use numpack_core::DType;
use numpack_core::vector::meet;
use numpack_core::vector::{
    Element, ElementType, Kernels, Matrix, Metric, MultiTopKSearch, RowFilter, RowIds, Search,
    TopKResult, TopKSearch, VectorError, drive_search,
};

use crate::mapped::MappedArray;
use crate::simd::{MIN_ROWS_PER_THREAD, Parallel, ranges, run_parallel, workers};

/// Runs of at least this many live rows are searched in place; shorter ones are staged.
const DIRECT_MIN_ROWS: u64 = 64;
/// A filtered scan reads allowed rows less than this far apart as one range (sparser ones
/// are fetched one by one, so the cost follows the allowed rows).
const FILTER_GAP: u64 = 64;

/// What can go wrong while scanning: the store (a corrupt or vanished file) or the engine.
#[derive(Debug)]
pub enum ScanError {
    /// A store error.
    Store(numpack_core::Error),
    /// A vector-engine error.
    Vector(VectorError),
    /// The stored dtype cannot be searched in the requested compute type.
    Dtype(String),
}

impl From<numpack_core::Error> for ScanError {
    fn from(e: numpack_core::Error) -> Self {
        ScanError::Store(e)
    }
}

impl From<VectorError> for ScanError {
    fn from(e: VectorError) -> Self {
        ScanError::Vector(e)
    }
}

/// How stored elements become compute elements.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Conv {
    /// Stored dtype = compute type: read in place.
    Same,
    /// Widen every stored element to float64 (compute type f64).
    ToF64(DType),
}

/// A stored 2-D array viewed as rows of compute type `T`.
pub struct Rows<'m, T> {
    m: &'m MappedArray,
    dim: usize,
    conv: Conv,
    _t: core::marker::PhantomData<T>,
}

impl<T> Clone for Rows<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Rows<'_, T> {}

impl<'m, T: Element> Rows<'m, T> {
    /// Checks that `m` is 2-D and that its dtype is `T` or widens to `T = f64`.
    pub fn new(m: &'m MappedArray) -> Result<Self, ScanError> {
        let &[_, dim] = m.shape.as_slice() else {
            return Err(ScanError::Dtype(format!(
                "the stored array must be 2-D (rows × dim), its shape is {:?}",
                m.shape
            )));
        };
        let dim =
            usize::try_from(dim).map_err(|_| ScanError::Dtype("row length too large".into()))?;
        let conv = if meet::stored_element(m.dtype) == Some(T::TYPE) {
            Conv::Same
        } else if T::TYPE == ElementType::F64 && meet::own_element(m.dtype).is_some() {
            Conv::ToF64(m.dtype)
        } else {
            return Err(ScanError::Dtype(format!(
                "a stored {} array cannot be searched with a {} query",
                m.dtype.numpy_name(),
                T::TYPE.name()
            )));
        };
        Ok(Rows {
            m,
            dim,
            conv,
            _t: core::marker::PhantomData,
        })
    }

    /// Row length.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Logical rows.
    pub fn len(&self) -> u64 {
        self.m.len()
    }

    /// Calls `f(first logical row, rows)` for logical rows `start..end` in order, in batches of
    /// at most `batch_rows` rows (zero-copy where the mapping holds `T` rows in long runs).
    pub fn scan(
        &self,
        start: u64,
        end: u64,
        batch_rows: usize,
        mut f: impl FnMut(u64, Matrix<'_, T>) -> Result<(), VectorError>,
    ) -> Result<(), ScanError> {
        let batch = batch_rows.max(1);
        if end <= start {
            return Ok(());
        }
        if self.dim == 0 || self.m.row_bytes == 0 {
            // Rows of length 0 have no bytes to read (and maybe no file): empty rows.
            let mut l = start;
            while l < end {
                let n = (end - l).min(batch as u64);
                f(l, Matrix::new(&[], n as usize, 0)?)?;
                l += n;
            }
            return Ok(());
        }
        let mut stage = Stage::<T> {
            values: Vec::new(),
            rows: 0,
            first: start,
        };
        let mut l = start;
        let rb = self.m.row_bytes as usize;
        // The spans of core's read plan: runs of live rows in one file, in logical order.
        self.m
            .layout()
            .plan_range(start, end - start)?
            .for_each_span(|span| {
                let bytes = self.m.span(span)?;
                let rows = bytes.len() / rb;
                if self.conv == Conv::Same && rows as u64 >= DIRECT_MIN_ROWS {
                    stage.flush(self.dim, &mut f)?;
                    // SAFETY: `bytes` holds `rows` whole rows of `row_bytes = dim × size_of::<T>()`
                    // bytes inside a mapping that `self.m` keeps alive; the stored dtype is `T`
                    // (Conv::Same) and the mapping is page-aligned with rows a multiple of the item
                    // size, so the pointer is aligned.
                    let data = unsafe {
                        std::slice::from_raw_parts(bytes.as_ptr().cast::<T>(), rows * self.dim)
                    };
                    let all = Matrix::new(data, rows, self.dim)?;
                    let mut a = 0;
                    while a < rows {
                        let b = (a + batch).min(rows);
                        f(l + a as u64, all.slice(a, b))?;
                        a = b;
                    }
                } else {
                    let mut a = 0;
                    while a < rows {
                        if stage.rows == 0 {
                            stage.first = l + a as u64;
                        }
                        let b = (a + batch - stage.rows).min(rows);
                        self.decode(&bytes[a * rb..b * rb], &mut stage.values)?;
                        stage.rows += b - a;
                        if stage.rows >= batch {
                            stage.flush(self.dim, &mut f)?;
                        }
                        a = b;
                    }
                }
                l += rows as u64;
                Ok::<_, ScanError>(())
            })?;
        stage.flush(self.dim, &mut f)
    }

    /// `scan` restricted to the logical rows `start..end` that `filter` allows (all of them for
    /// `None`): allowed rows closer than `FILTER_GAP` are read as one range, others alone.
    /// Batches may still hold rows the filter rejects; the search's `push_filtered` skips them.
    pub fn scan_allowed(
        &self,
        start: u64,
        end: u64,
        filter: Option<&RowFilter>,
        batch_rows: usize,
        mut f: impl FnMut(u64, Matrix<'_, T>) -> Result<(), VectorError>,
    ) -> Result<(), ScanError> {
        let Some(filter) = filter else {
            return self.scan(start, end, batch_rows, f);
        };
        // Runs of allowed rows less than `FILTER_GAP` apart, read as one range each.
        let mut run: Option<(u64, u64)> = None;
        for r in filter.within(start, end) {
            match run {
                Some((a, b)) if r - (b - 1) <= FILTER_GAP => run = Some((a, r + 1)),
                Some((a, b)) => {
                    self.scan(a, b, batch_rows, &mut f)?;
                    run = Some((r, r + 1));
                }
                None => run = Some((r, r + 1)),
            }
        }
        if let Some((a, b)) = run {
            self.scan(a, b, batch_rows, &mut f)?;
        }
        Ok(())
    }

    /// Appends the elements in `bytes` (stored dtype) to `out` as `T`.
    fn decode(&self, bytes: &[u8], out: &mut Vec<T>) -> Result<(), VectorError> {
        match self.conv {
            Conv::Same => {
                let n = bytes.len() / core::mem::size_of::<T>();
                // SAFETY: the bytes are `n` elements of `T` (the stored dtype), aligned as in `scan`.
                out.extend_from_slice(unsafe {
                    std::slice::from_raw_parts(bytes.as_ptr().cast::<T>(), n)
                });
                Ok(())
            }
            Conv::ToF64(d) => meet::decode(d, bytes, out),
        }
    }
}

/// Rows being collected for one batch (consecutive logical rows from `first`).
struct Stage<T> {
    values: Vec<T>,
    rows: usize,
    first: u64,
}

impl<T: Element> Stage<T> {
    fn flush(
        &mut self,
        dim: usize,
        f: &mut impl FnMut(u64, Matrix<'_, T>) -> Result<(), VectorError>,
    ) -> Result<(), ScanError> {
        if self.rows > 0 {
            f(self.first, Matrix::new(&self.values, self.rows, dim)?)?;
            self.first += self.rows as u64;
            self.values.clear();
            self.rows = 0;
        }
        Ok(())
    }
}

/// Checks the query length and the filter's row count against the stored rows.
fn check_args<T: Element>(
    rows: &Rows<'_, T>,
    dim: usize,
    filter: Option<&RowFilter>,
) -> Result<(), ScanError> {
    if dim != rows.dim() {
        return Err(VectorError::DimensionMismatch {
            expected: rows.dim(),
            found: dim,
        }
        .into());
    }
    if let Some(f) = filter {
        f.check_rows(rows.len())?;
    }
    Ok(())
}

/// Called with the logical rows of each batch once it is searched; an error stops the scan
/// (the binding's progress and Ctrl-C hook).
pub type Tick<'a> = &'a (dyn Fn(u64) -> numpack_core::Result<()> + Sync);

/// [`Rows::scan_allowed`] of `start..end` in pieces of `batch_rows` logical rows, `tick`ed
/// after each.
fn scan_ticked<T: Element>(
    rows: &Rows<'_, T>,
    (start, end): (u64, u64),
    filter: Option<&RowFilter>,
    batch_rows: usize,
    tick: Tick<'_>,
    mut f: impl FnMut(u64, Matrix<'_, T>) -> Result<(), VectorError>,
) -> Result<(), ScanError> {
    let step = batch_rows.max(1) as u64;
    let mut a = start;
    while a < end {
        let b = end.min(a.saturating_add(step));
        rows.scan_allowed(a, b, filter, batch_rows, &mut f)?;
        tick(b - a)?;
        a = b;
    }
    Ok(())
}

/// Runs search `s` over the stored rows (only those `filter` allows, if any) with the
/// parallel driver, each worker scanning its own range of logical rows (`tick`ed per batch).
fn scan_search<T: Element, S: Search<T>>(
    s: S,
    rows: &Rows<'_, T>,
    filter: Option<&RowFilter>,
    batch_rows: usize,
    threads: usize,
    tick: Tick<'_>,
) -> Result<S::Output, ScanError> {
    let n = rows.len() as usize; // the wheel is built for 64-bit targets only
    drive_search(s, n, filter, &Parallel(threads), |part, a, b| {
        scan_ticked(
            rows,
            (a as u64, b as u64),
            filter,
            batch_rows,
            tick,
            |l0, m| part.push_rows(m, RowIds::Offset(l0), filter),
        )
    })
}

/// Single-query top-k over the stored rows (only those `filter` allows, if any).
#[allow(clippy::too_many_arguments)]
pub fn top_k<T: Element>(
    kernels: &Kernels,
    metric: Metric,
    rows: Rows<'_, T>,
    query: &[T],
    k: usize,
    filter: Option<&RowFilter>,
    batch_rows: usize,
    threads: usize,
    tick: Tick<'_>,
) -> Result<TopKResult, ScanError> {
    check_args(&rows, query.len(), filter)?;
    let s = TopKSearch::new(kernels, metric, query, k)?;
    scan_search(s, &rows, filter, batch_rows, threads, tick)
}

/// Multi-query top-k over the stored rows (fused, cache-blocked per batch; only allowed rows).
#[allow(clippy::too_many_arguments)]
pub fn multi_top_k<T: Element>(
    kernels: &Kernels,
    metric: Metric,
    rows: Rows<'_, T>,
    queries: Matrix<'_, T>,
    k: usize,
    filter: Option<&RowFilter>,
    batch_rows: usize,
    threads: usize,
    tick: Tick<'_>,
) -> Result<Vec<TopKResult>, ScanError> {
    check_args(&rows, queries.dim(), filter)?;
    let s = MultiTopKSearch::new(kernels, metric, queries, k)?;
    scan_search(s, &rows, filter, batch_rows, threads, tick)
}

/// A pointer into the score matrix that workers share; each writes only its own columns.
#[derive(Clone, Copy)]
struct OutPtr(*mut f64);
// SAFETY: workers write disjoint column ranges of a buffer that outlives the scoped threads.
unsafe impl Send for OutPtr {}
// SAFETY: as above.
unsafe impl Sync for OutPtr {}

impl OutPtr {
    /// The entry `off` (a method, so closures capture the whole `Send` wrapper).
    ///
    /// # Safety
    /// `off` must be inside the output buffer.
    unsafe fn at(self, off: usize) -> *mut f64 {
        // SAFETY: the caller keeps `off` inside the buffer.
        unsafe { self.0.add(off) }
    }
}

/// `out[i × N + j] = metric(query i, stored row j)` for every query and logical row.
#[allow(clippy::too_many_arguments)]
pub fn scores<T: Element>(
    kernels: &Kernels,
    metric: Metric,
    rows: Rows<'_, T>,
    queries: Matrix<'_, T>,
    out: &mut [f64],
    batch_rows: usize,
    threads: usize,
    tick: Tick<'_>,
) -> Result<(), ScanError> {
    T::TYPE.check(metric)?;
    if queries.dim() != rows.dim() {
        return Err(VectorError::DimensionMismatch {
            expected: rows.dim(),
            found: queries.dim(),
        }
        .into());
    }
    let n = rows.len();
    let nq = queries.rows();
    let total = (n as usize).checked_mul(nq);
    if total != Some(out.len()) {
        return Err(VectorError::BadShape {
            len: out.len(),
            rows: nq,
            dim: n as usize,
        }
        .into());
    }
    if nq == 0 {
        return Ok(());
    }
    let parts: Vec<_> = ranges(
        n as usize,
        workers(threads, n as usize, MIN_ROWS_PER_THREAD),
    )
    .collect();
    let base = OutPtr(out.as_mut_ptr());
    let results = run_parallel(&parts, |_, a, b| {
        let mut tmp: Vec<f64> = Vec::new();
        let span = (a as u64, b as u64);
        scan_ticked(&rows, span, None, batch_rows, tick, |l0, m| {
            let (j0, cb) = (l0 as usize, m.rows());
            if nq == 1 {
                // SAFETY: columns j0..j0+cb of the one output row belong to this worker only
                // (its logical range), and `out` holds n ≥ j0 + cb entries.
                let dst = unsafe { std::slice::from_raw_parts_mut(base.at(j0), cb) };
                return numpack_core::vector::batch_compute(
                    kernels,
                    metric,
                    queries.row(0),
                    m,
                    dst,
                );
            }
            tmp.resize(nq * cb, 0.0);
            numpack_core::vector::cdist(kernels, metric, queries, m, &mut tmp)?;
            for i in 0..nq {
                // SAFETY: row i, columns j0..j0+cb: inside `out` (nq × n) and written by this
                // worker only.
                let dst =
                    unsafe { std::slice::from_raw_parts_mut(base.at(i * n as usize + j0), cb) };
                dst.copy_from_slice(&tmp[i * cb..(i + 1) * cb]);
            }
            Ok(())
        })
    });
    results.into_iter().collect()
}
