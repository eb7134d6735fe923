//! Element types the vector engine accepts, and which metric is defined for which.

use half::{bf16, f16};

use super::{DTypeKernels, Kernels, Metric, VectorError};

/// The element type of a vector (the engine's own list; bfloat16 included).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ElementType {
    /// IEEE 754 binary32.
    F32,
    /// IEEE 754 binary64.
    F64,
    /// IEEE 754 binary16 (`half::f16`).
    F16,
    /// bfloat16 (`half::bf16`).
    Bf16,
    /// Signed 8-bit integer (quantised embeddings).
    I8,
    /// Unsigned 8-bit integer, read as packed bits (hamming, jaccard).
    U8,
}

impl ElementType {
    /// NumPy-style name (`"float32"`, `"bfloat16"`, `"uint8"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            ElementType::F32 => "float32",
            ElementType::F64 => "float64",
            ElementType::F16 => "float16",
            ElementType::Bf16 => "bfloat16",
            ElementType::I8 => "int8",
            ElementType::U8 => "uint8",
        }
    }

    /// The element type of a NumPy-style name (the inverse of [`ElementType::name`]).
    pub fn from_name(name: &str) -> Option<ElementType> {
        Some(match name {
            "float32" => ElementType::F32,
            "float64" => ElementType::F64,
            "float16" => ElementType::F16,
            "bfloat16" => ElementType::Bf16,
            "int8" => ElementType::I8,
            "uint8" => ElementType::U8,
            _ => return None,
        })
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            ElementType::F64 => 8,
            ElementType::F32 => 4,
            ElementType::F16 | ElementType::Bf16 => 2,
            ElementType::I8 | ElementType::U8 => 1,
        }
    }

    /// Whether `metric` is defined for this element type (the table in `docs/METRICS.md`).
    pub fn supports(self, metric: Metric) -> bool {
        use Metric::*;
        match self {
            ElementType::F32 | ElementType::F64 | ElementType::F16 | ElementType::Bf16 => {
                matches!(metric, Dot | Cosine | L2 | L2sq | Kl | Js)
            }
            ElementType::I8 => matches!(metric, Dot | Cosine | L2 | L2sq),
            ElementType::U8 => matches!(metric, Hamming | Jaccard),
        }
    }

    /// `Ok(())` when `metric` is defined for this type, else `VectorError::UnsupportedDtype`.
    pub fn check(self, metric: Metric) -> Result<(), VectorError> {
        if self.supports(metric) {
            Ok(())
        } else {
            Err(VectorError::UnsupportedDtype {
                metric,
                dtype: self,
            })
        }
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
    impl Sealed for half::f16 {}
    impl Sealed for half::bf16 {}
    impl Sealed for i8 {}
    impl Sealed for u8 {}
}

/// A Rust element type the engine computes on; implemented for f32, f64, f16, bf16, i8 and u8.
pub trait Element: Copy + Default + Send + Sync + 'static + sealed::Sealed {
    /// The matching `ElementType`.
    const TYPE: ElementType;
    /// Exact widening to f64 (every supported type converts exactly).
    fn to_f64(self) -> f64;
    /// Nearest value of this type, NumPy's cast for floats (float16 rounds once, bfloat16 goes
    /// through float32 as `ml_dtypes` does); integers round and saturate, NaN becomes 0.
    fn from_f64(x: f64) -> Self;
    /// This type's kernels in a kernel table.
    fn kernels(table: &Kernels) -> &DTypeKernels<Self>;
    /// The element stored little-endian in `bytes` (exactly `TYPE.size()` of them).
    fn from_le(bytes: &[u8]) -> Self;
}

impl Element for f32 {
    #[inline(always)]
    fn from_le(bytes: &[u8]) -> Self {
        f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
    }
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    const TYPE: ElementType = ElementType::F32;
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn kernels(table: &Kernels) -> &DTypeKernels<Self> {
        &table.f32
    }
}

impl Element for f64 {
    #[inline(always)]
    fn from_le(bytes: &[u8]) -> Self {
        let mut raw = [0u8; 8];
        raw.copy_from_slice(bytes);
        f64::from_le_bytes(raw)
    }
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x
    }
    const TYPE: ElementType = ElementType::F64;
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    fn kernels(table: &Kernels) -> &DTypeKernels<Self> {
        &table.f64
    }
}

/// `x` rounded to f32 toward zero, with the lowest bit set when that was inexact ("round to
/// odd"): rounding this to a type of at most 22 significand bits equals rounding `x` once.
fn f32_round_to_odd(x: f64) -> f32 {
    let r = x as f32;
    if x.is_nan() || r as f64 == x {
        return r;
    }
    let toward_zero = if (r as f64).abs() > x.abs() {
        f32::from_bits(r.to_bits() - 1)
    } else {
        r
    };
    f32::from_bits(toward_zero.to_bits() | 1)
}

impl Element for f16 {
    #[inline(always)]
    fn from_le(bytes: &[u8]) -> Self {
        f16::from_le_bytes([bytes[0], bytes[1]])
    }
    /// Rounds once to nearest even, as NumPy's `astype(float16)` (`half`'s own `from_f64` goes
    /// through f32 on F16C hardware, rounding twice).
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        f16::from_f32(f32_round_to_odd(x))
    }
    const TYPE: ElementType = ElementType::F16;
    #[inline(always)]
    fn to_f64(self) -> f64 {
        f16::to_f64(self)
    }
    fn kernels(table: &Kernels) -> &DTypeKernels<Self> {
        &table.f16
    }
}

impl Element for bf16 {
    #[inline(always)]
    fn from_le(bytes: &[u8]) -> Self {
        bf16::from_le_bytes([bytes[0], bytes[1]])
    }
    /// Through float32, as `ml_dtypes`' `astype(bfloat16)` does.
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        bf16::from_f32(x as f32)
    }
    const TYPE: ElementType = ElementType::Bf16;
    #[inline(always)]
    fn to_f64(self) -> f64 {
        bf16::to_f64(self)
    }
    fn kernels(table: &Kernels) -> &DTypeKernels<Self> {
        &table.bf16
    }
}

impl Element for i8 {
    #[inline(always)]
    fn from_le(bytes: &[u8]) -> Self {
        bytes[0] as i8
    }
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x.round() as i8
    }
    const TYPE: ElementType = ElementType::I8;
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn kernels(table: &Kernels) -> &DTypeKernels<Self> {
        &table.i8
    }
}

impl Element for u8 {
    #[inline(always)]
    fn from_le(bytes: &[u8]) -> Self {
        bytes[0]
    }
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x.round() as u8
    }
    const TYPE: ElementType = ElementType::U8;
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn kernels(table: &Kernels) -> &DTypeKernels<Self> {
        &table.u8
    }
}
