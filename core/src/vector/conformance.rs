//! Conformance checks every kernel tier must pass, shared by the core, native and wasm tests.
//! Each check panics with the tier, dtype, metric and length of the first failure.

use super::{
    Element, ElementType, Kernels, Matrix, Metric, MultiTopKSearch, RowFilter, RowIds, TopKResult,
    TopKSearch, batch_compute, cdist, compute, multi_query_top_k, multi_query_top_k_filtered,
    reference, top_k, top_k_filtered,
};

/// A small deterministic generator (splitmix64) so failures are reproducible.
#[derive(Clone, Debug)]
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A random vector suited to `metric`: floats in [-1, 1] (kl/js: in [0, 1] with ~10 % zeros),
/// int8 over its full range, uint8 random bytes (every third vector sparse).
pub fn random_vec<T: Element>(rng: &mut Rng, metric: Metric, len: usize) -> Vec<T> {
    let sparse = rng.next_u64().is_multiple_of(3);
    (0..len)
        .map(|_| {
            let u = rng.unit();
            let x = match T::TYPE {
                ElementType::U8 => {
                    let b = (rng.next_u64() & 0xFF) as f64;
                    if sparse && u < 0.8 { 0.0 } else { b }
                }
                ElementType::I8 => (rng.next_u64() % 256) as f64 - 128.0,
                _ if matches!(metric, Metric::Kl | Metric::Js) => {
                    if u < 0.1 {
                        0.0
                    } else {
                        rng.unit()
                    }
                }
                _ => 2.0 * u - 1.0,
            };
            T::from_f64(x)
        })
        .collect()
}

/// Integer-valued vectors in {-2..2} (uint8: {0, 1, 3}): many exact ties, exact sums.
pub fn tie_vec<T: Element>(rng: &mut Rng, metric: Metric, len: usize) -> Vec<T> {
    (0..len)
        .map(|_| {
            let r = (rng.next_u64() % 5) as f64;
            let x = match (T::TYPE, metric) {
                (ElementType::U8, _) => [0.0, 1.0, 3.0, 0.0, 1.0][r as usize],
                (_, Metric::Kl | Metric::Js) => r,
                _ => r - 2.0,
            };
            T::from_f64(x)
        })
        .collect()
}

/// The allowed |got − reference| for `metric(a, b)` of type `T` (see `docs/METRICS.md`):
/// f32-family and f64 at (len + 16) units of rounding times the sum's natural scale, exact
/// integer sums, 1e-12 relative for the f64 kl/js kernels.
pub fn tolerance<T: Element>(metric: Metric, a: &[T], b: &[T], reference_value: f64) -> f64 {
    let n = a.len() as f64 + 16.0;
    let u = match T::TYPE {
        ElementType::F64 => f64::EPSILON / 2.0,
        ElementType::I8 | ElementType::U8 => 0.0,
        _ => f32::EPSILON as f64 / 2.0,
    };
    let fin = 1e-14 * (1.0 + reference_value.abs());
    let abs_dot: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x.to_f64() * y.to_f64()).abs())
        .sum();
    match metric {
        Metric::Dot => 2.0 * n * u * abs_dot + fin,
        Metric::L2sq => 3.0 * n * u * reference_value.abs() + fin,
        Metric::L2 => 2.0 * n * u * reference_value.abs() + fin,
        Metric::Cosine => 4.0 * n * u + fin,
        Metric::Kl | Metric::Js => 1e-12 * n * (1.0 + reference_value.abs()),
        Metric::Hamming | Metric::Jaccard => 1e-15,
    }
}

/// `got` equals `want` within `tol`; NaN matches NaN, infinities must match exactly.
pub fn close(got: f64, want: f64, tol: f64) -> bool {
    if want.is_nan() || got.is_nan() {
        return want.is_nan() && got.is_nan();
    }
    if want.is_infinite() || got.is_infinite() {
        return got == want;
    }
    (got - want).abs() <= tol
}

fn same_bits(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()) || (a == 0.0 && b == 0.0)
}

