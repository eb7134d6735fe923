//! The writer-lock protocol of docs/FORMAT.md §5 ("Concurrency"), written once over [`LockFs`],
//! the few file and process primitives each runtime supplies (native: libc; Node: `node:fs`
//! through the wasm binding).
//!
//! Native writers hold an exclusive `flock` on `.numpack.lock` (the native crate takes it) and
//! [`announce`] themselves in its first [`SLOT`] bytes; Node writers, which have no `flock`, create
//! the writer marker [`WRITER_FILE`] with [`take_marker`] and then read that slot. Each side writes
//! its claim before it reads the other's, so of two that overlap at least one sees the other: both
//! may back off, never both go on. This module owns everything else: owner records, the verdict
//! on a holder (live, stale, foreign), breaking stale markers, waiting with a deadline
//! ([`TIMEOUT_ENV`]), and the want file that lets a waiter go next.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use crate::error::{Error, Result};
pub use crate::format::LOCK_FILE;

/// The writer marker's file name (in the store folder, beside [`LOCK_FILE`]).
pub const WRITER_FILE: &str = ".numpack.writer";
/// A waiting writer's claim to go next; holders defer to a fresh one (fairness only).
pub const WANT_FILE: &str = ".numpack.writer.want";
/// The environment variable giving, in seconds, how long a writer waits for another holder
/// before failing with [`Error::Locked`] (default 60; `0` tries once; `inf` never fails).
pub const TIMEOUT_ENV: &str = "NUMPACK_LOCK_TIMEOUT";
/// The announcement slot at the start of [`LOCK_FILE`]: one line (a native writer's owner record,
/// or nothing when none holds the store) padded with spaces to `SLOT - 1` bytes, then `\n`.
pub const SLOT: usize = 64;

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest pause between two tries of a waiter that is not next in line.
const MAX_POLL: Duration = Duration::from_millis(20);
/// The pause of the waiter that owns the want file (it is next in line), and the first pause.
const NEXT_POLL: Duration = Duration::from_millis(1);
/// A want file not touched for this long belongs to a waiter that is gone.
pub const WANT_FRESH: Duration = Duration::from_secs(1);
/// How often the owner of the want file touches it.
const WANT_REFRESH: Duration = Duration::from_millis(250);
/// The longest one lock call defers to another waiter's want file.
pub const DEFER_MAX: Duration = Duration::from_millis(250);
/// A marker without a readable owner record (a regular-file marker whose writer died between
/// creating and filling it) is stale once it is this old.
pub const GARBLED_GRACE: Duration = Duration::from_secs(10);
/// The first word of an owner record.
const RECORD_TAG: &str = "npk1";
/// The longest owner record: ext4 keeps a symlink target of up to 59 bytes in the inode, so the
/// link costs no data block (the optional host name is left out when it does not fit).
pub const RECORD_MAX: usize = 59;
/// The most bytes read of a regular-file marker.
const MARKER_MAX: usize = 4096;

/// A failed primitive: the POSIX error name (`"ENOENT"`, `"EEXIST"`, ...) and a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OsError {
    /// The error name, as Node's `error.code` gives it (native maps `errno` to the same names).
    pub code: String,
    /// A description for error messages.
    pub message: String,
}

/// The result of a [`LockFs`] primitive.
pub type Os<T> = std::result::Result<T, OsError>;

impl OsError {
    fn is(&self, codes: &[&str]) -> bool {
        codes.contains(&self.code.as_str())
    }
    /// "This folder cannot be written by us": no writer can exist through us.
    fn read_only(&self) -> bool {
        self.is(&["EACCES", "EPERM", "EROFS"])
    }
    fn not_found(&self) -> bool {
        self.is(&["ENOENT"])
    }
}

