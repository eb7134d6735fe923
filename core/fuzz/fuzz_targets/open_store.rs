//! A store whose catalogue is arbitrary bytes (beside a few valid files): open and read all.
#![no_main]
use libfuzzer_sys::fuzz_target;
use numpack_core::{Io, MemIo, Store};

fuzz_target!(|data: &[u8]| {
    let io = MemIo::new();
    let _ = io.write_file("metadata.npkm", data);
    let _ = io.write_file("data_a.npkd", &[0u8; 64]);
    let _ = io.write_file("deleted_a.npkb", &[3, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0]);
    if let Ok(mut store) = Store::open(io) {
        for info in store.infos().unwrap_or_default() {
            let rows = info.shape.first().copied().unwrap_or(1).min(1 << 16);
            let rb = info.shape.iter().skip(1).product::<u64>().saturating_mul(info.dtype.itemsize());
            if let Some(n) = rows.checked_mul(rb).filter(|&n| n < 1 << 24) {
                let mut out = vec![0u8; n as usize];
                let _ = store.read_range(&info.name, 0, rows, &mut out);
            }
        }
    }
});
