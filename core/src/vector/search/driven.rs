//! The top-k entry points, written once and parameterised by how rows are pushed: a `Driver`
//! feeds row ranges into a search (`Sequential` here on the caller; native's parallel driver
//! pushes each range into a fork on a worker and merges the forks). Every in-memory, cached,
//! filtered and streamed top-k — single- or multi-query — goes through `drive_search` or
//! `stream_search`, so the filter, cache and argument checks live here only.

use super::{
    Element, Kernels, Matrix, Metric, MultiTopKSearch, NormCache, Norms, RowIds, RowSource,
    TopKResult, TopKSearch, VectorError,
};
use crate::vector::RowFilter;

/// What one row costs a search, for a driver choosing how many workers are worth it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Load {
    /// Single-query search over every row.
    Single,
    /// Single-query search where only this many rows are allowed (filtered).
    Sparse(usize),
    /// Multi-query search (much more work per row).
    Multi,
}

/// A top-k search that can be split over workers and fed batches of rows.
pub trait Search<T: Element>: Sized + Send + Sync {
    /// What `finish` returns.
    type Output;
    /// An empty search with the same parameters.
    fn fork(&self) -> Self;
    /// Merges a fork's results into this search.
    fn merge(&mut self, other: &Self);
    /// Scores a batch and merges it (only the rows `filter` allows, if any).
    fn push_rows(
        &mut self,
        rows: Matrix<'_, T>,
        ids: RowIds<'_>,
        filter: Option<&RowFilter>,
    ) -> Result<(), VectorError>;
    /// Scores a batch with the rows' cached norms (same results as `push_rows` without a
    /// filter; searches that cannot use them ignore them).
    fn push_with_norms(
        &mut self,
        rows: Matrix<'_, T>,
        ids: RowIds<'_>,
        norms: Norms<'_>,
    ) -> Result<(), VectorError>;
    /// Marks the search as filtered (as any filtered push does): `finish` then gives empty
    /// results, not an error, when no row was allowed — e.g. when no batch had any.
    fn mark_filtered(&mut self);
    /// The result(s), best first.
    fn finish(self) -> Result<Self::Output, VectorError>;
    /// The cost of a row of this search, under `filter`.
    fn load(&self, filter: Option<&RowFilter>) -> Load;
}

macro_rules! impl_search {
    ($s:ident, $out:ty, $load:expr) => {
        impl<T: Element> Search<T> for $s<'_, T> {
            type Output = $out;
            fn fork(&self) -> Self {
                $s::fork(self)
            }
            fn merge(&mut self, other: &Self) {
                $s::merge(self, other)
            }
            fn push_rows(
                &mut self,
                rows: Matrix<'_, T>,
                ids: RowIds<'_>,
                filter: Option<&RowFilter>,
            ) -> Result<(), VectorError> {
                match filter {
                    Some(f) => self.push_filtered(rows, ids, f),
                    None => self.push(rows, ids),
                }
            }
            fn push_with_norms(
                &mut self,
                rows: Matrix<'_, T>,
                ids: RowIds<'_>,
                norms: Norms<'_>,
            ) -> Result<(), VectorError> {
                $s::push_with_norms(self, rows, ids, norms)
            }
            fn mark_filtered(&mut self) {
                self.filtered = true;
            }
            fn finish(self) -> Result<$out, VectorError> {
                $s::finish(self)
            }
            fn load(&self, filter: Option<&RowFilter>) -> Load {
                $load(filter)
            }
        }
    };
}

impl_search!(TopKSearch, TopKResult, |f: Option<&RowFilter>| match f {
    Some(f) => Load::Sparse(f.len()),
    None => Load::Single,
});
impl_search!(MultiTopKSearch, Vec<TopKResult>, |_| Load::Multi);

