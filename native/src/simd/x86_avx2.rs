//! x86_64 AVX2 + FMA + F16C tier: 8 × f32 / 4 × f64 lanes, int8 via `vpmaddwd`, bits via `popcnt`.
//!
//! The lane types below implement `numpack_core::vector::lanes::Lanes`; the loops live in
//! `numpack_core::vector::generic` and are instantiated inside `#[target_feature]` functions.

use core::arch::x86_64::*;

use half::{bf16, f16};
use numpack_core::vector::lanes::{Lanes, Panel};
use numpack_core::vector::{Kernels, with_divergences};

/// The CPU features this tier needs.
pub fn is_available() -> bool {
    is_x86_feature_detected!("avx2")
        && is_x86_feature_detected!("fma")
        && is_x86_feature_detected!("f16c")
        && is_x86_feature_detected!("popcnt")
}

/// The AVX2 kernel table, or `None` if this CPU lacks AVX2, FMA, F16C or POPCNT.
pub fn new() -> Option<Kernels> {
    if !is_available() {
        return None;
    }
    Some(Kernels {
        name: "avx2",
        f32: with_divergences(f32_avx2::table()),
        f64: with_divergences(f64_avx2::table()),
        f16: with_divergences(f16_avx2::table()),
        bf16: with_divergences(bf16_avx2::table()),
        i8: i8_avx2::table(),
        u8: super::bits::table(hamming_u8_avx2, jaccard_u8_avx2),
        copy_scan: None,
    })
}

/// 8 × f32 accumulator (f32, f16 and bf16 inputs).
#[derive(Clone, Copy)]
pub struct F32x8(__m256);

/// Horizontal sum of 8 f32 lanes.
#[inline(always)]
unsafe fn hsum_ps(v: __m256) -> f64 {
    // SAFETY: AVX is implied by the AVX2 tier the caller runs in.
    unsafe {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
        _mm_cvtss_f32(s) as f64
    }
}

/// `hsum_ps` of eight vectors as one transposed reduction: every row is summed by the same
/// tree (t = x[i] + x[i+4], u = t[i] + t[i+2], u[0] + u[1]), so each result equals `hsum_ps`.
#[inline(always)]
unsafe fn hsum_ps_x8(x: [__m256; 8]) -> [f64; 8] {
    // SAFETY: AVX is implied by the AVX2 tier the caller runs in.
    unsafe {
        // [a.t | b.t]
        #[inline(always)]
        unsafe fn p1(a: __m256, b: __m256) -> __m256 {
            // SAFETY: AVX, the caller's promise.
            unsafe {
                _mm256_add_ps(
                    _mm256_permute2f128_ps::<0x20>(a, b),
                    _mm256_permute2f128_ps::<0x31>(a, b),
                )
            }
        }
        // [a.u0 a.u1 c.u0 c.u1 | b.u0 b.u1 d.u0 d.u1]
        #[inline(always)]
        unsafe fn p2(ab: __m256, cd: __m256) -> __m256 {
            // SAFETY: AVX, the caller's promise.
            unsafe {
                _mm256_add_ps(
                    _mm256_shuffle_ps::<0b01_00_01_00>(ab, cd),
                    _mm256_shuffle_ps::<0b11_10_11_10>(ab, cd),
                )
            }
        }
        let s1 = p2(p1(x[0], x[1]), p1(x[2], x[3]));
        let s2 = p2(p1(x[4], x[5]), p1(x[6], x[7]));
        // [a c e g | b d f h]
        let r = _mm256_add_ps(
            _mm256_shuffle_ps::<0b10_00_10_00>(s1, s2),
            _mm256_shuffle_ps::<0b11_01_11_01>(s1, s2),
        );
        let r = _mm256_permutevar8x32_ps(r, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        let mut out = [0f64; 8];
        _mm256_storeu_pd(out.as_mut_ptr(), _mm256_cvtps_pd(_mm256_castps256_ps128(r)));
        _mm256_storeu_pd(
            out.as_mut_ptr().add(4),
            _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(r)),
        );
        out
    }
}

