//! NumPack for JavaScript (filled in by the wasm issue).
