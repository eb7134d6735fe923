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
    // `cpuid` is on every x86_64 CPU; leaf 7 exists when leaf 0's eax (the maximum) reaches it.
    let (max, edx) = (__cpuid(0).eax, __cpuid_count(7, 0).edx);
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
    // 32 rows × 32 queries of f32 dot products, row-major.
    let mut dots = [[0f32; 2 * TILE]; 2 * TILE];
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
        // A later block's rows are asked into L2 a share per query pair (the tile loads would
        // wait on memory otherwise; all at once, the requests queue behind each other).
        let ahead = s
            .rows
            .get((r0 + PREFETCH_ROWS) * dim..(r0 + PREFETCH_ROWS + 2 * TILE) * dim);
        let share = (2 * TILE * stride).div_ceil(pairs);
        for p in 0..pairs {
            if let Some(rows) = ahead {
                let bytes: *const u8 = rows.as_ptr().cast();
                for off in (p * share..((p + 1) * share).min(2 * TILE * stride)).step_by(64) {
                    // SAFETY: `off` is inside `rows`; a prefetch has no other effect.
                    unsafe { _mm_prefetch::<_MM_HINT_T1>(bytes.add(off).cast()) };
                }
            }
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
                    a = inout(reg) block => _,
                    a2 = inout(reg) block.add(TILE * stride) => _,
                    b = inout(reg) panel.as_ptr().add(2 * p * TILE * TILE) => _,
                    n = inout(reg) steps => _,
                    sa = in(reg) stride,
                    sb = in(reg) 64usize,
                    bstep = in(reg) groups * TILE * TILE * 4,
                    c = in(reg) dots.as_mut_ptr(),
                    sc = in(reg) 128usize,
                    options(nostack),
                );
            }
            let q0 = p * 2 * TILE;
            // SAFETY: `a` and `thr` hold `nqp ≥ q0 + 32` elements; `dots` rows hold 32.
            unsafe {
                let av = [
                    _mm512_loadu_ps(a.as_ptr().add(q0)),
                    _mm512_loadu_ps(a.as_ptr().add(q0 + TILE)),
                ];
                for (i, drow) in dots.iter().enumerate().take(rows_here) {
                    let j = r0 + i;
                    let (alpha, u, w) = (
                        _mm512_set1_ps(s.alpha[j]),
                        _mm512_set1_ps(s.u[j]),
                        _mm512_set1_ps(s.w[j]),
                    );
                    for (h, &ah) in av.iter().enumerate() {
                        let d = _mm512_loadu_ps(drow.as_ptr().add(h * TILE));
                        let key = _mm512_fmadd_ps(alpha, d, _mm512_fmadd_ps(ah, u, w));
                        let t = _mm512_loadu_ps(thr.as_ptr().add(q0 + h * TILE));
                        let mut m = _mm512_cmp_ps_mask::<_CMP_NLT_UQ>(key, t);
                        while m != 0 {
                            let qi = q0 + h * TILE + m.trailing_zeros() as usize;
                            m &= m - 1;
                            if qi < nq {
                                thr[qi] = hit(qi, j);
                            }
                        }
                    }
                }
            }
        }
        r0 += rows_here;
    }
    s.thr.copy_from_slice(&thr[..nq]);
}

/// The u32 scratch viewed as bfloat16 (two per u32).
fn bytemuck_bf16(x: &mut [u32]) -> &mut [half::bf16] {
    // SAFETY: bf16 is a 2-byte plain-old-data type with alignment 2 ≤ u32's; the view covers
    // exactly the same bytes, borrowed mutably for the same lifetime.
    unsafe { core::slice::from_raw_parts_mut(x.as_mut_ptr().cast(), x.len() * 2) }
}
