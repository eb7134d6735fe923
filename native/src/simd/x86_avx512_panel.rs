//! AVX-512 parts of the candidate-panel multi-query kernel (`generic::panel_scan`): 16
//! candidates per vector, packed by a 16 × 16 in-register transpose (f16 and bf16 converted to
//! f32 on load), query elements broadcast from memory into a 14 × 2 register tile.
//!
//! Not chosen by `dispatch`: measured against the tier's register-tile kernel
//! (`BENCH_ONLY=kernel` in `benches/simd_kernels.rs`), it is as fast at 10, 100 and 1000
//! queries and slower at 32 (the transpose costs about what the lane padding it avoids saved).
//! `new` builds the alternative table for the tests and that benchmark.

use core::arch::x86_64::*;

use numpack_core::vector::generic::{FusedScan, PackPanel, panel_scan};
use numpack_core::vector::lanes::{Lanes, Panel};
use numpack_core::vector::{Element, Kernels};

use super::x86_avx512::F32x16;

/// The AVX-512 kernel table with the fused multi-query kernels of f32, f16 and bf16 replaced by
/// the candidate-panel kernels, or `None` if this CPU lacks the AVX-512 tier.
pub fn new() -> Option<Kernels> {
    let mut k = super::x86_avx512::new()?;
    k.f32.fused = Some(fused_f32);
    k.f16.fused = Some(fused_f16);
    k.bf16.fused = Some(fused_bf16);
    Some(k)
}

/// Transposes a 16 × 16 block of f32: output `c` holds element `c` of every input.
#[inline(always)]
unsafe fn transpose16(r: [__m512; 16]) -> [__m512; 16] {
    // SAFETY: AVX-512F shuffles only; the caller runs inside an AVX-512 function.
    unsafe {
        // Within each 128-bit lane: pairs, then quads (rows 4g..4g+3 of column 4L+k in lane L
        // of `u[4g + k]`).
        let t: [__m512; 16] = core::array::from_fn(|i| {
            let (a, b) = (r[i & !1], r[i | 1]);
            if i % 2 == 0 {
                _mm512_unpacklo_ps(a, b)
            } else {
                _mm512_unpackhi_ps(a, b)
            }
        });
        let u: [__m512; 16] = core::array::from_fn(|i| {
            let (g, k) = (i / 4, i % 4);
            let (a, b) = (t[4 * g + k / 2], t[4 * g + 2 + k / 2]);
            if k % 2 == 0 {
                _mm512_shuffle_ps::<0x44>(a, b)
            } else {
                _mm512_shuffle_ps::<0xEE>(a, b)
            }
        });
        // Across 128-bit lanes: output 4L + k takes lane L of u[k], u[4 + k], u[8 + k], u[12 + k].
        let mut out = [_mm512_setzero_ps(); 16];
        for k in 0..4 {
            let a = _mm512_shuffle_f32x4::<0x88>(u[k], u[4 + k]);
            let b = _mm512_shuffle_f32x4::<0xDD>(u[k], u[4 + k]);
            let c = _mm512_shuffle_f32x4::<0x88>(u[8 + k], u[12 + k]);
            let d = _mm512_shuffle_f32x4::<0xDD>(u[8 + k], u[12 + k]);
            out[k] = _mm512_shuffle_f32x4::<0x88>(a, c);
            out[8 + k] = _mm512_shuffle_f32x4::<0xDD>(a, c);
            out[4 + k] = _mm512_shuffle_f32x4::<0x88>(b, d);
            out[12 + k] = _mm512_shuffle_f32x4::<0xDD>(b, d);
        }
        out
    }
}

// SAFETY: AVX-512F only (plus the loads of the `Lanes` impls of this tier); values of `F32x16`
// exist only inside this tier's `#[target_feature]` functions; `pack` loads with masks past a
// row's end and stores only the `dim` vectors asked for; `store` writes 16 f32.
unsafe impl<T: Element> PackPanel<T> for F32x16
where
    F32x16: Panel<T> + Lanes<T, In = __m512>,
{
    #[inline(always)]
    unsafe fn pack(src: *const T, n: usize, dim: usize, out: *mut f32, ostride: usize) -> Self {
        // SAFETY (whole block): reads stay inside the `n` rows of `dim` elements (masked past
        // the end), writes inside the `dim` output vectors; the ISA is the caller's promise.
        unsafe {
            let mut cc = [_mm512_setzero_ps(); 4];
            let mut d0 = 0;
            while d0 < dim {
                let m = (dim - d0).min(16);
                let at = |l: usize| src.add(l * dim + d0);
                let rows: [__m512; 16] = if n == 16 && m == 16 {
                    core::array::from_fn(|l| <F32x16 as Lanes<T>>::load(at(l)))
                } else {
                    core::array::from_fn(|l| {
                        if l >= n {
                            _mm512_setzero_ps()
                        } else {
                            <F32x16 as Lanes<T>>::load_partial(at(l), m)
                        }
                    })
                };
                let cols = transpose16(rows);
                if m == 16 {
                    for (c, v) in cols.iter().enumerate() {
                        _mm512_storeu_ps(out.add((d0 + c) * ostride), *v);
                        cc[c % 4] = _mm512_fmadd_ps(*v, *v, cc[c % 4]);
                    }
                } else {
                    for (c, v) in cols.iter().enumerate().take(m) {
                        _mm512_storeu_ps(out.add((d0 + c) * ostride), *v);
                        cc[c % 4] = _mm512_fmadd_ps(*v, *v, cc[c % 4]);
                    }
                }
                d0 += 16;
            }
            F32x16(_mm512_add_ps(
                _mm512_add_ps(cc[0], cc[1]),
                _mm512_add_ps(cc[2], cc[3]),
            ))
        }
    }
    #[inline(always)]
    unsafe fn prefetch_l2(p: *const u8) {
        // SAFETY: a prefetch hint never faults.
        unsafe { _mm_prefetch::<_MM_HINT_T1>(p as *const i8) }
    }
    #[inline(always)]
    unsafe fn add(self, b: Self) -> Self {
        // SAFETY: AVX-512F.
        F32x16(unsafe { _mm512_add_ps(self.0, b.0) })
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: the caller guarantees 16 writable f32; AVX-512F.
        unsafe { _mm512_storeu_ps(p, self.0) }
    }
}

macro_rules! panel_fused {
    ($name:ident, $imp:ident, $t:ty) => {
        #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
        unsafe fn $imp(s: &mut FusedScan<'_, $t>, hit: &mut dyn FnMut(usize, usize) -> f32) {
            // SAFETY: forwarded contract (14 rows × 2 vectors: 28 accumulators, 2 candidate
            // vectors and a spare of the 32 zmm registers).
            unsafe { panel_scan::<$t, F32x16, 14, 2>(s, hit) }
        }

        fn $name(s: &mut FusedScan<'_, $t>, hit: &mut dyn FnMut(usize, usize) -> f32) {
            // SAFETY: only installed by `new`, after `x86_avx512::new` checked AVX-512 F/BW/VL
            // with AVX2/FMA/F16C; the search layer checks the shapes (`FusedScan`).
            unsafe { $imp(s, hit) }
        }
    };
}

panel_fused!(fused_f32, fused_f32_impl, f32);
panel_fused!(fused_f16, fused_f16_impl, half::f16);
panel_fused!(fused_bf16, fused_bf16_impl, half::bf16);
