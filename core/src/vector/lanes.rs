//! The tiny vector trait every kernel is written over, and its portable (scalar-array) lanes.
//!
//! An ISA supplies a `Lanes<T>` accumulator type; `generic` writes the loops, tails and
//! reductions once. The portable lanes below are plain arrays: they are the scalar tier and
//! the compiler may auto-vectorise them with the baseline ISA.

use half::{bf16, f16};

/// Largest number of elements one `Lanes::load` may read; tail buffers have this size.
pub const MAX_LANES: usize = 64;

/// A SIMD accumulator for elements of type `T`.
///
/// # Safety
/// Implementors promise that `load` reads exactly `LANES` elements, that `FLUSH` is a
/// multiple of `LANES` small enough that integer accumulators cannot overflow, and that
/// every method only uses instructions available wherever a value of `Self` can be built
/// (callers run these inside a function compiled for the ISA).
pub unsafe trait Lanes<T: Copy + Default>: Copy {
    /// `LANES` loaded elements, widened to the computation type.
    type In: Copy;
    /// Elements consumed by one `load` (at most `MAX_LANES`).
    const LANES: usize;
    /// Elements after which the accumulator must be reduced (integer overflow guard).
    const FLUSH: usize;
    /// Independent accumulator chains for rows longer than eight loads (1 or 4): four hide the
    /// FMA latency on out-of-order SIMD cores; the portable and simd128 tiers keep one, which
    /// measured faster there (the extra accumulators spill).
    const LONG_ROW_CHAINS: usize = 4;
    /// Loads `LANES` elements from `p` (unaligned).
    ///
    /// # Safety
    /// `p..p+LANES` must be readable.
    unsafe fn load(p: *const T) -> Self::In;
    /// Loads `n < LANES` elements from `p`, the remaining lanes are zero.
    ///
    /// # Safety
    /// `p..p+n` must be readable.
    #[inline(always)]
    unsafe fn load_partial(p: *const T, n: usize) -> Self::In {
        let mut buf = [T::default(); MAX_LANES];
        // SAFETY: the caller guarantees `n` readable elements at `p`; `n < LANES <= MAX_LANES`.
        unsafe {
            core::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), n);
            Self::load(buf.as_ptr())
        }
    }
    /// Hints that the cache line holding `p` will be read soon (default: nothing).
    /// Never faults, whatever `p` is.
    ///
    /// # Safety
    /// Must run where the ISA is available.
    #[inline(always)]
    unsafe fn prefetch(p: *const T) {
        let _ = p;
    }
    /// An all-zero accumulator.
    ///
    /// # Safety
    /// Must run where the ISA is available.
    unsafe fn zero() -> Self;
    /// Lane-wise `a - b` of loaded values (exact for integer inputs).
    ///
    /// # Safety
    /// Must run where the ISA is available.
    unsafe fn sub(a: Self::In, b: Self::In) -> Self::In;
    /// `self + a * b`, lane-wise (fused where the ISA has FMA).
    ///
    /// # Safety
    /// Must run where the ISA is available.
    unsafe fn fma(self, a: Self::In, b: Self::In) -> Self;
    /// Lane-wise sum of two accumulators.
    ///
    /// # Safety
    /// Must run where the ISA is available.
    unsafe fn add(self, other: Self) -> Self;
    /// Horizontal sum of all lanes, as f64 (exact for integer accumulators).
    ///
    /// # Safety
    /// Must run where the ISA is available.
    unsafe fn reduce(self) -> f64;
    /// Horizontal sums of eight accumulators at once (rows scored in groups share the
    /// shuffles of one transposed reduction); `out[i]` must equal `v[i].reduce()` bit for bit.
    ///
    /// # Safety
    /// Must run where the ISA is available.
    #[inline(always)]
    unsafe fn reduce8(v: [Self; 8]) -> [f64; 8] {
        // SAFETY: forwarded contract.
        core::array::from_fn(|i| unsafe { v[i].reduce() })
    }
}

