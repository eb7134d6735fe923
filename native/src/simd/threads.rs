//! Multi-threaded search: candidate rows split into contiguous ranges, one `std::thread::scope`
//! worker per range, partial top-k merged (the merge order cannot change the result: the
//! ranking is a total order on (score, index)). `threads = 0` means `default_threads()`.

use numpack_core::vector::{
    Element, Kernels, Matrix, Metric, MultiTopKSearch, RowIds, TopKResult, TopKSearch, VectorError,
};

/// Fewer rows than this per worker is not worth a thread.
const MIN_ROWS_PER_THREAD: usize = 4096;

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

/// Pushes a batch into a single-query search, scoring the rows on up to `threads` workers.
pub fn push_parallel<T: Element>(
    s: &mut TopKSearch<'_, T>,
    rows: Matrix<'_, T>,
    ids: RowIds<'_>,
    threads: usize,
) -> Result<(), VectorError> {
    ids.check(rows.rows())?;
    let parts: Vec<_> = ranges(
        rows.rows(),
        workers(threads, rows.rows(), MIN_ROWS_PER_THREAD),
    )
    .collect();
    if parts.len() == 1 {
        return s.push(rows, ids);
    }
    let proto = s.fork();
    let results = run_parallel(&parts, |a, b| {
        let mut part = proto.fork();
        part.push(rows.slice(a, b), ids.skip(a)).map(|_| part)
    });
    for part in results {
        s.merge(&part?);
    }
    Ok(())
}

/// Pushes a batch into a multi-query search, splitting the rows over up to `threads` workers.
pub fn push_multi_parallel<T: Element>(
    s: &mut MultiTopKSearch<'_, T>,
    rows: Matrix<'_, T>,
    ids: RowIds<'_>,
    threads: usize,
) -> Result<(), VectorError> {
    ids.check(rows.rows())?;
    let parts: Vec<_> = ranges(rows.rows(), workers(threads, rows.rows(), 256)).collect();
    if parts.len() == 1 {
        return s.push(rows, ids);
    }
    let proto = s.fork();
    let results = run_parallel(&parts, |a, b| {
        let mut part = proto.fork();
        part.push(rows.slice(a, b), ids.skip(a)).map(|_| part)
    });
    for part in results {
        s.merge(&part?);
    }
    Ok(())
}

/// Runs `work(start, end)` for every range, one scoped thread each (inline when there is only
/// one); a worker's panic resumes on the caller.
pub(crate) fn run_parallel<R: Send>(
    parts: &[(usize, usize)],
    work: impl Fn(usize, usize) -> R + Sync,
) -> Vec<R> {
    if let [(a, b)] = parts {
        return vec![work(*a, *b)];
    }
    let work = &work;
    std::thread::scope(|sc| {
        let handles: Vec<_> = parts
            .iter()
            .map(|&(a, b)| sc.spawn(move || work(a, b)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
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
    let mut s = TopKSearch::new(kernels, metric, query, k)?;
    push_parallel(&mut s, candidates, RowIds::Offset(0), threads)?;
    s.finish()
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
    let mut s = MultiTopKSearch::new(kernels, metric, queries, k)?;
    push_multi_parallel(&mut s, candidates, RowIds::Offset(0), threads)?;
    s.finish()
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
    if out.len() != candidates.rows() {
        return Err(VectorError::DimensionMismatch {
            expected: candidates.rows(),
            found: out.len(),
        });
    }
    let w = workers(threads, candidates.rows(), MIN_ROWS_PER_THREAD);
    if w == 1 {
        return numpack_core::vector::batch_compute(kernels, metric, query, candidates, out);
    }
    let n = candidates.rows();
    std::thread::scope(|sc| {
        let mut rest = &mut out[..];
        let mut handles = Vec::new();
        for (a, b) in ranges(n, w) {
            let (mine, tail) = rest.split_at_mut(b - a);
            rest = tail;
            handles.push(sc.spawn(move || {
                numpack_core::vector::batch_compute(
                    kernels,
                    metric,
                    query,
                    candidates.slice(a, b),
                    mine,
                )
            }));
        }
        handles
            .into_iter()
            .try_for_each(|h| h.join().expect("batch worker panicked"))
    })
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
    let per_row = nb.max(1);
    let w = workers(
        threads,
        a.rows(),
        MIN_ROWS_PER_THREAD.div_ceil(per_row).max(4),
    );
    if w == 1 {
        return numpack_core::vector::cdist(kernels, metric, a, b, out);
    }
    std::thread::scope(|sc| {
        let mut rest = &mut out[..];
        let mut handles = Vec::new();
        for (x, y) in ranges(a.rows(), w) {
            let (mine, tail) = rest.split_at_mut((y - x) * nb);
            rest = tail;
            handles.push(sc.spawn(move || {
                numpack_core::vector::cdist(kernels, metric, a.slice(x, y), b, mine)
            }));
        }
        handles
            .into_iter()
            .try_for_each(|h| h.join().expect("cdist worker panicked"))
    })
}
