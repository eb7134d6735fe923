//! The fused multi-query kernel, written once over `Lanes` (candidate norms) and `Panel`
//! (queries packed `W` per vector): dot products of a query group × candidate tile in
//! registers, the per-query threshold check inline, only surviving pairs leave the kernel.

use super::super::lanes::{Lanes, Panel};
use super::super::{Element, Matrix, Metric};
use super::norm_sq;

/// The fused multi-query kernel: scores a block of candidates against every query and calls
/// `hit(query, candidate row)` for each pair that passes the query's threshold; `hit` returns
/// the query's new threshold. See `FusedScan`.
pub type FusedFn<T> = fn(scan: &mut FusedScan<'_, T>, hit: &mut dyn FnMut(usize, usize) -> f32);

/// One call of the fused multi-query kernel (`DTypeKernels::fused`).
///
/// For query `i` and candidate `j` the kernel computes, in f32, the dot product `d` of the two
/// rows (any summation order); the candidate's squared norm `cc` is `norm_sq[j]` when given,
/// else `norm_sq` of the row (the norm cache's value within the slack `rel`: a tier may fill
/// the cache with another lanes type's kernel); then the key: `d + y·qz[i]`
/// with `y = rel·√cc` (dot), `d·x` with `x = 1/√cc` (cosine; `x = 0` when `cc = 0`), `2·d + y`
/// with `y = −cc·(1 − 2·rel)` (l2, l2sq); `x` and `y` are NaN (so is the key) when `cc` is not
/// finite. Pairs with `!(key < thr[i])` are reported through `hit`, which returns the new
/// `thr[i]` (thresholds only ever rise, so a stale one is merely more permissive).
pub struct FusedScan<'a, T> {
    /// Dot, cosine, l2 or l2sq (selects `x` and `y`).
    pub metric: Metric,
    /// The query rows.
    pub queries: Matrix<'a, T>,
    /// The candidate rows of this block (same `dim`).
    pub cands: Matrix<'a, T>,
    /// Per-query factor of the dot key's candidate term (one per query; read for dot only).
    pub qz: &'a [f32],
    /// Per-query thresholds (one per query), updated in place.
    pub thr: &'a mut [f32],
    /// Relative rounding slack used in `y`.
    pub rel: f64,
    /// Reusable scratch memory for the packed queries.
    pub scratch: &'a mut Vec<f32>,
    /// The candidates' squared norms when the caller keeps them (`NormCache`), one per row;
    /// otherwise the kernel computes them from the rows.
    pub norm_sq: Option<&'a [f64]>,
}

/// Candidate bytes per sub-block: every query group visits a sub-block before the next one is
/// read, so it must stay in L2 (next to the packed queries) while being re-read.
const SUB_BYTES: usize = 256 * 1024;

/// f32 per cache line: the packed panels are aligned to it.
const ALIGN_F32: usize = 16;

