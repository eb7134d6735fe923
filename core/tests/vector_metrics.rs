//! Metric names, SciPy-checked values, edge rules, top-k order and typed errors.

use half::{bf16, f16};
use numpack_core::vector::{
    ElementType, Matrix, Metric, RowIds, TopK, TopKSearch, VectorError, batch_compute, cdist,
    compute, multi_query_top_k, scalar, top_k,
};

fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-12 * (1.0 + b.abs())
}

#[test]
fn names_and_aliases_parse_case_insensitively() {
    for (names, m) in [
        (
            &[
                "dot",
                "DOT",
                "dot_product",
                "dotproduct",
                "inner",
                "Inner_Product",
            ][..],
            Metric::Dot,
        ),
        (&["cos", "cosine", "COSINE_SIMILARITY"][..], Metric::Cosine),
        (&["l2", "euclidean", "l2_distance"][..], Metric::L2),
        (
            &["l2sq", "l2_squared", "squared_euclidean"][..],
            Metric::L2sq,
        ),
        (&["hamming"][..], Metric::Hamming),
        (&["Jaccard"][..], Metric::Jaccard),
        (&["kl", "kl_divergence"][..], Metric::Kl),
        (&["js", "js_divergence"][..], Metric::Js),
    ] {
        for n in names {
            assert_eq!(Metric::parse(n).unwrap(), m, "{n}");
        }
    }
    assert_eq!(
        Metric::parse("manhattan"),
        Err(VectorError::UnknownMetric("manhattan".into()))
    );
    assert!(Metric::Dot.is_similarity() && Metric::Cosine.is_similarity());
    assert!(
        !Metric::L2.is_similarity()
            && !Metric::Js.is_similarity()
            && !Metric::Hamming.is_similarity()
    );
}

#[test]
fn values_agree_with_scipy() {
    let k = scalar();
    // scipy.special.rel_entr(...).sum(), scipy.spatial.distance.jensenshannon (natural log)
    for (a, b, kl, js) in [
        (
            [0.5, 0.5],
            [0.9, 0.1],
            0.5108256237659906,
            0.31898154347735663,
        ),
        ([1.0, 0.0], [0.0, 1.0], f64::INFINITY, 0.8325546111576977),
    ] {
        assert!(close(compute::<f64>(&k, Metric::Kl, &a, &b).unwrap(), kl));
        assert!(close(compute::<f64>(&k, Metric::Js, &a, &b).unwrap(), js));
        let (af, bf) = (a.map(|x| x as f32), b.map(|x| x as f32));
        // f32 inputs are not exactly 0.9 / 0.1: agree to f32 input precision.
        let near = |a: f64, b: f64| a == b || (a - b).abs() <= 1e-6;
        assert!(near(compute::<f32>(&k, Metric::Kl, &af, &bf).unwrap(), kl));
        assert!(near(compute::<f32>(&k, Metric::Js, &af, &bf).unwrap(), js));
    }
    assert!(close(
        compute::<f64>(&k, Metric::Js, &[1.0, 2.0, 3.0], &[3.0, 0.0, 1.0]).unwrap(),
        0.4869707543900506
    ));
    assert!(
        compute::<f64>(&k, Metric::Js, &[1.0, 2.0, 3.0], &[0.0; 3])
            .unwrap()
            .is_nan()
    );
    // 1 - scipy.spatial.distance.cosine
    assert!(close(
        compute::<f64>(&k, Metric::Cosine, &[1.0, 2.0, 3.0], &[4.0, 5.0, -6.0]).unwrap(),
        -0.12182898077463444
    ));
    // scipy hamming/jaccard over np.unpackbits: [255,0,7] vs [0,0,5]
    assert_eq!(
        compute::<u8>(&k, Metric::Hamming, &[255, 0, 7], &[0, 0, 5]).unwrap(),
        9.0
    );
    assert!(close(
        compute::<u8>(&k, Metric::Jaccard, &[255, 0, 7], &[0, 0, 5]).unwrap(),
        0.8181818181818182
    ));
    assert_eq!(
        compute::<u8>(&k, Metric::Jaccard, &[0, 0], &[0, 0]).unwrap(),
        0.0
    );
    assert_eq!(
        compute::<u8>(&k, Metric::Hamming, &[255, 0], &[0, 0]).unwrap(),
        8.0
    );
}

