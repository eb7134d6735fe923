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
    /// Nearest value of this type (integers round and saturate; NaN becomes 0 for integers).
    fn from_f64(x: f64) -> Self;
    /// This type's kernels in a kernel table.
    fn kernels(table: &Kernels) -> &DTypeKernels<Self>;
}

impl Element for f32 {
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

impl Element for f16 {
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        f16::from_f64(x)
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
    fn from_f64(x: f64) -> Self {
        bf16::from_f64(x)
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
