//! aarch64 SVE tier, vector-length agnostic, through inline assembly (SVE intrinsics are not
//! stable): predicated loops (`whilelo` / `ld1*` / `fmla` / `b.first`) with no scalar tail for
//! dot, cosine, l2 and l2sq over f32, f64, f16 (`fcvt`) and bf16 (`lsl #16`). Everything
//! else (int8, bits, the multi-query tile) comes from the NEON table.

use core::arch::asm;

use half::{bf16, f16};
use numpack_core::vector::{Kernels, Metric, PairFn, formulas};

/// True if the CPU (and OS) support SVE.
pub fn is_available() -> bool {
    std::arch::is_aarch64_feature_detected!("sve")
}

/// The SVE vector length in bytes, or 0 without SVE.
pub fn vector_bytes() -> usize {
    if !is_available() {
        return 0;
    }
    // SAFETY: SVE is present (checked above).
    unsafe { rdvl() }
}

/// # Safety
/// SVE must be available.
#[target_feature(enable = "sve")]
unsafe fn rdvl() -> usize {
    let n: usize;
    // SAFETY: `rdvl` only writes a general register.
    unsafe {
        asm!(".arch_extension sve", "rdvl {n}, #1", n = out(reg) n, options(pure, nomem, nostack, preserves_flags))
    };
    n
}

/// The SVE kernel table (NEON table with SVE float pair kernels), or `None` without SVE.
pub fn new() -> Option<Kernels> {
    if !is_available() {
        return None;
    }
    let mut k = super::aarch64_neon::new()?;
    k.name = "sve";
    install(
        &mut k.f32.pair,
        &mut k.f32.rows,
        [dot_f32_sve, cos_f32_sve, l2_f32_sve, l2sq_f32_sve],
    );
    install(
        &mut k.f64.pair,
        &mut k.f64.rows,
        [dot_f64_sve, cos_f64_sve, l2_f64_sve, l2sq_f64_sve],
    );
    install(
        &mut k.f16.pair,
        &mut k.f16.rows,
        [dot_f16_sve, cos_f16_sve, l2_f16_sve, l2sq_f16_sve],
    );
    install(
        &mut k.bf16.pair,
        &mut k.bf16.rows,
        [dot_bf16_sve, cos_bf16_sve, l2_bf16_sve, l2sq_bf16_sve],
    );
    Some(k)
}

/// Puts the four SVE pair kernels in place; the row kernels become "loop over pair" so that
/// batch scores stay bit-identical to pair scores.
fn install<T>(
    pair: &mut [Option<PairFn<T>>; Metric::COUNT],
    rows: &mut [Option<numpack_core::vector::RowsFn<T>>; Metric::COUNT],
    f: [PairFn<T>; 4],
) {
    for (m, f) in [Metric::Dot, Metric::Cosine, Metric::L2, Metric::L2sq]
        .into_iter()
        .zip(f)
    {
        pair[m.index()] = Some(f);
        rows[m.index()] = None;
    }
}

