//! The norm cache: per-candidate squared norms computed once and kept by a caller that
//! searches the same candidates many times, so a single-query cosine / l2 / l2sq search
//! scores each row with the dot kernel alone (one FMA per element instead of two).
//!
//! Exactness: the dot score and the cached norms give a key that bounds the exact score from
//! the optimistic side (the fused multi-query kernel's key and threshold, `FusedScan`);
//! only rows whose key passes the heap's threshold are rescored with the metric's pair
//! kernel, and that is the score kept. Results are therefore bit for bit those of the search
//! without a cache; a stale cache (candidates changed after it was built) can make a search
//! miss rows, so build a new one after changing the candidates.

use super::{
    Element, ElementType, Matrix, Metric, ROW_CHUNK, RowIds, TopKSearch, VectorError, check_dim,
    fused_threshold, tile_slack,
};
use crate::vector::Kernels;

/// Squared norms (and norms) of every candidate row, for searches over the same candidates.
#[derive(Clone, Debug, PartialEq)]
pub struct NormCache {
    dtype: ElementType,
    dim: usize,
    norm_sq: Vec<f64>,
    /// `1/√norm_sq` (0 for a zero row, NaN when not finite): the cosine key's factor.
    inv_norm: Vec<f64>,
}

/// The cached norms of a range of rows (`NormCache::range`).
#[derive(Clone, Copy, Debug)]
pub struct Norms<'a> {
    norm_sq: &'a [f64],
    inv_norm: &'a [f64],
}

impl<'a> Norms<'a> {
    /// The squared norms, one per row of the range.
    pub fn norm_sq(&self) -> &'a [f64] {
        self.norm_sq
    }
}

impl NormCache {
    /// Computes the squared norm of every row with the table's `norm_sq` kernel (errors if
    /// the element type has none, e.g. uint8 bit vectors).
    pub fn new<T: Element>(
        kernels: &Kernels,
        candidates: Matrix<'_, T>,
    ) -> Result<Self, VectorError> {
        let norm = kernels
            .get::<T>()
            .norm_sq
            .ok_or(VectorError::UnsupportedDtype {
                metric: Metric::Cosine,
                dtype: T::TYPE,
            })?;
        let norm_sq = (0..candidates.rows())
            .map(|i| norm(candidates.row(i)))
            .collect();
        Ok(Self::from_norm_sq(T::TYPE, candidates.dim(), norm_sq))
    }

    /// A cache from squared norms computed elsewhere (e.g. kept by the caller), for rows of
    /// `dim` elements of `dtype`.
    pub fn from_norm_sq(dtype: ElementType, dim: usize, norm_sq: Vec<f64>) -> Self {
        let inv_norm = norm_sq
            .iter()
            .map(|&c: &f64| match c {
                _ if !c.is_finite() => f64::NAN,
                0.0 => 0.0,
                _ => 1.0 / c.sqrt(),
            })
            .collect();
        NormCache {
            dtype,
            dim,
            norm_sq,
            inv_norm,
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.norm_sq.len()
    }

    /// Row length the cache was built for.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Element type the cache was built for.
    pub fn dtype(&self) -> ElementType {
        self.dtype
    }

    /// The squared norms, one per row.
    pub fn norm_sq(&self) -> &[f64] {
        &self.norm_sq
    }

    /// True if the cache fits `rows` rows of `dim` elements of type `dtype`.
    pub fn fits(&self, dtype: ElementType, rows: usize, dim: usize) -> bool {
        self.dtype == dtype && self.dim == dim && self.rows() == rows
    }

    /// The norms of rows `start..end` (panics if out of range).
    pub fn range(&self, start: usize, end: usize) -> Norms<'_> {
        Norms {
            norm_sq: &self.norm_sq[start..end],
            inv_norm: &self.inv_norm[start..end],
        }
    }
}

impl<T: Element> TopKSearch<'_, T> {
    /// `push` with the rows' cached norms: cosine, l2 and l2sq score every row with the dot
    /// kernel and rescore only rows that may enter the heap (same results as `push`); other
    /// metrics, and tables without a dot rows kernel, run `push`.
    pub fn push_with_norms(
        &mut self,
        rows: Matrix<'_, T>,
        ids: RowIds<'_>,
        norms: Norms<'_>,
    ) -> Result<(), VectorError> {
        check_dim(rows.dim(), self.query.len())?;
        ids.check(rows.rows())?;
        check_dim(rows.rows(), norms.norm_sq.len())?;
        let dot_rows = self.dk.rows[Metric::Dot.index()];
        let (Some(dot_rows), Some(norm), true) = (
            dot_rows,
            self.dk.norm_sq,
            matches!(self.metric, Metric::Cosine | Metric::L2 | Metric::L2sq) && rows.dim() > 0,
        ) else {
            return self.push(rows, ids);
        };
        let metric = self.metric;
        let qq = norm(self.query);
        let rel = 2.0 * tile_slack(T::TYPE, rows.dim());
        let mut buf = [0f64; ROW_CHUNK];
        let n = rows.rows();
        let mut start = 0;
        while start < n {
            let end = (start + ROW_CHUNK).min(n);
            let keys = &mut buf[..end - start];
            dot_rows(self.query, rows.slice(start, end).data(), rows.dim(), keys);
            // The fused kernel's key (`FusedScan`), in tight loops the compiler vectorises;
            // a row whose norm is not finite gets a NaN key (always rescored).
            if metric == Metric::Cosine {
                for (d, &x) in keys.iter_mut().zip(&norms.inv_norm[start..end]) {
                    *d *= x;
                }
            } else {
                let f = 1.0 - 2.0 * rel;
                for (d, &cc) in keys.iter_mut().zip(&norms.norm_sq[start..end]) {
                    *d = if cc.is_finite() {
                        2.0 * *d - cc * f
                    } else {
                        f64::NAN
                    };
                }
            }
            let mut thr = fused_threshold(metric, &self.topk, qq, rel) as f64;
            let mut j = 0;
            while j < keys.len() {
                while j < keys.len() && keys[j] < thr {
                    j += 1;
                }
                if j == keys.len() {
                    break;
                }
                let r = start + j;
                let s = (self.pair)(self.query, rows.row(r));
                self.topk.push(s, ids.id(r));
                thr = fused_threshold(metric, &self.topk, qq, rel) as f64;
                j += 1;
            }
            start = end;
        }
        self.seen += n as u64;
        Ok(())
    }
}

/// Single-query top-k using the candidates' norm cache (same results as `top_k`); errors if
/// the cache was built for other candidates (row count, length or element type).
pub fn top_k_cached<T: Element>(
    kernels: &Kernels,
    metric: Metric,
    query: &[T],
    candidates: Matrix<'_, T>,
    k: usize,
    cache: &NormCache,
) -> Result<crate::vector::TopKResult, VectorError> {
    let d = &super::driven::Sequential;
    super::driven::top_k_cached_with(kernels, metric, query, candidates, k, cache, d)
}

impl NormCache {
    /// Errors unless the cache was built for `candidates` (rows, length, element type).
    pub fn check<T: Element>(&self, candidates: Matrix<'_, T>) -> Result<(), VectorError> {
        if self.dtype != T::TYPE {
            return Err(VectorError::Unsearchable {
                dtype: self.dtype.name(),
                as_type: T::TYPE,
            });
        }
        check_dim(self.dim, candidates.dim())?;
        check_dim(self.rows(), candidates.rows())
    }
}
