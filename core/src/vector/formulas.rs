//! How each metric's value is assembled from sums, and the f64 kernels for kl, js and bits.
//! Shared by every tier so all tiers agree on edge cases (zero vectors, NaN, empty input).

use super::Element;

/// Cosine similarity from a·b, a·a, b·b: 0.0 if either norm is zero, else clamped to [-1, 1].
/// NaN inputs give NaN.
#[inline]
pub fn cosine(ab: f64, aa: f64, bb: f64) -> f64 {
    if aa == 0.0 || bb == 0.0 {
        return 0.0;
    }
    (ab / (aa.sqrt() * bb.sqrt())).clamp(-1.0, 1.0)
}

/// SciPy's `rel_entr(x, y)`: x·ln(x/y) for x, y > 0; 0 for x = 0, y ≥ 0; +inf otherwise; NaN in, NaN out.
#[inline]
pub fn rel_entr(x: f64, y: f64) -> f64 {
    if x.is_nan() || y.is_nan() {
        f64::NAN
    } else if x > 0.0 && y > 0.0 {
        x * (x / y).ln()
    } else if x == 0.0 && y >= 0.0 {
        0.0
    } else {
        f64::INFINITY
    }
}

/// Kullback–Leibler divergence Σ rel_entr(aᵢ, bᵢ), in f64, inputs not normalised.
pub fn kl<T: Element>(a: &[T], b: &[T]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    let mut s = 0.0;
    for (x, y) in a.iter().zip(b) {
        s += rel_entr(x.to_f64(), y.to_f64());
    }
    s
}

/// Jensen–Shannon distance as `scipy.spatial.distance.jensenshannon` (natural log): both
/// inputs divided by their sums, m = (p+q)/2, √(½ Σ rel_entr(p,m) + rel_entr(q,m)).
/// An all-zero input gives NaN (0/0, as SciPy); a rounding-negative divergence gives 0.
pub fn js<T: Element>(a: &[T], b: &[T]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    let sa: f64 = a.iter().map(|x| x.to_f64()).sum();
    let sb: f64 = b.iter().map(|x| x.to_f64()).sum();
    let mut s = 0.0;
    for (x, y) in a.iter().zip(b) {
        let p = x.to_f64() / sa;
        let q = y.to_f64() / sb;
        let m = (p + q) / 2.0;
        s += rel_entr(p, m) + rel_entr(q, m);
    }
    let d = s / 2.0;
    if d < 0.0 { 0.0 } else { d.sqrt() }
}

/// Jaccard distance from popcounts: 1 − and/or, 0.0 when both vectors are all-zero (`or == 0`).
#[inline]
pub fn jaccard(and: u64, or: u64) -> f64 {
    if or == 0 {
        0.0
    } else {
        1.0 - and as f64 / or as f64
    }
}

/// Bit-level Hamming distance over bytes: popcount(a XOR b), 8 bytes at a time.
pub fn hamming_bits(a: &[u8], b: &[u8]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    let mut n = 0u64;
    let (ca, ra) = (a.chunks_exact(8), a.chunks_exact(8).remainder());
    let rb = b.chunks_exact(8).remainder();
    for (x, y) in ca.zip(b.chunks_exact(8)) {
        let x = u64::from_le_bytes(x.try_into().unwrap());
        let y = u64::from_le_bytes(y.try_into().unwrap());
        n += (x ^ y).count_ones() as u64;
    }
    for (x, y) in ra.iter().zip(rb) {
        n += (x ^ y).count_ones() as u64;
    }
    n as f64
}

/// Bit-level Jaccard distance over bytes (see `jaccard`), 8 bytes at a time.
pub fn jaccard_bits(a: &[u8], b: &[u8]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    let (mut and, mut or) = (0u64, 0u64);
    let (ca, ra) = (a.chunks_exact(8), a.chunks_exact(8).remainder());
    let rb = b.chunks_exact(8).remainder();
    for (x, y) in ca.zip(b.chunks_exact(8)) {
        let x = u64::from_le_bytes(x.try_into().unwrap());
        let y = u64::from_le_bytes(y.try_into().unwrap());
        and += (x & y).count_ones() as u64;
        or += (x | y).count_ones() as u64;
    }
    for (x, y) in ra.iter().zip(rb) {
        and += (x & y).count_ones() as u64;
        or += (x | y).count_ones() as u64;
    }
    jaccard(and, or)
}
