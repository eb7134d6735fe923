//! The one parallel driver: rows split into contiguous ranges, one piece per range run on the
//! persistent worker pool (`pool`). A search (core's top-k entry points, in memory or over a
//! stored array) is driven by `Parallel`: each piece is pushed into a fork of the caller's
//! search and the forks merged back (the merge order cannot change the result: the ranking
//! is a total order on (score, index)). Every multi-threaded path — search, scores and
//! cdist, the scan of a stored array — goes through `Parallel` or `run_parallel`.
//! `threads = 0` means `default_threads()`.

use std::sync::Mutex;

use numpack_core::vector::{
    Driver, Element, Kernels, Load, Matrix, Metric, NormCache, Search, VectorError,
};

use super::pool;

/// Fewer rows than this per worker is not worth a thread (single-query and scores).
pub(crate) const MIN_ROWS_PER_THREAD: usize = 4096;
/// The same for multi-query search (much more work per row).
const MIN_ROWS_PER_THREAD_MULTI: usize = 256;

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

/// The parallel driver of core's top-k entry points (`numpack_core::vector::top_k_with` and
/// friends): rows split over up to `.0` workers (0 = all cores); one range per worker is
/// pushed into a fork of the search and the forks are merged back; one range pushes straight
/// into the search on the caller.
#[derive(Clone, Copy, Debug)]
pub struct Parallel(pub usize);

impl Driver for Parallel {
    fn drive<T: Element, S: Search<T>, E: Send>(
        &self,
        s: &mut S,
        n: usize,
        load: Load,
        push: impl Fn(&mut S, usize, usize) -> Result<(), E> + Sync,
    ) -> Result<(), E> {
        let min_rows = match load {
            // Work scales with the allowed rows: few of them are not worth a thread.
            Load::Sparse(allowed) if allowed < MIN_ROWS_PER_THREAD => n.max(1),
            Load::Multi => MIN_ROWS_PER_THREAD_MULTI,
            _ => MIN_ROWS_PER_THREAD,
        };
        let parts: Vec<_> = ranges(n, workers(self.0, n, min_rows)).collect();
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
}

/// The norm cache of `candidates` (with a bfloat16 copy of the rows when `bf16_copy`:
/// `NormCache::with_bf16_copy`), rows split over up to `threads` workers, each building its
/// range's norms and copy; the copy is then gathered into huge-page-advised memory.
pub fn norm_cache<T: Element>(
    kernels: &Kernels,
    candidates: Matrix<'_, T>,
    bf16_copy: bool,
    threads: usize,
) -> Result<NormCache, VectorError> {
    if bf16_copy {
        NormCache::check_copy_dtype(T::TYPE)?;
    }
    let n = candidates.rows();
    let parts: Vec<_> = ranges(n, workers(threads, n, MIN_ROWS_PER_THREAD)).collect();
    let pieces = run_parallel(&parts, |_, a, b| {
        let rows = candidates.slice(a, b);
        let cache = NormCache::new(kernels, rows)?;
        if bf16_copy {
            cache.with_bf16_copy(rows)
        } else {
            Ok(cache)
        }
    });
    let pieces = pieces.into_iter().collect::<Result<Vec<_>, _>>()?;
    let rows = if bf16_copy {
        huge_page_vec(n * candidates.dim())
    } else {
        Vec::new()
    };
    NormCache::concat(pieces, rows)
}

/// An empty vector with room for `len` elements, its whole 2 MiB pages advised for
/// transparent huge pages (a long scan over 4 KiB pages reads about a fifth slower here:
/// `BENCH_ONLY=one` in `benches/simd_kernels.rs`).
fn huge_page_vec<E>(len: usize) -> Vec<E> {
    let v: Vec<E> = Vec::with_capacity(len);
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let start = (v.as_ptr() as usize).next_multiple_of(HUGE);
        let end = (v.as_ptr() as usize + len * core::mem::size_of::<E>()) / HUGE * HUGE;
        if end > start {
            // SAFETY: advice on whole pages inside the vector's own (still untouched)
            // allocation; it changes no contents, and failure costs speed only.
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE) };
        }
    }
    v
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