/// What the protocol needs from a runtime. Names are file names in the store folder; failures
/// carry POSIX error names. Every method is one system call or two.
pub trait LockFs {
    /// `symlink(2)`: creates `name` as a symbolic link to `target`, failing with `EEXIST`.
    fn symlink(&self, target: &str, name: &str) -> Os<()>;
    /// The target of the symbolic link `name` (`EINVAL`: it is not a link).
    fn read_link(&self, name: &str) -> Os<Vec<u8>>;
    /// Up to `max` bytes from the start of `name`.
    fn read(&self, name: &str, max: usize) -> Os<Vec<u8>>;
    /// Creates `name` (`O_CREAT | O_EXCL`, mode 0644) holding `data`; removes it again if the
    /// write fails.
    fn create_new(&self, name: &str, data: &[u8]) -> Os<()>;
    /// `rename(2)`.
    fn rename(&self, from: &str, to: &str) -> Os<()>;
    /// `link(2)`.
    fn hard_link(&self, from: &str, to: &str) -> Os<()>;
    /// `unlink(2)`.
    fn remove(&self, name: &str) -> Os<()>;
    /// How long ago `name` (not following a link) was modified; `None` if it does not exist.
    fn age(&self, name: &str) -> Os<Option<Duration>>;
    /// Sets the modification time of `name` to now.
    fn touch(&self, name: &str) -> Os<()>;
    /// `name` as a path for messages.
    fn display(&self, name: &str) -> String;
    /// This process's id.
    fn pid(&self) -> u32;
    /// `kill(pid, 0)`: false only if no such process exists (`ESRCH`).
    fn signal_zero(&self, pid: i32) -> bool;
    /// The text of a system file (`/proc/...`), or of the link when `link` is set; empty if it
    /// cannot be read.
    fn system(&self, path: &str, link: bool) -> String;
    /// The host name (empty if unknown).
    fn host(&self) -> String;
    /// The value of [`TIMEOUT_ENV`], if set.
    fn timeout_env(&self) -> Option<String>;
    /// A monotonic clock.
    fn now(&self) -> Duration;
    /// Sleeps for `d`.
    fn sleep(&self, d: Duration);
    /// 32 random bits (seeds the hold tokens).
    fn seed(&self) -> u32;
    /// The runtime's word in owner records: `rs` (native) or `js` (Node).
    fn runtime(&self) -> &'static str;
    /// Whether this copy of the protocol is the only one in the process (native), so a marker
    /// with our pid and a token we do not hold is known stale. False where each thread
    /// instantiates its own (wasm in Node worker threads): such a marker is then live.
    fn sole_in_process(&self) -> bool;
}

/// An owner record this process wrote (in a marker it created, or in the slot).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Marker {
    /// The record, e.g. `npk1 rs 21434 fdf7e87b be674c06158c vm`.
    pub record: String,
}

impl Marker {
    fn token(&self) -> &str {
        self.record.split(' ').nth(3).unwrap_or("")
    }
}

/// Who this process is, as a record names it (cached; the pid is read at each use).
struct Identity {
    /// The host name, as far as it is safe in a record (`[A-Za-z0-9._-]`, others as `_`).
    host: String,
    /// 12 hex digits of FNV-1a-64 over `host \n boot_id \n pid namespace`: equal only on the
    /// same host, the same boot and in the same pid namespace, where pids are comparable.
    id: String,
}

fn identity(fs: &impl LockFs) -> &'static Identity {
    static ID: OnceLock<Identity> = OnceLock::new();
    ID.get_or_init(|| {
        let host = fs.host();
        let boot = fs.system("/proc/sys/kernel/random/boot_id", false);
        let pidns = fs.system("/proc/self/ns/pid", true);
        let id = fnv1a(format!("{host}\n{}\n{pidns}", boot.trim()).as_bytes()) & 0xffff_ffff_ffff;
        let safe = host
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "._-".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        Identity {
            host: safe,
            id: format!("{id:012x}"),
        }
    })
}

/// FNV-1a-64 (the record id's hash).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A token unique within this copy of the protocol for 2^32 holds (8 hex digits).
fn new_token(fs: &impl LockFs) -> String {
    static SEED: OnceLock<u32> = OnceLock::new();
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let seed = *SEED.get_or_init(|| fs.seed());
    format!(
        "{:08x}",
        seed.wrapping_add(COUNTER.fetch_add(1, Ordering::Relaxed))
    )
}

/// Tokens of the markers held now through this copy of the protocol.
fn live_tokens() -> MutexGuard<'static, Vec<String>> {
    static LIVE: Mutex<Vec<String>> = Mutex::new(Vec::new());
    LIVE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Our owner record with a new token: `npk1 <runtime> <pid> <token> <id>[ <host>]`.
fn owner_record(fs: &impl LockFs) -> String {
    let id = identity(fs);
    let record = format!(
        "{RECORD_TAG} {} {} {} {}",
        fs.runtime(),
        fs.pid(),
        new_token(fs),
        id.id
    );
    if record.len() + 1 + id.host.len() <= RECORD_MAX && !id.host.is_empty() {
        format!("{record} {}", id.host)
    } else {
        record
    }
}