#[test]
fn edge_rules() {
    let k = scalar();
    assert_eq!(
        compute::<f32>(&k, Metric::Cosine, &[0.0, 0.0], &[1.0, 2.0]).unwrap(),
        0.0
    );
    assert_eq!(
        compute::<f32>(&k, Metric::Cosine, &[0.0, 0.0], &[0.0, 0.0]).unwrap(),
        0.0
    );
    assert_eq!(
        compute::<f32>(&k, Metric::Cosine, &[3.0, 4.0], &[6.0, 8.0]).unwrap(),
        1.0
    );
    assert_eq!(
        compute::<i8>(&k, Metric::Cosine, &[-128, 127], &[-128, 127]).unwrap(),
        1.0
    );
    assert_eq!(
        compute::<i8>(&k, Metric::Dot, &[-128, -128], &[-128, -128]).unwrap(),
        32768.0
    );
    assert_eq!(
        compute::<i8>(&k, Metric::L2sq, &[-128], &[127]).unwrap(),
        65025.0
    );
    assert_eq!(compute::<f32>(&k, Metric::L2, &[], &[]).unwrap(), 0.0);
    assert_eq!(compute::<f32>(&k, Metric::Js, &[], &[]).unwrap(), 0.0);
    assert!(
        compute::<f32>(&k, Metric::Dot, &[f32::NAN, 1.0], &[1.0, 1.0])
            .unwrap()
            .is_nan()
    );
    assert!(
        compute::<f32>(&k, Metric::L2sq, &[f32::NAN], &[1.0])
            .unwrap()
            .is_nan()
    );
    assert!(
        compute::<f32>(&k, Metric::Cosine, &[f32::NAN], &[1.0])
            .unwrap()
            .is_nan()
    );
    assert_eq!(
        compute::<f32>(&k, Metric::L2sq, &[f32::INFINITY], &[1.0]).unwrap(),
        f64::INFINITY
    );
    assert_eq!(
        compute::<f16>(
            &k,
            Metric::Dot,
            &[f16::from_f32(2.0)],
            &[f16::from_f32(3.0)]
        )
        .unwrap(),
        6.0
    );
    assert_eq!(
        compute::<bf16>(
            &k,
            Metric::L2sq,
            &[bf16::from_f32(2.0)],
            &[bf16::from_f32(-1.0)]
        )
        .unwrap(),
        9.0
    );
    // int8 sums stay exact far beyond the i32 flush interval.
    let big = vec![-128i8; 300_000];
    assert_eq!(
        compute::<i8>(&k, Metric::Dot, &big, &big).unwrap(),
        300_000.0 * 16384.0
    );
    let other = vec![127i8; 300_000];
    assert_eq!(
        compute::<i8>(&k, Metric::L2sq, &big, &other).unwrap(),
        300_000.0 * 65025.0
    );
}

#[test]
fn ties_by_lower_index_and_nan_last() {
    let k = scalar();
    let c = [
        1.0f32,
        0.0,
        f32::NAN,
        0.0,
        1.0,
        0.0,
        f32::NAN,
        0.0,
        1.0,
        0.0,
        2.0,
        0.0,
    ];
    let m = Matrix::new(&c, 6, 2).unwrap();
    let r = top_k::<f32>(&k, Metric::Dot, &[1.0, 0.0], m, 6).unwrap();
    assert_eq!(r.indices, vec![5, 0, 2, 4, 1, 3]);
    let r = top_k::<f32>(&k, Metric::L2sq, &[1.0, 0.0], m, 6).unwrap();
    assert_eq!(r.indices, vec![0, 2, 4, 5, 1, 3]);
    let mut t = TopK::new(2, false);
    t.push_scores(&[f64::NAN, 3.0], 0);
    t.push_scores(&[3.0, f64::NAN, 1.0], 10);
    assert_eq!(t.into_sorted().indices, vec![12, 1]);
}

