//! Open files and shared mappings of a store's data files, kept between calls so that a lazy
//! load or a row replacement costs no `open`/`mmap`. Entries are dropped whenever their path
//! is renamed over, removed or shrunk, and all of them when another process commits; a
//! [`Mapping`] handed out stays valid on its own (it keeps the old file's pages alive).

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::path::Path;
use std::sync::Arc;

use memmap2::{MmapOptions, MmapRaw};

/// A shared mapping of a whole file (as long as it was when mapped).
pub struct Mapping {
    raw: MmapRaw,
    writable: bool,
}

impl Mapping {
    /// Maps `file` shared, writable if `writable` (the file must then be open for writing).
    pub fn new(file: &File, writable: bool) -> std::io::Result<Mapping> {
        let raw = if writable {
            MmapOptions::new().map_raw(file)?
        } else {
            MmapOptions::new().map_raw_read_only(file)?
        };
        Ok(Mapping { raw, writable })
    }

    /// Mapped bytes.
    pub fn len(&self) -> usize {
        self.raw.len()
    }

    /// Whether nothing is mapped.
    pub fn is_empty(&self) -> bool {
        self.raw.len() == 0
    }

    /// Whether writes through [`Mapping::as_mut_ptr`] are allowed.
    pub fn writable(&self) -> bool {
        self.writable
    }

    /// The first mapped byte.
    pub fn as_ptr(&self) -> *const u8 {
        self.raw.as_ptr()
    }

    /// The first mapped byte, for writing (only if [`Mapping::writable`]).
    pub fn as_mut_ptr(&self) -> *mut u8 {
        self.raw.as_mut_ptr()
    }

    /// Copies `out.len()` bytes from `offset`; false if the range is not mapped.
    pub fn read(&self, offset: u64, out: &mut [u8]) -> bool {
        let Some(end) = offset.checked_add(out.len() as u64) else {
            return false;
        };
        if end > self.len() as u64 {
            return false;
        }
        // SAFETY: the range is inside the mapping, which lives as long as `self`; the
        // destination is a distinct Rust buffer.
        unsafe {
            std::ptr::copy_nonoverlapping(
                self.as_ptr().add(offset as usize),
                out.as_mut_ptr(),
                out.len(),
            )
        };
        true
    }

    /// Copies `data` to `offset`; false if the mapping is read-only or the range not mapped.
    pub fn write(&self, offset: u64, data: &[u8]) -> bool {
        let Some(end) = offset.checked_add(data.len() as u64) else {
            return false;
        };
        if !self.writable || end > self.len() as u64 {
            return false;
        }
        // SAFETY: the range is inside a writable shared mapping that lives as long as `self`;
        // the source is a distinct Rust buffer. Concurrent readers of the same pages see
        // bytes, never invalid Rust values.
        unsafe {
            std::ptr::copy_nonoverlapping(
                data.as_ptr(),
                self.as_mut_ptr().add(offset as usize),
                data.len(),
            )
        };
        true
    }
}

/// Open files and mappings by store-relative path.
#[derive(Default)]
pub struct Cache {
    /// Open files, with whether each was opened for writing.
    files: HashMap<String, (Arc<File>, bool)>,
    maps: HashMap<String, Arc<Mapping>>,
}

/// Opens `path` for reading and writing if allowed, else read-only; returns whether writable.
pub fn open_rw(path: &Path) -> std::io::Result<(File, bool)> {
    match OpenOptions::new().read(true).write(true).open(path) {
        Ok(f) => Ok((f, true)),
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EACCES) | Some(libc::EROFS) | Some(libc::EPERM)
            ) =>
        {
            Ok((File::open(path)?, false))
        }
        Err(e) => Err(e),
    }
}

impl Cache {
    /// Forgets everything (another process committed: any path may now be a different file).
    pub fn clear(&mut self) {
        self.files.clear();
        self.maps.clear();
    }

    /// Forgets `path` (renamed over, removed or resized).
    pub fn forget(&mut self, path: &str) {
        self.files.remove(path);
        self.maps.remove(path);
    }

    /// The open file `rel` (at `full`), opening it if needed.
    pub fn file(&mut self, rel: &str, full: &Path) -> std::io::Result<Arc<File>> {
        if let Some((f, _)) = self.files.get(rel) {
            return Ok(f.clone());
        }
        let (f, writable) = open_rw(full)?;
        let f = Arc::new(f);
        self.files.insert(rel.to_string(), (f.clone(), writable));
        Ok(f)
    }

    /// The cached file `rel` if it was opened for writing (the caller checks that the name
    /// still leads to it).
    pub fn writable_file(&self, rel: &str) -> Option<Arc<File>> {
        self.files
            .get(rel)
            .filter(|(_, writable)| *writable)
            .map(|(f, _)| f.clone())
    }

    /// Caches `file`, opened for writing, as `rel` (forgetting any mapping of `rel`).
    pub fn put_writable(&mut self, rel: &str, file: Arc<File>) {
        self.maps.remove(rel);
        self.files.insert(rel.to_string(), (file, true));
    }

    /// `from` was renamed to `to`: the open file of `from` is now `to`'s (mappings of both
    /// are forgotten).
    pub fn renamed(&mut self, from: &str, to: &str) {
        self.maps.remove(from);
        self.maps.remove(to);
        match self.files.remove(from) {
            Some(f) => self.files.insert(to.to_string(), f),
            None => self.files.remove(to),
        };
    }

    /// `a` and `b` were exchanged: each name's open file is now the other's.
    pub fn exchanged(&mut self, a: &str, b: &str) {
        self.maps.remove(a);
        self.maps.remove(b);
        let fa = self.files.remove(a);
        if let Some(fb) = self.files.remove(b) {
            self.files.insert(a.to_string(), fb);
        }
        if let Some(fa) = fa {
            self.files.insert(b.to_string(), fa);
        }
    }

    /// A mapping of `rel` covering at least `min_len` bytes (remapped if the file grew), or
    /// `None` if the file is shorter than that.
    pub fn map(
        &mut self,
        rel: &str,
        full: &Path,
        min_len: u64,
    ) -> std::io::Result<Option<Arc<Mapping>>> {
        if let Some(m) = self.maps.get(rel)
            && m.len() as u64 >= min_len
        {
            return Ok(Some(m.clone()));
        }
        let (file, writable) = open_rw(full)?;
        if file.metadata()?.len() < min_len || min_len == 0 {
            return Ok(None);
        }
        let m = Arc::new(Mapping::new(&file, writable)?);
        self.maps.insert(rel.to_string(), m.clone());
        Ok(Some(m))
    }

    /// The cached mapping of `rel`, if any.
    pub fn cached_map(&self, rel: &str) -> Option<&Arc<Mapping>> {
        self.maps.get(rel)
    }
}
