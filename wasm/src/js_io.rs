//! [`JsIo`]: the [`Io`] trait over a JavaScript object of synchronous file callbacks. The Node
//! back end (`node:fs`), the OPFS back end (sync access handles in a worker) and test doubles
//! are all such objects; the store code above them is the core's, unchanged.
//!
//! The JS contract (paths are relative, `/`-separated; sizes and offsets are numbers):
//! `readAt(path, offset, into: Uint8Array)` fills `into` or throws (`code: "EOF"` when short),
//! `writeAt(path, offset, data)`, `len(path) → number | null`, `setLen(path, len)`,
//! `sync(path)`, `rename(from, to)`, `remove(path)`, `createDir(dir)`, `removeDir(dir)`,
//! `list(dir) → string[]`, `stamp(path) → number | bigint | null`, `now() → µs`,
//! `lock(mode: "shared" | "exclusive")`, `unlock()`. A thrown error with `code: "ENOENT"`
//! means "no such file"; `remove` and `removeDir` of a missing path may either return or throw
//! that (both mean done).
//!
//! `into` is either a view of wasm memory or, for large reads ([`JsIo::read_into`]), the
//! JS-owned array the caller gets back (or a `subarray` of it), so the bytes cross from the back
//! end into the result with one copy. Either way a back end writes exactly `into.length` bytes
//! into `into` and keeps no reference to it after returning.

use std::io::ErrorKind;

use numpack_core::{Error, Io, LockMode, Result};
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// A JS object implementing the file callbacks listed in the module docs.
    #[derive(Clone)]
    pub type IoBackend;

    #[wasm_bindgen(method, catch, js_name = readAt)]
    fn read_at(
        this: &IoBackend,
        path: &str,
        offset: f64,
        into: &mut [u8],
    ) -> std::result::Result<(), JsValue>;
    #[wasm_bindgen(method, catch, js_name = readAt)]
    fn read_at_js(
        this: &IoBackend,
        path: &str,
        offset: f64,
        into: &js_sys::Uint8Array,
    ) -> std::result::Result<(), JsValue>;
    #[wasm_bindgen(method, catch, js_name = writeAt)]
    fn write_at(
        this: &IoBackend,
        path: &str,
        offset: f64,
        data: &[u8],
    ) -> std::result::Result<(), JsValue>;
    #[wasm_bindgen(method, catch)]
    fn len(this: &IoBackend, path: &str) -> std::result::Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch, js_name = setLen)]
    fn set_len(this: &IoBackend, path: &str, len: f64) -> std::result::Result<(), JsValue>;
    #[wasm_bindgen(method, catch)]
    fn sync(this: &IoBackend, path: &str) -> std::result::Result<(), JsValue>;
    #[wasm_bindgen(method, catch)]
    fn rename(this: &IoBackend, from: &str, to: &str) -> std::result::Result<(), JsValue>;
    #[wasm_bindgen(method, catch)]
    fn remove(this: &IoBackend, path: &str) -> std::result::Result<(), JsValue>;
    #[wasm_bindgen(method, catch, js_name = createDir)]
    fn create_dir(this: &IoBackend, dir: &str) -> std::result::Result<(), JsValue>;
    #[wasm_bindgen(method, catch, js_name = removeDir)]
    fn remove_dir(this: &IoBackend, dir: &str) -> std::result::Result<(), JsValue>;
    #[wasm_bindgen(method, catch)]
    fn list(this: &IoBackend, dir: &str) -> std::result::Result<js_sys::Array, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn stamp(this: &IoBackend, path: &str) -> std::result::Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn now(this: &IoBackend) -> std::result::Result<f64, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn lock(this: &IoBackend, mode: &str) -> std::result::Result<(), JsValue>;
    #[wasm_bindgen(method, catch)]
    fn unlock(this: &IoBackend) -> std::result::Result<(), JsValue>;
}

/// An [`Io`] whose every call goes to a JS [`IoBackend`].
pub struct JsIo {
    backend: IoBackend,
}

impl JsIo {
    /// Wraps a JS backend object.
    pub fn new(backend: IoBackend) -> JsIo {
        JsIo { backend }
    }

    /// [`Io::read_at`] into a JS byte array instead of wasm memory: the back end's `readAt`
    /// fills `into` directly (same contract, same errors).
    pub fn read_into(&self, path: &str, offset: u64, into: &js_sys::Uint8Array) -> Result<()> {
        self.backend
            .read_at_js(path, to_f64(offset)?, into)
            .map_err(|e| io_err("read", path, e))
    }
}

