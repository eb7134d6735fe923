//! x86_64 AMX tier: the AVX-512 table plus the multi-query kernel over a norm cache's
//! bfloat16 copy (`CopyScan`) on the AMX tile unit (`tdpbf16ps`: a 16 × 16 block of f32 dot
//! products, 32 bfloat16 elements deep, per instruction). Linux only: a process must ask the
//! kernel for the tile state (`arch_prctl(ARCH_REQ_XCOMP_PERM)`) before its first tile
//! instruction. Rust has no stable AMX intrinsics, so the tile instructions are inline assembly.

use core::arch::asm;
use core::arch::x86_64::*;
use std::sync::OnceLock;

use numpack_core::vector::Kernels;
use numpack_core::vector::generic::{CopyKernel, CopyScan};

/// Rows and queries per tile; dimensions per tile step (64 bytes of bfloat16).
const TILE: usize = 16;
const STEP: usize = 32;
/// How far ahead (rows) the next blocks' rows are prefetched.
const PREFETCH_ROWS: usize = 64;

/// True if this CPU has AVX-512, AMX-TILE and AMX-BF16, and the OS granted the tile state.
pub fn is_available() -> bool {
    static GRANTED: OnceLock<bool> = OnceLock::new();
    *GRANTED.get_or_init(|| super::x86_avx512::is_available() && cpu_has_amx_bf16() && request())
}

fn cpu_has_amx_bf16() -> bool {
    // SAFETY: `cpuid` is on every x86_64 CPU (safe to call from Rust 1.92 on, unsafe at our
    // rust-version); leaf 7 exists when leaf 0's eax (the maximum) reaches it.
    #[allow(unused_unsafe)]
    let (max, edx) = unsafe { (__cpuid(0).eax, __cpuid_count(7, 0).edx) };
    max >= 7 && edx & (1 << 22) != 0 && edx & (1 << 24) != 0
}

/// Asks Linux for permission to use the AMX tile data (once per process, for every thread).
#[cfg(target_os = "linux")]
fn request() -> bool {
    const ARCH_REQ_XCOMP_PERM: libc::c_long = 0x1023;
    const XFEATURE_XTILEDATA: libc::c_long = 18;
    // SAFETY: arch_prctl with these arguments only changes the process's permitted xstate
    // features; it reads and writes no memory of ours.
    unsafe {
        libc::syscall(
            libc::SYS_arch_prctl,
            ARCH_REQ_XCOMP_PERM,
            XFEATURE_XTILEDATA,
        ) == 0
    }
}

#[cfg(not(target_os = "linux"))]
fn request() -> bool {
    false
}

/// The AMX kernel table (the AVX-512 one with `copy_scan`), or `None` without AMX.
pub fn new() -> Option<Kernels> {
    if !is_available() {
        return None;
    }
    let base = super::x86_avx512::new()?;
    Some(Kernels {
        name: "amx",
        copy_scan: Some(CopyKernel {
            scan: copy_scan,
            dim_multiple: STEP,
        }),
        ..base
    })
}

fn copy_scan(s: &mut CopyScan<'_>, hit: &mut dyn FnMut(usize, usize) -> f32) {
    // SAFETY: `copy_scan` is only reachable through `new`, which checked AVX-512, AMX-BF16
    // and the tile permission; the search layer passes `dim` a positive multiple of `STEP`
    // and slices of the lengths `CopyScan` states (checked again below).
    unsafe { copy_scan_amx(s, hit) }
}

/// The tile configuration: palette 1, every tile 16 rows of 64 bytes.
#[repr(C, align(64))]
struct TileConfig([u8; 64]);

impl TileConfig {
    fn new() -> Self {
        let mut c = [0u8; 64];
        c[0] = 1;
        for t in 0..8 {
            c[16 + 2 * t] = 64; // colsb, little-endian u16
            c[48 + t] = TILE as u8; // rows
        }
        TileConfig(c)
    }
}

/// Releases the tile state when the scan ends, also by unwinding out of `hit`.
struct Release;

impl Drop for Release {
    fn drop(&mut self) {
        // SAFETY: `tilerelease` only resets the tile state this thread configured.
        unsafe { asm!("tilerelease", options(nostack, nomem)) };
    }
}

