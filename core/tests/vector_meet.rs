//! The dtype rules of `vector::meet` against independent references: an exhaustive
//! nearest-value search over every float16 for the casts, IEEE limits for overflow, and plain
//! `as` conversions for the widening.

use half::{bf16, f16};
use numpack_core::DType;
use numpack_core::vector::meet::{
    self, compute_type, decode, element_of_name, own_element, stored_element,
};
use numpack_core::vector::{Element, ElementType, VectorError};

/// Every finite float16 value, ascending (−0 left out), as f64.
fn all_halves() -> Vec<f64> {
    let mut v: Vec<f64> = (0u16..=0xffff)
        .map(f16::from_bits)
        .filter(|h| h.is_finite() && h.to_bits() != 0x8000)
        .map(f16::to_f64)
        .collect();
    v.sort_by(f64::total_cmp);
    v
}

/// Round-to-nearest-even into float16 by search: the two neighbours of `x`, compared with
/// their midpoint (exact in f64: halves have 11 significant bits).
fn nearest_half(halves: &[f64], x: f64) -> u16 {
    let max = 65504.0;
    if x.abs() >= max + 16.0 {
        return if x > 0.0 { 0x7c00 } else { 0xfc00 };
    }
    let i = halves.partition_point(|&h| h < x);
    let pick = if i < halves.len() && halves[i] == x {
        halves[i]
    } else if i == 0 || i == halves.len() {
        // Beyond ±65504 but below the overflow threshold: the largest finite value.
        if x > 0.0 { max } else { -max }
    } else {
        let (lo, hi) = (halves[i - 1], halves[i]);
        let mid = (lo + hi) / 2.0;
        if x < mid {
            lo
        } else if x > mid {
            hi
        } else if f16::from_f64(lo).to_bits() & 1 == 0 {
            lo
        } else {
            hi
        }
    };
    let bits = f16::from_f64(pick).to_bits(); // exact: `pick` is a half
    if pick == 0.0 && x.is_sign_negative() {
        0x8000
    } else {
        bits
    }
}

#[test]
fn float16_cast_rounds_once_like_numpy() {
    // NumPy: np.array(1 + 2**-11 + 2**-40).astype(np.float16).view(np.uint16) == 0x3c01
    // (issue 9, item 16); going through float32 first gives 0x3c00.
    assert_eq!(
        <f16 as Element>::from_f64(1.0 + 2f64.powi(-11) + 2f64.powi(-40)).to_bits(),
        0x3c01
    );
    let halves = all_halves();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..200_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        // Values near halves and their midpoints, over the whole range, both signs.
        let v = if i % 2 == 0 {
            let h = halves[(x % halves.len() as u64) as usize];
            let ulp = (h.abs() * 2f64.powi(-11)).max(2f64.powi(-24));
            h + ulp * ((x >> 20) as f64 / (1u64 << 44) as f64 - 0.5) * 2.0
        } else {
            f64::from_bits(x) % 70000.0
        };
        if !v.is_finite() {
            continue;
        }
        assert_eq!(
            <f16 as Element>::from_f64(v).to_bits(),
            nearest_half(&halves, v),
            "{v:e}"
        );
    }
}

#[test]
fn bfloat16_cast_goes_through_float32_like_ml_dtypes() {
    for v in [1.0 + 2f64.powi(-8) + 2f64.powi(-30), 3.0e38, -1.5, 1e-40] {
        assert_eq!(
            <bf16 as Element>::from_f64(v).to_bits(),
            bf16::from_f32(v as f32).to_bits()
        );
    }
}

fn rule(q: ElementType, c: ElementType, values: &[f64]) -> ElementType {
    compute_type(q, c, || Ok::<_, ()>(values.iter().copied())).unwrap()
}