/// Defines `unsafe fn $name(a, b) -> [f64; 3]` = (Σab, Σaa, Σbb) for one element type, and
/// the safe dot / cosine / l2 / l2sq wrappers over it.
///
/// `$sz` is the container suffix (`s` or `d`), `$inc` the matching `incw`/`incd`, `$ld` the
/// load (+ widening) of z1 from {a} and z2 from {b} at element index {i}, `$acc` the scalar
/// type of the accumulators.
macro_rules! sve_kernels {
    ($t:ty, $acc:ty, $r:literal, $sz:literal, $inc:literal, $ld:literal, $sums:ident, $sqd:ident, $dot:ident, $cos:ident, $l2:ident, $l2sq:ident) => {
        /// (Σab, Σaa, Σbb) in one predicated pass.
        ///
        /// # Safety
        /// SVE must be available and `a.len() == b.len()`.
        #[target_feature(enable = "sve")]
        unsafe fn $sums(a: &[$t], b: &[$t]) -> [f64; 3] {
            debug_assert_eq!(a.len(), b.len());
            let (ab, aa, bb): ($acc, $acc, $acc);
            // SAFETY: the loop reads elements `i < n = a.len()` only (the predicate from
            // `whilelo` masks the rest), of both slices; it writes only the declared registers.
            unsafe {
                asm!(
                    ".arch_extension sve",
                    "mov {i}, #0",
                    concat!("dup z0.", $sz, ", #0"),
                    concat!("dup z3.", $sz, ", #0"),
                    concat!("dup z4.", $sz, ", #0"),
                    concat!("whilelo p0.", $sz, ", {i}, {n}"),
                    "b.none 2f",
                    "1:",
                    $ld,
                    concat!("fmla z0.", $sz, ", p0/m, z1.", $sz, ", z2.", $sz),
                    concat!("fmla z3.", $sz, ", p0/m, z1.", $sz, ", z1.", $sz),
                    concat!("fmla z4.", $sz, ", p0/m, z2.", $sz, ", z2.", $sz),
                    concat!($inc, " {i}"),
                    concat!("whilelo p0.", $sz, ", {i}, {n}"),
                    "b.first 1b",
                    "2:",
                    concat!("ptrue p0.", $sz),
                    concat!("faddv {ab:", $r, "}, p0, z0.", $sz),
                    concat!("faddv {aa:", $r, "}, p0, z3.", $sz),
                    concat!("faddv {bb:", $r, "}, p0, z4.", $sz),
                    a = in(reg) a.as_ptr(),
                    b = in(reg) b.as_ptr(),
                    n = in(reg) a.len(),
                    i = out(reg) _,
                    ab = lateout(vreg) ab,
                    aa = lateout(vreg) aa,
                    bb = lateout(vreg) bb,
                    out("v0") _, out("v1") _, out("v2") _, out("v3") _, out("v4") _, out("p0") _,
                    options(readonly, nostack),
                );
            }
            [ab as f64, aa as f64, bb as f64]
        }

        /// Σ(a−b)² in one predicated pass.
        ///
        /// # Safety
        /// SVE must be available and `a.len() == b.len()`.
        #[target_feature(enable = "sve")]
        unsafe fn $sqd(a: &[$t], b: &[$t]) -> f64 {
            debug_assert_eq!(a.len(), b.len());
            let s: $acc;
            // SAFETY: as in the sums kernel: predicated reads below `n` only.
            unsafe {
                asm!(
                    ".arch_extension sve",
                    "mov {i}, #0",
                    concat!("dup z0.", $sz, ", #0"),
                    concat!("whilelo p0.", $sz, ", {i}, {n}"),
                    "b.none 2f",
                    "1:",
                    $ld,
                    concat!("fsub z1.", $sz, ", z1.", $sz, ", z2.", $sz),
                    concat!("fmla z0.", $sz, ", p0/m, z1.", $sz, ", z1.", $sz),
                    concat!($inc, " {i}"),
                    concat!("whilelo p0.", $sz, ", {i}, {n}"),
                    "b.first 1b",
                    "2:",
                    concat!("ptrue p0.", $sz),
                    concat!("faddv {s:", $r, "}, p0, z0.", $sz),
                    a = in(reg) a.as_ptr(),
                    b = in(reg) b.as_ptr(),
                    n = in(reg) a.len(),
                    i = out(reg) _,
                    s = lateout(vreg) s,
                    out("v0") _, out("v1") _, out("v2") _, out("p0") _,
                    options(readonly, nostack),
                );
            }
            s as f64
        }

        fn $dot(a: &[$t], b: &[$t]) -> f64 {
            // SAFETY: only reachable through `new()`, which checked SVE; lengths checked by the caller.
            // The dot product is the first of the three sums (the other two are free here).
            unsafe { $sums(a, b)[0] }
        }
        fn $cos(a: &[$t], b: &[$t]) -> f64 {
            // SAFETY: as above.
            let [ab, aa, bb] = unsafe { $sums(a, b) };
            formulas::cosine(ab, aa, bb)
        }
        fn $l2sq(a: &[$t], b: &[$t]) -> f64 {
            // SAFETY: as above.
            unsafe { $sqd(a, b) }
        }
        fn $l2(a: &[$t], b: &[$t]) -> f64 {
            // SAFETY: as above.
            unsafe { $sqd(a, b) }.sqrt()
        }
    };
}

sve_kernels!(
    f32,
    f32,
    "s",
    "s",
    "incw",
    "ld1w {{z1.s}}, p0/z, [{a}, {i}, lsl #2]\nld1w {{z2.s}}, p0/z, [{b}, {i}, lsl #2]",
    sums_f32_sve,
    l2sq_sums_f32_sve,
    dot_f32_sve,
    cos_f32_sve,
    l2_f32_sve,
    l2sq_f32_sve
);
sve_kernels!(
    f64,
    f64,
    "d",
    "d",
    "incd",
    "ld1d {{z1.d}}, p0/z, [{a}, {i}, lsl #3]\nld1d {{z2.d}}, p0/z, [{b}, {i}, lsl #3]",
    sums_f64_sve,
    l2sq_sums_f64_sve,
    dot_f64_sve,
    cos_f64_sve,
    l2_f64_sve,
    l2sq_f64_sve
);
sve_kernels!(
    f16,
    f32,
    "s",
    "s",
    "incw",
    "ld1h {{z1.s}}, p0/z, [{a}, {i}, lsl #1]\nld1h {{z2.s}}, p0/z, [{b}, {i}, lsl #1]\nfcvt z1.s, p0/m, z1.h\nfcvt z2.s, p0/m, z2.h",
    sums_f16_sve,
    l2sq_sums_f16_sve,
    dot_f16_sve,
    cos_f16_sve,
    l2_f16_sve,
    l2sq_f16_sve
);
sve_kernels!(
    bf16,
    f32,
    "s",
    "s",
    "incw",
    "ld1h {{z1.s}}, p0/z, [{a}, {i}, lsl #1]\nld1h {{z2.s}}, p0/z, [{b}, {i}, lsl #1]\nlsl z1.s, z1.s, #16\nlsl z2.s, z2.s, #16",
    sums_bf16_sve,
    l2sq_sums_bf16_sve,
    dot_bf16_sve,
    cos_bf16_sve,
    l2_bf16_sve,
    l2sq_bf16_sve
);
