//! The int8 one-query row scan over `ByteDot` lanes (an unsigned × signed byte dot product,
//! x86 AVX512-VNNI `vpdpbusd`: 64 products per instruction, no widening).
//!
//! Each row byte `c` is flipped to the unsigned `c + 128`; per row and query `q`:
//! - `B = Σ (c+128)·q = c·q + 128·Σq`, so `c·q = B − 128·Σq` (`Σq` once per query);
//! - `A = Σ (c+128)·c + (c+128)·(−128) = Σ (c² − 16384)` over the loaded lanes (padding
//!   bytes are zero and add −16384 too), so `c·c = A + 16384 · loaded lanes`;
//! - `l2sq = c·c − 2·c·q + q·q`, cosine from `c·q`, `q·q`, `c·c`.
//!
//! Every sum is an exact integer (far inside i32 per lane, see `ByteDot`), so the scores are
//! bit-identical to the pair kernels, which sum the same exact integers another way.

use super::super::Metric;
use super::super::formulas;
use super::super::lanes::{ByteDot, Lanes};

/// Full loads per row up to which rows are scored here (longer rows use `score_rows`).
const MAX_LOADS: usize = 8;

/// Bytes ahead of the current group of rows that are prefetched: at this read speed the
/// hardware prefetchers alone leave the int8 scan short of the read bandwidth.
const PREFETCH_AHEAD: usize = 1024;

/// `generic::score_rows` for int8 over `ByteDot` lanes: the same scores, bit for bit.
///
/// # Safety
/// As `generic::score_rows`; the ISA of `V` must be available.
#[inline(always)]
pub unsafe fn score_rows_bytes<V: ByteDot + Lanes<i8>>(
    metric: Metric,
    query: &[i8],
    rows: &[i8],
    dim: usize,
    out: &mut [f64],
) {
    // SAFETY (whole block): forwarded contract; each arm has `dim = C·BYTES + tail`.
    unsafe {
        match dim / <V as ByteDot>::BYTES {
            _ if dim == 0 => super::score_rows::<i8, V>(metric, query, rows, dim, out),
            0 => fixed::<V, 0>(metric, query, rows, dim, out),
            1 => fixed::<V, 1>(metric, query, rows, dim, out),
            2 => fixed::<V, 2>(metric, query, rows, dim, out),
            3 => fixed::<V, 3>(metric, query, rows, dim, out),
            4 => fixed::<V, 4>(metric, query, rows, dim, out),
            5 => fixed::<V, 5>(metric, query, rows, dim, out),
            6 => fixed::<V, 6>(metric, query, rows, dim, out),
            7 => fixed::<V, 7>(metric, query, rows, dim, out),
            MAX_LOADS => fixed::<V, MAX_LOADS>(metric, query, rows, dim, out),
            _ => super::score_rows::<i8, V>(metric, query, rows, dim, out),
        }
    }
}

/// `score_rows_bytes` for `dim = C·BYTES + tail` (`tail < BYTES`, `dim > 0`): the query's
/// loads stay in registers; rows are scored in groups of eight sharing one transposed
/// reduction per accumulator kind.
///
/// # Safety
/// As `score_rows_bytes`, plus `C * BYTES <= dim < (C + 1) * BYTES` and `C <= MAX_LOADS`.
#[inline(always)]
unsafe fn fixed<V: ByteDot, const C: usize>(
    metric: Metric,
    query: &[i8],
    rows: &[i8],
    dim: usize,
    out: &mut [f64],
) {
    let l = V::BYTES;
    let tail = dim - C * l;
    debug_assert!(tail < l && dim > 0 && C <= MAX_LOADS);
    let sum_q: i64 = query.iter().map(|&x| x as i64).sum();
    let qq: i64 = query.iter().map(|&x| x as i64 * x as i64).sum();
    let lanes = ((C + usize::from(tail > 0)) * l) as i64;
    let n = out.len();
    // SAFETY (whole block): the query holds `dim` bytes; row `i` is `r + i*dim .. r + (i+1)*dim`,
    // inside `rows` for `i < n`; partial loads read only `tail` bytes; prefetches never fault.
    unsafe {
        let q = query.as_ptr();
        let r = rows.as_ptr();
        let qv: [V::Bytes; C] = core::array::from_fn(|c| V::load(q.add(c * l)));
        let qt = if tail > 0 {
            V::load_partial(q.add(C * l), tail)
        } else {
            V::splat(0)
        };
        let m128 = V::splat(-128);
        let group = 8 * dim;
        let mut i = 0;
        while i < n {
            let m = (n - i).min(8);
            let p0 = r.add(i * dim);
            let mut o = 0;
            while o < group {
                V::prefetch(p0.wrapping_add(PREFETCH_AHEAD + o));
                o += 64;
            }
            let mut b = [V::zero(); 8];
            if metric == Metric::Dot {
                for (j, bj) in b.iter_mut().enumerate().take(m) {
                    *bj = row::<V, C>(&qv, qt, m128, p0.add(j * dim), tail, false).1;
                }
                for (o, s) in out[i..i + m].iter_mut().zip(V::reduce8(b)) {
                    *o = s - (128 * sum_q) as f64;
                }
            } else {
                let mut a = [V::zero(); 8];
                for j in 0..m {
                    (a[j], b[j]) = row::<V, C>(&qv, qt, m128, p0.add(j * dim), tail, true);
                }
                let (sa, sb) = (V::reduce8(a), V::reduce8(b));
                for j in 0..m {
                    let cq = sb[j] as i64 - 128 * sum_q;
                    let cc = sa[j] as i64 + 16384 * lanes;
                    out[i + j] = match metric {
                        Metric::Cosine => formulas::cosine(cq as f64, qq as f64, cc as f64),
                        Metric::L2 => ((cc - 2 * cq + qq) as f64).sqrt(),
                        _ => (cc - 2 * cq + qq) as f64,
                    };
                }
            }
            i += m;
        }
    }
}

/// One row's accumulators `(A, B)` (see the module doc); `A` stays zero unless `norm`.
///
/// # Safety
/// `p` is valid for `C * BYTES + tail` reads (`tail < BYTES`); the ISA of `V` must be available.
#[inline(always)]
unsafe fn row<V: ByteDot, const C: usize>(
    qv: &[V::Bytes; C],
    qt: V::Bytes,
    m128: V::Bytes,
    p: *const i8,
    tail: usize,
    norm: bool,
) -> (V, V) {
    let l = V::BYTES;
    // SAFETY: reads inside the row (the caller's promise); `load_partial` reads `tail`.
    unsafe {
        let (mut a, mut b) = (V::zero(), V::zero());
        let mut step = |x: V::Bytes, qc: V::Bytes| {
            let u = V::flip(x);
            b = b.dp(u, qc);
            if norm {
                a = a.dp(u, x).dp(u, m128);
            }
        };
        for (c, &qc) in qv.iter().enumerate() {
            step(V::load(p.add(c * l)), qc);
        }
        if tail > 0 {
            step(V::load_partial(p.add(C * l), tail), qt);
        }
        (a, b)
    }
}
