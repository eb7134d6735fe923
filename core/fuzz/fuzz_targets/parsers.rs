//! Every parser of store files, on arbitrary bytes: errors are fine, panics are bugs.
#![no_main]
use libfuzzer_sys::fuzz_target;
use numpack_core::format::{bitmap::Bitmap, journal, metadata, segments};
use numpack_core::package::{Package, Ruzstd};

fuzz_target!(|data: &[u8]| {
    let _ = metadata::decode(data);
    let _ = Bitmap::decode(data, 100);
    let _ = segments::decode(data, "x", 8, 10);
    let _ = journal::decode(data);
    let _ = Package::parse(data).and_then(|p| p.files_with(true, &Ruzstd));
});
