//! The store-wide lock: `flock` on `.numpack.lock` (shared for readers, exclusive for writers,
//! blocking), and for an exclusive hold the announcement to Node writers of
//! [`numpack_core::lock`], which owns the protocol (docs/FORMAT.md §5, "Concurrency"). This file
//! only supplies the primitives ([`DirFs`], over `std::fs` and libc) and the descriptor.
//!
//! Each [`StoreLock`] owns its own open file description, so two stores on one folder in one
//! process exclude each other exactly like two processes do. Holds do not nest: core's `Store`
//! takes one at a time (its calls take `&mut self`).

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use numpack_core::lock::{self as protocol, LockFs, Marker, Os, OsError};
use numpack_core::{Error, LockMode, Result};

/// A blocking shared/exclusive lock over a lock file, plus the announcement of exclusive holds.
pub struct StoreLock {
    file: File,
    /// Whether `file` is the lock file opened for writing (so we can announce through it).
    writable: bool,
    fs: DirFs,
    /// How the exclusive hold keeps Node writers out.
    claim: Mutex<Claim>,
    /// Replaces the `NUMPACK_LOCK_TIMEOUT` wait (tests).
    timeout: Option<Duration>,
}

/// What an exclusive hold did to keep Node writers out.
#[derive(Default)]
enum Claim {
    /// Nothing: no exclusive hold, or a read-only folder (no writer can exist there).
    #[default]
    None,
    /// Our record is in the lock file's slot.
    Announced,
    /// We created the marker (the lock file is not writable to us).
    Marker(Marker),
}

impl StoreLock {
    /// Opens (creating it if it can) the lock file `path`; the writer marker goes beside it.
    pub fn open(path: &Path) -> Result<StoreLock> {
        let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let (file, writable) = match OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
        {
            Ok(f) => (f, true),
            // A read-only folder: an existing lock file can still be locked through a read-only
            // descriptor; without one there are no writers to exclude, so lock the folder itself.
            Err(_) => match File::open(path) {
                Ok(f) => (f, false),
                Err(_) => (
                    File::open(&dir)
                        .map_err(|e| Error::Locked(format!("cannot open the lock file: {e}")))?,
                    false,
                ),
            },
        };
        Ok(StoreLock {
            file,
            writable,
            fs: DirFs { dir },
            claim: Mutex::new(Claim::None),
            timeout: None,
        })
    }

    fn flock(&self, op: libc::c_int) -> Result<()> {
        loop {
            // SAFETY: flock on a descriptor we own; it has no memory effects.
            let rc = unsafe { libc::flock(self.file.as_raw_fd(), op) };
            if rc == 0 {
                return Ok(());
            }
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::Interrupted {
                return Err(Error::Locked(format!("flock failed: {err}")));
            }
        }
    }

    /// Writes `slot` over the start of the lock file. If even an idle slot cannot be written the
    /// record stays until our process exits (then it is stale), so try to empty the file.
    fn write_slot(&self, slot: &[u8]) -> bool {
        self.file.write_all_at(slot, 0).is_ok()
            || (slot == protocol::idle_slot() && self.file.set_len(0).is_ok())
    }

