//! The kernel table: one set of function pointers per element type, filled by a tier
//! (portable scalar here; AVX2, AVX-512, NEON, SVE in `numpack-native`; simd128 in wasm).
//! The search algorithms only ever call through this table.

use half::{bf16, f16};

use super::generic::{CopyKernel, FusedFn, copy_scan_portable};
use super::lanes::{PortableF32, PortableF64, PortableI8};
use super::{Element, Metric, formulas};

/// `score(a, b)` for one metric; `a.len() == b.len()` is checked by the caller.
pub type PairFn<T> = fn(&[T], &[T]) -> f64;
/// `out[i] = score(query, row i)` for `out.len()` rows of length `dim` packed in `rows`.
pub type RowsFn<T> = fn(query: &[T], rows: &[T], dim: usize, out: &mut [f64]);
/// Raw dot products of `nq` query rows × `nc` candidate rows into `out[qi * nc + ci]`.
pub type TileFn<T> =
    fn(queries: &[T], nq: usize, cands: &[T], nc: usize, dim: usize, out: &mut [f64]);
/// Σ aᵢ² of one vector.
pub type NormFn<T> = fn(&[T]) -> f64;
/// The kernels of one element type.
///
/// Contract for implementors: every function returns, for every input, the value defined in
/// `docs/METRICS.md` within the dtype's stated precision; `rows[m]` and `pair[m]` give
/// bit-identical scores; `dot_tile` and `norm_sq` agree with `pair[Dot]` within that precision.
pub struct DTypeKernels<T: 'static> {
    /// Pair score per metric (`Metric::index`); `None` where the metric is undefined for `T`.
    pub pair: [Option<PairFn<T>>; Metric::COUNT],
    /// One query against many rows per metric; `None` means "loop over `pair`".
    pub rows: [Option<RowsFn<T>>; Metric::COUNT],
    /// Register-blocked dot tile for multi-query search and cdist; `None` means "use `pair`".
    pub dot_tile: Option<TileFn<T>>,
    /// Σ aᵢ² (needed with `dot_tile` for cosine and l2).
    pub norm_sq: Option<NormFn<T>>,
    /// Fused multi-query kernel (packed queries, threshold check inline); `None` means "use
    /// `dot_tile`".
    pub fused: Option<FusedFn<T>>,
}

impl<T> Clone for DTypeKernels<T> {
    fn clone(&self) -> Self {
        DTypeKernels {
            pair: self.pair,
            rows: self.rows,
            dot_tile: self.dot_tile,
            norm_sq: self.norm_sq,
            fused: self.fused,
        }
    }
}

/// A complete kernel table: one `DTypeKernels` per element type plus the tier's name.
#[derive(Clone)]
pub struct Kernels {
    /// Tier name, e.g. `"scalar"`, `"avx512"`, `"neon"`.
    pub name: &'static str,
    /// float32 kernels.
    pub f32: DTypeKernels<f32>,
    /// float64 kernels.
    pub f64: DTypeKernels<f64>,
    /// float16 kernels.
    pub f16: DTypeKernels<f16>,
    /// bfloat16 kernels.
    pub bf16: DTypeKernels<bf16>,
    /// int8 kernels.
    pub i8: DTypeKernels<i8>,
    /// uint8 (bit) kernels.
    pub u8: DTypeKernels<u8>,
    /// Multi-query kernel over a float32 norm cache's bfloat16 copy (`generic::CopyScan`);
    /// `None`: multi-query searches read the float32 rows.
    pub copy_scan: Option<CopyKernel>,
}

impl Kernels {
    /// This table's kernels for element type `T`.
    pub fn get<T: Element>(&self) -> &DTypeKernels<T> {
        T::kernels(self)
    }
}

