// The OPFS back end, for a dedicated worker. Opening takes the folder's Web Lock and a
// synchronous access handle on every file, and reads nothing: `readAt` goes from OPFS straight
// into the caller's array, so a store of any size opens at once and in little memory.
//
// The store's calls are synchronous, but creating, renaming and removing OPFS files is not. So
// while no change is pending, writes, truncations and syncs of an existing file go straight to
// its handle; any other change starts a log that `flush()` replays onto OPFS, in order (the
// worker awaits it after every call, before answering). Until then reads see the log through an
// overlay: each file knows which OPFS file holds its older bytes, how many of them still count,
// and the ranges written since (only those are held in memory). Replaying in order keeps the
// core's commit protocol intact: a page killed mid-flush leaves exactly the states a killed
// native process can leave, and the next open recovers. A flush that fails leaves OPFS in such a
// state too, so the back end then refuses every call: reopen the store.

const enoent = (p) => Object.assign(new Error(`${p}: no such file`), { code: 'ENOENT' });
const eof = (p) => Object.assign(new Error(`${p}: read past the end`), { code: 'EOF' });
const parentOf = (p) => (p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '');
const baseOf = (p) => p.slice(p.lastIndexOf('/') + 1);
const COPY_CHUNK = 8 << 20;

/** A sync access handle on `file`. A context going away releases its Web Lock before its
 * handles, so a handle still held (e.g. just after a reload) is waited for, up to 2 s. */
