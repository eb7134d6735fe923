//! The search algorithms, written once over a `Kernels` table: pair scores, batch scoring,
//! single- and multi-query top-k (in-memory or streamed batch by batch) and cdist.

use super::{
    DTypeKernels, Element, ElementType, Kernels, Matrix, Metric, RowIds, RowSource, TopK,
    TopKResult, VectorError,
};

mod cached;
mod driven;
mod filtered;
pub use cached::{NormCache, Norms, top_k_cached};
pub use driven::{
    Driver, Load, RowRange, Search, Sequential, drive_search, multi_query_top_k_cached_with,
    multi_query_top_k_with, top_k_cached_with, top_k_rows_with, top_k_with,
};
pub use filtered::{
    multi_query_top_k_filtered, multi_query_top_k_stream_filtered, top_k_filtered,
    top_k_stream_filtered,
};

/// Rows scored per chunk in single-query search (a stack-sized score buffer).
const ROW_CHUNK: usize = 256;
/// Queries per tile call in the blocked multi-query kernel.
const QUERY_BLOCK: usize = 16;
/// Target size in bytes of one candidate block (kept in L2 while all queries visit it).
const BLOCK_BYTES: usize = 128 * 1024;
/// Candidate rows per call of the fused kernel (it repacks the queries once per call).
const FUSED_ROWS: usize = 16 * 1024;

/// Checks the dtype, and returns this type's kernels and the metric's pair kernel.
fn kernels_for<T: Element>(
    kernels: &Kernels,
    metric: Metric,
) -> Result<(&DTypeKernels<T>, super::PairFn<T>), VectorError> {
    T::TYPE.check(metric)?;
    let dk = kernels.get::<T>();
    let pair = dk.pair[metric.index()].ok_or(VectorError::UnsupportedDtype {
        metric,
        dtype: T::TYPE,
    })?;
    Ok((dk, pair))
}

fn check_dim(expected: usize, found: usize) -> Result<(), VectorError> {
    if expected == found {
        Ok(())
    } else {
        Err(VectorError::DimensionMismatch { expected, found })
    }
}

/// Candidate rows per block for the blocked kernels: about `BLOCK_BYTES`, a multiple of 4.
fn block_rows<T>(dim: usize) -> usize {
    let row = dim.max(1) * core::mem::size_of::<T>();
    ((BLOCK_BYTES / row).max(16) + 3) & !3
}

/// The metric between two vectors of equal length.
pub fn compute<T: Element>(
    kernels: &Kernels,
    metric: Metric,
    a: &[T],
    b: &[T],
) -> Result<f64, VectorError> {
    let (_, pair) = kernels_for::<T>(kernels, metric)?;
    check_dim(a.len(), b.len())?;
    Ok(pair(a, b))
}

/// Scores rows without checks: the table's rows kernel, or a loop over the pair kernel.
fn score_rows<T: Element>(
    dk: &DTypeKernels<T>,
    pair: super::PairFn<T>,
    metric: Metric,
    query: &[T],
    rows: Matrix<'_, T>,
    out: &mut [f64],
) {
    debug_assert_eq!(out.len(), rows.rows());
    match dk.rows[metric.index()] {
        Some(f) if rows.dim() > 0 => f(query, rows.data(), rows.dim(), out),
        _ => {
            for (i, o) in out.iter_mut().enumerate() {
                *o = pair(query, rows.row(i));
            }
        }
    }
}

/// `out[i] = metric(query, candidates row i)`; `out.len()` must equal the number of rows.
/// Zero candidates give an empty result (not an error).
pub fn batch_compute<T: Element>(
    kernels: &Kernels,
    metric: Metric,
    query: &[T],
    candidates: Matrix<'_, T>,
    out: &mut [f64],
) -> Result<(), VectorError> {
    let (dk, pair) = kernels_for::<T>(kernels, metric)?;
    check_dim(candidates.dim(), query.len())?;
    check_dim(candidates.rows(), out.len())?;
    score_rows(dk, pair, metric, query, candidates, out);
    Ok(())
}