/// How a search's rows `0..n` are pushed.
pub trait Driver {
    /// Feeds rows `0..n` into `s`: `push(part, start, end)` pushes one range into `part`
    /// (`s` itself, or a fork of `s` merged back into it afterwards).
    fn drive<T: Element, S: Search<T>, E: Send>(
        &self,
        s: &mut S,
        n: usize,
        load: Load,
        push: impl Fn(&mut S, usize, usize) -> Result<(), E> + Sync,
    ) -> Result<(), E>;
}

/// The sequential driver: all rows in one push on the caller.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sequential;

impl Driver for Sequential {
    fn drive<T: Element, S: Search<T>, E: Send>(
        &self,
        s: &mut S,
        n: usize,
        _load: Load,
        push: impl Fn(&mut S, usize, usize) -> Result<(), E> + Sync,
    ) -> Result<(), E> {
        push(s, 0, n)
    }
}

/// A driver that pushes only rows `.0..end` of a search, `end` being `.1` clipped to the rows,
/// on the caller: one thread's share when the caller splits a search over threads itself
/// (wasm, whose threads are JS workers); results keep the rows' global indices.
#[derive(Clone, Copy, Debug)]
pub struct RowRange(pub usize, pub usize);

impl Driver for RowRange {
    fn drive<T: Element, S: Search<T>, E: Send>(
        &self,
        s: &mut S,
        n: usize,
        _load: Load,
        push: impl Fn(&mut S, usize, usize) -> Result<(), E> + Sync,
    ) -> Result<(), E> {
        let end = self.1.min(n);
        push(s, self.0.min(end), end)
    }
}

/// Runs search `s` over rows `0..n` with `driver` (`push` feeds one range into a part, as in
/// `Driver::drive`); a filtered search (`filter`) gives empty results when nothing is allowed.
pub fn drive_search<T: Element, S: Search<T>, D: Driver, E: From<VectorError> + Send>(
    mut s: S,
    n: usize,
    filter: Option<&RowFilter>,
    driver: &D,
    push: impl Fn(&mut S, usize, usize) -> Result<(), E> + Sync,
) -> Result<S::Output, E> {
    if filter.is_some() {
        s.mark_filtered();
    }
    let load = s.load(filter);
    driver.drive(&mut s, n, load, push)?;
    Ok(s.finish()?)
}

/// Runs `s` over in-memory candidates (only the rows `filter` allows, if any; a filter built
/// for another row count is an error).
fn in_memory<T: Element, S: Search<T>, D: Driver>(
    s: S,
    candidates: Matrix<'_, T>,
    filter: Option<&RowFilter>,
    driver: &D,
) -> Result<S::Output, VectorError> {
    drive_search(s, candidates.rows(), filter, driver, |part, a, b| {
        part.push_rows(candidates.slice(a, b), RowIds::Offset(a as u64), filter)
    })
}

/// Checks a filter's row count against the candidates.
fn check_filter(filter: Option<&RowFilter>, rows: usize) -> Result<(), VectorError> {
    filter.map_or(Ok(()), |f| f.check_rows(rows as u64))
}

/// Single-query top-k over the rows `filter` allows (all for `None`), pushed by `driver`.
/// An empty filter gives an empty result; a filter built for another row count is an error.
pub fn top_k_with<T: Element, D: Driver>(
    kernels: &Kernels,
    metric: Metric,
    query: &[T],
    candidates: Matrix<'_, T>,
    k: usize,
    filter: Option<&RowFilter>,
    driver: &D,
) -> Result<TopKResult, VectorError> {
    check_filter(filter, candidates.rows())?;
    let s = TopKSearch::new(kernels, metric, query, k)?;
    in_memory(s, candidates, filter, driver)
}

/// Multi-query top-k over the rows `filter` allows (see `top_k_with`), pushed by `driver`.
pub fn multi_query_top_k_with<T: Element, D: Driver>(
    kernels: &Kernels,
    metric: Metric,
    queries: Matrix<'_, T>,
    candidates: Matrix<'_, T>,
    k: usize,
    filter: Option<&RowFilter>,
    driver: &D,
) -> Result<Vec<TopKResult>, VectorError> {
    check_filter(filter, candidates.rows())?;
    let s = MultiTopKSearch::new(kernels, metric, queries, k)?;
    in_memory(s, candidates, filter, driver)
}