/// Pair, rows and tile kernels of `T` against the f64 reference for every length `0..=max_len`.
pub fn check_kernels<T: Element>(k: &Kernels, max_len: usize) {
    let dk = k.get::<T>();
    let t = T::TYPE.name();
    let mut rng = Rng(0x5EED ^ max_len as u64);
    for metric in Metric::ALL {
        let pair = dk.pair[metric.index()];
        if !T::TYPE.supports(metric) {
            continue;
        }
        let pair = pair.unwrap_or_else(|| panic!("[{}] {t} {metric}: no kernel", k.name));
        for len in 0..=max_len {
            let a = random_vec::<T>(&mut rng, metric, len);
            let b = random_vec::<T>(&mut rng, metric, len);
            let got = pair(&a, &b);
            let want = reference::score(metric, &a, &b);
            let tol = tolerance(metric, &a, &b, want);
            assert!(
                close(got, want, tol),
                "[{}] {t} {metric} len {len}: got {got}, want {want} (tol {tol:e})",
                k.name
            );
            // The same pair with itself and with a zero vector exercises the edge rules.
            let zero = vec![T::from_f64(0.0); len];
            let (g0, w0) = (pair(&a, &zero), reference::score(metric, &a, &zero));
            assert!(
                close(g0, w0, tolerance(metric, &a, &zero, w0)),
                "[{}] {t} {metric} len {len} vs zero: got {g0}, want {w0}",
                k.name
            );
            if let Some(rows) = dk.rows[metric.index()]
                && len > 0
            {
                let mut data = b.clone();
                for _ in 0..5 {
                    data.extend(random_vec::<T>(&mut rng, metric, len));
                }
                let mut out = [0f64; 6];
                rows(&a, &data, len, &mut out);
                for (i, &o) in out.iter().enumerate() {
                    let p = pair(&a, &data[i * len..(i + 1) * len]);
                    assert!(
                        same_bits(o, p),
                        "[{}] {t} {metric} len {len} row {i}: rows {o} != pair {p}",
                        k.name
                    );
                }
            }
        }
    }
    if let (Some(tile), Some(norm)) = (dk.dot_tile, dk.norm_sq) {
        for len in 1..=max_len {
            let (nq, nc) = (5, 6);
            let q = random_vec::<T>(&mut rng, Metric::Dot, nq * len);
            let c = random_vec::<T>(&mut rng, Metric::Dot, nc * len);
            let mut out = vec![0f64; nq * nc];
            tile(&q, nq, &c, nc, len, &mut out);
            for i in 0..nq {
                let qa = &q[i * len..(i + 1) * len];
                let nn = norm(qa);
                let wn = reference::score(Metric::Dot, qa, qa);
                assert!(
                    close(nn, wn, tolerance(Metric::Dot, qa, qa, wn)),
                    "[{}] {t} norm_sq len {len}: {nn} vs {wn}",
                    k.name
                );
                for j in 0..nc {
                    let ca = &c[j * len..(j + 1) * len];
                    let want = reference::score(Metric::Dot, qa, ca);
                    let got = out[i * nc + j];
                    let tol = tolerance(Metric::Dot, qa, ca, want);
                    assert!(
                        close(got, want, tol),
                        "[{}] {t} tile len {len} ({i},{j}): got {got}, want {want}",
                        k.name
                    );
                }
            }
        }
    }
}

/// Every dtype's kernels (`check_kernels`) for one tier.
pub fn check_all_kernels(k: &Kernels, max_len: usize) {
    check_kernels::<f32>(k, max_len);
    check_kernels::<f64>(k, max_len);
    check_kernels::<half::f16>(k, max_len);
    check_kernels::<half::bf16>(k, max_len);
    check_kernels::<i8>(k, max_len);
    check_kernels::<u8>(k, max_len);
}

fn assert_same_results(tier: &str, what: &str, a: &super::TopKResult, b: &super::TopKResult) {
    assert_eq!(a.indices, b.indices, "[{tier}] {what}: indices differ");
    for (x, y) in a.scores.iter().zip(&b.scores) {
        assert!(
            same_bits(*x, *y),
            "[{tier}] {what}: scores {:?} vs {:?}",
            a.scores,
            b.scores
        );
    }
}

