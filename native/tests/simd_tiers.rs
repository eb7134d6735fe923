//! Every SIMD tier this machine can run, forced in turn, against the f64 reference
//! (every metric × dtype × length 0..=600) and against full-sort top-k; threads; dispatch.

use numpack_core::vector::{
    Matrix, Metric, conformance, multi_query_top_k_cached_with, multi_query_top_k_with, top_k_with,
};
use numpack_native::simd::{self, Parallel, Tier};

fn tiers() -> Vec<Tier> {
    let t: Vec<Tier> = Tier::ALL.into_iter().filter(|t| t.is_available()).collect();
    eprintln!("tiers under test: {:?}", t);
    t
}

macro_rules! tier_tests {
    ($($kernels:ident, $search:ident => $tier:expr;)*) => {$(
        #[test]
        fn $kernels() {
            match simd::tier_kernels($tier) {
                Some(k) => conformance::check_all_kernels(k, 600),
                None => eprintln!("{:?} not available here: skipped", $tier),
            }
        }
        #[test]
        fn $search() {
            match simd::tier_kernels($tier) {
                Some(k) => conformance::check_all_search(k),
                None => eprintln!("{:?} not available here: skipped", $tier),
            }
        }
    )*};
}

tier_tests! {
    scalar_kernels, scalar_search => Tier::Scalar;
    avx2_kernels, avx2_search => Tier::Avx2;
    avx512_kernels, avx512_search => Tier::Avx512;
    amx_kernels, amx_search => Tier::Amx;
    neon_kernels, neon_search => Tier::Neon;
    sve_kernels, sve_search => Tier::Sve;
}

#[test]
fn expected_tiers_are_present() {
    let t = tiers();
    assert!(t.contains(&Tier::Scalar));
    if cfg!(target_arch = "aarch64") {
        assert!(t.contains(&Tier::Neon), "NEON is baseline on aarch64");
    }
    if std::env::var("REQUIRE_SVE").is_ok_and(|v| v == "1") {
        assert!(
            t.contains(&Tier::Sve),
            "REQUIRE_SVE=1 but SVE is not detected: {}",
            simd::capabilities()
        );
    }
    if std::env::var("REQUIRE_AVX512").is_ok_and(|v| v == "1") {
        assert!(
            t.contains(&Tier::Avx512),
            "REQUIRE_AVX512=1 but AVX-512 is not detected"
        );
    }
    // A Linux CPU that lists AMX-BF16 runs the AMX tier (its tests are not skipped).
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    if cfg!(all(target_arch = "x86_64", target_os = "linux"))
        && cpuinfo.split_whitespace().any(|w| w == "amx_bf16")
    {
        assert!(
            t.contains(&Tier::Amx),
            "the CPU lists amx_bf16 but the AMX tier is unavailable"
        );
    }
    // The active tier honours NUMPACK_SIMD when that tier exists.
    let caps = simd::capabilities();
    eprintln!("{caps}");
    if let Ok(want) = std::env::var("NUMPACK_SIMD") {
        if let Ok(Some(w)) = Tier::parse(&want) {
            if w.is_available() {
                assert_eq!(caps.active, w, "NUMPACK_SIMD={want} not honoured");
                assert!(caps.note.is_none());
            } else {
                // An unavailable tier falls back to the best available tier below it, with a note.
                assert!(caps.active < w || caps.active == Tier::Scalar, "{caps}");
                assert!(caps.note.is_some(), "fallback must be explained: {caps}");
            }
        }
    } else {
        assert_eq!(caps.active, *t.last().unwrap(), "auto picks the best tier");
    }
}

/// `n` candidate rows and `nq` query rows of `dim` random float32 values, from `seed`.
fn random_rows(seed: u64, n: usize, nq: usize, dim: usize) -> (Vec<f32>, Vec<f32>) {
    let mut rng = conformance::Rng(seed);
    let cands = conformance::random_vec(&mut rng, Metric::Dot, n * dim);
    (
        cands,
        conformance::random_vec(&mut rng, Metric::Dot, nq * dim),
    )
}

