//! The file-system [`Io`]: positional reads and writes, in-place overwrites through a cached
//! shared writable mapping of each file, preallocated whole-file writes, atomic renames, `flock`
//! locking and stamps from `stat`.
//!
//! Durability: a write into a shared mapping or through `pwrite` is in the page cache when the
//! call returns, so it survives the process being killed; [`numpack_core::Options::durable`]
//! makes the store call [`Io::sync`] (fsync) as well, for power loss.

use std::fs::{self, File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use numpack_core::format::{LOCK_FILE, METADATA_FILE};
use numpack_core::{Error, Io, LockMode, Result};

use crate::lock::StoreLock;
use crate::mmap_cache::{Cache, Mapping};

/// Files at least this large are preallocated before they are written (a plain truncate and
/// write of 40 MB costs 3–4× more on ext4 than `fallocate` then write).
const PREALLOCATE_BYTES: usize = 1 << 20;

/// Data files at least this big that a rename replaces are released on a background thread.
const RELEASE_IN_BACKGROUND_BYTES: u64 = 4 << 20;

/// A store folder on the local file system.
pub struct FsIo {
    root: PathBuf,
    lock: StoreLock,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    cache: Cache,
    /// The stamp of `metadata.npkm` as we last saw or wrote it; a different one means another
    /// process committed, and every cached file or mapping may be stale.
    meta_stamp: Option<Option<u64>>,
    /// Whether `meta_stamp` is the stamp of the catalogue this call just committed: set by
    /// [`Io::replace_catalogue`] (the writer holds the exclusive lock, so nobody can change it
    /// before the lock is released), cleared by every lock and unlock and by any other change of
    /// `metadata.npkm`, so the
    /// commit's closing [`Io::catalogue_stamp`] needs no second `stat`.
    stamp_fresh: bool,
    /// Big data files a rename replaced, still open; closed off-thread when the call ends.
    replaced: Vec<File>,
}

/// `renameat2(from, to, flags)`: 0, or -1 with the error in `errno`.
fn renameat2(from: &Path, to: &Path, flags: libc::c_uint) -> Result<libc::c_long> {
    let c = |p: &Path| {
        std::ffi::CString::new(p.as_os_str().as_bytes())
            .map_err(|_| Error::InvalidName(format!("{p:?}")))
    };
    let (f, t) = (c(from)?, c(to)?);
    // SAFETY: both are NUL-terminated paths that live across the call; the syscall has no
    // memory effects on our side.
    Ok(unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            f.as_ptr(),
            libc::AT_FDCWD,
            t.as_ptr(),
            flags,
        )
    })
}

/// Renames `from` to `to` if nothing is at `to` (one syscall, and nothing to free); `false` if
/// something is, or where the file system has no `RENAME_NOREPLACE`.
fn rename_if_free(from: &Path, to: &Path) -> Result<bool> {
    if renameat2(from, to, libc::RENAME_NOREPLACE)? == 0 {
        return Ok(true);
    }
    let err = std::io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EEXIST) | Some(libc::EINVAL) | Some(libc::ENOSYS) | Some(libc::EOPNOTSUPP) => {
            Ok(false)
        }
        _ => Err(err.into()),
    }
}

fn not_found(err: &std::io::Error) -> bool {
    err.kind() == std::io::ErrorKind::NotFound
}

/// Turns a short read into the store's "corrupt" error (a file shorter than the catalogue says).
fn read_error(path: &str, err: std::io::Error) -> Error {
    if err.kind() == std::io::ErrorKind::UnexpectedEof {
        Error::Corrupt(format!("{path} is shorter than the catalogue says"))
    } else {
        Error::Io(err)
    }
}

/// Mixes the identity and change times of a file into one token.
fn stamp_of(meta: &fs::Metadata) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for v in [
        meta.dev(),
        meta.ino(),
        meta.size(),
        meta.mtime() as u64,
        meta.mtime_nsec() as u64,
        meta.ctime() as u64,
        meta.ctime_nsec() as u64,
    ] {
        h = (h ^ v).wrapping_mul(0x0000_0100_0000_01b3);
        h ^= h >> 29;
    }
    h
}

impl FsIo {
    /// Opens the store folder `root`, creating it (and its parents) if needed.
    pub fn open(root: &Path) -> Result<FsIo> {
        if !root.is_dir() {
            fs::create_dir_all(root)?;
        }
        let lock = StoreLock::open(&root.join(LOCK_FILE))?;
        Ok(FsIo {
            root: root.to_path_buf(),
            lock,
            inner: Mutex::new(Inner::default()),
        })
    }

