//! Row filters: construction rules and typed errors, and filtered search on the scalar tier
//! against a full sort of the allowed rows' scores (every tier runs the same check in
//! `numpack-native`'s tests).

use numpack_core::vector::{
    Matrix, Metric, RowFilter, VectorError, conformance, multi_query_top_k_filtered, scalar,
    top_k_filtered,
};

#[test]
fn indices_are_sorted_and_deduplicated() {
    let f = RowFilter::from_indices([5, 1, 5, 3, 1], 6).unwrap();
    assert_eq!(f.allowed(), &[1, 3, 5]);
    assert_eq!((f.len(), f.rows()), (3, 6));
    assert!(f.contains(3) && !f.contains(4));
    assert_eq!(f.within(2, 6).collect::<Vec<_>>(), [3, 5]);
    assert_eq!(f.within(6, 9).count(), 0);
}

#[test]
fn masks_pick_true_rows() {
    let f = RowFilter::from_mask([true, false, false, true], 4).unwrap();
    assert_eq!(f.allowed(), &[0, 3]);
    assert!(RowFilter::from_mask([false; 4], 4).unwrap().is_empty());
    assert_eq!(RowFilter::all(3).allowed(), &[0, 1, 2]);
}

#[test]
fn bad_filters_are_typed_errors() {
    assert_eq!(
        RowFilter::from_indices([0, 6], 6),
        Err(VectorError::FilterIndexOutOfRange { index: 6, rows: 6 })
    );
    assert_eq!(
        RowFilter::from_indices([-1], 6),
        Err(VectorError::FilterIndexOutOfRange { index: -1, rows: 6 })
    );
    assert_eq!(
        RowFilter::from_mask([true; 3], 4),
        Err(VectorError::FilterMaskLength { len: 3, rows: 4 })
    );
    let k = scalar();
    let c = [1f32, 2., 3., 4.];
    let cm = Matrix::new(&c, 2, 2).unwrap();
    let f = RowFilter::all(3);
    assert_eq!(
        top_k_filtered(&k, Metric::Dot, &[1f32, 1.], cm, 1, &f),
        Err(VectorError::FilterRowsMismatch { filter: 3, rows: 2 })
    );
    let f = RowFilter::all(2);
    assert_eq!(
        top_k_filtered(&k, Metric::Dot, &[1f32, 1.], cm, 0, &f),
        Err(VectorError::ZeroK)
    );
}

#[test]
fn empty_filter_gives_empty_results() {
    let k = scalar();
    let c = [1f32, 2., 3., 4.];
    let cm = Matrix::new(&c, 2, 2).unwrap();
    let f = RowFilter::from_indices([], 2).unwrap();
    let r = top_k_filtered(&k, Metric::L2, &[1f32, 1.], cm, 3, &f).unwrap();
    assert!(r.indices.is_empty() && r.scores.is_empty());
    let r = multi_query_top_k_filtered(&k, Metric::Cosine, cm, cm, 3, &f).unwrap();
    assert_eq!(r.len(), 2);
    assert!(r.iter().all(|x| x.indices.is_empty()));
    // No candidates at all, filter built for them: empty too.
    let e = Matrix::<f32>::new(&[], 0, 2).unwrap();
    let f = RowFilter::all(0);
    assert!(
        top_k_filtered(&k, Metric::Dot, &[1f32, 1.], e, 1, &f)
            .unwrap()
            .indices
            .is_empty()
    );
}

#[test]
fn scalar_filtered_search_matches_full_sort() {
    let k = scalar();
    conformance::check_filtered::<f32>(&k);
    conformance::check_filtered::<f64>(&k);
    conformance::check_filtered::<half::f16>(&k);
    conformance::check_filtered::<half::bf16>(&k);
    conformance::check_filtered::<i8>(&k);
    conformance::check_filtered::<u8>(&k);
}

#[test]
fn scalar_norm_cache_gives_the_uncached_results() {
    let k = scalar();
    conformance::check_cached::<f32>(&k);
    conformance::check_cached::<f64>(&k);
    conformance::check_cached::<half::f16>(&k);
    conformance::check_cached::<half::bf16>(&k);
    conformance::check_cached::<i8>(&k);
    conformance::check_bf16_copy(&k);
}

