//! The store-wide lock: `flock` on `.numpack.lock` in the store folder. Each [`StoreLock`] owns
//! its own open file description, so two stores on one folder in one process exclude each other
//! exactly like two processes do; a process-local mutex makes one `StoreLock` safe to share
//! between threads (a thread waits for another's lock to be released instead of re-entering it).

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use numpack_core::{Error, LockMode, Result};

/// A blocking shared/exclusive lock over a lock file.
pub struct StoreLock {
    file: File,
    /// Locks held through this description: (mode, count). Shared locks may be taken by
    /// several threads at once; an exclusive one by one thread.
    held: Mutex<Option<(LockMode, usize)>>,
    freed: Condvar,
}

fn lock_error(what: &str, err: std::io::Error) -> Error {
    Error::Locked(format!("{what}: {err}"))
}

impl StoreLock {
    /// Opens (creating it if it can) the lock file `path`.
    pub fn open(path: &Path) -> Result<StoreLock> {
        let file = match OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path) {
            Ok(f) => f,
            // A read-only folder: an existing lock file can still be locked through a read-only
            // descriptor; without one there are no writers to exclude, so lock the folder itself.
            Err(_) => match File::open(path) {
                Ok(f) => f,
                Err(_) => File::open(path.parent().unwrap_or(Path::new("."))).map_err(|e| lock_error("cannot open the lock file", e))?,
            },
        };
        Ok(StoreLock { file, held: Mutex::new(None), freed: Condvar::new() })
    }

    fn state(&self) -> MutexGuard<'_, Option<(LockMode, usize)>> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
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
                return Err(lock_error("flock failed", err));
            }
        }
    }

    /// Takes the lock in `mode`, blocking until it is free.
    pub fn lock(&self, mode: LockMode) -> Result<()> {
        let mut held = self.state();
        loop {
            match *held {
                None => break,
                Some((LockMode::Shared, n)) if mode == LockMode::Shared => {
                    *held = Some((LockMode::Shared, n + 1));
                    return Ok(());
                }
                Some(_) => held = self.freed.wait(held).unwrap_or_else(PoisonError::into_inner),
            }
        }
        let op = match mode {
            LockMode::Shared => libc::LOCK_SH,
            LockMode::Exclusive => libc::LOCK_EX,
        };
        self.flock(op)?;
        *held = Some((mode, 1));
        Ok(())
    }

    /// Releases one hold of the lock; the file lock goes when the last one does.
    pub fn unlock(&self) {
        let mut held = self.state();
        match *held {
            Some((mode, n)) if n > 1 => *held = Some((mode, n - 1)),
            Some(_) => {
                // An unlock cannot fail on a valid descriptor; if it did, closing the file
                // releases the lock anyway.
                let _ = self.flock(libc::LOCK_UN);
                *held = None;
                self.freed.notify_all();
            }
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn two_locks_on_one_file_exclude_each_other() {
        let dir = std::env::temp_dir().join(format!("npk-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(".numpack.lock");
        let a = Arc::new(StoreLock::open(&path).unwrap());
        let b = StoreLock::open(&path).unwrap();
        a.lock(LockMode::Exclusive).unwrap();
        let a2 = a.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(50));
            a2.unlock();
        });
        let start = std::time::Instant::now();
        b.lock(LockMode::Shared).unwrap();
        assert!(start.elapsed() >= std::time::Duration::from_millis(40));
        b.lock(LockMode::Shared).unwrap();
        b.unlock();
        b.unlock();
        t.join().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