/// The `k` best candidates for one query (k is clipped to the number of candidates).
pub fn top_k<T: Element>(
    kernels: &Kernels,
    metric: Metric,
    query: &[T],
    candidates: Matrix<'_, T>,
    k: usize,
) -> Result<TopKResult, VectorError> {
    top_k_with(kernels, metric, query, candidates, k, None, &Sequential)
}

/// Single-query top-k that takes candidate rows batch by batch (streaming over a store).
pub struct TopKSearch<'a, T: Element> {
    dk: &'a DTypeKernels<T>,
    pair: super::PairFn<T>,
    metric: Metric,
    query: &'a [T],
    topk: TopK,
    seen: u64,
    /// A filter was applied: no allowed row gives empty results instead of an error.
    filtered: bool,
    /// The bfloat16 dot rows kernel, for a float32 search over a norm cache's bfloat16 copy.
    copy_dot: Option<super::RowsFn<half::bf16>>,
}

impl<'a, T: Element> TopKSearch<'a, T> {
    /// Starts a search; errors on k = 0 or a metric undefined for `T`.
    pub fn new(
        kernels: &'a Kernels,
        metric: Metric,
        query: &'a [T],
        k: usize,
    ) -> Result<Self, VectorError> {
        if k == 0 {
            return Err(VectorError::ZeroK);
        }
        let (dk, pair) = kernels_for::<T>(kernels, metric)?;
        Ok(TopKSearch {
            dk,
            pair,
            metric,
            query,
            topk: TopK::new(k, metric.is_similarity()),
            seen: 0,
            filtered: false,
            copy_dot: kernels.get::<half::bf16>().rows[Metric::Dot.index()]
                .filter(|_| T::TYPE == ElementType::F32),
        })
    }

    /// Scores a batch of rows and merges them; `ids` gives each row's reported index.
    pub fn push(&mut self, rows: Matrix<'_, T>, ids: RowIds<'_>) -> Result<(), VectorError> {
        check_dim(rows.dim(), self.query.len())?;
        ids.check(rows.rows())?;
        let mut buf = [0f64; ROW_CHUNK];
        let n = rows.rows();
        let mut start = 0;
        while start < n {
            let end = (start + ROW_CHUNK).min(n);
            let out = &mut buf[..end - start];
            score_rows(
                self.dk,
                self.pair,
                self.metric,
                self.query,
                rows.slice(start, end),
                out,
            );
            match ids.skip(start) {
                RowIds::Offset(o) => self.topk.push_scores(out, o),
                RowIds::List(l) => self.topk.push_scores_with_ids(out, &l[..end - start]),
            }
            start = end;
        }
        self.seen += n as u64;
        Ok(())
    }

    /// An empty search with the same kernels, metric, query and k (one per worker thread).
    pub fn fork(&self) -> Self {
        TopKSearch {
            topk: TopK::new(self.topk.k(), self.metric.is_similarity()),
            seen: 0,
            filtered: false,
            ..*self
        }
    }

    /// The accumulator so far (e.g. to merge partial searches from several threads).
    pub fn topk(&self) -> &TopK {
        &self.topk
    }

    /// Merges another search's kept entries into this one.
    pub fn merge(&mut self, other: &TopKSearch<'_, T>) {
        self.topk.merge(&other.topk);
        self.seen += other.seen;
        self.filtered |= other.filtered;
    }

    /// The result, best first; `EmptyCandidates` if no row was ever pushed (after a filtered
    /// push: empty results).
    pub fn finish(self) -> Result<TopKResult, VectorError> {
        if self.seen == 0 && !self.filtered {
            return Err(VectorError::EmptyCandidates);
        }
        Ok(self.topk.into_sorted())
    }
}

/// Single-query top-k over a `RowSource`.
pub fn top_k_stream<T: Element, S: RowSource<T>>(
    kernels: &Kernels,
    metric: Metric,
    query: &[T],
    k: usize,
    source: &mut S,
) -> Result<TopKResult, S::Error> {
    let s = TopKSearch::new(kernels, metric, query, k)?;
    driven::stream_search(s, source, None)
}

/// Relative rounding slack of the tile scores of `T` at length `dim` (0 for exact int8).
fn tile_slack(t: ElementType, dim: usize) -> f64 {
    let u = match t {
        ElementType::F64 => f64::EPSILON / 2.0,
        ElementType::I8 | ElementType::U8 => return 0.0,
        _ => f32::EPSILON as f64 / 2.0,
    };
    4.0 * u * (dim as f64 + 16.0)
}