/// The fused multi-query kernel (contract: `FusedScan`), a GEMM-style loop nest:
///
/// - the queries are packed once per call into groups of up to `NV` vectors (`NV·W` queries,
///   converted to f32), each group one contiguous panel `[dim][NV·W]`: the panel a
///   micro-kernel streams is a single forward run that stays in L1 (32 KB for 64 queries of
///   dimension 128) while every candidate tile of a sub-block visits it;
/// - candidates are taken in sub-blocks of about `SUB_BYTES` (read from memory by the first
///   group, from L2 by the others), and within a sub-block in tiles of `MR` rows; while a tile
///   is scored, the next tile's rows are prefetched into L1 (`prefetch_next_tile`), and the
///   first pass over a sub-block computes each candidate's squared norm and key coefficients
///   from the tile it has just brought into L1 (`Keys::tile`) for every later pass to read, so
///   no separate pass over the candidates waits on memory (with cached norms, `Coeffs::fill`
///   derives the sub-block's coefficients from them before its first pass instead);
/// - the micro-kernel (`block`) broadcasts each candidate element and multiplies it into
///   `MR × N` accumulators (one candidate's dot products with `W` queries each; sequential f32
///   FMA over the dimension), then compares the keys with the thresholds in registers;
/// - when the queries leave a remainder of at most `W/4` after the whole vectors (100 queries
///   of 16 lanes: 6 vectors and 4 queries), the remainder is not padded to a vector of `W`
///   queries (which would cost a whole vector's FMAs for a quarter of its lanes) but packed
///   into one *quad vector*, four dimensions per query, `[dim/4][W]` (`quad_block`): each FMA
///   then multiplies four consecutive elements of a candidate (`Panel::splat_quad`) with four
///   dimensions of each remainder query, and the four partial sums per query are added at the
///   end (`Panel::sum_quads`), so the remainder costs `dim/4` FMAs per candidate, not `dim`.
///
/// # Safety
/// `scan.queries.dim() == scan.cands.dim() > 0`, `scan.qz.len() == scan.thr.len() ==
/// scan.queries.rows()`, `NV` in 1..=4, `MR >= 1`, and the ISAs of `V` and `P` must be available.
#[inline(always)]
pub unsafe fn fused_scan<T, V, P, const MR: usize, const NV: usize>(
    scan: &mut FusedScan<'_, T>,
    hit: &mut dyn FnMut(usize, usize) -> f32,
) where
    T: Element,
    V: Lanes<T>,
    P: Panel<T>,
{
    let w = P::W;
    let (nq, nc, dim) = (scan.queries.rows(), scan.cands.rows(), scan.queries.dim());
    debug_assert!(
        dim > 0 && scan.cands.dim() == dim && scan.qz.len() == nq && scan.thr.len() == nq
    );
    debug_assert!(scan.norm_sq.is_none_or(|c| c.len() == nc));
    debug_assert!((1..=4).contains(&NV) && MR >= 1 && w <= 64);
    // Whole query vectors, and the remainder packed into a quad vector when it fits one.
    let rem = nq % w;
    let quad = rem > 0 && rem <= w / 4;
    let nvec = if quad { nq / w } else { nq.div_ceil(w) };
    let nqp = nq.div_ceil(w) * w;
    let (q0, dq) = (nvec * w, dim.div_ceil(4));
    let quad_len = if quad { dq * w + 2 * w } else { 0 };
    let sub = (SUB_BYTES / (dim * core::mem::size_of::<T>()))
        .div_ceil(MR)
        .max(1)
        * MR;
    // Scratch: packed query panels (dim * nvec * w), the quad panel with its thresholds and
    // qz (dq * w + 2 * w, when used), thresholds (nqp), qz (nqp), then the key coefficients
    // x and y of one sub-block's candidates (sub each).
    let sc = &mut *scan.scratch;
    sc.clear();
    sc.resize(
        dim * nvec * w + quad_len + 2 * nqp + 2 * sub + ALIGN_F32,
        0.0,
    );
    // The panels start on a cache line, so no vector load of them straddles two lines.
    let skip = sc.as_ptr().align_offset(ALIGN_F32 * 4).min(ALIGN_F32);
    let (qt, rest) = sc[skip..].split_at_mut(dim * nvec * w);
    let (quad_panel, rest) = rest.split_at_mut(quad_len);
    let (quad_panel, quad_keys) = quad_panel.split_at_mut(quad_len.saturating_sub(2 * w));
    let (thr, rest) = rest.split_at_mut(nqp);
    let (qz, rest) = rest.split_at_mut(nqp);
    let (xs, ys) = rest.split_at_mut(sub);
    let qd = scan.queries.data();
    if quad {
        for qi in q0..nq {
            // Lane `4·slot + d % 4` of quad step `d / 4` holds dimension `d` of query `q0 + slot`.
            let slot = qi - q0;
            for (d, &x) in qd[qi * dim..(qi + 1) * dim].iter().enumerate() {
                quad_panel[d / 4 * w + 4 * slot + d % 4] = x.to_f64() as f32;
            }
        }
    }
    for qi in 0..q0.min(nq) {
        // Vector `v` of the group starting at vector `g0` (of `ng` vectors) holds, at
        // dimension `d`, element `g0·w·dim + d·ng·w + (v − g0)·w + lane`.
        let (v, lane) = (qi / w, qi % w);
        let g0 = v / NV * NV;
        let ng = NV.min(nvec - g0);
        let base = g0 * w * dim + (v - g0) * w + lane;
        for (d, &x) in qd[qi * dim..(qi + 1) * dim].iter().enumerate() {
            qt[base + d * ng * w] = x.to_f64() as f32;
        }
    }
    thr[..nq].copy_from_slice(scan.thr);
    thr[nq..].fill(f32::INFINITY);
    qz[..nq].copy_from_slice(scan.qz);
    let last_valid = if quad || rem == 0 { w } else { rem };
    let last = (nvec, u64::MAX >> (64 - last_valid));
    // The quad vector's thresholds and qz, each repeated over its query's four lanes (padding
    // slots: +∞ and 0), and its valid lanes: the first lane of each remainder query's quad.
    let (thr4, qz4) = quad_keys.split_at_mut(quad_keys.len() / 2);
    for l in 0..thr4.len() {
        let qi = q0 + l / 4;
        (thr4[l], qz4[l]) = if qi < nq {
            (thr[qi], qz[qi])
        } else {
            (f32::INFINITY, 0.0)
        };
    }
    let valid4 = (0..rem.min(w / 4)).fold(0u64, |m, slot| m | 1 << (4 * slot));
    let quad_panel = quad_panel.as_ptr();
    let coeffs = Coeffs {
        metric: scan.metric,
        rel: scan.rel,
    };
    let cands = scan.cands;
    let qt = qt.as_ptr();
    let cp = cands.data().as_ptr();
    let (xs_at, ys_at) = (xs.as_mut_ptr(), ys.as_mut_ptr());
    let mut s0 = 0;
    while s0 < nc {
        let s1 = (s0 + sub).min(nc);
        // The first pass over the sub-block (the first query group, or the quad vector when
        // there is no whole vector) computes each candidate's key coefficients from the tile it
        // has just brought into L1, and the later passes read them; with cached norms they are
        // all derived from those here, before any pass.
        if let Some(cc) = scan.norm_sq {
            // SAFETY: `xs`/`ys` hold `sub >= s1 - s0` entries each; nothing else borrows them.
            let (xs, ys) = unsafe {
                (
                    core::slice::from_raw_parts_mut(xs_at, s1 - s0),
                    core::slice::from_raw_parts_mut(ys_at, s1 - s0),
                )
            };
            coeffs.fill(&cc[s0..s1], xs, ys);
        }
        let cached = scan.norm_sq.is_some();
        let keys = |first: bool| Keys {
            xs: xs_at,
            ys: ys_at,
            coeffs,
            first: first && !cached,
        };
        let mut g0 = 0;
        while g0 < nvec {
            let ng = NV.min(nvec - g0);
            let job = Group {
                cp,
                s0,
                s1,
                dim,
                g0,
                panel: qt.wrapping_add(g0 * w * dim),
                keys: keys(g0 == 0),
                last,
            };
            // SAFETY: the panel of group `g0` holds `dim * ng * w` f32 inside `qt`; rows
            // `s0..s1` are inside `cands`; `(g0 + ng) * w <= nqp` entries of `thr` and `qz`.
            unsafe {
                match ng {
                    1 => group::<T, V, P, MR, 1>(&job, thr, qz, hit),
                    2 => group::<T, V, P, MR, 2>(&job, thr, qz, hit),
                    3 => group::<T, V, P, MR, 3>(&job, thr, qz, hit),
                    _ => group::<T, V, P, MR, 4>(&job, thr, qz, hit),
                }
            }
            g0 += ng;
        }
        if quad {
            let job = Quad {
                cp,
                s0,
                s1,
                dim,
                q0,
                panel: quad_panel,
                keys: keys(nvec == 0),
                valid: valid4,
            };
            // SAFETY: the quad panel holds `dq * w` f32; rows `s0..s1` are inside `cands`;
            // `thr` has an entry for every remainder query, `thr4`/`qz4` `w` each.
            unsafe { quad_group::<T, V, P, MR>(&job, thr, thr4, qz4, hit) };
        }
        s0 = s1;
    }
    scan.thr.copy_from_slice(&thr[..nq]);
}

