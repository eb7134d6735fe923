//! The one parallel driver: rows split into contiguous ranges, one piece per range run on the
//! persistent worker pool (`pool`), each piece pushed into a fork of the caller's search, the
//! forks merged back (the merge order cannot change the result: the ranking is a total order
//! on (score, index)). Every multi-threaded path — in-memory search, scores and cdist, and
//! the scan of a stored array — goes through `fork_push_merge` or `run_parallel`.
//! `threads = 0` means `default_threads()`.

use std::sync::Mutex;

use numpack_core::vector::{
    Element, Kernels, Matrix, Metric, MultiTopKSearch, NormCache, RowFilter, RowIds, TopKResult,
    TopKSearch, VectorError,
};

use super::pool;

/// Fewer rows than this per worker is not worth a thread (single-query and scores).
pub(crate) const MIN_ROWS_PER_THREAD: usize = 4096;
/// The same for multi-query search (much more work per row).
pub(crate) const MIN_ROWS_PER_THREAD_MULTI: usize = 256;

/// The default worker count: `std::thread::available_parallelism()` (1 if unknown).
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// How many workers to use for `rows` rows (at least 1).
pub(crate) fn workers(threads: usize, rows: usize, min_rows: usize) -> usize {
    let t = if threads == 0 {
        default_threads()
    } else {
        threads
    };
    t.min(rows.div_ceil(min_rows.max(1))).max(1)
}

/// Row ranges splitting `n` rows into `w` nearly equal parts.
pub(crate) fn ranges(n: usize, w: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..w).map(move |i| (n * i / w, n * (i + 1) / w))
}

/// Runs `work(part, start, end)` for every range on the worker pool (inline when there is
/// only one) and returns the results in range order; a worker's panic resumes on the caller.
pub(crate) fn run_parallel<R: Send>(
    parts: &[(usize, usize)],
    work: impl Fn(usize, usize, usize) -> R + Sync,
) -> Vec<R> {
    if let [(a, b)] = parts {
        return vec![work(0, *a, *b)];
    }
    let slots: Vec<Mutex<Option<R>>> = parts.iter().map(|_| Mutex::new(None)).collect();
    pool::run(parts.len(), parts.len(), &|i| {
        let (a, b) = parts[i];
        let r = work(i, a, b);
        *slots[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
    });
    slots
        .into_iter()
        .map(|s| {
            s.into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .expect("every piece ran")
        })
        .collect()
}

/// A search that can be split over workers: an empty fork per range, merged back after.
pub trait Split: Sized + Send + Sync {
    /// An empty search with the same parameters.
    fn fork(&self) -> Self;
    /// Merges a fork's results into this search.
    fn merge(&mut self, other: &Self);
}

impl<T: Element> Split for TopKSearch<'_, T> {
    fn fork(&self) -> Self {
        TopKSearch::fork(self)
    }
    fn merge(&mut self, other: &Self) {
        TopKSearch::merge(self, other)
    }
}

impl<T: Element> Split for MultiTopKSearch<'_, T> {
    fn fork(&self) -> Self {
        MultiTopKSearch::fork(self)
    }
    fn merge(&mut self, other: &Self) {
        MultiTopKSearch::merge(self, other)
    }
}

/// Fork, push, merge: rows `0..n` split over up to `threads` workers (at least `min_rows`
/// each); `push(part, start, end)` feeds one range into a fork of `s`; the forks are merged
/// into `s`. One range pushes straight into `s` on the caller.
pub fn fork_push_merge<S: Split, E: Send>(
    s: &mut S,
    n: usize,
    threads: usize,
    min_rows: usize,
    push: impl Fn(&mut S, usize, usize) -> Result<(), E> + Sync,
) -> Result<(), E> {
    let parts: Vec<_> = ranges(n, workers(threads, n, min_rows)).collect();
    if parts.len() == 1 {
        return push(s, 0, n);
    }
    let proto: &S = s;
    let results = run_parallel(&parts, |_, a, b| {
        let mut part = proto.fork();
        push(&mut part, a, b).map(|_| part)
    });
    for part in results {
        s.merge(&part?);
    }
    Ok(())
}

