//! The machine's fp32 FMA peak, measured by an in-register kernel (no memory traffic): the
//! yardstick the benchmark puts the multi-query search against. Uses the widest FMA this CPU
//! has (AVX-512, AVX2 + FMA, NEON; a scalar loop elsewhere).

use std::time::Instant;

use super::pool;

/// Independent accumulators: enough to cover the FMA latency × ports of current cores.
const ACC: usize = 16;

/// One thread's FMA loop for about `iters` rounds; returns the fp32 flops done.
fn burn(iters: u64) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: AVX-512F was just detected.
            return unsafe { burn_avx512(iters) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: AVX2 and FMA were just detected.
            return unsafe { burn_fma(iters) };
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        // SAFETY: NEON is part of the aarch64 baseline.
        return unsafe { burn_neon(iters) };
    }
    #[allow(unreachable_code)]
    burn_scalar(iters)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn burn_avx512(iters: u64) -> u64 {
    use std::arch::x86_64::*;
    let a = _mm512_set1_ps(0.999_999);
    let b = _mm512_set1_ps(1e-7);
    let mut acc = [_mm512_set1_ps(1.0); ACC];
    for _ in 0..iters {
        for x in acc.iter_mut() {
            *x = _mm512_fmadd_ps(*x, a, b);
        }
    }
    let mut s = _mm512_setzero_ps();
    for x in acc {
        s = _mm512_add_ps(s, x);
    }
    std::hint::black_box(_mm512_reduce_add_ps(s));
    iters * (ACC * 16 * 2) as u64
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn burn_fma(iters: u64) -> u64 {
    use std::arch::x86_64::*;
    let a = _mm256_set1_ps(0.999_999);
    let b = _mm256_set1_ps(1e-7);
    let mut acc = [_mm256_set1_ps(1.0); ACC];
    for _ in 0..iters {
        for x in acc.iter_mut() {
            *x = _mm256_fmadd_ps(*x, a, b);
        }
    }
    let mut s = _mm256_setzero_ps();
    for x in acc {
        s = _mm256_add_ps(s, x);
    }
    let mut out = [0f32; 8];
    // SAFETY: `out` holds 8 floats.
    unsafe { _mm256_storeu_ps(out.as_mut_ptr(), s) };
    std::hint::black_box(out);
    iters * (ACC * 8 * 2) as u64
}

#[cfg(target_arch = "aarch64")]
#[target_feature(enable = "neon")]
unsafe fn burn_neon(iters: u64) -> u64 {
    use std::arch::aarch64::*;
    let a = vdupq_n_f32(0.999_999);
    let b = vdupq_n_f32(1e-7);
    let mut acc = [vdupq_n_f32(1.0); ACC];
    for _ in 0..iters {
        for x in acc.iter_mut() {
            *x = vfmaq_f32(b, *x, a);
        }
    }
    let mut s = vdupq_n_f32(0.0);
    for x in acc {
        s = vaddq_f32(s, x);
    }
    std::hint::black_box(vaddvq_f32(s));
    iters * (ACC * 4 * 2) as u64
}

fn burn_scalar(iters: u64) -> u64 {
    let mut acc = [1f32; ACC];
    for _ in 0..iters {
        for x in acc.iter_mut() {
            *x = x.mul_add(0.999_999, 1e-7);
        }
    }
    std::hint::black_box(acc);
    iters * (ACC * 2) as u64
}

/// fp32 FMA peak in GFLOP/s on `threads` workers of the pool (each runs the kernel for about
/// `seconds`); the best of three runs.
pub fn fma_peak_gflops(threads: usize, seconds: f64) -> f64 {
    let threads = threads.max(1);
    // Calibrate the rounds for about `seconds` on one thread.
    let mut iters = 1u64 << 16;
    loop {
        let t = Instant::now();
        burn(iters);
        let dt = t.elapsed().as_secs_f64();
        if dt > 0.02 || iters > 1 << 40 {
            iters = ((iters as f64) * seconds / dt.max(1e-9)).max(1.0) as u64;
            break;
        }
        iters *= 4;
    }
    let mut best = 0f64;
    for _ in 0..3 {
        let t = Instant::now();
        let flops = std::sync::atomic::AtomicU64::new(0);
        pool::run(threads, threads, &|_| {
            flops.fetch_add(burn(iters), std::sync::atomic::Ordering::Relaxed);
        });
        let dt = t.elapsed().as_secs_f64();
        best = best.max(flops.into_inner() as f64 / dt / 1e9);
    }
    best
}
