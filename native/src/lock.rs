//! The store-wide lock. It has two layers, taken in this order:
//!
//! 1. `flock` on `.numpack.lock` in the store folder: shared for readers, exclusive for writers,
//!    blocking. Each [`StoreLock`] owns its own open file description, so two stores on one folder
//!    in one process exclude each other exactly like two processes do; a process-local mutex makes
//!    one `StoreLock` safe to share between threads (a thread waits for another's lock to be
//!    released instead of re-entering it).
//! 2. For an exclusive hold, an announcement to Node writers, who have no `flock` and take the
//!    writer marker `.numpack.writer` instead (a symbolic link whose target names its owner, made
//!    with `symlink(2)`, which fails if the name exists; see `js/src/node-fs.js`). The two sides
//!    exclude each other Dekker-style, each writing its claim and then reading the other's:
//!    we `pwrite` our owner record into the first [`SLOT`] bytes of the already open and flocked
//!    `.numpack.lock` (no file is created, so no metadata operation), then look for a marker.
//!    None: we hold the store. A live one: we withdraw the record (overwrite it with an idle
//!    slot), wait and retry; a stale one (its owner is dead: same host, boot and pid namespace,
//!    pid gone or a zombie) is broken; one from another host is never broken automatically. A
//!    Node writer creates its marker and then reads the slot; a live native record makes it remove
//!    its marker, wait and retry. Since both write before they read, at least one sees the other:
//!    both may back off (then both retry), never both go on. The release writes the idle slot
//!    before the `flock` goes. Where the lock file is not writable through our descriptor we fall
//!    back to creating the marker ourselves, as Node does. Waiting polls with a timeout
//!    (`NUMPACK_LOCK_TIMEOUT` seconds, default 60), then fails with [`Error::Locked`]. The protocol
//!    is in docs/FORMAT.md §5 ("Concurrency"); js/src/node-fs.js implements the other side.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use numpack_core::{Error, LockMode, Result};

/// The writer marker's file name (in the store folder, beside `.numpack.lock`).
pub const WRITER_FILE: &str = ".numpack.writer";
/// A waiting writer's claim to go next; holders defer to a fresh one (fairness only).
pub const WANT_FILE: &str = ".numpack.writer.want";
/// The environment variable giving, in seconds, how long a writer waits for another runtime's
/// marker before failing with [`Error::Locked`] (default 60; `0` tries once; `inf` never fails).
pub const TIMEOUT_ENV: &str = "NUMPACK_LOCK_TIMEOUT";

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest pause between two tries of a waiter that is not next in line.
const MAX_POLL: Duration = Duration::from_millis(20);
/// The pause of the waiter that owns the want file (it is next in line), and the first pause.
const NEXT_POLL: Duration = Duration::from_millis(1);
/// A want file not touched for this long belongs to a waiter that is gone.
const WANT_FRESH: Duration = Duration::from_secs(1);
/// How often the owner of the want file touches it.
const WANT_REFRESH: Duration = Duration::from_millis(250);
/// The longest one lock call defers to another waiter's want file.
const DEFER_MAX: Duration = Duration::from_millis(250);
/// A marker without a readable owner record (a regular-file marker whose writer died between
/// creating and filling it) is stale once it is this old.
const GARBLED_GRACE: Duration = Duration::from_secs(10);
/// The first word of an owner record.
const RECORD_TAG: &str = "npk1";
/// The longest owner record: ext4 keeps a symlink target of up to 59 bytes in the inode, so the
/// link costs no data block (the optional host name is left out when it does not fit).
const RECORD_MAX: usize = 59;
/// The announcement slot at the start of `.numpack.lock`: one line (the owner record, or nothing
/// when no native writer holds the store) padded with spaces to `SLOT - 1` bytes, then `\n`.
pub const SLOT: usize = 64;

/// A blocking shared/exclusive lock over a lock file, plus the writer marker for exclusive holds.
pub struct StoreLock {
    file: File,
    /// Whether `file` is the lock file opened for writing (so we can announce through it).
    writable: bool,
    dir: PathBuf,
    /// Locks held through this description, and the marker of the exclusive hold. Shared locks
    /// may be taken by several threads at once; an exclusive one by one thread.
    held: Mutex<Held>,
    freed: Condvar,
    /// Replaces [`TIMEOUT_ENV`] (tests).
    timeout: Option<Duration>,
}

#[derive(Default)]
struct Held {
    hold: Option<(LockMode, usize)>,
    /// How the exclusive hold excludes Node writers.
    claim: Claim,
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
    Marker(Owned),
}

/// A marker this process created: its owner record, to remove only our own.
struct Owned {
    record: String,
    token: String,
}

fn lock_error(what: &str, err: std::io::Error) -> Error {
    Error::Locked(format!("{what}: {err}"))
}