/// Pushes a batch into a single-query search (only the rows `filter` allows, if any),
/// scoring the rows on up to `threads` workers.
pub fn push_parallel<T: Element>(
    s: &mut TopKSearch<'_, T>,
    rows: Matrix<'_, T>,
    ids: RowIds<'_>,
    filter: Option<&RowFilter>,
    threads: usize,
) -> Result<(), VectorError> {
    ids.check(rows.rows())?;
    let n = rows.rows();
    let min = match filter {
        // Work scales with the allowed rows: few of them are not worth a thread.
        Some(f) if f.len() < MIN_ROWS_PER_THREAD => n.max(1),
        _ => MIN_ROWS_PER_THREAD,
    };
    fork_push_merge(s, n, threads, min, |part, a, b| match filter {
        Some(f) => part.push_filtered(rows.slice(a, b), ids.skip(a), f),
        None => part.push(rows.slice(a, b), ids.skip(a)),
    })
}

/// Pushes a batch into a multi-query search (only allowed rows, if filtered), splitting the
/// rows over up to `threads` workers.
pub fn push_multi_parallel<T: Element>(
    s: &mut MultiTopKSearch<'_, T>,
    rows: Matrix<'_, T>,
    ids: RowIds<'_>,
    filter: Option<&RowFilter>,
    threads: usize,
) -> Result<(), VectorError> {
    ids.check(rows.rows())?;
    let n = rows.rows();
    fork_push_merge(
        s,
        n,
        threads,
        MIN_ROWS_PER_THREAD_MULTI,
        |part, a, b| match filter {
            Some(f) => part.push_filtered(rows.slice(a, b), ids.skip(a), f),
            None => part.push(rows.slice(a, b), ids.skip(a)),
        },
    )
}

/// Single-query top-k on up to `threads` workers (0 = all cores); same result as one thread.
pub fn top_k<T: Element>(
    kernels: &Kernels,
    metric: Metric,
    query: &[T],
    candidates: Matrix<'_, T>,
    k: usize,
    threads: usize,
) -> Result<TopKResult, VectorError> {
    top_k_filtered(kernels, metric, query, candidates, k, None, threads)
}

/// `top_k` over the rows `filter` allows (all rows for `None`; an empty filter gives empty
/// results; a filter built for another row count is an error).
pub fn top_k_filtered<T: Element>(
    kernels: &Kernels,
    metric: Metric,
    query: &[T],
    candidates: Matrix<'_, T>,
    k: usize,
    filter: Option<&RowFilter>,
    threads: usize,
) -> Result<TopKResult, VectorError> {
    if let Some(f) = filter {
        f.check_rows(candidates.rows() as u64)?;
    }
    let mut s = TopKSearch::new(kernels, metric, query, k)?;
    if filter.is_some() {
        s.mark_filtered();
    }
    push_parallel(&mut s, candidates, RowIds::Offset(0), filter, threads)?;
    s.finish()
}

/// `top_k` with the candidates' norm cache (`NormCache`, built for exactly these candidates):
/// cosine, l2 and l2sq then score rows with the dot kernel; the results are `top_k`'s.
pub fn top_k_with_norms<T: Element>(
    kernels: &Kernels,
    metric: Metric,
    query: &[T],
    candidates: Matrix<'_, T>,
    k: usize,
    cache: &NormCache,
    threads: usize,
) -> Result<TopKResult, VectorError> {
    cache.check(candidates)?;
    let mut s = TopKSearch::new(kernels, metric, query, k)?;
    let n = candidates.rows();
    fork_push_merge(&mut s, n, threads, MIN_ROWS_PER_THREAD, |part, a, b| {
        part.push_with_norms(
            candidates.slice(a, b),
            RowIds::Offset(a as u64),
            cache.range(a, b),
        )
    })?;
    s.finish()
}

/// The norm cache of `candidates`, rows split over up to `threads` workers.
pub fn norm_cache<T: Element>(
    kernels: &Kernels,
    candidates: Matrix<'_, T>,
    threads: usize,
) -> Result<NormCache, VectorError> {
    let n = candidates.rows();
    let parts: Vec<_> = ranges(n, workers(threads, n, MIN_ROWS_PER_THREAD)).collect();
    let pieces = run_parallel(&parts, |_, a, b| {
        NormCache::new(kernels, candidates.slice(a, b))
    });
    let mut norm_sq = Vec::with_capacity(n);
    for p in pieces {
        norm_sq.extend_from_slice(p?.norm_sq());
    }
    Ok(NormCache::from_norm_sq(T::TYPE, candidates.dim(), norm_sq))
}