/// A parsed owner record.
#[derive(Debug, PartialEq)]
pub struct Holder {
    /// `rs` (native) or `js` (Node).
    pub runtime: String,
    /// Its process id.
    pub pid: i32,
    /// Unique per hold within its process.
    pub token: String,
    /// The host/boot/pid-namespace id.
    pub id: String,
    /// The host name, for messages.
    pub host: Option<String>,
}

/// Parses an owner record; `None` if `text` is not one.
pub fn parse_holder(text: &str) -> Option<Holder> {
    let mut words = text.split(' ');
    if words.next()? != RECORD_TAG {
        return None;
    }
    let runtime = words.next()?.to_string();
    let pid = words.next()?;
    if !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let pid: i32 = pid.parse().ok()?;
    let token = words.next()?.to_string();
    let id = words.next()?.to_string();
    let host = words.next().map(str::to_string);
    (pid > 0
        && !runtime.is_empty()
        && !token.is_empty()
        && !id.is_empty()
        && words.next().is_none())
    .then_some(Holder {
        runtime,
        pid,
        token,
        id,
        host,
    })
}

/// The slot holding `line` (a record, or nothing for "idle").
pub fn slot(line: &str) -> [u8; SLOT] {
    let mut buf = [b' '; SLOT];
    buf[..line.len()].copy_from_slice(line.as_bytes());
    buf[SLOT - 1] = b'\n';
    buf
}

/// The owner record in a slot's first line (trailing spaces dropped), if there is one.
pub fn slot_holder(bytes: &[u8]) -> Option<(String, Holder)> {
    let line = bytes.split(|&b| b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?.trim_end_matches(' ');
    parse_holder(line).map(|h| (line.to_string(), h))
}

/// Where a claim was seen.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    /// A symbolic-link marker.
    Link,
    /// A regular-file marker.
    File,
    /// A native writer's record in the lock file's slot.
    Slot,
}

/// Another holder's claim as read.
struct Seen {
    kind: Kind,
    text: Vec<u8>,
    /// `Err`: we may not read it; `Ok(None)`: it holds no owner record.
    holder: std::result::Result<Option<Holder>, ()>,
    age: Duration,
}

/// Reads the marker `name`; `None` if there is none.
fn observe(fs: &impl LockFs, name: &str) -> Os<Option<Seen>> {
    let (kind, text, readable) = match fs.read_link(name) {
        Ok(target) => (Kind::Link, target, true),
        Err(e) if e.not_found() => return Ok(None),
        // Not a symlink: a regular-file marker.
        Err(e) if e.is(&["EINVAL", "UNKNOWN"]) => match fs.read(name, MARKER_MAX) {
            Ok(text) => (Kind::File, text, true),
            Err(e) if e.not_found() => return Ok(None),
            Err(_) => (Kind::File, Vec::new(), false),
        },
        Err(e) => return Err(e),
    };
    let holder = if readable {
        Ok(std::str::from_utf8(&text).ok().and_then(parse_holder))
    } else {
        Err(())
    };
    let age = match holder {
        Ok(None) => fs.age(name).ok().flatten().unwrap_or(Duration::ZERO),
        _ => Duration::ZERO,
    };
    Ok(Some(Seen {
        kind,
        text,
        holder,
        age,
    }))
}

/// What to do about a claim someone else holds.
#[derive(Debug, PartialEq)]
enum Verdict {
    /// Its owner is gone: break (or ignore) it.
    Stale,
    /// Its owner runs (or may run) on this host: wait.
    Live,
    /// Its owner is on another host, boot or pid namespace: wait, never break.
    Foreign,
}

fn verdict(fs: &impl LockFs, seen: &Seen) -> Verdict {
    let h = match &seen.holder {
        Err(()) => return Verdict::Live,
        Ok(None) => {
            return if seen.age > GARBLED_GRACE {
                Verdict::Stale
            } else {
                Verdict::Live
            };
        }
        Ok(Some(h)) => h,
    };
    if h.id != identity(fs).id {
        return Verdict::Foreign;
    }
    if h.pid as u32 == fs.pid() && fs.sole_in_process() {
        return if live_tokens().contains(&h.token) {
            Verdict::Live
        } else {
            Verdict::Stale
        };
    }
    if pid_alive(fs, h.pid) {
        Verdict::Live
    } else {
        Verdict::Stale
    }
}

