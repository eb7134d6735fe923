//! The core's kernel conformance checks on this build's tier (simd128 when compiled with it),
//! plus simd128 == scalar bit for bit. Runs under wasm-bindgen-test in Node and in Chromium.

use numpack_core::vector::{Metric, conformance, scalar_static};
use wasm_bindgen_test::wasm_bindgen_test;

#[wasm_bindgen_test]
fn tier_is_the_compiled_one() {
    let want = if cfg!(target_feature = "simd128") {
        "simd128"
    } else {
        "scalar"
    };
    assert_eq!(numpack_wasm::simd128::kernels().name, want);
}

#[wasm_bindgen_test]
fn kernels_conform() {
    conformance::check_all_kernels(numpack_wasm::simd128::kernels(), 70);
}

#[wasm_bindgen_test]
fn search_conforms() {
    conformance::check_all_search(numpack_wasm::simd128::kernels());
}

#[wasm_bindgen_test]
fn same_bits_as_scalar() {
    let k = numpack_wasm::simd128::kernels();
    let s = scalar_static();
    let mut rng = conformance::Rng(7);
    for len in 0..=130usize {
        for m in [Metric::Dot, Metric::Cosine, Metric::L2, Metric::L2sq] {
            let a: Vec<f32> = conformance::random_vec(&mut rng, m, len);
            let b: Vec<f32> = conformance::random_vec(&mut rng, m, len);
            let (x, y) = (
                k.f32.pair[m.index()].unwrap()(&a, &b),
                s.f32.pair[m.index()].unwrap()(&a, &b),
            );
            assert_eq!(x.to_bits(), y.to_bits(), "f32 {m} len {len}");
            let a: Vec<half::f16> = conformance::random_vec(&mut rng, m, len);
            let b: Vec<half::f16> = conformance::random_vec(&mut rng, m, len);
            let (x, y) = (
                k.f16.pair[m.index()].unwrap()(&a, &b),
                s.f16.pair[m.index()].unwrap()(&a, &b),
            );
            assert_eq!(x.to_bits(), y.to_bits(), "f16 {m} len {len}");
            let a: Vec<f64> = conformance::random_vec(&mut rng, m, len);
            let b: Vec<f64> = conformance::random_vec(&mut rng, m, len);
            let (x, y) = (
                k.f64.pair[m.index()].unwrap()(&a, &b),
                s.f64.pair[m.index()].unwrap()(&a, &b),
            );
            assert_eq!(x.to_bits(), y.to_bits(), "f64 {m} len {len}");
            let a: Vec<i8> = conformance::random_vec(&mut rng, m, len);
            let b: Vec<i8> = conformance::random_vec(&mut rng, m, len);
            let (x, y) = (
                k.i8.pair[m.index()].unwrap()(&a, &b),
                s.i8.pair[m.index()].unwrap()(&a, &b),
            );
            assert_eq!(x.to_bits(), y.to_bits(), "i8 {m} len {len}");
        }
    }
    // Every float16 bit pattern converts exactly (subnormals, inf, NaN included).
    let all: Vec<half::f16> = (0..=u16::MAX).map(half::f16::from_bits).collect();
    let ones = vec![half::f16::ONE; all.len()];
    for chunk in 0..(all.len() / 8) {
        let a = &all[chunk * 8..chunk * 8 + 8];
        let b = &ones[..8];
        let (x, y) = (k.f16.pair[0].unwrap()(a, b), s.f16.pair[0].unwrap()(a, b));
        assert!(
            x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
            "f16 chunk {chunk}: {x} vs {y}"
        );
    }
}

/// The rows kernels (simd128's own l2 / l2sq bodies included) give the scalar tier's rows
/// scores bit for bit, for row counts that leave every remainder of the four-row interleave
/// and for every tail length.
#[wasm_bindgen_test]
fn rows_same_bits_as_scalar() {
    fn check<T: numpack_core::vector::Element>(
        k: &numpack_core::vector::Kernels,
        s: &numpack_core::vector::Kernels,
        rng: &mut conformance::Rng,
    ) {
        for len in (1..=40usize).chain([96, 127, 128, 129, 200, 257]) {
            for m in [Metric::Dot, Metric::Cosine, Metric::L2, Metric::L2sq] {
                let q: Vec<T> = conformance::random_vec(rng, m, len);
                for n in [1usize, 3, 4, 7, 11] {
                    let rows: Vec<T> = conformance::random_vec(rng, m, n * len);
                    let (mut x, mut y) = (vec![0f64; n], vec![0f64; n]);
                    k.get::<T>().rows[m.index()].unwrap()(&q, &rows, len, &mut x);
                    s.get::<T>().rows[m.index()].unwrap()(&q, &rows, len, &mut y);
                    for (a, b) in x.iter().zip(&y) {
                        assert!(
                            a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                            "{} {m} len {len} rows {n}: {a} vs {b}",
                            T::TYPE.name()
                        );
                    }
                }
            }
        }
    }
    let (k, s) = (numpack_wasm::simd128::kernels(), scalar_static());
    let mut rng = conformance::Rng(11);
    check::<f32>(k, s, &mut rng);
    check::<half::f16>(k, s, &mut rng);
    check::<half::bf16>(k, s, &mut rng);
}
