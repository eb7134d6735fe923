//! aarch64 Advanced SIMD (NEON) tier: 4 × f32 / 2 × f64 lanes, f16 widened with `fcvtl`
//! (inline assembly: the f16 vector types are not stable), int8 via `smlal`, bits via `cnt`.

use core::arch::aarch64::*;
use core::arch::asm;

use half::{bf16, f16};
use numpack_core::vector::lanes::{Lanes, Panel, f16_to_f32};
use numpack_core::vector::{Kernels, with_divergences};

/// NEON is part of the aarch64 baseline; this checks it anyway.
pub fn is_available() -> bool {
    std::arch::is_aarch64_feature_detected!("neon")
}

/// The NEON kernel table, or `None` if NEON is missing.
pub fn new() -> Option<Kernels> {
    if !is_available() {
        return None;
    }
    Some(Kernels {
        name: "neon",
        f32: with_divergences(f32_neon::table()),
        f64: with_divergences(f64_neon::table()),
        f16: with_divergences(f16_neon::table()),
        bf16: with_divergences(bf16_neon::table()),
        i8: i8_neon::table(),
        u8: super::bits::table(hamming_u8_neon, jaccard_u8_neon),
        copy_scan: None,
    })
}

/// 4 × f32 accumulator (f32, f16 and bf16 inputs).
#[derive(Clone, Copy)]
pub struct F32x4(float32x4_t);

macro_rules! f32x4_lanes {
    ($t:ty, |$p:ident| $load:expr) => {
        // SAFETY: NEON only (baseline on aarch64, and checked by `new`); `load` reads 4 elements.
        unsafe impl Lanes<$t> for F32x4 {
            type In = float32x4_t;
            const LANES: usize = 4;
            const FLUSH: usize = usize::MAX;
            #[inline(always)]
            unsafe fn load($p: *const $t) -> float32x4_t {
                // SAFETY: the caller guarantees 4 readable elements.
                unsafe { $load }
            }
            #[inline(always)]
            unsafe fn zero() -> Self {
                // SAFETY: NEON.
                F32x4(unsafe { vdupq_n_f32(0.0) })
            }
            #[inline(always)]
            unsafe fn sub(a: float32x4_t, b: float32x4_t) -> float32x4_t {
                // SAFETY: NEON.
                unsafe { vsubq_f32(a, b) }
            }
            #[inline(always)]
            unsafe fn fma(self, a: float32x4_t, b: float32x4_t) -> Self {
                // SAFETY: NEON.
                F32x4(unsafe { vfmaq_f32(self.0, a, b) })
            }
            #[inline(always)]
            unsafe fn add(self, o: Self) -> Self {
                // SAFETY: NEON.
                F32x4(unsafe { vaddq_f32(self.0, o.0) })
            }
            #[inline(always)]
            unsafe fn reduce(self) -> f64 {
                // SAFETY: NEON.
                unsafe { vaddvq_f32(self.0) as f64 }
            }
        }
    };
}

/// Widens 4 f16 to 4 f32 with `fcvtl` (base AdvSIMD; no fp16 extension needed).
///
/// # Safety
/// `p` must point to 4 readable f16.
#[inline(always)]
unsafe fn load_f16x4(p: *const f16) -> float32x4_t {
    // SAFETY: the caller guarantees 4 readable halfwords.
    let h = unsafe { vld1_u16(p as *const u16) };
    let out: float32x4_t;
    // SAFETY: `fcvtl` only reads `h` and writes `out`; no memory, stack or flags.
    unsafe {
        asm!("fcvtl {o:v}.4s, {i:v}.4h", o = lateout(vreg) out, i = in(vreg) h, options(pure, nomem, nostack, preserves_flags))
    };
    out
}

f32x4_lanes!(f32, |p| vld1q_f32(p));
f32x4_lanes!(f16, |p| load_f16x4(p));
f32x4_lanes!(bf16, |p| vreinterpretq_f32_u32(vshll_n_u16::<16>(
    vld1_u16(p as *const u16)
)));

/// 2 × f64 accumulator.
#[derive(Clone, Copy)]
pub struct F64x2(float64x2_t);