/// Whether process `pid` of this pid namespace runs (a zombie does not). A pid reused by an
/// unrelated process reads as alive: that only delays, never breaks, a lock.
fn pid_alive(fs: &impl LockFs, pid: i32) -> bool {
    if !fs.signal_zero(pid) {
        return false;
    }
    // A killed process stays a zombie until its parent reaps it; it holds nothing.
    let stat = fs.system(&format!("/proc/{pid}/stat"), false);
    let state = stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].trim_start().chars().next());
    !matches!(state, Some('Z' | 'X'))
}

/// Removes the stale marker `seen` so the create can be retried. It is renamed aside first and
/// checked there, so two breakers cannot both remove it: if what we moved is not the marker we
/// judged (another breaker won and a live writer has since created a new one), it is put back.
fn break_stale(fs: &impl LockFs, seen: &Seen) -> Os<()> {
    let aside = format!("{WRITER_FILE}.{}.{}.stale", fs.pid(), new_token(fs));
    match fs.rename(WRITER_FILE, &aside) {
        Ok(()) => {}
        Err(e) if e.not_found() => return Ok(()),
        Err(e) => return Err(e),
    }
    if let Ok(Some(moved)) = observe(fs, &aside)
        && (moved.kind != seen.kind || moved.text != seen.text)
    {
        let back = match moved.kind {
            Kind::Link => fs.symlink(&String::from_utf8_lossy(&moved.text), WRITER_FILE),
            _ => fs.hard_link(&aside, WRITER_FILE),
        };
        match back {
            Ok(()) => {}
            // Yet another writer created a marker meanwhile; nothing we can restore.
            Err(e) if e.is(&["EEXIST"]) => {}
            // It cannot be re-created (no hard links here): move it back.
            _ => return fs.rename(&aside, WRITER_FILE),
        }
    }
    match fs.remove(&aside) {
        Err(e) if !e.not_found() => Err(e),
        _ => Ok(()),
    }
}

/// Creates the marker, holding a new owner record of ours.
fn create_marker(fs: &impl LockFs) -> Os<Marker> {
    let record = owner_record(fs);
    match fs.symlink(&record, WRITER_FILE) {
        Ok(()) => {}
        // No symlinks here (FAT, some network file systems): a regular file.
        Err(e) if e.is(&["EPERM", "ENOTSUP", "EOPNOTSUPP", "ENOSYS"]) => {
            fs.create_new(WRITER_FILE, record.as_bytes())?
        }
        Err(e) => return Err(e),
    }
    let marker = Marker { record };
    live_tokens().push(marker.token().to_string());
    Ok(marker)
}

/// Removes our marker (only if it still holds our record).
pub fn release_marker(fs: &impl LockFs, m: &Marker) {
    if let Ok(Some(seen)) = observe(fs, WRITER_FILE)
        && seen.text == m.record.as_bytes()
    {
        let _ = fs.remove(WRITER_FILE);
    }
    live_tokens().retain(|t| t != m.token());
}

fn lock_error(what: &str, err: OsError) -> Error {
    Error::Locked(format!("{what}: {} ({})", err.message, err.code))
}

/// The native writer announced in the lock file's slot, if any.
fn native_claim(fs: &impl LockFs) -> Result<Option<Seen>> {
    match fs.read(LOCK_FILE, SLOT) {
        Ok(bytes) => Ok(slot_holder(&bytes).map(|(line, h)| Seen {
            kind: Kind::Slot,
            text: line.into_bytes(),
            holder: Ok(Some(h)),
            age: Duration::ZERO,
        })),
        // No lock file: no native writer yet (one that creates it then sees our marker).
        Err(e) if e.not_found() || e.read_only() => Ok(None),
        Err(e) => Err(lock_error("cannot read the lock file", e)),
    }
}