/// Errors that mean "this folder cannot be written by us": no writer can exist through us.
fn read_only(err: &std::io::Error) -> bool {
    matches!(err.raw_os_error(), Some(libc::EACCES) | Some(libc::EPERM) | Some(libc::EROFS))
}

impl StoreLock {
    /// Opens (creating it if it can) the lock file `path`; the writer marker goes beside it.
    pub fn open(path: &Path) -> Result<StoreLock> {
        let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let (file, writable) = match OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path) {
            Ok(f) => (f, true),
            // A read-only folder: an existing lock file can still be locked through a read-only
            // descriptor; without one there are no writers to exclude, so lock the folder itself.
            Err(_) => match File::open(path) {
                Ok(f) => (f, false),
                Err(_) => (File::open(&dir).map_err(|e| lock_error("cannot open the lock file", e))?, false),
            },
        };
        Ok(StoreLock { file, writable, dir, held: Mutex::new(Held::default()), freed: Condvar::new(), timeout: None })
    }

    /// [`StoreLock::open`] with a marker wait that ignores [`TIMEOUT_ENV`] (tests).
    #[cfg(test)]
    fn open_with_timeout(path: &Path, timeout: Duration) -> Result<StoreLock> {
        let mut lock = StoreLock::open(path)?;
        lock.timeout = Some(timeout);
        Ok(lock)
    }

    fn state(&self) -> MutexGuard<'_, Held> {
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

    /// Takes the lock in `mode`, blocking until it is free. An exclusive hold also creates the
    /// writer marker, waiting up to [`TIMEOUT_ENV`] seconds for another runtime's marker to go
    /// (then [`Error::Locked`]); the `flock` wait itself has no limit, as before.
    pub fn lock(&self, mode: LockMode) -> Result<()> {
        let mut held = self.state();
        loop {
            match held.hold {
                None => break,
                Some((LockMode::Shared, n)) if mode == LockMode::Shared => {
                    held.hold = Some((LockMode::Shared, n + 1));
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
        if mode == LockMode::Exclusive {
            let claim = if self.writable { announce(&self.file, &self.dir, self.timeout) } else { Err(None) };
            let claim = match claim {
                Ok(()) => Ok(Claim::Announced),
                Err(Some(e)) => Err(e),
                // The slot cannot be written: create the marker, as Node does.
                Err(None) => take_marker(&self.dir, self.timeout).map(|m| m.map_or(Claim::None, Claim::Marker)),
            };
            match claim {
                Ok(claim) => held.claim = claim,
                Err(e) => {
                    let _ = self.flock(libc::LOCK_UN);
                    return Err(e);
                }
            }
        }
        held.hold = Some((mode, 1));
        Ok(())
    }

    /// Releases one hold of the lock; the marker and then the file lock go when the last one does.
    pub fn unlock(&self) {
        let mut held = self.state();
        match held.hold {
            Some((mode, n)) if n > 1 => held.hold = Some((mode, n - 1)),
            Some(_) => {
                self.release_claim(&mut held);
                // An unlock cannot fail on a valid descriptor; if it did, closing the file
                // releases the lock anyway.
                let _ = self.flock(libc::LOCK_UN);
                held.hold = None;
                self.freed.notify_all();
            }
            None => {}
        }
    }
}

impl Drop for StoreLock {
    fn drop(&mut self) {
        // Only reachable if a hold was never released; the flock goes with the descriptor.
        let mut held = self.state();
        self.release_claim(&mut held);
    }
}

impl StoreLock {
    fn release_claim(&self, held: &mut Held) {
        match std::mem::take(&mut held.claim) {
            Claim::None => {}
            Claim::Announced => withdraw(&self.file),
            Claim::Marker(m) => release_marker(&self.dir, m),
        }
    }
}

/// The slot holding `line` (a record, or nothing for "idle").
fn slot(line: &str) -> [u8; SLOT] {
    let mut buf = [b' '; SLOT];
    buf[..line.len()].copy_from_slice(line.as_bytes());
    buf[SLOT - 1] = b'\n';
    buf
}

/// The owner record in a lock file's slot, if any (what a Node writer reads; tests).
#[cfg(test)]
fn read_slot(path: &Path) -> Option<Holder> {
    let text = fs::read(path).ok()?;
    let line = text.split(|&b| b == b'\n').next()?;
    parse_holder(std::str::from_utf8(line).ok()?.trim_end_matches(' '))
}

/// Overwrites the slot with the idle one (the hold is over, or we back off). If even that fails
/// the record stays until our process exits (then it is stale), so try to empty the file.
fn withdraw(file: &File) {
    if file.write_all_at(&slot(""), 0).is_err() {
        let _ = file.set_len(0);
    }
}

/// Announces our exclusive hold to Node writers (the flock is already ours): writes our record
/// into the lock file's slot, then checks for a writer marker, waiting (record withdrawn) while a
/// live one exists. `Err(None)`: the slot cannot be written (fall back to the marker).
fn announce(file: &File, dir: &Path, timeout: Option<Duration>) -> std::result::Result<(), Option<Error>> {
    let record = slot(&owner_record(&new_token()));
    let mut waiter = Waiter::new(dir, timeout);
    let mut announced = false;
    let result = loop {
        if !announced && waiter.defer() {
            continue;
        }
        // First write our claim, then read theirs (see the module comment).
        if !announced {
            if file.write_all_at(&record, 0).is_err() {
                break Err(None);
            }
            announced = true;
        }
        let seen = match observe(&dir.join(WRITER_FILE)) {
            Ok(None) => break Ok(()),
            Ok(Some(seen)) => seen,
            Err(e) => break Err(Some(lock_error("cannot read the writer marker", e))),
        };
        if waiter.may_break(&seen) {
            match break_stale(dir, &seen) {
                Ok(()) => continue,
                // No writer can exist in a folder we cannot change, and we cannot write it either.
                Err(e) if read_only(&e) => break Ok(()),
                Err(e) => break Err(Some(lock_error("cannot remove a stale writer marker", e))),
            }
        }
        // A live marker: back off, so its owner (which may be reading our slot now) goes on.
        withdraw(file);
        announced = false;
        if let Err(e) = waiter.wait(&seen) {
            break Err(Some(e));
        }
    };
    if result.is_err() && announced {
        withdraw(file);
    }
    result
}

/// Who this process is, as a marker records it. The pid is read at each use (a forked child
/// is another process); the rest is cached.
struct Identity {
    /// The host name, as far as it is safe in a record (`[A-Za-z0-9._-]`, others as `_`).
    host: String,
    /// 12 hex digits of FNV-1a-64 over `host \n boot_id \n pid namespace`: equal only on the
    /// same host, the same boot and in the same pid namespace, where pids are comparable.
    id: String,
}

fn identity() -> &'static Identity {
    static ID: OnceLock<Identity> = OnceLock::new();
    ID.get_or_init(|| {
        let mut buf = [0u8; 256];
        // SAFETY: the buffer is valid for `buf.len()` bytes; gethostname writes at most that many.
        let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
        let host = if rc == 0 {
            let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
            String::from_utf8_lossy(&buf[..end]).into_owned()
        } else {
            String::new()
        };
        let boot = fs::read_to_string("/proc/sys/kernel/random/boot_id").map(|s| s.trim().to_string()).unwrap_or_default();
        let pidns = fs::read_link("/proc/self/ns/pid").map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
        let id = fnv1a(format!("{host}\n{boot}\n{pidns}").as_bytes()) & 0xffff_ffff_ffff;
        let safe = host.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' }).collect();
        Identity { host: safe, id: format!("{id:012x}") }
    })
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// A token unique within this process for 2^32 holds (8 hex digits).
fn new_token() -> String {
    static SEED: OnceLock<u32> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seed = *SEED.get_or_init(|| {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
        (fnv1a(&(nanos ^ u64::from(std::process::id()) << 32).to_le_bytes()) >> 32) as u32
    });
    format!("{:08x}", seed.wrapping_add(COUNTER.fetch_add(1, Ordering::Relaxed) as u32))
}

/// Tokens of the markers this process holds now: a marker with our pid and another token was
/// left by a hold of ours that never ended, so it is stale.
fn live_tokens() -> MutexGuard<'static, Vec<String>> {
    static LIVE: Mutex<Vec<String>> = Mutex::new(Vec::new());
    LIVE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Our owner record: `npk1 rs <pid> <token> <id>[ <host>]` (Node writes `js`).
fn owner_record(token: &str) -> String {
    let id = identity();
    let record = format!("{RECORD_TAG} rs {} {token} {}", std::process::id(), id.id);
    if record.len() + 1 + id.host.len() <= RECORD_MAX && !id.host.is_empty() {
        format!("{record} {}", id.host)
    } else {
        record
    }
}

/// A marker's owner record.
#[derive(Debug, PartialEq)]
struct Holder {
    runtime: String,
    pid: i32,
    token: String,
    id: String,
    host: Option<String>,
}

fn parse_holder(text: &str) -> Option<Holder> {
    let mut words = text.split(' ');
    if words.next()? != RECORD_TAG {
        return None;
    }
    let runtime = words.next()?.to_string();
    let pid: i32 = words.next()?.parse().ok()?;
    let token = words.next()?.to_string();
    let id = words.next()?.to_string();
    let host = words.next().map(str::to_string);
    (pid > 0 && !runtime.is_empty() && !token.is_empty() && !id.is_empty() && words.next().is_none())
        .then_some(Holder { runtime, pid, token, id, host })
}

/// How a marker exists.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Link,
    File,
}

/// A marker as read from the folder.
struct Seen {
    kind: Kind,
    text: Vec<u8>,
    /// `Err`: we may not read it; `Ok(None)`: it holds no owner record.
    holder: std::result::Result<Option<Holder>, ()>,
    age: Duration,
}

/// Reads the marker at `path`; `None` if there is none.
fn observe(path: &Path) -> std::io::Result<Option<Seen>> {
    let (kind, text, readable) = match fs::read_link(path) {
        Ok(target) => (Kind::Link, target.as_os_str().as_bytes().to_vec(), true),
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        // Not a symlink: a regular-file marker.
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            let mut text = Vec::new();
            match File::open(path) {
                Ok(f) => {
                    let ok = f.take(4096).read_to_end(&mut text).is_ok();
                    (Kind::File, text, ok)
                }
                Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
                Err(_) => (Kind::File, text, false),
            }
        }
        Err(e) => return Err(e),
    };
    let holder = if readable { Ok(std::str::from_utf8(&text).ok().and_then(parse_holder)) } else { Err(()) };
    let age = match holder {
        Ok(None) => fs::symlink_metadata(path)
            .ok()
            .and_then(|m| m.modified().ok())
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .unwrap_or(Duration::ZERO),
        _ => Duration::ZERO,
    };
    Ok(Some(Seen { kind, text, holder, age }))
}

