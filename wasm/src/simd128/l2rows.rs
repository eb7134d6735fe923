//! The simd128 `l2` / `l2sq` rows kernel for 8-lane f32 accumulation (float32, float16,
//! bfloat16 rows): one query against many rows, bit-identical to the pair kernel.
//!
//! Why a wasm-only body: the generic `score_rows` holds the whole query in registers
//! (16 × 2 `v128` for 128 f32) and computes `q − x` per load. V8's x64 code has 16 vector
//! registers, so the query is spilled, and `q − x` needs the spilled `q` reloaded into a
//! register before the subtract (only the second operand may come from memory): l2 took
//! about twice dot's time. Here the query is read from a small f32 buffer and the difference
//! is `x − q` (exactly `−(q − x)` under round-to-nearest, so `(x − q)²` has the same bits),
//! and four rows run as four independent accumulator chains. Per row and lane the sum is the
//! pair kernel's (chunks in order, the zero-padded tail last, the same reduction tree), so
//! scores are bit-identical to `pair` and to the scalar tier.

use core::arch::wasm32::*;

use numpack_core::vector::lanes::Lanes;

use super::lanes::Simd128F32;

/// Rows interleaved per step (independent accumulator chains).
const R: usize = 4;

/// `out[i]` = Σ (rowᵢ − query)² (`root`: its square root) for `out.len()` rows of `dim`.
///
/// # Safety
/// `query.len() == dim`, `rows.len() >= out.len() * dim`; simd128 is compiled in (this module
/// exists only then).
#[inline(always)]
unsafe fn l2_rows<T: Copy + Default>(
    query: &[T],
    rows: &[T],
    dim: usize,
    out: &mut [f64],
    root: bool,
) where
    Simd128F32: Lanes<T, In = (v128, v128)>,
{
    let chunks = dim / 8;
    let tail = dim % 8;
    // SAFETY (whole block): every full load reads 8 elements of a row or of the query at
    // `c * 8 + 8 <= chunks * 8 <= dim`; partial loads read the `tail` last elements; row `i`
    // lies inside `rows` for `i < out.len()` (the caller's promise).
    unsafe {
        let q = query.as_ptr();
        // The query converted once to f32 lanes (tail zero-padded, as `load_partial` gives).
        let mut qv: Vec<(v128, v128)> = Vec::with_capacity(chunks + 1);
        for c in 0..chunks {
            qv.push(<Simd128F32 as Lanes<T>>::load(q.add(c * 8)));
        }
        let qt = <Simd128F32 as Lanes<T>>::load_partial(q.add(chunks * 8), tail);
        let r = rows.as_ptr();
        let n = out.len();
        let zero = f32x4_splat(0.0);
        let mut i = 0;
        while i + R <= n {
            let p: [*const T; R] = core::array::from_fn(|j| r.add((i + j) * dim));
            let mut acc = [(zero, zero); R];
            for (c, &(q0, q1)) in qv.iter().enumerate() {
                for j in 0..R {
                    let (x0, x1) = <Simd128F32 as Lanes<T>>::load(p[j].add(c * 8));
                    let (d0, d1) = (f32x4_sub(x0, q0), f32x4_sub(x1, q1));
                    acc[j] = (
                        f32x4_add(acc[j].0, f32x4_mul(d0, d0)),
                        f32x4_add(acc[j].1, f32x4_mul(d1, d1)),
                    );
                }
            }
            for j in 0..R {
                if tail > 0 {
                    let (x0, x1) =
                        <Simd128F32 as Lanes<T>>::load_partial(p[j].add(chunks * 8), tail);
                    let (d0, d1) = (f32x4_sub(x0, qt.0), f32x4_sub(x1, qt.1));
                    acc[j] = (
                        f32x4_add(acc[j].0, f32x4_mul(d0, d0)),
                        f32x4_add(acc[j].1, f32x4_mul(d1, d1)),
                    );
                }
                out[i + j] = 0.0 + reduce(acc[j]);
            }
            i += R;
        }
        while i < n {
            let p = r.add(i * dim);
            let mut acc = (zero, zero);
            for (c, &(q0, q1)) in qv.iter().enumerate() {
                let (x0, x1) = <Simd128F32 as Lanes<T>>::load(p.add(c * 8));
                let (d0, d1) = (f32x4_sub(x0, q0), f32x4_sub(x1, q1));
                acc = (
                    f32x4_add(acc.0, f32x4_mul(d0, d0)),
                    f32x4_add(acc.1, f32x4_mul(d1, d1)),
                );
            }
            if tail > 0 {
                let (x0, x1) = <Simd128F32 as Lanes<T>>::load_partial(p.add(chunks * 8), tail);
                let (d0, d1) = (f32x4_sub(x0, qt.0), f32x4_sub(x1, qt.1));
                acc = (
                    f32x4_add(acc.0, f32x4_mul(d0, d0)),
                    f32x4_add(acc.1, f32x4_mul(d1, d1)),
                );
            }
            out[i] = 0.0 + reduce(acc);
            i += 1;
        }
        if root {
            for o in out.iter_mut() {
                *o = o.sqrt();
            }
        }
    }
}

/// `Simd128F32::reduce`'s tree on a raw accumulator pair.
#[inline(always)]
fn reduce(acc: (v128, v128)) -> f64 {
    // SAFETY: `Simd128F32::reduce` only runs simd128 instructions, compiled in here.
    unsafe { <Simd128F32 as Lanes<f32>>::reduce(Simd128F32(acc.0, acc.1)) }
}

/// Defines the safe `rows_l2` / `rows_l2sq` entries of one element type.
macro_rules! entries {
    ($m:ident, $t:ty) => {
        /// l2 / l2sq rows kernels of one element type.
        pub mod $m {
            /// √Σ (rowᵢ − query)² of every row.
            pub fn rows_l2(q: &[$t], r: &[$t], dim: usize, out: &mut [f64]) {
                assert!(q.len() == dim && r.len() >= out.len() * dim);
                // SAFETY: lengths checked above; simd128 is compiled in.
                unsafe { super::l2_rows(q, r, dim, out, true) }
            }
            /// Σ (rowᵢ − query)² of every row.
            pub fn rows_l2sq(q: &[$t], r: &[$t], dim: usize, out: &mut [f64]) {
                assert!(q.len() == dim && r.len() >= out.len() * dim);
                // SAFETY: lengths checked above; simd128 is compiled in.
                unsafe { super::l2_rows(q, r, dim, out, false) }
            }
        }
    };
}
entries!(f32, f32);
entries!(f16, half::f16);
entries!(bf16, half::bf16);
