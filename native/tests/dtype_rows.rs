//! The one-query row scans of the narrow dtypes (int8, float16, bfloat16) on every tier this
//! machine can run, against the scalar f64 reference: int8 exactly (its sums are exact
//! integers), floats within the conformance tolerances; top-k equal to a full sort of the
//! reference scores. Odd dims, row counts that are no multiple of any group or chunk, k above
//! the row count, and int8 rows and queries at the extremes (−128, 127) so that no overflow or
//! offset trick can hide.

use half::{bf16, f16};
use numpack_core::vector::{
    Element, ElementType, Matrix, Metric, batch_compute, conformance, reference, top_k_with,
};
use numpack_native::simd::{self, Parallel, Tier};

const DIMS: [usize; 8] = [1, 3, 17, 63, 65, 127, 128, 129];
const ROWS: [usize; 4] = [1, 7, 45, 261];
const METRICS: [Metric; 4] = [Metric::Dot, Metric::Cosine, Metric::L2, Metric::L2sq];

/// Row `i` of a candidate set: the extremes, mixes of them, zeros and random values.
fn row<T: Element>(rng: &mut conformance::Rng, i: usize, dim: usize) -> Vec<T> {
    let (lo, hi) = if T::TYPE == ElementType::I8 {
        (-128.0, 127.0)
    } else {
        (-1.0, 1.0)
    };
    let v = |j: usize| match i % 6 {
        0 => lo,
        1 => hi,
        2 => {
            if j.is_multiple_of(2) {
                lo
            } else {
                hi
            }
        }
        3 => {
            if j.is_multiple_of(3) {
                0.0
            } else {
                lo
            }
        }
        _ => 0.0,
    };
    match i % 6 {
        0..=3 => (0..dim).map(|j| T::from_f64(v(j))).collect(),
        _ => conformance::random_vec::<T>(rng, Metric::Dot, dim),
    }
}

fn check<T: Element>(tier: Tier, rng: &mut conformance::Rng) {
    let k = simd::tier_kernels(tier).unwrap();
    let exact = T::TYPE == ElementType::I8;
    for &dim in &DIMS {
        for &n in &ROWS {
            let mut data: Vec<T> = (0..n).flat_map(|i| row::<T>(rng, i + dim, dim)).collect();
            // Spare rows after the scanned ones: prefetch hints may point there (or anywhere).
            let spare = data.len();
            data.extend(conformance::random_vec::<T>(rng, Metric::Dot, 3 * dim));
            let rows = &data[..spare];
            for qi in 0..4 {
                let q = row::<T>(rng, qi, dim);
                for metric in METRICS {
                    let what = format!(
                        "[{}] {:?} {metric} dim {dim} rows {n} query {qi}",
                        k.name,
                        T::TYPE
                    );
                    let want: Vec<f64> = (0..n)
                        .map(|i| reference::score(metric, &q, &rows[i * dim..(i + 1) * dim]))
                        .collect();
                    let m = Matrix::new(rows, n, dim).unwrap();
                    // The tier's row scan (or its pair-kernel loop where it has none).
                    let mut got = vec![0f64; n];
                    batch_compute(k, metric, &q, m, &mut got).unwrap();
                    for i in 0..n {
                        let r = &rows[i * dim..(i + 1) * dim];
                        let ok = if exact {
                            got[i] == want[i]
                        } else {
                            conformance::close(
                                got[i],
                                want[i],
                                conformance::tolerance(metric, &q, r, want[i]),
                            )
                        };
                        assert!(ok, "{what} row {i}: got {}, want {}", got[i], want[i]);
                    }
                    for kk in [1, 10, n + 3] {
                        for threads in [1, 2] {
                            let res =
                                top_k_with(k, metric, &q, m, kk, None, &Parallel(threads)).unwrap();
                            // int8: the order of the exact reference scores; floats: of the tier's own
                            // scores (the reference may order near-ties the other way).
                            let order = reference::top_k_by_sort(
                                metric,
                                if exact { &want } else { &got },
                                kk,
                            );
                            let ids: Vec<u64> = order.iter().map(|&(i, _)| i).collect();
                            assert_eq!(res.indices, ids, "{what} k {kk} threads {threads}");
                            for (&s, &(i, _)) in res.scores.iter().zip(&order) {
                                assert_eq!(
                                    s.to_bits(),
                                    got[i as usize].to_bits(),
                                    "{what} k {kk}: score of row {i}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn narrow_dtype_row_scans_match_the_reference_on_every_tier() {
    let mut rng = conformance::Rng(0xD7);
    let tiers: Vec<Tier> = Tier::ALL.into_iter().filter(|t| t.is_available()).collect();
    eprintln!("tiers under test: {tiers:?}");
    for t in tiers {
        check::<i8>(t, &mut rng);
        check::<f16>(t, &mut rng);
        check::<bf16>(t, &mut rng);
        check::<f32>(t, &mut rng);
    }
}