#[test]
fn mixed_dtypes_meet_by_the_one_rule() {
    use ElementType::*;
    // issue 9 item 2: a fractional query against int8 candidates is computed in float64.
    assert_eq!(rule(F64, I8, &[0.4, 0.6]), F64);
    assert_eq!(rule(F64, I8, &[200.0, -300.0]), F64);
    assert_eq!(rule(F64, I8, &[1.0, -128.0, 127.0]), I8);
    assert_eq!(rule(F64, I8, &[128.0]), F64);
    assert_eq!(rule(F64, U8, &[255.0, 0.0]), U8);
    assert_eq!(rule(F64, U8, &[-1.0]), F64);
    assert_eq!(rule(F64, I8, &[f64::NAN]), F64);
    assert_eq!(rule(F64, I8, &[]), I8);
    // Float candidates keep their type unless a finite query value overflows it.
    assert_eq!(
        rule(
            F64,
            F16,
            &[65504.0, 65519.99, f64::INFINITY, f64::NAN, 1e-30]
        ),
        F16
    );
    assert_eq!(rule(F64, F16, &[65520.0]), F64); // rounds to ∞ in float16 (IEEE: 65504 + half an ulp)
    assert_eq!(rule(F64, F32, &[3.4028235e38]), F32);
    assert_eq!(rule(F64, F32, &[3.5e38]), F64);
    assert_eq!(rule(F32, Bf16, &[3.3e38]), Bf16);
    assert_eq!(rule(F64, Bf16, &[3.4e38]), F64);
    assert_eq!(rule(I8, F32, &[1.0]), F32);
    // The same type, or float64 candidates, never look at the values.
    let never = || -> Result<Vec<f64>, &'static str> { Err("values read") };
    assert_eq!(compute_type(F16, F16, never), Ok(F16));
    assert_eq!(compute_type(I8, F64, never), Ok(F64));
    assert_eq!(compute_type(F32, F16, never), Err("values read"));
}

#[test]
fn one_mapping_from_dtypes_to_element_types() {
    for d in DType::ALL {
        let own = own_element(d);
        match d {
            DType::Bool | DType::Complex64 | DType::Complex128 => assert_eq!(own, None),
            DType::Float16 | DType::Float32 | DType::Float64 | DType::Int8 | DType::Uint8 => {
                assert_eq!(own, stored_element(d));
                assert_eq!(own.map(ElementType::name), Some(d.numpy_name()));
                assert_eq!(own.map(ElementType::size), Some(d.itemsize() as usize));
            }
            _ => {
                assert_eq!(stored_element(d), None);
                assert_eq!(own, Some(ElementType::F64));
            }
        }
        assert_eq!(element_of_name(d.numpy_name()), own);
    }
    assert_eq!(element_of_name("bfloat16"), Some(ElementType::Bf16));
    assert_eq!(element_of_name("float128"), None);
    assert_eq!(element_of_name("bool"), None);
}

#[test]
fn decode_keeps_own_types_and_widens_the_rest() {
    let ints: [i64; 5] = [0, -1, i64::MAX, i64::MIN, 1 << 53];
    let bytes: Vec<u8> = ints.iter().flat_map(|v| v.to_le_bytes()).collect();
    let mut out = Vec::new();
    decode::<f64>(DType::Int64, &bytes, &mut out).unwrap();
    assert_eq!(out, ints.iter().map(|&v| v as f64).collect::<Vec<_>>());
    let u: [u16; 3] = [0, 1, 65535];
    let mut out = Vec::new();
    decode::<f64>(
        DType::Uint16,
        &u.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<_>>(),
        &mut out,
    )
    .unwrap();
    assert_eq!(out, vec![0.0, 1.0, 65535.0]);
    let h = [f16::from_f32(0.5), f16::from_f32(-3.0)];
    let hb: Vec<u8> = h.iter().flat_map(|v| v.to_le_bytes()).collect();
    let mut same = Vec::new();
    decode::<f16>(DType::Float16, &hb, &mut same).unwrap();
    assert_eq!(same, h);
    let mut wide = Vec::new();
    decode::<f64>(DType::Float16, &hb, &mut wide).unwrap();
    assert_eq!(wide, vec![0.5, -3.0]);
    let mut bad: Vec<f32> = Vec::new();
    assert!(matches!(
        decode::<f32>(DType::Float16, &hb, &mut bad),
        Err(VectorError::Unsearchable { .. })
    ));
    let mut b: Vec<f64> = Vec::new();
    assert!(matches!(
        decode::<f64>(DType::Bool, &[1], &mut b),
        Err(VectorError::Unsearchable { .. })
    ));
    assert_eq!(meet::cast::<i8>([1.0, -128.0]), vec![1i8, -128]);
}
