//! `npx numpack verify` and `npx numpack info`'s compiled half: the core's [`verify`] and
//! [`facts`] over a JS
//! back end (the Node folder back end; also the checksums of `verify --data`) or over an in-memory copy of a `.npkg` package. Both are
//! read-only; this file only converts their results into plain JS objects.

use numpack_core::facts::{StoreFacts, facts};
use numpack_core::verify::{checksums, verify};
use numpack_core::{Io, LockMode, MemIo, Store, package};
use wasm_bindgen::prelude::*;

use crate::error::{IntoJs, JsResult};
use crate::js_io::{IoBackend, JsIo};

fn set(obj: &js_sys::Object, key: &str, value: impl Into<JsValue>) {
    let _ = js_sys::Reflect::set(obj, &JsValue::from_str(key), &value.into());
}

/// A `u64` count as a JS number (exact below 2^53, which any real byte count is).
fn num(n: u64) -> JsValue {
    JsValue::from_f64(n as f64)
}

fn nums(v: &[u64]) -> js_sys::Array {
    v.iter().map(|&n| num(n)).collect()
}

/// Runs `f` over the back end under its shared lock (no writer commits half-way through).
fn read_locked<R>(
    backend: IoBackend,
    f: impl FnOnce(&JsIo) -> numpack_core::Result<R>,
) -> JsResult<R> {
    let io = JsIo::new(backend);
    io.lock(LockMode::Shared).js()?;
    let out = f(&io);
    io.unlock();
    out.js()
}

/// `[[fault, path, message]]` of every problem in the store behind `backend` (empty: clean);
/// throws when the store cannot be checked at all (its catalogue cannot be read).
#[wasm_bindgen(js_name = storeVerify)]
pub fn store_verify(backend: IoBackend) -> JsResult<js_sys::Array> {
    let found = read_locked(backend, verify)?;
    Ok(found
        .into_iter()
        .map(|p| {
            let row: js_sys::Array = [
                JsValue::from_str(p.fault.as_str()),
                JsValue::from_str(&p.path),
                JsValue::from_str(&p.message),
            ]
            .into_iter()
            .collect();
            JsValue::from(row)
        })
        .collect())
}

/// `[[name, dtype, shape, sha256]]` of every array of the store behind `backend`, opened
/// read-only ([`checksums`]: SHA-256 of each array's logical bytes).
#[wasm_bindgen(js_name = storeChecksums)]
pub fn store_checksums(backend: IoBackend) -> JsResult<js_sys::Array> {
    let mut store = Store::open_read_only(JsIo::new(backend)).js()?;
    let sums = checksums(&mut store, &mut ()).js()?;
    Ok(sums
        .into_iter()
        .map(|c| {
            let row: js_sys::Array = [
                JsValue::from_str(&c.name),
                JsValue::from_str(c.dtype.numpy_name()),
                nums(&c.shape).into(),
                JsValue::from_str(&c.sha256),
            ]
            .into_iter()
            .collect();
            JsValue::from(row)
        })
        .collect())
}

/// The facts of the store behind `backend` (every array, or only `name`: `NotFoundError` if
/// absent): `{ arrays: [{ name, dtype, shape, physicalShape, liveRows, droppedRows, files:
/// [[path, bytes]], bytesOnDisk, reclaimableBytes, lastModified }], bytesOnDisk,
/// reclaimableBytes, lastModified }` (times in µs since the epoch; `lastModified` of an empty
/// store is `null`).
#[wasm_bindgen(js_name = storeFacts)]
pub fn store_facts(backend: IoBackend, name: Option<String>) -> JsResult<JsValue> {
    let f = read_locked(backend, |io| facts(io, name.as_deref()))?;
    Ok(facts_to_js(&f))
}

/// [`store_facts`] of a `.npkg` package's bytes (unpacked in memory; sizes are the unpacked
/// files').
#[wasm_bindgen(js_name = packageFacts)]
pub fn package_facts(bytes: &[u8], name: Option<String>) -> JsResult<JsValue> {
    let io = package::unpack(bytes, true, &package::Ruzstd, || Ok(MemIo::new())).js()?;
    Ok(facts_to_js(&facts(&io, name.as_deref()).js()?))
}

fn facts_to_js(f: &StoreFacts) -> JsValue {
    let arrays: js_sys::Array = f
        .arrays
        .iter()
        .map(|a| {
            let o = js_sys::Object::new();
            set(&o, "name", a.name.as_str());
            set(&o, "dtype", a.dtype.numpy_name());
            set(&o, "shape", nums(&a.shape));
            set(&o, "physicalShape", nums(&a.physical_shape));
            set(&o, "liveRows", num(a.live_rows));
            set(&o, "droppedRows", num(a.dropped_rows));
            let files: js_sys::Array = a
                .files
                .iter()
                .map(|(p, n)| {
                    let pair: js_sys::Array = [JsValue::from_str(p), num(*n)].into_iter().collect();
                    JsValue::from(pair)
                })
                .collect();
            set(&o, "files", files);
            set(&o, "bytesOnDisk", num(a.bytes_on_disk));
            set(&o, "reclaimableBytes", num(a.reclaimable_bytes));
            set(&o, "lastModified", num(a.last_modified));
            JsValue::from(o)
        })
        .collect();
    let o = js_sys::Object::new();
    set(&o, "arrays", arrays);
    set(&o, "bytesOnDisk", num(f.bytes_on_disk));
    set(&o, "reclaimableBytes", num(f.reclaimable_bytes));
    set(
        &o,
        "lastModified",
        f.last_modified.map_or(JsValue::NULL, num),
    );
    o.into()
}