/// Top-k, multi-query top-k, streaming and cdist of `T` for one tier: top-k equals a full
/// sort of the tier's own scores (ties by index, NaN last) and matches the reference scores;
/// multi-query and streamed results equal single-query results exactly.
pub fn check_search<T: Element>(k: &Kernels) {
    let t = T::TYPE.name();
    let tier = k.name;
    let mut rng = Rng(0xC0FFEE);
    for metric in Metric::ALL.into_iter().filter(|m| T::TYPE.supports(*m)) {
        for &(n, dim, ties) in &[
            (1, 3, false),
            (5, 1, true),
            (37, 17, false),
            (300, 64, false),
            (257, 8, true),
            (600, 33, false),
            (300, 130, true),
        ] {
            let make = |rng: &mut Rng, len| {
                if ties {
                    tie_vec::<T>(rng, metric, len)
                } else {
                    random_vec::<T>(rng, metric, len)
                }
            };
            let cands = make(&mut rng, n * dim);
            let cm = Matrix::new(&cands, n, dim).unwrap();
            let nq = 5;
            let queries = make(&mut rng, nq * dim);
            let qm = Matrix::new(&queries, nq, dim).unwrap();
            let what = format!("{t} {metric} n={n} dim={dim} ties={ties}");
            // The tier's scores of every query: equal to `compute` bit for bit, close to the reference.
            let mut all_scores = Vec::new();
            for qi in 0..nq {
                let q = qm.row(qi);
                let mut scores = vec![0f64; n];
                batch_compute(k, metric, q, cm, &mut scores).unwrap();
                for (j, &s) in scores.iter().enumerate() {
                    let p = compute(k, metric, q, cm.row(j)).unwrap();
                    assert!(same_bits(s, p), "[{tier}] {what}: batch {s} != compute {p}");
                    let want = reference::score(metric, q, cm.row(j));
                    let tol = tolerance(metric, q, cm.row(j), want);
                    assert!(
                        close(s, want, tol),
                        "[{tier}] {what}: score {s} vs reference {want}"
                    );
                }
                all_scores.push(scores);
            }
            for &kk in &[1usize, 3, 10, n + 5] {
                let mut singles = Vec::new();
                for (qi, scores) in all_scores.iter().enumerate() {
                    let q = qm.row(qi);
                    let res = top_k(k, metric, q, cm, kk).unwrap();
                    let expect = reference::top_k_by_sort(metric, scores, kk);
                    assert_eq!(
                        res.indices.len(),
                        kk.min(n),
                        "[{tier}] {what} k={kk}: length"
                    );
                    for (p, &(i, s)) in expect.iter().enumerate() {
                        assert_eq!(
                            res.indices[p], i,
                            "[{tier}] {what} k={kk}: position {p} index; got {:?}",
                            res.indices
                        );
                        assert!(
                            same_bits(res.scores[p], s),
                            "[{tier}] {what} k={kk}: position {p} score"
                        );
                    }
                    // Streaming in uneven batches with explicit ids gives the same ranking, remapped.
                    let mut s = TopKSearch::new(k, metric, q, kk).unwrap();
                    let ids: Vec<u64> = (0..n as u64).map(|i| 1000 + 3 * i).collect();
                    let mut start = 0;
                    let mut step = 1;
                    while start < n {
                        let end = (start + step).min(n);
                        s.push(cm.slice(start, end), RowIds::List(&ids[start..end]))
                            .unwrap();
                        start = end;
                        step = step * 3 + 1;
                    }
                    let streamed = s.finish().unwrap();
                    let remapped: Vec<u64> =
                        streamed.indices.iter().map(|i| (i - 1000) / 3).collect();
                    assert_eq!(
                        remapped, res.indices,
                        "[{tier}] {what} k={kk}: streamed indices"
                    );
                    singles.push(res);
                }
                let multi = multi_query_top_k(k, metric, qm, cm, kk).unwrap();
                for (qi, (m, s)) in multi.iter().zip(&singles).enumerate() {
                    assert_same_results(tier, &format!("{what} k={kk} multi-query q{qi}"), m, s);
                }
                let mut ms = MultiTopKSearch::new(k, metric, qm, kk).unwrap();
                let half = n / 2;
                ms.push(cm.slice(half, n), RowIds::Offset(half as u64))
                    .unwrap();
                ms.push(cm.slice(0, half), RowIds::Offset(0)).unwrap();
                for (qi, (m, s)) in ms.finish().unwrap().iter().zip(&singles).enumerate() {
                    assert_same_results(tier, &format!("{what} k={kk} streamed multi q{qi}"), m, s);
                }
            }
            let mut out = vec![0f64; nq * n];
            cdist(k, metric, qm, cm, &mut out).unwrap();
            for i in 0..nq {
                for j in 0..n {
                    let want = reference::score(metric, qm.row(i), cm.row(j));
                    let tol = tolerance(metric, qm.row(i), cm.row(j), want);
                    let got = out[i * n + j];
                    assert!(
                        close(got, want, tol),
                        "[{tier}] {what}: cdist ({i},{j}) {got} vs {want}"
                    );
                }
            }
        }
    }
}