#[test]
fn norm_cache_for_other_candidates_is_an_error() {
    let k = scalar();
    let c = [1f32, 2., 3., 4., 5., 6.];
    let cache = numpack_core::vector::NormCache::new(&k, Matrix::new(&c, 3, 2).unwrap()).unwrap();
    assert_eq!(cache.norm_sq(), &[5.0, 25.0, 61.0]);
    let other = Matrix::new(&c[..4], 2, 2).unwrap();
    assert!(
        numpack_core::vector::top_k_cached(&k, Metric::L2, &[0f32, 0.], other, 1, &cache).is_err()
    );
}

/// Masks of every density and with allowed runs crossing the 64-row words and 256-row chunks,
/// at lengths around those sizes.
fn boundary_masks(n: usize) -> Vec<(String, Vec<bool>)> {
    let mut rng = conformance::Rng(0xB17);
    let mut out = Vec::new();
    for d in [0.0, 0.01, 0.5, 0.9, 0.99, 1.0] {
        let m = (0..n)
            .map(|_| (rng.next_u64() % 10_000) < (d * 10_000.0) as u64)
            .collect();
        out.push((format!("density {d}"), m));
    }
    let runs = [(60, 70), (250, 262), (255, 257), (511, 513), (700, 1000)];
    out.push((
        "runs across words and chunks".into(),
        (0..n)
            .map(|i| runs.iter().any(|&(a, b)| (a..b).contains(&i)))
            .collect(),
    ));
    out.push((
        "every 64th row".into(),
        (0..n).map(|i| i % 64 == 63).collect(),
    ));
    out.push((
        "all but chunk edges".into(),
        (0..n).map(|i| i % 256 != 0).collect(),
    ));
    out
}

#[test]
fn byte_masks_bool_masks_and_indices_allow_the_same_rows() {
    let mut rng = conformance::Rng(3);
    for n in [0usize, 1, 7, 8, 9, 63, 64, 65, 255, 256, 257, 1000, 1031] {
        for (name, m) in boundary_masks(n) {
            let want: Vec<u64> = (0..n as u64).filter(|&i| m[i as usize]).collect();
            // Any non-zero byte allows a row.
            let bytes: Vec<u8> = m
                .iter()
                .map(|&b| {
                    if b {
                        1 + (rng.next_u64() % 255) as u8
                    } else {
                        0
                    }
                })
                .collect();
            let from_bytes = RowFilter::from_mask_bytes(&bytes, n as u64).unwrap();
            let from_bools = RowFilter::from_mask(m.iter().copied(), n as u64).unwrap();
            let from_ids =
                RowFilter::from_indices(want.iter().rev().map(|&i| i as i64), n as u64).unwrap();
            for (how, f) in [
                ("bytes", &from_bytes),
                ("bools", &from_bools),
                ("ids", &from_ids),
            ] {
                let what = format!("n={n} {name} from {how}");
                assert_eq!(f.allowed(), want, "{what}");
                assert_eq!(
                    (f.len(), f.rows(), f.is_empty()),
                    (want.len(), n as u64, want.is_empty()),
                    "{what}"
                );
                for i in 0..n as u64 + 2 {
                    assert_eq!(
                        f.contains(i),
                        want.binary_search(&i).is_ok(),
                        "{what} row {i}"
                    );
                }
                for (a, b) in [
                    (0, n),
                    (1, n),
                    (3, n / 2),
                    (n / 3, n + 5),
                    (65, 200),
                    (n, n + 9),
                ] {
                    let (a, b) = (a as u64, b as u64);
                    let got: Vec<u64> = f.within(a, b).collect();
                    let naive: Vec<u64> =
                        want.iter().copied().filter(|&r| a <= r && r < b).collect();
                    assert_eq!(got, naive, "{what} within {a}..{b}");
                }
            }
            assert!(
                from_bytes == from_ids && from_bools == from_ids,
                "n={n} {name}"
            );
        }
    }
    assert_eq!(
        RowFilter::from_mask_bytes(&[1, 0, 1], 4),
        Err(VectorError::FilterMaskLength { len: 3, rows: 4 })
    );
}

