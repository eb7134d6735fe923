//! Kernels written once over `Lanes`: pair scores, one-query-many-rows scoring, and the
//! register-blocked dot-product tile used by the cache-blocked multi-query search.
//!
//! Every function here is `#[inline(always)]` and `unsafe`: an ISA module instantiates it
//! inside a `#[target_feature]` function so the lane primitives compile to that ISA.

use super::Metric;
use super::formulas;
use super::lanes::{Lanes, MAX_LANES};

mod copy;
mod fused;
pub use copy::{CopyKernel, CopyScan, CopyScanFn, copy_scan_portable};
pub use fused::{FusedFn, FusedScan, fused_scan};

/// Streams `N` equal-length vectors in lockstep, `LANES` elements at a time, feeding the
/// loaded values to `step`, which updates `M` accumulators; returns their sums.
///
/// `U` independent accumulator sets hide FMA latency; integer accumulators are reduced every
/// `FLUSH` elements. The tail is read with `load_partial` (zero-padded), never past the end.
///
/// # Safety
/// Each pointer must be valid for `dim` reads, and the ISA of `V` must be available.
#[inline(always)]
pub unsafe fn sweep<T, V, const N: usize, const M: usize, const U: usize>(
    ptrs: [*const T; N],
    dim: usize,
    step: impl Fn(&[V::In; N], &mut [V; M]),
) -> [f64; M]
where
    T: Copy + Default,
    V: Lanes<T>,
{
    let l = V::LANES;
    debug_assert!(l <= MAX_LANES && U >= 1);
    let mut total = [0f64; M];
    let mut start = 0;
    while start < dim {
        let end = if dim - start > V::FLUSH {
            start + V::FLUSH
        } else {
            dim
        };
        // SAFETY (whole block): all reads are below `end <= dim`; the ISA is the caller's promise.
        unsafe {
            let mut acc = [[V::zero(); M]; U];
            let mut d = start;
            while d + U * l <= end {
                for (u, a) in acc.iter_mut().enumerate() {
                    step(&load_all::<T, V, N>(&ptrs, d + u * l, l), a);
                }
                d += U * l;
            }
            if U == 1 {
                // One chain, unrolled by four: the same sums in the same order, a quarter of
                // the loop overhead (what bounds the narrow simd128 and portable lanes).
                while d + 4 * l <= end {
                    for c in 0..4 {
                        step(&load_all::<T, V, N>(&ptrs, d + c * l, l), &mut acc[0]);
                    }
                    d += 4 * l;
                }
            }
            while d + l <= end {
                step(&load_all::<T, V, N>(&ptrs, d, l), &mut acc[0]);
                d += l;
            }
            if d < end {
                step(&load_all::<T, V, N>(&ptrs, d, end - d), &mut acc[0]);
            }
            for m in 0..M {
                let mut s = acc[0][m];
                for a in acc.iter().skip(1) {
                    s = s.add(a[m]);
                }
                total[m] += s.reduce();
            }
        }
        start = end;
    }
    total
}

/// `LANES` elements at offset `at` of every pointer (`n == LANES`), or `n < LANES` of them
/// zero-padded. A plain loop rather than `array::from_fn`, whose closure the compiler
/// sometimes leaves un-inlined (the loaded vectors then travel through memory).
///
/// # Safety
/// Each pointer must be valid for reads of `at + n` elements; the ISA of `V` must be available.
#[inline(always)]
unsafe fn load_all<T: Copy + Default, V: Lanes<T>, const N: usize>(
    ptrs: &[*const T; N],
    at: usize,
    n: usize,
) -> [V::In; N] {
    // SAFETY: the caller's promise.
    unsafe {
        let load = |p: *const T| {
            if n == V::LANES {
                V::load(p.add(at))
            } else {
                V::load_partial(p.add(at), n)
            }
        };
        let mut ins = [load(ptrs[0]); N];
        for p in 1..N {
            ins[p] = load(ptrs[p]);
        }
        ins
    }
}

/// How far ahead of a group of rows `score_rows_fixed` prefetches, in bytes.
const PREFETCH_AHEAD: usize = 1024;

