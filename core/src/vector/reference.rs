//! An independent f64 reference for tests: every element widened exactly to f64, sums with
//! Neumaier compensation, bit metrics bit by bit. Slow on purpose; not used by the engine.

use super::{Element, Metric};

/// Neumaier-compensated sum of an iterator of f64.
pub fn sum_f64(it: impl IntoIterator<Item = f64>) -> f64 {
    let (mut s, mut c, mut plain) = (0.0f64, 0.0f64, 0.0f64);
    for x in it {
        plain += x;
        let t = s + x;
        if s.abs() >= x.abs() {
            c += (s - t) + x;
        } else {
            c += (x - t) + s;
        }
        s = t;
    }
    // Infinities and NaN make the compensation NaN; the plain sum is then the right answer.
    if plain.is_finite() { s + c } else { plain }
}

fn rel_entr(x: f64, y: f64) -> f64 {
    if x.is_nan() || y.is_nan() {
        return f64::NAN;
    }
    match (x > 0.0, y > 0.0) {
        (true, true) => x * (x / y).ln(),
        _ if x == 0.0 && y >= 0.0 => 0.0,
        _ => f64::INFINITY,
    }
}

fn bits(a: &[u8]) -> impl Iterator<Item = bool> + '_ {
    a.iter().flat_map(|&b| (0..8).map(move |i| b >> i & 1 == 1))
}

/// The reference value of `metric(a, b)`, per `docs/METRICS.md`. Panics on unequal lengths.
/// For uint8, only hamming and jaccard are meaningful; numeric metrics treat bytes as numbers.
pub fn score<T: Element>(metric: Metric, a: &[T], b: &[T]) -> f64 {
    assert_eq!(a.len(), b.len());
    let x: Vec<f64> = a.iter().map(|v| v.to_f64()).collect();
    let y: Vec<f64> = b.iter().map(|v| v.to_f64()).collect();
    let dot = |p: &[f64], q: &[f64]| sum_f64(p.iter().zip(q).map(|(u, v)| u * v));
    match metric {
        Metric::Dot => dot(&x, &y),
        Metric::Cosine => {
            let (ab, aa, bb) = (dot(&x, &y), dot(&x, &x), dot(&y, &y));
            if aa == 0.0 || bb == 0.0 {
                0.0
            } else {
                (ab / (aa.sqrt() * bb.sqrt())).clamp(-1.0, 1.0)
            }
        }
        Metric::L2sq => sum_f64(x.iter().zip(&y).map(|(u, v)| (u - v) * (u - v))),
        Metric::L2 => sum_f64(x.iter().zip(&y).map(|(u, v)| (u - v) * (u - v))).sqrt(),
        Metric::Hamming => {
            let ab: Vec<u8> = a.iter().map(|v| v.to_f64() as u8).collect();
            let bb: Vec<u8> = b.iter().map(|v| v.to_f64() as u8).collect();
            bits(&ab).zip(bits(&bb)).filter(|(p, q)| p != q).count() as f64
        }
        Metric::Jaccard => {
            let ab: Vec<u8> = a.iter().map(|v| v.to_f64() as u8).collect();
            let bb: Vec<u8> = b.iter().map(|v| v.to_f64() as u8).collect();
            let both = bits(&ab).zip(bits(&bb)).filter(|(p, q)| *p && *q).count();
            let any = bits(&ab).zip(bits(&bb)).filter(|(p, q)| *p || *q).count();
            if any == 0 {
                0.0
            } else {
                (any - both) as f64 / any as f64
            }
        }
        Metric::Kl => sum_f64(x.iter().zip(&y).map(|(&p, &q)| rel_entr(p, q))),
        Metric::Js => {
            let (sx, sy) = (sum_f64(x.iter().copied()), sum_f64(y.iter().copied()));
            let p: Vec<f64> = x.iter().map(|v| v / sx).collect();
            let q: Vec<f64> = y.iter().map(|v| v / sy).collect();
            let m: Vec<f64> = p.iter().zip(&q).map(|(u, v)| 0.5 * (u + v)).collect();
            let left = sum_f64(p.iter().zip(&m).map(|(&u, &w)| rel_entr(u, w)));
            let right = sum_f64(q.iter().zip(&m).map(|(&u, &w)| rel_entr(u, w)));
            let d = (left + right) / 2.0;
            if d < 0.0 { 0.0 } else { d.sqrt() }
        }
    }
}

/// Reference top-k by a full stable sort of all scores (ties by index, NaN last).
pub fn top_k_by_sort(metric: Metric, scores: &[f64], k: usize) -> Vec<(u64, f64)> {
    let mut idx: Vec<(f64, u64)> = scores
        .iter()
        .enumerate()
        .map(|(i, &s)| (s, i as u64))
        .collect();
    idx.sort_by(|a, b| super::topk::rank_cmp(metric.is_similarity(), *a, *b));
    idx.into_iter().take(k).map(|(s, i)| (i, s)).collect()
}
