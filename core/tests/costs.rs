//! Costs: replace of r rows writes just those rows; append of r rows writes them plus one
//! catalogue commit; neither rewrites the data file; dropping rows writes only the bitmap.

mod common;

use std::cell::RefCell;

use common::bytes;
use numpack_core::{DType, Io, LockMode, MemIo, NewArray, Result, Selection, Store};

/// Records every byte written, by file.
#[derive(Default)]
struct CountingIo {
    inner: MemIo,
    written: RefCell<Vec<(String, usize)>>,
}

impl CountingIo {
    fn take(&self) -> Vec<(String, usize)> {
        std::mem::take(&mut *self.written.borrow_mut())
    }
}

impl Io for CountingIo {
    fn read_at(&self, path: &str, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.inner.read_at(path, offset, buf)
    }
    fn write_at(&self, path: &str, offset: u64, data: &[u8]) -> Result<()> {
        self.written
            .borrow_mut()
            .push((path.to_string(), data.len()));
        self.inner.write_at(path, offset, data)
    }
    fn write_file(&self, path: &str, data: &[u8]) -> Result<()> {
        self.written
            .borrow_mut()
            .push((path.to_string(), data.len()));
        self.inner.write_file(path, data)
    }
    fn len(&self, path: &str) -> Result<Option<u64>> {
        self.inner.len(path)
    }
    fn set_len(&self, path: &str, len: u64) -> Result<()> {
        self.written
            .borrow_mut()
            .push((format!("set_len {path}"), 0));
        self.inner.set_len(path, len)
    }
    fn sync(&self, path: &str) -> Result<()> {
        self.inner.sync(path)
    }
    fn rename(&self, from: &str, to: &str) -> Result<()> {
        self.inner.rename(from, to)
    }
    fn remove(&self, path: &str) -> Result<()> {
        self.inner.remove(path)
    }
    fn create_dir(&self, dir: &str) -> Result<()> {
        self.inner.create_dir(dir)
    }
    fn remove_dir(&self, dir: &str) -> Result<()> {
        self.inner.remove_dir(dir)
    }
    fn list(&self, dir: &str) -> Result<Vec<String>> {
        self.inner.list(dir)
    }
    fn catalogue_stamp(&self) -> Result<Option<u64>> {
        self.inner.catalogue_stamp()
    }
    fn now_micros(&self) -> u64 {
        self.inner.now_micros()
    }
    fn lock(&self, mode: LockMode) -> Result<()> {
        self.inner.lock(mode)
    }
}

const ROWS: u64 = 100_000;
const ROW_BYTES: usize = 40;

fn data_bytes(log: &[(String, usize)]) -> usize {
    log.iter()
        .filter(|(p, _)| p.starts_with("data_"))
        .map(|(_, n)| n)
        .sum()
}

#[test]
fn replace_append_and_drop_write_only_what_changes() {
    let io = CountingIo::default();
    let mut store = Store::open(&io).unwrap();
    let data = bytes(1, ROWS as usize * ROW_BYTES);
    store
        .save(&[NewArray {
            name: "v",
            dtype: DType::Float32,
            shape: &[ROWS, 10],
            data: &data,
        }])
        .unwrap();
    assert_eq!(
        data_bytes(&io.take()),
        data.len(),
        "save writes the array once"
    );

    let picks: Vec<i64> = (0..100).map(|k| (k * 997) % ROWS as i64).collect();
    store
        .replace(
            "v",
            &Selection::Indices(picks),
            DType::Float32,
            &[100, 10],
            &bytes(2, 100 * ROW_BYTES),
        )
        .unwrap();
    let log = io.take();
    assert_eq!(
        data_bytes(&log),
        100 * ROW_BYTES,
        "replace writes only its rows: {log:?}"
    );
    assert!(
        log.iter()
            .all(|(p, n)| p.starts_with("data_") || (p.starts_with("metadata") && *n < 200))
    );

    store
        .append("v", DType::Float32, &[100, 10], &bytes(3, 100 * ROW_BYTES))
        .unwrap();
    let log = io.take();
    assert_eq!(
        data_bytes(&log),
        100 * ROW_BYTES,
        "append writes only its rows: {log:?}"
    );
    assert_eq!(
        log.len(),
        2,
        "append = rows + one catalogue commit: {log:?}"
    );

    store
        .drop_rows("v", &Selection::Indices(vec![5, 6]))
        .unwrap();
    let log = io.take();
    assert_eq!(
        data_bytes(&log),
        0,
        "drop does not touch the data file: {log:?}"
    );
    let bitmap_bytes: usize = log
        .iter()
        .filter(|(p, _)| p.starts_with("deleted_"))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(bitmap_bytes, 16 + 8 * (ROWS as usize + 100).div_ceil(64));
}