/// Prefetch hints for the cache lines of the `bytes` bytes that start `PREFETCH_AHEAD` bytes
/// after `p` (the rest of this group of rows and the start of the next). Pointers are only
/// computed with `wrapping_add` and never read, so the range may run past the slice.
///
/// # Safety
/// The ISA of `V` must be available.
#[inline(always)]
unsafe fn prefetch_group<T: Copy + Default, V: Lanes<T>>(p: *const T, bytes: usize) {
    let b = (p as *const u8).wrapping_add(PREFETCH_AHEAD);
    let mut o = 0;
    while o < bytes {
        // SAFETY: a prefetch hint never faults, whatever the address.
        unsafe { V::prefetch(b.wrapping_add(o) as *const T) };
        o += 64;
    }
}

/// Loads per row up to which one accumulator chain is used; longer rows use four.
const SHORT_ROW_LOADS: usize = 8;

/// `sweep` with the number of accumulator sets chosen from the length: one chain while a row
/// takes at most `SHORT_ROW_LOADS` loads (the register-held-query path of `score_rows` runs the
/// same single chain), `V::LONG_ROW_CHAINS` for longer rows, whose single chain would wait an
/// FMA latency per load (NEON and AVX2 need 16–32 loads for 128 f32). Every kernel sums through this,
/// so pair, rows and streaming scores stay bit-identical.
///
/// # Safety
/// As `sweep`.
#[inline(always)]
pub unsafe fn sweep_auto<T, V, F, const N: usize, const M: usize>(
    ptrs: [*const T; N],
    dim: usize,
    step: F,
) -> [f64; M]
where
    T: Copy + Default,
    V: Lanes<T>,
    F: Fn(&[V::In; N], &mut [V; M]) + Copy,
{
    // SAFETY: forwarded contract.
    unsafe {
        if dim / V::LANES > SHORT_ROW_LOADS && V::LONG_ROW_CHAINS == 4 {
            sweep::<T, V, N, M, 4>(ptrs, dim, step)
        } else {
            sweep::<T, V, N, M, 1>(ptrs, dim, step)
        }
    }
}

/// Σ aᵢbᵢ.
///
/// # Safety
/// `a.len() == b.len()`, and the ISA of `V` must be available.
#[inline(always)]
pub unsafe fn dot<T: Copy + Default, V: Lanes<T>>(a: &[T], b: &[T]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    // SAFETY: both slices hold `a.len()` elements.
    let [s] = unsafe {
        sweep_auto::<T, V, _, 2, 1>([a.as_ptr(), b.as_ptr()], a.len(), |x, acc| {
            acc[0] = acc[0].fma(x[0], x[1]);
        })
    };
    s
}

/// Σ (aᵢ − bᵢ)².
///
/// # Safety
/// `a.len() == b.len()`, and the ISA of `V` must be available.
#[inline(always)]
pub unsafe fn l2sq<T: Copy + Default, V: Lanes<T>>(a: &[T], b: &[T]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    // SAFETY: both slices hold `a.len()` elements.
    let [s] = unsafe {
        sweep_auto::<T, V, _, 2, 1>([a.as_ptr(), b.as_ptr()], a.len(), |x, acc| {
            let d = V::sub(x[0], x[1]);
            acc[0] = acc[0].fma(d, d);
        })
    };
    s
}

/// √Σ (aᵢ − bᵢ)².
///
/// # Safety
/// As `l2sq`.
#[inline(always)]
pub unsafe fn l2<T: Copy + Default, V: Lanes<T>>(a: &[T], b: &[T]) -> f64 {
    // SAFETY: forwarded contract.
    unsafe { l2sq::<T, V>(a, b) }.sqrt()
}

/// Σ aᵢ².
///
/// # Safety
/// The ISA of `V` must be available.
#[inline(always)]
pub unsafe fn norm_sq<T: Copy + Default, V: Lanes<T>>(a: &[T]) -> f64 {
    // SAFETY: the slice holds `a.len()` elements.
    let [s] = unsafe {
        sweep_auto::<T, V, _, 1, 1>([a.as_ptr()], a.len(), |x, acc| {
            acc[0] = acc[0].fma(x[0], x[0]);
        })
    };
    s
}

/// Cosine similarity (see `formulas::cosine`), one pass computing a·b, a·a and b·b.
///
/// # Safety
/// `a.len() == b.len()`, and the ISA of `V` must be available.
#[inline(always)]
pub unsafe fn cosine<T: Copy + Default, V: Lanes<T>>(a: &[T], b: &[T]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    // SAFETY: both slices hold `a.len()` elements.
    let [ab, aa, bb] = unsafe {
        sweep_auto::<T, V, _, 2, 3>([a.as_ptr(), b.as_ptr()], a.len(), |x, acc| {
            acc[0] = acc[0].fma(x[0], x[1]);
            acc[1] = acc[1].fma(x[0], x[0]);
            acc[2] = acc[2].fma(x[1], x[1]);
        })
    };
    formulas::cosine(ab, aa, bb)
}

