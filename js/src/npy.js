// NumPy's `.npy` and `.npz` files, as the CLI and the search page read and write them: the
// `.npy` header (versions 1–3), little- or big-endian data, and the zip container of `.npz`
// (stored or deflated members, zip64 sizes). Runs in Node and browsers: inflating is passed in.

import { DTYPES } from './dtypes.js';
import { DTypeError, ValueError } from './errors.js';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
const KIND_SIZE_TO_DTYPE = {
  b1: 'bool', u1: 'uint8', u2: 'uint16', u4: 'uint32', u8: 'uint64', i1: 'int8', i2: 'int16',
  i4: 'int32', i8: 'int64', f2: 'float16', f4: 'float32', f8: 'float64', c8: 'complex64', c16: 'complex128',
};
const DTYPE_TO_DESCR = Object.fromEntries(Object.entries(KIND_SIZE_TO_DTYPE).map(([k, v]) => [v, k[0] === 'b' || k === 'u1' || k === 'i1' ? `|${k}` : `<${k}`]));

/** The header of a `.npy` file: `{ dtype, shape, bigEndian, dataOffset }`. Needs the first
 * `dataOffset` bytes (at most 10 + 65535 for version 1, more for 2/3; 4096 is enough for any
 * header NumPy writes for arrays of up to ~200 dimensions). */
export function parseNpyHeader(bytes) {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw new ValueError('not a .npy file (bad magic)');
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let len, start;
  if (major === 1) { len = view.getUint16(8, true); start = 10; }
  else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new ValueError('truncated .npy header');
    len = view.getUint32(8, true); start = 12;
  } else throw new ValueError(`unsupported .npy version ${major}`);
  if (start + len > bytes.length) throw new ValueError('truncated .npy header');
  const text = new TextDecoder().decode(bytes.subarray(start, start + len));
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(text)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw new ValueError(`unreadable .npy header: ${text.trim()}`);
  if (fortran === 'True') throw new ValueError('Fortran-order .npy files are not supported (save with np.ascontiguousarray)');
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s !== '').map((s) => {
    if (!/^\d+$/.test(s)) throw new ValueError(`bad .npy shape (${shapeText})`);
    return Number(s);
  });
  const order = descr[0];
  const dtype = KIND_SIZE_TO_DTYPE[descr.slice(1)];
  if (!'<>|='.includes(order) || !dtype) throw new DTypeError(`unsupported .npy dtype ${descr}`);
  return { dtype, shape, bigEndian: order === '>' && DTYPES[dtype].itemsize > 1, dataOffset: start + len };
}

/** Swaps the bytes of each `width`-byte word of `bytes` in place (big-endian data). */
function swapInPlace(bytes, width) {
  for (let i = 0; i + width <= bytes.length; i += width) {
    for (let a = i, b = i + width - 1; a < b; a++, b--) { const t = bytes[a]; bytes[a] = bytes[b]; bytes[b] = t; }
  }
}

/** `bytes` (little-endian, or big-endian to be swapped) as an array `{ data, shape, dtype }` of
 * `count` elements of `dtype`; the bytes are copied into aligned memory. */
export function arrayFromBytes(bytes, dtype, shape, bigEndian = false) {
  const info = DTYPES[dtype];
  const count = shape.reduce((a, b) => a * b, 1);
  const need = count * info.itemsize;
  if (bytes.length < need) throw new ValueError(`.npy data is truncated: ${bytes.length} of ${need} bytes`);
  const copy = bytes.slice(0, need);
  if (bigEndian) swapInPlace(copy, info.itemsize / info.lanes);
  return { data: new info.ctor(copy.buffer, 0, count * info.lanes), shape, dtype };
}

/** A whole `.npy` file as `{ data, shape, dtype }`. */
export function readNpy(bytes) {
  const h = parseNpyHeader(bytes);
  return arrayFromBytes(bytes.subarray(h.dataOffset), h.dtype, h.shape, h.bigEndian);
}

/** The `.npy` (version 1.0) header for an array of `dtype` and `shape`, padded so the data
 * starts at a multiple of 64 bytes, as NumPy writes it. */