#[test]
fn threaded_copy_search_equals_single_threaded() {
    // Several queries over a bfloat16 copy (the AMX tile kernel where present), split over
    // threads: the same results as one thread and as the float32 search.
    let (n, dim, nq) = (9_001, 64, 40);
    let (cands, queries) = random_rows(11, n, nq, dim);
    let cm = Matrix::new(&cands, n, dim).unwrap();
    let qm = Matrix::new(&queries, nq, dim).unwrap();
    for &tier in &tiers() {
        let k = simd::tier_kernels(tier).unwrap();
        let cache = simd::norm_cache(k, cm, true, 2).unwrap();
        for metric in [Metric::Dot, Metric::Cosine, Metric::L2, Metric::L2sq] {
            let want = multi_query_top_k_with(k, metric, qm, cm, 9, None, &Parallel(1)).unwrap();
            for threads in [1, 2, 3] {
                let got =
                    multi_query_top_k_cached_with(k, metric, qm, cm, 9, &cache, &Parallel(threads))
                        .unwrap();
                assert_eq!(got, want, "{tier:?} {metric} copy threads={threads}");
            }
        }
    }
}

#[test]
fn tier_names_parse() {
    assert_eq!(Tier::parse("AVX512"), Ok(Some(Tier::Avx512)));
    assert_eq!(Tier::parse("auto"), Ok(None));
    assert!(Tier::parse("mmx").is_err());
    for t in Tier::ALL {
        if !t.is_available() {
            assert_eq!(simd::set_tier(t), Err(simd::SimdError::Unavailable(t)));
        }
    }
}

#[test]
fn threaded_results_equal_single_threaded() {
    let (n, dim, nq) = (20_011, 24, 5);
    let (cands, queries) = random_rows(7, n, nq, dim);
    let cm = Matrix::new(&cands, n, dim).unwrap();
    let qm = Matrix::new(&queries, nq, dim).unwrap();
    for &tier in &tiers() {
        let k = simd::tier_kernels(tier).unwrap();
        for metric in [
            Metric::Dot,
            Metric::Cosine,
            Metric::L2,
            Metric::L2sq,
            Metric::Kl,
        ] {
            let one = multi_query_top_k_with(k, metric, qm, cm, 17, None, &Parallel(1)).unwrap();
            for threads in [2, 3, 8] {
                let many = multi_query_top_k_with(k, metric, qm, cm, 17, None, &Parallel(threads))
                    .unwrap();
                assert_eq!(one, many, "{tier:?} {metric} multi threads={threads}");
                for (qi, want) in one.iter().enumerate() {
                    let s = top_k_with(k, metric, qm.row(qi), cm, 17, None, &Parallel(threads))
                        .unwrap();
                    assert_eq!(&s, want, "{tier:?} {metric} single threads={threads}");
                }
                let mut a = vec![0.0; n];
                let mut b = vec![0.0; n];
                simd::batch_compute(k, metric, qm.row(0), cm, &mut a, 1).unwrap();
                simd::batch_compute(k, metric, qm.row(0), cm, &mut b, threads).unwrap();
                assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
            }
            let small = cm.slice(0, 3000);
            let mut a = vec![0.0; nq * 3000];
            let mut b = vec![0.0; nq * 3000];
            simd::cdist(k, metric, qm, small, &mut a, 1).unwrap();
            simd::cdist(k, metric, small, qm, &mut b, 4).unwrap();
            for i in 0..nq {
                for j in 0..3000 {
                    let (x, y) = (a[i * 3000 + j], b[j * nq + i]);
                    if metric.is_similarity() || metric == Metric::L2 || metric == Metric::L2sq {
                        assert!(
                            (x - y).abs() <= 1e-5 * (1.0 + x.abs()),
                            "{tier:?} {metric} cdist symmetry"
                        );
                    }
                }
            }
        }
    }
}