/// Scores one query against `out.len()` consecutive rows of length `dim` (row-major in
/// `rows`): dot, l2sq, l2 or cosine.
///
/// Rows are read one after the other, each front to back: a single sequential stream (reading
/// several rows in lockstep, or prefetching far ahead, measured 1.5–2.5× slower). Rows of at
/// most 8 vector loads (`score_rows_fixed`) have each group of rows first issue prefetch
/// hints for its own lines from `PREFETCH_AHEAD` bytes on (on lanes types whose `prefetch`
/// is not a no-op: the x86 ones): narrow types scan faster than the hardware prefetchers
/// ramp up (`benches/vector_bench.py --only dtypes`, 1M × 128 against float32 in the same
/// run: int8 dot and l2 1.8–2.5× → 3.0–4.5×, float16 cosine 1.65–1.75× → 2.1–2.3×). Rows of
/// more than 8 loads (the loop below) hint each row's lines as they reach it, the same
/// distance ahead. Each row runs the same
/// accumulation as the pair kernel (`sweep_auto`), so `rows` and `pair` give bit-identical
/// scores.
///
/// # Safety
/// `query.len() == dim`, `rows.len() >= out.len() * dim`, `metric` is dot/cosine/l2/l2sq,
/// and the ISA of `V` must be available.
#[inline(always)]
pub unsafe fn score_rows<T: Copy + Default, V: Lanes<T>>(
    metric: super::Metric,
    query: &[T],
    rows: &[T],
    dim: usize,
    out: &mut [f64],
) {
    let n = out.len();
    debug_assert!(query.len() == dim && rows.len() >= n * dim);
    let q = query.as_ptr();
    let r = rows.as_ptr();
    // Short rows (at most 8 full loads, the common embedding sizes): the query stays in
    // registers and each row is a straight run of loads and FMAs, no inner loop.
    if dim <= V::FLUSH && dim / V::LANES <= SHORT_ROW_LOADS {
        let chunks = dim / V::LANES;
        // SAFETY: forwarded contract; `chunks * LANES <= dim <= FLUSH`.
        unsafe {
            match chunks {
                0 => return score_rows_fixed::<T, V, 0>(metric, query, rows, dim, out),
                1 => return score_rows_fixed::<T, V, 1>(metric, query, rows, dim, out),
                2 => return score_rows_fixed::<T, V, 2>(metric, query, rows, dim, out),
                3 => return score_rows_fixed::<T, V, 3>(metric, query, rows, dim, out),
                4 => return score_rows_fixed::<T, V, 4>(metric, query, rows, dim, out),
                5 => return score_rows_fixed::<T, V, 5>(metric, query, rows, dim, out),
                6 => return score_rows_fixed::<T, V, 6>(metric, query, rows, dim, out),
                7 => return score_rows_fixed::<T, V, 7>(metric, query, rows, dim, out),
                8 => return score_rows_fixed::<T, V, 8>(metric, query, rows, dim, out),
                _ => {}
            }
        }
    }
    // Single-chain lanes (simd128, portable): 96- and 128-element rows fully unrolled as well
    // (simd128 top-k over 100K × 128 f32: dot 2.95 → 2.05–2.33 ms, l2 3.3 → 2.8 ms); their
    // sums run in the one chain `sweep_auto` uses for them, so the bits are unchanged.
    if V::LONG_ROW_CHAINS == 1 && dim <= V::FLUSH {
        // SAFETY: forwarded contract; `chunks * LANES <= dim <= FLUSH`.
        unsafe {
            match dim / V::LANES {
                12 => return score_rows_fixed::<T, V, 12>(metric, query, rows, dim, out),
                16 => return score_rows_fixed::<T, V, 16>(metric, query, rows, dim, out),
                _ => {}
            }
        }
    }
    // SAFETY (whole block): row `i` is `r + i*dim .. r + (i+1)*dim`, inside `rows` for `i < n`.
    unsafe {
        // Each row first hints its own length of lines from `PREFETCH_AHEAD` bytes on (two rows
        // ahead for 128 x f32). 1M / 200K x 128 f32 on AVX2 lanes, 1 thread, against OpenBLAS
        // sdot in the same process, builds alternated (3 pairs, a slow machine state): dot
        // 81-87 % -> 94-104 % / 74-85 % -> 88-96 %, l2 72-79 % -> 85-94 % / 69-81 % -> 89-94 %,
        // cosine 65-72 % -> 83-90 % / 65-72 % -> 83-87 %; 2 threads no slower anywhere, 10-25 %
        // faster in most cells. (Hinting half a page ahead into L2 each time the scan entered a
        // 4 KiB page had measured 95-99 % -> 80 % here.)
        let row_bytes = dim * core::mem::size_of::<T>();
        let row = |i: usize| -> *const T { r.add(i * dim) };
        match metric {
            Metric::Dot => {
                for (i, o) in out.iter_mut().enumerate() {
                    prefetch_group::<T, V>(row(i), row_bytes);
                    let [s] = sweep_auto::<T, V, _, 2, 1>([q, row(i)], dim, |x, acc| {
                        acc[0] = acc[0].fma(x[0], x[1])
                    });
                    *o = s;
                }
            }
            Metric::L2sq | Metric::L2 => {
                let root = metric == Metric::L2;
                // Rows in groups: the sums first, then the square roots in one vectorised loop.
                for (g, og) in out.chunks_mut(FINISH_GROUP).enumerate() {
                    for (j, o) in og.iter_mut().enumerate() {
                        let p = row(g * FINISH_GROUP + j);
                        prefetch_group::<T, V>(p, row_bytes);
                        [*o] = sweep_auto::<T, V, _, 2, 1>([q, p], dim, |x, acc| {
                            let d = V::sub(x[0], x[1]);
                            acc[0] = acc[0].fma(d, d);
                        });
                    }
                    if root {
                        og.iter_mut().for_each(|o| *o = o.sqrt());
                    }
                }
            }
            _ => {
                let qq = norm_sq::<T, V>(query);
                // Rows in groups: the sums first, then `finish_cosine`.
                let mut bb = [0f64; FINISH_GROUP];
                for (g, og) in out.chunks_mut(FINISH_GROUP).enumerate() {
                    for (j, (o, b)) in og.iter_mut().zip(bb.iter_mut()).enumerate() {
                        let p = row(g * FINISH_GROUP + j);
                        prefetch_group::<T, V>(p, row_bytes);
                        [*o, *b] = sweep_auto::<T, V, _, 2, 2>([q, p], dim, |x, acc| {
                            acc[0] = acc[0].fma(x[0], x[1]);
                            acc[1] = acc[1].fma(x[1], x[1]);
                        });
                    }
                    finish_cosine(og, qq, &bb);
                }
            }
        }
    }
}