/// One query group against one candidate sub-block (see `fused_scan`).
struct Group<T> {
    /// First candidate row.
    cp: *const T,
    /// Sub-block rows `s0..s1`.
    s0: usize,
    s1: usize,
    dim: usize,
    /// First vector of the group, and its packed panel `[dim][N·W]`.
    g0: usize,
    panel: *const f32,
    /// Key coefficients of the sub-block's candidates.
    keys: Keys,
    /// Number of vectors, and the valid-lane mask of the last one.
    last: (usize, u64),
}

/// The candidate coefficients `x`, `y` of the key (see `FusedScan`).
#[derive(Clone, Copy)]
struct Coeffs {
    metric: Metric,
    rel: f64,
}

impl Coeffs {
    /// `(x, y)` for candidates of squared norms `cc`: branch-free loops over the rows, so the
    /// square roots and divisions of several rows run as vector instructions.
    #[inline(always)]
    fn of<const R: usize>(self, cc: [f64; R]) -> ([f32; R], [f32; R]) {
        let (mut x, mut y) = ([0f32; R], [0f32; R]);
        match self.metric {
            Metric::Dot => {
                for r in 0..R {
                    (x[r], y[r]) = (1.0, (self.rel * cc[r].sqrt()) as f32);
                }
            }
            Metric::Cosine => {
                for r in 0..R {
                    let inv = (1.0 / cc[r].sqrt()) as f32;
                    x[r] = if cc[r] > 0.0 { inv } else { 0.0 };
                }
            }
            _ => {
                let scale = -(1.0 - 2.0 * self.rel);
                for r in 0..R {
                    (x[r], y[r]) = (2.0, (cc[r] * scale) as f32);
                }
            }
        }
        for r in 0..R {
            if !cc[r].is_finite() {
                (x[r], y[r]) = (f32::NAN, f32::NAN);
            }
        }
        (x, y)
    }

