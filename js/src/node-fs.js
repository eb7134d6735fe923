// The Node.js back end: the store folder on disk through synchronous `node:fs` calls. It
// implements the `IoBackend` callbacks the wasm `JsIo` calls (see wasm/src/js_io.rs).
//
// Locking: Node has no flock(), so an exclusive lock() creates the writer marker
// `.numpack.writer`: a symlink whose target names its owner (pid, host), made atomically and
// failing if the name exists (a file opened with O_CREAT|O_EXCL where symlinks cannot be made);
// unlock() removes it. Node writers exclude each other by it. A native (Python) writer instead
// writes its owner record into the first 64 bytes of `.numpack.lock` (under its flock) and then
// looks for a marker; so after creating the marker we read that slot, and if a live native
// writer is announced there we remove our marker, wait and retry. Both sides write their claim
// before reading the other's, so they never both go on. A marker (or native record) whose owner
// is dead (same host, boot and pid namespace) is broken (ignored); one from another host never
// is. A writer waits up to NUMPACK_LOCK_TIMEOUT seconds (default 60), sleeping synchronously,
// then throws (the store raises StoreLockedError). Shared (reader) locks are no-ops here: commits
// are atomic renames (see docs/FORMAT.md §5 for what a reader may see). native/src/lock.rs
// implements the native side.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { StoreIOError, ValueError } from './errors.js';

const MASK64 = (1n << 64n) - 1n;

// ---- the writer marker (see docs/FORMAT.md §5, "Concurrency"; native/src/lock.rs) ----------

const WRITER_FILE = '.numpack.writer';
const WANT_FILE = '.numpack.writer.want';
const LOCK_FILE = '.numpack.lock'; // its first SLOT bytes: a native writer's owner record, or idle
const SLOT = 64;
const SLOT_BUF = Buffer.alloc(SLOT);
const RECORD_TAG = 'npk1';
const RECORD_MAX = 59; // ext4 keeps a symlink target this short in the inode
const DEFAULT_TIMEOUT_MS = 60_000;
const MAX_POLL_MS = 20; // the longest pause of a waiter that is not next in line
const NEXT_POLL_MS = 1; // the pause of the waiter owning the want file, and the first pause
const WANT_FRESH_MS = 1000; // a want file untouched this long belongs to a waiter that is gone
const WANT_REFRESH_MS = 250;
const DEFER_MAX_MS = 250; // the longest one lock() defers to another waiter's want file
const GARBLED_GRACE_MS = 10_000; // a marker without an owner record older than this is stale
const SLEEP_CELL = new Int32Array(new SharedArrayBuffer(4));
let identity = null;
let tokenSeed = null;
let tokenCount = 0;

const sleep = (ms) => { if (ms > 0) Atomics.wait(SLEEP_CELL, 0, 0, ms); };
const isReadOnly = (e) => e?.code === 'EACCES' || e?.code === 'EPERM' || e?.code === 'EROFS';
const noSymlinks = (e) => e?.code === 'EPERM' || e?.code === 'ENOTSUP' || e?.code === 'EOPNOTSUPP' || e?.code === 'ENOSYS';

function fnv1a(bytes) {
  let h = 0xcbf29ce484222325n;
  for (const b of bytes) h = ((h ^ BigInt(b)) * 0x100000001b3n) & MASK64;
  return h;
}

/** This process as a marker records it: the host name (as far as it is safe in a record) and
 * 12 hex digits of FNV-1a-64 over `host \n boot_id \n pid namespace`, equal only where pids are
 * comparable (same host, same boot, same pid namespace). */
function me() {
  if (!identity) {
    const read = (f) => { try { return f(); } catch { return ''; } };
    const host = read(() => os.hostname());
    const boot = read(() => fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim());
    const pidns = read(() => fs.readlinkSync('/proc/self/ns/pid'));
    const id = fnv1a(Buffer.from(`${host}\n${boot}\n${pidns}`, 'utf8')) & 0xffffffffffffn;
    identity = { host: host.replace(/[^A-Za-z0-9._-]/g, '_'), id: id.toString(16).padStart(12, '0') };
  }
  return identity;
}

