//! The multi-query kernel over a bfloat16 copy of the candidates (`CopyScan`) and its portable
//! reference implementation. The keys' coefficients come from the search layer
//! (`MultiTopKSearch::push_with_norms`), which proves from them that a row left unreported
//! cannot enter the query's result; the kernel only evaluates them.

use half::bf16;

/// The bfloat16-copy multi-query kernel: evaluates the key of every query × row pair (see
/// `CopyScan`) and calls `hit(query, row)` for each pair whose key is not below the query's
/// threshold; `hit` returns the query's new threshold.
pub type CopyScanFn = fn(scan: &mut CopyScan<'_>, hit: &mut dyn FnMut(usize, usize) -> f32);

/// A tier's bfloat16-copy multi-query kernel and the row lengths it takes.
#[derive(Clone, Copy, Debug)]
pub struct CopyKernel {
    /// The kernel.
    pub scan: CopyScanFn,
    /// It takes rows whose length is a multiple of this (other lengths search without the copy).
    pub dim_multiple: usize,
}

/// One call of the bfloat16-copy multi-query kernel (`Kernels::copy_scan`).
///
/// For query `i` and row `j` the kernel computes `d`, the dot product of the two bfloat16 rows
/// in f32 arithmetic: every product exact, each addition rounded to f32 (or held wider), any
/// order; subnormal inputs and results may be flushed to zero. Then, in f32 with one rounding
/// per fused multiply-add, `key = fma(alpha[j], d, fma(a[i], u[j], w[j]))`; pairs with
/// `!(key < thr[i])` (NaN keys included) are reported through `hit`, which returns the new
/// `thr[i]` (thresholds only rise, so a stale one is merely more permissive).
pub struct CopyScan<'a> {
    /// The queries rounded to bfloat16, `thr.len()` rows of `dim`.
    pub queries: &'a [bf16],
    /// The candidate rows' bfloat16 copy, `alpha.len()` rows of `dim`.
    pub rows: &'a [bf16],
    /// Row length (> 0, a multiple of the kernel's `dim_multiple`).
    pub dim: usize,
    /// Per-row factor of `d`.
    pub alpha: &'a [f32],
    /// Per-row factor of the query term `a[i]`.
    pub u: &'a [f32],
    /// Per-row constant term.
    pub w: &'a [f32],
    /// Per-query factor of `u[j]`.
    pub a: &'a [f32],
    /// Per-query thresholds, updated in place.
    pub thr: &'a mut [f32],
    /// Reusable scratch memory of the kernel (packed queries, padded rows).
    pub scratch: &'a mut Vec<u32>,
}

/// The portable reference kernel: one pair at a time, sequential f32 fused multiply-adds.
pub fn copy_scan_portable(s: &mut CopyScan<'_>, hit: &mut dyn FnMut(usize, usize) -> f32) {
    let dim = s.dim;
    let nc = s.alpha.len();
    debug_assert!(s.rows.len() == nc * dim && s.queries.len() == s.thr.len() * dim);
    for j in 0..nc {
        let x = &s.rows[j * dim..(j + 1) * dim];
        for i in 0..s.thr.len() {
            let q = &s.queries[i * dim..(i + 1) * dim];
            let d = q
                .iter()
                .zip(x)
                .fold(0f32, |d, (a, b)| a.to_f32().mul_add(b.to_f32(), d));
            let key = s.alpha[j].mul_add(d, s.a[i].mul_add(s.u[j], s.w[j]));
            #[allow(clippy::neg_cmp_op_on_partial_ord)] // `!(a < b)` is deliberately true for NaN
            if !(key < s.thr[i]) {
                s.thr[i] = hit(i, j);
            }
        }
    }
}
