//! How vectors of any numeric dtype meet the engine (`docs/METRICS.md`, "Mixed dtypes"): the
//! element type a dtype is computed in, the one rule for a query and candidates of different
//! types, and stored little-endian elements decoded into the compute type (the only widening
//! to f64). Every runtime (Python, Node, browsers) asks these functions; none decides itself.

use crate::DType;

use super::{Element, ElementType, VectorError};

/// The element type that holds values of the stored dtype `d` as they are, if there is one.
pub fn stored_element(d: DType) -> Option<ElementType> {
    Some(match d {
        DType::Float32 => ElementType::F32,
        DType::Float64 => ElementType::F64,
        DType::Float16 => ElementType::F16,
        DType::Int8 => ElementType::I8,
        DType::Uint8 => ElementType::U8,
        _ => return None,
    })
}

/// The element type vectors of dtype `d` are computed in on their own: their own type, or
/// float64 for the other integer types; `None` for bool and complex (not searchable).
pub fn own_element(d: DType) -> Option<ElementType> {
    stored_element(d).or(match d {
        DType::Int16
        | DType::Int32
        | DType::Int64
        | DType::Uint16
        | DType::Uint32
        | DType::Uint64 => Some(ElementType::F64),
        _ => None,
    })
}

/// [`own_element`] of a NumPy dtype name; `"bfloat16"` (no store dtype) is its own type.
pub fn element_of_name(name: &str) -> Option<ElementType> {
    ElementType::from_name(name).or_else(|| DType::from_numpy_name(name).ok().and_then(own_element))
}

/// Whether `x` keeps its value class when cast to `t`: for floats, a finite value must not
/// overflow to ±∞; for int8/uint8 the value must be represented exactly.
fn fits(t: ElementType, x: f64) -> bool {
    let finite_stays = |y: f64| !x.is_finite() || y.is_finite();
    match t {
        ElementType::F64 => true,
        ElementType::F32 => finite_stays(<f32 as Element>::from_f64(x).to_f64()),
        ElementType::F16 => finite_stays(<half::f16 as Element>::from_f64(x).to_f64()),
        ElementType::Bf16 => finite_stays(<half::bf16 as Element>::from_f64(x).to_f64()),
        ElementType::I8 => x.is_finite() && x.fract() == 0.0 && (-128.0..=127.0).contains(&x),
        ElementType::U8 => x.is_finite() && x.fract() == 0.0 && (0.0..=255.0).contains(&x),
    }
}

/// The element type a query of element type `query` and candidates of element type `cands`
/// are computed in. The same type needs nothing. Otherwise the query (the small operand) is
/// cast to the candidates' type, so the candidates are never copied, when every query value
/// fits (no overflow for float candidates, exactly representable for int8/uint8);
/// else both meet in float64. `values` yields the query's values widened to f64; it is only
/// called when the types differ.
pub fn compute_type<I, E>(
    query: ElementType,
    cands: ElementType,
    values: impl FnOnce() -> Result<I, E>,
) -> Result<ElementType, E>
where
    I: IntoIterator<Item = f64>,
{
    if query == cands || cands == ElementType::F64 {
        return Ok(cands);
    }
    let all_fit = values()?.into_iter().all(|x| fits(cands, x));
    Ok(if all_fit { cands } else { ElementType::F64 })
}

/// Appends the little-endian elements of stored dtype `d` in `bytes` to `out` as `T`: as they
/// are when `T` is `d`'s own type, widened when `T` is f64; anything else is
/// `VectorError::Unsearchable`.
pub fn decode<T: Element>(d: DType, bytes: &[u8], out: &mut Vec<T>) -> Result<(), VectorError> {
    fn each<T: Element, S: Element>(bytes: &[u8], out: &mut Vec<T>, f: impl Fn(S) -> T) {
        out.extend(bytes.chunks_exact(S::TYPE.size()).map(|c| f(S::from_le(c))));
    }
    fn ints<T: Element, const N: usize>(bytes: &[u8], out: &mut Vec<T>, f: fn([u8; N]) -> f64) {
        out.extend(
            bytes
                .chunks_exact(N)
                .map(|c| T::from_f64(f(c.try_into().expect("N bytes")))),
        );
    }
    if stored_element(d) == Some(T::TYPE) {
        each::<T, T>(bytes, out, |x| x);
        return Ok(());
    }
    if T::TYPE != ElementType::F64 {
        return Err(VectorError::Unsearchable {
            dtype: d.numpy_name(),
            as_type: T::TYPE,
        });
    }
    match d {
        DType::Float16 => each::<T, half::f16>(bytes, out, |x| T::from_f64(x.to_f64())),
        DType::Float32 => each::<T, f32>(bytes, out, |x| T::from_f64(x.to_f64())),
        DType::Int8 => each::<T, i8>(bytes, out, |x| T::from_f64(x.to_f64())),
        DType::Uint8 => each::<T, u8>(bytes, out, |x| T::from_f64(x.to_f64())),
        DType::Int16 => ints::<T, 2>(bytes, out, |r| i16::from_le_bytes(r) as f64),
        DType::Int32 => ints::<T, 4>(bytes, out, |r| i32::from_le_bytes(r) as f64),
        DType::Int64 => ints::<T, 8>(bytes, out, |r| i64::from_le_bytes(r) as f64),
        DType::Uint16 => ints::<T, 2>(bytes, out, |r| u16::from_le_bytes(r) as f64),
        DType::Uint32 => ints::<T, 4>(bytes, out, |r| u32::from_le_bytes(r) as f64),
        DType::Uint64 => ints::<T, 8>(bytes, out, |r| u64::from_le_bytes(r) as f64),
        _ => {
            return Err(VectorError::Unsearchable {
                dtype: d.numpy_name(),
                as_type: T::TYPE,
            });
        }
    }
    Ok(())
}

/// `values` (f64) cast to the compute type `T` ([`Element::from_f64`], NumPy's cast).
pub fn cast<T: Element>(values: impl IntoIterator<Item = f64>) -> Vec<T> {
    values.into_iter().map(T::from_f64).collect()
}

/// Runs `$body` with the type alias `$T` set to the Rust type of the `ElementType` `$et`.
#[macro_export]
macro_rules! with_element {
    ($et:expr, $T:ident => $body:expr) => {
        match $et {
            $crate::vector::ElementType::F32 => {
                type $T = f32;
                $body
            }
            $crate::vector::ElementType::F64 => {
                type $T = f64;
                $body
            }
            $crate::vector::ElementType::F16 => {
                type $T = half::f16;
                $body
            }
            $crate::vector::ElementType::Bf16 => {
                type $T = half::bf16;
                $body
            }
            $crate::vector::ElementType::I8 => {
                type $T = i8;
                $body
            }
            $crate::vector::ElementType::U8 => {
                type $T = u8;
                $body
            }
        }
    };
}