/** 8 hex digits, unique within this realm for 2^32 holds (with the pid: a record is unique). */
function newToken() {
  tokenSeed ??= randomBytes(4).readUInt32LE(0);
  tokenCount += 1;
  return ((tokenSeed + tokenCount) >>> 0).toString(16).padStart(8, '0');
}

/** Our owner record: `npk1 js <pid> <token> <id>[ <host>]`. */
function ownerRecord(token) {
  const { host, id } = me();
  const record = `${RECORD_TAG} js ${process.pid} ${token} ${id}`;
  return host && record.length + 1 + host.length <= RECORD_MAX ? `${record} ${host}` : record;
}

function parseHolder(text) {
  const w = text.split(' ');
  if (w[0] !== RECORD_TAG || w.length < 5 || w.length > 6 || !/^\d+$/.test(w[2])) return null;
  const pid = Number(w[2]);
  if (!(pid > 0 && pid < 2 ** 31) || !w[1] || !w[3] || !w[4]) return null;
  return { runtime: w[1], pid, token: w[3], id: w[4], host: w[5] ?? null };
}

/** The marker at `p` as `{ kind, text, holder, age }` (`holder`: object, null = no owner
 * record, undefined = unreadable), or null if there is none. */
function observe(p) {
  let kind = 'link'; let text = ''; let readable = true;
  try {
    text = fs.readlinkSync(p, 'latin1');
  } catch (e) {
    if (e.code === 'ENOENT') return null;
    if (e.code !== 'EINVAL' && e.code !== 'UNKNOWN') throw e;
    kind = 'file'; // not a symlink: a regular-file marker
    try {
      text = fs.readFileSync(p, 'latin1').slice(0, 4096);
    } catch (e2) {
      if (e2.code === 'ENOENT') return null;
      readable = false;
    }
  }
  const holder = readable ? parseHolder(text) : undefined;
  let age = 0;
  if (holder === null) {
    const st = fs.lstatSync(p, { throwIfNoEntry: false });
    age = st ? Date.now() - st.mtimeMs : 0;
  }
  return { kind, text, holder, age };
}

/** Whether process `pid` of this pid namespace runs; a zombie does not. A reused pid reads as
 * alive, which only delays a lock. */
function pidAlive(pid) {
  try { process.kill(pid, 0); } catch (e) { if (e.code === 'ESRCH') return false; }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    const state = stat.slice(stat.lastIndexOf(')') + 1).trim()[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return true;
  }
}

/** 'stale' (break it), 'live' (wait) or 'foreign' (another host, boot or pid namespace: wait,
 * never break). */
function verdict(seen) {
  const h = seen.holder;
  if (h === undefined) return 'live';
  if (h === null) return seen.age > GARBLED_GRACE_MS ? 'stale' : 'live';
  if (h.id !== me().id) return 'foreign';
  return pidAlive(h.pid) ? 'live' : 'stale';
}

/** Removes the stale marker `seen`: renamed aside first and checked there, so two breakers
 * cannot both remove it; if what we moved is a newer live marker, it is put back. */
function breakStale(root, seen) {
  const marker = path.join(root, WRITER_FILE);
  const aside = path.join(root, `${WRITER_FILE}.${process.pid}.${newToken()}.stale`);
  try { fs.renameSync(marker, aside); } catch (e) { if (e.code === 'ENOENT') return; throw e; }
  const moved = observe(aside);
  if (moved && (moved.kind !== seen.kind || moved.text !== seen.text)) {
    try {
      if (moved.kind === 'link') fs.symlinkSync(moved.text, marker); else fs.linkSync(aside, marker);
    } catch (e) {
      // EEXIST: yet another writer created a marker meanwhile; nothing we can restore.
      if (e.code !== 'EEXIST') { fs.renameSync(aside, marker); return; }
    }
  }
  fs.rmSync(aside, { force: true });
}