/// An optimistic bound on the exact score from a tile dot product `d`: an upper bound for
/// similarities, a lower bound for distances, widened by the rounding slack `rel`.
#[inline]
fn optimistic(metric: Metric, d: f64, qq: f64, cc: f64, rel: f64) -> f64 {
    match metric {
        Metric::Dot => d + rel * (qq * cc).sqrt(),
        Metric::Cosine => {
            if qq == 0.0 || cc == 0.0 {
                0.0
            } else {
                d / (qq.sqrt() * cc.sqrt()) + 3.0 * rel
            }
        }
        Metric::L2sq => qq + cc - 2.0 * d - 2.0 * rel * (qq + cc),
        _ => (qq + cc - 2.0 * d - 2.0 * rel * (qq + cc)).max(0.0).sqrt(),
    }
}

/// Multi-query top-k that takes candidate rows batch by batch: each batch is cut into
/// cache-sized blocks scored against blocks of queries by the table's dot tile; per-query
/// heaps are updated from the tile (threshold check first, exact rescoring of survivors), so
/// the Q × N score matrix is never materialised. Metrics without a tile use the row kernels.
pub struct MultiTopKSearch<'a, T: Element> {
    dk: &'a DTypeKernels<T>,
    pair: super::PairFn<T>,
    metric: Metric,
    queries: Matrix<'a, T>,
    qnorm: Vec<f64>,
    heaps: Vec<TopK>,
    tile: Vec<f64>,
    cnorm: Vec<f64>,
    /// Fused path: per-query key factor, per-query thresholds, packed queries.
    qz: Vec<f32>,
    thr: Vec<f32>,
    pack: Vec<f32>,
    /// Filtered pushes: gathered rows and their ids.
    stage: Vec<T>,
    stage_ids: Vec<u64>,
    seen: u64,
    /// A filter was applied: no allowed row gives empty results instead of an error.
    filtered: bool,
    /// The tier's kernel over a norm cache's bfloat16 copy (float32 searches only).
    copy_scan: Option<super::generic::CopyKernel>,
    /// Its per-query terms, built at the first push that reads a copy.
    copy: Option<cached::CopyQueries>,
}

/// The fused kernel's per-query factor `qz` (see `FusedScan`).
fn fused_qz(metric: Metric, qq: f64) -> f32 {
    match metric {
        Metric::Dot => qq.sqrt() as f32,
        Metric::Cosine => 0.0,
        _ => 1.0,
    }
}

/// The fused kernel's threshold for one query: a key below it proves the candidate cannot
/// enter `heap` (see `FusedScan` for the key). Computed in f64 and rounded down to f32; −∞
/// (accept everything) while the heap is not full or when anything is not finite.
fn fused_threshold(metric: Metric, heap: &TopK, qq: f64, rel: f64) -> f32 {
    let w = match heap.worst() {
        Some((w, _)) if heap.is_full() && w.is_finite() && qq.is_finite() => w,
        _ => return f32::NEG_INFINITY,
    };
    let t = match metric {
        Metric::Dot => w,
        Metric::Cosine if qq > 0.0 => (w - 3.0 * rel) * qq.sqrt(),
        Metric::L2sq => qq * (1.0 - 2.0 * rel) - w,
        Metric::L2 => qq * (1.0 - 2.0 * rel) - w * w,
        _ => return f32::NEG_INFINITY,
    };
    let f = t as f32;
    if f.is_nan() || f == f32::INFINITY {
        f32::NEG_INFINITY
    } else {
        down32(t)
    }
}

/// `x` rounded down to f32.
fn down32(x: f64) -> f32 {
    let f = x as f32;
    if (f as f64) > x { f.next_down() } else { f }
}

