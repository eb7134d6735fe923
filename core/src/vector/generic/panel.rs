//! The candidate-panel multi-query kernel (the GEMM micro-kernel, transposed), written once
//! over `PackPanel`: candidates are packed `W` per vector (`[dim][W]`, converted to f32), the
//! query elements are broadcast, so one accumulator holds one query's dot products with `W`
//! candidates. Same contract as `fused_scan` (`FusedScan`), so callers do not change.

use super::super::lanes::Panel;
use super::super::{Element, Metric};
use super::FusedScan;

/// A `Panel` that can also pack candidate rows into a panel and store a vector: the lane
/// primitives of `panel_scan`.
///
/// # Safety
/// As `Panel`; `pack` writes exactly the `dim` vectors it is asked for, `store` `W` f32.
pub unsafe trait PackPanel<T: Element>: Panel<T> {
    /// Packs `n <= W` candidate rows (contiguous, `dim` elements each, from `src`) into
    /// `dim` vectors at `out + d·ostride` (`ostride >= W`): lane `l` of vector `d` is element
    /// `d` of row `l` converted exactly to f32, and lanes `n..W` are zero. Returns the
    /// lane-wise sums of squares of the packed vectors (the candidates' squared norms, f32,
    /// in any order). The default is a plain scalar loop; an ISA overrides it with an
    /// in-register transpose.
    ///
    /// # Safety
    /// `src` must be readable for `n·dim` elements, `out` writable for `(dim − 1)·ostride + W`
    /// f32; the ISA must be available.
    #[inline(always)]
    unsafe fn pack(src: *const T, n: usize, dim: usize, out: *mut f32, ostride: usize) -> Self {
        // SAFETY: forwarded contract.
        unsafe {
            let mut cc = [Self::zero(); 4];
            for d in 0..dim {
                let o = out.add(d * ostride);
                for l in 0..Self::W {
                    let x = if l < n {
                        (*src.add(l * dim + d)).to_f64() as f32
                    } else {
                        0.0
                    };
                    o.add(l).write(x);
                }
                // Four chains hide the FMA latency.
                let x = Self::load(o);
                cc[d % 4] = cc[d % 4].fma(x, x);
            }
            cc[0].add(cc[1]).add(cc[2].add(cc[3]))
        }
    }
    /// Hints that the cache line holding `p` will be read soon, into the outer cache levels
    /// (L2), not L1 (default: nothing). Never faults, whatever `p` is.
    ///
    /// # Safety
    /// Must run where the ISA is available.
    #[inline(always)]
    unsafe fn prefetch_l2(p: *const u8) {
        let _ = p;
    }
    /// Lane-wise `self + b`.
    ///
    /// # Safety
    /// Must run where the ISA is available.
    unsafe fn add(self, b: Self) -> Self;
    /// Writes the `W` lanes to `p` (unaligned).
    ///
    /// # Safety
    /// `p..p+W` must be writable; the ISA must be available.
    unsafe fn store(self, p: *mut f32);
}

/// Packed candidate bytes per block: every query group streams the whole block, so it must
/// stay in L2 (2 MiB per core here, 1 MiB on many others) while being re-read.
const BLOCK_BYTES: usize = 256 * 1024;

/// f32 per cache line: the packed panels are aligned to it.
const ALIGN_F32: usize = 16;

/// Largest register tile height (queries per group) any instantiation may use.
pub const MAX_ROWS: usize = 14;

