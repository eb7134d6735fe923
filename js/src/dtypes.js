// The 14 NumPack dtypes and their JavaScript typed-array mapping.

/** Typed-array constructor, itemsize and element count per stored element, per dtype. */
const F16 = typeof globalThis.Float16Array === 'function' ? globalThis.Float16Array : null;

export const DTYPES = Object.freeze({
  bool: { ctor: Uint8Array, itemsize: 1, lanes: 1, kind: 'b' },
  uint8: { ctor: Uint8Array, itemsize: 1, lanes: 1, kind: 'u' },
  uint16: { ctor: Uint16Array, itemsize: 2, lanes: 1, kind: 'u' },
  uint32: { ctor: Uint32Array, itemsize: 4, lanes: 1, kind: 'u' },
  uint64: { ctor: BigUint64Array, itemsize: 8, lanes: 1, kind: 'u' },
  int8: { ctor: Int8Array, itemsize: 1, lanes: 1, kind: 'i' },
  int16: { ctor: Int16Array, itemsize: 2, lanes: 1, kind: 'i' },
  int32: { ctor: Int32Array, itemsize: 4, lanes: 1, kind: 'i' },
  int64: { ctor: BigInt64Array, itemsize: 8, lanes: 1, kind: 'i' },
  float16: { ctor: F16 ?? Uint16Array, itemsize: 2, lanes: 1, kind: 'f' },
  float32: { ctor: Float32Array, itemsize: 4, lanes: 1, kind: 'f' },
  float64: { ctor: Float64Array, itemsize: 8, lanes: 1, kind: 'f' },
  complex64: { ctor: Float32Array, itemsize: 8, lanes: 2, kind: 'c' },
  complex128: { ctor: Float64Array, itemsize: 16, lanes: 2, kind: 'c' },
});

/** Every dtype name, in on-disk code order. */
export const DTYPE_NAMES = Object.freeze(Object.keys(DTYPES));

/** Whether this runtime has a native Float16Array (used for float16 results). */
export const HAS_FLOAT16ARRAY = F16 !== null;

const BY_CTOR = new Map([
  [Float32Array, 'float32'], [Float64Array, 'float64'], [Int8Array, 'int8'], [Int16Array, 'int16'],
  [Int32Array, 'int32'], [BigInt64Array, 'int64'], [Uint8Array, 'uint8'], [Uint8ClampedArray, 'uint8'],
  [Uint16Array, 'uint16'], [Uint32Array, 'uint32'], [BigUint64Array, 'uint64'],
]);
if (F16) BY_CTOR.set(F16, 'float16');

/** The dtype a typed array stands for when the caller gives none. */
export function inferDtype(data) {
  for (const [ctor, name] of BY_CTOR) if (data instanceof ctor) return name;
  return null;
}

/** Looks up a dtype, throwing `DTypeError` for anything else. */
export function dtypeInfo(dtype, Err) {
  const info = Object.prototype.hasOwnProperty.call(DTYPES, dtype) ? DTYPES[dtype] : undefined;
  if (!info) throw new Err(`unsupported dtype: ${dtype}`);
  return info;
}

// ---- float16 bit conversions (for casts only; storage is the raw bits) ----
const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);

/** float → IEEE binary16 bits, round to nearest even. */
export function toHalfBits(value) {
  f32buf[0] = value;
  const x = u32buf[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1))) half += 1;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half += 1;
  return sign | half;
}

/** IEEE binary16 bits → number. */
export function fromHalfBits(h) {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

// NumPy's same_kind casting: b < u/i < f < c (unsigned → signed allowed, not the reverse).
const RANK = { b: 0, u: 1, i: 1, f: 2, c: 3 };

/** Whether NumPy's `same_kind` rule allows casting `from` into `to`. */
export function canCast(from, to) {
  const a = DTYPES[from].kind, b = DTYPES[to].kind;
  if (a === b) return true;
  if (a === 'u' && b === 'i') return true;
  if (a === 'i' && b === 'u') return false;
  return RANK[a] < RANK[b];
}

/** Element values (numbers or bigints) of a dtype-tagged flat buffer, decoded for casting. */
function valuesOf(data, dtype) {
  if (dtype === 'float16' && !(F16 && data instanceof F16)) return Array.from(data, fromHalfBits);
  return data;
}

/** Converts flat `data` of dtype `from` to a new typed array of dtype `to` (values cast). */
export function castData(data, from, to) {
  const src = valuesOf(data, from);
  const dst = DTYPES[to];
  const fromComplex = DTYPES[from].kind === 'c';
  const toComplex = dst.kind === 'c';
  const n = fromComplex ? src.length / 2 : src.length;
  const out = new dst.ctor(n * dst.lanes);
  for (let i = 0; i < n; i++) {
    let re, im = 0;
    if (fromComplex) { re = src[2 * i]; im = src[2 * i + 1]; } else { re = src[i]; }
    if (toComplex) { out[2 * i] = Number(re); out[2 * i + 1] = Number(im); continue; }
    if (to === 'bool') out[i] = re ? 1 : 0;
    else if (to === 'int64' || to === 'uint64') out[i] = typeof re === 'bigint' ? re : BigInt(Math.trunc(Number(re)));
    else if (to === 'float16' && !(F16 && out instanceof F16)) out[i] = toHalfBits(Number(re));
    else out[i] = typeof re === 'bigint' ? Number(re) : re;
  }
  return out;
}

/** Whether the typed array `data` holds `dtype` elements as they are stored (float16 as a
 * Float16Array or raw Uint16Array bits, bool as a Uint8Array of 0/1). */
export function holdsDtype(data, dtype) {
  const info = DTYPES[dtype];
  return data instanceof info.ctor || (dtype === 'float16' && data instanceof Uint16Array);
}

/** A typed array of `dtype` viewing `bytes` (a Uint8Array whose buffer offset is aligned). */
export function viewBytes(bytes, dtype) {
  const info = DTYPES[dtype];
  const count = (bytes.byteLength / info.itemsize) * info.lanes;
  if (bytes.byteOffset % (info.itemsize / info.lanes) !== 0) {
    const copy = bytes.slice();
    return new info.ctor(copy.buffer, 0, count);
  }
  return new info.ctor(bytes.buffer, bytes.byteOffset, count);
}

/** The bytes of a typed array (a view when possible). */
export function bytesOf(data) {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