    /// Fills `xs`/`ys` with the coefficients of candidates of squared norms `cc`, eight
    /// rows at a time (inlined, so it runs with the calling kernel's vector instructions).
    #[inline(always)]
    fn fill(self, cc: &[f64], xs: &mut [f32], ys: &mut [f32]) {
        const C: usize = 8;
        let mut chunks = cc.chunks_exact(C);
        let mut at = 0;
        for chunk in &mut chunks {
            let (x, y) = self.of::<C>(chunk.try_into().expect("chunk of 8"));
            xs[at..at + C].copy_from_slice(&x);
            ys[at..at + C].copy_from_slice(&y);
            at += C;
        }
        for &c in chunks.remainder() {
            let ([x], [y]) = self.of([c]);
            (xs[at], ys[at]) = (x, y);
            at += 1;
        }
    }
}

/// The key coefficients of a sub-block's candidates (index `row − s0`), written by its first
/// pass (`first`) and read by every pass.
#[derive(Clone, Copy)]
struct Keys {
    xs: *mut f32,
    ys: *mut f32,
    coeffs: Coeffs,
    first: bool,
}

impl Keys {
    /// On the sub-block's first pass, computes and stores the coefficients of rows
    /// `rs..rs + R` (`rows`, `dim` elements each) from the tile in L1.
    ///
    /// # Safety
    /// `xs`/`ys` hold `rs + R` entries, each row is valid for `dim` reads, and the ISA of `V`
    /// must be available.
    #[inline(always)]
    unsafe fn tile<T: Copy + Default, V: Lanes<T>, const R: usize>(
        self,
        rows: &[*const T; R],
        rs: usize,
        dim: usize,
    ) {
        if !self.first {
            return;
        }
        // SAFETY: the caller's promise.
        unsafe {
            for (r, &row) in rows.iter().enumerate() {
                let cc = norm_sq::<T, V>(core::slice::from_raw_parts(row, dim));
                let ([x], [y]) = self.coeffs.of([cc]);
                (*self.xs.add(rs + r), *self.ys.add(rs + r)) = (x, y);
            }
        }
    }