/// The candidate-panel multi-query kernel (contract: `FusedScan`):
///
/// - the queries are split into `⌈nq / R⌉` groups of nearly equal size (at most `R`; no
///   padding to a lane multiple), each packed once per call as `[dim][size]` f32, so the
///   micro-kernel's broadcasts walk forward through a few KB that stay in L1;
/// - candidates are taken in blocks of about `BLOCK_BYTES`, packed into panels of `W`
///   candidates (`PackPanel::pack`), `NV` panels interleaved per tile (`[dim][NV·W]`), with
///   each candidate's squared norm summed from the packed panel (sequential f32 over the
///   dimension) and turned into the key coefficients `x`, `y`;
/// - every group visits every tile of the block: the micro-kernel (`tile`) loads `NV` candidate
///   vectors per dimension step and broadcasts each of the group's query elements into
///   `size × NV` accumulators, then computes the keys, compares each vector with the query's
///   threshold and calls `hit` only for the pairs that pass.
///
/// # Safety
/// `scan.queries.dim() == scan.cands.dim() > 0`, `scan.qz.len() == scan.thr.len() ==
/// scan.queries.rows()`, `R` in 1..=`MAX_ROWS`, `NV` in 1..=4, and the ISA of `P` must be
/// available.
#[inline(always)]
pub unsafe fn panel_scan<T, P, const R: usize, const NV: usize>(
    scan: &mut FusedScan<'_, T>,
    hit: &mut dyn FnMut(usize, usize) -> f32,
) where
    T: Element,
    P: PackPanel<T>,
{
    let w = P::W;
    let (nq, nc, dim) = (scan.queries.rows(), scan.cands.rows(), scan.queries.dim());
    debug_assert!(
        dim > 0 && scan.cands.dim() == dim && scan.qz.len() == nq && scan.thr.len() == nq
    );
    debug_assert!((1..=MAX_ROWS).contains(&R) && (1..=4).contains(&NV) && w <= 64);
    let span = NV * w;
    let block = (BLOCK_BYTES / (dim * 4)).div_ceil(span).max(1) * span;
    // Scratch: packed queries (nq·dim), packed candidate block (block·dim), then the key
    // coefficients x and y of the block's candidates, and one vector of norms.
    // Every part is written before it is read: grown, never cleared.
    let sc = &mut *scan.scratch;
    let need = nq * dim + block * dim + 2 * block + w + ALIGN_F32;
    if sc.len() < need {
        sc.resize(need, 0.0);
    }
    // The panels start on a cache line, so no vector load of them straddles two lines.
    let skip = sc.as_ptr().align_offset(ALIGN_F32 * 4).min(ALIGN_F32);
    let (cpk, rest) = sc[skip..].split_at_mut(block * dim);
    let (qpk, rest) = rest.split_at_mut(nq * dim);
    let (xs, rest) = rest.split_at_mut(block);
    let (ys, ccs) = rest.split_at_mut(block);
    let groups = nq.div_ceil(R);
    let group = |g: usize| -> (usize, usize) {
        // The first `nq % groups` groups hold one query more than the others.
        let (base, extra) = (nq / groups, nq % groups);
        (g * base + g.min(extra), base + usize::from(g < extra))
    };
    let qd = scan.queries.data();
    for g in 0..groups {
        let (q0, size) = group(g);
        let out = &mut qpk[q0 * dim..(q0 + size) * dim];
        for i in 0..size {
            for (d, &x) in qd[(q0 + i) * dim..(q0 + i + 1) * dim].iter().enumerate() {
                out[d * size + i] = x.to_f64() as f32;
            }
        }
    }
    let (metric, rel) = (scan.metric, scan.rel);
    let cp = scan.cands.data().as_ptr();
    let (thr, qz) = (&mut *scan.thr, scan.qz);
    let mut s0 = 0;
    while s0 < nc {
        let n = block.min(nc - s0);
        let panels = n.div_ceil(w);
        for p in 0..panels {
            // Full tiles interleave their `NV` panels; the panels of a last, partial tile are
            // packed one by one (the micro-kernel takes them one at a time).
            let (t, v) = (p / NV, p % NV);
            let (nvt, base) = if (t + 1) * NV <= panels {
                (NV, t * NV * w * dim + v * w)
            } else {
                (1, p * w * dim)
            };
            let rows = w.min(n - p * w);
            // SAFETY: rows `s0 + p·w ..+ rows` are inside the candidates; tile `t` holds
            // `dim · nvt · w` f32 of `cpk` from `t·NV·w·dim`; the ISA is the caller's promise.
            unsafe {
                let out = cpk.as_mut_ptr().add(base);
                let cc = P::pack(cp.add((s0 + p * w) * dim), rows, dim, out, nvt * w);
                cc.store(ccs.as_mut_ptr());
            }
            coeffs(
                metric,
                rel,
                &ccs[..w],
                &mut xs[p * w..(p + 1) * w],
                &mut ys[p * w..(p + 1) * w],
            );
        }
        // The next block's rows are prefetched into L2 a few lines per tile while this one is
        // scored, so packing it reads from cache instead of stalling on memory.
        let next = block.min(nc - s0 - n);
        let lines = (next * dim * core::mem::size_of::<T>()).div_ceil(64);
        let tiles = panels.div_ceil(NV);
        let mut pf = Prefetch {
            at: cp.wrapping_add((s0 + n) * dim) as *const u8,
            left: lines,
            per_tile: lines.div_ceil(tiles),
        };
        let blk = Block {
            cpk: cpk.as_ptr(),
            xs: xs.as_ptr(),
            ys: ys.as_ptr(),
            s0,
            n,
            dim,
        };
        // Each tile of `NV` panels (`16 KB` at dimension 128) stays in L1 while every query
        // group visits it; the groups' packed queries stream from L2.
        let mut p = 0;
        while p < panels {
            let full = p + NV <= panels;
            // SAFETY: a prefetch never faults; the ISA is the caller's promise.
            unsafe { pf.step::<T, P>() };
            for g in 0..groups {
                let (q0, size) = group(g);
                let qp = qpk[q0 * dim..].as_ptr();
                // SAFETY: the group's panel holds `size · dim` f32; panels `p..p + NV` (or `p`
                // alone when not `full`) exist in the block, with their `xs`, `ys`; `q0 + size
                // <= nq` entries of `thr` and `qz`.
                unsafe {
                    macro_rules! rows {
                        ($($s:literal)*) => {
                            match size {
                                $($s => if full {
                                    run::<T, P, $s, NV>(&blk, p, qp, q0, thr, qz, hit)
                                } else {
                                    run::<T, P, $s, 1>(&blk, p, qp, q0, thr, qz, hit)
                                },)*
                                _ => unreachable!("group size {size} above {MAX_ROWS}"),
                            }
                        };
                    }
                    rows!(1 2 3 4 5 6 7 8 9 10 11 12 13 14);
                }
            }
            p += if full { NV } else { 1 };
        }
        s0 += n;
    }
}

