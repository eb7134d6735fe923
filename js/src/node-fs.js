// The Node.js back end: the store folder on disk through synchronous `node:fs` calls. It
// implements the `IoBackend` callbacks the wasm `JsIo` calls (see wasm/src/js_io.rs).
//
// Locking: Node has no flock(), so this back end does not take the cross-process writer lock
// the native (Python) back end takes. Do not write one store from Node and Python at once.

import fs from 'node:fs';
import path from 'node:path';

const MASK64 = (1n << 64n) - 1n;

function eof(p) {
  const e = new Error(`${p}: read past the end of the file`);
  e.code = 'EOF';
  return e;
}

/** A store folder on disk. `options.clock` (→ µs) replaces the wall clock (tests, byte comparisons). */
export class NodeFsBackend {
  constructor(root, options = {}) {
    this.root = path.resolve(root);
    this.clock = options.clock ?? null;
    fs.mkdirSync(this.root, { recursive: true });
  }

  #p(rel) { return rel === '' ? this.root : path.join(this.root, rel); }

  readAt(p, offset, into) {
    const fd = fs.openSync(this.#p(p), 'r');
    try {
      let done = 0;
      while (done < into.length) {
        const n = fs.readSync(fd, into, done, into.length - done, offset + done);
        if (n === 0) throw eof(p);
        done += n;
      }
    } finally {
      fs.closeSync(fd);
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

  rename(from, to) { fs.renameSync(this.#p(from), this.#p(to)); }

  remove(p) { fs.rmSync(this.#p(p), { force: true }); }

  createDir(dir) { fs.mkdirSync(this.#p(dir), { recursive: true }); }

  removeDir(dir) {
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

  lock() {}

  unlock() {}
}