/// `check_search` and `check_filtered` for every dtype.
pub fn check_all_search(k: &Kernels) {
    check_search::<f32>(k);
    check_search::<f64>(k);
    check_search::<half::f16>(k);
    check_search::<half::bf16>(k);
    check_search::<i8>(k);
    check_search::<u8>(k);
    check_filtered::<f32>(k);
    check_filtered::<f64>(k);
    check_filtered::<half::f16>(k);
    check_filtered::<half::bf16>(k);
    check_filtered::<i8>(k);
    check_filtered::<u8>(k);
    check_cached::<f32>(k);
    check_cached::<f64>(k);
    check_cached::<half::f16>(k);
    check_cached::<half::bf16>(k);
    check_cached::<i8>(k);
    check_bf16_copy(k);
}

/// Single-query top-k with a norm cache of `T` for one tier: in one call and in uneven
/// batches, bit for bit the results of `top_k` without it (random vectors, ties, and rows
/// holding ±inf / NaN).
pub fn check_cached<T: Element>(k: &Kernels) {
    let (t, tier) = (T::TYPE.name(), k.name);
    let mut rng = Rng(0xCAC4E);
    for metric in Metric::ALL.into_iter().filter(|m| T::TYPE.supports(*m)) {
        for &(n, dim, ties) in &[
            (1, 3, false),
            (300, 64, false),
            (700, 33, true),
            (1200, 8, false),
        ] {
            let mut cands = if ties {
                tie_vec::<T>(&mut rng, metric, n * dim)
            } else {
                random_vec::<T>(&mut rng, metric, n * dim)
            };
            if n > 100 && !matches!(T::TYPE, ElementType::I8 | ElementType::U8) {
                cands[5 * dim] = T::from_f64(f64::INFINITY);
                cands[9 * dim + 1] = T::from_f64(f64::NAN);
            }
            let cm = Matrix::new(&cands, n, dim).unwrap();
            let cache = super::NormCache::new(k, cm).unwrap();
            for _ in 0..3 {
                let q = random_vec::<T>(&mut rng, metric, dim);
                for kk in [1usize, 10, n + 2] {
                    let what =
                        format!("[{tier}] {t} {metric} n={n} dim={dim} ties={ties} k={kk} cached");
                    check_cached_query(k, metric, &q, cm, kk, &cache, &what, 2);
                }
            }
            // Several queries (the fused kernel's key coefficients from the cache): whole
            // vectors of queries, a remainder, and 37 = 2 × 16 + a quad vector on AVX-512.
            for nq in [2usize, 20, 37] {
                let qs = random_vec::<T>(&mut rng, metric, nq * dim);
                let qm = Matrix::new(&qs, nq, dim).unwrap();
                for kk in [1usize, 10] {
                    let what =
                        format!("[{tier}] {t} {metric} n={n} dim={dim} nq={nq} k={kk} cached");
                    check_cached_queries(k, metric, qm, cm, kk, &cache, &what, 5);
                }
            }
        }
    }
}

