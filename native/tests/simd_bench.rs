//! A quick in-process benchmark of the hot paths (ignored by default; run with
//! `cargo test --release -p numpack-native --no-default-features --test simd_bench -- --ignored --nocapture`).
//! The real comparison against NumPy and faiss lives in `benches/`.

use std::time::Instant;

use half::f16;
use numpack_core::vector::{Element, Matrix, Metric, conformance};
use numpack_native::simd;

fn best_of<R>(n: usize, mut f: impl FnMut() -> R) -> f64 {
    (0..n)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn single<T: Element>(label: &str, data: &[T], rows: usize, dim: usize) {
    let k = simd::kernels();
    let m = Matrix::new(data, rows, dim).unwrap();
    let q = &data[..dim];
    let bytes = (rows * dim * std::mem::size_of::<T>()) as f64;
    for metric in [Metric::Dot, Metric::L2sq, Metric::Cosine] {
        for threads in [1, 2] {
            let t = best_of(5, || simd::top_k(k, metric, q, m, 10, threads).unwrap());
            println!("{label} {metric:7} 1 query  threads={threads}: {:7.2} ms  {:6.1} GB/s", t * 1e3, bytes / t / 1e9);
        }
    }
}

#[test]
#[ignore]
fn bench_top_k() {
    println!("{}", simd::capabilities());
    let (rows, dim) = (1_000_000, 128);
    let mut rng = conformance::Rng(1);
    let data: Vec<f32> = (0..rows * dim).map(|_| rng.unit() as f32 * 2.0 - 1.0).collect();
    let t = best_of(5, || data.iter().copied().fold([0f32; 16], |mut a, x| { a[0] += x; a }));
    let _ = t;
    let t = best_of(5, || data.chunks_exact(16).fold([0f32; 16], |mut a, c| { for i in 0..16 { a[i] += c[i]; } a }));
    println!("plain f32 sum over the matrix: {:.2} ms, {:.1} GB/s", t * 1e3, (rows * dim * 4) as f64 / t / 1e9);
    single("f32", &data, rows, dim);
    let h: Vec<f16> = data.iter().map(|&x| f16::from_f32(x)).collect();
    single("f16", &h, rows, dim);
    let i: Vec<i8> = data.iter().map(|&x| (x * 127.0) as i8).collect();
    single("i8 ", &i, rows, dim);
    let k = simd::kernels();
    for (n, label) in [(1_000_000, "1M"), (100_000, "100K")] {
        let m = Matrix::new(&data[..n * dim], n, dim).unwrap();
        let qs = Matrix::new(&data[7 * dim..107 * dim], 100, dim).unwrap();
        for metric in [Metric::Dot, Metric::L2sq, Metric::Cosine] {
            for threads in [1, 2] {
                let t = best_of(2, || simd::multi_query_top_k(k, metric, qs, m, 10, threads).unwrap());
                println!("f32 {metric:7} 100 queries {label} threads={threads}: {:8.1} ms", t * 1e3);
            }
        }
    }
}