/// What to do about a marker someone else holds.
#[derive(Debug, PartialEq)]
enum Verdict {
    /// Its owner is gone: break it.
    Stale,
    /// Its owner runs (or may run) on this host: wait.
    Live,
    /// Its owner is on another host, boot or pid namespace: wait, never break.
    Foreign,
}

fn verdict(seen: &Seen) -> Verdict {
    let h = match &seen.holder {
        Err(()) => return Verdict::Live,
        Ok(None) => return if seen.age > GARBLED_GRACE { Verdict::Stale } else { Verdict::Live },
        Ok(Some(h)) => h,
    };
    if h.id != identity().id {
        return Verdict::Foreign;
    }
    if h.pid as u32 == std::process::id() {
        return if live_tokens().contains(&h.token) { Verdict::Live } else { Verdict::Stale };
    }
    if pid_alive(h.pid) { Verdict::Live } else { Verdict::Stale }
}

/// Whether process `pid` of this pid namespace runs (a zombie does not). A pid reused by an
/// unrelated process reads as alive: that only delays, never breaks, a lock.
fn pid_alive(pid: i32) -> bool {
    if pid <= 0 {
        return true;
    }
    // SAFETY: signal 0 sends nothing; kill only checks that the process exists.
    let rc = unsafe { libc::kill(pid, 0) };
    if rc != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH) {
        return false;
    }
    // A killed process stays a zombie until its parent reaps it; it holds nothing.
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat.rfind(')').and_then(|i| stat[i + 1..].trim_start().chars().next()).is_some_and(|s| s == 'Z' || s == 'X'),
        Err(_) => true,
    }
}