/// Single- and multi-query top-k over a norm cache with a bfloat16 copy (float32 only) for one
/// tier: bit for bit the results of `top_k` / `multi_query_top_k` without it, in one call and in uneven batches, for
/// random rows, ties, rows that differ only below bfloat16's precision (identical copies),
/// rows with ±inf / NaN, huge values that round to infinity in bfloat16, subnormals and a
/// zero row. A non-float32 copy is refused.
pub fn check_bf16_copy(k: &Kernels) {
    let tier = k.name;
    let mut rng = Rng(0xB16C);
    for metric in [Metric::Dot, Metric::Cosine, Metric::L2, Metric::L2sq] {
        for case in 0..5 {
            let (n, dim) = [(1, 3), (300, 64), (700, 33), (1200, 8), (500, 128)][case];
            let mut c: Vec<f32> = match case {
                2 => tie_vec::<f32>(&mut rng, metric, n * dim),
                4 => {
                    // Rows equal to a few bases up to a relative 1e-5 (below bfloat16's 2^-8).
                    let bases = random_vec::<f32>(&mut rng, metric, 4 * dim);
                    (0..n * dim)
                        .map(|i| {
                            let b = bases[(i / dim) % 4 * dim + i % dim];
                            b * (1.0 + 1e-5 * (rng.unit() as f32 - 0.5))
                        })
                        .collect()
                }
                _ => random_vec::<f32>(&mut rng, metric, n * dim),
            };
            if n > 100 {
                c[5 * dim] = f32::INFINITY;
                c[9 * dim + 1] = f32::NAN;
                c[11 * dim] = f32::MAX; // rounds to +inf in bfloat16
                c[13 * dim + 2] = -3.0e38;
                c[17 * dim + 1] = 1.0e-40; // subnormal
                c[19 * dim..20 * dim].fill(0.0);
            }
            let cm = Matrix::new(&c, n, dim).unwrap();
            let cache = super::NormCache::new(k, cm)
                .unwrap()
                .with_bf16_copy(cm)
                .unwrap();
            assert!(cache.has_bf16_copy());
            for qi in 0..4 {
                let q: Vec<f32> = if case == 4 && qi > 0 {
                    c[(qi * 7) * dim..(qi * 7 + 1) * dim].to_vec() // a query among the near-duplicates
                } else {
                    random_vec::<f32>(&mut rng, metric, dim)
                };
                for kk in [1usize, 10, n + 2] {
                    let what = format!(
                        "[{tier}] bf16 copy {metric} n={n} dim={dim} case={case} q={qi} k={kk}"
                    );
                    check_cached_query(k, metric, &q, cm, kk, &cache, &what, 3);
                }
            }
            // Several queries over the copy (the tier's `CopyScan` kernel where it takes this
            // length): fewer than, and more than, a 32-query block; among them the
            // near-duplicate rows of case 4, a zero query and a huge one.
            for nq in [3usize, 37] {
                let mut qs = random_vec::<f32>(&mut rng, metric, nq * dim);
                if case == 4 {
                    qs[..dim].copy_from_slice(&c[7 * dim..8 * dim]);
                }
                if nq > 3 {
                    qs[dim..2 * dim].fill(0.0);
                    qs[2 * dim] = 1.0e30;
                }
                let qm = Matrix::new(&qs, nq, dim).unwrap();
                for kk in [1usize, 10, n + 2] {
                    let what = format!(
                        "[{tier}] bf16 copy {metric} n={n} dim={dim} case={case} nq={nq} k={kk}"
                    );
                    check_cached_queries(k, metric, qm, cm, kk, &cache, &what, 40);
                }
            }
        }
    }
    let d = [1.0f64, 2.0, 3.0];
    let dm = Matrix::new(&d, 1, 3).unwrap();
    assert_eq!(
        super::NormCache::new(k, dm).unwrap().with_bf16_copy(dm),
        Err(super::VectorError::CopyNeedsFloat32 {
            dtype: ElementType::F64
        }),
        "[{tier}] a float64 copy must be refused"
    );
}

