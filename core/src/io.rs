//! The storage interface the store runs over. A store is a flat folder of files addressed by
//! relative paths with `/` separators (one level of sub-folder is used by segmented arrays).
//!
//! Implementations: [`crate::MemIo`] (memory), the file system with memmap2 (native crate),
//! OPFS and Node's fs (wasm crate). Each method is small enough to implement in a few lines.

use crate::error::Result;

/// Whether a lock excludes everybody else or only writers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockMode {
    /// Readers share the lock; a writer waits for them.
    Shared,
    /// One writer, nobody else.
    Exclusive,
}

/// File operations the store needs. Paths are relative to the store folder.
pub trait Io {
    /// Fills `buf` from `path` at `offset`; a file too short for it is an error.
    fn read_at(&self, path: &str, offset: u64, buf: &mut [u8]) -> Result<()>;

    /// Writes `data` into `path` at `offset`, creating the file or extending it as needed.
    fn write_at(&self, path: &str, offset: u64, data: &[u8]) -> Result<()>;

    /// Overwrites byte ranges `(offset, bytes)`, in offset order, inside the length of the
    /// existing file `path`, in place: the rows of a replace, or the changed words of a deletion
    /// bitmap once its journal is committed. The file's length does not change. A back end MAY
    /// write through a shared mapping of the file; the default is [`Io::write_at`] per range.
    fn overwrite(&self, path: &str, writes: &[(u64, &[u8])]) -> Result<()> {
        for &(offset, data) in writes {
            self.write_at(path, offset, data)?;
        }
        Ok(())
    }

    /// Creates or truncates `path` and writes `data` as its whole content (not atomic: the store
    /// uses it for temporary files only, then [`Io::rename`]s them into place).
    fn write_file(&self, path: &str, data: &[u8]) -> Result<()> {
        self.set_len(path, 0)?;
        self.write_at(path, 0, data)
    }

    /// The length of `path` in bytes, or `None` if it does not exist.
    fn len(&self, path: &str) -> Result<Option<u64>>;

    /// Creates `path` if needed and sets its length, zero-filling any growth.
    fn set_len(&self, path: &str, len: u64) -> Result<()>;

    /// Makes `path` durable against power loss (`""` means the folder itself).
    fn sync(&self, path: &str) -> Result<()>;

    /// Moves `from` to `to`, atomically replacing `to` if it exists.
    fn rename(&self, from: &str, to: &str) -> Result<()>;

    /// The commit point of a commit without a journal: moves the staged catalogue `staged` over
    /// the committed one `committed`, atomically. A back end MAY exchange the two instead (the
    /// old catalogue is then left at `staged`, which the next commit overwrites and an open
    /// removes as a leftover); the default is [`Io::rename`]. A journaled commit calls it only
    /// when its journal rewrites `staged` before renaming it (a patched row drop); otherwise
    /// recovery could rename a left-behind old catalogue back.
    fn replace_catalogue(&self, staged: &str, committed: &str) -> Result<()> {
        self.rename(staged, committed)
    }

    /// Removes the file `path`; a missing file is not an error.
    fn remove(&self, path: &str) -> Result<()>;

    /// Creates the folder `dir` (and does nothing if it exists).
    fn create_dir(&self, dir: &str) -> Result<()>;

    /// Removes the empty folder `dir`; a missing folder is not an error.
    fn remove_dir(&self, dir: &str) -> Result<()>;

    /// The names of the files in folder `dir` (`""` for the store folder), in any order.
    fn list(&self, dir: &str) -> Result<Vec<String>>;

    /// A token that changes whenever the committed catalogue (`metadata.npkm`) is replaced, or
    /// `None` if there is none. The store re-reads its catalogue when the token changes; a back
    /// end that caches files or mappings drops them when it sees a token it did not produce
    /// (another process committed).
    fn catalogue_stamp(&self) -> Result<Option<u64>>;

    /// The current time in microseconds since the Unix epoch (the store has no clock of its own).
    fn now_micros(&self) -> u64;

    /// Takes the store-wide lock that serialises writers across processes; blocks until it is
    /// free. Back ends with a single user implement it as a no-op.
    fn lock(&self, mode: LockMode) -> Result<()> {
        let _ = mode;
        Ok(())
    }

    /// Releases the lock taken by [`Io::lock`].
    fn unlock(&self) {}

    /// Reads the whole of `path`, or `None` if it does not exist. `limit` caps the size the
    /// caller is ready to accept: a larger file is an error, not an allocation.
    fn read_file(&self, path: &str, limit: u64) -> Result<Option<Vec<u8>>> {
        let Some(len) = self.len(path)? else {
            return Ok(None);
        };
        if len > limit {
            return Err(crate::error::corrupt(format!(
                "{path} is {len} bytes, over the {limit}-byte limit"
            )));
        }
        let mut buf = crate::error::try_filled(len, 0u8, path)?;
        self.read_at(path, 0, &mut buf)?;
        Ok(Some(buf))
    }
}

impl<T: Io + ?Sized> Io for &T {
    fn read_at(&self, path: &str, offset: u64, buf: &mut [u8]) -> Result<()> {
        (**self).read_at(path, offset, buf)
    }
    fn write_at(&self, path: &str, offset: u64, data: &[u8]) -> Result<()> {
        (**self).write_at(path, offset, data)
    }
    fn overwrite(&self, path: &str, writes: &[(u64, &[u8])]) -> Result<()> {
        (**self).overwrite(path, writes)
    }
    fn write_file(&self, path: &str, data: &[u8]) -> Result<()> {
        (**self).write_file(path, data)
    }
    fn len(&self, path: &str) -> Result<Option<u64>> {
        (**self).len(path)
    }
    fn set_len(&self, path: &str, len: u64) -> Result<()> {
        (**self).set_len(path, len)
    }
    fn sync(&self, path: &str) -> Result<()> {
        (**self).sync(path)
    }
    fn rename(&self, from: &str, to: &str) -> Result<()> {
        (**self).rename(from, to)
    }
    fn replace_catalogue(&self, staged: &str, committed: &str) -> Result<()> {
        (**self).replace_catalogue(staged, committed)
    }
    fn remove(&self, path: &str) -> Result<()> {
        (**self).remove(path)
    }
    fn create_dir(&self, dir: &str) -> Result<()> {
        (**self).create_dir(dir)
    }
    fn remove_dir(&self, dir: &str) -> Result<()> {
        (**self).remove_dir(dir)
    }
    fn list(&self, dir: &str) -> Result<Vec<String>> {
        (**self).list(dir)
    }
    fn catalogue_stamp(&self) -> Result<Option<u64>> {
        (**self).catalogue_stamp()
    }
    fn now_micros(&self) -> u64 {
        (**self).now_micros()
    }
    fn lock(&self, mode: LockMode) -> Result<()> {
        (**self).lock(mode)
    }
    fn unlock(&self) {
        (**self).unlock()
    }
    fn read_file(&self, path: &str, limit: u64) -> Result<Option<Vec<u8>>> {
        (**self).read_file(path, limit)
    }
}