#[test]
fn typed_errors() {
    let k = scalar();
    let c = [1.0f32; 6];
    let m = Matrix::new(&c, 3, 2).unwrap();
    assert_eq!(
        top_k::<f32>(&k, Metric::Dot, &[1.0, 0.0], m, 0),
        Err(VectorError::ZeroK)
    );
    let empty = Matrix::<f32>::new(&[], 0, 2).unwrap();
    assert_eq!(
        top_k::<f32>(&k, Metric::Dot, &[1.0, 0.0], empty, 3),
        Err(VectorError::EmptyCandidates)
    );
    assert_eq!(
        top_k::<f32>(&k, Metric::Dot, &[1.0], m, 1),
        Err(VectorError::DimensionMismatch {
            expected: 2,
            found: 1
        })
    );
    assert_eq!(
        compute::<f32>(&k, Metric::Dot, &[1.0], &[1.0, 2.0]),
        Err(VectorError::DimensionMismatch {
            expected: 1,
            found: 2
        })
    );
    assert_eq!(
        compute::<f32>(&k, Metric::Hamming, &[1.0], &[1.0]),
        Err(VectorError::UnsupportedDtype {
            metric: Metric::Hamming,
            dtype: ElementType::F32
        })
    );
    assert!(matches!(
        compute::<u8>(&k, Metric::Dot, &[1], &[1]),
        Err(VectorError::UnsupportedDtype { .. })
    ));
    assert!(matches!(
        compute::<i8>(&k, Metric::Kl, &[1], &[1]),
        Err(VectorError::UnsupportedDtype { .. })
    ));
    assert!(matches!(
        Matrix::new(&c, 4, 2),
        Err(VectorError::BadShape { .. })
    ));
    assert!(matches!(
        Matrix::from_flat(&c, 4),
        Err(VectorError::BadShape { .. })
    ));
    let q = Matrix::<f32>::new(&[], 0, 2).unwrap();
    assert_eq!(
        multi_query_top_k::<f32>(&k, Metric::Dot, q, m, 1),
        Err(VectorError::EmptyQueries)
    );
    let mut out = [0.0; 2];
    assert!(matches!(
        batch_compute::<f32>(&k, Metric::Dot, &[1.0, 0.0], m, &mut out),
        Err(VectorError::DimensionMismatch { .. })
    ));
    let mut out = [0.0; 5];
    assert!(cdist::<f32>(&k, Metric::Dot, m, m, &mut out).is_err());
    let mut s = TopKSearch::<f32>::new(&k, Metric::Dot, &[1.0, 0.0], 2).unwrap();
    assert_eq!(
        s.push(m, RowIds::List(&[1, 2])),
        Err(VectorError::IdsLengthMismatch { rows: 3, ids: 2 })
    );
    // k larger than N is clipped.
    assert_eq!(
        top_k::<f32>(&k, Metric::Dot, &[1.0, 0.0], m, 10)
            .unwrap()
            .indices,
        vec![0, 1, 2]
    );
    assert_eq!(VectorError::ZeroK.to_string(), "k must be at least 1");
}

#[test]
fn zero_dim_vectors_are_scored() {
    let k = scalar();
    let m = Matrix::<f32>::new(&[], 3, 0).unwrap();
    let r = top_k::<f32>(&k, Metric::L2, &[], m, 2).unwrap();
    assert_eq!((r.indices, r.scores), (vec![0, 1], vec![0.0, 0.0]));
    let r = multi_query_top_k::<f32>(&k, Metric::Cosine, Matrix::new(&[], 2, 0).unwrap(), m, 2)
        .unwrap();
    assert_eq!(r[1].indices, vec![0, 1]);
}
