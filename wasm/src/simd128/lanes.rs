//! simd128 accumulators for the core's `Lanes` trait. Each mirrors the portable scalar lanes
//! (same lane count, separate multiply and add, same reduction tree), so results are
//! bit-identical to the scalar tier while running four lanes per instruction.

use core::arch::wasm32::*;

use half::{bf16, f16};
use numpack_core::vector::lanes::Lanes;

/// 8 × f32 as two `f32x4` (lanes 0–3 and 4–7): float32, float16 and bfloat16 inputs.
#[derive(Clone, Copy)]
pub struct Simd128F32(pub(crate) v128, pub(crate) v128);

/// 4 × f64 as two `f64x2` (lanes 0–1 and 2–3).
#[derive(Clone, Copy)]
pub struct Simd128F64(v128, v128);

/// int8: 16 elements widened to two `i16x8`, accumulated pairwise into two `i32x4` (8 × i32).
#[derive(Clone, Copy)]
pub struct Simd128I8(v128, v128);

/// Shared f32 arithmetic of `Simd128F32`, whatever the input element type.
macro_rules! f32_arith {
    () => {
        type In = (v128, v128);
        const LANES: usize = 8;
        const FLUSH: usize = usize::MAX;
        const LONG_ROW_CHAINS: usize = 1;
        #[inline(always)]
        unsafe fn zero() -> Self {
            Simd128F32(f32x4_splat(0.0), f32x4_splat(0.0))
        }
        #[inline(always)]
        unsafe fn sub(a: Self::In, b: Self::In) -> Self::In {
            (f32x4_sub(a.0, b.0), f32x4_sub(a.1, b.1))
        }
        #[inline(always)]
        unsafe fn fma(self, a: Self::In, b: Self::In) -> Self {
            // Multiply then add (two roundings), as the scalar tier does.
            Simd128F32(
                f32x4_add(self.0, f32x4_mul(a.0, b.0)),
                f32x4_add(self.1, f32x4_mul(a.1, b.1)),
            )
        }
        #[inline(always)]
        unsafe fn add(self, o: Self) -> Self {
            Simd128F32(f32x4_add(self.0, o.0), f32x4_add(self.1, o.1))
        }
        #[inline(always)]
        unsafe fn reduce(self) -> f64 {
            // ((s0+s4) + (s1+s5)) + ((s2+s6) + (s3+s7)), the scalar tier's order.
            let t = f32x4_add(self.0, self.1);
            let (a, b, c, d) = (
                f32x4_extract_lane::<0>(t),
                f32x4_extract_lane::<1>(t),
                f32x4_extract_lane::<2>(t),
                f32x4_extract_lane::<3>(t),
            );
            ((a + b) + (c + d)) as f64
        }
    };
}

// SAFETY: `load` reads exactly 8 f32; only simd128 instructions, which this module is compiled
// for (it exists only under `target_feature = "simd128"`).
unsafe impl Lanes<f32> for Simd128F32 {
    f32_arith!();
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self::In {
        // SAFETY: the caller guarantees 8 readable f32 at `p`; v128_load allows any alignment.
        unsafe {
            (
                v128_load(p as *const v128),
                v128_load(p.add(4) as *const v128),
            )
        }
    }
}

/// Exact float16 → float32 of 4 half-precision bit patterns held in the low 16 bits of each lane.
#[inline(always)]
fn halves_to_f32(h: v128) -> v128 {
    let sign = i32x4_shl(v128_and(h, u32x4_splat(0x8000)), 16);
    let magnitude = v128_and(h, u32x4_splat(0x7fff));
    // Shift exponent+mantissa into f32 position, then scale by 2^112 to rebias the exponent;
    // this is exact for normals and subnormals alike.
    let scaled = f32x4_mul(
        i32x4_shl(magnitude, 13),
        f32x4_splat(f32::from_bits(0x7780_0000)),
    );
    // Inf/NaN (exponent all ones) must become f32 inf/NaN.
    let is_special = u32x4_ge(magnitude, u32x4_splat(0x7c00));
    let special = v128_or(
        u32x4_splat(0x7f80_0000),
        i32x4_shl(v128_and(magnitude, u32x4_splat(0x03ff)), 13),
    );
    v128_or(sign, v128_bitselect(special, scaled, is_special))
}

// SAFETY: `load` reads exactly 8 f16 (16 bytes); simd128 only, as above.
unsafe impl Lanes<f16> for Simd128F32 {
    f32_arith!();
    #[inline(always)]
    unsafe fn load(p: *const f16) -> Self::In {
        // SAFETY: the caller guarantees 8 readable f16 (16 bytes) at `p`.
        let raw = unsafe { v128_load(p as *const v128) };
        (
            halves_to_f32(u32x4_extend_low_u16x8(raw)),
            halves_to_f32(u32x4_extend_high_u16x8(raw)),
        )
    }
}

