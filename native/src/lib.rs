//! NumPack on the file system: memmap2 Io, locking, runtime SIMD dispatch, Python bindings.

pub mod simd;

pub mod fs_io;
pub mod lock;
pub mod mapped;
pub mod mmap_cache;

#[cfg(feature = "python")]
mod python;