    /// Takes the lock in `mode`, blocking until it is free. An exclusive hold also announces
    /// itself to Node writers, waiting up to `NUMPACK_LOCK_TIMEOUT` seconds for a Node writer's
    /// marker to go (then [`Error::Locked`]); the `flock` wait itself has no limit.
    pub fn lock(&self, mode: LockMode) -> Result<()> {
        let op = match mode {
            LockMode::Shared => libc::LOCK_SH,
            LockMode::Exclusive => libc::LOCK_EX,
        };
        self.flock(op)?;
        if mode == LockMode::Exclusive {
            let announced = if self.writable {
                protocol::announce(&self.fs, &|s| self.write_slot(s), self.timeout)
            } else {
                Ok(None)
            };
            let claim = match announced {
                Ok(Some(_)) => Ok(Claim::Announced),
                // The slot cannot be written: create the marker, as Node does.
                Ok(None) => protocol::take_marker(&self.fs, false, self.timeout)
                    .map(|m| m.map_or(Claim::None, Claim::Marker)),
                Err(e) => Err(e),
            };
            match claim {
                Ok(claim) => *self.claim.lock().unwrap_or_else(PoisonError::into_inner) = claim,
                Err(e) => {
                    let _ = self.flock(libc::LOCK_UN);
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Releases the hold: the announcement (or marker), then the file lock.
    pub fn unlock(&self) {
        self.release_claim();
        // An unlock cannot fail on a valid descriptor; if it did, closing the file releases it.
        let _ = self.flock(libc::LOCK_UN);
    }

    fn release_claim(&self) {
        match std::mem::take(&mut *self.claim.lock().unwrap_or_else(PoisonError::into_inner)) {
            Claim::None => {}
            Claim::Announced => {
                self.write_slot(&protocol::idle_slot());
            }
            Claim::Marker(m) => protocol::release_marker(&self.fs, &m),
        }
    }
}

impl Drop for StoreLock {
    fn drop(&mut self) {
        // Only reachable if a hold was never released; the flock goes with the descriptor.
        self.release_claim();
    }
}

/// The lock protocol's primitives over a store folder.
pub struct DirFs {
    dir: PathBuf,
}

/// The POSIX name of an i/o error, as the protocol (and Node's `error.code`) spells it.
fn os_error(err: std::io::Error) -> OsError {
    let n = err.raw_os_error().unwrap_or(0);
    let names = [
        (libc::ENOENT, "ENOENT"),
        (libc::EEXIST, "EEXIST"),
        (libc::EINVAL, "EINVAL"),
        (libc::EACCES, "EACCES"),
        (libc::EPERM, "EPERM"),
        (libc::EROFS, "EROFS"),
        (libc::ENOTSUP, "ENOTSUP"),
        (libc::EOPNOTSUPP, "EOPNOTSUPP"),
        (libc::ENOSYS, "ENOSYS"),
    ];
    let code = names
        .iter()
        .find(|(e, _)| *e == n)
        .map_or_else(|| format!("E{n}"), |(_, name)| name.to_string());
    // (The protocol never shows a missing file's message; skip formatting it on the hot path.)
    let message = if n == libc::ENOENT {
        String::new()
    } else {
        err.to_string()
    };
    OsError { code, message }
}

impl DirFs {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl LockFs for DirFs {
    fn symlink(&self, target: &str, name: &str) -> Os<()> {
        std::os::unix::fs::symlink(target, self.path(name)).map_err(os_error)
    }
    fn read_link(&self, name: &str) -> Os<Vec<u8>> {
        fs::read_link(self.path(name))
            .map(|t| t.as_os_str().as_bytes().to_vec())
            .map_err(os_error)
    }
    fn read(&self, name: &str, max: usize) -> Os<Vec<u8>> {
        let mut buf = Vec::new();
        File::open(self.path(name))
            .and_then(|f| f.take(max as u64).read_to_end(&mut buf))
            .map_err(os_error)?;
        Ok(buf)
    }
    fn create_new(&self, name: &str, data: &[u8]) -> Os<()> {
        let path = self.path(name);
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&path)
            .map_err(os_error)?;
        f.write_all(data).map_err(|e| {
            let _ = fs::remove_file(&path);
            os_error(e)
        })
    }
    fn rename(&self, from: &str, to: &str) -> Os<()> {
        fs::rename(self.path(from), self.path(to)).map_err(os_error)
    }
    fn hard_link(&self, from: &str, to: &str) -> Os<()> {
        fs::hard_link(self.path(from), self.path(to)).map_err(os_error)
    }
    fn remove(&self, name: &str) -> Os<()> {
        fs::remove_file(self.path(name)).map_err(os_error)
    }
    fn age(&self, name: &str) -> Os<Option<Duration>> {
        match fs::symlink_metadata(self.path(name)) {
            Ok(meta) => Ok(Some(
                meta.modified()
                    .ok()
                    .and_then(|t| SystemTime::now().duration_since(t).ok())
                    .unwrap_or(Duration::ZERO),
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(os_error(e)),
        }
    }
    fn touch(&self, name: &str) -> Os<()> {
        File::options()
            .write(true)
            .open(self.path(name))
            .and_then(|f| f.set_modified(SystemTime::now()))
            .map_err(os_error)
    }
    fn display(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }
    fn pid(&self) -> u32 {
        std::process::id()
    }
    fn signal_zero(&self, pid: i32) -> bool {
        // SAFETY: signal 0 sends nothing; kill only checks that the process exists.
        let rc = unsafe { libc::kill(pid, 0) };
        rc == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
    }
    fn system(&self, path: &str, link: bool) -> String {
        let text = if link {
            fs::read_link(path).map(|p| p.to_string_lossy().into_owned())
        } else {
            fs::read_to_string(path)
        };
        text.unwrap_or_default()
    }
    fn host(&self) -> String {
        let mut buf = [0u8; 256];
        // SAFETY: the buffer is valid for `buf.len()` bytes; gethostname writes at most that many.
        let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        if rc == 0 {
            String::from_utf8_lossy(&buf[..end]).into_owned()
        } else {
            String::new()
        }
    }
    fn timeout_env(&self) -> Option<String> {
        std::env::var(protocol::TIMEOUT_ENV).ok()
    }
    fn now(&self) -> Duration {
        static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        START.get_or_init(Instant::now).elapsed()
    }
    fn sleep(&self, d: Duration) {
        std::thread::sleep(d);
    }
    fn seed(&self) -> u32 {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        (protocol::fnv1a(&(nanos ^ u64::from(std::process::id()) << 32).to_le_bytes()) >> 32) as u32
    }
    fn runtime(&self) -> &'static str {
        "rs"
    }
    fn sole_in_process(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use numpack_core::lock::{LOCK_FILE, SLOT, WRITER_FILE};

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("npk-lock-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn files(dir: &Path) -> Vec<String> {
        let mut v: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    }

    fn slot_record(dir: &Path) -> Option<String> {
        protocol::slot_holder(&fs::read(dir.join(LOCK_FILE)).unwrap()).map(|(line, _)| line)
    }

    #[test]
    fn flock_excludes_and_the_announcement_lives_as_long_as_the_exclusive_hold() {
        let dir = temp_dir("life");
        let (a, b) = (
            StoreLock::open(&dir.join(LOCK_FILE)).unwrap(),
            StoreLock::open(&dir.join(LOCK_FILE)).unwrap(),
        );
        a.lock(LockMode::Exclusive).unwrap();
        let text = fs::read(dir.join(LOCK_FILE)).unwrap();
        assert_eq!((text.len(), text[SLOT - 1]), (SLOT, b'\n'));
        assert!(
            slot_record(&dir)
                .unwrap()
                .starts_with(&format!("npk1 rs {} ", std::process::id()))
        );
        assert_eq!(files(&dir), [LOCK_FILE], "a native writer makes no marker");
        let start = Instant::now();
        std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(50));
                a.unlock();
            });
            b.lock(LockMode::Shared).unwrap(); // a second description waits like another process
        });
        assert!(start.elapsed() >= Duration::from_millis(40));
        assert_eq!(
            fs::read(dir.join(LOCK_FILE)).unwrap(),
            protocol::idle_slot(),
            "readers write nothing"
        );
        b.unlock();
        a.lock(LockMode::Exclusive).unwrap();
        drop(a); // dropped while held: withdrawn too
        assert_eq!(slot_record(&dir), None);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_lock_file_we_cannot_write_falls_back_to_the_marker() {
        let dir = temp_dir("rofile");
        let mut lock = StoreLock::open(&dir.join(LOCK_FILE)).unwrap();
        lock.file = File::open(dir.join(LOCK_FILE)).unwrap(); // as if opening it for writing had failed
        lock.writable = false;
        lock.lock(LockMode::Exclusive).unwrap();
        assert!(
            fs::read_link(dir.join(WRITER_FILE))
                .unwrap()
                .to_string_lossy()
                .starts_with(&format!("npk1 rs {} ", std::process::id()))
        );
        lock.unlock();
        assert_eq!(files(&dir), [LOCK_FILE]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn real_markers_of_live_and_dead_processes() {
        let dir = temp_dir("markers");
        let fs_ = DirFs { dir: dir.clone() };
        let mine = protocol::take_marker(&fs_, false, None).unwrap().unwrap();
        protocol::release_marker(&fs_, &mine);
        let id = mine.record.split(' ').nth(4).unwrap().to_string();
        let plant = |pid: u32| {
            std::os::unix::fs::symlink(
                format!("npk1 js {pid} 0000abcd {id}"),
                dir.join(WRITER_FILE),
            )
            .unwrap()
        };
        let mut lock = StoreLock::open(&dir.join(LOCK_FILE)).unwrap();
        lock.timeout = Some(Duration::from_millis(100));
        let parent = std::os::unix::process::parent_id();
        plant(parent);
        let Err(Error::Locked(msg)) = lock.lock(LockMode::Exclusive) else {
            panic!("went past a live marker")
        };
        assert!(
            msg.contains(&format!("pid {parent} (Node) on this host")),
            "{msg}"
        );
        assert_eq!(slot_record(&dir), None, "the waiter withdrew its record");
        fs::remove_file(dir.join(WRITER_FILE)).unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        child.wait().unwrap();
        plant(child.id());
        lock.lock(LockMode::Exclusive).unwrap();
        lock.unlock();
        assert_eq!(
            files(&dir),
            [LOCK_FILE],
            "the dead one's marker was broken, no aside copy left"
        );
        assert_eq!(
            (
                fs_.create_new(LOCK_FILE, b"").unwrap_err().code,
                fs_.remove("none").unwrap_err().code
            ),
            ("EEXIST".into(), "ENOENT".into())
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
