//! The write cast rule, once for every binding: which element types may be written into an
//! array stored as another type (NumPy's `same_kind` rule), and the conversion itself (NumPy's
//! `astype` values: integers wrap to the narrower width, floats round to nearest).

use std::borrow::Cow;

use crate::dtype::DType;
use crate::error::{Error, Result};
use half::f16;

/// The kind order of `same_kind`: bool < unsigned < signed < float < complex. A cast is allowed
/// to the same kind or a later one (so unsigned → signed is, signed → unsigned is not).
fn kind_rank(d: DType) -> u8 {
    match d {
        DType::Bool => 0,
        DType::Uint8 | DType::Uint16 | DType::Uint32 | DType::Uint64 => 1,
        DType::Int8 | DType::Int16 | DType::Int32 | DType::Int64 => 2,
        DType::Float16 | DType::Float32 | DType::Float64 => 3,
        DType::Complex64 | DType::Complex128 => 4,
    }
}

/// Whether values of `from` may be written into an array stored as `to`: NumPy's
/// `np.can_cast(from, to, casting="same_kind")`.
pub fn can_cast(from: DType, to: DType) -> bool {
    kind_rank(from) <= kind_rank(to)
}

/// `data` (elements of `from`) as elements of `to`: borrowed when the types are equal, converted
/// when [`can_cast`] allows it, else [`Error::DtypeMismatch`] naming `what` (the array).
/// `data.len()` must be a multiple of `from`'s itemsize ([`Error::ShapeMismatch`] otherwise).
pub fn cast<'a>(what: &str, from: DType, to: DType, data: &'a [u8]) -> Result<Cow<'a, [u8]>> {
    if from == to {
        return Ok(Cow::Borrowed(data));
    }
    if !can_cast(from, to) {
        return Err(Error::DtypeMismatch(format!(
            "cannot cast {} to {} (array {what:?}) under the 'same_kind' rule",
            from.numpy_name(),
            to.numpy_name()
        )));
    }
    let size = from.itemsize() as usize;
    if !data.len().is_multiple_of(size) {
        return Err(Error::ShapeMismatch(format!(
            "{} bytes are not whole {} elements",
            data.len(),
            from.numpy_name()
        )));
    }
    let mut out = Vec::with_capacity(data.len() / size * to.itemsize() as usize);
    for element in data.chunks_exact(size) {
        put(read(from, element), to, &mut out);
    }
    Ok(Cow::Owned(out))
}

/// One element's value, in the widest type of its kind.
#[derive(Clone, Copy)]
enum Value {
    Bool(bool),
    Uint(u64),
    Int(i64),
    Half(f16),
    Single(f32),
    Double(f64),
    Complex(f64, f64),
}

fn le<const N: usize>(b: &[u8]) -> [u8; N] {
    let mut raw = [0u8; N];
    raw.copy_from_slice(&b[..N]);
    raw
}

fn read(d: DType, b: &[u8]) -> Value {
    match d {
        DType::Bool => Value::Bool(b[0] != 0),
        DType::Uint8 => Value::Uint(u64::from(b[0])),
        DType::Uint16 => Value::Uint(u64::from(u16::from_le_bytes(le(b)))),
        DType::Uint32 => Value::Uint(u64::from(u32::from_le_bytes(le(b)))),
        DType::Uint64 => Value::Uint(u64::from_le_bytes(le(b))),
        DType::Int8 => Value::Int(i64::from(b[0] as i8)),
        DType::Int16 => Value::Int(i64::from(i16::from_le_bytes(le(b)))),
        DType::Int32 => Value::Int(i64::from(i32::from_le_bytes(le(b)))),
        DType::Int64 => Value::Int(i64::from_le_bytes(le(b))),
        DType::Float16 => Value::Half(f16::from_le_bytes(le(b))),
        DType::Float32 => Value::Single(f32::from_le_bytes(le(b))),
        DType::Float64 => Value::Double(f64::from_le_bytes(le(b))),
        DType::Complex64 => Value::Complex(
            f64::from(f32::from_le_bytes(le(b))),
            f64::from(f32::from_le_bytes(le(&b[4..]))),
        ),
        DType::Complex128 => {
            Value::Complex(f64::from_le_bytes(le(b)), f64::from_le_bytes(le(&b[8..])))
        }
    }
}

impl Value {
    /// The value as an integer of 64 bits, wrapped as NumPy's integer casts do (only bool and
    /// integer values reach here: `same_kind` never casts floats to integers).
    fn bits(self) -> u64 {
        match self {
            Value::Bool(b) => u64::from(b),
            Value::Uint(u) => u,
            Value::Int(i) => i as u64,
            _ => 0,
        }
    }

    /// The value as a double (exact for every non-integer source; integers round to nearest).
    fn double(self) -> f64 {
        match self {
            Value::Bool(b) => f64::from(u8::from(b)),
            Value::Uint(u) => u as f64,
            Value::Int(i) => i as f64,
            Value::Half(h) => h.to_f64(),
            Value::Single(s) => f64::from(s),
            Value::Double(d) | Value::Complex(d, _) => d,
        }
    }

    /// The value as a single, rounded once from its own type (not through a double).
    fn single(self) -> f32 {
        match self {
            Value::Bool(b) => f32::from(u8::from(b)),
            Value::Uint(u) => u as f32,
            Value::Int(i) => i as f32,
            Value::Half(h) => h.to_f32(),
            Value::Single(s) => s,
            Value::Double(d) | Value::Complex(d, _) => d as f32,
        }
    }

    fn half(self) -> f16 {
        match self {
            Value::Half(h) => h,
            Value::Single(s) => f16::from_f32(s),
            // Rounded once from the double (`half`'s own `from_f64` may go through f32, which
            // rounds twice); integers are exact in a double up to 2^53, larger ones overflow to
            // ±inf either way.
            other => <f16 as crate::vector::Element>::from_f64(other.double()),
        }
    }

    fn imag(self) -> f64 {
        match self {
            Value::Complex(_, im) => im,
            _ => 0.0,
        }
    }
}

fn put(v: Value, to: DType, out: &mut Vec<u8>) {
    match to {
        DType::Bool => out.push(u8::from(v.bits() != 0)),
        DType::Uint8 | DType::Int8 => out.push(v.bits() as u8),
        DType::Uint16 | DType::Int16 => out.extend_from_slice(&(v.bits() as u16).to_le_bytes()),
        DType::Uint32 | DType::Int32 => out.extend_from_slice(&(v.bits() as u32).to_le_bytes()),
        DType::Uint64 | DType::Int64 => out.extend_from_slice(&v.bits().to_le_bytes()),
        DType::Float16 => out.extend_from_slice(&v.half().to_le_bytes()),
        DType::Float32 => out.extend_from_slice(&v.single().to_le_bytes()),
        DType::Float64 => out.extend_from_slice(&v.double().to_le_bytes()),
        DType::Complex64 => {
            out.extend_from_slice(&v.single().to_le_bytes());
            out.extend_from_slice(&(v.imag() as f32).to_le_bytes());
        }
        DType::Complex128 => {
            out.extend_from_slice(&v.double().to_le_bytes());
            out.extend_from_slice(&v.imag().to_le_bytes());
        }
    }
}
