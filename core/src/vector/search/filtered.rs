//! Filtered search: only the rows a `RowFilter` allows are scored and can be returned.
//!
//! A batch of consecutive logical rows meets the sorted allowed list chunk by chunk. In a
//! chunk where the allowed rows are dense, the whole span is scored with the rows kernel (a
//! streaming read, full-scan speed) and only the allowed scores are offered; where they are
//! sparse, each allowed row is scored alone (cost ∝ allowed rows). Multi-query search gathers
//! short runs of allowed rows into a staging block and pushes long runs in place. Scores are
//! the same bits either way (`rows` and `pair` kernels agree bit for bit).

use super::driven::{Sequential, multi_query_top_k_with, stream_search, top_k_with};
use super::{
    Element, Kernels, Matrix, Metric, MultiTopKSearch, ROW_CHUNK, RowIds, RowSource, TopKResult,
    TopKSearch, VectorError, check_dim, score_rows,
};
use crate::vector::RowFilter;

/// A chunk is scored in full when at least one row in `DENSE_DIV` of its span is allowed.
const DENSE_DIV: usize = 8;
/// Runs of at least this many consecutive allowed rows are pushed in place (multi-query).
const RUN_DIRECT: usize = 64;
/// Rows gathered before a staged block is pushed (multi-query).
const STAGE_ROWS: usize = 4096;

impl<T: Element> TopKSearch<'_, T> {
    /// Scores the rows of a batch that `filter` allows and merges them. With
    /// `RowIds::Offset(first)` the batch is logical rows `first..`; with `RowIds::List` each
    /// row's id is looked up in the filter. After a filtered push, `finish` returns empty
    /// results (not an error) when no row was allowed.
    pub fn push_filtered(
        &mut self,
        rows: Matrix<'_, T>,
        ids: RowIds<'_>,
        filter: &RowFilter,
    ) -> Result<(), VectorError> {
        check_dim(rows.dim(), self.query.len())?;
        ids.check(rows.rows())?;
        self.filtered = true;
        match ids {
            RowIds::Offset(first) => {
                let n = rows.rows();
                let allowed = filter.within(first, first + n as u64);
                self.push_allowed(rows, first, allowed);
            }
            RowIds::List(l) => {
                for (i, &id) in l.iter().enumerate() {
                    if filter.contains(id) {
                        self.topk.push((self.pair)(self.query, rows.row(i)), id);
                        self.seen += 1;
                    }
                }
            }
        }
        Ok(())
    }

    /// `rows` are logical rows `first..`; `allowed` is an ascending subset of them.
    fn push_allowed(&mut self, rows: Matrix<'_, T>, first: u64, allowed: &[u64]) {
        let n = rows.rows();
        let mut buf = [0f64; ROW_CHUNK];
        let mut i = 0;
        while i < allowed.len() {
            let r0 = (allowed[i] - first) as usize;
            let end = (r0 + ROW_CHUNK).min(n);
            // At most `end - r0` allowed rows fall in the chunk: search only that window.
            let window = &allowed[i..allowed.len().min(i + end - r0)];
            let j = i + window.partition_point(|&a| a < first + end as u64);
            let last = (allowed[j - 1] - first) as usize + 1;
            if (j - i) * DENSE_DIV >= last - r0 {
                let out = &mut buf[..last - r0];
                score_rows(
                    self.dk,
                    self.pair,
                    self.metric,
                    self.query,
                    rows.slice(r0, last),
                    out,
                );
                if j - i == last - r0 {
                    // Every row of the span is allowed: the unfiltered tight loop.
                    self.topk.push_scores(out, first + r0 as u64);
                } else {
                    for &a in &allowed[i..j] {
                        let s = out[(a - first) as usize - r0];
                        if self.topk.may_accept(s) {
                            self.topk.push(s, a);
                        }
                    }
                }
            } else {
                for &a in &allowed[i..j] {
                    let s = (self.pair)(self.query, rows.row((a - first) as usize));
                    self.topk.push(s, a);
                }
            }
            i = j;
        }
        self.seen += allowed.len() as u64;
    }
}