/// Filtered top-k over bitmap filters whose allowed runs cross word and chunk boundaries equals
/// a full sort of the allowed rows' scores, for every metric, one query and several.
#[test]
fn bitmap_filters_match_a_full_sort_across_chunk_boundaries() {
    let k = scalar();
    let (n, dim) = (1031, 9);
    let mut rng = conformance::Rng(5);
    for metric in [Metric::Cosine, Metric::L2, Metric::Dot] {
        let c: Vec<f32> = conformance::random_vec(&mut rng, metric, n * dim);
        let cm = Matrix::new(&c, n, dim).unwrap();
        let q: Vec<f32> = conformance::random_vec(&mut rng, metric, 2 * dim);
        let qm = Matrix::new(&q, 2, dim).unwrap();
        for (name, m) in boundary_masks(n) {
            let f = RowFilter::from_mask(m.iter().copied(), n as u64).unwrap();
            for kk in [1, 10, n + 1] {
                let multi = multi_query_top_k_filtered(&k, metric, qm, cm, kk, &f).unwrap();
                for (qi, multi) in multi.iter().enumerate() {
                    let mut scores = vec![0f64; n];
                    numpack_core::vector::batch_compute(&k, metric, qm.row(qi), cm, &mut scores)
                        .unwrap();
                    let allowed = f.allowed();
                    let sub: Vec<f64> = allowed.iter().map(|&i| scores[i as usize]).collect();
                    let best = numpack_core::vector::reference::top_k_by_sort(metric, &sub, kk);
                    let want: Vec<u64> = best.iter().map(|&(p, _)| allowed[p as usize]).collect();
                    let got = top_k_filtered(&k, metric, qm.row(qi), cm, kk, &f).unwrap();
                    let what = format!("{metric} {name} k={kk} q{qi}");
                    assert_eq!(got.indices, want, "{what} single");
                    assert_eq!(multi.indices, want, "{what} multi");
                    let ws: Vec<f64> = best.iter().map(|&(_, s)| s).collect();
                    assert_eq!(got.scores, ws, "{what} single scores");
                }
            }
        }
    }
}

/// `TopK::push_scores_masked` keeps exactly what offering only the allowed scores one by one
/// keeps, with ties, NaN and infinities among the scores, for both directions and any k.
#[test]
fn masked_push_equals_pushing_only_allowed_scores() {
    use numpack_core::vector::TopK;
    let mut rng = conformance::Rng(17);
    for similarity in [true, false] {
        for kk in [1, 3, 10, 300] {
            for density in [0u64, 1, 50, 90, 100] {
                let n = 200 + (rng.next_u64() % 60) as usize;
                let scores: Vec<f64> = (0..n)
                    .map(|_| match rng.next_u64() % 20 {
                        0 => f64::NAN,
                        1 => f64::INFINITY,
                        2 => f64::NEG_INFINITY,
                        x => (x % 7) as f64, // many ties
                    })
                    .collect();
                let mut words = vec![0u64; n.div_ceil(64)];
                for i in 0..n {
                    if rng.next_u64() % 100 < density {
                        words[i / 64] |= 1 << (i % 64);
                    }
                }
                let (mut got, mut want) = (TopK::new(kk, similarity), TopK::new(kk, similarity));
                got.push_scores_masked(&scores[..n / 2], &words, 1000);
                got.push_scores_masked(
                    &scores[n / 2..],
                    &words_from(&words, n / 2, n),
                    1000 + n as u64 / 2,
                );
                for (i, &s) in scores.iter().enumerate() {
                    if words[i / 64] >> (i % 64) & 1 == 1 {
                        want.push(s, 1000 + i as u64);
                    }
                }
                let (g, w) = (got.into_sorted(), want.into_sorted());
                let what = format!("similarity={similarity} k={kk} density={density}");
                assert_eq!(g.indices, w.indices, "{what}");
                assert_eq!(
                    format!("{:?}", g.scores),
                    format!("{:?}", w.scores),
                    "{what}"
                );
            }
        }
    }
}

/// The bits `a..b` of `words`, re-based to bit 0.
fn words_from(words: &[u64], a: usize, b: usize) -> Vec<u64> {
    let mut out = vec![0u64; (b - a).div_ceil(64)];
    for i in a..b {
        if words[i / 64] >> (i % 64) & 1 == 1 {
            out[(i - a) / 64] |= 1 << ((i - a) % 64);
        }
    }
    out
}
