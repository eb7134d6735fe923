//! x86_64 AVX-512 tier (F + BW + VL, with AVX2/FMA/F16C): 16 × f32 / 8 × f64 lanes with masked
//! tail loads, int8 via `vpdpwssd` when AVX512-VNNI is present (else `vpmaddwd`), bits via
//! `vpopcntq` when AVX512-VPOPCNTDQ is present (else scalar `popcnt`). Float32 takes the AVX2
//! tier's one-query, pair, tile and norm kernels and this tier's multi-query kernel
//! (`f32_table`).

use core::arch::x86_64::*;

use half::{bf16, f16};
use numpack_core::vector::lanes::{Lanes, Panel};
use numpack_core::vector::{Kernels, with_divergences};

/// The CPU features this tier needs (VNNI and VPOPCNTDQ are optional extras).
pub fn is_available() -> bool {
    super::x86_avx2::is_available()
        && is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx512vl")
}

/// True if AVX512-VNNI int8 kernels will be used.
pub fn has_vnni() -> bool {
    is_available() && is_x86_feature_detected!("avx512vnni")
}

/// True if AVX512-VPOPCNTDQ bit kernels will be used.
pub fn has_vpopcntdq() -> bool {
    is_available() && is_x86_feature_detected!("avx512vpopcntdq")
}

/// The AVX-512 kernel table, or `None` if this CPU lacks AVX-512 F/BW/VL (or the AVX2 set).
pub fn new() -> Option<Kernels> {
    if !is_available() {
        return None;
    }
    let i8 = if has_vnni() {
        i8_avx512vnni::table()
    } else {
        i8_avx512::table()
    };
    let avx2 = super::x86_avx2::new()?;
    let u8 = if has_vpopcntdq() {
        super::bits::table(hamming_u8_avx512, jaccard_u8_avx512)
    } else {
        avx2.u8.clone()
    };
    Some(Kernels {
        name: "avx512",
        f32: f32_table(avx2.f32),
        f64: with_divergences(f64_avx512::table()),
        f16: with_divergences(f16_avx512::table()),
        bf16: with_divergences(bf16_avx512::table()),
        i8,
        u8,
        copy_scan: None,
    })
}

/// The float32 table: the AVX2 tier's kernels (256-bit loads and FMAs; every one-query,
/// pair, tile and norm kernel, so that all of them still give the same bits as each other)
/// with this tier's 512-bit fused multi-query kernel. A 1M × 128 float32 one-query scan, which
/// reads memory, runs at 98–106 % of OpenBLAS `sdot`'s read speed with them against 89–95 %
/// with 512-bit ones (dot and l2, 1 thread, alternated in one process; cosine 88–94 % either
/// way), and no slower from the L3 cache (200K rows).
fn f32_table(
    avx2: numpack_core::vector::DTypeKernels<f32>,
) -> numpack_core::vector::DTypeKernels<f32> {
    numpack_core::vector::DTypeKernels {
        fused: Some(f32_avx512::fused_kernel()),
        ..avx2
    }
}

#[inline(always)]
fn mask16(n: usize) -> __mmask16 {
    ((1u32 << n) - 1) as __mmask16
}

/// 16 × f32 accumulator (f32, f16 and bf16 inputs).
#[derive(Clone, Copy)]
pub struct F32x16(__m512);