impl<'a, T: Element> MultiTopKSearch<'a, T> {
    /// Starts a search for every row of `queries`; errors on k = 0, no queries, or a metric
    /// undefined for `T`.
    pub fn new(
        kernels: &'a Kernels,
        metric: Metric,
        queries: Matrix<'a, T>,
        k: usize,
    ) -> Result<Self, VectorError> {
        if k == 0 {
            return Err(VectorError::ZeroK);
        }
        if queries.rows() == 0 {
            return Err(VectorError::EmptyQueries);
        }
        let (dk, pair) = kernels_for::<T>(kernels, metric)?;
        let qnorm = match dk.norm_sq {
            Some(f) => (0..queries.rows()).map(|i| f(queries.row(i))).collect(),
            None => Vec::new(),
        };
        let heaps = (0..queries.rows())
            .map(|_| TopK::new(k, metric.is_similarity()))
            .collect();
        let qz = if dk.fused.is_some() {
            qnorm.iter().map(|&qq| fused_qz(metric, qq)).collect()
        } else {
            Vec::new()
        };
        Ok(MultiTopKSearch {
            dk,
            pair,
            metric,
            queries,
            qnorm,
            heaps,
            tile: Vec::new(),
            cnorm: Vec::new(),
            qz,
            thr: Vec::new(),
            pack: Vec::new(),
            stage: Vec::new(),
            stage_ids: Vec::new(),
            seen: 0,
            filtered: false,
            copy_scan: kernels.copy_scan.filter(|_| T::TYPE == ElementType::F32),
            copy: None,
        })
    }

    fn fused(&self) -> bool {
        self.tiled() && self.dk.fused.is_some()
    }

    fn tiled(&self) -> bool {
        matches!(
            self.metric,
            Metric::Dot | Metric::Cosine | Metric::L2 | Metric::L2sq
        ) && self.dk.dot_tile.is_some()
            && self.dk.norm_sq.is_some()
            && self.queries.dim() > 0
    }

    /// Scores a batch of rows against every query and merges them.
    pub fn push(&mut self, rows: Matrix<'_, T>, ids: RowIds<'_>) -> Result<(), VectorError> {
        let dim = self.queries.dim();
        check_dim(dim, rows.dim())?;
        ids.check(rows.rows())?;
        let n = rows.rows();
        let fused = self.fused();
        let cb_max = if fused {
            FUSED_ROWS
        } else {
            block_rows::<T>(dim)
        };
        let nq = self.queries.rows();
        let mut start = 0;
        while start < n {
            let end = (start + cb_max).min(n);
            let block = rows.slice(start, end);
            let bids = ids.skip(start);
            if fused {
                self.push_block_fused(block, bids, None);
            } else if self.tiled() {
                self.push_block_tiled(block, bids);
            } else {
                let cb = end - start;
                self.tile.resize(cb, 0.0);
                for qi in 0..nq {
                    let q = self.queries.row(qi);
                    score_rows(
                        self.dk,
                        self.pair,
                        self.metric,
                        q,
                        block,
                        &mut self.tile[..cb],
                    );
                    match bids {
                        RowIds::Offset(o) => self.heaps[qi].push_scores(&self.tile[..cb], o),
                        RowIds::List(l) => {
                            self.heaps[qi].push_scores_with_ids(&self.tile[..cb], &l[..cb])
                        }
                    }
                }
            }
            start = end;
        }
        self.seen += n as u64;
        Ok(())
    }

    /// `push` with the rows' cached squared norms (one per row): the fused kernel takes its
    /// key coefficients from them instead of computing each row's norm; with a bfloat16 copy
    /// in the cache and a tier kernel for it, the dot products are read from the copy
    /// (`push_copy`). Same results as `push`; element types without the fused kernel run `push`.
    pub fn push_with_norms(
        &mut self,
        rows: Matrix<'_, T>,
        ids: RowIds<'_>,
        norms: Norms<'_>,
    ) -> Result<(), VectorError> {
        if self.push_copy(rows, ids, norms)? {
            return Ok(());
        }
        let norm_sq = norms.norm_sq();
        if !self.fused() {
            return self.push(rows, ids);
        }
        check_dim(self.queries.dim(), rows.dim())?;
        ids.check(rows.rows())?;
        check_dim(rows.rows(), norm_sq.len())?;
        let n = rows.rows();
        let mut start = 0;
        while start < n {
            let end = (start + FUSED_ROWS).min(n);
            self.push_block_fused(
                rows.slice(start, end),
                ids.skip(start),
                Some(&norm_sq[start..end]),
            );
            start = end;
        }
        self.seen += n as u64;
        Ok(())
    }