/// Packs the queries for the tile unit: for each 32-element step `t` and group `g` of 16
/// queries, 16 rows (element pairs) of 16 queries × 2 bfloat16, one u32 per pair
/// (`tdpbf16ps`'s B layout); queries beyond `nq` are zero.
fn pack_queries(q: &[half::bf16], nq: usize, dim: usize, groups: usize, out: &mut [u32]) {
    let steps = dim / STEP;
    for t in 0..steps {
        for g in 0..groups {
            let panel = &mut out[(t * groups + g) * TILE * TILE..][..TILE * TILE];
            for r in 0..TILE {
                for n in 0..TILE {
                    let qi = g * TILE + n;
                    panel[r * TILE + n] = if qi < nq {
                        let e = qi * dim + t * STEP + 2 * r;
                        q[e].to_bits() as u32 | (q[e + 1].to_bits() as u32) << 16
                    } else {
                        0
                    };
                }
            }
        }
    }
}

/// # Safety
/// AVX-512 F and AMX-BF16 available with the tile permission granted; `s.dim` a positive
/// multiple of `STEP`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma")]
unsafe fn copy_scan_amx(s: &mut CopyScan<'_>, hit: &mut dyn FnMut(usize, usize) -> f32) {
    let (dim, nq, nc) = (s.dim, s.thr.len(), s.alpha.len());
    assert!(dim > 0 && dim % STEP == 0);
    assert!(s.rows.len() == nc * dim && s.queries.len() == nq * dim);
    assert!(s.u.len() == nc && s.w.len() == nc && s.a.len() == nq);
    if nc == 0 || nq == 0 {
        return;
    }
    // Queries in pairs of 16-query groups (32 per pass of the four accumulator tiles).
    let pairs = nq.div_ceil(2 * TILE);
    let groups = 2 * pairs;
    let nqp = groups * TILE;
    let steps = dim / STEP;
    let panel_len = steps * groups * TILE * TILE;
    // Scratch: the packed queries, then 32 zero-padded rows for the last partial row block.
    let sc = &mut *s.scratch;
    sc.clear();
    sc.resize(panel_len + 2 * TILE * dim / 2, 0);
    let (panel, tail) = sc.split_at_mut(panel_len);
    pack_queries(s.queries, nq, dim, groups, panel);
    let mut a = vec![0f32; nqp];
    a[..nq].copy_from_slice(s.a);
    let mut thr = vec![f32::INFINITY; nqp];
    thr[..nq].copy_from_slice(s.thr);
    // Two buffers of 32 rows × 32 queries of f32 dot products, row-major: the tile unit
    // fills one while the keys of the other are checked.
    let mut dots = [[[0f32; 2 * TILE]; 2 * TILE]; 2];
    let (mut cur, mut pending) = (0, None::<Scored>);
    let keys = Keys {
        alpha: s.alpha,
        u: s.u,
        w: s.w,
        a: &a,
        nq,
    };
    let cfg = TileConfig::new();
    // SAFETY: the tile permission was granted (`is_available`); the config is 64 valid bytes.
    unsafe { asm!("ldtilecfg [{}]", in(reg) cfg.0.as_ptr(), options(nostack, readonly)) };
    let _release = Release;
    let stride = dim * 2;
    let mut r0 = 0;
    while r0 < nc {
        let rows_here = (nc - r0).min(2 * TILE);
        let block: *const u8 = if rows_here == 2 * TILE {
            s.rows[r0 * dim..].as_ptr().cast()
        } else {
            let t: &mut [half::bf16] = bytemuck_bf16(tail);
            t.fill(half::bf16::ZERO);
            t[..rows_here * dim].copy_from_slice(&s.rows[r0 * dim..nc * dim]);
            tail.as_ptr().cast()
        };
        // A later block's rows (its `dim` cache lines) are asked into L2 eight lines per tile
        // step, inside the tile loop (a burst of requests would queue behind each other and
        // the tile loads wait on memory); with fewer than four query pairs, the lines the
        // steps do not reach are asked first. Prefetches never fault: past the end of the rows
        // they only waste a request (no pointer is formed from them but for the instruction).
        let ahead = (s.rows.as_ptr() as *const u8).wrapping_add((r0 + PREFETCH_ROWS) * stride);
        for line in (pairs.min(4) * steps * 8)..dim {
            // SAFETY: a prefetch has no architectural effect and does not fault (safe to call
            // in a `target_feature` function from Rust 1.92 on, unsafe at our rust-version).
            #[allow(unused_unsafe)]
            unsafe {
                _mm_prefetch::<_MM_HINT_T1>(ahead.wrapping_add(64 * line).cast())
            };
        }
        for p in 0..pairs {
            let pf = ahead.wrapping_add((p % 4) * steps * 512);
            // SAFETY: `block` holds 32 rows of `stride` bytes and `panel` `steps` × `groups`
            // tiles of 1 KiB; the loop reads, for each step, 64 bytes of each of the 32 rows
            // and the two 1 KiB tiles of groups 2p and 2p + 1, and writes the 4 KiB of `dots`.
            unsafe {
                asm!(
                    "tilezero tmm0",
                    "tilezero tmm1",
                    "tilezero tmm2",
                    "tilezero tmm3",
                    "2:",
                    "prefetcht1 [{pf}]",
                    "prefetcht1 [{pf} + 64]",
                    "prefetcht1 [{pf} + 128]",
                    "prefetcht1 [{pf} + 192]",
                    "prefetcht1 [{pf} + 256]",
                    "prefetcht1 [{pf} + 320]",
                    "prefetcht1 [{pf} + 384]",
                    "prefetcht1 [{pf} + 448]",
                    "add {pf}, 512",
                    "tileloadd tmm4, [{a} + {sa}*1]",
                    "tileloadd tmm5, [{a2} + {sa}*1]",
                    "tileloadd tmm6, [{b} + {sb}*1]",
                    "tileloadd tmm7, [{b} + {sb}*1 + 1024]",
                    "tdpbf16ps tmm0, tmm4, tmm6",
                    "tdpbf16ps tmm1, tmm4, tmm7",
                    "tdpbf16ps tmm2, tmm5, tmm6",
                    "tdpbf16ps tmm3, tmm5, tmm7",
                    "add {a}, 64",
                    "add {a2}, 64",
                    "add {b}, {bstep}",
                    "dec {n}",
                    "jnz 2b",
                    "tilestored [{c} + {sc}*1], tmm0",
                    "tilestored [{c} + {sc}*1 + 64], tmm1",
                    "tilestored [{c} + {sc}*1 + 2048], tmm2",
                    "tilestored [{c} + {sc}*1 + 2112], tmm3",
                    pf = inout(reg) pf => _,
                    a = inout(reg) block => _,
                    a2 = inout(reg) block.add(TILE * stride) => _,
                    b = inout(reg) panel.as_ptr().add(2 * p * TILE * TILE) => _,
                    n = inout(reg) steps => _,
                    sa = in(reg) stride,
                    sb = in(reg) 64usize,
                    bstep = in(reg) groups * TILE * TILE * 4,
                    c = in(reg) dots[cur].as_mut_ptr(),
                    sc = in(reg) 128usize,
                    options(nostack),
                );
            }
            // The previous block's keys are checked while the tile unit works on this one.
            let done = Scored {
                buf: cur,
                r0,
                rows: rows_here,
                q0: p * 2 * TILE,
            };
            if let Some(prev) = pending.replace(done) {
                // SAFETY: AVX-512 is checked by the tier; `thr` and `a` hold `nqp` elements,
                // every `q0 + 32 ≤ nqp`, and the block's rows are inside `0..nc`.
                unsafe { keys.check(&dots[prev.buf], prev, &mut thr, hit) };
            }
            cur ^= 1;
        }
        r0 += rows_here;
    }
    if let Some(last) = pending {
        // SAFETY: as for the blocks checked in the loop.
        unsafe { keys.check(&dots[last.buf], last, &mut thr, hit) };
    }
    s.thr.copy_from_slice(&thr[..nq]);
}