    /// The store folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The absolute path of a store-relative path; anything that could leave the folder is an
    /// error (the core validates names too; this is the last line of defence).
    fn full(&self, rel: &str) -> Result<PathBuf> {
        let p = Path::new(rel);
        if rel.as_bytes().contains(&0)
            || !p
                .components()
                .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return Err(Error::InvalidName(format!(
                "{rel:?} is not a path inside the store"
            )));
        }
        Ok(self.root.join(p))
    }

    /// A shared mapping of the data file `rel` covering at least `min_len` bytes, cached until
    /// the file is replaced. `None` when `min_len` is 0 (nothing to map).
    pub fn map(&self, rel: &str, min_len: u64) -> Result<Option<Arc<Mapping>>> {
        if min_len == 0 {
            return Ok(None);
        }
        let full = self.full(rel)?;
        match self.inner().cache.map(rel, &full, min_len)? {
            Some(m) => Ok(Some(m)),
            None => Err(Error::Corrupt(format!(
                "{rel} is shorter than the catalogue says"
            ))),
        }
    }

    fn forget(&self, rel: &str) {
        self.inner().cache.forget(rel);
    }

    fn open_file(&self, rel: &str) -> Result<Arc<File>> {
        let full = self.full(rel)?;
        Ok(self.inner().cache.file(rel, &full)?)
    }

    /// `renameat2(RENAME_EXCHANGE)` then unlink: the same atomic replacement as `rename`, but
    /// ext4 does not start writeback of the new file (its `auto_da_alloc` on rename-over costs
    /// ~100 µs per commit). `false` if the file system cannot exchange.
    fn exchange(&self, from: &Path, to: &Path) -> Result<bool> {
        let rc = renameat2(from, to, libc::RENAME_EXCHANGE)?;
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            return match err.raw_os_error() {
                Some(libc::EINVAL)
                | Some(libc::ENOSYS)
                | Some(libc::ENOENT)
                | Some(libc::EOPNOTSUPP) => Ok(false),
                _ => Err(err.into()),
            };
        }
        // The old catalogue now sits at `from`. We keep that inode: the next commit overwrites it
        // in place (`write_file`), so a commit creates and unlinks no inode (~100 µs each on
        // ext4 here). If we die first, the next open removes it as a leftover temporary file;
        // no journal is present, so nothing would rename it back.
        Ok(true)
    }

    fn current_meta_stamp(&self) -> Result<Option<u64>> {
        match fs::metadata(self.root.join(METADATA_FILE)) {
            Ok(m) => Ok(Some(stamp_of(&m))),
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

impl Io for FsIo {
    fn read_at(&self, path: &str, offset: u64, buf: &mut [u8]) -> Result<()> {
        if buf.is_empty() {
            return Ok(());
        }
        if let Some(m) = self.inner().cache.cached_map(path).cloned()
            && m.read(offset, buf)
        {
            return Ok(());
        }
        let file = self.open_file(path).map_err(|e| match e {
            Error::Io(io) if not_found(&io) => Error::Corrupt(format!("{path} is missing")),
            e => e,
        })?;
        file.read_exact_at(buf, offset)
            .map_err(|e| read_error(path, e))
    }

    fn write_at(&self, path: &str, offset: u64, data: &[u8]) -> Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        let file = self.open_file(path)?;
        file.write_all_at(data, offset)?;
        Ok(())
    }

    fn overwrite(&self, path: &str, writes: &[(u64, &[u8])]) -> Result<()> {
        let mut end = 0u64;
        for &(offset, data) in writes {
            let e = offset
                .checked_add(data.len() as u64)
                .ok_or_else(|| Error::InvalidArgument("write past 2^64".into()))?;
            end = end.max(e);
        }
        if end == 0 {
            return Ok(());
        }
        // Bytes of an existing file: copy them into the page cache through the mapping. A
        // pwrite per scattered row costs ~0.3 µs, and several µs where the file's pages are
        // large folios (ext4 walks every block of the folio); this costs a memcpy.
        let full = self.full(path)?;
        let mapped = self.inner().cache.map(path, &full, end)?;
        match mapped {
            Some(m) if m.writable() => {
                for &(offset, data) in writes {
                    if !m.write(offset, data) {
                        self.write_at(path, offset, data)?;
                    }
                }
                Ok(())
            }
            _ => writes
                .iter()
                .try_for_each(|&(offset, data)| self.write_at(path, offset, data)),
        }
    }

    fn write_file(&self, path: &str, data: &[u8]) -> Result<()> {
        let full = self.full(path)?;
        // The file this writer last wrote (or renamed) under `path`, if the name still leads to
        // it: one `fstat` instead of open, `fstat` and close. It does while the inode is
        // linked: a writer holds the exclusive lock here, another process's commit clears the
        // cache (`catalogue_stamp`), and whatever else moves a name away (an open removing
        // leftover temporary files, a rename over it) unlinks the inode we hold.
        let cached = self.inner().cache.writable_file(path);
        let reused = match cached {
            Some(f) => {
                let meta = f.metadata()?;
                (meta.nlink() > 0).then_some((f, meta.len()))
            }
            None => None,
        };
        let (file, len) = match reused {
            Some(found) => found,
            None => {
                // Overwrite, then cut what is left: truncating to zero first would make ext4
                // force the blocks out at close (its replace-by-truncate heuristic).
                let file = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .open(&full)?;
                let len = file.metadata()?.len();
                (Arc::new(file), len)
            }
        };
        self.inner().cache.put_writable(path, file.clone());
        if data.len() >= PREALLOCATE_BYTES {
            // SAFETY: fallocate on a descriptor we own; no memory effects. Failure (a file
            // system without it) only costs speed.
            unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, data.len() as libc::off_t) };
        }
        file.write_all_at(data, 0)?;
        if len > data.len() as u64 {
            file.set_len(data.len() as u64)?;
        }
        Ok(())
    }

    fn len(&self, path: &str) -> Result<Option<u64>> {
        match fs::metadata(self.full(path)?) {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn set_len(&self, path: &str, len: u64) -> Result<()> {
        let full = self.full(path)?;
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&full)?;
        let shrinks = file.metadata()?.len() > len;
        if shrinks {
            // Mappings handed out keep their pages; they never read past the committed size,
            // which is never below `len`.
            self.forget(path);
        }
        file.set_len(len)?;
        Ok(())
    }

    fn sync(&self, path: &str) -> Result<()> {
        let full = if path.is_empty() {
            self.root.clone()
        } else {
            self.full(path)?
        };
        match File::open(&full) {
            // fsync also writes back pages dirtied through shared mappings.
            Ok(f) => Ok(f.sync_all()?),
            Err(e) if not_found(&e) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    fn rename(&self, from: &str, to: &str) -> Result<()> {
        let (f, t) = (self.full(from)?, self.full(to)?);
        {
            let mut inner = self.inner();
            inner.cache.forget(to);
            if to == METADATA_FILE || from == METADATA_FILE {
                inner.stamp_fresh = false;
            }
        }
        if rename_if_free(&f, &t)? {
            // The file opened under `from` (if any) is now `to`.
            self.inner().cache.renamed(from, to);
            return Ok(());
        }
        // Renaming over a big file frees its blocks inside the rename (~3 ms for 40 MB on ext4
        // here). Holding it open makes the rename cheap; the last close, and with it the freeing,
        // happens on a short-lived thread once the call has committed (`unlock`).
        let big = fs::metadata(&t).is_ok_and(|m| m.len() >= RELEASE_IN_BACKGROUND_BYTES);
        let replaced = if big { File::open(&t).ok() } else { None };
        fs::rename(&f, &t)?;
        let mut inner = self.inner();
        inner.cache.renamed(from, to);
        if let Some(old) = replaced {
            inner.replaced.push(old);
        }
        Ok(())
    }

    fn replace_catalogue(&self, staged: &str, committed: &str) -> Result<()> {
        let (f, t) = (self.full(staged)?, self.full(committed)?);
        // Files opened under either name now sit under the other one (or are gone).
        if self.exchange(&f, &t)? {
            self.inner().cache.exchanged(staged, committed);
        } else {
            self.inner().cache.forget(committed);
            fs::rename(&f, &t)?;
            self.inner().cache.renamed(staged, committed);
        }
        // The file just written as `staged` now is the catalogue: its `fstat` is the stamp a
        // `stat` of the name would give, without the path walk.
        let moved = self.inner().cache.writable_file(committed);
        let stamp = match moved.map(|f| f.metadata()).transpose()? {
            Some(meta) if committed == METADATA_FILE && meta.nlink() > 0 => Some(stamp_of(&meta)),
            _ => self.current_meta_stamp()?,
        };
        let mut inner = self.inner();
        inner.meta_stamp = Some(stamp);
        inner.stamp_fresh = true;
        Ok(())
    }

    fn remove(&self, path: &str) -> Result<()> {
        let full = self.full(path)?;
        self.forget(path);
        if path == METADATA_FILE {
            self.inner().stamp_fresh = false;
        }
        match fs::remove_file(full) {
            Ok(()) => Ok(()),
            Err(e) if not_found(&e) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    fn create_dir(&self, dir: &str) -> Result<()> {
        match fs::create_dir(self.full(dir)?) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    fn remove_dir(&self, dir: &str) -> Result<()> {
        match fs::remove_dir(self.full(dir)?) {
            Ok(()) => Ok(()),
            Err(e) if not_found(&e) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    fn list(&self, dir: &str) -> Result<Vec<String>> {
        let full = if dir.is_empty() {
            self.root.clone()
        } else {
            self.full(dir)?
        };
        let mut names = Vec::new();
        for entry in fs::read_dir(full)? {
            if let Ok(name) = entry?.file_name().into_string() {
                names.push(name);
            }
        }
        Ok(names)
    }

    fn catalogue_stamp(&self) -> Result<Option<u64>> {
        {
            let inner = self.inner();
            if inner.stamp_fresh
                && let Some(stamp) = inner.meta_stamp
            {
                return Ok(stamp);
            }
        }
        let stamp = self.current_meta_stamp()?;
        let mut inner = self.inner();
        if inner.meta_stamp != Some(stamp) {
            inner.cache.clear(); // another process committed: every cached map may be stale
            inner.meta_stamp = Some(stamp);
        }
        Ok(stamp)
    }

    fn now_micros(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64)
    }

    fn lock(&self, mode: LockMode) -> Result<()> {
        self.inner().stamp_fresh = false;
        self.lock.lock(mode)
    }

    fn unlock(&self) {
        self.inner().stamp_fresh = false;
        self.lock.unlock();
        let replaced = std::mem::take(&mut self.inner().replaced);
        if !replaced.is_empty() {
            // If no thread can be had, the closure (and so the close) runs right here instead.
            let release = move || drop(replaced);
            let _ = std::thread::Builder::new()
                .name("numpack-release".into())
                .spawn(release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use numpack_core::{DType, NewArray, Selection, Store};

    fn temp_dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("npk-fsio-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn store_round_trip_on_disk_and_across_instances() {
        let dir = temp_dir("rt");
        let data: Vec<u8> = (0..48u8).collect();
        {
            let mut s = Store::open(FsIo::open(&dir).unwrap()).unwrap();
            s.save(&[NewArray {
                name: "a",
                dtype: DType::Uint8,
                shape: &[6, 8],
                data: &data,
            }])
            .unwrap();
            s.replace(
                "a",
                &Selection::Indices(vec![1]),
                DType::Uint8,
                &[1, 8],
                &[9; 8],
            )
            .unwrap();
            s.append("a", DType::Uint8, &[1, 8], &[7; 8]).unwrap();
        }
        let mut other = Store::open(FsIo::open(&dir).unwrap()).unwrap();
        let mut out = vec![0u8; 56];
        other.read_range("a", 0, 7, &mut out).unwrap();
        assert_eq!(&out[8..16], &[9; 8]);
        assert_eq!(&out[48..], &[7; 8]);
        assert_eq!(&out[16..48], &data[16..48]);
        // A second instance sees the first one's later commits.
        let mut first = Store::open(FsIo::open(&dir).unwrap()).unwrap();
        first
            .replace(
                "a",
                &Selection::Indices(vec![0]),
                DType::Uint8,
                &[1, 8],
                &[5; 8],
            )
            .unwrap();
        other.read_range("a", 0, 1, &mut out[..8]).unwrap();
        assert_eq!(&out[..8], &[5; 8]);
        first
            .save(&[NewArray {
                name: "a",
                dtype: DType::Uint8,
                shape: &[2],
                data: &[1, 2],
            }])
            .unwrap();
        let mut two = [0u8; 2];
        other.read_range("a", 0, 2, &mut two).unwrap();
        assert_eq!(two, [1, 2]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn paths_cannot_leave_the_folder() {
        let dir = temp_dir("paths");
        let io = FsIo::open(&dir).unwrap();
        assert!(io.write_at("../escape", 0, b"x").is_err());
        assert!(io.len("/etc/passwd").is_err());
        fs::remove_dir_all(&dir).unwrap();
    }
}