    fn push_block_fused(&mut self, block: Matrix<'_, T>, ids: RowIds<'_>, norm_sq: Option<&[f64]>) {
        let fused = self.dk.fused.expect("fused kernel");
        let (metric, pair, queries) = (self.metric, self.pair, self.queries);
        // Twice the tile slack: also covers the f32 rounding of the key and threshold.
        let rel = 2.0 * tile_slack(T::TYPE, block.dim());
        let MultiTopKSearch {
            heaps,
            qnorm,
            qz,
            thr,
            pack,
            ..
        } = self;
        thr.clear();
        thr.extend(
            heaps
                .iter()
                .zip(qnorm.iter())
                .map(|(h, &qq)| fused_threshold(metric, h, qq, rel)),
        );
        let mut hit = |qi: usize, j: usize| -> f32 {
            let h = &mut heaps[qi];
            h.push(pair(queries.row(qi), block.row(j)), ids.id(j));
            fused_threshold(metric, h, qnorm[qi], rel)
        };
        let mut scan = super::generic::FusedScan {
            metric,
            queries,
            cands: block,
            qz,
            thr,
            rel,
            scratch: pack,
            norm_sq,
        };
        fused(&mut scan, &mut hit);
    }

    fn push_block_tiled(&mut self, block: Matrix<'_, T>, ids: RowIds<'_>) {
        let (tile, norm) = (self.dk.dot_tile.unwrap(), self.dk.norm_sq.unwrap());
        let dim = block.dim();
        let cb = block.rows();
        let nq = self.queries.rows();
        let rel = tile_slack(T::TYPE, dim);
        self.cnorm.clear();
        self.cnorm.extend((0..cb).map(|j| norm(block.row(j))));
        self.tile.resize(QUERY_BLOCK * cb, 0.0);
        let mut q0 = 0;
        while q0 < nq {
            let q1 = (q0 + QUERY_BLOCK).min(nq);
            let qs = self.queries.slice(q0, q1);
            tile(
                qs.data(),
                q1 - q0,
                block.data(),
                cb,
                dim,
                &mut self.tile[..(q1 - q0) * cb],
            );
            for qi in q0..q1 {
                let scores = &self.tile[(qi - q0) * cb..(qi - q0 + 1) * cb];
                let heap = &mut self.heaps[qi];
                let qq = self.qnorm[qi];
                let q = self.queries.row(qi);
                for (j, &d) in scores.iter().enumerate() {
                    if heap.may_accept(optimistic(self.metric, d, qq, self.cnorm[j], rel)) {
                        heap.push((self.pair)(q, block.row(j)), ids.id(j));
                    }
                }
            }
            q0 = q1;
        }
    }

    /// An empty search with the same kernels, metric, queries and k (one per worker thread).
    pub fn fork(&self) -> Self {
        MultiTopKSearch {
            dk: self.dk,
            pair: self.pair,
            metric: self.metric,
            queries: self.queries,
            qnorm: self.qnorm.clone(),
            heaps: self
                .heaps
                .iter()
                .map(|h| TopK::new(h.k(), self.metric.is_similarity()))
                .collect(),
            tile: Vec::new(),
            cnorm: Vec::new(),
            qz: self.qz.clone(),
            thr: Vec::new(),
            pack: Vec::new(),
            stage: Vec::new(),
            stage_ids: Vec::new(),
            seen: 0,
            filtered: false,
            copy_scan: self.copy_scan,
            copy: self.copy.clone(),
        }
    }

    /// The per-query accumulators so far.
    pub fn heaps(&self) -> &[TopK] {
        &self.heaps
    }

    /// Merges another search over the same queries (e.g. another thread's row range).
    pub fn merge(&mut self, other: &MultiTopKSearch<'_, T>) {
        for (h, o) in self.heaps.iter_mut().zip(&other.heaps) {
            h.merge(o);
        }
        self.seen += other.seen;
        self.filtered |= other.filtered;
    }