/// Rows per group whose f64 finishing step (cosine's square roots and divides, l2's square
/// roots) runs as one loop the compiler vectorises, after the group's sums. Done one row at a
/// time, between two rows' loads, the cosine step ran 1M × 128 float32 at 45–47 ms instead of
/// 32.5–33 in some processes. Square roots and divides are correctly rounded, so the values
/// equal the pair kernel's.
const FINISH_GROUP: usize = 16;

/// The cosine finishing step for a group of rows: `out[j]` holds row `j`'s dot product with
/// the query on entry and its cosine on return (`formulas::cosine`), from the query's squared
/// norm `qq` and the row's `bb[j]` (see `FINISH_GROUP`).
#[inline(always)]
fn finish_cosine(out: &mut [f64], qq: f64, bb: &[f64]) {
    for (o, &b) in out.iter_mut().zip(bb) {
        *o = formulas::cosine(*o, qq, b);
    }
}

/// `score_rows` for `dim = C·LANES + tail` (`tail < LANES`, `dim <= FLUSH`): the query's `C`
/// loads (and its zero-padded tail) are held in registers; every row runs exactly the pair
/// kernel's operations in the pair kernel's order (`sweep` with one accumulator set), so the
/// scores are bit-identical to `pair`.
///
/// # Safety
/// As `score_rows`, plus `C * LANES <= dim <= FLUSH` and `dim - C * LANES < LANES`.
#[inline(always)]
unsafe fn score_rows_fixed<T: Copy + Default, V: Lanes<T>, const C: usize>(
    metric: super::Metric,
    query: &[T],
    rows: &[T],
    dim: usize,
    out: &mut [f64],
) {
    let l = V::LANES;
    let tail = dim - C * l;
    debug_assert!(tail < l && dim <= V::FLUSH);
    // SAFETY (whole block): the query holds `dim` elements; row `i` is `r + i*dim ..
    // r + (i+1)*dim`, inside `rows` for `i < out.len()`; partial loads read only `tail`.
    unsafe {
        let q = query.as_ptr();
        let r = rows.as_ptr();
        let qv: [V::In; C] = core::array::from_fn(|c| V::load(q.add(c * l)));
        // A zero-length tail never reaches `load_partial`'s copy (see the `tail > 0` tests).
        let qt: V::In = if tail > 0 {
            V::load_partial(q.add(C * l), tail)
        } else {
            V::load_partial(q, 0)
        };
        let n = out.len();
        // Rows are scored one after the other (the sequential stream); groups of eight share
        // one transposed horizontal reduction (`Lanes::reduce8`, bit-identical to `reduce`).
        match metric {
            Metric::Dot | Metric::L2sq | Metric::L2 => {
                let l2 = metric != Metric::Dot;
                let row_bytes = dim * core::mem::size_of::<T>();
                let mut i = 0;
                while i + 8 <= n {
                    prefetch_group::<T, V>(r.add(i * dim), 8 * row_bytes);
                    let mut a = [V::zero(); 8];
                    for (j, aj) in a.iter_mut().enumerate() {
                        *aj = row_acc::<T, V, C>(&qv, qt, r.add((i + j) * dim), tail, l2);
                    }
                    for (o, s) in out[i..i + 8].iter_mut().zip(V::reduce8(a)) {
                        *o = 0.0 + s;
                    }
                    i += 8;
                }
                while i < n {
                    out[i] = 0.0 + row_acc::<T, V, C>(&qv, qt, r.add(i * dim), tail, l2).reduce();
                    i += 1;
                }
                if metric == Metric::L2 {
                    // A separate pass so the square roots vectorise (same correctly rounded values).
                    for o in out.iter_mut() {
                        *o = o.sqrt();
                    }
                }
            }
            _ => {
                let qq = norm_sq::<T, V>(query);
                // Rows in groups of 16: the dot products and norms first (groups of 4 rows share
                // one transposed reduction of their eight accumulators), then `finish_cosine`.
                let mut bb = [0f64; FINISH_GROUP];
                let row_bytes = dim * core::mem::size_of::<T>();
                for (g, og) in out.chunks_mut(FINISH_GROUP).enumerate() {
                    let base = g * FINISH_GROUP;
                    let m = og.len();
                    prefetch_group::<T, V>(r.add(base * dim), m * row_bytes);
                    let mut j = 0;
                    while j + 4 <= m {
                        let mut a = [V::zero(); 8];
                        for t in 0..4 {
                            let p = r.add((base + j + t) * dim);
                            (a[2 * t], a[2 * t + 1]) = row_cos::<T, V, C>(&qv, qt, p, tail);
                        }
                        let s = V::reduce8(a);
                        for t in 0..4 {
                            og[j + t] = 0.0 + s[2 * t];
                            bb[j + t] = 0.0 + s[2 * t + 1];
                        }
                        j += 4;
                    }
                    while j < m {
                        let (ab, b2) = row_cos::<T, V, C>(&qv, qt, r.add((base + j) * dim), tail);
                        og[j] = 0.0 + ab.reduce();
                        bb[j] = 0.0 + b2.reduce();
                        j += 1;
                    }
                    finish_cosine(og, qq, &bb);
                }
            }
        }
    }
}