macro_rules! f32x16_lanes {
    ($t:ty, |$p:ident| $load:expr, |$q:ident, $m:ident| $partial:expr) => {
        // SAFETY: AVX-512 F/BW/VL + F16C only; values of `F32x16` exist only inside this tier's
        // `#[target_feature]` functions; `load` reads 16 elements, `load_partial` reads `n`
        // (masked loads never touch masked-off elements).
        unsafe impl Lanes<$t> for F32x16 {
            type In = __m512;
            const LANES: usize = 16;
            const FLUSH: usize = usize::MAX;
            #[inline(always)]
            unsafe fn load($p: *const $t) -> __m512 {
                // SAFETY: the caller guarantees 16 readable elements.
                unsafe { $load }
            }
            #[inline(always)]
            unsafe fn load_partial($q: *const $t, n: usize) -> __m512 {
                let $m = mask16(n);
                // SAFETY: masked load of the `n` readable elements.
                unsafe { $partial }
            }
            #[inline(always)]
            unsafe fn prefetch(p: *const $t) {
                // SAFETY: a prefetch hint never faults.
                unsafe { _mm_prefetch::<_MM_HINT_T0>(p as *const i8) }
            }
            #[inline(always)]
            unsafe fn zero() -> Self {
                // SAFETY: AVX-512F.
                F32x16(unsafe { _mm512_setzero_ps() })
            }
            #[inline(always)]
            unsafe fn sub(a: __m512, b: __m512) -> __m512 {
                // SAFETY: AVX-512F.
                unsafe { _mm512_sub_ps(a, b) }
            }
            #[inline(always)]
            unsafe fn fma(self, a: __m512, b: __m512) -> Self {
                // SAFETY: AVX-512F.
                F32x16(unsafe { _mm512_fmadd_ps(a, b, self.0) })
            }
            #[inline(always)]
            unsafe fn add(self, o: Self) -> Self {
                // SAFETY: AVX-512F.
                F32x16(unsafe { _mm512_add_ps(self.0, o.0) })
            }
            #[inline(always)]
            unsafe fn reduce(self) -> f64 {
                // SAFETY: AVX-512F.
                unsafe { hsum16(self.0) as f64 }
            }
            #[inline(always)]
            unsafe fn reduce8(v: [Self; 8]) -> [f64; 8] {
                // SAFETY: AVX-512F.
                unsafe { hsum16x8(v.map(|x| x.0)) }
            }
        }
    };
}

/// Horizontal sum of 16 f32 lanes by the halving tree: t = x[i] + x[i+8], u = t[i] + t[i+4],
/// v = u[i] + u[i+2], v[0] + v[1] (`hsum16x8` computes the same tree for eight vectors).
///
/// # Safety
/// AVX-512F must be available.
#[inline(always)]
unsafe fn hsum16(x: __m512) -> f32 {
    // SAFETY: AVX-512F (implies AVX/SSE).
    unsafe {
        let hi = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(x)));
        let t = _mm256_add_ps(_mm512_castps512_ps256(x), hi);
        let u = _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps::<1>(t));
        let v = _mm_add_ps(u, _mm_movehl_ps(u, u));
        _mm_cvtss_f32(_mm_add_ss(v, _mm_shuffle_ps::<1>(v, v)))
    }
}

/// `hsum16` of eight vectors as one transposed reduction (every row sums its lanes in the
/// same tree, so each result is `hsum16`'s bit for bit), widened to f64.
///
/// # Safety
/// AVX-512F must be available.
#[inline(always)]
unsafe fn hsum16x8(x: [__m512; 8]) -> [f64; 8] {
    // SAFETY: AVX-512F.
    unsafe {
        // [a.t | b.t]: lanes i and i+8 of each input.
        #[inline(always)]
        unsafe fn p1(a: __m512, b: __m512) -> __m512 {
            // SAFETY: AVX-512F, the caller's promise.
            unsafe {
                _mm512_add_ps(
                    _mm512_shuffle_f32x4::<0b01_00_01_00>(a, b),
                    _mm512_shuffle_f32x4::<0b11_10_11_10>(a, b),
                )
            }
        }
        // Four 128-bit blocks [a.u | b.u | c.u | d.u]: t[i] + t[i+4].
        #[inline(always)]
        unsafe fn p2(ab: __m512, cd: __m512) -> __m512 {
            // SAFETY: AVX-512F, the caller's promise.
            unsafe {
                _mm512_add_ps(
                    _mm512_shuffle_f32x4::<0b10_00_10_00>(ab, cd),
                    _mm512_shuffle_f32x4::<0b11_01_11_01>(ab, cd),
                )
            }
        }
        let abcd = p2(p1(x[0], x[1]), p1(x[2], x[3]));
        let efgh = p2(p1(x[4], x[5]), p1(x[6], x[7]));
        // Block k: [row k v0, v1, row k+4 v0, v1], v = u[i] + u[i+2].
        let z = _mm512_add_ps(
            _mm512_shuffle_ps::<0b01_00_01_00>(abcd, efgh),
            _mm512_shuffle_ps::<0b11_10_11_10>(abcd, efgh),
        );
        // Lanes 0 and 2 of each block: v0 + v1.
        let w = _mm512_add_ps(z, _mm512_shuffle_ps::<0b10_11_00_01>(z, z));
        let idx = _mm512_setr_epi32(0, 4, 8, 12, 2, 6, 10, 14, 1, 1, 1, 1, 1, 1, 1, 1);
        let r = _mm512_cvtps_pd(_mm512_castps512_ps256(_mm512_permutexvar_ps(idx, w)));
        let mut out = [0f64; 8];
        _mm512_storeu_pd(out.as_mut_ptr(), r);
        out
    }
}

