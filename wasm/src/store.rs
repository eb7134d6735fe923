//! The store handle exported to JS. Every method forwards to `numpack_core::Store`; the only
//! work done here is moving bytes and shapes across the boundary.

use js_sys::Uint8Array;
use numpack_core::{ArrayInfo, DType, MemIo, NewArray, ReadPlan, Store, package};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use crate::error::{IntoJs, JsResult, dtype_error, value_error};
use crate::js_io::{IoBackend, JsIo};
use crate::selection;

#[wasm_bindgen]
extern "C" {
    /// JS `Uint8Array`, bound again for a constructor that catches.
    #[wasm_bindgen(js_name = Uint8Array)]
    type NewBytes;
    /// `new Uint8Array(len)`; a failed allocation comes back as an error instead of unwinding
    /// through wasm (which would leave the store handle borrowed).
    #[wasm_bindgen(catch, constructor, js_class = "Uint8Array")]
    fn new(len: f64) -> Result<NewBytes, JsValue>;
}

/// The back end a store runs over.
pub(crate) enum Inner {
    /// In memory (`numpack_core::MemIo`).
    Mem(Store<MemIo>),
    /// JS callbacks: Node's fs, OPFS, or anything else implementing the contract.
    Js(Store<JsIo>),
}

/// Runs `$body` with `$s` bound to the concrete `Store` of either back end.
macro_rules! with_store {
    ($inner:expr, $s:ident => $body:expr) => {
        match $inner {
            Inner::Mem($s) => $body,
            Inner::Js($s) => $body,
        }
    };
}
pub(crate) use with_store;

/// An open NumPack store.
#[wasm_bindgen]
pub struct WasmStore {
    pub(crate) inner: Inner,
    mem: Option<MemIo>,
}

/// Parses a dtype name (`"float32"`, …) into a core dtype.
pub(crate) fn parse_dtype(name: &str) -> JsResult<DType> {
    DType::from_numpy_name(name).map_err(|_| dtype_error(format!("unsupported dtype: {name}")))
}

/// Converts JS shape numbers into `u64` dimensions.
pub(crate) fn parse_shape(shape: &[f64]) -> JsResult<Vec<u64>> {
    shape
        .iter()
        .map(|&d| {
            if d.is_finite() && d >= 0.0 && d.fract() == 0.0 && d <= 9_007_199_254_740_991.0 {
                Ok(d as u64)
            } else {
                Err(value_error(format!("invalid dimension {d} in shape")))
            }
        })
        .collect()
}

fn shape_to_js(shape: &[u64]) -> js_sys::Array {
    shape.iter().map(|&d| JsValue::from_f64(d as f64)).collect()
}

fn set(obj: &js_sys::Object, key: &str, value: JsValue) {
    // Reflect.set on a fresh plain object cannot fail.
    let _ = js_sys::Reflect::set(obj, &JsValue::from_str(key), &value);
}

fn info_to_js(info: &ArrayInfo) -> JsValue {
    let o = js_sys::Object::new();
    set(&o, "name", JsValue::from_str(&info.name));
    set(&o, "dtype", JsValue::from_str(info.dtype.numpy_name()));
    set(&o, "shape", shape_to_js(&info.shape).into());
    set(
        &o,
        "physicalShape",
        shape_to_js(&info.physical_shape).into(),
    );
    set(&o, "dataFile", JsValue::from_str(&info.data_file));
    set(
        &o,
        "lastModified",
        JsValue::from_f64(info.last_modified as f64),
    );
    o.into()
}

/// `{ shape, dtype, bytes }` of a read. `bytes` is the caller's `out`, or a fresh, offset-0
/// `ArrayBuffer`'s array that the JS layer views as any typed array without another copy.
fn array_to_js(dtype: DType, shape: &[u64], bytes: Uint8Array) -> JsValue {
    let o = js_sys::Object::new();
    set(&o, "dtype", JsValue::from_str(dtype.numpy_name()));
    set(&o, "shape", shape_to_js(shape).into());
    set(&o, "bytes", bytes.into());
    o.into()
}

