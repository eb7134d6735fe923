//! Kernels written once over `Lanes`: pair scores, one-query-many-rows scoring, and the
//! register-blocked dot-product tile used by the cache-blocked multi-query search.
//!
//! Every function here is `#[inline(always)]` and `unsafe`: an ISA module instantiates it
//! inside a `#[target_feature]` function so the lane primitives compile to that ISA.

use super::formulas;
use super::lanes::{Lanes, MAX_LANES};

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
        let end = if dim - start > V::FLUSH { start + V::FLUSH } else { dim };
        // SAFETY (whole block): all reads are below `end <= dim`; the ISA is the caller's promise.
        unsafe {
            let mut acc = [[V::zero(); M]; U];
            let mut d = start;
            while d + U * l <= end {
                for (u, a) in acc.iter_mut().enumerate() {
                    let ins: [V::In; N] = core::array::from_fn(|p| V::load(ptrs[p].add(d + u * l)));
                    step(&ins, a);
                }
                d += U * l;
            }
            while d + l <= end {
                let ins: [V::In; N] = core::array::from_fn(|p| V::load(ptrs[p].add(d)));
                step(&ins, &mut acc[0]);
                d += l;
            }
            if d < end {
                let n = end - d;
                let ins: [V::In; N] = core::array::from_fn(|p| V::load_partial(ptrs[p].add(d), n));
                step(&ins, &mut acc[0]);
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

/// Σ aᵢbᵢ.
///
/// # Safety
/// `a.len() == b.len()`, and the ISA of `V` must be available.
#[inline(always)]
pub unsafe fn dot<T: Copy + Default, V: Lanes<T>>(a: &[T], b: &[T]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    // SAFETY: both slices hold `a.len()` elements.
    let [s] = unsafe {
        sweep::<T, V, 2, 1, 1>([a.as_ptr(), b.as_ptr()], a.len(), |x, acc| {
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
        sweep::<T, V, 2, 1, 1>([a.as_ptr(), b.as_ptr()], a.len(), |x, acc| {
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
        sweep::<T, V, 1, 1, 1>([a.as_ptr()], a.len(), |x, acc| {
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
        sweep::<T, V, 2, 3, 1>([a.as_ptr(), b.as_ptr()], a.len(), |x, acc| {
            acc[0] = acc[0].fma(x[0], x[1]);
            acc[1] = acc[1].fma(x[0], x[0]);
            acc[2] = acc[2].fma(x[1], x[1]);
        })
    };
    formulas::cosine(ab, aa, bb)
}

/// Scores one query against `out.len()` consecutive rows of length `dim` (row-major in
/// `rows`): dot, l2sq, l2 or cosine, four rows per pass so the query is loaded once.
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
    use super::Metric;
    let n = out.len();
    debug_assert!(query.len() == dim && rows.len() >= n * dim);
    let q = query.as_ptr();
    let r = rows.as_ptr();
    // SAFETY (whole block): row `i` is `r + i*dim .. r + (i+1)*dim`, inside `rows` for `i < n`.
    unsafe {
        let qq = if metric == Metric::Cosine { norm_sq::<T, V>(query) } else { 0.0 };
        let mut i = 0;
        // Rows ahead of the current block to prefetch, by bytes (about 4 KiB ahead).
        let row_bytes = dim * core::mem::size_of::<T>();
        let ahead = (4096 / row_bytes.max(1)).max(4);
        while i + 4 <= n {
            if i + ahead + 4 <= n {
                let start = r.add((i + ahead) * dim) as *const u8;
                let mut off = 0;
                while off < 4 * row_bytes {
                    V::prefetch(start.add(off) as *const T);
                    off += 64;
                }
            }
            let p = [q, r.add(i * dim), r.add((i + 1) * dim), r.add((i + 2) * dim), r.add((i + 3) * dim)];
            match metric {
                Metric::Dot => {
                    let s = sweep::<T, V, 5, 4, 1>(p, dim, |x, acc| {
                        for j in 0..4 {
                            acc[j] = acc[j].fma(x[0], x[j + 1]);
                        }
                    });
                    out[i..i + 4].copy_from_slice(&s);
                }
                Metric::L2sq | Metric::L2 => {
                    let s = sweep::<T, V, 5, 4, 1>(p, dim, |x, acc| {
                        for j in 0..4 {
                            let d = V::sub(x[0], x[j + 1]);
                            acc[j] = acc[j].fma(d, d);
                        }
                    });
                    for j in 0..4 {
                        let v = s[j];
                        out[i + j] = if metric == Metric::L2 { v.sqrt() } else { v };
                    }
                }
                _ => {
                    let s = sweep::<T, V, 5, 8, 1>(p, dim, |x, acc| {
                        for j in 0..4 {
                            acc[j] = acc[j].fma(x[0], x[j + 1]);
                            acc[j + 4] = acc[j + 4].fma(x[j + 1], x[j + 1]);
                        }
                    });
                    for j in 0..4 {
                        out[i + j] = formulas::cosine(s[j], qq, s[j + 4]);
                    }
                }
            }
            i += 4;
        }
        while i < n {
            let row = core::slice::from_raw_parts(r.add(i * dim), dim);
            out[i] = match metric {
                Metric::Dot => dot::<T, V>(query, row),
                Metric::L2sq => l2sq::<T, V>(query, row),
                Metric::L2 => l2::<T, V>(query, row),
                _ => cosine::<T, V>(query, row),
            };
            i += 1;
        }
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
                            out[(i + a) * nc + j..(i + a) * nc + j + 4].copy_from_slice(&s[a * 4..a * 4 + 4]);
                        }
                    }
                    (4, _) => {
                        let p = [q.add(i * dim), q.add((i + 1) * dim), q.add((i + 2) * dim), q.add((i + 3) * dim), c.add(j * dim)];
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
                        let p = [q.add(i * dim), c.add(j * dim), c.add((j + 1) * dim), c.add((j + 2) * dim), c.add((j + 3) * dim)];
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
