//! The 14 element types and their on-disk codes (the codes are upstream NumPack's).

use crate::error::{Error, Result};

/// An element type. The discriminant is the dtype code stored in `metadata.npkm`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum DType {
    /// One byte, 0 or 1.
    Bool = 0,
    /// Unsigned 8-bit integer.
    Uint8 = 1,
    /// Unsigned 16-bit integer.
    Uint16 = 2,
    /// Unsigned 32-bit integer.
    Uint32 = 3,
    /// Unsigned 64-bit integer.
    Uint64 = 4,
    /// Signed 8-bit integer.
    Int8 = 5,
    /// Signed 16-bit integer.
    Int16 = 6,
    /// Signed 32-bit integer.
    Int32 = 7,
    /// Signed 64-bit integer.
    Int64 = 8,
    /// IEEE 754 half precision (`half::f16`).
    Float16 = 9,
    /// IEEE 754 single precision.
    Float32 = 10,
    /// IEEE 754 double precision.
    Float64 = 11,
    /// Two f32: real then imaginary (`num_complex::Complex<f32>`).
    Complex64 = 12,
    /// Two f64: real then imaginary (`num_complex::Complex<f64>`).
    Complex128 = 13,
}

impl DType {
    /// Every dtype, in code order.
    pub const ALL: [DType; 14] = [
        DType::Bool,
        DType::Uint8,
        DType::Uint16,
        DType::Uint32,
        DType::Uint64,
        DType::Int8,
        DType::Int16,
        DType::Int32,
        DType::Int64,
        DType::Float16,
        DType::Float32,
        DType::Float64,
        DType::Complex64,
        DType::Complex128,
    ];

    /// The dtype of an on-disk code; unknown codes are an error (upstream silently read Int32).
    pub fn from_code(code: u8) -> Result<DType> {
        DType::ALL
            .get(code as usize)
            .copied()
            .ok_or_else(|| Error::Corrupt(format!("unknown dtype code {code}")))
    }

    /// The on-disk code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// Bytes per element.
    pub fn itemsize(self) -> u64 {
        match self {
            DType::Bool | DType::Uint8 | DType::Int8 => 1,
            DType::Uint16 | DType::Int16 | DType::Float16 => 2,
            DType::Uint32 | DType::Int32 | DType::Float32 => 4,
            DType::Uint64 | DType::Int64 | DType::Float64 | DType::Complex64 => 8,
            DType::Complex128 => 16,
        }
    }

    /// NumPy's name for the dtype (`"float32"`, `"bool"`, …).
    pub fn numpy_name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::Uint8 => "uint8",
            DType::Uint16 => "uint16",
            DType::Uint32 => "uint32",
            DType::Uint64 => "uint64",
            DType::Int8 => "int8",
            DType::Int16 => "int16",
            DType::Int32 => "int32",
            DType::Int64 => "int64",
            DType::Float16 => "float16",
            DType::Float32 => "float32",
            DType::Float64 => "float64",
            DType::Complex64 => "complex64",
            DType::Complex128 => "complex128",
        }
    }

    /// NumPy's kind letter for the dtype (`dtype.kind`): `b` bool, `i` signed, `u` unsigned
    /// integer, `f` float, `c` complex.
    pub fn numpy_kind(self) -> u8 {
        match self {
            DType::Bool => b'b',
            DType::Int8 | DType::Int16 | DType::Int32 | DType::Int64 => b'i',
            DType::Uint8 | DType::Uint16 | DType::Uint32 | DType::Uint64 => b'u',
            DType::Float16 | DType::Float32 | DType::Float64 => b'f',
            DType::Complex64 | DType::Complex128 => b'c',
        }
    }

    /// The dtype of a NumPy kind letter and item size (`None` for any other pair: long
    /// double, strings, …), so a binding can name a built-in dtype without asking NumPy.
    pub fn from_numpy_kind(kind: u8, itemsize: u64) -> Option<DType> {
        DType::ALL
            .into_iter()
            .find(|d| d.numpy_kind() == kind && d.itemsize() == itemsize)
    }

    /// The dtype with NumPy's name `name`; anything else is a [`Error::DtypeMismatch`].
    pub fn from_numpy_name(name: &str) -> Result<DType> {
        DType::ALL
            .iter()
            .copied()
            .find(|d| d.numpy_name() == name)
            .ok_or_else(|| Error::DtypeMismatch(format!("unsupported dtype: {name}")))
    }
}

/// Elements as typed values: converts between `T` and the little-endian element bytes.
pub trait Element: Copy {
    /// The dtype that stores `Self`.
    const DTYPE: DType;
    /// Appends the little-endian bytes of `self`.
    fn put(self, out: &mut Vec<u8>);
    /// Reads one element from exactly `itemsize` little-endian bytes.
    fn get(bytes: &[u8]) -> Self;
}

