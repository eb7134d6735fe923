//! A whole store folder made of arbitrary files (catalogue, journal, data, bitmaps, a segment
//! manifest and segments, leftovers): open it (which finishes any journal), read every array,
//! try a write, and open it again. Errors are fine; a panic, an abort or a hang is a bug.
#![no_main]
use libfuzzer_sys::fuzz_target;
use numpack_core::{DType, Io, MemIo, NewArray, Selection, Store};

/// The file names the fuzzer's bytes are dealt into.
const FILES: [&str; 10] = [
    "metadata.npkm",
    "commit.npkj",
    "data_a.npkd",
    "deleted_a.npkb",
    "data_b.npkseg",
    "data_b_segments/seg_000000.npkd",
    "deleted_b.npkb",
    "data_c.npkd",
    "metadata.npkm.tmp",
    "data_a.npkd.tmp",
];

fuzz_target!(|data: &[u8]| {
    let io = MemIo::new();
    // Input: repeated [file index, length (u16 LE), bytes].
    let mut rest = data;
    while let [which, lo, hi, tail @ ..] = rest {
        let len = (u16::from_le_bytes([*lo, *hi]) as usize).min(tail.len());
        let _ = io.write_file(FILES[*which as usize % FILES.len()], &tail[..len]);
        rest = &tail[len..];
    }
    let Ok(mut store) = Store::open(io.clone()) else { return };
    for info in store.infos().unwrap_or_default() {
        let _ = store.read_selection(&info.name, &Selection::Slice { start: None, stop: Some(1 << 12), step: 1 });
        let _ = store.read_selection(&info.name, &Selection::Indices(vec![-1, 0, 3]));
        let _ = store.read_selection(&info.name, &Selection::Slice { start: None, stop: None, step: -7 });
        let _ = store.drop_rows(&info.name, &Selection::Indices(vec![0]));
        if info.shape.len() == 1 && info.dtype == DType::Uint8 {
            let _ = store.append(&info.name, DType::Uint8, &[2], &[1, 2]);
        }
        let _ = store.compact(&info.name);
    }
    let _ = store.save(&[NewArray { name: "z", dtype: DType::Int8, shape: &[1], data: &[1] }]);
    drop(store);
    let _ = Store::open(io);
});