/// Portable 8 × f32 lanes: the scalar tier for f32, f16 and bf16.
#[derive(Clone, Copy, Debug)]
pub struct PortableF32(pub [f32; 8]);

/// Portable 4 × f64 lanes: the scalar tier for f64.
#[derive(Clone, Copy, Debug)]
pub struct PortableF64(pub [f64; 4]);

/// Portable int8 lanes: 16 elements widened to i16, accumulated pairwise into 8 × i32.
#[derive(Clone, Copy, Debug)]
pub struct PortableI8(pub [i32; 8]);

macro_rules! portable_f32_from {
    ($t:ty, $conv:path) => {
        // SAFETY: plain array arithmetic, no ISA requirement; `load` reads 8 elements.
        unsafe impl Lanes<$t> for PortableF32 {
            type In = [f32; 8];
            const LANES: usize = 8;
            const FLUSH: usize = usize::MAX;
            const LONG_ROW_CHAINS: usize = 1;
            #[inline(always)]
            unsafe fn load(p: *const $t) -> [f32; 8] {
                // A plain loop, not `array::from_fn`: the compiler inlines and vectorises it.
                let mut out = [0f32; 8];
                for (i, o) in out.iter_mut().enumerate() {
                    // SAFETY: the caller guarantees 8 readable elements at `p`.
                    *o = $conv(unsafe { p.add(i).read_unaligned() });
                }
                out
            }
            #[inline(always)]
            unsafe fn zero() -> Self {
                PortableF32([0.0; 8])
            }
            #[inline(always)]
            unsafe fn sub(a: [f32; 8], b: [f32; 8]) -> [f32; 8] {
                core::array::from_fn(|i| a[i] - b[i])
            }
            #[inline(always)]
            unsafe fn fma(self, a: [f32; 8], b: [f32; 8]) -> Self {
                PortableF32(core::array::from_fn(|i| self.0[i] + a[i] * b[i]))
            }
            #[inline(always)]
            unsafe fn add(self, o: Self) -> Self {
                PortableF32(core::array::from_fn(|i| self.0[i] + o.0[i]))
            }
            #[inline(always)]
            unsafe fn reduce(self) -> f64 {
                let s = self.0;
                (((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]))) as f64
            }
        }
    };
}

/// Exact float16 → float32 without branches or lookup tables, so the compiler vectorises it
/// (`half`'s software fallback costs a branchy call per element when F16C is not compiled in):
/// exponent and mantissa are shifted into float32 position and scaled by 2^112, which rebiases
/// normals and normalises subnormals exactly; infinities and NaNs (exponent all ones) are
/// rebuilt with the float32 all-ones exponent (a NaN stays a NaN, payload shifted as is).
#[inline(always)]
pub fn f16_to_f32(h: f16) -> f32 {
    let h = h.to_bits() as u32;
    let sign = (h & 0x8000) << 16;
    let magnitude = h & 0x7fff;
    let scaled = f32::from_bits(magnitude << 13) * f32::from_bits(0x7780_0000);
    let special = 0x7f80_0000 | ((magnitude & 0x03ff) << 13);
    let bits = if magnitude >= 0x7c00 {
        special
    } else {
        scaled.to_bits()
    };
    f32::from_bits(sign | bits)
}

/// The identity conversion of float32 lanes.
#[inline(always)]
fn same_f32(x: f32) -> f32 {
    x
}

portable_f32_from!(f32, same_f32);
portable_f32_from!(f16, f16_to_f32);
portable_f32_from!(bf16, bf16::to_f32);