function createMarker(root) {
  const p = path.join(root, WRITER_FILE);
  const token = newToken();
  const record = ownerRecord(token);
  try {
    fs.symlinkSync(record, p);
  } catch (e) {
    if (!noSymlinks(e)) throw e;
    const fd = fs.openSync(p, 'wx', 0o644); // no symlinks here (FAT, Windows without the privilege)
    try {
      fs.writeSync(fd, record);
    } catch (e2) {
      fs.closeSync(fd);
      fs.rmSync(p, { force: true });
      throw e2;
    }
    fs.closeSync(fd);
  }
  return { record, token };
}

/** The native writer announced in `.numpack.lock`'s slot (its first line, trailing spaces
 * dropped), as `observe` describes a marker; null if none is (no file, idle, or no record). */
function nativeClaim(root) {
  let fd;
  try {
    fd = fs.openSync(path.join(root, LOCK_FILE), 'r');
  } catch (e) {
    // No lock file: no native writer yet (one that creates it then sees our marker).
    if (e.code === 'ENOENT' || isReadOnly(e)) return null;
    throw e;
  }
  let n;
  try { n = fs.readSync(fd, SLOT_BUF, 0, SLOT, 0); } finally { fs.closeSync(fd); }
  const text = SLOT_BUF.toString('latin1', 0, n);
  const nl = text.indexOf('\n');
  const line = (nl < 0 ? text : text.slice(0, nl)).replace(/ +$/, '');
  const holder = parseHolder(line);
  return holder ? { kind: 'slot', text: line, holder, age: 0 } : null;
}

/** Removes our marker (only if it is still ours). */
function releaseMarker(root, m) {
  const p = path.join(root, WRITER_FILE);
  try {
    const seen = observe(p);
    if (seen && seen.text === m.record) fs.unlinkSync(p);
  } catch { /* unlock cannot fail; a marker left behind is stale once we exit */ }
}

function otherWants(root, mine) {
  const st = fs.statSync(path.join(root, WANT_FILE), { bigint: true, throwIfNoEntry: false });
  if (!st || (mine && mine.dev === st.dev && mine.ino === st.ino)) return false;
  return Date.now() - Number(st.mtimeMs) < WANT_FRESH_MS;
}

/** Claims the want file (empty; only its time is read), or clears an abandoned one. */
function claimWant(root) {
  const p = path.join(root, WANT_FILE);
  let fd;
  try {
    fd = fs.openSync(p, 'wx', 0o644);
  } catch (e) {
    if (e.code === 'EEXIST' && !otherWants(root, null)) fs.rmSync(p, { force: true });
    return null;
  }
  const st = fs.fstatSync(fd, { bigint: true });
  return { fd, dev: st.dev, ino: st.ino, touched: Date.now() };
}

function dropWant(root, w) {
  try {
    const p = path.join(root, WANT_FILE);
    const st = fs.statSync(p, { bigint: true, throwIfNoEntry: false });
    if (st && st.dev === w.dev && st.ino === w.ino) fs.unlinkSync(p);
  } catch { /* only fairness is at stake */ }
  try { fs.closeSync(w.fd); } catch { /* already closed */ }
}

/** The marker wait in ms from NUMPACK_LOCK_TIMEOUT (seconds; `inf` waits forever). */
function timeoutMs() {
  const raw = (process.env.NUMPACK_LOCK_TIMEOUT ?? '').trim();
  if (/^\+?inf(inity)?$/i.test(raw)) return Infinity;
  const v = raw === '' ? NaN : Number(raw);
  return Number.isFinite(v) && v >= 0 ? v * 1000 : DEFAULT_TIMEOUT_MS;
}

function lockedError(root, seen, waitedMs) {
  const inSlot = seen.kind === 'slot';
  const p = path.join(root, inSlot ? LOCK_FILE : WRITER_FILE);
  let who = 'held by a writer whose record cannot be read';
  const h = seen.holder;
  if (h) {
    const runtime = { rs: 'native/Python', js: 'Node' }[h.runtime] ?? h.runtime;
    who = verdict(seen) === 'foreign'
      ? `held by pid ${h.pid} (${runtime}) on another host, boot or pid namespace (host ${h.host ?? '?'}), so it is never removed automatically`
      : `held by pid ${h.pid} (${runtime}) on this host`;
  }
  const what = inSlot ? `${p} names a native writer ${who}` : `${p} is ${who}`;
  const fix = inSlot ? 'truncate that file (do not delete it)' : 'delete that file';
  const e = new Error(`another writer holds the store: ${what}; waited ${(waitedMs / 1000).toFixed(1)} s (NUMPACK_LOCK_TIMEOUT). If no such process is running, ${fix}`);
  e.code = 'ELOCKED';
  e.name = 'StoreLockedError';
  return e;
}

