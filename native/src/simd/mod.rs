//! Runtime-dispatched SIMD kernels (owned by the vector-engine work).