/// Exact horizontal sums of eight 16 × i32 accumulators: lanes are summed in i32 down to
/// sums of 8 lanes (which fit, see `i8x32_lanes`), the last pair in f64 (exact integers).
///
/// # Safety
/// AVX-512F must be available.
#[inline(always)]
unsafe fn hsum_epi32x8(x: [__m512i; 8]) -> [f64; 8] {
    // SAFETY: AVX-512F.
    unsafe {
        #[inline(always)]
        unsafe fn p1(a: __m512i, b: __m512i) -> __m512i {
            // SAFETY: AVX-512F, the caller's promise.
            unsafe {
                _mm512_add_epi32(
                    _mm512_shuffle_i32x4::<0b01_00_01_00>(a, b),
                    _mm512_shuffle_i32x4::<0b11_10_11_10>(a, b),
                )
            }
        }
        #[inline(always)]
        unsafe fn p2(ab: __m512i, cd: __m512i) -> __m512i {
            // SAFETY: AVX-512F, the caller's promise.
            unsafe {
                _mm512_add_epi32(
                    _mm512_shuffle_i32x4::<0b10_00_10_00>(ab, cd),
                    _mm512_shuffle_i32x4::<0b11_01_11_01>(ab, cd),
                )
            }
        }
        let abcd = _mm512_castsi512_ps(p2(p1(x[0], x[1]), p1(x[2], x[3])));
        let efgh = _mm512_castsi512_ps(p2(p1(x[4], x[5]), p1(x[6], x[7])));
        let z = _mm512_add_epi32(
            _mm512_castps_si512(_mm512_shuffle_ps::<0b01_00_01_00>(abcd, efgh)),
            _mm512_castps_si512(_mm512_shuffle_ps::<0b11_10_11_10>(abcd, efgh)),
        );
        // Low half: v0 of rows 0..8, high half: v1 of rows 0..8.
        let idx = _mm512_setr_epi32(0, 4, 8, 12, 2, 6, 10, 14, 1, 5, 9, 13, 3, 7, 11, 15);
        let p = _mm512_permutexvar_epi32(idx, z);
        let r = _mm512_add_pd(
            _mm512_cvtepi32_pd(_mm512_castsi512_si256(p)),
            _mm512_cvtepi32_pd(_mm512_extracti64x4_epi64::<1>(p)),
        );
        let mut out = [0f64; 8];
        _mm512_storeu_pd(out.as_mut_ptr(), r);
        out
    }
}

f32x16_lanes!(f32, |p| _mm512_loadu_ps(p), |p, m| _mm512_maskz_loadu_ps(
    m, p
));
f32x16_lanes!(
    f16,
    |p| _mm512_cvtph_ps(_mm256_loadu_si256(p as *const __m256i)),
    |p, m| _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p as *const i16))
);
f32x16_lanes!(
    bf16,
    |p| bf16_widen(_mm256_loadu_si256(p as *const __m256i)),
    |p, m| bf16_widen(_mm256_maskz_loadu_epi16(m, p as *const i16))
);

/// 16 bfloat16 as 16 f32: each 16-bit value moves to the high half of its 32-bit lane, the low
/// half zeroed, in one word permute (`vpermw` with a zeroing mask), where widening then
/// shifting takes two shuffle/shift operations on the ports the FMAs also need.
///
/// # Safety
/// AVX-512 F/BW.
#[inline(always)]
unsafe fn bf16_widen(x: __m256i) -> __m512 {
    // SAFETY: AVX-512 F/BW (the caller's tier); word 2i+1 of the result is word i of `x`, and
    // the mask's clear bits zero every even word.
    unsafe {
        let idx = _mm512_set_epi16(
            15, 0, 14, 0, 13, 0, 12, 0, 11, 0, 10, 0, 9, 0, 8, 0, 7, 0, 6, 0, 5, 0, 4, 0, 3, 0, 2,
            0, 1, 0, 0, 0,
        );
        _mm512_castsi512_ps(_mm512_maskz_permutexvar_epi16(
            0xAAAA_AAAA,
            idx,
            _mm512_castsi256_si512(x),
        ))
    }
}