/// One row's accumulator for dot (`l2 = false`) or l2sq (`l2 = true`): exactly the pair
/// kernel's loads and FMAs, in its order.
///
/// # Safety
/// `p` is valid for `C * LANES + tail` reads (`tail < LANES`); the ISA of `V` must be available.
#[inline(always)]
unsafe fn row_acc<T: Copy + Default, V: Lanes<T>, const C: usize>(
    qv: &[V::In; C],
    qt: V::In,
    p: *const T,
    tail: usize,
    l2: bool,
) -> V {
    let l = V::LANES;
    // SAFETY: reads inside the row (the caller's promise); `load_partial` reads `tail`.
    unsafe {
        let mut acc = V::zero();
        for (c, &qc) in qv.iter().enumerate() {
            let x = V::load(p.add(c * l));
            if l2 {
                let d = V::sub(qc, x);
                acc = acc.fma(d, d);
            } else {
                acc = acc.fma(qc, x);
            }
        }
        if tail > 0 {
            let x = V::load_partial(p.add(C * l), tail);
            if l2 {
                let d = V::sub(qt, x);
                acc = acc.fma(d, d);
            } else {
                acc = acc.fma(qt, x);
            }
        }
        acc
    }
}

/// One row's cosine accumulators (a·b, b·b), as the pair kernel computes them.
///
/// # Safety
/// As `row_acc`.
#[inline(always)]
unsafe fn row_cos<T: Copy + Default, V: Lanes<T>, const C: usize>(
    qv: &[V::In; C],
    qt: V::In,
    p: *const T,
    tail: usize,
) -> (V, V) {
    let l = V::LANES;
    // SAFETY: as `row_acc`.
    unsafe {
        let (mut ab, mut b2) = (V::zero(), V::zero());
        for (c, &qc) in qv.iter().enumerate() {
            let x = V::load(p.add(c * l));
            ab = ab.fma(qc, x);
            b2 = b2.fma(x, x);
        }
        if tail > 0 {
            let x = V::load_partial(p.add(C * l), tail);
            ab = ab.fma(qt, x);
            b2 = b2.fma(x, x);
        }
        (ab, b2)
    }
}