/// Removes the stale marker `seen` so the create can be retried. It is renamed aside first and
/// checked there, so two breakers cannot both remove it: if what we moved is not the marker we
/// judged (another breaker won and a live writer has since created a new one), it is put back.
fn break_stale(dir: &Path, seen: &Seen) -> std::io::Result<()> {
    let marker = dir.join(WRITER_FILE);
    let aside = dir.join(format!("{WRITER_FILE}.{}.{}.stale", std::process::id(), new_token()));
    match fs::rename(&marker, &aside) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    }
    match observe(&aside) {
        Ok(Some(moved)) if moved.kind == seen.kind && moved.text == seen.text => {}
        Ok(Some(moved)) => {
            let back = match moved.kind {
                Kind::Link => std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(&moved.text), &marker),
                Kind::File => fs::hard_link(&aside, &marker),
            };
            match back {
                Ok(()) => {}
                // Yet another writer created a marker meanwhile; nothing we can restore.
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                // It cannot be re-created (no hard links here): move it back.
                Err(_) => return fs::rename(&aside, &marker),
            }
        }
        _ => {}
    }
    match fs::remove_file(&aside) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Errors of `symlink(2)` that mean "no symlinks here" (FAT, some network file systems).
fn no_symlinks(err: &std::io::Error) -> bool {
    matches!(err.raw_os_error(), Some(libc::EPERM) | Some(libc::EOPNOTSUPP) | Some(libc::ENOSYS))
}

/// Creates the marker, holding our owner record.
fn create_marker(dir: &Path) -> std::io::Result<Owned> {
    let path = dir.join(WRITER_FILE);
    let token = new_token();
    let record = owner_record(&token);
    match std::os::unix::fs::symlink(&record, &path) {
        Ok(()) => {}
        Err(e) if no_symlinks(&e) => {
            let mut f = OpenOptions::new().write(true).create_new(true).mode(0o644).open(&path)?;
            if let Err(e) = f.write_all(record.as_bytes()) {
                drop(f);
                let _ = fs::remove_file(&path);
                return Err(e);
            }
        }
        Err(e) => return Err(e),
    }
    live_tokens().push(token.clone());
    Ok(Owned { record, token })
}

