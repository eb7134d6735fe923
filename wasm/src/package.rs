//! `.npkg` packages for JavaScript: a store's files in one buffer, so a page can `fetch()` a store
//! and open it in memory. The codec is `numpack_core::format::package` (layout: docs/FORMAT.md
//! §7); this module adapts it to the in-memory store's file map. Packages with zstd entries (as
//! Python writes by default) are read; [`encode`] writes uncompressed ones, [`encode_with`] either.

use std::collections::BTreeMap;

pub use numpack_core::format::package::Compression;
use numpack_core::format::package;
use numpack_core::Result;

/// A path inside a package must stay inside the store folder (see `package::check_path`).
pub fn check_path(path: &str) -> Result<()> {
    package::check_path(path)
}

/// Parses a package into `path → bytes`, decompressing zstd entries and checking the CRC.
pub fn decode(buf: &[u8]) -> Result<BTreeMap<String, Vec<u8>>> {
    package::decode(buf)
}

/// The files of an in-memory store that belong in a package: lock and temporary files, and any
/// path a package may not hold, are left out.
fn packable(files: &BTreeMap<String, Vec<u8>>) -> Vec<(&str, &[u8])> {
    files
        .iter()
        .filter(|(p, _)| !p.starts_with('.') && !p.ends_with(".tmp") && package::check_path(p).is_ok())
        .map(|(p, d)| (p.as_str(), d.as_slice()))
        .collect()
}

/// Writes `files` as a package with the given compression (see [`packable`] for what is kept).
pub fn encode_with(files: &BTreeMap<String, Vec<u8>>, compression: Compression) -> Result<Vec<u8>> {
    package::build(&packable(files), compression)
}

/// Writes `files` as an uncompressed package (lock and temporary files are skipped).
pub fn encode(files: &BTreeMap<String, Vec<u8>>) -> Vec<u8> {
    // Cannot fail: every kept path passed `check_path`, a map has no duplicates, and writing
    // into a `Vec` has no I/O error. An empty result would be refused as a package anyway.
    encode_with(files, Compression::None).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_hostile_input() {
        let mut files = BTreeMap::new();
        files.insert("metadata.npkm".to_string(), vec![1, 2, 3]);
        files.insert("data_a.npkd".to_string(), vec![]);
        let pkg = encode(&files);
        assert_eq!(decode(&pkg).unwrap(), files);
        for cut in 0..pkg.len() {
            assert!(decode(&pkg[..cut]).is_err());
        }
        let mut bad = pkg.clone();
        let last = bad.len() - 6;
        bad[last] ^= 1;
        assert!(decode(&bad).is_err());
    }

    #[test]
    fn lock_and_temporary_files_are_left_out_and_zstd_is_read() {
        let mut files = BTreeMap::new();
        files.insert("metadata.npkm".to_string(), b"catalogue ".repeat(100));
        files.insert(".numpack.lock".to_string(), vec![]);
        files.insert("metadata.npkm.tmp".to_string(), vec![1]);
        files.insert("data_a_segments/seg_000000.npkd".to_string(), vec![7; 5000]);
        let pkg = encode_with(&files, Compression::Zstd).unwrap();
        let back = decode(&pkg).unwrap();
        assert_eq!(back.keys().collect::<Vec<_>>(), ["data_a_segments/seg_000000.npkd", "metadata.npkm"]);
        assert_eq!(back["metadata.npkm"], files["metadata.npkm"]);
        assert!(pkg.len() < 1000, "both files compress");
    }
}
