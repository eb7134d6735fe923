// The Node.js back end: the store folder on disk through synchronous `node:fs` calls. It
// implements the `IoBackend` callbacks the wasm `JsIo` calls (see wasm/src/js_io.rs).
//
// Locking: the writer-lock protocol (docs/FORMAT.md §5) is core's (core/src/lock.rs), run by the
// wasm module's `writerLock`/`writerUnlock` over the `node:fs` primitives below. An exclusive
// lock() creates the writer marker `.numpack.writer` (Node has no flock()), waiting for other
// writers of either runtime up to NUMPACK_LOCK_TIMEOUT seconds (then the store raises
// StoreLockedError); unlock() removes it. Shared (reader) locks are no-ops here: commits are
// atomic renames (see docs/FORMAT.md §5 for what a reader may see).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { StoreIOError, ValueError } from './errors.js';

const MASK64 = (1n << 64n) - 1n;
const SLEEP_CELL = new Int32Array(new SharedArrayBuffer(4));
const eof = (p) => Object.assign(new Error(`${p} is shorter than expected`), { code: 'EOF' });

let protocol = null;

/** Gives the back ends the wasm module whose `writerLock`/`writerUnlock` run the lock protocol
 * (node.js calls it once a build is instantiated; any build will do). */
export function useLockProtocol(mod) { protocol ??= mod; }

/** The lock protocol's primitives over the folder `root` (see wasm/src/lock.rs): one `node:fs`
 * call each; failures throw errors carrying `code`, as `node:fs` does. */
function lockPrimitives(root) {
  const p = (name) => path.join(root, name);
  return {
    symlink: (target, name) => fs.symlinkSync(target, p(name)),
    readLink: (name) => fs.readlinkSync(p(name), 'buffer'),
    read(name, max) {
      const fd = fs.openSync(p(name), 'r');
      try {
        const buf = Buffer.alloc(max);
        return buf.subarray(0, fs.readSync(fd, buf, 0, max, 0));
      } finally { fs.closeSync(fd); }
    },
    createNew(name, data) {
      const fd = fs.openSync(p(name), 'wx', 0o644);
      try { fs.writeSync(fd, data); } catch (e) { fs.closeSync(fd); fs.rmSync(p(name), { force: true }); throw e; }
      fs.closeSync(fd);
    },
    rename: (from, to) => fs.renameSync(p(from), p(to)),
    hardLink: (from, to) => fs.linkSync(p(from), p(to)),
    remove: (name) => fs.unlinkSync(p(name)),
    ageMs(name) {
      const st = fs.lstatSync(p(name), { throwIfNoEntry: false });
      return st ? Math.max(Date.now() - st.mtimeMs, 0) : undefined;
    },
    touch: (name) => { const t = new Date(); fs.utimesSync(p(name), t, t); },
    display: p,
    pid: () => process.pid,
    signalZero: (pid) => { try { process.kill(pid, 0); } catch (e) { return e.code !== 'ESRCH'; } return true; },
    system: (file, link) => { try { return link ? fs.readlinkSync(file) : fs.readFileSync(file, 'latin1'); } catch { return ''; } },
    host: () => { try { return os.hostname(); } catch { return ''; } },
    timeoutEnv: () => process.env.NUMPACK_LOCK_TIMEOUT,
    nowMs: () => performance.now(),
    sleepMs: (ms) => { if (ms > 0) Atomics.wait(SLEEP_CELL, 0, 0, ms); },
    seed: () => randomBytes(4).readUInt32LE(0),
  };
}

/** A store folder on disk. `options.clock` (→ µs) replaces the wall clock (tests, byte comparisons). */
export class NodeFsBackend {
  #holds = []; // the modes of the holds taken through this back end, innermost last
  #marker = null; // the owner record in the writer marker of the exclusive hold
  #lockFs = null; // the lock protocol's primitives over this folder
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
    if (mode === 'exclusive' && !this.#holds.includes('exclusive')) {
      if (!protocol) throw new StoreIOError('the lock protocol is not loaded: import the package through node.js');
      this.#lockFs ??= lockPrimitives(this.root);
      this.#marker = protocol.writerLock(this.#lockFs) ?? null;
    }
    this.#holds.push(mode);
  }

  /** Releases the innermost hold; the marker goes with the last exclusive one. */
  unlock() {
    const mode = this.#holds.pop();
    if (this.#holds.length === 0) this.#forget();
    if (mode === 'exclusive' && !this.#holds.includes('exclusive') && this.#marker) {
      protocol.writerUnlock(this.#lockFs, this.#marker);
      this.#marker = null;
    }
  }
}
