//! The simd128 kernel tier: `Lanes` implementations over `core::arch::wasm32`, plugged into
//! the core's generic kernel bodies with `numeric_kernels!`. Selected at compile time: a build
//! with `+simd128` (the default, see .cargo/config.toml) uses it, a build without falls back to
//! the core's portable scalar tier. The lanes mirror the scalar tier's lane layout and reduction
//! order (8 × f32, 4 × f64, pairwise int8), so both tiers give the same bits for every metric.

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod l2rows;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod lanes;

use numpack_core::vector::Kernels;

/// The tier compiled into this build.
pub fn tier_name() -> &'static str {
    if cfg!(all(target_arch = "wasm32", target_feature = "simd128")) {
        "simd128"
    } else {
        "scalar"
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod tables {
    pub mod f32 {
        numpack_core::numeric_kernels!(f32, super::super::lanes::Simd128F32, #[inline(never)]);
    }
    pub mod f64 {
        numpack_core::numeric_kernels!(f64, super::super::lanes::Simd128F64, #[inline(never)]);
    }
    pub mod f16 {
        numpack_core::numeric_kernels!(half::f16, super::super::lanes::Simd128F32, #[inline(never)]);
    }
    pub mod bf16 {
        numpack_core::numeric_kernels!(half::bf16, super::super::lanes::Simd128F32, #[inline(never)]);
    }
    pub mod i8 {
        numpack_core::numeric_kernels!(i8, super::super::lanes::Simd128I8, #[inline(never)]);
    }
}

/// The simd128 kernel table (kl/js and the uint8 bit metrics come from the shared portable code).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub fn simd128() -> Kernels {
    use numpack_core::vector::{DTypeKernels, Metric, RowsFn, portable_u8, with_divergences};
    /// The wasm-specific l2 / l2sq rows kernels (see `l2rows`), same bits as the generic ones.
    fn l2_rows<T>(mut k: DTypeKernels<T>, l2: RowsFn<T>, l2sq: RowsFn<T>) -> DTypeKernels<T> {
        k.rows[Metric::L2.index()] = Some(l2);
        k.rows[Metric::L2sq.index()] = Some(l2sq);
        k
    }
    Kernels {
        name: "simd128",
        f32: with_divergences(l2_rows(
            tables::f32::table(),
            l2rows::f32::rows_l2,
            l2rows::f32::rows_l2sq,
        )),
        f64: with_divergences(tables::f64::table()),
        f16: with_divergences(l2_rows(
            tables::f16::table(),
            l2rows::f16::rows_l2,
            l2rows::f16::rows_l2sq,
        )),
        bf16: with_divergences(l2_rows(
            tables::bf16::table(),
            l2rows::bf16::rows_l2,
            l2rows::bf16::rows_l2sq,
        )),
        i8: tables::i8::table(),
        u8: portable_u8(),
        copy_scan: None,
    }
}

/// The kernel table of this build: simd128 when compiled with it, else the portable scalar tier.
pub fn kernels() -> &'static Kernels {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        static TABLE: std::sync::OnceLock<Kernels> = std::sync::OnceLock::new();
        TABLE.get_or_init(simd128)
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    {
        numpack_core::vector::scalar_static()
    }
}
