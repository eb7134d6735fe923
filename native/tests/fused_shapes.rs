//! The fused multi-query kernel at awkward shapes, every tier this machine can run: odd
//! dimensions, query counts off the register tile (1, 2, 7, 100, 113) and around 14 (13, 14,
//! 15, 28, 29) and leaving a quad-vector remainder (4, 9, 18, 20, 33, 36), candidate counts
//! off the row tile, off 16 and past 4096 rows, and k larger
//! than the candidate count. Multi-query results must equal single-query top-k (itself
//! checked against the f64 reference by `simd_tiers`) exactly.

use numpack_core::vector::{
    Element, Kernels, Matrix, Metric, conformance, multi_query_top_k_with, top_k_with,
};
use numpack_native::simd::{self, Parallel, Tier};

fn check<T: Element>(tier: Tier, k: &Kernels) {
    let mut rng = conformance::Rng(29);
    // (candidates, dim, queries): 3 rows (fewer than k = 10), rows off the 6-row tile, and
    // (dim 129, 2600 rows) more than one 256 KiB candidate sub-block.
    for &(n, dim, nq) in &[
        (3, 17, 7),
        (401, 1, 113),
        (257, 3, 2),
        (2600, 129, 100),
        (199, 127, 1),
        (613, 17, 113),
        (95, 128, 7),
        // Shapes kept from the candidate-panel experiment (see git history): query counts
        // around 14 and 28, dimensions around 16, candidates off 16 and 32, and 4130 rows.
        (47, 15, 13),
        (33, 3, 14),
        (529, 17, 15),
        (300, 129, 28),
        (17, 1, 29),
        (1000, 127, 14),
        (4130, 16, 29),
        (16, 16, 3),
        // The quad vector (a remainder of at most a quarter of a vector of queries, packed
        // four dimensions per query): remainders 1, 2 and 4 after 0, 1 and 2 whole vectors
        // of every lane width, dimensions off a multiple of 4.
        (500, 130, 20),
        (77, 5, 18),
        (64, 2, 4),
        (300, 128, 36),
        (129, 7, 33),
        (41, 9, 9),
    ] {
        let cands: Vec<T> = conformance::random_vec::<T>(&mut rng, Metric::Dot, n * dim);
        let queries: Vec<T> = conformance::random_vec::<T>(&mut rng, Metric::Dot, nq * dim);
        let cm = Matrix::new(&cands, n, dim).unwrap();
        let qm = Matrix::new(&queries, nq, dim).unwrap();
        for metric in [Metric::Dot, Metric::Cosine, Metric::L2, Metric::L2sq] {
            for kk in [1, 10] {
                let multi =
                    multi_query_top_k_with(k, metric, qm, cm, kk, None, &Parallel(2)).unwrap();
                assert_eq!(multi.len(), nq);
                for (qi, m) in multi.iter().enumerate() {
                    let single =
                        top_k_with(k, metric, qm.row(qi), cm, kk, None, &Parallel(1)).unwrap();
                    assert_eq!(m.indices.len(), kk.min(n));
                    assert_eq!(
                        *m,
                        single,
                        "{tier:?} {} {metric} n={n} dim={dim} nq={nq} k={kk} q{qi}",
                        T::TYPE.name()
                    );
                }
            }
        }
    }
}

#[test]
fn fused_odd_shapes_equal_single_query_on_every_tier() {
    let tiers: Vec<Tier> = Tier::ALL.into_iter().filter(|t| t.is_available()).collect();
    eprintln!("tiers under test: {tiers:?}");
    assert!(!tiers.is_empty());
    for tier in tiers {
        let k = simd::tier_kernels(tier).unwrap();
        check::<f32>(tier, k);
        check::<half::f16>(tier, k);
        check::<half::bf16>(tier, k);
    }
}
