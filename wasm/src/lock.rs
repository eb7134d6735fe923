//! The writer lock for Node: [`numpack_core::lock`]'s marker side over a JS object of
//! synchronous primitives (`js/src/node-fs.js` builds it over `node:fs`). A primitive reports a
//! failure by throwing an error whose `code` is the POSIX name (`"ENOENT"`, `"EEXIST"`, ...),
//! as `node:fs` does.

use std::time::Duration;

use numpack_core::Error;
use numpack_core::lock::{self as protocol, LockFs, Marker, Os, OsError};
use wasm_bindgen::prelude::*;

use crate::error::{Kind, js_error};

#[wasm_bindgen]
extern "C" {
    /// The primitives of [`LockFs`], one JS method each (names in camelCase, durations in ms).
    pub type LockPrimitives;

    #[wasm_bindgen(method, catch)]
    fn symlink(this: &LockPrimitives, target: &str, name: &str) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch, js_name = readLink)]
    fn read_link(this: &LockPrimitives, name: &str) -> Result<Vec<u8>, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn read(this: &LockPrimitives, name: &str, max: usize) -> Result<Vec<u8>, JsValue>;
    #[wasm_bindgen(method, catch, js_name = createNew)]
    fn create_new(this: &LockPrimitives, name: &str, data: &[u8]) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch)]
    fn rename(this: &LockPrimitives, from: &str, to: &str) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch, js_name = hardLink)]
    fn hard_link(this: &LockPrimitives, from: &str, to: &str) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch)]
    fn remove(this: &LockPrimitives, name: &str) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch, js_name = ageMs)]
    fn age_ms(this: &LockPrimitives, name: &str) -> Result<Option<f64>, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn touch(this: &LockPrimitives, name: &str) -> Result<(), JsValue>;
    #[wasm_bindgen(method)]
    fn display(this: &LockPrimitives, name: &str) -> String;
    #[wasm_bindgen(method)]
    fn pid(this: &LockPrimitives) -> u32;
    #[wasm_bindgen(method, js_name = signalZero)]
    fn signal_zero(this: &LockPrimitives, pid: i32) -> bool;
    #[wasm_bindgen(method)]
    fn system(this: &LockPrimitives, path: &str, link: bool) -> String;
    #[wasm_bindgen(method)]
    fn host(this: &LockPrimitives) -> String;
    #[wasm_bindgen(method, js_name = timeoutEnv)]
    fn timeout_env(this: &LockPrimitives) -> Option<String>;
    #[wasm_bindgen(method, js_name = nowMs)]
    fn now_ms(this: &LockPrimitives) -> f64;
    #[wasm_bindgen(method, js_name = sleepMs)]
    fn sleep_ms(this: &LockPrimitives, ms: f64);
    #[wasm_bindgen(method)]
    fn seed(this: &LockPrimitives) -> u32;
}

/// A thrown primitive error as the protocol sees it.
fn os(e: JsValue) -> OsError {
    let field = |k: &str| {
        js_sys::Reflect::get(&e, &JsValue::from_str(k))
            .ok()
            .and_then(|v| v.as_string())
    };
    OsError {
        code: field("code").unwrap_or_default(),
        message: field("message").unwrap_or_else(|| format!("{e:?}")),
    }
}

fn from_ms(ms: f64) -> Duration {
    Duration::try_from_secs_f64(ms.max(0.0) / 1000.0).unwrap_or(Duration::MAX)
}

/// Forwards primitives to the JS methods of the same name (`fallible` ones throw on failure).
macro_rules! forward {
    (fallible { $($f:ident($($fa:ident: $ft:ty),*) -> $fo:ty;)* } plain { $($p:ident($($pa:ident: $pt:ty),*) -> $po:ty;)* }) => {
        $(fn $f(&self, $($fa: $ft),*) -> Os<$fo> {
            LockPrimitives::$f(self, $($fa),*).map_err(os)
        })*
        $(fn $p(&self, $($pa: $pt),*) -> $po {
            LockPrimitives::$p(self, $($pa),*)
        })*
    };
}

impl LockFs for LockPrimitives {
    forward! {
        fallible {
            symlink(target: &str, name: &str) -> ();
            read_link(name: &str) -> Vec<u8>;
            read(name: &str, max: usize) -> Vec<u8>;
            create_new(name: &str, data: &[u8]) -> ();
            rename(from: &str, to: &str) -> ();
            hard_link(from: &str, to: &str) -> ();
            remove(name: &str) -> ();
            touch(name: &str) -> ();
        }
        plain {
            display(name: &str) -> String;
            pid() -> u32;
            signal_zero(pid: i32) -> bool;
            system(path: &str, link: bool) -> String;
            host() -> String;
            timeout_env() -> Option<String>;
            seed() -> u32;
        }
    }
    fn age(&self, name: &str) -> Os<Option<Duration>> {
        self.age_ms(name).map(|a| a.map(from_ms)).map_err(os)
    }
    fn now(&self) -> Duration {
        from_ms(self.now_ms())
    }
    fn sleep(&self, d: Duration) {
        self.sleep_ms(d.as_secs_f64() * 1000.0);
    }
    fn runtime(&self) -> &'static str {
        "js"
    }
    fn sole_in_process(&self) -> bool {
        false // each Node worker thread instantiates its own module, with its own record of holds
    }
}

/// Takes the writer marker for an exclusive hold, waiting for other writers of either runtime
/// (docs/FORMAT.md §5). Returns the owner record to give to [`writer_unlock`], or `undefined`
/// when the folder is read-only to us; throws `StoreLockedError` after `NUMPACK_LOCK_TIMEOUT`.
#[wasm_bindgen(js_name = writerLock)]
pub fn writer_lock(fs: &LockPrimitives) -> Result<Option<String>, JsValue> {
    match protocol::take_marker(fs, true, None) {
        Ok(m) => Ok(m.map(|m| m.record)),
        Err(Error::Locked(msg)) => Err(js_error(Kind::Locked, &msg)),
        Err(e) => Err(crate::error::to_js(e)),
    }
}

/// Removes the writer marker holding `record` (only if it still does).
#[wasm_bindgen(js_name = writerUnlock)]
pub fn writer_unlock(fs: &LockPrimitives, record: String) {
    protocol::release_marker(fs, &Marker { record });
}