/// Removes our marker (only if it is still ours).
fn release_marker(dir: &Path, m: Owned) {
    let path = dir.join(WRITER_FILE);
    let ours = match fs::read_link(&path) {
        Ok(target) => target.as_os_str().as_bytes() == m.record.as_bytes(),
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => fs::read(&path).is_ok_and(|t| t == m.record.as_bytes()),
        Err(_) => false,
    };
    if ours {
        let _ = fs::remove_file(&path);
    }
    live_tokens().retain(|t| *t != m.token);
}

/// The want file this waiter created.
struct Want {
    file: File,
    dev: u64,
    ino: u64,
    touched: Instant,
}

/// Whether another waiter's fresh want file says it goes next.
fn other_wants(dir: &Path, mine: Option<&Want>) -> bool {
    let Ok(meta) = fs::metadata(dir.join(WANT_FILE)) else { return false };
    if mine.is_some_and(|w| w.dev == meta.dev() && w.ino == meta.ino()) {
        return false;
    }
    let age = meta.modified().ok().and_then(|t| SystemTime::now().duration_since(t).ok()).unwrap_or(Duration::ZERO);
    age < WANT_FRESH
}

/// Claims the want file (an empty file; only its time is read), or clears an abandoned one so
/// the next poll can.
fn claim_want(dir: &Path) -> Option<Want> {
    let path = dir.join(WANT_FILE);
    match OpenOptions::new().write(true).create_new(true).mode(0o644).open(&path) {
        Ok(file) => {
            let meta = file.metadata().ok()?;
            Some(Want { file, dev: meta.dev(), ino: meta.ino(), touched: Instant::now() })
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            if !other_wants(dir, None) {
                let _ = fs::remove_file(&path);
            }
            None
        }
        Err(_) => None,
    }
}

fn drop_want(dir: &Path, w: Want) {
    let path = dir.join(WANT_FILE);
    if let Ok(meta) = fs::metadata(&path)
        && meta.dev() == w.dev
        && meta.ino() == w.ino
    {
        let _ = fs::remove_file(&path);
    }
}

/// The marker wait from [`TIMEOUT_ENV`] (read when a wait starts, so it can change at run time).
fn timeout_from_env() -> Duration {
    match std::env::var(TIMEOUT_ENV).ok().and_then(|s| s.trim().parse::<f64>().ok()) {
        Some(v) if v >= 0.0 => Duration::try_from_secs_f64(v).unwrap_or(Duration::MAX),
        _ => DEFAULT_TIMEOUT,
    }
}

fn describe(path: &Path, seen: &Seen, waited: Duration) -> String {
    let who = match &seen.holder {
        Ok(Some(h)) => {
            let runtime = match h.runtime.as_str() {
                "rs" => "native/Python",
                "js" => "Node",
                other => other,
            };
            let host = h.host.as_deref().unwrap_or("?");
            if verdict(seen) == Verdict::Foreign {
                format!("held by pid {} ({runtime}) on another host, boot or pid namespace (host {host}), so it is never removed automatically", h.pid)
            } else {
                format!("held by pid {} ({runtime}) on this host", h.pid)
            }
        }
        _ => "held by a writer whose record cannot be read".to_string(),
    };
    format!(
        "another writer holds the store: {} is {who}; waited {:.1} s ({TIMEOUT_ENV}). If no such process is running, delete that file",
        path.display(),
        waited.as_secs_f64()
    )
}

/// Creates the writer marker, waiting for another holder's to go. `Ok(None)`: the folder is
/// read-only to us, so we cannot write and need no marker.
fn take_marker(dir: &Path, timeout: Option<Duration>) -> Result<Option<Owned>> {
    let mut waiter = Waiter::new(dir, timeout);
    loop {
        if waiter.defer() {
            continue;
        }
        match create_marker(dir) {
            Ok(owned) => break Ok(Some(owned)),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) if read_only(&e) => break Ok(None),
            Err(e) => break Err(lock_error("cannot create the writer marker", e)),
        }
        let seen = match observe(&dir.join(WRITER_FILE)) {
            Ok(None) => continue,
            Ok(Some(seen)) => seen,
            Err(e) => break Err(lock_error("cannot read the writer marker", e)),
        };
        if waiter.may_break(&seen) {
            match break_stale(dir, &seen) {
                Ok(()) => continue,
                Err(e) if read_only(&e) => break Ok(None),
                Err(e) => break Err(lock_error("cannot remove a stale writer marker", e)),
            }
        }
        if let Err(e) = waiter.wait(&seen) {
            break Err(e);
        }
    }
}