/// Raw dot products of `nq` queries × `nc` candidates (both row-major, length `dim`) into
/// `out[qi * nc + ci]`, in 4 × 4 register tiles (edges 4 × 1, 1 × 4, 1 × 1).
///
/// # Safety
/// `queries.len() >= nq * dim`, `cands.len() >= nc * dim`, `out.len() >= nq * nc`, and the
/// ISA of `V` must be available.
#[inline(always)]
pub unsafe fn dot_tile<T: Copy + Default, V: Lanes<T>>(
    queries: &[T],
    nq: usize,
    cands: &[T],
    nc: usize,
    dim: usize,
    out: &mut [f64],
) {
    debug_assert!(queries.len() >= nq * dim && cands.len() >= nc * dim && out.len() >= nq * nc);
    let q = queries.as_ptr();
    let c = cands.as_ptr();
    // SAFETY (whole block): every pointer is a row start inside its slice, valid for `dim` reads.
    unsafe {
        let mut i = 0;
        while i < nq {
            let rq = if nq - i >= 4 { 4 } else { 1 };
            let mut j = 0;
            while j < nc {
                let rc = if nc - j >= 4 { 4 } else { 1 };
                match (rq, rc) {
                    (4, 4) => {
                        let p = [
                            q.add(i * dim),
                            q.add((i + 1) * dim),
                            q.add((i + 2) * dim),
                            q.add((i + 3) * dim),
                            c.add(j * dim),
                            c.add((j + 1) * dim),
                            c.add((j + 2) * dim),
                            c.add((j + 3) * dim),
                        ];
                        let s = sweep::<T, V, 8, 16, 1>(p, dim, |x, acc| {
                            for a in 0..4 {
                                for b in 0..4 {
                                    acc[a * 4 + b] = acc[a * 4 + b].fma(x[a], x[4 + b]);
                                }
                            }
                        });
                        for a in 0..4 {
                            out[(i + a) * nc + j..(i + a) * nc + j + 4]
                                .copy_from_slice(&s[a * 4..a * 4 + 4]);
                        }
                    }
                    (4, _) => {
                        let p = [
                            q.add(i * dim),
                            q.add((i + 1) * dim),
                            q.add((i + 2) * dim),
                            q.add((i + 3) * dim),
                            c.add(j * dim),
                        ];
                        let s = sweep::<T, V, 5, 4, 1>(p, dim, |x, acc| {
                            for a in 0..4 {
                                acc[a] = acc[a].fma(x[a], x[4]);
                            }
                        });
                        for a in 0..4 {
                            out[(i + a) * nc + j] = s[a];
                        }
                    }
                    (_, 4) => {
                        let p = [
                            q.add(i * dim),
                            c.add(j * dim),
                            c.add((j + 1) * dim),
                            c.add((j + 2) * dim),
                            c.add((j + 3) * dim),
                        ];
                        let s = sweep::<T, V, 5, 4, 1>(p, dim, |x, acc| {
                            for b in 0..4 {
                                acc[b] = acc[b].fma(x[0], x[1 + b]);
                            }
                        });
                        out[i * nc + j..i * nc + j + 4].copy_from_slice(&s);
                    }
                    _ => {
                        let qa = core::slice::from_raw_parts(q.add(i * dim), dim);
                        let ca = core::slice::from_raw_parts(c.add(j * dim), dim);
                        out[i * nc + j] = dot::<T, V>(qa, ca);
                    }
                }
                j += rc;
            }
            i += rq;
        }
    }
}