macro_rules! f32x16_panel {
    ($t:ty, |$p:ident| $splat:expr, quad = $quad:expr) => {
        // SAFETY: AVX-512 F/BW/VL + F16C only; values of `F32x16` exist only inside this tier's
        // `#[target_feature]` functions; `load` reads 16 f32, `splat_elem` one element.
        unsafe impl Panel<$t> for F32x16 {
            const W: usize = 16;
            #[inline(always)]
            unsafe fn zero() -> Self {
                // SAFETY: AVX-512F.
                F32x16(unsafe { _mm512_setzero_ps() })
            }
            #[inline(always)]
            unsafe fn splat(x: f32) -> Self {
                // SAFETY: AVX-512F.
                F32x16(unsafe { _mm512_set1_ps(x) })
            }
            #[inline(always)]
            unsafe fn splat_elem($p: *const $t) -> Self {
                // SAFETY: the caller guarantees one readable element; AVX-512F / F16C.
                F32x16(unsafe { $splat })
            }
            #[inline(always)]
            unsafe fn load(p: *const f32) -> Self {
                // SAFETY: the caller guarantees 16 readable f32.
                F32x16(unsafe { _mm512_loadu_ps(p) })
            }
            #[inline(always)]
            unsafe fn fma(self, a: Self, b: Self) -> Self {
                // SAFETY: AVX-512F.
                F32x16(unsafe { _mm512_fmadd_ps(a.0, b.0, self.0) })
            }
            #[inline(always)]
            unsafe fn mul(self, b: Self) -> Self {
                // SAFETY: AVX-512F.
                F32x16(unsafe { _mm512_mul_ps(self.0, b.0) })
            }
            #[inline(always)]
            unsafe fn accept(key: Self, thr: Self) -> u64 {
                // SAFETY: AVX-512F; NLT_UQ is true for "not less than" and for NaN.
                unsafe { _mm512_cmp_ps_mask::<_CMP_NLT_UQ>(key.0, thr.0) as u64 }
            }
            #[inline(always)]
            unsafe fn splat_quad($p: *const $t) -> Self {
                // SAFETY: the caller guarantees four readable elements; AVX-512F / BW / F16C.
                F32x16(unsafe { $quad })
            }
            #[inline(always)]
            unsafe fn sum_quads(self) -> Self {
                // SAFETY: AVX-512F. Pairs (0+1, 2+3) then the two pair sums, in every 128-bit
                // lane; each lane of a quad adds the same values in the same order.
                unsafe {
                    let x = self.0;
                    let p = _mm512_add_ps(x, _mm512_permute_ps::<0b10_11_00_01>(x));
                    F32x16(_mm512_add_ps(p, _mm512_permute_ps::<0b01_00_11_10>(p)))
                }
            }
        }
    };
}

f32x16_panel!(
    f32,
    |p| _mm512_set1_ps(p.read_unaligned()),
    quad = _mm512_broadcast_f32x4(_mm_loadu_ps(p))
);
f32x16_panel!(
    f16,
    |p| _mm512_cvtph_ps(_mm256_set1_epi16((p as *const i16).read_unaligned())),
    quad = _mm512_cvtph_ps(_mm256_set1_epi64x((p as *const i64).read_unaligned()))
);
f32x16_panel!(
    bf16,
    |p| _mm512_castsi512_ps(_mm512_set1_epi32(
        ((p as *const u16).read_unaligned() as i32) << 16
    )),
    quad = _mm512_castsi512_ps(_mm512_slli_epi32::<16>(_mm512_cvtepu16_epi32(
        _mm256_set1_epi64x((p as *const i64).read_unaligned())
    )))
);

/// 8 × f64 accumulator.
#[derive(Clone, Copy)]
pub struct F64x8(__m512d);