/// Exact horizontal sums of eight 8 × i32 accumulators: sums of 4 lanes in i32 (they fit, see
/// `I8x16`), the last pair in f64 (exact integers).
#[inline(always)]
unsafe fn hsum_epi32_x8(x: [__m256i; 8]) -> [f64; 8] {
    // SAFETY: AVX2 is implied by the tier the caller runs in.
    unsafe {
        #[inline(always)]
        unsafe fn p1(a: __m256i, b: __m256i) -> __m256i {
            // SAFETY: AVX2, the caller's promise.
            unsafe {
                _mm256_add_epi32(
                    _mm256_permute2x128_si256::<0x20>(a, b),
                    _mm256_permute2x128_si256::<0x31>(a, b),
                )
            }
        }
        #[inline(always)]
        unsafe fn p2(ab: __m256i, cd: __m256i) -> __m256i {
            // SAFETY: AVX2, the caller's promise.
            unsafe {
                let (ab, cd) = (_mm256_castsi256_ps(ab), _mm256_castsi256_ps(cd));
                _mm256_add_epi32(
                    _mm256_castps_si256(_mm256_shuffle_ps::<0b01_00_01_00>(ab, cd)),
                    _mm256_castps_si256(_mm256_shuffle_ps::<0b11_10_11_10>(ab, cd)),
                )
            }
        }
        let s1 = _mm256_castsi256_ps(p2(p1(x[0], x[1]), p1(x[2], x[3])));
        let s2 = _mm256_castsi256_ps(p2(p1(x[4], x[5]), p1(x[6], x[7])));
        // [a c e g | b d f h] of the first and of the second 4-lane sums.
        let v0 = _mm256_castps_si256(_mm256_shuffle_ps::<0b10_00_10_00>(s1, s2));
        let v1 = _mm256_castps_si256(_mm256_shuffle_ps::<0b11_01_11_01>(s1, s2));
        let lo = _mm256_add_pd(
            _mm256_cvtepi32_pd(_mm256_castsi256_si128(v0)),
            _mm256_cvtepi32_pd(_mm256_castsi256_si128(v1)),
        );
        let hi = _mm256_add_pd(
            _mm256_cvtepi32_pd(_mm256_extracti128_si256::<1>(v0)),
            _mm256_cvtepi32_pd(_mm256_extracti128_si256::<1>(v1)),
        );
        let (mut a, mut b) = ([0f64; 4], [0f64; 4]);
        _mm256_storeu_pd(a.as_mut_ptr(), lo);
        _mm256_storeu_pd(b.as_mut_ptr(), hi);
        [a[0], b[0], a[1], b[1], a[2], b[2], a[3], b[3]]
    }
}

macro_rules! f32x8_lanes {
    ($t:ty, |$p:ident| $load:expr) => {
        // SAFETY: every method uses AVX/AVX2/FMA/F16C only, and values of `F32x8` are only
        // created inside this tier's `#[target_feature]` functions; `load` reads 8 elements.
        unsafe impl Lanes<$t> for F32x8 {
            type In = __m256;
            const LANES: usize = 8;
            const FLUSH: usize = usize::MAX;
            #[inline(always)]
            unsafe fn load($p: *const $t) -> __m256 {
                // SAFETY: the caller guarantees 8 readable elements at `p`.
                unsafe { $load }
            }
            #[inline(always)]
            unsafe fn prefetch(p: *const $t) {
                // SAFETY: a prefetch hint never faults.
                unsafe { _mm_prefetch::<_MM_HINT_T0>(p as *const i8) }
            }
            #[inline(always)]
            unsafe fn zero() -> Self {
                // SAFETY: AVX, see the impl comment.
                F32x8(unsafe { _mm256_setzero_ps() })
            }
            #[inline(always)]
            unsafe fn sub(a: __m256, b: __m256) -> __m256 {
                // SAFETY: AVX, see the impl comment.
                unsafe { _mm256_sub_ps(a, b) }
            }
            #[inline(always)]
            unsafe fn fma(self, a: __m256, b: __m256) -> Self {
                // SAFETY: FMA, see the impl comment.
                F32x8(unsafe { _mm256_fmadd_ps(a, b, self.0) })
            }
            #[inline(always)]
            unsafe fn add(self, o: Self) -> Self {
                // SAFETY: AVX, see the impl comment.
                F32x8(unsafe { _mm256_add_ps(self.0, o.0) })
            }
            #[inline(always)]
            unsafe fn reduce(self) -> f64 {
                // SAFETY: AVX, see the impl comment.
                unsafe { hsum_ps(self.0) }
            }
            #[inline(always)]
            unsafe fn reduce8(v: [Self; 8]) -> [f64; 8] {
                // SAFETY: AVX, see the impl comment.
                unsafe { hsum_ps_x8(v.map(|x| x.0)) }
            }
        }
    };
}

f32x8_lanes!(f32, |p| _mm256_loadu_ps(p));
f32x8_lanes!(f16, |p| _mm256_cvtph_ps(_mm_loadu_si128(
    p as *const __m128i
)));
f32x8_lanes!(bf16, |p| _mm256_castsi256_ps(_mm256_slli_epi32(
    _mm256_cvtepu16_epi32(_mm_loadu_si128(p as *const __m128i)),
    16
)));

