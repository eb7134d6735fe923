//! NumPack for JavaScript: wasm-bindgen bindings over `numpack-core`.
//!
//! The store logic and the vector engine live in `numpack-core`; this crate only adapts them
//! to JavaScript: an [`Io`](numpack_core::Io) over JS callbacks ([`js_io`]), the store handle
//! ([`store`], which also packs and unpacks `.npkg` packages through `numpack_core::package`),
//! the writer-lock protocol for the Node back end ([`lock`]), error conversion ([`error`]),
//! panic capture ([`panic`](mod@panic)) and the simd128 kernel tier ([`simd128`]).

pub mod error;
pub mod js_io;
pub mod lock;
pub mod panic;
pub mod selection;
pub mod simd128;
pub mod store;
pub mod vector;
pub mod verify;

use wasm_bindgen::prelude::*;

/// Installs the panic hook once, when the module is instantiated.
#[wasm_bindgen(start)]
pub fn start() {
    panic::install();
}

/// The kernel tier compiled into this build: `"simd128"` or `"scalar"`.
#[wasm_bindgen(js_name = kernelTier)]
pub fn kernel_tier() -> String {
    simd128::tier_name().to_string()
}

/// The crate version.
#[wasm_bindgen(js_name = version)]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}