/// Creates the writer marker, waiting for another holder's to go (and, with `watch_slot`, for no
/// live native writer to be announced in the slot: Node's side). `Ok(None)`: the folder is
/// read-only to us, so we cannot write and need no marker. `timeout` replaces [`TIMEOUT_ENV`].
pub fn take_marker(
    fs: &impl LockFs,
    watch_slot: bool,
    timeout: Option<Duration>,
) -> Result<Option<Marker>> {
    let mut waiter = Waiter::new(fs, timeout);
    loop {
        if waiter.defer() {
            continue;
        }
        let seen = match create_marker(fs) {
            // First our claim (the marker), then theirs: a native writer announces itself before
            // it looks for a marker, so one of us sees the other. A dead one's record is left.
            Ok(mine) => match if watch_slot {
                native_claim(fs)
            } else {
                Ok(None)
            } {
                Ok(Some(seen)) if verdict(fs, &seen) != Verdict::Stale => {
                    release_marker(fs, &mine); // back off, so the native writer goes on
                    seen
                }
                Ok(_) => return Ok(Some(mine)),
                Err(e) => {
                    release_marker(fs, &mine);
                    return Err(e);
                }
            },
            Err(e) if e.is(&["EEXIST"]) => match observe(fs, WRITER_FILE) {
                Ok(None) => continue,
                Ok(Some(seen)) => {
                    if waiter.may_break(&seen) {
                        match break_stale(fs, &seen) {
                            Ok(()) => continue,
                            Err(e) if e.read_only() => return Ok(None),
                            Err(e) => {
                                return Err(lock_error("cannot remove a stale writer marker", e));
                            }
                        }
                    }
                    seen
                }
                Err(e) => return Err(lock_error("cannot read the writer marker", e)),
            },
            Err(e) if e.read_only() => return Ok(None),
            Err(e) => return Err(lock_error("cannot create the writer marker", e)),
        };
        waiter.wait(&seen)?;
    }
}

/// A native writer's side, its `flock` already held: writes our record into the slot through
/// `write_slot` (a `pwrite` at offset 0), then checks for a writer marker, waiting (record
/// withdrawn) while a live one exists. `Ok(Some(_))`: announced (withdraw it with
/// [`idle_slot`] when the hold ends); `Ok(None)`: the slot cannot be written, take the marker.
pub fn announce(
    fs: &impl LockFs,
    write_slot: &dyn Fn(&[u8]) -> bool,
    timeout: Option<Duration>,
) -> Result<Option<Marker>> {
    let marker = Marker {
        record: owner_record(fs),
    };
    let record = slot(&marker.record);
    let mut waiter = Waiter::new(fs, timeout);
    let mut announced = false;
    let result = loop {
        if !announced && waiter.defer() {
            continue;
        }
        // First write our claim, then read theirs (see the module comment).
        if !announced {
            if !write_slot(&record) {
                break Ok(None);
            }
            announced = true;
        }
        let seen = match observe(fs, WRITER_FILE) {
            Ok(None) => break Ok(Some(marker)),
            Ok(Some(seen)) => seen,
            Err(e) => break Err(lock_error("cannot read the writer marker", e)),
        };
        if waiter.may_break(&seen) {
            match break_stale(fs, &seen) {
                Ok(()) => continue,
                // No writer can exist in a folder we cannot change, and we cannot write it either.
                Err(e) if e.read_only() => break Ok(Some(marker)),
                Err(e) => break Err(lock_error("cannot remove a stale writer marker", e)),
            }
        }
        // A live marker: back off, so its owner (which may be reading our slot now) goes on.
        write_slot(&idle_slot());
        announced = false;
        if let Err(e) = waiter.wait(&seen) {
            break Err(e);
        }
    };
    if result.is_err() && announced {
        write_slot(&idle_slot());
    }
    result
}

/// The slot that announces nothing.
pub fn idle_slot() -> [u8; SLOT] {
    slot("")
}

/// The wait in [`TIMEOUT_ENV`]'s value (seconds; `inf` never ends; unset or invalid: 60 s).
pub fn parse_timeout(value: Option<&str>) -> Duration {
    match value.and_then(|s| s.trim().parse::<f64>().ok()) {
        Some(v) if v >= 0.0 => Duration::try_from_secs_f64(v).unwrap_or(Duration::MAX),
        _ => DEFAULT_TIMEOUT,
    }
}

fn describe(fs: &impl LockFs, seen: &Seen, waited: Duration) -> String {
    let (file, fix) = match seen.kind {
        Kind::Slot => (LOCK_FILE, "truncate that file (do not delete it)"),
        _ => (WRITER_FILE, "delete that file"),
    };
    let who = match &seen.holder {
        Ok(Some(h)) => {
            let runtime = match h.runtime.as_str() {
                "rs" => "native/Python",
                "js" => "Node",
                other => other,
            };
            if verdict(fs, seen) == Verdict::Foreign {
                let host = h.host.as_deref().unwrap_or("?");
                format!(
                    "held by pid {} ({runtime}) on another host, boot or pid namespace (host {host}), so it is never removed automatically",
                    h.pid
                )
            } else {
                format!("held by pid {} ({runtime}) on this host", h.pid)
            }
        }
        _ => "held by a writer whose record cannot be read".to_string(),
    };
    let what = if seen.kind == Kind::Slot {
        format!("names a native writer {who}")
    } else {
        format!("is {who}")
    };
    format!(
        "another writer holds the store: {} {what}; waited {:.1} s ({TIMEOUT_ENV}). If no such process is running, {fix}",
        fs.display(file),
        waited.as_secs_f64()
    )
}

