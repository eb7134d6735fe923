//! The norm cache: per-candidate squared norms computed once and kept by a caller that
//! searches the same candidates many times, so a single-query cosine / l2 / l2sq search
//! scores each row with the dot kernel alone (one FMA per element instead of two); with a
//! bfloat16 copy of float32 rows kept too, single-query searches read the copy (`CopyQuery`).
//!
//! Exactness: the dot score and the cached norms give a key that bounds the exact score from
//! the optimistic side (the fused multi-query kernel's key and threshold, `FusedScan`);
//! only rows whose key passes the heap's threshold are rescored with the metric's pair
//! kernel, and that is the score kept. Results are therefore bit for bit those of the search
//! without a cache; a stale cache (candidates changed after it was built) can make a search
//! miss rows, so build a new one after changing the candidates.

use super::{
    Element, ElementType, FUSED_ROWS, Matrix, Metric, ROW_CHUNK, RowIds, TopKSearch, VectorError,
    check_dim, down32, fused_threshold, tile_slack,
};
use crate::vector::Kernels;
use crate::vector::generic::CopyScan;
use half::bf16;

/// Squared norms (and norms) of every candidate row, for searches over the same candidates.
#[derive(Clone, Debug, PartialEq)]
pub struct NormCache {
    dtype: ElementType,
    dim: usize,
    norm_sq: Vec<f64>,
    /// `1/√norm_sq` (0 for a zero row, NaN when not finite): the cosine key's factor.
    inv_norm: Vec<f64>,
    /// When asked for (`with_bf16_copy`): the float32 rows rounded to bfloat16 (round to
    /// nearest even), row-major; a one-query search reads them and rescores from float32.
    copy: Option<Vec<bf16>>,
}

/// The cached norms of a range of rows (`NormCache::range`).
#[derive(Clone, Copy, Debug)]
pub struct Norms<'a> {
    norm_sq: &'a [f64],
    inv_norm: &'a [f64],
    /// The rows' bfloat16 copy (see `NormCache::with_bf16_copy`).
    copy: Option<&'a [bf16]>,
}

impl<'a> Norms<'a> {
    /// The squared norms, one per row of the range.
    pub fn norm_sq(&self) -> &'a [f64] {
        self.norm_sq
    }
}

/// Appends the bfloat16 copy of row `x` to `copy`; returns `‖x − x̃‖²` (an f64 sum of exact
/// differences) and whether `x` and its copy are finite.
fn copy_row(x: impl Iterator<Item = f64>, copy: &mut Vec<bf16>) -> (f64, bool) {
    let (mut e2, mut finite) = (0f64, true);
    for v in x {
        let b = bf16::from_f64(v);
        copy.push(b);
        let d = v - b.to_f64();
        finite &= v.is_finite() && b.is_finite();
        e2 += d * d;
    }
    (e2, finite)
}