/// The key coefficients `x`, `y` of candidates with squared norms `cc` (see `FusedScan`),
/// one branch-free loop per metric so the compiler vectorises it.
#[inline(always)]
fn coeffs(metric: Metric, rel: f64, cc: &[f32], xs: &mut [f32], ys: &mut [f32]) {
    #[inline(always)]
    fn each(cc: &[f32], xs: &mut [f32], ys: &mut [f32], f: impl Fn(f64) -> (f64, f64)) {
        for ((&c, x), y) in cc.iter().zip(xs.iter_mut()).zip(ys.iter_mut()) {
            let c = c as f64;
            let (a, b) = f(c);
            // Not finite (+∞ or NaN): both coefficients NaN, so the key is NaN and reported.
            let bad = !c.is_finite();
            *x = if bad { f32::NAN } else { a as f32 };
            *y = if bad { f32::NAN } else { b as f32 };
        }
    }
    match metric {
        Metric::Dot => each(cc, xs, ys, |c| (1.0, rel * c.sqrt())),
        Metric::Cosine => each(cc, xs, ys, |c| {
            (if c > 0.0 { 1.0 / c.sqrt() } else { 0.0 }, 0.0)
        }),
        _ => each(cc, xs, ys, |c| (2.0, -c * (1.0 - 2.0 * rel))),
    }
}

/// One packed candidate block (see `panel_scan`).
struct Block {
    /// Packed tiles: tile `t` at `t·NV·W·dim`, layout `[dim][nvt·W]`.
    cpk: *const f32,
    /// Key coefficients per packed candidate.
    xs: *const f32,
    ys: *const f32,
    /// Candidate rows `s0..s0 + n` of the call.
    s0: usize,
    n: usize,
    dim: usize,
}

/// Cache lines still to prefetch: `left` lines from `at`, `per_tile` per tile.
struct Prefetch {
    at: *const u8,
    left: usize,
    per_tile: usize,
}

impl Prefetch {
    /// Prefetches the next `per_tile` lines (into L2).
    ///
    /// # Safety
    /// The ISA of `P` must be available.
    #[inline(always)]
    unsafe fn step<T: Element, P: PackPanel<T>>(&mut self) {
        let n = self.per_tile.min(self.left);
        for i in 0..n {
            // SAFETY: a prefetch never faults; the ISA is the caller's promise.
            unsafe { P::prefetch_l2(self.at.wrapping_add(i * 64)) };
        }
        self.at = self.at.wrapping_add(n * 64);
        self.left -= n;
    }
}

