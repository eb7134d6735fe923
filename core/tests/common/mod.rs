//! Helpers shared by the store tests: a plain in-memory model of a store and a comparison.

#![allow(dead_code)]

pub mod crashing;

use numpack_core::{DType, Error, Io, LockMode, MemIo, Result, Store};

/// One array of the model: dtype, shape and its logical rows as bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelArray {
    pub dtype: DType,
    /// Shape without the leading (row) dimension.
    pub row_shape: Vec<u64>,
    pub rows: Vec<Vec<u8>>,
}

impl ModelArray {
    pub fn row_bytes(&self) -> usize {
        (self.row_shape.iter().product::<u64>() * self.dtype.itemsize()) as usize
    }

    pub fn shape(&self) -> Vec<u64> {
        let mut s = vec![self.rows.len() as u64];
        s.extend_from_slice(&self.row_shape);
        s
    }

    pub fn flat(&self) -> Vec<u8> {
        self.rows.concat()
    }
}

/// The model: arrays in creation order.
pub type Model = Vec<(String, ModelArray)>;

pub fn model_get<'a>(m: &'a Model, name: &str) -> Option<&'a ModelArray> {
    m.iter().find(|(n, _)| n == name).map(|(_, a)| a)
}

pub fn model_get_mut<'a>(m: &'a mut Model, name: &str) -> Option<&'a mut ModelArray> {
    m.iter_mut().find(|(n, _)| n == name).map(|(_, a)| a)
}

/// Asserts that the store holds exactly the model: names in order, dtypes, shapes, bytes.
pub fn assert_matches<I: Io>(store: &mut Store<I>, model: &Model) {
    let names = store.names().expect("names");
    let want: Vec<&str> = model.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, want, "array names");
    for (name, arr) in model {
        let info = store.info(name).expect("info");
        assert_eq!(info.dtype, arr.dtype, "{name} dtype");
        assert_eq!(info.shape, arr.shape(), "{name} shape");
        let mut out = vec![0u8; arr.rows.len() * arr.row_bytes()];
        store
            .read_range(name, 0, arr.rows.len() as u64, &mut out)
            .expect("read_range");
        assert!(out == arr.flat(), "{name} contents differ");
    }
}

/// Deterministic pseudo-random bytes (xorshift), so failures reproduce.
pub fn bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// MemIo whose removal of files named `path` (or, for `""`, of every file) fails with `kind`:
/// a process killed right after a commit point, or a folder that is read-only to us.
pub struct RemoveFails {
    pub inner: MemIo,
    pub path: &'static str,
    pub kind: std::io::ErrorKind,
}

impl Io for RemoveFails {
    fn read_at(&self, p: &str, o: u64, b: &mut [u8]) -> Result<()> {
        self.inner.read_at(p, o, b)
    }
    fn write_at(&self, p: &str, o: u64, d: &[u8]) -> Result<()> {
        self.inner.write_at(p, o, d)
    }
    fn len(&self, p: &str) -> Result<Option<u64>> {
        self.inner.len(p)
    }
    fn set_len(&self, p: &str, l: u64) -> Result<()> {
        self.inner.set_len(p, l)
    }
    fn sync(&self, p: &str) -> Result<()> {
        self.inner.sync(p)
    }
    fn rename(&self, f: &str, t: &str) -> Result<()> {
        self.inner.rename(f, t)
    }
    fn remove(&self, p: &str) -> Result<()> {
        if self.path.is_empty() || p == self.path {
            return Err(Error::Io(std::io::Error::new(self.kind, "refused")));
        }
        self.inner.remove(p)
    }
    fn create_dir(&self, d: &str) -> Result<()> {
        self.inner.create_dir(d)
    }
    fn remove_dir(&self, d: &str) -> Result<()> {
        self.inner.remove_dir(d)
    }
    fn list(&self, d: &str) -> Result<Vec<String>> {
        self.inner.list(d)
    }
    fn catalogue_stamp(&self) -> Result<Option<u64>> {
        self.inner.catalogue_stamp()
    }
    fn now_micros(&self) -> u64 {
        self.inner.now_micros()
    }
    fn lock(&self, m: LockMode) -> Result<()> {
        self.inner.lock(m)
    }
}
