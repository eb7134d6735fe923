//! Filtered search: only the rows a `RowFilter` allows are scored and can be returned.
//!
//! A batch of consecutive logical rows is visited chunk by chunk (`ROW_CHUNK` rows). In a
//! chunk where the allowed rows are dense (`dense`), the whole span is scored with the rows
//! kernel (a streaming read, full-scan speed) and only the allowed scores are offered; where
//! they are sparse, each allowed row is scored alone (cost ∝ allowed rows). A bitmap filter
//! is read 64 rows per word (empty words cost one load); a sorted list by binary search.
//! Multi-query search gathers short runs of allowed rows into a staging block and pushes long
//! runs in place. Scores are the same bits either way (`rows` and `pair` kernels agree bit
//! for bit).

use super::driven::{Sequential, multi_query_top_k_with, stream_search, top_k_with};
use super::{
    Element, Kernels, Matrix, Metric, MultiTopKSearch, ROW_CHUNK, RowIds, RowSource, TopKResult,
    TopKSearch, VectorError, check_dim, score_rows,
};
use crate::vector::{Bitmap, RowFilter, RowSet};

/// A chunk is scored in full when at least one row in `DENSE_DIV` of its span is allowed.
const DENSE_DIV: usize = 8;
/// Runs of at least this many consecutive allowed rows are pushed in place (multi-query).
const RUN_DIRECT: usize = 64;
/// Rows gathered before a staged block is pushed (multi-query).
const STAGE_ROWS: usize = 4096;
/// Bitmap words per chunk.
const CHUNK_WORDS: usize = ROW_CHUNK.div_ceil(64);

/// The one rule choosing how a chunk is scored: `allowed` of its `span` rows pass; true means
/// score the whole span with the rows kernel, false each allowed row alone.
#[inline]
fn dense(allowed: usize, span: usize) -> bool {
    allowed * DENSE_DIV >= span
}

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
        match (ids, filter.set()) {
            (RowIds::Offset(first), RowSet::Sorted(v)) => {
                let end = first + rows.rows() as u64;
                let a = v.partition_point(|&r| r < first);
                let b = a + v[a..].partition_point(|&r| r < end);
                self.push_allowed(rows, first, &v[a..b]);
            }
            (RowIds::Offset(first), RowSet::Bitmap(bits)) => self.push_masked(rows, first, bits),
            (RowIds::List(l), _) => {
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

    /// `rows` are logical rows `first..`; `bits` marks the allowed ones, read a chunk's words
    /// at a time.
    fn push_masked(&mut self, rows: Matrix<'_, T>, first: u64, bits: Bitmap<'_>) {
        let n = rows.rows();
        let mut buf = [0f64; ROW_CHUNK];
        let mut c = 0;
        while c < n {
            let end = (c + ROW_CHUNK).min(n);
            let mut words = [0u64; CHUNK_WORDS];
            let mut count = 0;
            for (w, word) in words.iter_mut().enumerate() {
                let a = c + 64 * w;
                if a < end {
                    *word = bits.word(first + a as u64, (end - a).min(64));
                    count += word.count_ones() as usize;
                }
            }
            self.seen += count as u64;
            let id0 = first + c as u64;
            if count == 0 {
            } else if dense(count, end - c) {
                let out = &mut buf[..end - c];
                score_rows(
                    self.dk,
                    self.pair,
                    self.metric,
                    self.query,
                    rows.slice(c, end),
                    out,
                );
                if count == end - c {
                    // Every row of the chunk is allowed: the unfiltered tight loop.
                    self.topk.push_scores(out, id0);
                } else {
                    // The mask is read only for scores good enough to enter the top-k.
                    self.topk.push_scores_masked(out, &words, id0);
                }
            } else {
                for_each_bit(&words, |i| {
                    let s = (self.pair)(self.query, rows.row(c + i));
                    self.topk.push(s, id0 + i as u64);
                });
            }
            c = end;
        }
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
            if dense(j - i, last - r0) {
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
                    let mut kept = [0f64; ROW_CHUNK];
                    for (k, &a) in kept.iter_mut().zip(&allowed[i..j]) {
                        *k = out[(a - first) as usize - r0];
                    }
                    self.topk
                        .push_scores_with_ids(&kept[..j - i], &allowed[i..j]);
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

/// Calls `f(i)` for every set bit `i` of `words` (bit `i % 64` of word `i / 64`), ascending.
#[inline]
fn for_each_bit(words: &[u64], mut f: impl FnMut(usize)) {
    for (w, &word) in words.iter().enumerate() {
        let mut b = word;
        while b != 0 {
            f(64 * w + b.trailing_zeros() as usize);
            b &= b - 1;
        }
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
                // Runs of consecutive allowed rows `r0..r1` (batch positions).
                let mut run = |s: &mut Self, r0: usize, r1: usize| {
                    if r1 - r0 >= RUN_DIRECT {
                        flush(s, stage, stage_ids)?;
                        s.push(rows.slice(r0, r1), RowIds::Offset(first + r0 as u64))
                    } else {
                        stage.extend_from_slice(rows.slice(r0, r1).data());
                        stage_ids.extend((r0..r1).map(|r| first + r as u64));
                        if stage_ids.len() >= STAGE_ROWS {
                            flush(s, stage, stage_ids)?;
                        }
                        Ok(())
                    }
                };
                let mut cur: Option<(usize, usize)> = None;
                for a in filter.within(first, first + rows.rows() as u64) {
                    let r = (a - first) as usize;
                    match cur {
                        Some((r0, r1)) if r1 == r => cur = Some((r0, r + 1)),
                        Some((r0, r1)) => {
                            run(self, r0, r1)?;
                            cur = Some((r, r + 1));
                        }
                        None => cur = Some((r, r + 1)),
                    }
                }
                if let Some((r0, r1)) = cur {
                    run(self, r0, r1)?;
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