/// The fused multi-query kernel with many queries (several query vectors, every remainder of
/// the register tile), ties and zero rows: results equal single-query top-k exactly, per tier.
#[test]
fn fused_multi_query_equals_single_query() {
    fn check<T: numpack_core::vector::Element>(tier: Tier, k: &numpack_core::vector::Kernels) {
        let mut rng = conformance::Rng(11);
        for &(n, dim, nq, ties) in &[
            (1500, 24, 77, false),
            (700, 128, 112, true),
            (333, 7, 17, false),
            (900, 33, 40, true),
            // Odd lengths, query counts off the 16/64-query groups, a lone query, and (dim 129,
            // 3500 rows) more than one candidate sub-block with a row count off the 6-row tile.
            (3500, 129, 100, false),
            (1200, 127, 129, false),
            (400, 1, 65, false),
            (500, 3, 16, true),
            (300, 17, 1, false),
        ] {
            let make = |rng: &mut conformance::Rng, len| {
                if ties {
                    conformance::tie_vec::<T>(rng, Metric::Dot, len)
                } else {
                    conformance::random_vec::<T>(rng, Metric::Dot, len)
                }
            };
            let mut cands: Vec<T> = make(&mut rng, n * dim);
            for x in &mut cands[5 * dim..6 * dim] {
                *x = T::from_f64(0.0); // a zero row (cosine 0, norm 0)
            }
            let queries: Vec<T> = make(&mut rng, nq * dim);
            let cm = Matrix::new(&cands, n, dim).unwrap();
            let qm = Matrix::new(&queries, nq, dim).unwrap();
            for metric in [Metric::Dot, Metric::Cosine, Metric::L2, Metric::L2sq] {
                for kk in [1, 10] {
                    for threads in [1, 2] {
                        let multi =
                            multi_query_top_k_with(k, metric, qm, cm, kk, None, &Parallel(threads))
                                .unwrap();
                        for (qi, m) in multi.iter().enumerate() {
                            let single =
                                top_k_with(k, metric, qm.row(qi), cm, kk, None, &Parallel(1))
                                    .unwrap();
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
    }
    for &tier in &tiers() {
        let k = simd::tier_kernels(tier).unwrap();
        check::<f32>(tier, k);
        check::<half::f16>(tier, k);
        check::<half::bf16>(tier, k);
    }
}

/// `rows == pair` bit for bit over many rows (so the grouped reductions of the rows kernels,
/// 4 or 8 rows per transposed reduction, and their remainders are all exercised), every tier,
/// every float/int8 dtype, dot/cosine/l2/l2sq, lengths 1..=300.
#[test]
fn rows_equal_pair_over_many_rows() {
    use half::{bf16, f16};
    use numpack_core::vector::{Element, Kernels};
    fn check<T: Element>(k: &Kernels, rng: &mut conformance::Rng) {
        let dk = k.get::<T>();
        for metric in [Metric::Dot, Metric::Cosine, Metric::L2, Metric::L2sq] {
            let (Some(pair), Some(rows)) = (dk.pair[metric.index()], dk.rows[metric.index()])
            else {
                continue;
            };
            for len in 1..=300usize {
                let n = 8 + len % 29;
                let q = conformance::random_vec::<T>(rng, metric, len);
                let mut data = Vec::with_capacity(n * len);
                for i in 0..n {
                    if i == 3 {
                        data.extend(std::iter::repeat_n(T::from_f64(0.0), len));
                    } else {
                        data.extend(conformance::random_vec::<T>(rng, metric, len));
                    }
                }
                let mut out = vec![0f64; n];
                rows(&q, &data, len, &mut out);
                for (i, &o) in out.iter().enumerate() {
                    let p = pair(&q, &data[i * len..(i + 1) * len]);
                    let same = o.to_bits() == p.to_bits()
                        || (o.is_nan() && p.is_nan())
                        || (o == 0.0 && p == 0.0);
                    assert!(
                        same,
                        "[{}] {:?} {metric} len {len} row {i}/{n}: rows {o} != pair {p}",
                        k.name,
                        T::TYPE
                    );
                }
            }
        }
    }
    let mut rng = conformance::Rng(7);
    for t in tiers() {
        let k = simd::tier_kernels(t).unwrap();
        check::<f32>(k, &mut rng);
        check::<f64>(k, &mut rng);
        check::<f16>(k, &mut rng);
        check::<bf16>(k, &mut rng);
        check::<i8>(k, &mut rng);
    }
}