/// `v` rounded to bfloat16, to nearest even (`bf16::from_f32`'s value), in branch-free integer
/// steps the compiler vectorises; a NaN stays a NaN.
fn bf16_of_f32(v: f32) -> bf16 {
    let b = v.to_bits();
    let rounded = b.wrapping_add(0x7fff + ((b >> 16) & 1)) >> 16;
    let nan = (b & 0x7fff_ffff) > 0x7f80_0000;
    bf16::from_bits(if nan { (b >> 16) | 0x40 } else { rounded } as u16)
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
            copy: None,
        }
    }

    /// This cache with a bfloat16 copy of `candidates` (the rows it was built for; float32
    /// only): one-query dot, cosine, l2 and l2sq searches then read the copy, half the bytes
    /// of the rows, bound each score's rounding from the cached norm (`CopyQuery`), and
    /// rescore with the float32 rows every row that may enter the result, so results are bit
    /// for bit those without the copy. Costs half the rows' size in memory.
    pub fn with_bf16_copy<T: Element>(
        self,
        candidates: Matrix<'_, T>,
    ) -> Result<Self, VectorError> {
        self.with_bf16_copy_in(candidates, Vec::new())
    }

    /// `with_bf16_copy`, writing the copy into `rows` (cleared first): a caller that wants the
    /// copy in memory of its choosing (e.g. advised for huge pages) passes it with enough
    /// capacity.
    pub fn with_bf16_copy_in<T: Element>(
        mut self,
        candidates: Matrix<'_, T>,
        mut rows: Vec<bf16>,
    ) -> Result<Self, VectorError> {
        Self::check_copy_dtype(T::TYPE)?;
        self.check(candidates)?;
        let n = candidates.rows();
        rows.clear();
        rows.reserve(n * candidates.dim());
        // A row whose copy is not finite (|x| beyond bfloat16's range) gets NaN norms: its
        // key is then NaN, and the row always rescored.
        for i in 0..n {
            let start = rows.len();
            rows.extend(
                candidates
                    .row(i)
                    .iter()
                    .map(|x| bf16_of_f32(x.to_f64() as f32)),
            );
            // Not finite (bfloat16's exponent all ones): ±inf, NaN, or rounded beyond its range.
            let finite = rows[start..].iter().all(|b| b.to_bits() & 0x7f80 != 0x7f80);
            if !finite {
                (self.norm_sq[i], self.inv_norm[i]) = (f64::NAN, f64::NAN);
            }
        }
        self.copy = Some(rows);
        Ok(self)
    }

    /// Errors unless a bfloat16 copy may be kept of rows of `dtype` (float32 only).
    pub fn check_copy_dtype(dtype: ElementType) -> Result<(), VectorError> {
        if dtype == ElementType::F32 {
            Ok(())
        } else {
            Err(VectorError::CopyNeedsFloat32 { dtype })
        }
    }

    /// One cache from caches of consecutive row ranges, in order (e.g. built by several
    /// threads): their norms, and their bfloat16 copies written into `rows` (cleared first)
    /// when every piece has one (else the result has no copy). Errors if there is no piece or
    /// the pieces differ in element type or row length.
    pub fn concat(pieces: Vec<NormCache>, mut rows: Vec<bf16>) -> Result<Self, VectorError> {
        let Some(first) = pieces.first() else {
            return Err(VectorError::EmptyCandidates);
        };
        let (dtype, dim) = (first.dtype, first.dim);
        let copied = pieces.iter().all(|p| p.copy.is_some());
        let mut out = NormCache {
            dtype,
            dim,
            norm_sq: Vec::with_capacity(pieces.iter().map(|p| p.rows()).sum()),
            inv_norm: Vec::new(),
            copy: None,
        };
        rows.clear();
        for p in pieces {
            if p.dtype != dtype {
                return Err(VectorError::Unsearchable {
                    dtype: p.dtype.name(),
                    as_type: dtype,
                });
            }
            check_dim(dim, p.dim)?;
            if let (Some(c), true) = (&p.copy, copied) {
                rows.extend_from_slice(c);
            }
            out.norm_sq.extend_from_slice(&p.norm_sq);
            out.inv_norm.extend_from_slice(&p.inv_norm);
        }
        out.copy = copied.then_some(rows);
        Ok(out)
    }

    /// Whether the cache holds a bfloat16 copy of the rows.
    pub fn has_bf16_copy(&self) -> bool {
        self.copy.is_some()
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
            copy: self
                .copy
                .as_ref()
                .map(|c| &c[start * self.dim..end * self.dim]),
        }
    }
}