    /// One result per query, best first; `EmptyCandidates` if no row was ever pushed (after a
    /// filtered push: empty results).
    pub fn finish(self) -> Result<Vec<TopKResult>, VectorError> {
        if self.seen == 0 && !self.filtered {
            return Err(VectorError::EmptyCandidates);
        }
        Ok(self.heaps.into_iter().map(TopK::into_sorted).collect())
    }
}

/// The `k` best candidates for every query row (fused, cache-blocked; see `MultiTopKSearch`).
pub fn multi_query_top_k<T: Element>(
    kernels: &Kernels,
    metric: Metric,
    queries: Matrix<'_, T>,
    candidates: Matrix<'_, T>,
    k: usize,
) -> Result<Vec<TopKResult>, VectorError> {
    multi_query_top_k_with(kernels, metric, queries, candidates, k, None, &Sequential)
}

/// Multi-query top-k over a `RowSource`.
pub fn multi_query_top_k_stream<T: Element, S: RowSource<T>>(
    kernels: &Kernels,
    metric: Metric,
    queries: Matrix<'_, T>,
    k: usize,
    source: &mut S,
) -> Result<Vec<TopKResult>, S::Error> {
    let s = MultiTopKSearch::new(kernels, metric, queries, k)?;
    driven::stream_search(s, source, None)
}

/// All pairwise scores: `out[i * b.rows() + j] = metric(a row i, b row j)`.
///
/// Dot and cosine use the blocked dot tile (same values as `compute`); the other metrics
/// visit `b` in cache-sized blocks with the row kernels. Empty inputs give an empty result.
pub fn cdist<T: Element>(
    kernels: &Kernels,
    metric: Metric,
    a: Matrix<'_, T>,
    b: Matrix<'_, T>,
    out: &mut [f64],
) -> Result<(), VectorError> {
    let (dk, pair) = kernels_for::<T>(kernels, metric)?;
    check_dim(a.dim(), b.dim())?;
    let (na, nb, dim) = (a.rows(), b.rows(), a.dim());
    check_dim(
        na.checked_mul(nb).ok_or(VectorError::BadShape {
            len: out.len(),
            rows: na,
            dim: nb,
        })?,
        out.len(),
    )?;
    let cb_max = block_rows::<T>(dim);
    let tiled = matches!(metric, Metric::Dot | Metric::Cosine) && dim > 0;
    let (tile, norm) = match (dk.dot_tile, dk.norm_sq) {
        (Some(t), Some(n)) if tiled => (Some(t), Some(n)),
        _ => (None, None),
    };
    let anorm: Vec<f64> = match (norm, metric) {
        (Some(f), Metric::Cosine) => (0..na).map(|i| f(a.row(i))).collect(),
        _ => Vec::new(),
    };
    let mut buf = Vec::new();
    let mut start = 0;
    while start < nb {
        let end = (start + cb_max).min(nb);
        let cb = end - start;
        let block = b.slice(start, end);
        if let (Some(tile), Some(norm)) = (tile, norm) {
            let bnorm: Vec<f64> = if metric == Metric::Cosine {
                (0..cb).map(|j| norm(block.row(j))).collect()
            } else {
                Vec::new()
            };
            buf.resize(QUERY_BLOCK * cb, 0.0);
            let mut q0 = 0;
            while q0 < na {
                let q1 = (q0 + QUERY_BLOCK).min(na);
                tile(
                    a.slice(q0, q1).data(),
                    q1 - q0,
                    block.data(),
                    cb,
                    dim,
                    &mut buf[..(q1 - q0) * cb],
                );
                for i in q0..q1 {
                    let src = &buf[(i - q0) * cb..(i - q0 + 1) * cb];
                    let dst = &mut out[i * nb + start..i * nb + end];
                    if metric == Metric::Cosine {
                        for j in 0..cb {
                            dst[j] = super::formulas::cosine(src[j], anorm[i], bnorm[j]);
                        }
                    } else {
                        dst.copy_from_slice(src);
                    }
                }
                q0 = q1;
            }
        } else {
            for i in 0..na {
                score_rows(
                    dk,
                    pair,
                    metric,
                    a.row(i),
                    block,
                    &mut out[i * nb + start..i * nb + end],
                );
            }
        }
        start = end;
    }
    Ok(())
}