// SAFETY: NEON only; `load` reads 2 elements.
unsafe impl Lanes<f64> for F64x2 {
    type In = float64x2_t;
    const LANES: usize = 2;
    const FLUSH: usize = usize::MAX;
    #[inline(always)]
    unsafe fn load(p: *const f64) -> float64x2_t {
        // SAFETY: the caller guarantees 2 readable elements.
        unsafe { vld1q_f64(p) }
    }
    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY: NEON.
        F64x2(unsafe { vdupq_n_f64(0.0) })
    }
    #[inline(always)]
    unsafe fn sub(a: float64x2_t, b: float64x2_t) -> float64x2_t {
        // SAFETY: NEON.
        unsafe { vsubq_f64(a, b) }
    }
    #[inline(always)]
    unsafe fn fma(self, a: float64x2_t, b: float64x2_t) -> Self {
        // SAFETY: NEON.
        F64x2(unsafe { vfmaq_f64(self.0, a, b) })
    }
    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        // SAFETY: NEON.
        F64x2(unsafe { vaddq_f64(self.0, o.0) })
    }
    #[inline(always)]
    unsafe fn reduce(self) -> f64 {
        // SAFETY: NEON.
        unsafe { vaddvq_f64(self.0) }
    }
}

/// int8 accumulator: 8 elements widened to i16, `smlal`/`smlal2` into 4 × i32.
#[derive(Clone, Copy)]
pub struct I8x8(int32x4_t);

// SAFETY: NEON only; 8 elements per load; per flush (2^16 elements = 8192 loads) each i32
// lane gets 2 × 8192 products ≤ 255² ≈ 1.07e9, below i32::MAX.
unsafe impl Lanes<i8> for I8x8 {
    type In = int16x8_t;
    const LANES: usize = 8;
    const FLUSH: usize = 1 << 16;
    #[inline(always)]
    unsafe fn load(p: *const i8) -> int16x8_t {
        // SAFETY: the caller guarantees 8 readable bytes.
        unsafe { vmovl_s8(vld1_s8(p)) }
    }
    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY: NEON.
        I8x8(unsafe { vdupq_n_s32(0) })
    }
    #[inline(always)]
    unsafe fn sub(a: int16x8_t, b: int16x8_t) -> int16x8_t {
        // SAFETY: NEON.
        unsafe { vsubq_s16(a, b) }
    }
    #[inline(always)]
    unsafe fn fma(self, a: int16x8_t, b: int16x8_t) -> Self {
        // SAFETY: NEON.
        I8x8(unsafe { vmlal_high_s16(vmlal_s16(self.0, vget_low_s16(a), vget_low_s16(b)), a, b) })
    }
    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        // SAFETY: NEON.
        I8x8(unsafe { vaddq_s32(self.0, o.0) })
    }
    #[inline(always)]
    unsafe fn reduce(self) -> f64 {
        // SAFETY: NEON.
        unsafe { vaddlvq_s32(self.0) as f64 }
    }
}

macro_rules! f32x4_panel {
    ($t:ty, |$x:ident| $conv:expr) => {
        // SAFETY: NEON only (baseline on aarch64, and checked by `new`); `load` reads 4 f32,
        // `splat_elem` one element.
        unsafe impl Panel<$t> for F32x4 {
            const W: usize = 4;
            #[inline(always)]
            unsafe fn zero() -> Self {
                // SAFETY: NEON.
                F32x4(unsafe { vdupq_n_f32(0.0) })
            }
            #[inline(always)]
            unsafe fn splat(x: f32) -> Self {
                // SAFETY: NEON.
                F32x4(unsafe { vdupq_n_f32(x) })
            }
            #[inline(always)]
            unsafe fn splat_elem(p: *const $t) -> Self {
                // SAFETY: the caller guarantees one readable element; NEON.
                unsafe {
                    let $x = p.read_unaligned();
                    F32x4(vdupq_n_f32($conv))
                }
            }
            #[inline(always)]
            unsafe fn load(p: *const f32) -> Self {
                // SAFETY: the caller guarantees 4 readable f32.
                F32x4(unsafe { vld1q_f32(p) })
            }
            #[inline(always)]
            unsafe fn fma(self, a: Self, b: Self) -> Self {
                // SAFETY: NEON.
                F32x4(unsafe { vfmaq_f32(self.0, a.0, b.0) })
            }
            #[inline(always)]
            unsafe fn mul(self, b: Self) -> Self {
                // SAFETY: NEON.
                F32x4(unsafe { vmulq_f32(self.0, b.0) })
            }
            #[inline(always)]
            unsafe fn accept(key: Self, thr: Self) -> u64 {
                // SAFETY: NEON. `fcmlt` is false for NaN, so its complement is "not less than
                // or unordered"; lane i contributes bit i.
                unsafe {
                    let keep = vmvnq_u32(vcltq_f32(key.0, thr.0));
                    let bits: [u32; 4] = [1, 2, 4, 8];
                    vaddvq_u32(vandq_u32(keep, vld1q_u32(bits.as_ptr()))) as u64
                }
            }
            #[inline(always)]
            unsafe fn splat_quad(p: *const $t) -> Self {
                // SAFETY: the caller guarantees four readable elements; NEON. With four lanes
                // the quad is the whole vector.
                unsafe {
                    let quad: [f32; 4] = core::array::from_fn(|i| {
                        let $x = p.add(i).read_unaligned();
                        $conv
                    });
                    F32x4(vld1q_f32(quad.as_ptr()))
                }
            }
            #[inline(always)]
            unsafe fn sum_quads(self) -> Self {
                // SAFETY: NEON; the one quad's sum in every lane.
                unsafe { F32x4(vdupq_n_f32(vaddvq_f32(self.0))) }
            }
        }
    };
}