// SAFETY: plain array arithmetic, no ISA requirement; `load` reads 4 elements.
unsafe impl Lanes<f64> for PortableF64 {
    type In = [f64; 4];
    const LANES: usize = 4;
    const FLUSH: usize = usize::MAX;
    const LONG_ROW_CHAINS: usize = 1;
    #[inline(always)]
    unsafe fn load(p: *const f64) -> [f64; 4] {
        // SAFETY: the caller guarantees 4 readable elements at `p`.
        core::array::from_fn(|i| unsafe { p.add(i).read_unaligned() })
    }
    #[inline(always)]
    unsafe fn zero() -> Self {
        PortableF64([0.0; 4])
    }
    #[inline(always)]
    unsafe fn sub(a: [f64; 4], b: [f64; 4]) -> [f64; 4] {
        core::array::from_fn(|i| a[i] - b[i])
    }
    #[inline(always)]
    unsafe fn fma(self, a: [f64; 4], b: [f64; 4]) -> Self {
        PortableF64(core::array::from_fn(|i| self.0[i] + a[i] * b[i]))
    }
    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        PortableF64(core::array::from_fn(|i| self.0[i] + o.0[i]))
    }
    #[inline(always)]
    unsafe fn reduce(self) -> f64 {
        let s = self.0;
        (s[0] + s[2]) + (s[1] + s[3])
    }
}

// SAFETY: plain integer array arithmetic; 16 elements per load; per flush each i32 lane
// receives at most 2 * 4096 products of magnitude <= 255^2, far below i32::MAX.
unsafe impl Lanes<i8> for PortableI8 {
    type In = [i16; 16];
    const LANES: usize = 16;
    const FLUSH: usize = 1 << 16;
    const LONG_ROW_CHAINS: usize = 1;
    #[inline(always)]
    unsafe fn load(p: *const i8) -> [i16; 16] {
        // SAFETY: the caller guarantees 16 readable elements at `p`.
        core::array::from_fn(|i| unsafe { p.add(i).read() } as i16)
    }
    #[inline(always)]
    unsafe fn zero() -> Self {
        PortableI8([0; 8])
    }
    #[inline(always)]
    unsafe fn sub(a: [i16; 16], b: [i16; 16]) -> [i16; 16] {
        core::array::from_fn(|i| a[i] - b[i])
    }
    #[inline(always)]
    unsafe fn fma(self, a: [i16; 16], b: [i16; 16]) -> Self {
        PortableI8(core::array::from_fn(|i| {
            self.0[i]
                + a[2 * i] as i32 * b[2 * i] as i32
                + a[2 * i + 1] as i32 * b[2 * i + 1] as i32
        }))
    }
    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        PortableI8(core::array::from_fn(|i| self.0[i] + o.0[i]))
    }
    #[inline(always)]
    unsafe fn reduce(self) -> f64 {
        self.0.iter().map(|&x| x as i64).sum::<i64>() as f64
    }
}

/// A vector of `W` f32 lanes for the packed multi-query kernel (`generic::fused_scan`): the
/// queries are packed transposed (`W` queries per vector), each candidate element is
/// broadcast, so one accumulator holds one candidate's dot products with `W` queries and no
/// horizontal reduction is needed.
///
/// # Safety
/// Implementors promise that `load` reads exactly `W` f32, `splat_elem` one element, that
/// `W <= 64`, and that every method only uses instructions available wherever a value of
/// `Self` can be built (callers run these inside a function compiled for the ISA).
pub unsafe trait Panel<T: Copy>: Copy {
    /// Lanes per vector (queries per accumulator).
    const W: usize;
    /// All lanes zero.
    ///
    /// # Safety
    /// Must run where the ISA is available.
    unsafe fn zero() -> Self;
    /// `x` in every lane.
    ///
    /// # Safety
    /// Must run where the ISA is available.
    unsafe fn splat(x: f32) -> Self;
    /// The element at `p`, converted exactly to f32, in every lane.
    ///
    /// # Safety
    /// `p` must be readable; the ISA must be available.
    unsafe fn splat_elem(p: *const T) -> Self;
    /// `W` f32 from `p` (unaligned).
    ///
    /// # Safety
    /// `p..p+W` must be readable; the ISA must be available.
    unsafe fn load(p: *const f32) -> Self;
    /// `self + a * b`, lane-wise (fused where the ISA has FMA).
    ///
    /// # Safety
    /// Must run where the ISA is available.
    unsafe fn fma(self, a: Self, b: Self) -> Self;
    /// `self * b`, lane-wise.
    ///
    /// # Safety
    /// Must run where the ISA is available.
    unsafe fn mul(self, b: Self) -> Self;
    /// Bit `l` set where `!(key[l] < thr[l])` (so also where either is NaN).
    ///
    /// # Safety
    /// Must run where the ISA is available.
    unsafe fn accept(key: Self, thr: Self) -> u64;
    /// The four elements `p[0..4]`, converted exactly to f32, repeated over the vector: lane
    /// `l` holds `p[l % 4]` (the fused kernel's quad vector, see `generic::fused_scan`).
    ///
    /// # Safety
    /// `p..p+4` must be readable; the ISA must be available.
    unsafe fn splat_quad(p: *const T) -> Self;
    /// Every lane holds the sum of the four lanes of its quad (`4·(l/4)..4·(l/4)+4`); the same
    /// value, computed in the same order, across a quad.
    ///
    /// # Safety
    /// Must run where the ISA is available.
    unsafe fn sum_quads(self) -> Self;
}