export function npyHeader(dtype, shape) {
  const descr = DTYPE_TO_DESCR[dtype];
  if (!descr) throw new DTypeError(`unsupported dtype: ${dtype}`);
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  let text = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${dims}), }`;
  const total = Math.ceil((10 + text.length + 1) / 64) * 64;
  text = text.padEnd(total - 10 - 1, ' ') + '\n';
  if (text.length > 65535) throw new ValueError('array has too many dimensions for a .npy v1 header');
  const out = new Uint8Array(10 + text.length);
  out.set(MAGIC); out[6] = 1; out[7] = 0;
  new DataView(out.buffer).setUint16(8, text.length, true);
  out.set(new TextEncoder().encode(text), 10);
  return out;
}

/** The bytes of one array's elements (a view, no copy). */
export function dataBytes(data) { return new Uint8Array(data.buffer, data.byteOffset, data.byteLength); }

/** A whole `.npy` file for `{ data, shape, dtype }`. */
export function encodeNpy({ data, shape, dtype }) {
  const head = npyHeader(dtype, shape);
  const body = dataBytes(data);
  const out = new Uint8Array(head.length + body.length);
  out.set(head); out.set(body, head.length);
  return out;
}

// ---- zip (.npz) ----

let crcTable = null;
/** CRC-32 (the zip polynomial) of `bytes`. */
export function crc32(bytes) {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = crcTable[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** The members of a zip archive: `[{ name, method, offset, compressedSize, size, crc }]`, each
 * `offset` where its (possibly compressed) bytes start. */
export function zipEntries(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 65535); i--) {
    if (view.getUint32(i, true) === 0x06054b50) { eocd = i; break; }
  }
  if (eocd < 0) throw new ValueError('not a zip (.npz) file: no end-of-directory record');
  let count = view.getUint16(eocd + 10, true);
  let dirOffset = view.getUint32(eocd + 16, true);
  const loc = eocd - 20; // zip64 end-of-directory locator
  if (loc >= 0 && view.getUint32(loc, true) === 0x07064b50) {
    const z = Number(view.getBigUint64(loc + 8, true));
    if (z + 56 > bytes.length || view.getUint32(z, true) !== 0x06064b50) throw new ValueError('corrupt zip64 directory');
    count = Number(view.getBigUint64(z + 32, true));
    dirOffset = Number(view.getBigUint64(z + 48, true));
  }
  const out = [];
  let p = dirOffset;
  const decoder = new TextDecoder();
  for (let e = 0; e < count; e++) {
    if (p + 46 > bytes.length || view.getUint32(p, true) !== 0x02014b50) throw new ValueError('corrupt zip directory');
    const method = view.getUint16(p + 10, true);
    const crc = view.getUint32(p + 16, true);
    let compressedSize = view.getUint32(p + 20, true);
    let size = view.getUint32(p + 24, true);
    const nameLen = view.getUint16(p + 28, true), extraLen = view.getUint16(p + 30, true), commentLen = view.getUint16(p + 32, true);
    let local = view.getUint32(p + 42, true);
    const name = decoder.decode(bytes.subarray(p + 46, p + 46 + nameLen));
    for (let x = p + 46 + nameLen; x + 4 <= p + 46 + nameLen + extraLen;) { // zip64 sizes
      const id = view.getUint16(x, true), len = view.getUint16(x + 2, true);
      if (id === 0x0001) {
        let q = x + 4;
        if (size === 0xffffffff) { size = Number(view.getBigUint64(q, true)); q += 8; }
        if (compressedSize === 0xffffffff) { compressedSize = Number(view.getBigUint64(q, true)); q += 8; }
        if (local === 0xffffffff) { local = Number(view.getBigUint64(q, true)); }
      }
      x += 4 + len;
    }
    if (local + 30 > bytes.length || view.getUint32(local, true) !== 0x04034b50) throw new ValueError(`corrupt zip entry ${name}`);
    const offset = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
    if (offset + compressedSize > bytes.length) throw new ValueError(`zip entry ${name} is truncated`);
    out.push({ name, method, offset, compressedSize, size, crc });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

/** The arrays of a `.npz` archive, `[[name, { data, shape, dtype }]]` in archive order (the
 * `.npy` suffix of member names dropped). `inflateRaw(bytes)` decompresses a deflated member
 * (it may return a Promise). */
export async function readNpz(bytes, inflateRaw) {
  const out = [];
  for (const e of zipEntries(bytes)) {
    let member = bytes.subarray(e.offset, e.offset + e.compressedSize);
    if (e.method === 8) member = await inflateRaw(member);
    else if (e.method !== 0) throw new ValueError(`zip entry ${e.name}: unsupported compression method ${e.method}`);
    if (member.length !== e.size || crc32(member) !== e.crc) throw new ValueError(`zip entry ${e.name} is corrupt (size or CRC mismatch)`);
    out.push([e.name.replace(/\.npy$/, ''), readNpy(member)]);
  }
  return out;
}

/** A `.npz` archive of `[[name, array]]`: members stored as `np.savez` writes them, or, given
 * `deflateRaw(bytes)`, deflated where that makes them smaller (as `np.savez_compressed`). */
export function encodeNpz(arrays, deflateRaw) {
  const encoder = new TextEncoder();
  const parts = [], dir = [];
  let offset = 0;
  for (const [name, arr] of arrays) {
    const raw = encodeNpy(arr);
    const crc = crc32(raw);
    const packed = deflateRaw ? deflateRaw(raw) : null;
    const method = packed && packed.length < raw.length ? 8 : 0;
    const body = method === 8 ? packed : raw;
    const fname = encoder.encode(`${name}.npy`);
    if (offset + body.length > 0xfffffffe || raw.length > 0xfffffffe) throw new ValueError('the .npz would exceed 4 GiB (write .npy files instead)');
    const local = new Uint8Array(30 + fname.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true); lv.setUint16(4, 20, true); lv.setUint16(6, 0x0800, true);
    lv.setUint16(8, method, true);
    lv.setUint32(14, crc, true); lv.setUint32(18, body.length, true); lv.setUint32(22, raw.length, true);
    lv.setUint16(26, fname.length, true);
    local.set(fname, 30);
    const central = new Uint8Array(46 + fname.length);
    const cv = new DataView(central.buffer);
    cv.setUint32(0, 0x02014b50, true); cv.setUint16(4, 20, true); cv.setUint16(6, 20, true); cv.setUint16(8, 0x0800, true);
    cv.setUint16(10, method, true);
    cv.setUint32(16, crc, true); cv.setUint32(20, body.length, true); cv.setUint32(24, raw.length, true);
    cv.setUint16(28, fname.length, true); cv.setUint32(42, offset, true);
    central.set(fname, 46);
    parts.push(local, body);
    dir.push(central);
    offset += local.length + body.length;
  }
  const dirSize = dir.reduce((a, d) => a + d.length, 0);
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true); ev.setUint16(8, dir.length, true); ev.setUint16(10, dir.length, true);
  ev.setUint32(12, dirSize, true); ev.setUint32(16, offset, true);
  const out = new Uint8Array(offset + dirSize + 22);
  let p = 0;
  for (const b of [...parts, ...dir, end]) { out.set(b, p); p += b.length; }
  return out;
}