/// One query's top-k with the norm cache, in one call and pushed in batches from `first`
/// rows: bit for bit the results of `top_k` without it.
#[allow(clippy::too_many_arguments)]
fn check_cached_query<T: Element>(
    k: &Kernels,
    metric: Metric,
    q: &[T],
    cm: Matrix<'_, T>,
    kk: usize,
    cache: &super::NormCache,
    what: &str,
    first: usize,
) {
    let want = top_k(k, metric, q, cm, kk).unwrap();
    let got = super::top_k_cached(k, metric, q, cm, kk, cache).unwrap();
    assert_same_results(k.name, what, &got, &want);
    let mut s = TopKSearch::new(k, metric, q, kk).unwrap();
    push_cached_batches(&mut s, cm, cache, first);
    assert_same_results(
        k.name,
        &format!("{what} batches"),
        &s.finish().unwrap(),
        &want,
    );
}

/// Several queries' top-k with the norm cache, in one call and pushed in batches from `first`
/// rows: bit for bit the results of `multi_query_top_k` without it.
#[allow(clippy::too_many_arguments)]
fn check_cached_queries<T: Element>(
    k: &Kernels,
    metric: Metric,
    qm: Matrix<'_, T>,
    cm: Matrix<'_, T>,
    kk: usize,
    cache: &super::NormCache,
    what: &str,
    first: usize,
) {
    let tier = k.name;
    let want = multi_query_top_k(k, metric, qm, cm, kk).unwrap();
    let got =
        super::multi_query_top_k_cached_with(k, metric, qm, cm, kk, cache, &super::Sequential)
            .unwrap();
    let mut s = MultiTopKSearch::new(k, metric, qm, kk).unwrap();
    push_cached_batches(&mut s, cm, cache, first);
    let batches = s.finish().unwrap();
    for (i, w) in want.iter().enumerate() {
        assert_same_results(tier, &format!("{what} q{i}"), &got[i], w);
        assert_same_results(tier, &format!("{what} q{i} batches"), &batches[i], w);
    }
}

/// Pushes every row of `cm` with its cached norms into `s`, in batches of growing size
/// (`first`, then ×3 + 1 each time).
fn push_cached_batches<T: Element, S: super::Search<T>>(
    s: &mut S,
    cm: Matrix<'_, T>,
    cache: &super::NormCache,
    first: usize,
) {
    let (n, mut a, mut step) = (cm.rows(), 0, first);
    while a < n {
        let b = (a + step).min(n);
        let ids = RowIds::Offset(a as u64);
        s.push_with_norms(cm.slice(a, b), ids, cache.range(a, b))
            .unwrap();
        a = b;
        step = step * 3 + 1;
    }
}

/// Filters of every shape for `n` rows: masks (all false, all true, random, sparse), index
/// lists (empty, unsorted with duplicates, one row, long runs).
pub fn sample_filters(rng: &mut Rng, n: usize) -> Vec<(&'static str, RowFilter)> {
    let nn = n as u64;
    let mask = |rng: &mut Rng, p: f64| -> Vec<bool> { (0..n).map(|_| rng.unit() < p).collect() };
    let dup: Vec<i64> = (0..n / 3 + 2)
        .map(|_| (rng.next_u64() % nn) as i64)
        .collect();
    let runs: Vec<i64> = (n.min(5)..n.min(200))
        .chain(n.saturating_sub(70)..n)
        .map(|i| i as i64)
        .collect();
    vec![
        (
            "all-false mask",
            RowFilter::from_mask(vec![false; n], nn).unwrap(),
        ),
        (
            "all-true mask",
            RowFilter::from_mask(vec![true; n], nn).unwrap(),
        ),
        (
            "random mask",
            RowFilter::from_mask(mask(rng, 0.5), nn).unwrap(),
        ),
        (
            "dense mask",
            RowFilter::from_mask(mask(rng, 0.9), nn).unwrap(),
        ),
        (
            "sparse mask",
            RowFilter::from_mask(mask(rng, 0.02), nn).unwrap(),
        ),
        ("empty list", RowFilter::from_indices([], nn).unwrap()),
        ("duplicates", RowFilter::from_indices(dup, nn).unwrap()),
        (
            "last row",
            RowFilter::from_indices([nn as i64 - 1], nn).unwrap(),
        ),
        ("runs", RowFilter::from_indices(runs, nn).unwrap()),
    ]
}

