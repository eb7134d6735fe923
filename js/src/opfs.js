// The OPFS back end, for a dedicated worker. Reads are served from an in-memory mirror of the
// store folder (loaded at open), so the store's synchronous calls never wait; every change is
// also logged and `flush()` replays the log, in order, onto OPFS through synchronous access
// handles. Replaying in order keeps the core's commit protocol intact: a page killed mid-flush
// leaves exactly the states a killed native process can leave, and the next open recovers.
// One context at a time: opening takes an exclusive Web Lock named `numpack:<folder>`.

const enoent = (p) => Object.assign(new Error(`${p}: no such file`), { code: 'ENOENT' });
const parentOf = (p) => (p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '');
const baseOf = (p) => p.slice(p.lastIndexOf('/') + 1);

/** Store-folder callbacks over OPFS (see wasm/src/js_io.rs for the contract). */
export class OpfsBackend {
  #dir; #files = new Map(); #dirs = new Set(['']); #stamps = new Map(); #tick = 0;
  #log = []; #handles = new Map(); #release = null; #clock;

  constructor(dir, clock) { this.#dir = dir; this.#clock = clock; }

  /** Opens (creating) the OPFS folder `name` (may be nested: `a/b`) and loads its files. */
  static async open(name, options = {}) {
    let dir = await navigator.storage.getDirectory();
    for (const part of String(name).split('/').filter(Boolean)) dir = await dir.getDirectoryHandle(part, { create: true });
    const be = new OpfsBackend(dir, options.clock ?? null);
    if (navigator.locks) {
      const got = await new Promise((resolve) => {
        navigator.locks.request(`numpack:${name}`, { ifAvailable: true }, (lock) => {
          if (!lock) { resolve(false); return undefined; }
          resolve(true);
          return new Promise((release) => { be.#release = release; });
        });
      });
      if (!got) throw Object.assign(new Error(`OPFS store ${name} is open in another context`), { name: 'StoreLockedError' });
    }
    await be.#load(dir, '');
    return be;
  }

  async #load(dir, prefix) {
    for await (const [name, handle] of dir.entries()) {
      const path = prefix ? `${prefix}/${name}` : name;
      if (handle.kind === 'directory') {
        if (prefix) continue; // stores use one level of sub-folder
        this.#dirs.add(path);
        await this.#load(handle, path);
      } else {
        const data = new Uint8Array(await (await handle.getFile()).arrayBuffer());
        this.#files.set(path, { data, len: data.length });
        this.#touch(path);
      }
    }
  }

  #touch(p) { this.#stamps.set(p, ++this.#tick); }
  #checkDir(p) { if (!this.#dirs.has(parentOf(p))) throw enoent(parentOf(p)); }
  #grow(f, len) {
    if (len > f.data.length) {
      const bigger = new Uint8Array(Math.max(len, Math.ceil(f.data.length * 1.5)));
      bigger.set(f.data.subarray(0, f.len));
      f.data = bigger;
    }
    if (len < f.len) f.data.fill(0, len, f.len);
    f.len = len;
  }

  readAt(p, offset, into) {
    const f = this.#files.get(p);
    if (!f) throw enoent(p);
    if (offset + into.length > f.len) throw Object.assign(new Error(`${p}: read past the end`), { code: 'EOF' });
    into.set(f.data.subarray(offset, offset + into.length));
  }
  writeAt(p, offset, data) {
    this.#checkDir(p);
    let f = this.#files.get(p);
    if (!f) { f = { data: new Uint8Array(0), len: 0 }; this.#files.set(p, f); }
    if (offset + data.length > f.len) this.#grow(f, offset + data.length);
    f.data.set(data, offset);
    this.#touch(p);
    this.#log.push(['write', p, offset, data.slice()]);
  }
  len(p) { const f = this.#files.get(p); return f ? f.len : null; }
  setLen(p, len) {
    this.#checkDir(p);
    let f = this.#files.get(p);
    if (!f) { f = { data: new Uint8Array(0), len: 0 }; this.#files.set(p, f); }
    this.#grow(f, len);
    this.#touch(p);
    this.#log.push(['truncate', p, len]);
  }
  sync(p) { this.#log.push(['sync', p]); }
  rename(from, to) {
    const f = this.#files.get(from);
    if (!f) throw enoent(from);
    this.#checkDir(to);
    this.#files.delete(from);
    this.#stamps.delete(from);
    this.#files.set(to, f);
    this.#touch(to);
    this.#log.push(['rename', from, to]);
  }
  remove(p) {
    if (this.#files.delete(p)) this.#log.push(['remove', p]);
    this.#stamps.delete(p);
  }
  createDir(d) { if (!this.#dirs.has(d)) { this.#dirs.add(d); this.#log.push(['mkdir', d]); } }
  removeDir(d) {
    if ([...this.#files.keys()].some((p) => parentOf(p) === d)) throw new Error(`${d}: folder not empty`);
    if (this.#dirs.delete(d)) this.#log.push(['rmdir', d]);
  }
  list(d) {
    if (!this.#dirs.has(d)) throw enoent(d);
    return [...this.#files.keys()].filter((p) => parentOf(p) === d).map(baseOf);
  }
  stamp(p) { return this.#stamps.get(p) ?? null; }
  now() { return this.#clock ? this.#clock() : Math.floor((performance.timeOrigin + performance.now()) * 1000); }
  lock() {}
  unlock() {}

  /** Number of logged changes not yet written to OPFS. */
  get pending() { return this.#log.length; }

  async #dirOf(p, create) {
    const parent = parentOf(p);
    return parent ? this.#dir.getDirectoryHandle(parent, { create }) : this.#dir;
  }
  async #handle(p) {
    let h = this.#handles.get(p);
    if (!h) {
      const fh = await (await this.#dirOf(p, true)).getFileHandle(baseOf(p), { create: true });
      h = await fh.createSyncAccessHandle();
      this.#handles.set(p, h);
    }
    return h;
  }
  #close(p) { const h = this.#handles.get(p); if (h) { h.close(); this.#handles.delete(p); } }
  async #removeEntry(p) {
    this.#close(p);
    try { await (await this.#dirOf(p, false)).removeEntry(baseOf(p)); } catch (e) { if (e.name !== 'NotFoundError') throw e; }
  }

  /** Writes every logged change to OPFS, in order. */
  async flush() {
    const log = this.#log;
    this.#log = [];
    for (const op of log) {
      switch (op[0]) {
        case 'write': (await this.#handle(op[1])).write(op[3], { at: op[2] }); break;
        case 'truncate': (await this.#handle(op[1])).truncate(op[2]); break;
        case 'sync': if (op[1]) (await this.#handle(op[1])).flush(); break;
        case 'mkdir': await this.#dir.getDirectoryHandle(op[1], { create: true }); break;
        case 'rmdir': try { await this.#dir.removeEntry(op[1]); } catch (e) { if (e.name !== 'NotFoundError') throw e; } break;
        case 'remove': await this.#removeEntry(op[1]); break;
        case 'rename': {
          const [, from, to] = op;
          const fromHandle = await this.#handle(from); // make sure it exists on disk
          fromHandle.flush();
          this.#close(from);
          this.#close(to);
          const fh = await (await this.#dirOf(from, false)).getFileHandle(baseOf(from));
          const toDir = await this.#dirOf(to, true);
          if (typeof fh.move === 'function') {
            try {
              await fh.move(toDir, baseOf(to)); // replaces an existing file where supported
              break;
            } catch (e) {
              if (e.name !== 'InvalidModificationError' && e.name !== 'NoModificationAllowedError') throw e;
            }
          }
          // Fallback: copy then remove (not atomic; only where move() is missing).
          const bytes = new Uint8Array(await (await fh.getFile()).arrayBuffer());
          const th = await this.#handle(to);
          th.truncate(0); th.write(bytes, { at: 0 }); th.flush();
          await this.#removeEntry(from);
          break;
        }
        default: throw new Error(`unknown op ${op[0]}`);
      }
    }
    for (const h of this.#handles.values()) h.flush();
  }

  /** Flushes, closes every access handle and releases the Web Lock. */
  async close() {
    await this.flush();
    for (const p of [...this.#handles.keys()]) this.#close(p);
    this.#release?.();
    this.#release = null;
  }
}