macro_rules! f32x8_panel {
    ($t:ty, |$p:ident| $splat:expr, quad = $quad:expr) => {
        // SAFETY: AVX/AVX2/FMA/F16C only; values of `F32x8` are only created inside this tier's
        // `#[target_feature]` functions; `load` reads 8 f32, `splat_elem` one element.
        unsafe impl Panel<$t> for F32x8 {
            const W: usize = 8;
            #[inline(always)]
            unsafe fn zero() -> Self {
                // SAFETY: AVX.
                F32x8(unsafe { _mm256_setzero_ps() })
            }
            #[inline(always)]
            unsafe fn splat(x: f32) -> Self {
                // SAFETY: AVX.
                F32x8(unsafe { _mm256_set1_ps(x) })
            }
            #[inline(always)]
            unsafe fn splat_elem($p: *const $t) -> Self {
                // SAFETY: the caller guarantees one readable element; AVX2 / F16C.
                F32x8(unsafe { $splat })
            }
            #[inline(always)]
            unsafe fn load(p: *const f32) -> Self {
                // SAFETY: the caller guarantees 8 readable f32.
                F32x8(unsafe { _mm256_loadu_ps(p) })
            }
            #[inline(always)]
            unsafe fn fma(self, a: Self, b: Self) -> Self {
                // SAFETY: FMA.
                F32x8(unsafe { _mm256_fmadd_ps(a.0, b.0, self.0) })
            }
            #[inline(always)]
            unsafe fn mul(self, b: Self) -> Self {
                // SAFETY: AVX.
                F32x8(unsafe { _mm256_mul_ps(self.0, b.0) })
            }
            #[inline(always)]
            unsafe fn accept(key: Self, thr: Self) -> u64 {
                // SAFETY: AVX; NLT_UQ is true for "not less than" and for NaN.
                unsafe {
                    _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_NLT_UQ>(key.0, thr.0)) as u32 as u64
                }
            }
            #[inline(always)]
            unsafe fn splat_quad($p: *const $t) -> Self {
                // SAFETY: the caller guarantees four readable elements; AVX2 / F16C.
                F32x8(unsafe { $quad })
            }
            #[inline(always)]
            unsafe fn sum_quads(self) -> Self {
                // SAFETY: AVX. Pairs (0+1, 2+3) then the two pair sums, in each 128-bit half;
                // each lane of a quad adds the same values in the same order.
                unsafe {
                    let x = self.0;
                    let p = _mm256_add_ps(x, _mm256_permute_ps::<0b10_11_00_01>(x));
                    F32x8(_mm256_add_ps(p, _mm256_permute_ps::<0b01_00_11_10>(p)))
                }
            }
        }
    };
}

f32x8_panel!(
    f32,
    |p| _mm256_set1_ps(p.read_unaligned()),
    quad = {
        let q = _mm_loadu_ps(p);
        _mm256_set_m128(q, q)
    }
);
f32x8_panel!(
    f16,
    |p| _mm256_cvtph_ps(_mm_set1_epi16((p as *const i16).read_unaligned())),
    quad = _mm256_cvtph_ps(_mm_set1_epi64x((p as *const i64).read_unaligned()))
);
f32x8_panel!(
    bf16,
    |p| _mm256_castsi256_ps(_mm256_set1_epi32(
        ((p as *const u16).read_unaligned() as i32) << 16
    )),
    quad = _mm256_castsi256_ps(_mm256_slli_epi32::<16>(_mm256_cvtepu16_epi32(
        _mm_set1_epi64x((p as *const i64).read_unaligned())
    )))
);

/// 4 × f64 accumulator.
#[derive(Clone, Copy)]
pub struct F64x4(__m256d);

// SAFETY: AVX/FMA only, values created only inside this tier's target-feature functions;
// `load` reads 4 elements.
unsafe impl Lanes<f64> for F64x4 {
    type In = __m256d;
    const LANES: usize = 4;
    const FLUSH: usize = usize::MAX;
    #[inline(always)]
    unsafe fn load(p: *const f64) -> __m256d {
        // SAFETY: the caller guarantees 4 readable elements.
        unsafe { _mm256_loadu_pd(p) }
    }
    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY: AVX.
        F64x4(unsafe { _mm256_setzero_pd() })
    }
    #[inline(always)]
    unsafe fn sub(a: __m256d, b: __m256d) -> __m256d {
        // SAFETY: AVX.
        unsafe { _mm256_sub_pd(a, b) }
    }
    #[inline(always)]
    unsafe fn fma(self, a: __m256d, b: __m256d) -> Self {
        // SAFETY: FMA.
        F64x4(unsafe { _mm256_fmadd_pd(a, b, self.0) })
    }
    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        // SAFETY: AVX.
        F64x4(unsafe { _mm256_add_pd(self.0, o.0) })
    }
    #[inline(always)]
    unsafe fn reduce(self) -> f64 {
        // SAFETY: AVX.
        unsafe {
            let s = _mm_add_pd(
                _mm256_castpd256_pd128(self.0),
                _mm256_extractf128_pd(self.0, 1),
            );
            _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)))
        }
    }
}