    /// The coefficients `x` and `y` of rows `rs..rs + R` (stored by `tile`), each splat over
    /// a panel vector.
    ///
    /// # Safety
    /// The coefficients of the rows are stored; the ISA of `P` must be available.
    #[inline(always)]
    unsafe fn splats<T: Copy, P: Panel<T>, const R: usize>(self, rs: usize) -> ([P; R], [P; R]) {
        // SAFETY: the caller's promise.
        unsafe {
            (
                core::array::from_fn(|r| P::splat(*self.xs.add(rs + r))),
                core::array::from_fn(|r| P::splat(*self.ys.add(rs + r))),
            )
        }
    }
}

/// One metric's key formula (see `FusedScan`), a type so that each tile's masks are computed
/// by code specialised to it (one multiply-add per pair for dot and l2, one multiply for
/// cosine, instead of the general `d·x + y·qz`).
trait KeyFormula {
    /// The key from the dot product `d`, the candidate's coefficients `x` and `y`, and the
    /// query's `qz` (each formula reads only what it needs).
    ///
    /// # Safety
    /// The ISA of `P` must be available.
    unsafe fn key<T: Copy, P: Panel<T>>(d: P, x: P, y: P, qz: P) -> P;
}

/// Dot: `d + y·qz`.
struct DotKey;
/// Cosine: `d·x`.
struct CosineKey;
/// L2 and l2sq: `2·d + y`.
struct L2Key;

impl KeyFormula for DotKey {
    #[inline(always)]
    unsafe fn key<T: Copy, P: Panel<T>>(d: P, _x: P, y: P, qz: P) -> P {
        // SAFETY: the caller's promise.
        unsafe { d.fma(y, qz) }
    }
}

impl KeyFormula for CosineKey {
    #[inline(always)]
    unsafe fn key<T: Copy, P: Panel<T>>(d: P, x: P, _y: P, _qz: P) -> P {
        // SAFETY: the caller's promise.
        unsafe { d.mul(x) }
    }
}

impl KeyFormula for L2Key {
    #[inline(always)]
    unsafe fn key<T: Copy, P: Panel<T>>(d: P, _x: P, y: P, _qz: P) -> P {
        // SAFETY: the caller's promise.
        unsafe { y.fma(d, P::splat(2.0)) }
    }
}

/// Every line's worth of dimensions, the same line of the next tile's rows is pulled into L1,
/// so that tile's broadcasts do not wait on L2 or memory (the hardware prefetchers do not
/// follow a tile's several row streams well). Never faults, wherever it points.
///
/// # Safety
/// The ISA of `V` must be available.
#[inline(always)]
unsafe fn prefetch_next_tile<T: Copy + Default, V: Lanes<T>, const R: usize>(
    rows: &[*const T; R],
    dim: usize,
    d: usize,
) {
    if d.is_multiple_of((64 / core::mem::size_of::<T>()).max(4)) {
        for &row in rows {
            // SAFETY: a prefetch hint; the ISA is the caller's promise.
            unsafe { V::prefetch(row.wrapping_add(R * dim + d)) };
        }
    }
}

