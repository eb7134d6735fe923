//! Vector engine: metrics, element types, the kernel table with its portable scalar tier,
//! the generic SIMD algorithm bodies, deterministic top-k, and the search algorithms
//! (single-query, fused cache-blocked multi-query, cdist, streaming batch by batch), and the
//! dtype rules every runtime follows (`meet`).
//!
//! No OS calls and no threads: `numpack-native` adds runtime-dispatched SIMD tables and
//! threading, `numpack-wasm` adds simd128. Exact definitions: `docs/METRICS.md`.

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
mod element;
mod error;
mod filter;
pub mod formulas;
pub mod generic;
mod kernels;
pub mod lanes;
mod matrix;
pub mod meet;
mod metric;
#[cfg(any(test, feature = "conformance"))]
pub mod reference;
mod search;
mod topk;

pub use element::{Element, ElementType};
pub use error::VectorError;
pub use filter::{Bitmap, RowFilter, RowSet, Within};
pub use kernels::{
    DTypeKernels, Kernels, NormFn, PairFn, RowsFn, TileFn, portable_u8, scalar, scalar_static,
    with_divergences,
};
pub use matrix::{Matrix, RowBatch, RowIds, RowSource};
pub use metric::Metric;
pub use search::{
    Driver, Load, MultiTopKSearch, NormCache, Norms, RowRange, Search, Sequential, TopKSearch,
    batch_compute, cdist, compute, drive_search, multi_query_top_k, multi_query_top_k_cached_with,
    multi_query_top_k_filtered, multi_query_top_k_stream, multi_query_top_k_stream_filtered,
    multi_query_top_k_with, top_k, top_k_cached, top_k_cached_with, top_k_filtered,
    top_k_rows_with, top_k_stream, top_k_stream_filtered, top_k_with,
};
pub use topk::{TopK, TopKResult, rank_cmp};
