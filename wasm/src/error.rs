//! Conversion of core errors into JS `Error` objects. The `name` property carries the kind;
//! the JS layer (`js/src/errors.js`) rethrows each as its own `Error` subclass.

use numpack_core::Error;
use wasm_bindgen::prelude::*;

/// Error kinds as seen by JS; each maps onto one JS class and one Python exception.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// No such array (Python `KeyError`).
    NotFound,
    /// Row index out of range (Python `IndexError`).
    Index,
    /// Bad argument, shape or name (Python `ValueError`).
    Value,
    /// Unsupported or mismatched dtype (Python `TypeError`).
    DType,
    /// Corrupt or foreign store files (Python `NumPackError`).
    Corrupt,
    /// Lock conflict (Python `NumPackError`).
    Locked,
    /// Storage failure (Python `NumPackError` / `OSError`).
    Io,
    /// A size too large to allocate (Python `MemoryError`).
    Memory,
}

impl Kind {
    /// The JS class name.
    pub fn js_name(self) -> &'static str {
        match self {
            Kind::NotFound => "NotFoundError",
            Kind::Index => "IndexError",
            Kind::Value => "ValueError",
            Kind::DType => "DTypeError",
            Kind::Corrupt => "CorruptStoreError",
            Kind::Locked => "StoreLockedError",
            Kind::Io => "StoreIOError",
            Kind::Memory => "OutOfMemoryError",
        }
    }
}

/// The kind of a core error.
pub fn kind_of(err: &Error) -> Kind {
    match err {
        Error::NotFound(_) => Kind::NotFound,
        Error::IndexOutOfRange { .. } | Error::BadIndex(_) => Kind::Index,
        Error::OutOfMemory(_) => Kind::Memory,
        Error::InvalidName(_) | Error::ShapeMismatch(_) | Error::InvalidArgument(_) => Kind::Value,
        Error::DtypeMismatch(_) => Kind::DType,
        Error::Corrupt(_) => Kind::Corrupt,
        Error::Locked(_) => Kind::Locked,
        Error::Io(_) => Kind::Io,
    }
}

/// A JS `Error` whose `name` is the kind's class name.
pub fn js_error(kind: Kind, message: &str) -> JsValue {
    let e = js_sys::Error::new(message);
    e.set_name(kind.js_name());
    e.into()
}

/// Converts a core error into a JS error value.
pub fn to_js(err: Error) -> JsValue {
    js_error(kind_of(&err), &err.to_string())
}

/// A `ValueError` with `message`.
pub fn value_error(message: impl AsRef<str>) -> JsValue {
    js_error(Kind::Value, message.as_ref())
}

/// A `DTypeError` with `message`.
pub fn dtype_error(message: impl AsRef<str>) -> JsValue {
    js_error(Kind::DType, message.as_ref())
}

/// Result type of every exported function.
pub type JsResult<T> = Result<T, JsValue>;

/// `?`-friendly conversion of core results.
pub trait IntoJs<T> {
    /// Maps the error into a JS error value.
    fn js(self) -> JsResult<T>;
}

impl<T> IntoJs<T> for numpack_core::Result<T> {
    fn js(self) -> JsResult<T> {
        self.map_err(to_js)
    }
}