/// The want file this waiter created, holding its token.
struct Want {
    token: String,
    touched: Duration,
}

/// The waiting side of both lock paths: the deadline, the want file that asks a busy writer to
/// let us go next, the poll backoff, and a cap on stale-marker breaks. Dropping it gives up the
/// want file.
struct Waiter<'a, F: LockFs> {
    fs: &'a F,
    start: Duration,
    limit: Option<Duration>,
    want: Option<Want>,
    poll: Duration,
    deferred: Duration,
    breaks: u32,
}

impl<'a, F: LockFs> Waiter<'a, F> {
    fn new(fs: &'a F, timeout: Option<Duration>) -> Waiter<'a, F> {
        Waiter {
            fs,
            start: fs.now(),
            limit: timeout,
            want: None,
            poll: NEXT_POLL,
            deferred: Duration::ZERO,
            breaks: 0,
        }
    }

    /// The deadline ([`TIMEOUT_ENV`] unless the caller gave one), read once.
    fn limit(&mut self) -> Duration {
        *self
            .limit
            .get_or_insert_with(|| parse_timeout(self.fs.timeout_env().as_deref()))
    }

    fn elapsed(&self) -> Duration {
        self.fs.now().saturating_sub(self.start)
    }

    /// Whether a fresh want file says another waiter goes next (asked only while we have none).
    fn other_wants(&self) -> bool {
        matches!(self.fs.age(WANT_FILE), Ok(Some(age)) if age < WANT_FRESH)
    }

    /// Fairness: while another waiter holds the want file (and we have time to let it), naps
    /// once and returns true so the caller tries again, up to [`DEFER_MAX`] in all.
    fn defer(&mut self) -> bool {
        if self.want.is_some() || self.deferred >= DEFER_MAX || !self.other_wants() {
            return false;
        }
        if self.elapsed() + NEXT_POLL >= self.limit() {
            return false;
        }
        let t = self.fs.now();
        self.fs.sleep(NEXT_POLL);
        self.deferred += self.fs.now().saturating_sub(t).max(NEXT_POLL);
        true
    }

    /// Whether to break the marker `seen` as stale (a break that keeps failing to clear the way
    /// falls back to waiting).
    fn may_break(&mut self, seen: &Seen) -> bool {
        if verdict(self.fs, seen) != Verdict::Stale || self.breaks >= 100 {
            return false;
        }
        self.breaks += 1;
        true
    }

    /// Claims the want file, or clears an abandoned one so the next poll can.
    fn claim_want(&mut self) {
        let token = new_token(self.fs);
        match self.fs.create_new(WANT_FILE, token.as_bytes()) {
            Ok(()) => {
                self.want = Some(Want {
                    token,
                    touched: self.fs.now(),
                })
            }
            Err(e) if e.is(&["EEXIST"]) && !self.other_wants() => {
                let _ = self.fs.remove(WANT_FILE);
            }
            Err(_) => {}
        }
    }

    /// One wait for the holder of `seen`: the typed timeout error once the deadline has passed;
    /// else claims (or refreshes) the want file and sleeps one poll.
    fn wait(&mut self, seen: &Seen) -> Result<()> {
        let limit = self.limit();
        let waited = self.elapsed();
        if waited >= limit {
            return Err(Error::Locked(describe(self.fs, seen, waited)));
        }
        match &mut self.want {
            None => self.claim_want(),
            Some(w) if self.fs.now().saturating_sub(w.touched) >= WANT_REFRESH => {
                let _ = self.fs.touch(WANT_FILE);
                w.touched = self.fs.now();
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
        self.fs.sleep(nap.min(limit - waited));
        Ok(())
    }
}

impl<F: LockFs> Drop for Waiter<'_, F> {
    fn drop(&mut self) {
        if let Some(w) = self.want.take()
            && self
                .fs
                .read(WANT_FILE, 64)
                .is_ok_and(|t| t == w.token.as_bytes())
        {
            let _ = self.fs.remove(WANT_FILE);
        }
    }
}