/// The JS array a read of `bytes` bytes lands in: `out`, which must be exactly that long, or a
/// new one.
fn result_array(out: Option<Uint8Array>, bytes: u64) -> JsResult<Uint8Array> {
    match out {
        Some(out) if u64::from(out.length()) == bytes => Ok(out),
        Some(out) => Err(value_error(format!(
            "out holds {} bytes, the selection needs {bytes}",
            out.length()
        ))),
        None => {
            let len = u32::try_from(bytes)
                .map_err(|_| value_error(format!("a result of {bytes} bytes is too large")))?;
            match NewBytes::new(f64::from(len)) {
                Ok(array) => Ok(array.unchecked_into()),
                Err(e) => {
                    let why = js_sys::Reflect::get(&e, &JsValue::from_str("message"))
                        .ok()
                        .and_then(|m| m.as_string())
                        .unwrap_or_default();
                    Err(value_error(format!(
                        "cannot allocate {bytes} bytes for the result: {why}"
                    )))
                }
            }
        }
    }
}

/// Runs a read plan over the in-memory back end into wasm memory: dtype, shape and bytes.
fn read_mem(io: &MemIo, plan: &ReadPlan<'_>) -> numpack_core::Result<(DType, Vec<u64>, Vec<u8>)> {
    Ok((
        plan.layout().dtype,
        plan.shape().to_vec(),
        plan.read_vec(io)?,
    ))
}

/// Copies a result read into wasm memory out to JS (into `out` when given).
fn read_copied(
    (dtype, shape, bytes): (DType, Vec<u64>, Vec<u8>),
    out: Option<Uint8Array>,
) -> JsResult<JsValue> {
    let dest = result_array(out, bytes.len() as u64)?;
    dest.copy_from(&bytes);
    Ok(array_to_js(dtype, &shape, dest))
}

/// Runs a read plan over a JS back end, each span going from the back end's `readAt` straight
/// into the JS result (`out` when given): one copy, no wasm memory. Called under the store's
/// shared lock, with the plan made under it.
fn read_direct(io: &JsIo, plan: &ReadPlan<'_>, out: Option<Uint8Array>) -> JsResult<JsValue> {
    let bytes = plan.bytes();
    let dest = result_array(out, bytes)?;
    let parts = &plan.layout().parts;
    plan.for_each_span(|s| match (s.at, s.len) {
        (0, len) if len == bytes => io.read_into(&parts[s.part].0, s.offset, &dest),
        // Spans lie inside the result, whose length fits in u32 (`result_array` checked it).
        (at, len) => io.read_into(
            &parts[s.part].0,
            s.offset,
            &dest.subarray(at as u32, (at + len) as u32),
        ),
    })
    .js()?;
    Ok(array_to_js(plan.layout().dtype, plan.shape(), dest))
}

#[wasm_bindgen]
impl WasmStore {
    /// A new, empty in-memory store.
    #[wasm_bindgen(js_name = openMemory)]
    pub fn open_memory() -> JsResult<WasmStore> {
        let io = MemIo::new();
        Ok(WasmStore {
            inner: Inner::Mem(Store::open(io.clone()).js()?),
            mem: Some(io),
        })
    }

    /// Opens (or creates) a store over a JS back end object (see `js_io`).
    #[wasm_bindgen(js_name = openBackend)]
    pub fn open_backend(backend: IoBackend, durable: bool) -> JsResult<WasmStore> {
        let options = numpack_core::Options { durable };
        Ok(WasmStore {
            inner: Inner::Js(Store::open_with(JsIo::new(backend), options).js()?),
            mem: None,
        })
    }

    /// Opens an in-memory copy of a `.npkg` package (raw or zstd entries), e.g. `fetch()`ed bytes.
    #[wasm_bindgen(js_name = openPackage)]
    pub fn open_package(bytes: &[u8]) -> JsResult<WasmStore> {
        let io = package::unpack(bytes, true, &package::Ruzstd, || Ok(MemIo::new())).js()?;
        Ok(WasmStore {
            inner: Inner::Mem(Store::open(io.clone()).js()?),
            mem: Some(io),
        })
    }

