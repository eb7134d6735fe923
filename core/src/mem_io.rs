//! [`MemIo`]: a store held entirely in memory. Clones share the same files, so a test can
//! "reopen" a store by building a new [`crate::Store`] over a clone.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::{Error, Result};
use crate::io::Io;

#[derive(Default)]
struct Files {
    files: BTreeMap<String, Vec<u8>>,
    dirs: BTreeSet<String>,
    stamps: BTreeMap<String, u64>,
    next_stamp: u64,
    clock: u64,
}

impl Files {
    fn touch(&mut self, path: &str) {
        self.next_stamp += 1;
        self.stamps.insert(path.to_string(), self.next_stamp);
    }
}

/// An in-memory [`Io`]: a map from path to bytes. Cheap to clone; clones share the files.
#[derive(Clone, Default)]
pub struct MemIo {
    inner: Arc<Mutex<Files>>,
}

fn not_found(path: &str) -> Error {
    Error::Io(std::io::Error::new(
        std::io::ErrorKind::NotFound,
        format!("{path}: no such file"),
    ))
}

fn parent_of(path: &str) -> &str {
    path.rsplit_once('/').map(|(dir, _)| dir).unwrap_or("")
}

impl MemIo {
    /// An empty in-memory store folder.
    pub fn new() -> MemIo {
        MemIo::default()
    }

    fn files(&self) -> MutexGuard<'_, Files> {
        // A panic while holding the lock cannot leave the map half-updated (every method
        // mutates with one call), so a poisoned lock is safe to keep using.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A copy of every file, for tests that compare or corrupt bytes.
    pub fn snapshot(&self) -> BTreeMap<String, Vec<u8>> {
        self.files().files.clone()
    }

    /// Replaces every file with `files` (tests use it to plant corrupt or foreign stores).
    pub fn restore(&self, files: BTreeMap<String, Vec<u8>>) {
        let mut f = self.files();
        f.dirs = files
            .keys()
            .filter(|p| p.contains('/'))
            .map(|p| parent_of(p).to_string())
            .collect();
        f.files = files;
        let paths: Vec<String> = f.files.keys().cloned().collect();
        for p in paths {
            f.touch(&p);
        }
    }

    fn check_dir(f: &Files, path: &str) -> Result<()> {
        let dir = parent_of(path);
        if dir.is_empty() || f.dirs.contains(dir) {
            Ok(())
        } else {
            Err(not_found(dir))
        }
    }
}

impl Io for MemIo {
    fn read_at(&self, path: &str, offset: u64, buf: &mut [u8]) -> Result<()> {
        let f = self.files();
        let data = f.files.get(path).ok_or_else(|| not_found(path))?;
        let start = usize::try_from(offset).ok().filter(|&s| s <= data.len());
        let end = start
            .and_then(|s| s.checked_add(buf.len()))
            .filter(|&e| e <= data.len());
        match (start, end) {
            (Some(s), Some(e)) => {
                buf.copy_from_slice(&data[s..e]);
                Ok(())
            }
            _ => Err(Error::Io(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("{path}: read past the end"),
            ))),
        }
    }

    fn write_at(&self, path: &str, offset: u64, data: &[u8]) -> Result<()> {
        let mut f = self.files();
        Self::check_dir(&f, path)?;
        let start = usize::try_from(offset)
            .map_err(|_| Error::InvalidArgument("offset too large".into()))?;
        let end = start
            .checked_add(data.len())
            .ok_or_else(|| Error::InvalidArgument("offset too large".into()))?;
        let file = f.files.entry(path.to_string()).or_default();
        if file.len() < end {
            file.resize(end, 0);
        }
        file[start..end].copy_from_slice(data);
        f.touch(path);
        Ok(())
    }

    fn len(&self, path: &str) -> Result<Option<u64>> {
        Ok(self.files().files.get(path).map(|d| d.len() as u64))
    }

    fn set_len(&self, path: &str, len: u64) -> Result<()> {
        let mut f = self.files();
        Self::check_dir(&f, path)?;
        let len =
            usize::try_from(len).map_err(|_| Error::InvalidArgument("length too large".into()))?;
        f.files.entry(path.to_string()).or_default().resize(len, 0);
        f.touch(path);
        Ok(())
    }

    fn sync(&self, _path: &str) -> Result<()> {
        Ok(())
    }

    fn rename(&self, from: &str, to: &str) -> Result<()> {
        let mut f = self.files();
        Self::check_dir(&f, to)?;
        let data = f.files.remove(from).ok_or_else(|| not_found(from))?;
        f.files.insert(to.to_string(), data);
        f.stamps.remove(from);
        f.touch(to);
        Ok(())
    }

    fn remove(&self, path: &str) -> Result<()> {
        let mut f = self.files();
        f.files.remove(path);
        f.stamps.remove(path);
        Ok(())
    }

    fn create_dir(&self, dir: &str) -> Result<()> {
        self.files().dirs.insert(dir.to_string());
        Ok(())
    }

    fn remove_dir(&self, dir: &str) -> Result<()> {
        let mut f = self.files();
        let prefix = format!("{dir}/");
        if f.files.keys().any(|p| p.starts_with(&prefix)) {
            return Err(Error::Io(std::io::Error::other(format!(
                "{dir}: folder not empty"
            ))));
        }
        f.dirs.remove(dir);
        Ok(())
    }

    fn list(&self, dir: &str) -> Result<Vec<String>> {
        let f = self.files();
        if !dir.is_empty() && !f.dirs.contains(dir) {
            return Err(not_found(dir));
        }
        Ok(f.files
            .keys()
            .filter(|p| parent_of(p) == dir)
            .map(|p| p.rsplit('/').next().unwrap_or(p).to_string())
            .collect())
    }

    fn catalogue_stamp(&self) -> Result<Option<u64>> {
        Ok(self
            .files()
            .stamps
            .get(crate::format::METADATA_FILE)
            .copied())
    }

    fn now_micros(&self) -> u64 {
        // A deterministic clock: tests compare bytes, so time must not depend on the wall.
        let mut f = self.files();
        f.clock += 1;
        1_700_000_000_000_000 + f.clock
    }
}