/// The waiting side of both lock paths: the deadline, the want file that asks a busy writer to
/// let us go next, the poll backoff, and a cap on stale-marker breaks. Dropping it gives up the
/// want file.
struct Waiter<'a> {
    dir: &'a Path,
    start: Instant,
    limit: Option<Duration>,
    want: Option<Want>,
    poll: Duration,
    deferred: Duration,
    breaks: u32,
}

impl<'a> Waiter<'a> {
    fn new(dir: &'a Path, timeout: Option<Duration>) -> Waiter<'a> {
        Waiter { dir, start: Instant::now(), limit: timeout, want: None, poll: NEXT_POLL, deferred: Duration::ZERO, breaks: 0 }
    }

    /// The deadline (`NUMPACK_LOCK_TIMEOUT` unless the caller gave one), read once.
    fn limit(&mut self) -> Duration {
        *self.limit.get_or_insert_with(timeout_from_env)
    }

    /// Fairness: while another waiter holds the want file (and we have time to let it), naps
    /// once and returns true so the caller tries again, up to `DEFER_MAX` in all.
    fn defer(&mut self) -> bool {
        if self.want.is_some() || self.deferred >= DEFER_MAX || !other_wants(self.dir, None) {
            return false;
        }
        if self.start.elapsed() + NEXT_POLL >= self.limit() {
            return false;
        }
        let t = Instant::now();
        std::thread::sleep(NEXT_POLL);
        self.deferred += t.elapsed();
        true
    }

    /// Whether to break the marker `seen` as stale (a break that keeps failing to clear the way
    /// falls back to waiting).
    fn may_break(&mut self, seen: &Seen) -> bool {
        if verdict(seen) != Verdict::Stale || self.breaks >= 100 {
            return false;
        }
        self.breaks += 1;
        true
    }

    /// One wait for the holder of `seen`: the typed timeout error once the deadline has passed;
    /// else claims (or refreshes) the want file and sleeps one poll.
    fn wait(&mut self, seen: &Seen) -> Result<()> {
        let limit = self.limit();
        let waited = self.start.elapsed();
        if waited >= limit {
            return Err(Error::Locked(describe(&self.dir.join(WRITER_FILE), seen, waited)));
        }
        match &mut self.want {
            None => self.want = claim_want(self.dir),
            Some(w) if w.touched.elapsed() >= WANT_REFRESH => {
                let _ = w.file.set_modified(SystemTime::now());
                w.touched = Instant::now();
            }
            Some(_) => {}
        }
        let nap = if self.want.is_some() {
            NEXT_POLL
        } else {
            let p = self.poll;
            self.poll = (p * 2).min(MAX_POLL);
            p
        };
        std::thread::sleep(nap.min(limit - waited));
        Ok(())
    }
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        if let Some(w) = self.want.take() {
            drop_want(self.dir, w);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("npk-lock-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn with_timeout(path: &Path, t: Duration) -> StoreLock {
        StoreLock::open_with_timeout(path, t).unwrap()
    }

    /// A marker as another process of this host would make it.
    fn plant(dir: &Path, pid: i32, id: &str) {
        std::os::unix::fs::symlink(format!("npk1 js {pid} 0000abcd {id} somehost"), dir.join(WRITER_FILE)).unwrap();
    }

    /// A pid that certainly does not run: a child we started and reaped.
    fn dead_pid() -> i32 {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id() as i32;
        child.wait().unwrap();
        pid
    }

    fn files(dir: &Path) -> Vec<String> {
        let mut v: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        v.sort();
        v
    }

    #[test]
    fn two_locks_on_one_file_exclude_each_other() {
        let dir = temp_dir("two");
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

    #[test]
    fn the_announcement_lives_exactly_as_long_as_the_exclusive_hold() {
        let dir = temp_dir("life");
        let path = dir.join(".numpack.lock");
        let lock = StoreLock::open(&path).unwrap();
        let marker = dir.join(WRITER_FILE);
        lock.lock(LockMode::Shared).unwrap();
        lock.lock(LockMode::Shared).unwrap();
        assert_eq!(read_slot(&path), None, "readers announce nothing");
        lock.unlock();
        lock.unlock();
        lock.lock(LockMode::Exclusive).unwrap();
        assert!(fs::symlink_metadata(&marker).is_err(), "a native writer makes no marker");
        let text = fs::read(&path).unwrap();
        assert_eq!((text.len(), text[SLOT - 1]), (SLOT, b'\n'));
        let h = read_slot(&path).unwrap();
        assert_eq!((h.pid as u32, h.runtime.as_str(), h.id.as_str()), (std::process::id(), "rs", identity().id.as_str()));
        lock.unlock();
        assert_eq!(read_slot(&path), None, "withdrawn with the hold");
        assert_eq!(fs::read(&path).unwrap(), slot(""));
        assert_eq!(files(&dir), [".numpack.lock"]);
        // Dropped while held (never unlocked): withdrawn too.
        let lock = StoreLock::open(&path).unwrap();
        lock.lock(LockMode::Exclusive).unwrap();
        assert!(read_slot(&path).is_some());
        drop(lock);
        assert_eq!(read_slot(&path), None);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_lock_file_we_cannot_write_falls_back_to_the_marker() {
        let dir = temp_dir("rofile");
        let path = dir.join(".numpack.lock");
        fs::write(&path, b"").unwrap();
        let mut lock = StoreLock::open(&path).unwrap();
        lock.file = File::open(&path).unwrap(); // as if opening it for writing had failed
        lock.writable = false;
        lock.lock(LockMode::Exclusive).unwrap();
        let h = parse_holder(&fs::read_link(dir.join(WRITER_FILE)).unwrap().to_string_lossy()).unwrap();
        assert_eq!(h.pid as u32, std::process::id());
        assert!(live_tokens().contains(&h.token));
        lock.unlock();
        assert!(!live_tokens().contains(&h.token));
        assert_eq!(files(&dir), [".numpack.lock"]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_marker_that_appears_makes_the_writer_withdraw_and_wait() {
        // A Node writer that created its marker while we announced: we back off (idle slot),
        // wait while it lives, and announce again once it is gone.
        let dir = temp_dir("dekker");
        let path = dir.join(".numpack.lock");
        plant(&dir, std::os::unix::process::parent_id() as i32, &identity().id);
        let lock = Arc::new(with_timeout(&path, Duration::from_secs(10)));
        let l2 = lock.clone();
        let t = std::thread::spawn(move || {
            l2.lock(LockMode::Exclusive).unwrap();
            let h = read_slot(&l2.dir.join(".numpack.lock")).unwrap();
            l2.unlock();
            h
        });
        std::thread::sleep(Duration::from_millis(100));
        assert!(!t.is_finished(), "went on past a live marker");
        // (It re-announces for microseconds at each poll.)
        assert!((0..20).any(|_| read_slot(&path).is_none()), "kept its record while waiting");
        fs::remove_file(dir.join(WRITER_FILE)).unwrap();
        assert_eq!(t.join().unwrap().pid as u32, std::process::id());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_live_marker_makes_a_writer_wait_then_fail_with_locked() {
        let dir = temp_dir("live");
        let parent = std::os::unix::process::parent_id() as i32;
        plant(&dir, parent, &identity().id);
        let lock = with_timeout(&dir.join(".numpack.lock"), Duration::from_millis(150));
        let start = Instant::now();
        let err = lock.lock(LockMode::Exclusive).unwrap_err();
        assert!(start.elapsed() >= Duration::from_millis(150));
        let Error::Locked(msg) = err else { panic!("not Locked: {err}") };
        assert!(msg.contains(&format!("pid {parent} (Node) on this host")), "{msg}");
        assert!(msg.contains(".numpack.writer"), "{msg}");
        assert!(fs::symlink_metadata(dir.join(WANT_FILE)).is_err(), "the waiter removes its want file");
        assert_eq!(read_slot(&dir.join(".numpack.lock")), None, "the waiter withdrew its record");
        // The flock was released: a reader still gets in, and the marker is untouched.
        lock.lock(LockMode::Shared).unwrap();
        lock.unlock();
        assert!(fs::read_link(dir.join(WRITER_FILE)).unwrap().to_string_lossy().starts_with("npk1 js"));
        // Once the holder removes it, the writer proceeds.
        fs::remove_file(dir.join(WRITER_FILE)).unwrap();
        lock.lock(LockMode::Exclusive).unwrap();
        lock.unlock();
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_dead_owners_marker_is_broken() {
        let dir = temp_dir("dead");
        plant(&dir, dead_pid(), &identity().id);
        let lock = with_timeout(&dir.join(".numpack.lock"), Duration::ZERO);
        lock.lock(LockMode::Exclusive).unwrap();
        assert!(fs::symlink_metadata(dir.join(WRITER_FILE)).is_err(), "broken");
        assert_eq!(read_slot(&dir.join(".numpack.lock")).unwrap().pid as u32, std::process::id());
        lock.unlock();
        assert_eq!(files(&dir), [".numpack.lock"], "no marker or aside file left");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_marker_from_another_host_is_never_broken() {
        let dir = temp_dir("foreign");
        plant(&dir, dead_pid(), "0123456789ab");
        let lock = with_timeout(&dir.join(".numpack.lock"), Duration::from_millis(30));
        let Err(Error::Locked(msg)) = lock.lock(LockMode::Exclusive) else { panic!("took a foreign lock") };
        assert!(msg.contains("never removed automatically") && msg.contains("somehost"), "{msg}");
        assert!(fs::read_link(dir.join(WRITER_FILE)).unwrap().to_string_lossy().contains("0123456789ab"));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_marker_of_our_own_ended_hold_is_stale_but_a_held_one_is_live() {
        let dir = temp_dir("own");
        plant(&dir, std::process::id() as i32, &identity().id);
        let lock = with_timeout(&dir.join(".numpack.lock"), Duration::ZERO);
        lock.lock(LockMode::Exclusive).unwrap(); // token 0000abcd is not one we hold: stale
        lock.unlock();
        // Our live marker (made where the lock file is read-only to us), seen by a second hold in
        // this process (flock stops it first, so call the marker layer directly).
        let m = take_marker(&dir, Some(Duration::ZERO)).unwrap().unwrap();
        let Err(Error::Locked(_)) = take_marker(&dir, Some(Duration::from_millis(20))) else { panic!("broke a live marker") };
        release_marker(&dir, m);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_regular_file_marker_works_the_same_and_a_garbled_one_is_stale_only_once_old() {
        let dir = temp_dir("file");
        let marker = dir.join(WRITER_FILE);
        // What a writer on a file system without symlinks leaves.
        fs::write(&marker, format!("npk1 js {} 0000abcd {}", dead_pid(), identity().id)).unwrap();
        let m = take_marker(&dir, Some(Duration::ZERO)).unwrap().unwrap();
        release_marker(&dir, m);
        assert_eq!(files(&dir), Vec::<String>::new());
        fs::write(&marker, format!("npk1 js {} 0000abcd {}", std::os::unix::process::parent_id(), identity().id)).unwrap();
        let Err(Error::Locked(_)) = take_marker(&dir, Some(Duration::from_millis(20))) else { panic!("broke a live file marker") };
        // Empty: its writer may be about to fill it.
        fs::write(&marker, b"").unwrap();
        let Err(Error::Locked(msg)) = take_marker(&dir, Some(Duration::from_millis(20))) else { panic!("broke a fresh empty marker") };
        assert!(msg.contains("cannot be read"), "{msg}");
        let old = SystemTime::now() - GARBLED_GRACE - Duration::from_secs(1);
        File::options().write(true).open(&marker).unwrap().set_modified(old).unwrap();
        let m = take_marker(&dir, Some(Duration::ZERO)).unwrap().unwrap();
        release_marker(&dir, m);
        assert_eq!(files(&dir), Vec::<String>::new());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unlock_leaves_a_marker_that_is_not_ours() {
        let dir = temp_dir("notours");
        let m = take_marker(&dir, Some(Duration::ZERO)).unwrap().unwrap();
        fs::remove_file(dir.join(WRITER_FILE)).unwrap(); // someone deleted it by hand ...
        plant(&dir, std::os::unix::process::parent_id() as i32, &identity().id); // ... and another writer took it
        release_marker(&dir, m);
        assert!(fs::read_link(dir.join(WRITER_FILE)).unwrap().to_string_lossy().starts_with("npk1 js"));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_waiter_with_the_want_file_goes_before_a_newcomer() {
        let dir = temp_dir("want");
        let want = claim_want(&dir).unwrap();
        assert!(other_wants(&dir, None));
        assert!(!other_wants(&dir, Some(&want)));
        // A newcomer defers to the fresh want file, up to DEFER_MAX.
        let start = Instant::now();
        let m = take_marker(&dir, Some(Duration::from_secs(5))).unwrap().unwrap();
        assert!(start.elapsed() >= DEFER_MAX, "did not defer: {:?}", start.elapsed());
        release_marker(&dir, m);
        drop_want(&dir, want);
        assert_eq!(files(&dir), Vec::<String>::new());
        // An abandoned want file is cleared and ignored.
        let stale = claim_want(&dir).unwrap();
        stale.file.set_modified(SystemTime::now() - WANT_FRESH * 2).unwrap();
        assert!(!other_wants(&dir, None));
        assert!(claim_want(&dir).is_none(), "first call clears the abandoned one");
        assert!(claim_want(&dir).is_some());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn owner_records_and_pids_are_checked() {
        let h = parse_holder("npk1 js 5 0000abcd 0123456789ab host-1").unwrap();
        assert_eq!((h.pid, h.host.as_deref()), (5, Some("host-1")));
        assert_eq!(parse_holder("npk1 rs 5 0000abcd 0123456789ab").unwrap().host, None);
        for bad in ["", "npk1", "npk2 js 5 t i", "npk1 js 0 t i", "npk1 js -3 t i", "npk1 js x t i", "npk1 js 5 t i h extra"] {
            assert_eq!(parse_holder(bad), None, "{bad}");
        }
        assert!(owner_record("0000abcd").len() <= RECORD_MAX);
        assert_eq!(new_token().len(), 8);
        assert_ne!(new_token(), new_token());
        assert!(!pid_alive(dead_pid()));
        assert!(pid_alive(std::process::id() as i32));
        // FNV-1a-64 reference value (js/src/node-fs.js computes the same).
        assert_eq!(fnv1a(b"numpack"), 0xc08c_a166_09b0_e80e);
    }
}