/// The quad vector (the remainder queries, four dimensions each) against one sub-block.
struct Quad<T> {
    /// First candidate row.
    cp: *const T,
    /// Sub-block rows `s0..s1`.
    s0: usize,
    s1: usize,
    dim: usize,
    /// The first remainder query, and the quad panel `[dim/4][W]`.
    q0: usize,
    panel: *const f32,
    /// Key coefficients of the sub-block's candidates.
    keys: Keys,
    /// Lanes carrying a remainder query's sum (the first of each used quad).
    valid: u64,
}

/// Every `R`-row tile of the sub-block (then single rows) against the quad vector.
///
/// # Safety
/// As described where `fused_scan` builds `job`; the ISAs of `V` and `P` must be available.
#[inline(always)]
unsafe fn quad_group<T: Copy + Default, V: Lanes<T>, P: Panel<T>, const R: usize>(
    job: &Quad<T>,
    thr: &mut [f32],
    thr4: &mut [f32],
    qz4: &[f32],
    hit: &mut dyn FnMut(usize, usize) -> f32,
) {
    // SAFETY (whole block): tiles stay inside rows `s0..s1`, forwarded contract.
    unsafe {
        let mut c0 = job.s0;
        while c0 + R <= job.s1 {
            quad_block::<T, V, P, R>(job, c0, thr, thr4, qz4, hit);
            c0 += R;
        }
        while c0 < job.s1 {
            quad_block::<T, V, P, 1>(job, c0, thr, thr4, qz4, hit);
            c0 += 1;
        }
    }
}

/// The quad micro-kernel: candidates `c0..c0 + R` against the remainder queries, four
/// dimensions per FMA; the four partial sums of each query are added before the key.
///
/// # Safety
/// As `quad_group`, plus `c0 + R <= job.s1`.
#[inline(always)]
#[allow(clippy::needless_range_loop)] // register tile indexed by row
unsafe fn quad_block<T: Copy + Default, V: Lanes<T>, P: Panel<T>, const R: usize>(
    job: &Quad<T>,
    c0: usize,
    thr: &mut [f32],
    thr4: &mut [f32],
    qz4: &[f32],
    hit: &mut dyn FnMut(usize, usize) -> f32,
) {
    let (w, dim) = (P::W, job.dim);
    // SAFETY (whole block): the panel holds `dim.div_ceil(4) * w` f32; each row pointer is
    // valid for `dim` elements (the last partial quad is read from a zero-padded copy);
    // `thr4`/`qz4` hold `w` f32; the ISA is the caller's promise.
    unsafe {
        let rows: [*const T; R] = core::array::from_fn(|r| job.cp.add((c0 + r) * dim));
        let mut acc = [P::zero(); R];
        let whole = dim / 4;
        for k in 0..whole {
            prefetch_next_tile::<T, V, R>(&rows, dim, 4 * k);
            let q = P::load(job.panel.add(k * w));
            for r in 0..R {
                acc[r] = acc[r].fma(P::splat_quad(rows[r].add(4 * k)), q);
            }
        }
        if dim % 4 != 0 {
            let q = P::load(job.panel.add(whole * w));
            for r in 0..R {
                let mut tail = [T::default(); 4];
                core::ptr::copy_nonoverlapping(rows[r].add(4 * whole), tail.as_mut_ptr(), dim % 4);
                acc[r] = acc[r].fma(P::splat_quad(tail.as_ptr()), q);
            }
        }
        let rs = c0 - job.s0;
        job.keys.tile::<T, V, R>(&rows, rs, dim);
        let sums: [P; R] = core::array::from_fn(|r| acc[r].sum_quads());
        let (masks, any) = match job.keys.coeffs.metric {
            Metric::Dot => quad_masks::<T, P, DotKey, R>(job, &sums, rs, thr4, qz4),
            Metric::Cosine => quad_masks::<T, P, CosineKey, R>(job, &sums, rs, thr4, qz4),
            _ => quad_masks::<T, P, L2Key, R>(job, &sums, rs, thr4, qz4),
        };
        if any == 0 {
            return;
        }
        for r in 0..R {
            let mut m = masks[r];
            while m != 0 {
                let slot = m.trailing_zeros() as usize / 4;
                let qi = job.q0 + slot;
                thr[qi] = hit(qi, c0 + r);
                thr4[4 * slot..4 * slot + 4].fill(thr[qi]);
                m &= m - 1;
            }
        }
    }
}

