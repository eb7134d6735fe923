// Shared test helpers: deterministic data for every dtype, and a `metadata.npkm` reader that
// masks the modify times (the only bytes allowed to differ between runtimes).

import fs from 'node:fs';
import path from 'node:path';

/** Deterministic sample data of `n` elements for `dtype`. */
export function sample(dtype, n, seed = 1) {
  let x = seed >>> 0;
  const next = () => { x = (Math.imul(x, 1664525) + 1013904223) >>> 0; return x; };
  switch (dtype) {
    case 'bool': return Uint8Array.from({ length: n }, () => next() & 1);
    case 'uint8': return Uint8Array.from({ length: n }, () => next() & 0xff);
    case 'uint16': return Uint16Array.from({ length: n }, () => next() & 0xffff);
    case 'uint32': return Uint32Array.from({ length: n }, () => next());
    case 'uint64': return BigUint64Array.from({ length: n }, () => (BigInt(next()) << 32n) | BigInt(next()));
    case 'int8': return Int8Array.from({ length: n }, () => (next() & 0xff) - 128);
    case 'int16': return Int16Array.from({ length: n }, () => (next() & 0xffff) - 32768);
    case 'int32': return Int32Array.from({ length: n }, () => next() | 0);
    case 'int64': return BigInt64Array.from({ length: n }, () => BigInt.asIntN(64, (BigInt(next()) << 32n) | BigInt(next())));
    case 'float16': return Uint16Array.from({ length: n }, () => (next() & 0x3bff)); // finite halves in [0, 1)
    case 'float32': return Float32Array.from({ length: n }, () => next() / 2 ** 32 - 0.5);
    case 'float64': return Float64Array.from({ length: n }, () => next() / 2 ** 32 - 0.5);
    case 'complex64': return Float32Array.from({ length: 2 * n }, () => next() / 2 ** 32 - 0.5);
    case 'complex128': return Float64Array.from({ length: 2 * n }, () => next() / 2 ** 32 - 0.5);
    default: throw new Error(dtype);
  }
}

/** Plain array of a typed array's values (bigints as strings), for deepEqual. */
export const plain = (a) => Array.from(a, (v) => (typeof v === 'bigint' ? v.toString() : v));

/** `metadata.npkm` with every record's last_modified zeroed (layout: docs / upstream-api §2.1). */
export function maskTimes(buf) {
  const b = Buffer.from(buf);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let at = 20;
  const count = dv.getUint32(16, true);
  for (let i = 0; i < count; i++) {
    at += 4 + dv.getUint32(at, true); // name
    const ndim = dv.getUint32(at, true); at += 4 + 8 * ndim;
    at += 4 + dv.getUint32(at, true); // data file
    dv.setBigUint64(at, 0n, true); at += 8; // last_modified
    at += 8 + 1 + 1 + 4 + 8 + 8; // size, dtype, compression, level, original, compressed
    const flag = b[at]; at += 1;
    if (flag) throw new Error('block info not expected');
  }
  return b;
}

/** Every file of a store folder (one sub-folder level), `{ relPath: Buffer }`, lock file excluded. */
export function readTree(dir) {
  const out = {};
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.name.startsWith('.')) continue;
    if (e.isDirectory()) for (const f of fs.readdirSync(path.join(dir, e.name))) out[`${e.name}/${f}`] = fs.readFileSync(path.join(dir, e.name, f));
    else out[e.name] = fs.readFileSync(path.join(dir, e.name));
  }
  return out;
}

/** Compares two stores' files: data and bitmaps byte for byte, metadata with times masked. */
export function sameFiles(a, b) {
  const ka = Object.keys(a).sort(), kb = Object.keys(b).sort();
  if (JSON.stringify(ka) !== JSON.stringify(kb)) return `file lists differ: ${ka} vs ${kb}`;
  for (const k of ka) {
    const x = k === 'metadata.npkm' ? maskTimes(a[k]) : Buffer.from(a[k]);
    const y = k === 'metadata.npkm' ? maskTimes(b[k]) : Buffer.from(b[k]);
    if (!x.equals(y)) return `${k} differs`;
  }
  return null;
}

/** A fresh temporary folder. */
export function tmpdir(tag) {
  return fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', `numpack-js-${tag}-`));
}
