//! An `Io` that "dies" at its k-th mutating call (write, set_len, sync, rename, remove, folder
//! change) and refuses every call after it, as a killed process would: the crash tests of
//! commits (crash.rs, stage.rs) run a call against it for every k.

use std::cell::Cell;

use numpack_core::{Error, Io, LockMode, MemIo, Result};

/// MemIo that fails its `fail_at`-th mutating call and every call after it.
pub struct CrashingIo {
    /// The files, as they are after the crash.
    pub inner: MemIo,
    /// Mutating calls made so far.
    pub calls: Cell<usize>,
    /// The mutating call that fails (1-based), and every call after it.
    pub fail_at: Cell<usize>,
}

impl CrashingIo {
    /// Over `inner`, failing the `fail_at`-th mutating call.
    pub fn new(inner: MemIo, fail_at: usize) -> CrashingIo {
        CrashingIo {
            inner,
            calls: Cell::new(0),
            fail_at: Cell::new(fail_at),
        }
    }

    fn tick(&self) -> Result<()> {
        let n = self.calls.get() + 1;
        self.calls.set(n);
        if n >= self.fail_at.get() {
            Err(Error::Io(std::io::Error::other(format!(
                "simulated crash at call {n}"
            ))))
        } else {
            Ok(())
        }
    }
    /// Whether the crash has happened.
    pub fn dead(&self) -> bool {
        self.calls.get() >= self.fail_at.get()
    }
    fn alive(&self) -> Result<()> {
        if self.dead() {
            Err(Error::Io(std::io::Error::other("process is dead")))
        } else {
            Ok(())
        }
    }
}

impl Io for CrashingIo {
    fn read_at(&self, path: &str, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.alive()?;
        self.inner.read_at(path, offset, buf)
    }
    fn write_at(&self, path: &str, offset: u64, data: &[u8]) -> Result<()> {
        self.tick()?;
        self.inner.write_at(path, offset, data)
    }
    fn write_file(&self, path: &str, data: &[u8]) -> Result<()> {
        self.tick()?;
        self.inner.write_file(path, data)
    }
    fn len(&self, path: &str) -> Result<Option<u64>> {
        self.alive()?;
        self.inner.len(path)
    }
    fn set_len(&self, path: &str, len: u64) -> Result<()> {
        self.tick()?;
        self.inner.set_len(path, len)
    }
    fn sync(&self, path: &str) -> Result<()> {
        self.tick()?;
        self.inner.sync(path)
    }
    fn rename(&self, from: &str, to: &str) -> Result<()> {
        self.tick()?;
        self.inner.rename(from, to)
    }
    fn remove(&self, path: &str) -> Result<()> {
        self.tick()?;
        self.inner.remove(path)
    }
    fn create_dir(&self, dir: &str) -> Result<()> {
        self.tick()?;
        self.inner.create_dir(dir)
    }
    fn remove_dir(&self, dir: &str) -> Result<()> {
        self.tick()?;
        self.inner.remove_dir(dir)
    }
    fn list(&self, dir: &str) -> Result<Vec<String>> {
        self.alive()?;
        self.inner.list(dir)
    }
    fn catalogue_stamp(&self) -> Result<Option<u64>> {
        self.alive()?;
        self.inner.catalogue_stamp()
    }
    fn now_micros(&self) -> u64 {
        self.inner.now_micros()
    }
    fn lock(&self, _mode: LockMode) -> Result<()> {
        self.alive()
    }
}