/// int8 accumulator: 16 elements widened to i16, `vpmaddwd` into 8 × i32.
#[derive(Clone, Copy)]
pub struct I8x16(__m256i);

// SAFETY: AVX2 only; 16 elements per load; per flush (2^16 elements = 4096 loads) each i32
// lane gets 2 × 4096 products ≤ 255², below i32::MAX.
unsafe impl Lanes<i8> for I8x16 {
    type In = __m256i;
    const LANES: usize = 16;
    const FLUSH: usize = 1 << 16;
    #[inline(always)]
    unsafe fn load(p: *const i8) -> __m256i {
        // SAFETY: the caller guarantees 16 readable bytes.
        unsafe { _mm256_cvtepi8_epi16(_mm_loadu_si128(p as *const __m128i)) }
    }
    #[inline(always)]
    unsafe fn prefetch(p: *const i8) {
        // SAFETY: a prefetch hint never faults.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p) }
    }
    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY: AVX.
        I8x16(unsafe { _mm256_setzero_si256() })
    }
    #[inline(always)]
    unsafe fn sub(a: __m256i, b: __m256i) -> __m256i {
        // SAFETY: AVX2.
        unsafe { _mm256_sub_epi16(a, b) }
    }
    #[inline(always)]
    unsafe fn fma(self, a: __m256i, b: __m256i) -> Self {
        // SAFETY: AVX2.
        I8x16(unsafe { _mm256_add_epi32(self.0, _mm256_madd_epi16(a, b)) })
    }
    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        // SAFETY: AVX2.
        I8x16(unsafe { _mm256_add_epi32(self.0, o.0) })
    }
    #[inline(always)]
    unsafe fn reduce(self) -> f64 {
        // Exact: a lane holds at most 8192 products of magnitude <= 255^2 (< 5.4e8), so sums of
        // 4 lanes (< 2.14e9) still fit in i32; the last two are added as i64.
        // SAFETY: AVX2 / SSE4.1, implied by this tier.
        unsafe {
            let v = self.0;
            let a = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
            let c = _mm_add_epi32(a, _mm_shuffle_epi32::<0b01_00_11_10>(a));
            (_mm_cvtsi128_si32(c) as i64 + _mm_extract_epi32::<1>(c) as i64) as f64
        }
    }
    #[inline(always)]
    unsafe fn reduce8(v: [Self; 8]) -> [f64; 8] {
        // SAFETY: AVX2.
        unsafe { hsum_epi32_x8(v.map(|x| x.0)) }
    }
}

mod f32_avx2 {
    numpack_core::numeric_kernels!(f32, super::F32x8, panel = super::F32x8, 4, 3, #[target_feature(enable = "avx2,fma,f16c")]);
}
mod f64_avx2 {
    numpack_core::numeric_kernels!(f64, super::F64x4, #[target_feature(enable = "avx2,fma,f16c")]);
}
mod f16_avx2 {
    numpack_core::numeric_kernels!(half::f16, super::F32x8, panel = super::F32x8, 4, 3, #[target_feature(enable = "avx2,fma,f16c")]);
}
mod bf16_avx2 {
    numpack_core::numeric_kernels!(half::bf16, super::F32x8, panel = super::F32x8, 4, 3, #[target_feature(enable = "avx2,fma,f16c")]);
}
mod i8_avx2 {
    numpack_core::numeric_kernels!(i8, super::I8x16, #[target_feature(enable = "avx2,fma,f16c")]);
}

/// Bit-level Hamming distance with hardware `popcnt`.
///
/// # Safety
/// The CPU must support POPCNT; `a.len() == b.len()`.
#[target_feature(enable = "popcnt")]
unsafe fn hamming_u8_popcnt(a: &[u8], b: &[u8]) -> f64 {
    super::bits::hamming_u64(a, b)
}

/// Bit-level Jaccard distance with hardware `popcnt`.
///
/// # Safety
/// The CPU must support POPCNT; `a.len() == b.len()`.
#[target_feature(enable = "popcnt")]
unsafe fn jaccard_u8_popcnt(a: &[u8], b: &[u8]) -> f64 {
    super::bits::jaccard_u64(a, b)
}

fn hamming_u8_avx2(a: &[u8], b: &[u8]) -> f64 {
    // SAFETY: only reachable through `new()`, which checked POPCNT.
    unsafe { hamming_u8_popcnt(a, b) }
}

fn jaccard_u8_avx2(a: &[u8], b: &[u8]) -> f64 {
    // SAFETY: only reachable through `new()`, which checked POPCNT.
    unsafe { jaccard_u8_popcnt(a, b) }
}
