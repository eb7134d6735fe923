//! Panic capture. On `wasm32-unknown-unknown` stable Rust only has `panic=abort`: a panic ends
//! in a trap (`WebAssembly.RuntimeError: unreachable`). The hook below records the message first
//! so the JS layer can turn the trap into a `NumPackError` with a useful text, and mark the
//! handle as unusable. The bindings are written so that no input should ever panic.

use std::sync::Mutex;

use wasm_bindgen::prelude::*;

static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);

/// Installs the hook that records panic messages (idempotent).
pub fn install() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let msg = info.to_string();
            if let Ok(mut slot) = LAST_PANIC.lock() {
                *slot = Some(msg);
            }
        }));
    });
}

/// The message of the last panic, if any, clearing it (the JS layer calls this after a trap).
#[wasm_bindgen(js_name = takePanicMessage)]
pub fn take_panic_message() -> Option<String> {
    LAST_PANIC.lock().ok().and_then(|mut slot| slot.take())
}