/// A block of dot products in `dots[buf]`: rows `r0..r0 + rows` × queries `q0..q0 + 32`.
#[derive(Clone, Copy)]
struct Scored {
    buf: usize,
    r0: usize,
    rows: usize,
    q0: usize,
}

/// The key terms of one kernel call (`CopyScan`), the queries' padded to whole pairs.
struct Keys<'a> {
    alpha: &'a [f32],
    u: &'a [f32],
    w: &'a [f32],
    a: &'a [f32],
    nq: usize,
}

impl Keys<'_> {
    /// Reports every pair of the block whose key is not below its query's threshold.
    ///
    /// # Safety
    /// AVX-512 F available; `thr` and `self.a` hold at least `b.q0 + 32` elements, and
    /// `alpha`, `u`, `w` at least `b.r0 + b.rows`, with `b.rows ≤ 32`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma")]
    unsafe fn check(
        &self,
        dots: &[[f32; 2 * TILE]; 2 * TILE],
        b: Scored,
        thr: &mut [f32],
        hit: &mut dyn FnMut(usize, usize) -> f32,
    ) {
        let q0 = b.q0;
        debug_assert!(thr.len() >= q0 + 2 * TILE && self.a.len() >= q0 + 2 * TILE);
        debug_assert!(self.alpha.len() >= b.r0 + b.rows && b.rows <= 2 * TILE);
        // Pass 1, without calls (so nothing is spilled around them): each row's pairs whose
        // key is not below the thresholds as they stand at the block's start, as a bit mask
        // per row; the queries beyond `nq` (padding) are never compared.
        let valid = |h: usize| -> __mmask16 {
            let n = self.nq.saturating_sub(q0 + h * TILE).min(TILE);
            ((1u32 << n) - 1) as __mmask16
        };
        let (v0, v1) = (valid(0), valid(1));
        let mut masks = [0u32; 2 * TILE];
        let mut any = 0u32;
        // SAFETY: the bounds above (the caller's contract).
        unsafe {
            let (a0, a1) = (
                _mm512_loadu_ps(self.a.as_ptr().add(q0)),
                _mm512_loadu_ps(self.a.as_ptr().add(q0 + TILE)),
            );
            let (t0, t1) = (
                _mm512_loadu_ps(thr.as_ptr().add(q0)),
                _mm512_loadu_ps(thr.as_ptr().add(q0 + TILE)),
            );
            for (i, (drow, mask)) in dots.iter().zip(masks.iter_mut()).enumerate().take(b.rows) {
                let j = b.r0 + i;
                let alpha = _mm512_set1_ps(*self.alpha.get_unchecked(j));
                let u = _mm512_set1_ps(*self.u.get_unchecked(j));
                let w = _mm512_set1_ps(*self.w.get_unchecked(j));
                let d0 = _mm512_loadu_ps(drow.as_ptr());
                let k0 = _mm512_fmadd_ps(alpha, d0, _mm512_fmadd_ps(a0, u, w));
                let mut m = _mm512_mask_cmp_ps_mask::<_CMP_NLT_UQ>(v0, k0, t0) as u32;
                if v1 != 0 {
                    let d1 = _mm512_loadu_ps(drow.as_ptr().add(TILE));
                    let k1 = _mm512_fmadd_ps(alpha, d1, _mm512_fmadd_ps(a1, u, w));
                    m |= (_mm512_mask_cmp_ps_mask::<_CMP_NLT_UQ>(v1, k1, t1) as u32) << TILE;
                }
                *mask = m;
                any |= m;
            }
        }
        if any == 0 {
            return;
        }
        // Pass 2: the reported pairs (a threshold risen since only makes this report more
        // than needed, never less).
        for (i, &mask) in masks.iter().enumerate().take(b.rows) {
            let mut m = mask;
            while m != 0 {
                let qi = q0 + m.trailing_zeros() as usize;
                m &= m - 1;
                thr[qi] = hit(qi, b.r0 + i);
            }
        }
    }
}

/// The u32 scratch viewed as bfloat16 (two per u32).
fn bytemuck_bf16(x: &mut [u32]) -> &mut [half::bf16] {
    // SAFETY: bf16 is a 2-byte plain-old-data type with alignment 2 ≤ u32's; the view covers
    // exactly the same bytes, borrowed mutably for the same lifetime.
    unsafe { core::slice::from_raw_parts_mut(x.as_mut_ptr().cast(), x.len() * 2) }
}