/// Turns a JS exception into a core I/O error, keeping "not found" and "short read" apart.
fn io_err(what: &str, path: &str, err: JsValue) -> Error {
    let code = js_sys::Reflect::get(&err, &JsValue::from_str("code"))
        .ok()
        .and_then(|c| c.as_string());
    let message = js_sys::Reflect::get(&err, &JsValue::from_str("message"))
        .ok()
        .and_then(|m| m.as_string())
        .or_else(|| err.as_string())
        .unwrap_or_else(|| "JavaScript exception".to_string());
    let kind = match code.as_deref() {
        Some("ENOENT") => ErrorKind::NotFound,
        Some("EOF") => ErrorKind::UnexpectedEof,
        Some("EEXIST") => ErrorKind::AlreadyExists,
        Some("EACCES") | Some("EPERM") => ErrorKind::PermissionDenied,
        _ => ErrorKind::Other,
    };
    Error::Io(std::io::Error::new(
        kind,
        format!("{what} {path}: {message}"),
    ))
}

/// A JS number that must be a non-negative integer below 2^53.
fn js_u64(v: &JsValue, what: &str) -> Result<u64> {
    if let Some(f) = v.as_f64() {
        if f >= 0.0 && f.fract() == 0.0 && f <= 9_007_199_254_740_991.0 {
            return Ok(f as u64);
        }
    } else if v.is_bigint()
        && let Ok(b) = u64::try_from(v.clone())
    {
        return Ok(b);
    }
    Err(Error::Io(std::io::Error::other(format!(
        "backend returned an invalid {what}"
    ))))
}

/// Offsets and lengths are sent to JS as numbers; refuse ones a double cannot hold exactly.
fn to_f64(v: u64) -> Result<f64> {
    if v <= 9_007_199_254_740_991 {
        Ok(v as f64)
    } else {
        Err(Error::InvalidArgument(format!("offset {v} is beyond 2^53")))
    }
}

impl Io for JsIo {
    fn read_at(&self, path: &str, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.backend
            .read_at(path, to_f64(offset)?, buf)
            .map_err(|e| io_err("read", path, e))
    }

    fn write_at(&self, path: &str, offset: u64, data: &[u8]) -> Result<()> {
        self.backend
            .write_at(path, to_f64(offset)?, data)
            .map_err(|e| io_err("write", path, e))
    }

    fn len(&self, path: &str) -> Result<Option<u64>> {
        let v = self
            .backend
            .len(path)
            .map_err(|e| io_err("stat", path, e))?;
        if v.is_null() || v.is_undefined() {
            Ok(None)
        } else {
            js_u64(&v, "length").map(Some)
        }
    }

    fn set_len(&self, path: &str, len: u64) -> Result<()> {
        self.backend
            .set_len(path, to_f64(len)?)
            .map_err(|e| io_err("truncate", path, e))
    }

    fn sync(&self, path: &str) -> Result<()> {
        self.backend.sync(path).map_err(|e| io_err("sync", path, e))
    }

    fn rename(&self, from: &str, to: &str) -> Result<()> {
        self.backend
            .rename(from, to)
            .map_err(|e| io_err("rename", from, e))
    }

    fn remove(&self, path: &str) -> Result<()> {
        // The contract lets a back end report a missing file with `code: "ENOENT"`; the core's
        // `remove` says a missing file is not an error.
        match self
            .backend
            .remove(path)
            .map_err(|e| io_err("remove", path, e))
        {
            Err(Error::Io(e)) if e.kind() == ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }

    fn create_dir(&self, dir: &str) -> Result<()> {
        self.backend
            .create_dir(dir)
            .map_err(|e| io_err("mkdir", dir, e))
    }

    fn remove_dir(&self, dir: &str) -> Result<()> {
        match self
            .backend
            .remove_dir(dir)
            .map_err(|e| io_err("rmdir", dir, e))
        {
            Err(Error::Io(e)) if e.kind() == ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }

    fn list(&self, dir: &str) -> Result<Vec<String>> {
        let arr = self.backend.list(dir).map_err(|e| io_err("list", dir, e))?;
        arr.iter()
            .map(|v| {
                v.as_string().ok_or_else(|| {
                    Error::Io(std::io::Error::other(
                        "backend list() returned a non-string",
                    ))
                })
            })
            .collect()
    }

    fn catalogue_stamp(&self) -> Result<Option<u64>> {
        let path = numpack_core::format::METADATA_FILE;
        let v = self
            .backend
            .stamp(path)
            .map_err(|e| io_err("stat", path, e))?;
        if v.is_null() || v.is_undefined() {
            Ok(None)
        } else {
            js_u64(&v, "stamp").map(Some)
        }
    }

    fn now_micros(&self) -> u64 {
        match self.backend.now() {
            Ok(t) if t.is_finite() && t >= 0.0 => t as u64,
            _ => 0,
        }
    }

    fn lock(&self, mode: LockMode) -> Result<()> {
        let m = match mode {
            LockMode::Shared => "shared",
            LockMode::Exclusive => "exclusive",
        };
        self.backend.lock(m).map_err(|e| {
            // The back end's own message (who holds the lock, where), not an i/o wrapper.
            let message = js_sys::Reflect::get(&e, &JsValue::from_str("message"))
                .ok()
                .and_then(|m| m.as_string());
            Error::Locked(message.unwrap_or_else(|| io_err("lock", "", e).to_string()))
        })
    }

    fn unlock(&self) {
        let _ = self.backend.unlock();
    }
}