/// Every `R`-row tile of the sub-block (then single rows) against the group's `N` vectors.
///
/// # Safety
/// As described where `fused_scan` builds `job`; the ISAs of `V` and `P` must be available.
#[inline(always)]
unsafe fn group<T: Copy + Default, V: Lanes<T>, P: Panel<T>, const R: usize, const N: usize>(
    job: &Group<T>,
    thr: &mut [f32],
    qz: &[f32],
    hit: &mut dyn FnMut(usize, usize) -> f32,
) {
    // SAFETY (whole block): tiles stay inside rows `s0..s1`, forwarded contract.
    unsafe {
        let mut c0 = job.s0;
        while c0 + R <= job.s1 {
            block::<T, V, P, R, N>(job, c0, thr, qz, hit);
            c0 += R;
        }
        while c0 < job.s1 {
            block::<T, V, P, 1, N>(job, c0, thr, qz, hit);
            c0 += 1;
        }
    }
}

/// The micro-kernel: candidates `c0..c0 + R` against the group's `N` query vectors.
///
/// # Safety
/// As `group`, plus `c0 + R <= job.s1`.
#[inline(always)]
#[allow(clippy::needless_range_loop)] // register tile indexed by (row, vector)
unsafe fn block<T: Copy + Default, V: Lanes<T>, P: Panel<T>, const R: usize, const N: usize>(
    job: &Group<T>,
    c0: usize,
    thr: &mut [f32],
    qz: &[f32],
    hit: &mut dyn FnMut(usize, usize) -> f32,
) {
    let w = P::W;
    let (dim, stride) = (job.dim, N * w);
    // SAFETY (whole block): the panel holds `dim * N * w` f32; each row pointer is valid for
    // `dim` elements; `(g0 + N) * w` entries of `thr` and `qz`; the ISA is the caller's promise.
    unsafe {
        let rows: [*const T; R] = core::array::from_fn(|r| job.cp.add((c0 + r) * dim));
        let mut acc = [[P::zero(); N]; R];
        let qp = job.panel;
        // Unrolled by four: constant offsets from one index, fewer loop instructions per FMA.
        let mut d = 0;
        while d + 4 <= dim {
            prefetch_next_tile::<T, V, R>(&rows, dim, d);
            for u in 0..4 {
                step::<T, P, R, N>(&mut acc, &rows, qp, d + u, stride);
            }
            d += 4;
        }
        while d < dim {
            step::<T, P, R, N>(&mut acc, &rows, qp, d, stride);
            d += 1;
        }
        // The accept masks of the whole tile are computed first, with no call in between, so
        // the accumulators never have to live across `hit` (which would make the compiler keep
        // them in memory inside the dimension loop); after the first blocks almost no pair
        // passes, and the tile costs one test. A threshold raised by a hit of this tile is not
        // seen by the tile's later pairs: stale thresholds are only more permissive.
        let rs = c0 - job.s0;
        job.keys.tile::<T, V, R>(&rows, rs, dim);
        let (masks, any) = match job.keys.coeffs.metric {
            Metric::Dot => tile_masks::<T, P, DotKey, R, N>(job, &acc, rs, thr, qz),
            Metric::Cosine => tile_masks::<T, P, CosineKey, R, N>(job, &acc, rs, thr, qz),
            _ => tile_masks::<T, P, L2Key, R, N>(job, &acc, rs, thr, qz),
        };
        if any == 0 {
            return;
        }
        for v in 0..N {
            let base = (job.g0 + v) * w;
            for r in 0..R {
                let mut m = masks[r][v];
                while m != 0 {
                    let qi = base + m.trailing_zeros() as usize;
                    thr[qi] = hit(qi, c0 + r);
                    m &= m - 1;
                }
            }
        }
    }
}