/// Single-query top-k with the candidates' norm cache (same results as `top_k`), pushed by
/// `driver`; errors if the cache was built for other candidates.
pub fn top_k_cached_with<T: Element, D: Driver>(
    kernels: &Kernels,
    metric: Metric,
    query: &[T],
    candidates: Matrix<'_, T>,
    k: usize,
    cache: &NormCache,
    driver: &D,
) -> Result<TopKResult, VectorError> {
    cache.check(candidates)?;
    let s = TopKSearch::new(kernels, metric, query, k)?;
    in_memory_cached(s, candidates, cache, driver)
}

/// Multi-query top-k with the candidates' norm cache (same results as
/// `multi_query_top_k_with` without a filter), pushed by `driver`; errors if the cache was built
/// for other candidates.
pub fn multi_query_top_k_cached_with<T: Element, D: Driver>(
    kernels: &Kernels,
    metric: Metric,
    queries: Matrix<'_, T>,
    candidates: Matrix<'_, T>,
    k: usize,
    cache: &NormCache,
    driver: &D,
) -> Result<Vec<TopKResult>, VectorError> {
    cache.check(candidates)?;
    let s = MultiTopKSearch::new(kernels, metric, queries, k)?;
    in_memory_cached(s, candidates, cache, driver)
}

/// Top-k of every row of `queries` over in-memory candidates, the entry the bindings call:
/// one query runs the single-query search, several the fused multi-query one; a norm cache
/// serves unfiltered searches of exactly the candidates it was built for (rows, length,
/// element type) and is ignored otherwise (e.g. after the dtype rule chose another type).
#[allow(clippy::too_many_arguments)]
pub fn top_k_rows_with<T: Element, D: Driver>(
    kernels: &Kernels,
    metric: Metric,
    queries: Matrix<'_, T>,
    candidates: Matrix<'_, T>,
    k: usize,
    filter: Option<&RowFilter>,
    cache: Option<&NormCache>,
    driver: &D,
) -> Result<Vec<TopKResult>, VectorError> {
    let (rows, dim) = (candidates.rows(), candidates.dim());
    let cache = cache.filter(|c| filter.is_none() && c.fits(T::TYPE, rows, dim));
    let (m, c, d) = (metric, candidates, driver);
    match (queries.rows() == 1, cache) {
        (true, Some(nc)) => Ok(vec![top_k_cached_with(
            kernels,
            m,
            queries.row(0),
            c,
            k,
            nc,
            d,
        )?]),
        (true, None) => Ok(vec![top_k_with(
            kernels,
            m,
            queries.row(0),
            c,
            k,
            filter,
            d,
        )?]),
        (false, Some(nc)) => multi_query_top_k_cached_with(kernels, m, queries, c, k, nc, d),
        (false, None) => multi_query_top_k_with(kernels, m, queries, c, k, filter, d),
    }
}

/// Runs `s` over in-memory candidates with their norm cache (already checked against them).
fn in_memory_cached<T: Element, S: Search<T>, D: Driver>(
    s: S,
    candidates: Matrix<'_, T>,
    cache: &NormCache,
    driver: &D,
) -> Result<S::Output, VectorError> {
    drive_search(s, candidates.rows(), None, driver, |part, a, b| {
        part.push_with_norms(
            candidates.slice(a, b),
            RowIds::Offset(a as u64),
            cache.range(a, b),
        )
    })
}

/// Runs `s` over every batch of `source` (only allowed rows, if filtered).
pub(super) fn stream_search<T: Element, S: Search<T>, R: RowSource<T>>(
    mut s: S,
    source: &mut R,
    filter: Option<&RowFilter>,
) -> Result<S::Output, R::Error> {
    if filter.is_some() {
        s.mark_filtered();
    }
    while let Some(b) = source.next_batch()? {
        s.push_rows(b.rows, b.ids, filter)?;
    }
    Ok(s.finish()?)
}
