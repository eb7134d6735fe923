//! Corruption test: every truncation and every single-bit flip of `metadata.npkm`, a deletion
//! bitmap, a segment manifest and a commit journal gives an error or a readable store — never a
//! panic, never an allocation larger than the file justifies.

mod common;

use std::collections::BTreeMap;

use common::bytes;
use numpack_core::format::journal::{self, Step};
use numpack_core::{DType, Error, MemIo, NewArray, Selection, Store};

/// A small store with a plain array, a bitmap and a segmented array.
fn sample() -> BTreeMap<String, Vec<u8>> {
    let io = MemIo::new();
    let mut store = Store::open(io.clone()).unwrap();
    store
        .save(&[
            NewArray {
                name: "a",
                dtype: DType::Float32,
                shape: &[3, 2],
                data: &bytes(1, 24),
            },
            NewArray {
                name: "b",
                dtype: DType::Int16,
                shape: &[70],
                data: &bytes(2, 140),
            },
        ])
        .unwrap();
    store
        .drop_rows("b", &Selection::Indices(vec![1, 65]))
        .unwrap();
    let mut files = io.snapshot();
    files.insert("data_s_segments/seg_000000.npkd".into(), bytes(3, 8));
    files.insert(
        "data_s.npkseg".into(),
        br#"{"version":1,"segments":[{"file":"data_s_segments/seg_000000.npkd","rows":2,"bytes":8}]}"#.to_vec(),
    );
    // Append a record for the segmented array "s" (u8, 2×4) to the catalogue.
    let meta = files.get_mut("metadata.npkm").unwrap();
    meta[16] = 3; // array_count
    let total = u64::from_le_bytes(meta[8..16].try_into().unwrap()) + 8;
    meta[8..16].copy_from_slice(&total.to_le_bytes());
    let mut rec = Vec::new();
    rec.extend_from_slice(&1u32.to_le_bytes());
    rec.push(b's');
    rec.extend_from_slice(&2u32.to_le_bytes());
    rec.extend_from_slice(&2u64.to_le_bytes());
    rec.extend_from_slice(&4u64.to_le_bytes());
    rec.extend_from_slice(&13u32.to_le_bytes());
    rec.extend_from_slice(b"data_s.npkseg");
    rec.extend_from_slice(&7u64.to_le_bytes());
    rec.extend_from_slice(&8u64.to_le_bytes());
    rec.extend_from_slice(&[1, 0]);
    rec.extend_from_slice(&[0; 4 + 8 + 8 + 1]);
    meta.extend_from_slice(&rec);
    files
}

/// Opens and reads everything; returns whether it all worked. Panics propagate (test fails).
fn open_and_read(files: &BTreeMap<String, Vec<u8>>) -> bool {
    let io = MemIo::new();
    io.restore(files.clone());
    let Ok(mut store) = Store::open(io) else {
        return false;
    };
    let Ok(infos) = store.infos() else {
        return false;
    };
    infos.iter().all(|info| {
        let rows = info.shape[0];
        let rb = info.shape[1..].iter().product::<u64>() * info.dtype.itemsize();
        let mut out = vec![0u8; (rows * rb) as usize];
        store.read_range(&info.name, 0, rows, &mut out).is_ok()
    })
}

fn mangle(file: &str, must_fail_on_truncation: bool) {
    let good = sample();
    assert!(open_and_read(&good), "the sample store must be readable");
    let original = good[file].clone();
    for cut in 0..original.len() {
        let mut files = good.clone();
        files.insert(file.into(), original[..cut].to_vec());
        let ok = open_and_read(&files);
        if must_fail_on_truncation {
            assert!(!ok, "{file} cut to {cut} bytes must be rejected");
        }
    }
    for bit in 0..original.len() * 8 {
        let mut files = good.clone();
        files.get_mut(file).unwrap()[bit / 8] ^= 1 << (bit % 8);
        let _ = open_and_read(&files);
    }
}

#[test]
fn mangled_metadata_never_panics() {
    mangle("metadata.npkm", true);
}

#[test]
fn mangled_bitmap_never_panics() {
    mangle("deleted_b.npkb", false);
}

#[test]
fn mangled_manifest_never_panics() {
    mangle("data_s.npkseg", true);
}

#[test]
fn mangled_journal_never_panics_and_never_escapes() {
    let mut good = sample();
    good.insert("data_a.npkd.tmp".into(), bytes(9, 24));
    let steps = vec![
        Step::Rename {
            from: "data_a.npkd.tmp".into(),
            to: "data_a.npkd".into(),
        },
        Step::Remove("deleted_b.npkb".into()),
    ];
    let raw = journal::encode(&steps).unwrap();
    for cut in 0..raw.len() {
        let mut files = good.clone();
        files.insert("commit.npkj".into(), raw[..cut].to_vec());
        assert!(
            !open_and_read(&files),
            "a journal cut to {cut} bytes must be rejected"
        );
    }
    for bit in 0..raw.len() * 8 {
        let mut files = good.clone();
        let mut j = raw.clone();
        j[bit / 8] ^= 1 << (bit % 8);
        files.insert("commit.npkj".into(), j);
        let _ = open_and_read(&files);
    }
    let mut files = good.clone();
    files.insert("commit.npkj".into(), raw);
    assert!(
        open_and_read(&files),
        "an intact journal is finished on open"
    );
}

#[test]
fn hostile_sizes_are_rejected_without_allocating() {
    let good = sample();
    // array_count = u32::MAX
    let mut files = good.clone();
    files.get_mut("metadata.npkm").unwrap()[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(!open_and_read(&files));
    // a name length of 4 GiB
    let mut files = good.clone();
    files.get_mut("metadata.npkm").unwrap()[20..24].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(!open_and_read(&files));
    // a data file shorter than shape × itemsize
    let mut files = good.clone();
    files.get_mut("data_a.npkd").unwrap().pop();
    let io = MemIo::new();
    io.restore(files);
    assert!(matches!(Store::open(io), Err(Error::Corrupt(_))));
    // a data file longer than recorded is the tail of an uncommitted append: still readable
    let mut files = good.clone();
    files
        .get_mut("data_a.npkd")
        .unwrap()
        .extend_from_slice(&[0; 8]);
    assert!(open_and_read(&files));
    // a missing segment file
    let mut files = good;
    files.remove("data_s_segments/seg_000000.npkd");
    assert!(!open_and_read(&files));
}