/// Fused multi-query top-k on up to `threads` workers (0 = all cores).
pub fn multi_query_top_k<T: Element>(
    kernels: &Kernels,
    metric: Metric,
    queries: Matrix<'_, T>,
    candidates: Matrix<'_, T>,
    k: usize,
    threads: usize,
) -> Result<Vec<TopKResult>, VectorError> {
    multi_query_top_k_filtered(kernels, metric, queries, candidates, k, None, threads)
}

/// `multi_query_top_k` over the rows `filter` allows (see `top_k_filtered`).
pub fn multi_query_top_k_filtered<T: Element>(
    kernels: &Kernels,
    metric: Metric,
    queries: Matrix<'_, T>,
    candidates: Matrix<'_, T>,
    k: usize,
    filter: Option<&RowFilter>,
    threads: usize,
) -> Result<Vec<TopKResult>, VectorError> {
    if let Some(f) = filter {
        f.check_rows(candidates.rows() as u64)?;
    }
    let mut s = MultiTopKSearch::new(kernels, metric, queries, k)?;
    if filter.is_some() {
        s.mark_filtered();
    }
    push_multi_parallel(&mut s, candidates, RowIds::Offset(0), filter, threads)?;
    s.finish()
}

/// Splits `out` into one slice per range (`per_row` outputs per row), each behind a lock so a
/// worker can take its own.
fn split_out<'o>(
    mut out: &'o mut [f64],
    parts: &[(usize, usize)],
    per_row: usize,
) -> Vec<Mutex<&'o mut [f64]>> {
    let mut v = Vec::with_capacity(parts.len());
    for &(a, b) in parts {
        let (mine, rest) = out.split_at_mut((b - a) * per_row);
        out = rest;
        v.push(Mutex::new(mine));
    }
    v
}

/// `out[i] = metric(query, row i)` on up to `threads` workers.
pub fn batch_compute<T: Element>(
    kernels: &Kernels,
    metric: Metric,
    query: &[T],
    candidates: Matrix<'_, T>,
    out: &mut [f64],
    threads: usize,
) -> Result<(), VectorError> {
    let n = candidates.rows();
    if out.len() != n {
        return Err(VectorError::DimensionMismatch {
            expected: n,
            found: out.len(),
        });
    }
    let parts: Vec<_> = ranges(n, workers(threads, n, MIN_ROWS_PER_THREAD)).collect();
    let outs = split_out(out, &parts, 1);
    run_parallel(&parts, |i, a, b| {
        let mut o = outs[i].lock().unwrap_or_else(|e| e.into_inner());
        numpack_core::vector::batch_compute(kernels, metric, query, candidates.slice(a, b), &mut o)
    })
    .into_iter()
    .collect()
}

/// All pairwise scores `out[i * b.rows() + j]`, rows of `a` split over up to `threads` workers.
pub fn cdist<T: Element>(
    kernels: &Kernels,
    metric: Metric,
    a: Matrix<'_, T>,
    b: Matrix<'_, T>,
    out: &mut [f64],
    threads: usize,
) -> Result<(), VectorError> {
    let nb = b.rows();
    let total = a.rows().checked_mul(nb).ok_or(VectorError::BadShape {
        len: out.len(),
        rows: a.rows(),
        dim: nb,
    })?;
    if out.len() != total {
        return Err(VectorError::DimensionMismatch {
            expected: total,
            found: out.len(),
        });
    }
    let min = MIN_ROWS_PER_THREAD.div_ceil(nb.max(1)).max(4);
    let parts: Vec<_> = ranges(a.rows(), workers(threads, a.rows(), min)).collect();
    let outs = split_out(out, &parts, nb);
    run_parallel(&parts, |i, x, y| {
        let mut o = outs[i].lock().unwrap_or_else(|e| e.into_inner());
        numpack_core::vector::cdist(kernels, metric, a.slice(x, y), b, &mut o)
    })
    .into_iter()
    .collect()
}