    /// An in-memory store holding the given files (`paths[i]` → `datas[i]`), e.g. fetched one by one.
    #[wasm_bindgen(js_name = openFiles)]
    pub fn open_files(paths: Vec<String>, datas: js_sys::Array) -> JsResult<WasmStore> {
        if paths.len() != datas.length() as usize {
            return Err(value_error("openFiles(): paths and datas differ in length"));
        }
        let mut files = std::collections::BTreeMap::new();
        for (p, d) in paths.into_iter().zip(datas.iter()) {
            package::check_path(&p).js()?;
            files.insert(p, js_sys::Uint8Array::new(&d).to_vec());
        }
        let io = MemIo::new();
        io.restore(files);
        Ok(WasmStore {
            inner: Inner::Mem(Store::open(io.clone()).js()?),
            mem: Some(io),
        })
    }

    /// The store as a `.npkg` package (any back end); `compress` stores each file zstd-compressed
    /// where that makes it smaller.
    #[wasm_bindgen(js_name = toPackage)]
    pub fn to_package(&mut self, compress: bool) -> JsResult<Vec<u8>> {
        let compression = if compress {
            package::Compression::Zstd
        } else {
            package::Compression::None
        };
        with_store!(&mut self.inner, s => package::pack(s, Vec::new(), compression, package::Ruzstd).js())
    }

    /// Every file of an in-memory store as `{ path: Uint8Array }` (for byte comparisons).
    #[wasm_bindgen(js_name = files)]
    pub fn files(&self) -> JsResult<JsValue> {
        let mem = self
            .mem
            .as_ref()
            .ok_or_else(|| value_error("files() needs an in-memory store"))?;
        let o = js_sys::Object::new();
        for (path, data) in mem.snapshot() {
            set(&o, &path, js_sys::Uint8Array::from(&data[..]).into());
        }
        Ok(o.into())
    }

    /// Array names in catalogue order.
    pub fn names(&mut self) -> JsResult<Vec<String>> {
        with_store!(&mut self.inner, s => s.names().js())
    }

    /// Whether an array exists.
    pub fn contains(&mut self, name: &str) -> JsResult<bool> {
        with_store!(&mut self.inner, s => s.contains(name).js())
    }

    /// `{ name, dtype, shape, physicalShape, dataFile, lastModified }` of one array.
    pub fn info(&mut self, name: &str) -> JsResult<JsValue> {
        let info = with_store!(&mut self.inner, s => s.info(name).js())?;
        Ok(info_to_js(&info))
    }

    /// [`WasmStore::info`] of every array.
    pub fn infos(&mut self) -> JsResult<js_sys::Array> {
        let infos = with_store!(&mut self.inner, s => s.infos().js())?;
        Ok(infos.iter().map(info_to_js).collect())
    }

    /// Reads a selection of rows (see `selection::from_parts`): `{ shape, dtype, bytes }`. The
    /// bytes land in `out` when given (it must hold exactly the result), else in a new array.
    #[allow(clippy::too_many_arguments)]
    pub fn read(
        &mut self,
        name: &str,
        kind: u8,
        indices: Option<Vec<i64>>,
        start: Option<f64>,
        stop: Option<f64>,
        step: Option<f64>,
        out: Option<Uint8Array>,
    ) -> JsResult<JsValue> {
        let sel = selection::from_parts(kind, indices, start, stop, step)?;
        match &mut self.inner {
            Inner::Js(s) => s
                .with_plan(name, &sel, |io, plan| Ok(read_direct(io, plan, out)))
                .js()?,
            Inner::Mem(s) => read_copied(s.with_plan(name, &sel, read_mem).js()?, out),
        }
    }

    /// Reads `count` logical rows from `start`: `{ shape, dtype, bytes }` (into `out` when given).
    #[wasm_bindgen(js_name = readRange)]
    pub fn read_range(
        &mut self,
        name: &str,
        start: f64,
        count: f64,
        out: Option<Uint8Array>,
    ) -> JsResult<JsValue> {
        let dims = parse_shape(&[start, count])?;
        let (start, count) = (dims[0], dims[1]);
        match &mut self.inner {
            Inner::Js(s) => s
                .with_range_plan(name, start, count, |io, plan| {
                    Ok(read_direct(io, plan, out))
                })
                .js()?,
            Inner::Mem(s) => {
                read_copied(s.with_range_plan(name, start, count, read_mem).js()?, out)
            }
        }
    }