macro_rules! portable_panel {
    ($t:ty, $conv:expr) => {
        // SAFETY: plain array arithmetic, no ISA requirement; `load` reads 8 f32.
        unsafe impl Panel<$t> for PortableF32 {
            const W: usize = 8;
            #[inline(always)]
            unsafe fn zero() -> Self {
                PortableF32([0.0; 8])
            }
            #[inline(always)]
            unsafe fn splat(x: f32) -> Self {
                PortableF32([x; 8])
            }
            #[inline(always)]
            unsafe fn splat_elem(p: *const $t) -> Self {
                let conv: fn($t) -> f32 = $conv;
                // SAFETY: the caller guarantees one readable element.
                PortableF32([conv(unsafe { p.read_unaligned() }); 8])
            }
            #[inline(always)]
            unsafe fn load(p: *const f32) -> Self {
                // SAFETY: the caller guarantees 8 readable f32.
                PortableF32(core::array::from_fn(|i| unsafe {
                    p.add(i).read_unaligned()
                }))
            }
            #[inline(always)]
            unsafe fn fma(self, a: Self, b: Self) -> Self {
                PortableF32(core::array::from_fn(|i| self.0[i] + a.0[i] * b.0[i]))
            }
            #[inline(always)]
            unsafe fn mul(self, b: Self) -> Self {
                PortableF32(core::array::from_fn(|i| self.0[i] * b.0[i]))
            }
            #[inline(always)]
            #[allow(clippy::neg_cmp_op_on_partial_ord)] // `!(a < b)` is deliberately true for NaN
            unsafe fn accept(key: Self, thr: Self) -> u64 {
                (0..8).fold(0, |m, i| m | ((!(key.0[i] < thr.0[i])) as u64) << i)
            }
            #[inline(always)]
            unsafe fn splat_quad(p: *const $t) -> Self {
                let conv: fn($t) -> f32 = $conv;
                // SAFETY: the caller guarantees four readable elements.
                PortableF32(core::array::from_fn(|l| {
                    conv(unsafe { p.add(l % 4).read_unaligned() })
                }))
            }
            #[inline(always)]
            unsafe fn sum_quads(self) -> Self {
                let x = self.0;
                PortableF32(core::array::from_fn(|l| {
                    let q = l / 4 * 4;
                    (x[q] + x[q + 1]) + (x[q + 2] + x[q + 3])
                }))
            }
        }
    };
}

portable_panel!(f32, |x| x);
portable_panel!(f16, f16_to_f32);
portable_panel!(bf16, bf16::to_f32);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_to_f32_is_exact_for_every_bit_pattern() {
        for bits in 0..=u16::MAX {
            let h = f16::from_bits(bits);
            let (ours, reference) = (f16_to_f32(h), h.to_f32());
            if reference.is_nan() {
                assert!(ours.is_nan(), "{bits:#06x}");
            } else {
                assert_eq!(ours.to_bits(), reference.to_bits(), "{bits:#06x}");
            }
        }
    }
}