/// Builds the `DTypeKernels` of a float or int8 type from a `Lanes` type, inside a module-local
/// wrapper so the generic bodies are instantiated for one ISA. Used by every tier:
/// `numeric_kernels!(f32, PortableF32, #[target_feature(enable = "avx2")])`.
///
/// With `panel = P` (a `lanes::Panel` type; f32, f16 and bf16 only) the table also gets the
/// fused multi-query kernel `generic::fused_scan` with a `MR × NV` register tile:
/// `numeric_kernels!(f32, F32x16, panel = F32x16, 6, 4, #[target_feature(...)])`.
///
/// The expansion defines private fns `dot`, `l2sq`, `l2`, `cosine`, `rows_*`, `tile`, `norm`
/// and a `pub fn table()` returning the `DTypeKernels`. `numeric_kernels!(fused_only f32, F32x16,
/// panel = ...)` builds only the fused kernel (`pub fn fused_kernel()`), for a tier that takes
/// its other kernels from another tier.
#[macro_export]
macro_rules! numeric_kernels {
    (@base $T:ty, $V:ty $(, #[$attr:meta])*) => {
        use $crate::vector::{generic as g, DTypeKernels, Metric, PairFn};
        $(#[$attr])* unsafe fn dot_impl(a: &[$T], b: &[$T]) -> f64 { unsafe { g::dot::<$T, $V>(a, b) } }
        $(#[$attr])* unsafe fn l2sq_impl(a: &[$T], b: &[$T]) -> f64 { unsafe { g::l2sq::<$T, $V>(a, b) } }
        $(#[$attr])* unsafe fn l2_impl(a: &[$T], b: &[$T]) -> f64 { unsafe { g::l2::<$T, $V>(a, b) } }
        $(#[$attr])* unsafe fn cos_impl(a: &[$T], b: &[$T]) -> f64 { unsafe { g::cosine::<$T, $V>(a, b) } }
        $(#[$attr])* unsafe fn norm_impl(a: &[$T]) -> f64 { unsafe { g::norm_sq::<$T, $V>(a) } }
        $(#[$attr])* unsafe fn rows_impl(m: Metric, q: &[$T], r: &[$T], dim: usize, out: &mut [f64]) {
            unsafe { g::score_rows::<$T, $V>(m, q, r, dim, out) }
        }
        $(#[$attr])* unsafe fn tile_impl(q: &[$T], nq: usize, c: &[$T], nc: usize, dim: usize, out: &mut [f64]) {
            unsafe { g::dot_tile::<$T, $V>(q, nq, c, nc, dim, out) }
        }
        // SAFETY (all wrappers below): `table` (and `fused_kernel`) are only reachable through the tier's constructor,
        // which checks that the ISA of the lanes type is available before handing it out; the
        // slice-length preconditions are checked by the search layer before any call.
        fn dot(a: &[$T], b: &[$T]) -> f64 { unsafe { dot_impl(a, b) } }
        fn l2sq(a: &[$T], b: &[$T]) -> f64 { unsafe { l2sq_impl(a, b) } }
        fn l2(a: &[$T], b: &[$T]) -> f64 { unsafe { l2_impl(a, b) } }
        fn cosine(a: &[$T], b: &[$T]) -> f64 { unsafe { cos_impl(a, b) } }
        fn norm(a: &[$T]) -> f64 { unsafe { norm_impl(a) } }
        fn rows_dot(q: &[$T], r: &[$T], dim: usize, out: &mut [f64]) { unsafe { rows_impl(Metric::Dot, q, r, dim, out) } }
        fn rows_cos(q: &[$T], r: &[$T], dim: usize, out: &mut [f64]) { unsafe { rows_impl(Metric::Cosine, q, r, dim, out) } }
        fn rows_l2(q: &[$T], r: &[$T], dim: usize, out: &mut [f64]) { unsafe { rows_impl(Metric::L2, q, r, dim, out) } }
        fn rows_l2sq(q: &[$T], r: &[$T], dim: usize, out: &mut [f64]) { unsafe { rows_impl(Metric::L2sq, q, r, dim, out) } }
        fn tile(q: &[$T], nq: usize, c: &[$T], nc: usize, dim: usize, out: &mut [f64]) { unsafe { tile_impl(q, nq, c, nc, dim, out) } }

        fn base_table() -> DTypeKernels<$T> {
            let none: Option<PairFn<$T>> = None;
            DTypeKernels {
                pair: [Some(dot), Some(cosine), Some(l2), Some(l2sq), none, none, none, none],
                rows: [Some(rows_dot), Some(rows_cos), Some(rows_l2), Some(rows_l2sq), None, None, None, None],
                dot_tile: Some(tile),
                norm_sq: Some(norm),
                fused: None,
            }
        }
    };
    (@fused $T:ty, $V:ty, $P:ty, $MR:literal, $NV:literal $(, #[$attr:meta])*) => {
        $(#[$attr])* unsafe fn fused_impl(s: &mut $crate::vector::generic::FusedScan<'_, $T>, hit: &mut dyn FnMut(usize, usize) -> f32) {
            unsafe { $crate::vector::generic::fused_scan::<$T, $V, $P, $MR, $NV>(s, hit) }
        }
        // SAFETY: `table` / `fused_kernel` are only reachable through the tier's constructor, which
        // checks the ISA of the lanes and panel types; the search layer checks the scan's shape.
        fn fused(s: &mut $crate::vector::generic::FusedScan<'_, $T>, hit: &mut dyn FnMut(usize, usize) -> f32) { unsafe { fused_impl(s, hit) } }
    };
    (fused_only $T:ty, $V:ty, panel = $P:ty, $MR:literal, $NV:literal $(, #[$attr:meta])*) => {
        $crate::numeric_kernels!(@fused $T, $V, $P, $MR, $NV $(, #[$attr])*);

        /// This ISA's fused multi-query kernel for the element type, alone.
        pub fn fused_kernel() -> $crate::vector::generic::FusedFn<$T> {
            fused
        }
    };
    ($T:ty, $V:ty, panel = $P:ty, $MR:literal, $NV:literal $(, #[$attr:meta])*) => {
        $crate::numeric_kernels!(@base $T, $V $(, #[$attr])*);
        $crate::numeric_kernels!(@fused $T, $V, $P, $MR, $NV $(, #[$attr])*);

        /// This ISA's dot/cosine/l2/l2sq kernels for the element type (add kl/js with `with_divergences`).
        pub fn table() -> DTypeKernels<$T> {
            DTypeKernels { fused: Some(fused), ..base_table() }
        }
    };
    ($T:ty, $V:ty $(, #[$attr:meta])*) => {
        $crate::numeric_kernels!(@base $T, $V $(, #[$attr])*);

        /// This ISA's dot/cosine/l2/l2sq kernels for the element type (add kl/js with `with_divergences`).
        pub fn table() -> DTypeKernels<$T> {
            base_table()
        }
    };
}

mod portable_f32 {
    crate::numeric_kernels!(f32, super::PortableF32, panel = super::PortableF32, 4, 2, #[inline(never)]);
}
mod portable_f64 {
    crate::numeric_kernels!(f64, super::PortableF64, #[inline(never)]);
}
mod portable_f16 {
    crate::numeric_kernels!(half::f16, super::PortableF32, panel = super::PortableF32, 4, 2, #[inline(never)]);
}
mod portable_bf16 {
    crate::numeric_kernels!(half::bf16, super::PortableF32, panel = super::PortableF32, 4, 2, #[inline(never)]);
}
mod portable_i8 {
    crate::numeric_kernels!(i8, super::PortableI8, #[inline(never)]);
}

/// Float kernels of any tier plus the shared f64 `kl` and `js` pair kernels.
pub fn with_divergences<T: Element>(mut k: DTypeKernels<T>) -> DTypeKernels<T> {
    k.pair[Metric::Kl.index()] = Some(formulas::kl::<T>);
    k.pair[Metric::Js.index()] = Some(formulas::js::<T>);
    k
}

/// The portable bit kernels for uint8 (hamming, jaccard; 64 bits at a time).
pub fn portable_u8() -> DTypeKernels<u8> {
    let mut pair: [Option<PairFn<u8>>; Metric::COUNT] = [None; Metric::COUNT];
    pair[Metric::Hamming.index()] = Some(formulas::hamming_bits);
    pair[Metric::Jaccard.index()] = Some(formulas::jaccard_bits);
    DTypeKernels {
        pair,
        rows: [None; Metric::COUNT],
        dot_tile: None,
        norm_sq: None,
        fused: None,
    }
}

/// The portable scalar tier: every kernel, no ISA requirement, available on every target.
pub fn scalar() -> Kernels {
    Kernels {
        name: "scalar",
        f32: with_divergences(portable_f32::table()),
        f64: with_divergences(portable_f64::table()),
        f16: with_divergences(portable_f16::table()),
        bf16: with_divergences(portable_bf16::table()),
        i8: portable_i8::table(),
        u8: portable_u8(),
        copy_scan: Some(CopyKernel {
            scan: copy_scan_portable,
            dim_multiple: 1,
        }),
    }
}

/// A shared, lazily built scalar table (used as the default and by tests).
pub fn scalar_static() -> &'static Kernels {
    static TABLE: std::sync::OnceLock<Kernels> = std::sync::OnceLock::new();
    TABLE.get_or_init(scalar)
}