/** Creates the writer marker in `root`, waiting for another holder's to go and for no live native
 * writer to be announced in `.numpack.lock`. null: the folder is read-only to us (we cannot
 * write, so no marker is needed). */
function takeMarker(root) {
  const start = Date.now();
  let limit = null;
  let want = null;
  let poll = NEXT_POLL_MS;
  let deferred = 0;
  let breaks = 0;
  try {
    for (;;) {
      // Fairness: a waiter that claimed the want file goes next (if we have time to let it).
      if (!want && deferred < DEFER_MAX_MS && otherWants(root, null)) {
        limit ??= timeoutMs();
        if (Date.now() - start + NEXT_POLL_MS < limit) {
          const t = Date.now();
          sleep(NEXT_POLL_MS);
          deferred += Math.max(Date.now() - t, NEXT_POLL_MS);
          continue;
        }
      }
      let mine = null;
      try {
        mine = createMarker(root);
      } catch (e) {
        if (isReadOnly(e)) return null;
        if (e.code !== 'EEXIST') throw e;
      }
      let seen;
      if (mine) {
        // First our claim (the marker), then theirs: a native writer announces itself before it
        // looks for a marker, so one of us sees the other. A dead one's record is left over.
        seen = nativeClaim(root);
        if (!seen || verdict(seen) === 'stale') return mine;
        releaseMarker(root, mine); // back off, so the native writer goes on
      } else {
        seen = observe(path.join(root, WRITER_FILE));
        if (!seen) continue;
      }
      // (A break that keeps failing to clear the way falls back to waiting.)
      if (!mine && breaks < 100 && verdict(seen) === 'stale') {
        breaks += 1;
        try { breakStale(root, seen); } catch (e) { if (isReadOnly(e)) return null; throw e; }
        continue;
      }
      limit ??= timeoutMs();
      const waited = Date.now() - start;
      if (waited >= limit) throw lockedError(root, seen, waited);
      if (!want) {
        want = claimWant(root);
      } else if (Date.now() - want.touched >= WANT_REFRESH_MS) {
        try { fs.futimesSync(want.fd, new Date(), new Date()); } catch { /* fairness only */ }
        want.touched = Date.now();
      }
      let nap = NEXT_POLL_MS;
      if (!want) { nap = poll; poll = Math.min(poll * 2, MAX_POLL_MS); }
      sleep(Math.min(nap, limit - waited));
    }
  } finally {
    if (want) dropWant(root, want);
  }
}

/** A store folder on disk. `options.clock` (→ µs) replaces the wall clock (tests, byte comparisons). */
export class NodeFsBackend {
  #holds = []; // the modes of the holds taken through this back end, innermost last
  #marker = null; // the writer marker of the exclusive hold
  #readFds = new Map(); // path → descriptor opened for reading, kept while a hold lasts

