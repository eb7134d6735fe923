//! The store's errors as Python exceptions: KeyError, ValueError, TypeError, IndexError,
//! OSError, and the `numpack.NumPackError` family for corrupt stores and lock conflicts.

use numpack_core::Error;
use pyo3::exceptions::{
    PyException, PyIndexError, PyKeyError, PyMemoryError, PyTypeError, PyValueError,
};
use pyo3::{PyErr, create_exception};

create_exception!(
    numpack,
    NumPackError,
    PyException,
    "Base class of NumPack's own errors."
);
create_exception!(
    numpack,
    CorruptStoreError,
    NumPackError,
    "A store file is truncated, corrupt or of an unknown version."
);
create_exception!(
    numpack,
    LockError,
    NumPackError,
    "The store's lock could not be taken."
);

/// Converts a store error into the matching Python exception.
pub fn to_py(err: Error) -> PyErr {
    match err {
        Error::NotFound(name) => PyKeyError::new_err(name),
        Error::InvalidName(msg) => PyValueError::new_err(format!("invalid array name: {msg}")),
        Error::ShapeMismatch(msg) => PyValueError::new_err(format!("shape mismatch: {msg}")),
        Error::DtypeMismatch(msg) => PyTypeError::new_err(msg),
        Error::IndexOutOfRange { index, len } => PyIndexError::new_err(format!(
            "index {index} is out of bounds for axis 0 with size {len}"
        )),
        Error::BadIndex(msg) => PyIndexError::new_err(msg),
        Error::OutOfMemory(msg) => PyMemoryError::new_err(msg),
        Error::InvalidArgument(msg) => PyValueError::new_err(msg),
        Error::Corrupt(msg) => CorruptStoreError::new_err(format!("corrupt store: {msg}")),
        Error::Locked(msg) => LockError::new_err(msg),
        Error::Io(err) => PyErr::from(err),
    }
}

/// `Result` with Python's error.
pub type PyResult<T> = Result<T, PyErr>;

/// Shorthand: `result.map_err(to_py)`.
pub trait IntoPy<T> {
    /// Maps the store error to a Python exception.
    fn py(self) -> PyResult<T>;
}

impl<T> IntoPy<T> for numpack_core::Result<T> {
    fn py(self) -> PyResult<T> {
        self.map_err(to_py)
    }
}