macro_rules! element_int {
    ($($t:ty => $d:ident),*) => {$(
        impl Element for $t {
            const DTYPE: DType = DType::$d;
            fn put(self, out: &mut Vec<u8>) { out.extend_from_slice(&self.to_le_bytes()); }
            fn get(bytes: &[u8]) -> Self {
                let mut raw = [0u8; std::mem::size_of::<$t>()];
                raw.copy_from_slice(bytes);
                <$t>::from_le_bytes(raw)
            }
        }
    )*};
}
element_int!(u8 => Uint8, u16 => Uint16, u32 => Uint32, u64 => Uint64, i8 => Int8, i16 => Int16,
    i32 => Int32, i64 => Int64, f32 => Float32, f64 => Float64);

impl Element for bool {
    const DTYPE: DType = DType::Bool;
    fn put(self, out: &mut Vec<u8>) {
        out.push(self as u8);
    }
    fn get(bytes: &[u8]) -> Self {
        bytes[0] != 0
    }
}

impl Element for half::f16 {
    const DTYPE: DType = DType::Float16;
    fn put(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn get(bytes: &[u8]) -> Self {
        half::f16::from_le_bytes([bytes[0], bytes[1]])
    }
}

impl Element for num_complex::Complex<f32> {
    const DTYPE: DType = DType::Complex64;
    fn put(self, out: &mut Vec<u8>) {
        self.re.put(out);
        self.im.put(out);
    }
    fn get(bytes: &[u8]) -> Self {
        num_complex::Complex::new(f32::get(&bytes[..4]), f32::get(&bytes[4..8]))
    }
}

impl Element for num_complex::Complex<f64> {
    const DTYPE: DType = DType::Complex128;
    fn put(self, out: &mut Vec<u8>) {
        self.re.put(out);
        self.im.put(out);
    }
    fn get(bytes: &[u8]) -> Self {
        num_complex::Complex::new(f64::get(&bytes[..8]), f64::get(&bytes[8..16]))
    }
}

/// Encodes typed values as element bytes.
pub fn to_bytes<T: Element>(values: &[T]) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() * T::DTYPE.itemsize() as usize);
    for v in values {
        v.put(&mut out);
    }
    out
}

/// Decodes element bytes as typed values; `bytes.len()` must be a multiple of the itemsize.
pub fn from_bytes<T: Element>(bytes: &[u8]) -> Vec<T> {
    bytes
        .chunks_exact(T::DTYPE.itemsize() as usize)
        .map(T::get)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numpy_kind_and_size_name_each_dtype() {
        // NumPy's type strings (`np.dtype(name).str` without the byte order), written out.
        let typestrs = [
            ("bool", "b1"),
            ("uint8", "u1"),
            ("uint16", "u2"),
            ("uint32", "u4"),
            ("uint64", "u8"),
            ("int8", "i1"),
            ("int16", "i2"),
            ("int32", "i4"),
            ("int64", "i8"),
            ("float16", "f2"),
            ("float32", "f4"),
            ("float64", "f8"),
            ("complex64", "c8"),
            ("complex128", "c16"),
        ];
        for (name, ts) in typestrs {
            let size: u64 = ts[1..].parse().unwrap();
            let d = DType::from_numpy_kind(ts.as_bytes()[0], size).unwrap();
            assert_eq!(d.numpy_name(), name);
        }
        for (kind, size) in [
            (b'f', 16),
            (b'f', 12),
            (b'c', 32),
            (b'U', 4),
            (b'V', 2),
            (b'b', 2),
        ] {
            assert_eq!(DType::from_numpy_kind(kind, size), None);
        }
    }

    #[test]
    fn codes_round_trip_and_unknown_codes_fail() {
        for d in DType::ALL {
            assert_eq!(DType::from_code(d.code()).unwrap(), d);
            assert_eq!(DType::from_numpy_name(d.numpy_name()).unwrap(), d);
        }
        assert!(DType::from_code(14).is_err());
        assert!(DType::from_numpy_name("object").is_err());
    }

    #[test]
    fn element_bytes_are_little_endian() {
        assert_eq!(to_bytes(&[1u32, 0x0102_0304]), vec![1, 0, 0, 0, 4, 3, 2, 1]);
        assert_eq!(from_bytes::<i16>(&[0xff, 0xff, 2, 0]), vec![-1, 2]);
        let c = num_complex::Complex::new(1.5f32, -2.0);
        assert_eq!(
            from_bytes::<num_complex::Complex<f32>>(&to_bytes(&[c])),
            vec![c]
        );
    }
}