/// The expected filtered result: the allowed rows' `scores`, fully sorted, first `k`.
fn filtered_oracle(metric: Metric, scores: &[f64], f: &RowFilter, k: usize) -> TopKResult {
    let rows = f.allowed();
    let allowed: Vec<f64> = rows.iter().map(|&i| scores[i as usize]).collect();
    let best = reference::top_k_by_sort(metric, &allowed, k);
    TopKResult {
        indices: best.iter().map(|&(p, _)| rows[p as usize]).collect(),
        scores: best.iter().map(|&(_, s)| s).collect(),
    }
}

/// Filtered top-k of `T` for one tier: single-query, multi-query and pushes in uneven batches
/// (offset ids and id lists) all equal a full sort of the tier's scores over the allowed rows.
pub fn check_filtered<T: Element>(k: &Kernels) {
    let (t, tier) = (T::TYPE.name(), k.name);
    let mut rng = Rng(0xF117E2);
    for metric in Metric::ALL.into_iter().filter(|m| T::TYPE.supports(*m)) {
        for &(n, dim) in &[(1, 3), (37, 17), (600, 33), (1500, 8)] {
            let cands = random_vec::<T>(&mut rng, metric, n * dim);
            let cm = Matrix::new(&cands, n, dim).unwrap();
            let nq = 3;
            let queries = random_vec::<T>(&mut rng, metric, nq * dim);
            let qm = Matrix::new(&queries, nq, dim).unwrap();
            let scores: Vec<Vec<f64>> = (0..nq)
                .map(|qi| {
                    let mut s = vec![0f64; n];
                    batch_compute(k, metric, qm.row(qi), cm, &mut s).unwrap();
                    s
                })
                .collect();
            for (name, f) in sample_filters(&mut rng, n) {
                for kk in [1usize, 7, n + 3] {
                    let what = format!("[{tier}] {t} {metric} n={n} dim={dim} {name} k={kk}");
                    let multi = multi_query_top_k_filtered(k, metric, qm, cm, kk, &f).unwrap();
                    let mut ms = MultiTopKSearch::new(k, metric, qm, kk).unwrap();
                    for qi in 0..nq {
                        let want = filtered_oracle(metric, &scores[qi], &f, kk);
                        let got = top_k_filtered(k, metric, qm.row(qi), cm, kk, &f).unwrap();
                        assert_same_results(tier, &format!("{what} single q{qi}"), &got, &want);
                        assert_same_results(
                            tier,
                            &format!("{what} multi q{qi}"),
                            &multi[qi],
                            &want,
                        );
                        // Uneven batches: offsets, then an id list shifted by 7 (unshifted after).
                        let (mut s, mut l) = (
                            TopKSearch::new(k, metric, qm.row(qi), kk).unwrap(),
                            TopKSearch::new(k, metric, qm.row(qi), kk).unwrap(),
                        );
                        let shifted = RowFilter::from_indices(
                            f.allowed().iter().map(|&i| i as i64 + 7),
                            n as u64 + 7,
                        )
                        .unwrap();
                        let ids: Vec<u64> = (7..n as u64 + 7).collect();
                        let (mut a, mut step) = (0, 1);
                        while a < n {
                            let b = (a + step).min(n);
                            s.push_filtered(cm.slice(a, b), RowIds::Offset(a as u64), &f)
                                .unwrap();
                            l.push_filtered(cm.slice(a, b), RowIds::List(&ids[a..b]), &shifted)
                                .unwrap();
                            if qi == 0 {
                                ms.push_filtered(cm.slice(a, b), RowIds::Offset(a as u64), &f)
                                    .unwrap();
                            }
                            a = b;
                            step = step * 5 + 3;
                        }
                        assert_same_results(
                            tier,
                            &format!("{what} batches q{qi}"),
                            &s.finish().unwrap(),
                            &want,
                        );
                        let mut lr = l.finish().unwrap();
                        lr.indices.iter_mut().for_each(|i| *i -= 7);
                        assert_same_results(tier, &format!("{what} id list q{qi}"), &lr, &want);
                    }
                    for (qi, r) in ms.finish().unwrap().iter().enumerate() {
                        let want = filtered_oracle(metric, &scores[qi], &f, kk);
                        assert_same_results(tier, &format!("{what} multi batches q{qi}"), r, &want);
                    }
                }
            }
        }
    }
}
