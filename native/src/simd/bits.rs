//! Bit-metric helpers shared by the tiers: 64-bit-word popcount loops (compiled per tier with
//! its popcount instruction) and the uint8 table builder.

#[cfg(target_arch = "x86_64")]
use numpack_core::vector::formulas;
use numpack_core::vector::{DTypeKernels, Metric, PairFn};

/// popcount(a XOR b) over bytes, one u64 word at a time.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub fn hamming_u64(a: &[u8], b: &[u8]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    let mut n = 0u64;
    let (wa, wb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (wa.remainder(), wb.remainder());
    for (x, y) in wa.zip(wb) {
        let x = u64::from_le_bytes(x.try_into().unwrap());
        let y = u64::from_le_bytes(y.try_into().unwrap());
        n += (x ^ y).count_ones() as u64;
    }
    for (x, y) in ra.iter().zip(rb) {
        n += (x ^ y).count_ones() as u64;
    }
    n as f64
}

/// 1 − popcount(a AND b) / popcount(a OR b) over bytes (0.0 when both are zero).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub fn jaccard_u64(a: &[u8], b: &[u8]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    let (mut and, mut or) = (0u64, 0u64);
    let (wa, wb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (wa.remainder(), wb.remainder());
    for (x, y) in wa.zip(wb) {
        let x = u64::from_le_bytes(x.try_into().unwrap());
        let y = u64::from_le_bytes(y.try_into().unwrap());
        and += (x & y).count_ones() as u64;
        or += (x | y).count_ones() as u64;
    }
    for (x, y) in ra.iter().zip(rb) {
        and += (x & y).count_ones() as u64;
        or += (x | y).count_ones() as u64;
    }
    formulas::jaccard(and, or)
}

/// A uint8 table with the given hamming and jaccard pair kernels.
pub fn table(hamming: PairFn<u8>, jaccard: PairFn<u8>) -> DTypeKernels<u8> {
    let mut k = numpack_core::vector::portable_u8();
    k.pair[Metric::Hamming.index()] = Some(hamming);
    k.pair[Metric::Jaccard.index()] = Some(jaccard);
    k
}