impl<T: Element> MultiTopKSearch<'_, T> {
    /// Scores the rows of a batch that `filter` allows against every query and merges them
    /// (ids as in `TopKSearch::push_filtered`).
    pub fn push_filtered(
        &mut self,
        rows: Matrix<'_, T>,
        ids: RowIds<'_>,
        filter: &RowFilter,
    ) -> Result<(), VectorError> {
        check_dim(self.queries.dim(), rows.dim())?;
        ids.check(rows.rows())?;
        self.filtered = true;
        let mut stage = core::mem::take(&mut self.stage);
        let mut stage_ids = core::mem::take(&mut self.stage_ids);
        let r = self.push_gathered(rows, ids, filter, &mut stage, &mut stage_ids);
        stage.clear();
        stage_ids.clear();
        self.stage = stage;
        self.stage_ids = stage_ids;
        r
    }

    fn push_gathered(
        &mut self,
        rows: Matrix<'_, T>,
        ids: RowIds<'_>,
        filter: &RowFilter,
        stage: &mut Vec<T>,
        stage_ids: &mut Vec<u64>,
    ) -> Result<(), VectorError> {
        let dim = rows.dim();
        let flush = |s: &mut Self, stage: &mut Vec<T>, stage_ids: &mut Vec<u64>| {
            if stage_ids.is_empty() {
                return Ok(());
            }
            let m = Matrix::new(stage, stage_ids.len(), dim)?;
            s.push(m, RowIds::List(stage_ids))?;
            stage.clear();
            stage_ids.clear();
            Ok::<(), VectorError>(())
        };
        match ids {
            RowIds::Offset(first) => {
                let allowed = filter.within(first, first + rows.rows() as u64);
                let mut i = 0;
                while i < allowed.len() {
                    // The run of consecutive allowed rows starting at allowed[i].
                    let mut j = i + 1;
                    while j < allowed.len() && allowed[j] == allowed[j - 1] + 1 {
                        j += 1;
                    }
                    let r0 = (allowed[i] - first) as usize;
                    if j - i >= RUN_DIRECT {
                        flush(self, stage, stage_ids)?;
                        self.push(rows.slice(r0, r0 + j - i), RowIds::Offset(allowed[i]))?;
                    } else {
                        stage.extend_from_slice(rows.slice(r0, r0 + j - i).data());
                        stage_ids.extend_from_slice(&allowed[i..j]);
                        if stage_ids.len() >= STAGE_ROWS {
                            flush(self, stage, stage_ids)?;
                        }
                    }
                    i = j;
                }
            }
            RowIds::List(l) => {
                for (i, &id) in l.iter().enumerate() {
                    if filter.contains(id) {
                        stage.extend_from_slice(rows.row(i));
                        stage_ids.push(id);
                        if stage_ids.len() >= STAGE_ROWS {
                            flush(self, stage, stage_ids)?;
                        }
                    }
                }
            }
        }
        flush(self, stage, stage_ids)
    }
}

/// The `k` best candidates among the rows `filter` allows (logical row = candidate row).
/// An empty filter gives an empty result; a filter built for another row count is an error.
pub fn top_k_filtered<T: Element>(
    kernels: &Kernels,
    metric: Metric,
    query: &[T],
    candidates: Matrix<'_, T>,
    k: usize,
    filter: &RowFilter,
) -> Result<TopKResult, VectorError> {
    top_k_with(
        kernels,
        metric,
        query,
        candidates,
        k,
        Some(filter),
        &Sequential,
    )
}

/// The `k` best allowed candidates for every query row (see `top_k_filtered`).
pub fn multi_query_top_k_filtered<T: Element>(
    kernels: &Kernels,
    metric: Metric,
    queries: Matrix<'_, T>,
    candidates: Matrix<'_, T>,
    k: usize,
    filter: &RowFilter,
) -> Result<Vec<TopKResult>, VectorError> {
    let f = Some(filter);
    multi_query_top_k_with(kernels, metric, queries, candidates, k, f, &Sequential)
}

/// Single-query top-k over the rows of a `RowSource` that `filter` allows (batch ids are
/// logical rows; build the filter for the source's logical row count).
pub fn top_k_stream_filtered<T: Element, S: RowSource<T>>(
    kernels: &Kernels,
    metric: Metric,
    query: &[T],
    k: usize,
    source: &mut S,
    filter: &RowFilter,
) -> Result<TopKResult, S::Error> {
    let s = TopKSearch::new(kernels, metric, query, k)?;
    stream_search(s, source, Some(filter))
}

/// Multi-query top-k over the rows of a `RowSource` that `filter` allows.
pub fn multi_query_top_k_stream_filtered<T: Element, S: RowSource<T>>(
    kernels: &Kernels,
    metric: Metric,
    queries: Matrix<'_, T>,
    k: usize,
    source: &mut S,
    filter: &RowFilter,
) -> Result<Vec<TopKResult>, S::Error> {
    let s = MultiTopKSearch::new(kernels, metric, queries, k)?;
    stream_search(s, source, Some(filter))
}