f32x4_panel!(f32, |x| x);
f32x4_panel!(f16, |x| f16_to_f32(x));
f32x4_panel!(bf16, |x| x.to_f32());

// Fused multi-query tile: 6 candidates × 4 vectors of 4 queries (24 of the 32 registers).
mod f32_neon {
    numpack_core::numeric_kernels!(f32, super::F32x4, panel = super::F32x4, 6, 4, #[target_feature(enable = "neon")]);
}
mod f64_neon {
    numpack_core::numeric_kernels!(f64, super::F64x2, #[target_feature(enable = "neon")]);
}
mod f16_neon {
    numpack_core::numeric_kernels!(half::f16, super::F32x4, panel = super::F32x4, 6, 4, #[target_feature(enable = "neon")]);
}
mod bf16_neon {
    numpack_core::numeric_kernels!(half::bf16, super::F32x4, panel = super::F32x4, 6, 4, #[target_feature(enable = "neon")]);
}
mod i8_neon {
    numpack_core::numeric_kernels!(i8, super::I8x8, #[target_feature(enable = "neon")]);
}

/// popcounts of a XOR b (or of a AND b and a OR b), 16 bytes per step with `cnt`.
///
/// # Safety
/// NEON must be available; `a.len() == b.len()`.
#[target_feature(enable = "neon")]
unsafe fn bits_u8_neon(a: &[u8], b: &[u8], jaccard: bool) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    let n = a.len();
    let (mut x, mut and, mut or) = (0u64, 0u64, 0u64);
    let mut i = 0;
    while i + 16 <= n {
        // SAFETY: 16 bytes at `i` are inside both slices.
        let (va, vb) = unsafe { (vld1q_u8(a.as_ptr().add(i)), vld1q_u8(b.as_ptr().add(i))) };
        if jaccard {
            and += vaddvq_u8(vcntq_u8(vandq_u8(va, vb))) as u64;
            or += vaddvq_u8(vcntq_u8(vorrq_u8(va, vb))) as u64;
        } else {
            x += vaddvq_u8(vcntq_u8(veorq_u8(va, vb))) as u64;
        }
        i += 16;
    }
    for j in i..n {
        x += (a[j] ^ b[j]).count_ones() as u64;
        and += (a[j] & b[j]).count_ones() as u64;
        or += (a[j] | b[j]).count_ones() as u64;
    }
    if jaccard {
        numpack_core::vector::formulas::jaccard(and, or)
    } else {
        x as f64
    }
}

fn hamming_u8_neon(a: &[u8], b: &[u8]) -> f64 {
    // SAFETY: only reachable through `new()`, which checked NEON.
    unsafe { bits_u8_neon(a, b, false) }
}

fn jaccard_u8_neon(a: &[u8], b: &[u8]) -> f64 {
    // SAFETY: only reachable through `new()`, which checked NEON.
    unsafe { bits_u8_neon(a, b, true) }
}
