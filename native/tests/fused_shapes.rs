//! The fused multi-query kernel at awkward shapes, every tier this machine can run: odd
//! dimensions, query counts off the register tile (1, 2, 7, 100, 113) and off the panel
//! kernel's query groups (13, 14, 15, 28, 29), candidate counts off the row tile, the 16-row
//! panel and the sub-block, and k larger than the candidate count. Multi-query results must
//! equal single-query top-k (itself checked against the f64 reference by `simd_tiers`) exactly.

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
        // The candidate-panel kernel (AVX-512): query groups of up to 14 (13, 14, 15, 28, 29
        // queries split into 1 or 2 groups of unequal or equal size), dimensions around the
        // 16-wide transpose (1, 3, 15, 16, 17, 127, 129), candidates off the 16-row panel and
        // the 32-row tile, and (dim 16, 4130 rows) more than one packed block of 4096 rows.
        (47, 15, 13),
        (33, 3, 14),
        (529, 17, 15),
        (300, 129, 28),
        (17, 1, 29),
        (1000, 127, 14),
        (4130, 16, 29),
        (16, 16, 3),
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

/// The candidate-panel kernel (an alternative AVX-512 table, not chosen by dispatch) at the
/// same shapes.
#[cfg(target_arch = "x86_64")]
#[test]
fn panel_kernel_odd_shapes_equal_single_query() {
    let Some(k) = simd::x86_avx512_panel::new() else {
        eprintln!("no AVX-512 here: the panel kernel is not built");
        return;
    };
    check::<f32>(Tier::Avx512, &k);
    check::<half::f16>(Tier::Avx512, &k);
    check::<half::bf16>(Tier::Avx512, &k);
}
