//! NumPack core: the `.npk` store format and every store operation, written once over the
//! [`Io`] trait, plus the scalar reference vector kernels and the generic top-k search.
//!
//! This crate does no OS calls of its own (no mmap, no threads, no clock): the file system,
//! memory, OPFS and Node back ends all implement [`Io`], and the store logic never changes.
//! Element bytes are little-endian on every target; NumPack supports little-endian hosts only.

#![deny(missing_docs)]

#[cfg(target_endian = "big")]
compile_error!("NumPack stores raw little-endian rows and supports little-endian hosts only");

pub mod vector;

pub mod cast;
pub mod dtype;
pub mod error;
pub mod facts;
pub mod format;
pub mod io;
pub mod lock;
pub mod mem_io;
pub mod name;
pub mod package;
pub mod plan;
pub mod progress;
pub mod rows;
pub mod store;
pub mod verify;

pub use dtype::DType;
pub use error::{Error, Result};
pub use io::{Io, LockMode};
pub use mem_io::MemIo;
pub use plan::{BATCH_SPANS, ReadPlan, Span};
pub use rows::{RowMap, Selection};
pub use store::{ArrayInfo, ArrayLayout, NewArray, Options, Store};