/// One tile (`N` panels from panel `p`) against one query group of `S` queries from `q0`.
///
/// # Safety
/// As described where `panel_scan` calls it; the ISA of `P` must be available.
#[inline(always)]
unsafe fn run<T: Element, P: PackPanel<T>, const S: usize, const N: usize>(
    blk: &Block,
    p: usize,
    qp: *const f32,
    q0: usize,
    thr: &mut [f32],
    qz: &[f32],
    hit: &mut dyn FnMut(usize, usize) -> f32,
) {
    // SAFETY: forwarded contract.
    unsafe {
        let acc = tile::<T, P, S, N>(blk.cpk.add(p * P::W * blk.dim), qp, blk.dim);
        finish::<T, P, S, N>(blk, &acc, p, q0, thr, qz, hit);
    }
}

/// The micro-kernel: `S` queries (packed `[dim][S]` at `qp`) times the `N` interleaved
/// candidate panels at `cp` (`[dim][N·W]`); sequential f32 FMA over the dimension.
///
/// # Safety
/// `dim > 0`, `cp` readable for `dim·N·W` f32, `qp` for `dim·S`; the ISA of `P` must be
/// available.
#[inline(always)]
#[allow(clippy::needless_range_loop)] // register tile indexed by (query, vector)
unsafe fn tile<T: Element, P: PackPanel<T>, const S: usize, const N: usize>(
    cp: *const f32,
    qp: *const f32,
    dim: usize,
) -> [[P; N]; S] {
    let w = P::W;
    // SAFETY (whole block): forwarded contract.
    unsafe {
        // The first step multiplies (`dim > 0`): no zeroed tile to build (which the compiler
        // did with a `memset` per call) and the same sums as starting from zero.
        let c: [P; N] = core::array::from_fn(|v| P::load(cp.add(v * w)));
        let mut acc: [[P; N]; S] =
            core::array::from_fn(|i| core::array::from_fn(|v| c[v].mul(P::splat(*qp.add(i)))));
        for d in 1..dim {
            let c: [P; N] = core::array::from_fn(|v| P::load(cp.add((d * N + v) * w)));
            for i in 0..S {
                let b = P::splat(*qp.add(d * S + i));
                for v in 0..N {
                    acc[i][v] = acc[i][v].fma(c[v], b);
                }
            }
        }
        acc
    }
}

/// The keys of one tile (`N` panels from panel `p`, `S` queries from `q0`), one threshold
/// compare per (query, vector), `hit` for each passing pair.
///
/// # Safety
/// As `run`; panels `p..p + N` exist in the block.
#[inline(always)]
#[allow(clippy::needless_range_loop)] // register tile indexed by (query, vector)
unsafe fn finish<T: Element, P: PackPanel<T>, const S: usize, const N: usize>(
    blk: &Block,
    acc: &[[P; N]; S],
    p: usize,
    q0: usize,
    thr: &mut [f32],
    qz: &[f32],
    hit: &mut dyn FnMut(usize, usize) -> f32,
) {
    let w = P::W;
    // Lanes past the block's last candidate are padding: never reported.
    let valid: [u64; N] = core::array::from_fn(|v| {
        let left = blk.n.saturating_sub((p + v) * w);
        if left >= w {
            u64::MAX
        } else {
            (1u64 << left) - 1
        }
    });
    // SAFETY (whole block): `xs`, `ys` cover the block's panels; `q0 + S <= thr.len()`.
    unsafe {
        for i in 0..S {
            let qi = q0 + i;
            let mut t = P::splat(*thr.get_unchecked(qi));
            let z = P::splat(*qz.get_unchecked(qi));
            for v in 0..N {
                let o = (p + v) * w;
                let key = P::load(blk.ys.add(o))
                    .mul(z)
                    .fma(acc[i][v], P::load(blk.xs.add(o)));
                let mut m = P::accept(key, t) & valid[v];
                if m != 0 {
                    while m != 0 {
                        let j = blk.s0 + o + m.trailing_zeros() as usize;
                        *thr.get_unchecked_mut(qi) = hit(qi, j);
                        m &= m - 1;
                    }
                    t = P::splat(*thr.get_unchecked(qi));
                }
            }
        }
    }
}
