//! NumPack core: the `.npk` store format and every store operation, written once over the
//! [`Io`] trait, plus the scalar reference vector kernels and the generic top-k search.
//!
//! This crate does no OS calls of its own (no mmap, no threads, no clock): the file system,
//! memory, OPFS and Node back ends all implement [`Io`], and the store logic never changes.
//! Element bytes are little-endian on every target; NumPack supports little-endian hosts only.

#[cfg(target_endian = "big")]
compile_error!("NumPack stores raw little-endian rows and supports little-endian hosts only");

pub mod vector;