// SAFETY: AVX-512F only; values exist only inside this tier's target-feature functions;
// `load` reads 8 elements, `load_partial` a masked `n`.
unsafe impl Lanes<f64> for F64x8 {
    type In = __m512d;
    const LANES: usize = 8;
    const FLUSH: usize = usize::MAX;
    #[inline(always)]
    unsafe fn load(p: *const f64) -> __m512d {
        // SAFETY: the caller guarantees 8 readable elements.
        unsafe { _mm512_loadu_pd(p) }
    }
    #[inline(always)]
    unsafe fn load_partial(p: *const f64, n: usize) -> __m512d {
        // SAFETY: masked load of the `n` readable elements.
        unsafe { _mm512_maskz_loadu_pd(((1u32 << n) - 1) as __mmask8, p) }
    }
    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY: AVX-512F.
        F64x8(unsafe { _mm512_setzero_pd() })
    }
    #[inline(always)]
    unsafe fn sub(a: __m512d, b: __m512d) -> __m512d {
        // SAFETY: AVX-512F.
        unsafe { _mm512_sub_pd(a, b) }
    }
    #[inline(always)]
    unsafe fn fma(self, a: __m512d, b: __m512d) -> Self {
        // SAFETY: AVX-512F.
        F64x8(unsafe { _mm512_fmadd_pd(a, b, self.0) })
    }
    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        // SAFETY: AVX-512F.
        F64x8(unsafe { _mm512_add_pd(self.0, o.0) })
    }
    #[inline(always)]
    unsafe fn reduce(self) -> f64 {
        // SAFETY: AVX-512F.
        unsafe { _mm512_reduce_add_pd(self.0) }
    }
}

macro_rules! i8x32_lanes {
    ($name:ident, $doc:literal, |$acc:ident, $a:ident, $b:ident| $fma:expr) => {
        #[doc = $doc]
        #[derive(Clone, Copy)]
        pub struct $name(__m512i);

        // SAFETY: AVX-512 F/BW (+VNNI for the VNNI type, checked before its table is built);
        // 32 elements per load; per flush (2^16 elements = 2048 loads) each i32 lane gets
        // 2 × 2048 products ≤ 255², below i32::MAX.
        unsafe impl Lanes<i8> for $name {
            type In = __m512i;
            const LANES: usize = 32;
            const FLUSH: usize = 1 << 16;
            #[inline(always)]
            unsafe fn load(p: *const i8) -> __m512i {
                // SAFETY: the caller guarantees 32 readable bytes.
                unsafe { _mm512_cvtepi8_epi16(_mm256_loadu_si256(p as *const __m256i)) }
            }
            #[inline(always)]
            unsafe fn load_partial(p: *const i8, n: usize) -> __m512i {
                // SAFETY: masked load of the `n` readable bytes.
                unsafe {
                    _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(((1u64 << n) - 1) as __mmask32, p))
                }
            }
            #[inline(always)]
            unsafe fn prefetch(p: *const i8) {
                // SAFETY: a prefetch hint never faults.
                unsafe { _mm_prefetch::<_MM_HINT_T0>(p) }
            }
            #[inline(always)]
            unsafe fn zero() -> Self {
                // SAFETY: AVX-512F.
                $name(unsafe { _mm512_setzero_si512() })
            }
            #[inline(always)]
            unsafe fn sub(a: __m512i, b: __m512i) -> __m512i {
                // SAFETY: AVX-512BW.
                unsafe { _mm512_sub_epi16(a, b) }
            }
            #[inline(always)]
            unsafe fn fma(self, $a: __m512i, $b: __m512i) -> Self {
                let $acc = self.0;
                // SAFETY: AVX-512BW / VNNI, see the impl comment.
                $name(unsafe { $fma })
            }
            #[inline(always)]
            unsafe fn add(self, o: Self) -> Self {
                // SAFETY: AVX-512F.
                $name(unsafe { _mm512_add_epi32(self.0, o.0) })
            }
            #[inline(always)]
            unsafe fn reduce(self) -> f64 {
                // Exact: a lane holds at most 4096 products of magnitude <= 255^2 (< 2.7e8), so
                // sums of 8 lanes (< 2.14e9) still fit in i32; the last two are added as i64.
                // SAFETY: AVX-512F / AVX2 / SSE4.1, implied by this tier.
                unsafe {
                    let v = self.0;
                    let a = _mm256_add_epi32(
                        _mm512_castsi512_si256(v),
                        _mm512_extracti64x4_epi64::<1>(v),
                    );
                    let b =
                        _mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256::<1>(a));
                    let c = _mm_add_epi32(b, _mm_shuffle_epi32::<0b01_00_11_10>(b));
                    (_mm_cvtsi128_si32(c) as i64 + _mm_extract_epi32::<1>(c) as i64) as f64
                }
            }
            #[inline(always)]
            unsafe fn reduce8(v: [Self; 8]) -> [f64; 8] {
                // SAFETY: AVX-512F.
                unsafe { hsum_epi32x8(v.map(|x| x.0)) }
            }
        }
    };
}