async function access(file, path) {
  for (let waited = 0; ; waited += 50) {
    try {
      return await file.createSyncAccessHandle();
    } catch (e) {
      if (e.name !== 'NoModificationAllowedError') throw e;
      if (waited >= 2000) throw Object.assign(new Error(`${path} is open in another context`), { name: 'StoreLockedError' });
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Store-folder callbacks over OPFS (see wasm/src/js_io.rs for the contract). */
export class OpfsBackend {
  #dir; #clock; #release = null; #broken = null; #flushing = false; #tick = 0; #bytesRead = 0;
  // path → { len, src: OPFS path of its older bytes, keep: how many of those count, writes: [[at, bytes]], stamp }
  #files = new Map();
  #dirs = new Set(['']);
  #disk = new Map(); // OPFS path → FileSystemSyncAccessHandle, as OPFS is now
  #dirty = new Set(); // handles written since the last flush
  #log = [];

  constructor(dir, clock) { this.#dir = dir; this.#clock = clock; }

  /**
   * Opens (creating) the OPFS folder `name` (may be nested: `a/b`): takes the exclusive Web Lock
   * `numpack:<name>` (or throws `StoreLockedError`) and an access handle on every file.
   * `options.clock`: a function returning the time in µs (for tests).
   */
  static async open(name, options = {}) {
    let dir = await navigator.storage.getDirectory();
    for (const part of String(name).split('/').filter(Boolean)) dir = await dir.getDirectoryHandle(part, { create: true });
    const be = new OpfsBackend(dir, options.clock ?? null);
    if (navigator.locks) {
      const got = await new Promise((resolve) => {
        navigator.locks.request(`numpack:${name}`, { ifAvailable: true }, (lock) => {
          resolve(!!lock);
          return lock ? new Promise((release) => { be.#release = release; }) : undefined;
        });
      });
      if (!got) throw Object.assign(new Error(`OPFS store ${name} is open in another context`), { name: 'StoreLockedError' });
    }
    try {
      await be.#scan(dir, '');
    } catch (e) {
      await be.close();
      throw e;
    }
    return be;
  }

  async #scan(dir, prefix) {
    const opening = [];
    for await (const [name, handle] of dir.entries()) {
      const path = prefix ? `${prefix}/${name}` : name;
      if (handle.kind === 'directory') {
        if (prefix) continue; // stores use one level of sub-folder
        this.#dirs.add(path);
        opening.push(this.#scan(handle, path));
      } else {
        opening.push(access(handle, path).then((h) => {
          this.#disk.set(path, h);
          const len = h.getSize();
          this.#files.set(path, { len, src: path, keep: len, writes: [], stamp: ++this.#tick });
        }));
      }
    }
    const failed = (await Promise.allSettled(opening)).find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  #ok() {
    if (this.#broken) throw this.#broken;
    if (this.#flushing) throw new Error('the OPFS back end is flushing: wait for flush() before the next call');
  }
  #file(p) { this.#ok(); return this.#files.get(p); }
  #checkDir(p) { if (!this.#dirs.has(parentOf(p))) throw enoent(parentOf(p)); }
  #create(p) {
    this.#checkDir(p);
    const f = { len: 0, src: null, keep: 0, writes: [], stamp: 0 };
    this.#files.set(p, f);
    return f;
  }
  /** The handle of `p` when a change to it may go straight to OPFS: nothing is pending. */
  #direct(p) {
    const h = this.#log.length === 0 ? this.#disk.get(p) : undefined;
    if (h) this.#dirty.add(h);
    return h;
  }

  readAt(p, offset, into) {
    const f = this.#file(p);
    if (!f) throw enoent(p);
    const end = offset + into.length;
    if (end > f.len) throw eof(p);
    const stored = Math.max(0, Math.min(end, f.keep) - offset);
    if (stored > 0) {
      const n = this.#disk.get(f.src).read(into.subarray(0, stored), { at: offset });
      this.#bytesRead += n;
      if (n !== stored) throw eof(p);
    }
    into.fill(0, stored);
    for (const [at, bytes] of f.writes) {
      const lo = Math.max(at, offset), hi = Math.min(at + bytes.length, end);
      if (lo < hi) into.set(bytes.subarray(lo - at, hi - at), lo - offset);
    }
  }
  writeAt(p, offset, data) {
    const f = this.#file(p) ?? this.#create(p);
    const h = this.#direct(p);
    if (h) {
      h.write(data, { at: offset });
      f.len = f.keep = Math.max(f.len, offset + data.length);
    } else {
      const bytes = data.slice(); // `data` may be a view of wasm memory
      f.writes.push([offset, bytes]);
      f.len = Math.max(f.len, offset + bytes.length);
      this.#log.push(['write', p, offset, bytes]);
    }
    f.stamp = ++this.#tick;
  }
  len(p) { return this.#file(p)?.len ?? null; }
  setLen(p, len) {
    const f = this.#file(p) ?? this.#create(p);
    const h = this.#direct(p);
    if (h) {
      h.truncate(len);
      f.keep = len;
    } else {
      f.keep = Math.min(f.keep, len);
      if (len < f.len) {
        f.writes = f.writes.filter(([at]) => at < len).map(([at, b]) => [at, b.subarray(0, len - at)]);
      }
      this.#log.push(['truncate', p, len]);
    }
    f.len = len;
    f.stamp = ++this.#tick;
  }
  sync(p) {
    if (!p) return; // OPFS has no folder sync
    const h = this.#direct(p);
    if (h) h.flush(); else this.#log.push(['sync', p]);
  }
  rename(from, to) {
    const f = this.#file(from);
    if (!f) throw enoent(from);
    this.#checkDir(to);
    this.#files.delete(from);
    this.#files.set(to, f);
    f.stamp = ++this.#tick;
    this.#log.push(['rename', from, to]);
  }
  remove(p) {
    if (this.#file(p)) {
      this.#files.delete(p);
      this.#log.push(['remove', p]);
    }
  }
  createDir(d) {
    this.#ok();
    if (!this.#dirs.has(d)) { this.#dirs.add(d); this.#log.push(['mkdir', d]); }
  }
  removeDir(d) {
    this.#ok();
    if ([...this.#files.keys()].some((p) => parentOf(p) === d)) throw new Error(`${d}: folder not empty`);
    if (this.#dirs.delete(d)) this.#log.push(['rmdir', d]);
  }
  list(d) {
    this.#ok();
    if (!this.#dirs.has(d)) throw enoent(d);
    return [...this.#files.keys()].filter((p) => parentOf(p) === d).map(baseOf);
  }
  stamp(p) { return this.#file(p)?.stamp ?? null; }
  now() { return this.#clock ? this.#clock() : Math.floor((performance.timeOrigin + performance.now()) * 1000); }
  lock() {}
  unlock() {}

  /** Number of logged changes not yet written to OPFS. */
  get pending() { return this.#log.length; }

  /** Figures for tests and benchmarks: bytes read from OPFS since open, and bytes of logged
   * writes held in memory until the next `flush()`. */
  get stats() {
    const pendingBytes = this.#log.reduce((n, op) => n + (op[0] === 'write' ? op[3].length : 0), 0);
    return { bytesRead: this.#bytesRead, pendingBytes, files: this.#files.size };
  }

  async #dirOf(p, create) {
    const parent = parentOf(p);
    return parent ? this.#dir.getDirectoryHandle(parent, { create }) : this.#dir;
  }
  async #handle(p) {
    let h = this.#disk.get(p);
    if (!h) {
      const fh = await (await this.#dirOf(p, true)).getFileHandle(baseOf(p), { create: true });
      h = await fh.createSyncAccessHandle();
      this.#disk.set(p, h);
    }
    return h;
  }
  #close(p) {
    const h = this.#disk.get(p);
    if (!h) return;
    this.#disk.delete(p);
    try { if (this.#dirty.delete(h)) h.flush(); } finally { h.close(); }
  }
  async #removeEntry(p) {
    this.#close(p);
    try { await (await this.#dirOf(p, false)).removeEntry(baseOf(p)); } catch (e) { if (e.name !== 'NotFoundError') throw e; }
  }
  async #move(from, to) {
    this.#close(from);
    this.#close(to);
    const fh = await (await this.#dirOf(from, false)).getFileHandle(baseOf(from));
    const toDir = await this.#dirOf(to, true);
    try {
      if (typeof fh.move === 'function') { await fh.move(toDir, baseOf(to)); return; }
    } catch (e) {
      if (e.name !== 'InvalidModificationError') throw e; // an engine that cannot replace `to`
    }
    // Copy, then remove: not atomic, only where move() cannot do it.
    const src = await this.#handle(from), dst = await this.#handle(to);
    const buf = new Uint8Array(Math.min(src.getSize(), COPY_CHUNK));
    dst.truncate(0);
    for (let at = 0, n; (n = src.read(buf, { at })) > 0; at += n) dst.write(buf.subarray(0, n), { at });
    dst.flush();
    await this.#removeEntry(from);
  }
  async #apply(op) {
    switch (op[0]) {
      case 'write': { const h = await this.#handle(op[1]); h.write(op[3], { at: op[2] }); this.#dirty.add(h); break; }
      case 'truncate': { const h = await this.#handle(op[1]); h.truncate(op[2]); this.#dirty.add(h); break; }
      case 'sync': (await this.#handle(op[1])).flush(); break;
      case 'mkdir': await this.#dir.getDirectoryHandle(op[1], { create: true }); break;
      case 'rmdir': try { await this.#dir.removeEntry(op[1]); } catch (e) { if (e.name !== 'NotFoundError') throw e; } break;
      case 'remove': await this.#removeEntry(op[1]); break;
      case 'rename': await this.#move(op[1], op[2]); break;
      default: throw new Error(`unknown op ${op[0]}`);
    }
  }

  /** Writes every logged change to OPFS, in order, then flushes the handles written to; the
   * overlay is dropped. No other call may run meanwhile (the worker runs one call at a time). */
  async flush() {
    this.#ok();
    const log = this.#log;
    this.#log = [];
    this.#flushing = true;
    try {
      for (const op of log) await this.#apply(op);
      if (log.length) {
        for (const [p, f] of this.#files) {
          await this.#handle(p); // renamed files need a handle at their new path
          Object.assign(f, { src: p, keep: f.len, writes: [] });
        }
      }
      for (const h of this.#dirty) h.flush();
      this.#dirty.clear();
    } catch (e) {
      this.#broken = Object.assign(new Error(`OPFS flush failed, reopen the store: ${e?.message ?? e}`), { cause: e });
      throw this.#broken;
    } finally {
      this.#flushing = false;
    }
  }

  /** Flushes, closes every access handle and releases the Web Lock. Later calls throw. */
  async close() {
    try {
      if (!this.#broken) await this.flush();
    } finally {
      this.#broken ??= new Error('the OPFS store is closed');
      for (const p of [...this.#disk.keys()]) { try { this.#close(p); } catch { /* closing anyway */ } }
      this.#files.clear();
      this.#release?.();
      this.#release = null;
    }
  }
}
