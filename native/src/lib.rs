//! NumPack on the file system: memmap2 Io, locking, runtime SIMD dispatch, Python bindings.

pub mod simd;
