//! The one error type of the store. Bindings map each variant onto a language's own error
//! (Python: KeyError, ValueError, TypeError, IndexError, numpack.NumPackError; JS: Error subclasses).

use std::fmt;

/// Everything a store operation can fail with.
#[derive(Debug)]
pub enum Error {
    /// No array of this name is in the store.
    NotFound(String),
    /// The array name is not allowed (empty, too long, a path separator, NUL, `.` or `..`).
    InvalidName(String),
    /// Shapes disagree: rows of the wrong width, data of the wrong length, a bad reshape.
    ShapeMismatch(String),
    /// The dtype is unknown, unsupported, or differs from the stored array's.
    DtypeMismatch(String),
    /// A row index is outside the array's logical rows.
    IndexOutOfRange {
        /// The index as the caller gave it (may be negative).
        index: i64,
        /// The number of logical rows it had to fall into.
        len: u64,
    },
    /// A row selection does not fit the array in another way (a boolean mask of the wrong
    /// length, an index beyond any representable row).
    BadIndex(String),
    /// Memory for the result or for bookkeeping could not be had (a size derived from a call
    /// or a file is too large); nothing was changed.
    OutOfMemory(String),
    /// An argument is invalid for another reason (duplicate index, zero step, existing target…).
    InvalidArgument(String),
    /// A store file is truncated, corrupt or of an unknown version; nothing was changed.
    Corrupt(String),
    /// Another writer holds the store's lock and it could not be taken.
    Locked(String),
    /// The underlying storage failed (file system, OPFS, memory limit).
    Io(std::io::Error),
}

/// Result with the store's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotFound(name) => write!(f, "no array named {name:?} in the store"),
            Error::InvalidName(msg) => write!(f, "invalid array name: {msg}"),
            Error::ShapeMismatch(msg) => write!(f, "shape mismatch: {msg}"),
            Error::DtypeMismatch(msg) => write!(f, "dtype mismatch: {msg}"),
            Error::IndexOutOfRange { index, len } => {
                write!(f, "index {index} is out of range for {len} rows")
            }
            Error::BadIndex(msg) => write!(f, "{msg}"),
            Error::OutOfMemory(msg) => write!(f, "out of memory: {msg}"),
            Error::InvalidArgument(msg) => write!(f, "invalid argument: {msg}"),
            Error::Corrupt(msg) => write!(f, "corrupt store: {msg}"),
            Error::Locked(msg) => write!(f, "store is locked: {msg}"),
            Error::Io(err) => write!(f, "i/o error: {err}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(err) => Some(err),
            _ => None,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        Error::Io(err)
    }
}

/// Shorthand for a [`Error::Corrupt`] with a formatted message.
pub(crate) fn corrupt(msg: impl Into<String>) -> Error {
    Error::Corrupt(msg.into())
}

/// A vector of `n` copies of `fill`, or [`Error::OutOfMemory`] if the allocation fails (never an
/// abort). `what` names the buffer in the error.
pub fn try_filled<T: Clone>(n: u64, fill: T, what: &str) -> Result<Vec<T>> {
    let mut v = try_with_capacity(n, what)?;
    v.resize(n as usize, fill);
    Ok(v)
}

/// An empty vector with room for `n` items, or [`Error::OutOfMemory`] (never an abort).
pub fn try_with_capacity<T>(n: u64, what: &str) -> Result<Vec<T>> {
    let oom = || {
        Error::OutOfMemory(format!(
            "{what} needs {n} items of {} bytes",
            std::mem::size_of::<T>()
        ))
    };
    let n = usize::try_from(n).map_err(|_| oom())?;
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| oom())?;
    Ok(v)
}
