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
