//! A quick in-process benchmark of the hot paths, not part of the tests; run with
//! `cargo bench -p numpack-native --no-default-features --bench simd_kernels`.
//! The real comparison against NumPy and faiss lives in `benches/`.
//!
//! Everything is measured in one run next to this machine's read bandwidth (a plain summing
//! stream over the same matrix, 1 and 2 threads), so the ratios are comparable even on a
//! noisy, shared machine. Each figure is the best of several runs. `BENCH_ONLY=single|multi|cache|one`
//! restricts the run (`one`: float32 one-query top-k only, plain and with kept norms, the streams
//! measured alternately with the search); `BENCH_ROUNDS=n` repeats the whole table n times (default 1).

use std::time::Instant;

use half::f16;
use numpack_core::vector::{
    Element, Matrix, Metric, NormCache, conformance, multi_query_top_k_cached_with,
    multi_query_top_k_with, top_k_cached_with, top_k_with,
};
use numpack_native::simd::{self, Parallel};

fn best_of<R>(n: usize, mut f: impl FnMut() -> R) -> f64 {
    (0..n)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

/// A pure read stream over `data` (16 independent f32 sums, auto-vectorised), split over
/// `threads` workers: the read-bandwidth baseline (the role of BLAS `sdot` in `benches/`).
fn stream_sum(data: &[f32], threads: usize) -> f32 {
    fn part(d: &[f32]) -> f32 {
        d.chunks_exact(64)
            .fold([0f32; 64], |mut a, c| {
                for i in 0..64 {
                    a[i] += c[i];
                }
                a
            })
            .iter()
            .sum()
    }
    if threads <= 1 {
        return part(data);
    }
    let chunk = data.len().div_ceil(threads);
    std::thread::scope(|s| {
        let h: Vec<_> = data
            .chunks(chunk)
            .map(|c| s.spawn(move || part(c)))
            .collect();
        h.into_iter().map(|h| h.join().unwrap()).sum()
    })
}

/// Single-query top-k (k = 10) for dot / l2sq / cosine at 1 and 2 threads; returns the f32-relative
/// times of dot at (1, 2) threads for the dtype-ratio summary.
fn single<T: Element>(label: &str, data: &[T], rows: usize, dim: usize, bw: [f64; 2]) -> [f64; 2] {
    let k = simd::kernels();
    let m = Matrix::new(data, rows, dim).unwrap();
    let q = &data[..dim];
    let bytes = (rows * dim * std::mem::size_of::<T>()) as f64;
    let mut dot = [0.0; 2];
    for metric in [Metric::Dot, Metric::L2sq, Metric::Cosine] {
        for (ti, threads) in [1, 2].into_iter().enumerate() {
            let t = best_of(7, || {
                top_k_with(k, metric, q, m, 10, None, &Parallel(threads)).unwrap()
            });
            let gbs = bytes / t / 1e9;
            println!(
                "{label} {:>6} {metric:7} 1 query   threads={threads}: {:7.2} ms  {:5.1} GB/s  {:4.0} % of read bw",
                rows_label(rows),
                t * 1e3,
                gbs,
                100.0 * gbs / bw[ti]
            );
            if metric == Metric::Dot {
                dot[ti] = t;
            }
        }
    }
    dot
}

fn rows_label(rows: usize) -> String {
    if rows >= 1_000_000 {
        format!("{}M", rows / 1_000_000)
    } else {
        format!("{}K", rows / 1000)
    }
}

/// Compute cost with the data in cache (2K × 128 rows, in L2, scored 50 times): ns per row, which
/// shows whether a kernel can keep up with memory once the rows stream from RAM.
fn in_cache<T: Element>(label: &str, data: &[T], dim: usize) {
    let k = simd::kernels();
    let rows = 2_048;
    let m = Matrix::new(&data[..rows * dim], rows, dim).unwrap();
    let q = &data[..dim];
    for metric in [Metric::Dot, Metric::L2sq, Metric::Cosine] {
        let t = best_of(5, || {
            for _ in 0..50 {
                std::hint::black_box(top_k_with(k, metric, q, m, 10, None, &Parallel(1)).unwrap());
            }
        });
        println!(
            "{label} in cache {metric:7} 1 thread: {:6.2} ns/row",
            t / 50.0 / rows as f64 * 1e9
        );
    }
}

/// Register-tile shapes of the fused AVX-512 f32 kernel (`MR` candidates × `NV` query vectors),
/// instantiated here so one build compares them; data in L2 (4096 × 128 rows, 100 queries), so
/// this is the kernel's share of the FMA peak without memory traffic (best of many short runs,
/// the peak measured between them).
#[cfg(target_arch = "x86_64")]
mod shapes {
    macro_rules! shape {
        ($m:ident, $mr:literal, $nv:literal) => {
            pub mod $m {
                numpack_core::numeric_kernels!(fused_only f32, numpack_native::simd::x86_avx512::F32x16, panel = numpack_native::simd::x86_avx512::F32x16, $mr, $nv, #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]);
            }
        };
    }
    shape!(s6x4, 6, 4);
    shape!(s7x4, 7, 4);
    shape!(s8x3, 8, 3);
    shape!(s12x2, 12, 2);
    shape!(s4x4, 4, 4);
}

#[cfg(target_arch = "x86_64")]
fn kernel_shapes() {
    if !numpack_native::simd::x86_avx512::is_available() {
        return;
    }
    let n: usize = std::env::var("BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4096);
    let (dim, nq) = (128, 100);
    let mut rng = conformance::Rng(3);
    let data: Vec<f32> = (0..(n + nq) * dim)
        .map(|_| rng.unit() as f32 * 2.0 - 1.0)
        .collect();
    let m = Matrix::new(&data[..n * dim], n, dim).unwrap();
    let qs = Matrix::new(&data[n * dim..], nq, dim).unwrap();
    let base = simd::kernels().clone();
    let tables = [
        ("6x4", shapes::s6x4::fused_kernel()),
        ("7x4", shapes::s7x4::fused_kernel()),
        ("8x3", shapes::s8x3::fused_kernel()),
        ("12x2", shapes::s12x2::fused_kernel()),
        ("4x4", shapes::s4x4::fused_kernel()),
    ];
    for metric in [Metric::Dot, Metric::L2sq] {
        for (name, t) in &tables {
            // The shipped float32 table with only the fused kernel swapped, as the tier builds it.
            let mut k = base.clone();
            k.f32.fused = Some(*t);
            let peak = (0..5)
                .map(|_| simd::fma_peak_gflops(1, 0.01))
                .fold(0f64, f64::max);
            let t = best_of(60, || {
                multi_query_top_k_with(&k, metric, qs, m, 10, None, &Parallel(1)).unwrap()
            });
            let gf = 2.0 * (n * dim * nq) as f64 / t / 1e9;
            println!(
                "in-L2 {metric:5} tile {name:>4}: {:6.3} ms {gf:6.1} GFLOP/s = {:4.1} % of peak {peak:.0}",
                t * 1e3,
                100.0 * gf / peak
            );
        }
    }
}

/// The time of one run of `f`: on one thread the thread's CPU time (a memory-bound scan is
/// running while it waits for memory; time slices lost to other processes on a shared machine
/// are not counted), otherwise wall time.
fn clock(threads: usize, f: &mut dyn FnMut()) -> f64 {
    if threads == 1 {
        cpu_time(f)
    } else {
        best_of(1, f)
    }
}

/// Thread CPU time of `f` (excludes time descheduled by other processes).
fn cpu_time<R>(mut f: impl FnMut() -> R) -> f64 {
    let now = || {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: a valid out-pointer.
        unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
    };
    let t = now();
    std::hint::black_box(f());
    now() - t
}

/// Anonymous memory advised for transparent huge pages, the data starting 16 bytes into the
/// mapping: what NumPy gives a large array (it madvises huge pages, and its allocation header
/// puts the data at page offset 16, so every 64-byte row load straddles two cache lines).
struct HugeBuf(memmap2::MmapMut, usize);

impl HugeBuf {
    fn new(len: usize) -> Self {
        let off: usize = std::env::var("BENCH_OFFSET")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(16);
        let m = memmap2::MmapMut::map_anon(len * 4 + off).unwrap();
        #[cfg(target_os = "linux")]
        // SAFETY: advice on our own mapping; it changes no contents.
        unsafe {
            libc::madvise(m.as_ptr() as *mut _, m.len(), libc::MADV_HUGEPAGE);
        }
        HugeBuf(m, off)
    }
    fn as_mut_slice(&mut self) -> &mut [f32] {
        let len = (self.0.len() - self.1) / 4;
        // SAFETY: `len` f32 from byte `off` (a multiple of 4) are inside the mapping, and any
        // bits are an f32.
        unsafe { std::slice::from_raw_parts_mut(self.0.as_mut_ptr().add(self.1) as *mut f32, len) }
    }
}

/// One-query float32 top-k (k = 10) at 1M and 100K × 128, plain and with kept norms (the
/// `prepare`d path), each case next to the summing stream over the same rows timed in the
/// same loop (alternately, best of 9), so the share of the read bandwidth is like for like.
/// `BENCH_OFFSET=bytes` moves the data in its huge-page mapping (default 16, as NumPy's).
fn one_query(data: &[f32], dim: usize, pages: &str) {
    let k = simd::kernels();
    for rows in [1_000_000, 100_000] {
        let d = &data[..rows * dim];
        let m = Matrix::new(d, rows, dim).unwrap();
        let q = &data[3 * dim..4 * dim];
        let cache = simd::norm_cache(k, m, false, 2).unwrap();
        let bytes = (rows * dim * 4) as f64;
        for threads in [1, 2] {
            for metric in [Metric::Dot, Metric::L2, Metric::Cosine] {
                for cached in [false, true] {
                    if cached && metric == Metric::Dot {
                        continue;
                    }
                    let (mut ts, mut tb) = (f64::INFINITY, f64::INFINITY);
                    for _ in 0..9 {
                        tb = tb.min(clock(threads, &mut || {
                            std::hint::black_box(stream_sum(d, threads));
                        }));
                        ts = ts.min(clock(threads, &mut || {
                            std::hint::black_box(
                                if cached {
                                    top_k_cached_with(
                                        k,
                                        metric,
                                        q,
                                        m,
                                        10,
                                        &cache,
                                        &Parallel(threads),
                                    )
                                } else {
                                    top_k_with(k, metric, q, m, 10, None, &Parallel(threads))
                                }
                                .unwrap(),
                            );
                        }));
                    }
                    println!(
                        "f32 {pages} {:>5} {:7} {:6} threads={threads}: {:7.3} ms {:5.1} GB/s = {:4.0} % of the stream ({:5.1} GB/s)",
                        rows_label(rows),
                        format!("{metric}"),
                        if cached { "norms" } else { "plain" },
                        ts * 1e3,
                        bytes / ts / 1e9,
                        100.0 * tb / ts,
                        bytes / tb / 1e9
                    );
                }
            }
        }
    }
}

fn run(only: &str) {
    println!("{}", simd::capabilities());
    #[cfg(target_arch = "x86_64")]
    if only == "shapes" {
        kernel_shapes();
        return;
    }
    if only == "cache" {
        let mut rng = conformance::Rng(1);
        let data: Vec<f32> = (0..16_384 * 128)
            .map(|_| rng.unit() as f32 * 2.0 - 1.0)
            .collect();
        in_cache("f32", &data, 128);
        in_cache(
            "f16",
            &data.iter().map(|&x| f16::from_f32(x)).collect::<Vec<_>>(),
            128,
        );
        in_cache(
            "i8 ",
            &data.iter().map(|&x| (x * 127.0) as i8).collect::<Vec<_>>(),
            128,
        );
        return;
    }
    let (rows, dim) = (1_000_000, 128);
    let mut rng = conformance::Rng(1);
    let data: Vec<f32> = (0..rows * dim)
        .map(|_| rng.unit() as f32 * 2.0 - 1.0)
        .collect();
    if only == "one" {
        // NumPy arrays this large sit on transparent huge pages (NumPy madvises them); a Rust
        // `Vec` does not (THP is `madvise` here): measure both.
        let mut huge = HugeBuf::new(data.len());
        huge.as_mut_slice().copy_from_slice(&data);
        one_query(huge.as_mut_slice(), dim, "2M");
        one_query(&data, dim, "4K");
        return;
    }
    let bytes = (rows * dim * 4) as f64;
    let mut bw = [0.0; 2];
    for (ti, threads) in [1, 2].into_iter().enumerate() {
        let t = best_of(7, || stream_sum(&data, threads));
        bw[ti] = bytes / t / 1e9;
        println!(
            "read bandwidth (summing stream, 1M x 128 f32) threads={threads}: {:6.2} ms  {:5.1} GB/s",
            t * 1e3,
            bw[ti]
        );
    }
    if only != "multi" {
        let f = single("f32", &data, rows, dim, bw);
        single("f32", &data[..rows / 10 * dim], rows / 10, dim, bw);
        let h: Vec<f16> = data.iter().map(|&x| f16::from_f32(x)).collect();
        let fh = single("f16", &h, rows, dim, bw);
        drop(h);
        let i: Vec<i8> = data.iter().map(|&x| (x * 127.0) as i8).collect();
        let fi = single("i8 ", &i, rows, dim, bw);
        drop(i);
        for ti in 0..2 {
            println!(
                "dot 1M, threads={}: f16 {:.2}x faster than f32 (target 1.8x), int8 {:.2}x (target 3x)",
                ti + 1,
                f[ti] / fh[ti],
                f[ti] / fi[ti]
            );
        }
    }
    if only != "single" {
        let k = simd::kernels();
        let peak = [simd::fma_peak_gflops(1, 0.2), simd::fma_peak_gflops(2, 0.2)];
        println!(
            "fp32 FMA peak: {:.0} / {:.0} GFLOP/s (1 / 2 threads)",
            peak[0], peak[1]
        );
        for (n, label) in [(1_000_000, "1M"), (100_000, "100K")] {
            let m = Matrix::new(&data[..n * dim], n, dim).unwrap();
            let qs = Matrix::new(&data[7 * dim..107 * dim], 100, dim).unwrap();
            let cache = NormCache::new(k, m).unwrap();
            for metric in [Metric::Dot, Metric::L2sq, Metric::Cosine] {
                for threads in [1, 2] {
                    let d = &Parallel(threads);
                    let t = best_of(3, || {
                        multi_query_top_k_with(k, metric, qs, m, 10, None, d).unwrap()
                    });
                    let tc = best_of(3, || {
                        multi_query_top_k_cached_with(k, metric, qs, m, 10, &cache, d).unwrap()
                    });
                    let share = |t: f64| {
                        let flops = 2.0 * 100.0 * (n * dim) as f64;
                        100.0 * flops / t / 1e9 / peak[threads - 1]
                    };
                    println!(
                        "f32 {label:>4} {metric:7} 100 queries threads={threads}: {:8.1} ms  {:4.0} % of FMA peak; norms kept: {:8.1} ms  {:4.0} %",
                        t * 1e3,
                        share(t),
                        tc * 1e3,
                        share(tc)
                    );
                }
            }
        }
    }
}

fn main() {
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    for r in 0..rounds {
        if rounds > 1 {
            println!("--- round {} of {rounds}", r + 1);
        }
        run(&only);
    }
}