  /** Opens (creating if needed) the folder `root`: a non-empty path string (else `ValueError`);
   * a path that is not a folder, or cannot be created, is a `StoreIOError`. */
  constructor(root, options = {}) {
    if (typeof root !== 'string' || root === '' || root.includes('\0')) {
      throw new ValueError(`a store path must be a non-empty string, got ${typeof root === 'string' ? JSON.stringify(root) : typeof root}`);
    }
    this.root = path.resolve(root);
    this.clock = options?.clock ?? null;
    if (this.clock !== null && typeof this.clock !== 'function') throw new ValueError('options.clock must be a function');
    try {
      fs.mkdirSync(this.root, { recursive: true });
      if (!fs.statSync(this.root).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    } catch (e) {
      throw new StoreIOError(`cannot open the store folder ${this.root}: ${e.code ?? ''} ${e.message}`, { cause: e });
    }
  }

  #p(rel) { return rel === '' ? this.root : path.join(this.root, rel); }

  /** Reads exactly `into.length` bytes at `offset`. Inside a hold (every store call takes one)
   * the descriptor is kept for the call's next reads of the same file, so scattered row reads
   * cost one pread each; descriptors are closed when the outermost hold ends, and dropped at once
   * when their path is renamed over or removed. */
  readAt(p, offset, into) {
    let fd = this.#readFds.get(p);
    const keep = this.#holds.length > 0;
    if (fd === undefined) {
      fd = fs.openSync(this.#p(p), 'r');
      if (keep) this.#readFds.set(p, fd);
    }
    try {
      let done = 0;
      while (done < into.length) {
        const n = fs.readSync(fd, into, done, into.length - done, offset + done);
        if (n === 0) throw eof(p);
        done += n;
      }
    } finally {
      if (!keep) fs.closeSync(fd);
    }
  }

  /** Closes the kept read descriptor of `p` (all of them when `p` is undefined; those under the
   * folder `p` when `under` is set). */
  #forget(p, under = false) {
    for (const [k, fd] of this.#readFds) {
      if (p === undefined || k === p || (under && k.startsWith(`${p}/`))) {
        fs.closeSync(fd);
        this.#readFds.delete(k);
      }
    }
  }

  writeAt(p, offset, data) {
    const fd = fs.openSync(this.#p(p), fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
    try {
      let done = 0;
      while (done < data.length) done += fs.writeSync(fd, data, done, data.length - done, offset + done);
    } finally {
      fs.closeSync(fd);
    }
  }

  len(p) {
    const st = fs.statSync(this.#p(p), { throwIfNoEntry: false });
    return st && st.isFile() ? st.size : null;
  }

  setLen(p, len) {
    const fd = fs.openSync(this.#p(p), fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
    try { fs.ftruncateSync(fd, len); } finally { fs.closeSync(fd); }
  }

  sync(p) {
    const fd = fs.openSync(this.#p(p), 'r');
    try { fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
  }

  rename(from, to) {
    this.#forget(from);
    this.#forget(to);
    fs.renameSync(this.#p(from), this.#p(to));
  }

  remove(p) {
    this.#forget(p);
    fs.rmSync(this.#p(p), { force: true });
  }

  createDir(dir) { fs.mkdirSync(this.#p(dir), { recursive: true }); }

  removeDir(dir) {
    this.#forget(dir, true);
    try { fs.rmdirSync(this.#p(dir)); } catch (e) { if (e.code !== 'ENOENT') throw e; }
  }

  list(dir) {
    return fs.readdirSync(this.#p(dir), { withFileTypes: true }).filter((d) => d.isFile()).map((d) => d.name);
  }

  stamp(p) {
    const st = fs.statSync(this.#p(p), { bigint: true, throwIfNoEntry: false });
    if (!st) return null;
    // Any replace (new inode), write (mtime/ctime) or resize changes the token.
    let h = 0xcbf29ce484222325n;
    for (const v of [st.ino, st.mtimeNs, st.ctimeNs, st.size]) h = ((h ^ v) * 0x100000001b3n) & MASK64;
    return h;
  }

  now() {
    if (this.clock) return this.clock();
    return Math.floor((performance.timeOrigin + performance.now()) * 1000);
  }

  /** Takes the store lock: `exclusive` creates the writer marker (waiting for another holder's
   * to go, then throwing); `shared` takes nothing. Nested holds share one marker. */
  lock(mode) {
    if (mode === 'exclusive' && !this.#holds.includes('exclusive')) this.#marker = takeMarker(this.root);
    this.#holds.push(mode);
  }

  /** Releases the innermost hold; the marker goes with the last exclusive one. */
  unlock() {
    const mode = this.#holds.pop();
    if (this.#holds.length === 0) this.#forget();
    if (mode === 'exclusive' && !this.#holds.includes('exclusive') && this.#marker) {
      releaseMarker(this.root, this.#marker);
      this.#marker = null;
    }
  }
}