/// The accept masks of a tile's pairs (row `r`, vector `v`: bit `l` for query
/// `(g0 + v)·W + l`), and their union.
///
/// # Safety
/// As `block`; the tile's coefficients are stored.
#[inline(always)]
#[allow(clippy::needless_range_loop)] // register tile indexed by (row, vector)
unsafe fn tile_masks<T: Copy, P: Panel<T>, K: KeyFormula, const R: usize, const N: usize>(
    job: &Group<T>,
    acc: &[[P; N]; R],
    rs: usize,
    thr: &[f32],
    qz: &[f32],
) -> ([[u64; N]; R], u64) {
    let w = P::W;
    let mut masks = [[0u64; N]; R];
    let mut any = 0u64;
    // SAFETY (whole block): `(g0 + N) * w` entries of `thr` and `qz`; the caller's promise.
    unsafe {
        let (xs, ys) = job.keys.splats::<T, P, R>(rs);
        for v in 0..N {
            let base = (job.g0 + v) * w;
            let t = P::load(thr.as_ptr().add(base));
            let z = P::load(qz.as_ptr().add(base));
            let valid = if job.g0 + v + 1 == job.last.0 {
                job.last.1
            } else {
                u64::MAX
            };
            for r in 0..R {
                let m = P::accept(K::key(acc[r][v], xs[r], ys[r], z), t) & valid;
                masks[r][v] = m;
                any |= m;
            }
        }
    }
    (masks, any)
}

/// The accept masks of a quad tile's rows (`sums`: each row's per-query sums, see
/// `Panel::sum_quads`), and their union.
///
/// # Safety
/// As `quad_block`; the tile's coefficients are stored.
#[inline(always)]
unsafe fn quad_masks<T: Copy, P: Panel<T>, K: KeyFormula, const R: usize>(
    job: &Quad<T>,
    sums: &[P; R],
    rs: usize,
    thr4: &[f32],
    qz4: &[f32],
) -> ([u64; R], u64) {
    let mut masks = [0u64; R];
    let mut any = 0u64;
    // SAFETY: `thr4`/`qz4` hold `W` f32; the caller's promise.
    unsafe {
        let (t, z) = (P::load(thr4.as_ptr()), P::load(qz4.as_ptr()));
        let (xs, ys) = job.keys.splats::<T, P, R>(rs);
        for (r, &d) in sums.iter().enumerate() {
            let m = P::accept(K::key(d, xs[r], ys[r], z), t) & job.valid;
            masks[r] = m;
            any |= m;
        }
    }
    (masks, any)
}

/// One step of the micro-kernel: dimension `d` of every row times the panel's `N` vectors.
///
/// # Safety
/// Each row pointer is valid for `d + 1` elements, the panel for `(d + 1) * stride` f32
/// (`stride = N * W`); the ISA of `P` must be available.
#[inline(always)]
#[allow(clippy::needless_range_loop)] // register tile indexed by (row, vector)
unsafe fn step<T: Copy, P: Panel<T>, const R: usize, const N: usize>(
    acc: &mut [[P; N]; R],
    rows: &[*const T; R],
    qp: *const f32,
    d: usize,
    stride: usize,
) {
    // SAFETY: forwarded contract.
    unsafe {
        let qv: [P; N] = core::array::from_fn(|v| P::load(qp.add(d * stride + v * P::W)));
        for r in 0..R {
            let b = P::splat_elem(rows[r].add(d));
            for v in 0..N {
                acc[r][v] = acc[r][v].fma(b, qv[v]);
            }
        }
    }
}
