//! Vector engine: metrics, scalar reference kernels and top-k (owned by the vector-engine work).
