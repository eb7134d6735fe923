//! The write cast rule (`numpack_core::cast`) as replace and append apply it: a refused pair is
//! a `DtypeMismatch` that leaves every byte of the store as it was (also when another array of
//! the same call could be cast), an allowed pair stores the values converted. NumPy's own
//! `np.can_cast(..., "same_kind")` and `astype` values are checked over every pair in
//! python/tests/test_write_cast.py; here the values are checked against `as` conversions.

use numpack_core::cast::{can_cast, cast};
use numpack_core::dtype::{from_bytes, to_bytes};
use numpack_core::{DType, Error, MemIo, NewArray, Selection, Store};

fn store_of(dtype: DType, rows: u64) -> (MemIo, Store<MemIo>) {
    let mem = MemIo::new();
    let mut s = Store::open(mem.clone()).unwrap();
    let zeros = vec![0u8; (rows * dtype.itemsize()) as usize];
    s.save(&[NewArray {
        name: "a",
        dtype,
        shape: &[rows],
        data: &zeros,
    }])
    .unwrap();
    (mem, s)
}

/// The value 1 (and true) as one element of `d`: representable exactly in every dtype.
fn one(d: DType) -> Vec<u8> {
    let mut b = vec![0u8; d.itemsize() as usize];
    match d {
        DType::Float16 => b.copy_from_slice(&half::f16::ONE.to_le_bytes()),
        DType::Float32 | DType::Complex64 => b[..4].copy_from_slice(&1f32.to_le_bytes()),
        DType::Float64 | DType::Complex128 => b[..8].copy_from_slice(&1f64.to_le_bytes()),
        _ => b[0] = 1,
    }
    b
}

#[test]
fn refused_pairs_write_nothing_and_allowed_pairs_store_the_converted_value() {
    for from in DType::ALL {
        for to in DType::ALL {
            let (mem, mut s) = store_of(to, 2);
            let before = mem.snapshot();
            let row = one(from);
            let replace = s.replace("a", &Selection::Indices(vec![1]), from, &[1], &row);
            let append = s.append("a", from, &[1], &row);
            if can_cast(from, to) {
                replace.unwrap();
                append.unwrap();
                let (_, got) = s.read_selection("a", &Selection::All).unwrap();
                let mut want = vec![0u8; to.itemsize() as usize];
                want.extend(one(to));
                want.extend(one(to));
                assert_eq!(got, want, "{from:?} -> {to:?}");
            } else {
                assert!(
                    matches!(replace, Err(Error::DtypeMismatch(_))),
                    "{from:?} -> {to:?}"
                );
                assert!(
                    matches!(append, Err(Error::DtypeMismatch(_))),
                    "{from:?} -> {to:?}"
                );
                assert_eq!(mem.snapshot(), before, "{from:?} -> {to:?}");
            }
        }
    }
}

#[test]
fn the_rule_is_same_kind_ordered_by_kind() {
    // bool < unsigned < signed < float < complex; within a kind every width goes either way.
    let kind = |d: DType| match d.numpy_name().as_bytes()[0] {
        b'b' => 0,
        b'u' => 1,
        b'i' => 2,
        b'f' => 3,
        _ => 4,
    };
    for from in DType::ALL {
        for to in DType::ALL {
            assert_eq!(
                can_cast(from, to),
                kind(from) <= kind(to),
                "{from:?} -> {to:?}"
            );
        }
    }
}

#[test]
fn integer_casts_wrap_and_float_casts_round_like_as() {
    let ints: Vec<i64> = vec![
        i64::MIN,
        -129,
        -1,
        0,
        127,
        128,
        255,
        65_535,
        1 << 40,
        i64::MAX,
    ];
    let ints_raw = to_bytes(&ints);
    let got = cast("a", DType::Int64, DType::Int8, &ints_raw).unwrap();
    let want: Vec<i8> = ints.iter().map(|&v| v as i8).collect();
    assert_eq!(from_bytes::<i8>(&got), want);
    let got = cast("a", DType::Int64, DType::Float32, &ints_raw).unwrap();
    let want: Vec<f32> = ints.iter().map(|&v| v as f32).collect();
    assert_eq!(from_bytes::<f32>(&got), want);
    let us: Vec<u64> = vec![0, 1, u64::MAX, 1 << 63];
    let us_raw = to_bytes(&us);
    let got = cast("a", DType::Uint64, DType::Int16, &us_raw).unwrap();
    let want: Vec<i16> = us.iter().map(|&v| v as i16).collect();
    assert_eq!(from_bytes::<i16>(&got), want);
    let fs = vec![0.1f64, 1.0 / 3.0, 1e300, -0.0, f64::INFINITY];
    let fs_raw = to_bytes(&fs);
    let got = cast("a", DType::Float64, DType::Float32, &fs_raw).unwrap();
    let want: Vec<f32> = fs.iter().map(|&v| v as f32).collect();
    assert_eq!(from_bytes::<f32>(&got), want);
    let got = cast("a", DType::Float64, DType::Complex128, &fs_raw).unwrap();
    let pairs: Vec<f64> = from_bytes(&got);
    for (k, &v) in fs.iter().enumerate() {
        assert_eq!((pairs[2 * k], pairs[2 * k + 1]), (v, 0.0));
    }
    assert!(matches!(
        cast("a", DType::Float32, DType::Int32, &to_bytes(&[1f32])),
        Err(Error::DtypeMismatch(_))
    ));
    assert!(matches!(
        cast("a", DType::Int64, DType::Int8, &[0u8; 7]),
        Err(Error::ShapeMismatch(_))
    ));
}