// SAFETY: `load` reads exactly 8 bf16 (16 bytes); simd128 only, as above.
unsafe impl Lanes<bf16> for Simd128F32 {
    f32_arith!();
    #[inline(always)]
    unsafe fn load(p: *const bf16) -> Self::In {
        // SAFETY: the caller guarantees 8 readable bf16 (16 bytes) at `p`.
        let raw = unsafe { v128_load(p as *const v128) };
        // bfloat16 is the top half of a float32.
        (
            i32x4_shl(u32x4_extend_low_u16x8(raw), 16),
            i32x4_shl(u32x4_extend_high_u16x8(raw), 16),
        )
    }
}

// SAFETY: `load` reads exactly 4 f64; simd128 only, as above.
unsafe impl Lanes<f64> for Simd128F64 {
    type In = (v128, v128);
    const LANES: usize = 4;
    const FLUSH: usize = usize::MAX;
    const LONG_ROW_CHAINS: usize = 1;
    #[inline(always)]
    unsafe fn load(p: *const f64) -> Self::In {
        // SAFETY: the caller guarantees 4 readable f64 at `p`.
        unsafe {
            (
                v128_load(p as *const v128),
                v128_load(p.add(2) as *const v128),
            )
        }
    }
    #[inline(always)]
    unsafe fn zero() -> Self {
        Simd128F64(f64x2_splat(0.0), f64x2_splat(0.0))
    }
    #[inline(always)]
    unsafe fn sub(a: Self::In, b: Self::In) -> Self::In {
        (f64x2_sub(a.0, b.0), f64x2_sub(a.1, b.1))
    }
    #[inline(always)]
    unsafe fn fma(self, a: Self::In, b: Self::In) -> Self {
        Simd128F64(
            f64x2_add(self.0, f64x2_mul(a.0, b.0)),
            f64x2_add(self.1, f64x2_mul(a.1, b.1)),
        )
    }
    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        Simd128F64(f64x2_add(self.0, o.0), f64x2_add(self.1, o.1))
    }
    #[inline(always)]
    unsafe fn reduce(self) -> f64 {
        // (s0+s2) + (s1+s3), the scalar tier's order.
        let t = f64x2_add(self.0, self.1);
        f64x2_extract_lane::<0>(t) + f64x2_extract_lane::<1>(t)
    }
}

// SAFETY: `load` reads exactly 16 i8; per flush (2^16 elements) each i32 lane receives at most
// 2^13 pair sums of two products of magnitude <= 255^2, far below i32::MAX; simd128 only.
unsafe impl Lanes<i8> for Simd128I8 {
    type In = (v128, v128);
    const LANES: usize = 16;
    const FLUSH: usize = 1 << 16;
    const LONG_ROW_CHAINS: usize = 1;
    #[inline(always)]
    unsafe fn load(p: *const i8) -> Self::In {
        // SAFETY: the caller guarantees 16 readable i8 at `p`.
        let raw = unsafe { v128_load(p as *const v128) };
        (i16x8_extend_low_i8x16(raw), i16x8_extend_high_i8x16(raw))
    }
    #[inline(always)]
    unsafe fn zero() -> Self {
        Simd128I8(i32x4_splat(0), i32x4_splat(0))
    }
    #[inline(always)]
    unsafe fn sub(a: Self::In, b: Self::In) -> Self::In {
        (i16x8_sub(a.0, b.0), i16x8_sub(a.1, b.1))
    }
    #[inline(always)]
    unsafe fn fma(self, a: Self::In, b: Self::In) -> Self {
        // i32x4_dot_i16x8 sums adjacent products: lane i gets a[2i]b[2i] + a[2i+1]b[2i+1].
        Simd128I8(
            i32x4_add(self.0, i32x4_dot_i16x8(a.0, b.0)),
            i32x4_add(self.1, i32x4_dot_i16x8(a.1, b.1)),
        )
    }
    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        Simd128I8(i32x4_add(self.0, o.0), i32x4_add(self.1, o.1))
    }
    #[inline(always)]
    unsafe fn reduce(self) -> f64 {
        let lanes = [
            i32x4_extract_lane::<0>(self.0),
            i32x4_extract_lane::<1>(self.0),
            i32x4_extract_lane::<2>(self.0),
            i32x4_extract_lane::<3>(self.0),
            i32x4_extract_lane::<0>(self.1),
            i32x4_extract_lane::<1>(self.1),
            i32x4_extract_lane::<2>(self.1),
            i32x4_extract_lane::<3>(self.1),
        ];
        lanes.iter().map(|&x| x as i64).sum::<i64>() as f64
    }
}