i8x32_lanes!(
    I8x32,
    "int8 accumulator: 32 elements widened to i16, `vpmaddwd` into 16 × i32.",
    |acc, a, b| _mm512_add_epi32(acc, _mm512_madd_epi16(a, b))
);
i8x32_lanes!(
    I8x32Vnni,
    "int8 accumulator using AVX512-VNNI `vpdpwssd` (multiply-add in one instruction).",
    |acc, a, b| _mm512_dpwssd_epi32(acc, a, b)
);

mod f32_avx512 {
    numpack_core::numeric_kernels!(fused_only f32, super::F32x16, panel = super::F32x16, 8, 3, #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]);
}
mod f64_avx512 {
    numpack_core::numeric_kernels!(f64, super::F64x8, #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]);
}
mod f16_avx512 {
    numpack_core::numeric_kernels!(half::f16, super::F32x16, panel = super::F32x16, 8, 3, #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]);
}
mod bf16_avx512 {
    numpack_core::numeric_kernels!(half::bf16, super::F32x16, panel = super::F32x16, 8, 3, #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]);
}
mod i8_avx512 {
    numpack_core::numeric_kernels!(i8, super::I8x32, #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]);
}
mod i8_avx512vnni {
    numpack_core::numeric_kernels!(i8, super::I8x32Vnni, #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]);
}

/// popcount(a XOR b) and, for Jaccard, popcount(a AND b), popcount(a OR b), 64 bytes per step.
///
/// # Safety
/// The CPU must support AVX-512 F/BW and VPOPCNTDQ; `a.len() == b.len()`.
#[target_feature(enable = "avx512f,avx512bw,avx512vpopcntdq")]
unsafe fn bits_u8_avx512(a: &[u8], b: &[u8], jaccard: bool) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    let n = a.len();
    let (mut x, mut and, mut or) = (
        _mm512_setzero_si512(),
        _mm512_setzero_si512(),
        _mm512_setzero_si512(),
    );
    let mut i = 0;
    while i < n {
        let m = if n - i >= 64 {
            u64::MAX
        } else {
            (1u64 << (n - i)) - 1
        };
        // SAFETY: masked loads read only the `min(64, n - i)` bytes inside both slices.
        let (va, vb) = unsafe {
            (
                _mm512_maskz_loadu_epi8(m, a.as_ptr().add(i) as *const i8),
                _mm512_maskz_loadu_epi8(m, b.as_ptr().add(i) as *const i8),
            )
        };
        if jaccard {
            and = _mm512_add_epi64(and, _mm512_popcnt_epi64(_mm512_and_si512(va, vb)));
            or = _mm512_add_epi64(or, _mm512_popcnt_epi64(_mm512_or_si512(va, vb)));
        } else {
            x = _mm512_add_epi64(x, _mm512_popcnt_epi64(_mm512_xor_si512(va, vb)));
        }
        i += 64;
    }
    if jaccard {
        numpack_core::vector::formulas::jaccard(
            _mm512_reduce_add_epi64(and) as u64,
            _mm512_reduce_add_epi64(or) as u64,
        )
    } else {
        _mm512_reduce_add_epi64(x) as f64
    }
}

fn hamming_u8_avx512(a: &[u8], b: &[u8]) -> f64 {
    // SAFETY: only reachable through `new()`, which checked AVX-512 F/BW and VPOPCNTDQ.
    unsafe { bits_u8_avx512(a, b, false) }
}

fn jaccard_u8_avx512(a: &[u8], b: &[u8]) -> f64 {
    // SAFETY: only reachable through `new()`, which checked AVX-512 F/BW and VPOPCNTDQ.
    unsafe { bits_u8_avx512(a, b, true) }
}