impl<T: Element> TopKSearch<'_, T> {
    /// `push` with the rows' cached norms: cosine, l2 and l2sq score every row with the dot
    /// kernel and rescore only rows that may enter the heap (same results as `push`); with a
    /// bfloat16 copy in the cache, dot too, and the dot products are read from the copy
    /// (`NormCache::with_bf16_copy`). Other metrics, and tables without a dot rows kernel, run
    /// `push`.
    pub fn push_with_norms(
        &mut self,
        rows: Matrix<'_, T>,
        ids: RowIds<'_>,
        norms: Norms<'_>,
    ) -> Result<(), VectorError> {
        check_dim(rows.dim(), self.query.len())?;
        ids.check(rows.rows())?;
        check_dim(rows.rows(), norms.norm_sq.len())?;
        let dim = rows.dim();
        let metric = self.metric;
        let copy = norms.copy.zip(self.copy_dot); // (`copy_dot`: float32 searches only)
        let keyed = match copy {
            Some(_) => matches!(
                metric,
                Metric::Dot | Metric::Cosine | Metric::L2 | Metric::L2sq
            ),
            None => matches!(metric, Metric::Cosine | Metric::L2 | Metric::L2sq),
        };
        let dot_rows = self.dk.rows[Metric::Dot.index()];
        let (Some(dot_rows), Some(norm), true) = (dot_rows, self.dk.norm_sq, keyed && dim > 0)
        else {
            return self.push(rows, ids);
        };
        let qq = norm(self.query);
        let rel = 2.0 * tile_slack(T::TYPE, dim);
        // With the copy: the query rounded to bfloat16 and the terms of each row's key.
        let from_copy = copy.map(|(c, f)| (c, f, CopyQuery::new(self.query, qq, rel, dim)));
        let mut buf = [0f64; ROW_CHUNK];
        let n = rows.rows();
        let mut start = 0;
        while start < n {
            let end = (start + ROW_CHUNK).min(n);
            let keys = &mut buf[..end - start];
            let (cc, inv) = (&norms.norm_sq[start..end], &norms.inv_norm[start..end]);
            if let Some((c, dot_copy, q)) = &from_copy {
                dot_copy(&q.rows, &c[start * dim..end * dim], dim, keys);
                q.keys(metric, keys, cc, inv);
            } else {
                dot_rows(self.query, rows.slice(start, end).data(), dim, keys);
                // The fused kernel's key (`FusedScan`), in tight loops the compiler
                // vectorises; a row whose norm is not finite gets a NaN key (always rescored).
                if metric == Metric::Cosine {
                    for (d, &x) in keys.iter_mut().zip(inv) {
                        *d *= x;
                    }
                } else {
                    let f = 1.0 - 2.0 * rel;
                    for (d, &cc) in keys.iter_mut().zip(cc) {
                        *d = if cc.is_finite() {
                            2.0 * *d - cc * f
                        } else {
                            f64::NAN
                        };
                    }
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

/// f64 rounding allowance: `2⁻⁴⁰` relative, far above the few roundings of a key.
const ULPS: f64 = 1.0 / (1u64 << 40) as f64;

/// A query for the bfloat16 copy: its elements rounded to bfloat16 (`q̃`), and the terms that
/// turn the copy's dot product `d̃ = q̃·x̃` of a row `x` into a key at least the fused kernel's
/// key of the exact `q·x` (`FusedScan`), so a row is rescored whenever it may enter the heap.
///
/// The bound: `|q·x − d̃| ≤ ‖q‖·‖x − x̃‖ + ‖q − q̃‖·‖x̃‖ + s·‖q̃‖·‖x̃‖` (Cauchy–Schwarz on
/// `q·(x − x̃) + (q − q̃)·x̃`, then the bfloat16 kernels' f32 accumulation, `s` =
/// `tile_slack`), plus what flushing subnormals to zero may add (`CopyScan` allows it). Rounding to bfloat16 (8 significant bits) moves each element by at most
/// `2⁻⁸` of itself or `2⁻¹³⁴` (subnormals), so `‖x − x̃‖ ≤ 2⁻⁸‖x‖ + δ` and `‖x̃‖ ≤ (1 +
/// 2⁻⁸)‖x‖ + δ` with `δ = 2⁻¹³⁴·√dim`; and `‖x‖ ≤ √cc·(1 + rel)` from the cached squared
/// norm. Hence `|q·x − d̃| ≤ k·√cc + e`, with `k` and `e` per query below.
#[derive(Clone, Debug)]
struct CopyQuery {
    rows: Vec<bf16>,
    /// `k`: the bound's factor of `√cc`.
    k: f64,
    /// `e`: the bound's constant term.
    e: f64,
    /// The fused dot key's slack factor of `√cc` (`rel·√qq`).
    dot_slack: f64,
    /// `1 − 2·rel`, the l2 key's factor of `cc`.
    l2_factor: f64,
}

impl CopyQuery {
    /// For a query of `dim` elements with squared norm `qq` (the kernel's), and the key slack
    /// `rel`; NaN terms (every key NaN, every row rescored) when the query is not finite.
    fn new<T: Element>(query: &[T], qq: f64, rel: f64, dim: usize) -> Self {
        let mut rows = Vec::with_capacity(dim);
        let (qe2, finite) = copy_row(query.iter().map(|x| x.to_f64()), &mut rows);
        let up = |x: f64| x * (1.0 + ULPS);
        let q_norm = up(up(query.iter().map(|x| x.to_f64() * x.to_f64()).sum::<f64>()).sqrt());
        let q_err = up(up(qe2).sqrt());
        let s = tile_slack(ElementType::Bf16, dim);
        let u = 1.0 / 256.0;
        let root = (dim as f64).sqrt();
        let delta = up(root * f64::powi(2.0, -134));
        // a·‖x − x̃‖ + b·‖x̃‖ with a = ‖q‖, b = ‖q − q̃‖ + s·(‖q‖ + ‖q − q̃‖).
        let (a, b) = (q_norm, up(q_err + s * (q_norm + q_err)));
        // Flushing (`CopyScan`): subnormal inputs read as zero move d̃ by at most
        // `2⁻¹²⁶·(‖q̃‖₁ + ‖x̃‖₁) ≤ 2⁻¹²⁶·√dim·(‖q̃‖ + ‖x̃‖)`, and each of the at most `2·dim`
        // products and sums flushed or underflowing by less than `2⁻¹²⁶`.
        let tiny = f64::powi(2.0, -126);
        let flush_k = up(tiny * root * (1.0 + u) * (1.0 + rel));
        let flush_e =
            up(tiny * root * ((1.0 + u) * q_norm + 2.0 * delta) + dim as f64 * 2.0 * tiny);
        let k = up(up(a * u + b * (1.0 + u)) * (1.0 + rel)) + flush_k;
        let e = up((a + b) * delta) + flush_e;
        let nan = if finite { 0.0 } else { f64::NAN };
        CopyQuery {
            rows,
            k: k + nan,
            e: e + nan,
            dot_slack: up(rel * qq.sqrt()),
            l2_factor: 1.0 - 2.0 * rel,
        }
    }

    /// Turns the copy's dot products `dots` of rows with squared norms `cc` and inverse norms
    /// `inv` into keys (see the type's comment; NaN for a row whose norm is not finite).
    fn keys(&self, metric: Metric, dots: &mut [f64], cc: &[f64], inv: &[f64]) {
        let (k, e) = (self.k, self.e);
        match metric {
            Metric::Dot => {
                let g = (k + self.dot_slack) * (1.0 + ULPS);
                for (d, &c) in dots.iter_mut().zip(cc) {
                    *d += g * c.sqrt() + e + d.abs() * ULPS;
                }
            }
            Metric::Cosine => {
                // √cc · (1/√cc) ≤ 1 + 2⁻⁵⁰: the √cc term is the constant k.
                let k1 = k * (1.0 + ULPS);
                for (d, &x) in dots.iter_mut().zip(inv) {
                    let key = *d * x;
                    *d = key + k1 + e * x + key.abs() * ULPS;
                }
            }
            _ => {
                let f = self.l2_factor;
                for (d, &c) in dots.iter_mut().zip(cc) {
                    let key = 2.0 * (*d + k * c.sqrt() + e) - c * f;
                    *d = if c.is_finite() {
                        key + (d.abs() + c) * 4.0 * ULPS
                    } else {
                        f64::NAN
                    };
                }
            }
        }
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

/// Norms beyond which a row or query takes no part in the copy kernel's f32 keys (its keys
/// are NaN: every pair rescored), so no f32 key term can overflow or lose its range:
/// squared norms above `2¹⁰⁰` or below `2⁻¹⁰⁰` (zero allowed).
const COPY_BIG: f64 = 1.2676506002282294e30; // 2^100
const COPY_SMALL: f64 = 7.888609052210118e-31; // 2^-100
/// The f32 keys' margin: a per-query factor `1 + 2⁻¹²` on the bound's terms, far above the
/// `2⁻²³` relative rounding of the kernel's two fused multiply-adds and of the f32 terms.
const COPY_MARGIN: f64 = 1.0 + 1.0 / 4096.0;

/// `x` rounded up to f32.
fn up32(x: f64) -> f32 {
    let f = x as f32;
    if (f as f64) < x { f.next_up() } else { f }
}

/// The per-query terms of the bfloat16-copy multi-query key (`MultiTopKSearch::push_copy`),
/// and the per-block buffers of the kernel call.
///
/// The kernel's key is `alpha·d̃ + a·u + w` (`CopyScan`), compared with the fused threshold
/// lowered by `shift`; from `CopyQuery`'s bound (`k`, `e`) per metric:
/// - dot: `a = (k + rel·√qq)·m`, `u = √cc`, `shift = e·m`;
/// - cosine: `alpha = 1/√cc`, `a = e·m`, `u = 1/√cc`, `shift = k·m`;
/// - l2, l2sq: `alpha = 2`, `a = 2k·m`, `u = √cc`, `w = −cc·(1 − 2·rel − 2⁻²⁰)`, `shift = 2e·m`;
///   (`w` to the nearest f32: the `2⁻²⁰·cc` allowance covers that rounding too)
///
/// with `m = COPY_MARGIN`, `u` rounded up. Each is `CopyQuery::keys` with the per-query
/// constant moved to the threshold; the margin `m` (at least `2⁻¹²·k·√cc ≥ 2⁻²⁰·‖q‖·√cc`,
/// as `k ≥ 2⁻⁸‖q‖`) and the `2⁻²⁰·cc` in `w` cover the `2⁻²³` relative rounding of the f32
/// evaluation, whose terms are at most `1.02·‖q‖·√cc` (the product `alpha·d̃`), `a·u`, `|w|`.
#[derive(Clone, Debug)]
pub(super) struct CopyQueries {
    /// Every query rounded to bfloat16, row after row.
    rows: Vec<bf16>,
    /// Per query: the kernel's `a`, and the threshold's `shift`.
    a: Vec<f32>,
    shift: Vec<f64>,
    /// Per block: rows' `alpha`, `u`, `w`; queries' thresholds; the kernel's scratch.
    alpha: Vec<f32>,
    u: Vec<f32>,
    w: Vec<f32>,
    thr: Vec<f32>,
    scratch: Vec<u32>,
}

impl CopyQueries {
    fn new<T: Element>(metric: Metric, queries: Matrix<'_, T>, qnorm: &[f64], rel: f64) -> Self {
        let dim = queries.dim();
        let nq = queries.rows();
        let (mut rows, mut a, mut shift) = (Vec::with_capacity(nq * dim), vec![], vec![]);
        for (i, &qq) in qnorm.iter().enumerate().take(nq) {
            let q = CopyQuery::new(queries.row(i), qq, rel, dim);
            rows.extend_from_slice(&q.rows);
            let m = COPY_MARGIN;
            let (ai, si) = match metric {
                Metric::Dot => ((q.k + q.dot_slack) * m, q.e * m),
                Metric::Cosine => (q.e * m, q.k * m),
                _ => (2.0 * q.k * m, 2.0 * q.e * m),
            };
            let usable = qq <= COPY_BIG && ai.is_finite() && si.is_finite();
            a.push(if usable { up32(ai) } else { f32::NAN });
            shift.push(if usable { si } else { 0.0 });
        }
        CopyQueries {
            rows,
            a,
            shift,
            alpha: vec![],
            u: vec![],
            w: vec![],
            thr: vec![],
            scratch: vec![],
        }
    }

    /// The rows' terms of the key from their cached norms (NaN `alpha`: always reported), in
    /// straight loops the compiler vectorises. `√cc` is `cc·(1/√cc)` (two roundings from the
    /// cached inverse, within `2⁻⁵⁰`); a positive term is rounded up to f32 by taking
    /// `x·(1 + 2⁻²⁰)` to the nearest f32 (at most `2⁻²⁴` away; every term is ≥ `2⁻⁵¹` here).
    fn fill_rows(&mut self, metric: Metric, norms: Norms<'_>, rel: f64) {
        const UP: f64 = 1.0 + 1.0 / (1u64 << 20) as f64;
        let l2_factor = 1.0 - 2.0 * rel - 1.0 / (1u64 << 20) as f64;
        let n = norms.norm_sq.len();
        self.alpha.resize(n, 0.0);
        self.u.resize(n, 0.0);
        self.w.resize(n, 0.0);
        let rows = norms.norm_sq.iter().zip(norms.inv_norm);
        let out = self
            .alpha
            .iter_mut()
            .zip(self.u.iter_mut())
            .zip(self.w.iter_mut());
        for ((&cc, &inv), ((alpha, u), w)) in rows.zip(out) {
            let usable = cc <= COPY_BIG && (cc == 0.0 || cc >= COPY_SMALL); // false for NaN
            let root = (cc * inv * (1.0 + ULPS) * UP) as f32;
            let (a, uu, ww) = match metric {
                Metric::Dot => (1.0, root, 0.0),
                Metric::Cosine => (inv as f32, (inv * UP) as f32, 0.0),
                _ => (2.0, root, (-cc * l2_factor) as f32),
            };
            *alpha = if usable { a } else { f32::NAN };
            *u = if usable { uu } else { 0.0 };
            *w = if usable { ww } else { 0.0 };
        }
    }
}

/// The copy kernel's threshold: the fused threshold `t` lowered by `shift`, rounded down.
fn copy_threshold(t: f32, shift: f64) -> f32 {
    if t == f32::NEG_INFINITY {
        t
    } else {
        down32(t as f64 - shift)
    }
}

impl<T: Element> super::MultiTopKSearch<'_, T> {
    /// With a bfloat16 copy in `norms` and a tier kernel that takes this row length: scores
    /// the rows' copy with the tier's `CopyScan` kernel (keys bounding the fused kernel's,
    /// see `CopyQueries`), rescores every reported pair from the float32 rows, and returns
    /// true; false (nothing done) when the copy cannot serve this search.
    pub(super) fn push_copy(
        &mut self,
        rows: Matrix<'_, T>,
        ids: RowIds<'_>,
        norms: Norms<'_>,
    ) -> Result<bool, VectorError> {
        let dim = self.queries.dim();
        let (Some(kernel), Some(copy)) = (self.copy_scan, norms.copy) else {
            return Ok(false);
        };
        let keyed = matches!(
            self.metric,
            Metric::Dot | Metric::Cosine | Metric::L2 | Metric::L2sq
        );
        if !keyed
            || dim == 0
            || !dim.is_multiple_of(kernel.dim_multiple)
            || self.dk.norm_sq.is_none()
        {
            return Ok(false);
        }
        check_dim(dim, rows.dim())?;
        ids.check(rows.rows())?;
        check_dim(rows.rows(), norms.norm_sq.len())?;
        check_dim(rows.rows() * dim, copy.len())?;
        let rel = 2.0 * tile_slack(ElementType::F32, dim);
        let metric = self.metric;
        let cq = self
            .copy
            .get_or_insert_with(|| CopyQueries::new(metric, self.queries, &self.qnorm, rel));
        let (heaps, qnorm, queries, pair) = (&mut self.heaps, &self.qnorm, self.queries, self.pair);
        let n = rows.rows();
        let mut start = 0;
        while start < n {
            let end = (start + FUSED_ROWS).min(n);
            let block = rows.slice(start, end);
            let bids = ids.skip(start);
            cq.fill_rows(metric, norms.range_of(start, end), rel);
            cq.thr.clear();
            cq.thr.extend(
                heaps
                    .iter()
                    .zip(qnorm)
                    .zip(&cq.shift)
                    .map(|((h, &qq), &s)| copy_threshold(fused_threshold(metric, h, qq, rel), s)),
            );
            let shift = &cq.shift;
            let mut hit = |qi: usize, j: usize| -> f32 {
                let h = &mut heaps[qi];
                h.push(pair(queries.row(qi), block.row(j)), bids.id(j));
                copy_threshold(fused_threshold(metric, h, qnorm[qi], rel), shift[qi])
            };
            let mut scan = CopyScan {
                queries: &cq.rows,
                rows: &copy[start * dim..end * dim],
                dim,
                alpha: &cq.alpha,
                u: &cq.u,
                w: &cq.w,
                a: &cq.a,
                thr: &mut cq.thr,
                scratch: &mut cq.scratch,
            };
            (kernel.scan)(&mut scan, &mut hit);
            start = end;
        }
        self.seen += n as u64;
        Ok(true)
    }
}

impl<'a> Norms<'a> {
    /// Rows `start..end` of these norms (relative to the range's first row).
    fn range_of(&self, start: usize, end: usize) -> Norms<'a> {
        let dim = match self.copy {
            Some(c) if !self.norm_sq.is_empty() => c.len() / self.norm_sq.len(),
            _ => 0,
        };
        Norms {
            norm_sq: &self.norm_sq[start..end],
            inv_norm: &self.inv_norm[start..end],
            copy: self.copy.map(|c| &c[start * dim..end * dim]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bf16_rounding_matches_half() {
        let mut x = 0x9E37_79B9u32;
        let specials = [
            0.0f32,
            -0.0,
            1.0,
            f32::MAX,
            f32::MIN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            1e-40,
            -1e-45,
            3.3895314e38,
        ];
        let randoms = (0..200_000).map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            f32::from_bits(x)
        });
        for v in specials.into_iter().chain(randoms) {
            let (ours, half) = (bf16_of_f32(v), bf16::from_f32(v));
            if v.is_nan() {
                assert!(ours.is_nan(), "{v:?}");
            } else {
                assert_eq!(ours.to_bits(), half.to_bits(), "{v:e}");
            }
        }
    }
}
