//! Runtime-dispatched SIMD kernel tables and multi-threaded search.
//!
//! The best tier this CPU supports is chosen on first use and cached as a `&'static Kernels`
//! (a table of function pointers). `NUMPACK_SIMD=scalar|avx2|avx512|amx|neon|sve` (or `auto`)
//! overrides the choice; a tier the CPU lacks falls back to the best available tier below it
//! and `capabilities().note` says so. `set_tier` forces a tier from code (tests, benchmarks).
//! Nothing here depends on pyo3.

mod bits;
mod dispatch;
mod peak;
mod pool;
mod threads;

#[cfg(target_arch = "aarch64")]
pub mod aarch64_neon;
#[cfg(target_arch = "aarch64")]
pub mod aarch64_sve;
#[cfg(target_arch = "x86_64")]
pub mod x86_amx;
#[cfg(target_arch = "x86_64")]
pub mod x86_avx2;
#[cfg(target_arch = "x86_64")]
pub mod x86_avx512;

pub use dispatch::{Capabilities, SimdError, Tier, capabilities, kernels, set_tier, tier_kernels};
pub use peak::fma_peak_gflops;
#[cfg(feature = "python")]
pub(crate) use threads::{MIN_ROWS_PER_THREAD, ranges, run_parallel, workers};
pub use threads::{Parallel, batch_compute, cdist, default_threads, norm_cache};