    /// Saves arrays in one commit. `names[i]`, `dtypes[i]`, `ndims[i]` dims taken in order
    /// from `dims`, and `datas[i]` (a `Uint8Array` of little-endian elements).
    pub fn save(
        &mut self,
        names: Vec<String>,
        dtypes: Vec<String>,
        ndims: Vec<u32>,
        dims: Vec<f64>,
        datas: js_sys::Array,
    ) -> JsResult<()> {
        let n = names.len();
        if dtypes.len() != n || ndims.len() != n || datas.length() as usize != n {
            return Err(value_error("save(): argument lists differ in length"));
        }
        let all_dims = parse_shape(&dims)?;
        let mut shapes = Vec::with_capacity(n);
        let mut at = 0usize;
        for &nd in &ndims {
            let end = at
                .checked_add(nd as usize)
                .filter(|&e| e <= all_dims.len())
                .ok_or_else(|| value_error("save(): shapes are inconsistent"))?;
            shapes.push(all_dims[at..end].to_vec());
            at = end;
        }
        let bytes: Vec<Vec<u8>> = datas
            .iter()
            .map(|d| js_sys::Uint8Array::new(&d).to_vec())
            .collect();
        let mut arrays = Vec::with_capacity(n);
        for i in 0..n {
            arrays.push(NewArray {
                name: &names[i],
                dtype: parse_dtype(&dtypes[i])?,
                shape: &shapes[i],
                data: &bytes[i],
            });
        }
        with_store!(&mut self.inner, s => s.save(&arrays).js())
    }

    /// Appends rows of `shape` (dtype must equal the stored one).
    pub fn append(
        &mut self,
        name: &str,
        dtype: &str,
        shape: Vec<f64>,
        data: &[u8],
    ) -> JsResult<()> {
        let dtype = parse_dtype(dtype)?;
        let shape = parse_shape(&shape)?;
        with_store!(&mut self.inner, s => s.append(name, dtype, &shape, data).js())
    }

    /// Overwrites the selected rows with `data` of `shape`.
    #[allow(clippy::too_many_arguments)]
    pub fn replace(
        &mut self,
        name: &str,
        kind: u8,
        indices: Option<Vec<i64>>,
        start: Option<f64>,
        stop: Option<f64>,
        step: Option<f64>,
        dtype: &str,
        shape: Vec<f64>,
        data: &[u8],
    ) -> JsResult<()> {
        let sel = selection::from_parts(kind, indices, start, stop, step)?;
        let dtype = parse_dtype(dtype)?;
        let shape = parse_shape(&shape)?;
        with_store!(&mut self.inner, s => s.replace(name, &sel, dtype, &shape, data).js())
    }

    /// Drops the selected rows (logically; `compact` reclaims the space).
    #[wasm_bindgen(js_name = dropRows)]
    pub fn drop_rows(
        &mut self,
        name: &str,
        kind: u8,
        indices: Option<Vec<i64>>,
        start: Option<f64>,
        stop: Option<f64>,
        step: Option<f64>,
    ) -> JsResult<()> {
        let sel = selection::from_parts(kind, indices, start, stop, step)?;
        with_store!(&mut self.inner, s => s.drop_rows(name, &sel).js())
    }

    /// Removes whole arrays in one commit.
    #[wasm_bindgen(js_name = dropArrays)]
    pub fn drop_arrays(&mut self, names: Vec<String>) -> JsResult<()> {
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        with_store!(&mut self.inner, s => s.drop_arrays(&refs).js())
    }

    /// Rewrites an array without its dropped rows.
    pub fn compact(&mut self, name: &str) -> JsResult<()> {
        with_store!(&mut self.inner, s => s.compact(name).js())
    }

    /// Copies array `src` into a new array `dst`.
    #[wasm_bindgen(js_name = cloneArray)]
    pub fn clone_array(&mut self, src: &str, dst: &str) -> JsResult<()> {
        with_store!(&mut self.inner, s => s.clone_array(src, dst).js())
    }

    /// Removes every array.
    pub fn reset(&mut self) -> JsResult<()> {
        with_store!(&mut self.inner, s => s.reset().js())
    }

    /// Re-reads the catalogue if another writer committed.
    pub fn refresh(&mut self) -> JsResult<()> {
        with_store!(&mut self.inner, s => s.refresh().js())
    }
}
