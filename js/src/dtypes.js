// The 14 NumPack dtypes and their JavaScript typed-array mapping.

import { ValueError } from './errors.js';

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
const f64buf = new Float64Array(1);
const u64buf = new BigUint64Array(f64buf.buffer);

/** Rounds `m` (≥ 0, exact) to an integer, ties to even. */
function roundEven(m) {
  const fl = Math.floor(m);
  const d = m - fl; // exact: m has at most 53 significant bits and fl ≤ m < fl + 1
  return d > 0.5 || (d === 0.5 && fl % 2 === 1) ? fl + 1 : fl;
}

/** A number → IEEE binary16 bits, rounded once to nearest even straight from the double (as
 * NumPy's `astype(float16)`; going through float32 would round twice). */
export function toHalfBits(value) {
  const x = Number(value);
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  if (Number.isNaN(x)) return 0x7e00;
  const a = Math.abs(x);
  if (a >= 65520) return sign | 0x7c00; // 65504 + half an ulp rounds to ∞ (also ∞ itself)
  if (a < 2 ** -14) return sign | roundEven(a * 2 ** 24); // subnormal (2^-24 steps; may round up to the smallest normal)
  f64buf[0] = a;
  const e = Number((u64buf[0] >> 52n) & 0x7ffn) - 1023; // 2^e ≤ a < 2^(e+1), -14 ≤ e ≤ 15
  const m = roundEven(a * 2 ** (10 - e)); // 1024 ≤ m ≤ 2048, scaling by a power of two is exact
  return sign | (((e + 15) << 10) + (m - 1024)); // m = 2048 carries into the exponent
}

/** The float32 nearest to the integer `b` (a BigInt), rounded once (a double in between would
 * round twice beyond 2^53): the double is rounded to odd first, which float32 then rounds right. */
function bigintToF32(b) {
  const n = Number(b);
  const back = BigInt(n);
  if (back === b || !Number.isFinite(n)) return Math.fround(n);
  f64buf[0] = n;
  let bits = u64buf[0];
  if ((back < 0n ? -back : back) > (b < 0n ? -b : b)) bits -= 1n; // toward zero
  u64buf[0] = bits | 1n;
  return Math.fround(f64buf[0]);
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

/** Element values (numbers or bigints) of a dtype-tagged flat buffer, decoded for casting. */
function valuesOf(data, dtype) {
  if (dtype === 'float16' && !(F16 && data instanceof F16)) return Array.from(data, fromHalfBits);
  return data;
}

/** A finite number truncated to a 64-bit integer (NaN, ±∞ and values beyond ±2^64, where
 * NumPy's result is platform-defined, are a ValueError). */
function bigFromNumber(v, to) {
  const x = Number(v);
  if (!Number.isFinite(x) || Math.abs(x) >= 2 ** 64) throw new ValueError(`cannot cast ${x} to ${to}`);
  return BigInt(Math.trunc(x));
}

/** A plain-array element as a value of the 64-bit integer dtype `to`, checked to fit (as NumPy
 * refuses a Python int out of range); numbers are truncated. */
export function toInt64(v, to) {
  const b = typeof v === 'bigint' ? v : typeof v === 'boolean' ? BigInt(v) : bigFromNumber(v, to);
  const [lo, hi] = to === 'uint64' ? [0n, 2n ** 64n - 1n] : [-(2n ** 63n), 2n ** 63n - 1n];
  if (b < lo || b > hi) throw new ValueError(`${b} is out of range for ${to}`);
  return b;
}

/** Converts flat `data` of dtype `from` to a new typed array of dtype `to` (values cast). */
export function castData(data, from, to) {
  const src = valuesOf(data, from);
  const dst = DTYPES[to];
  const fromComplex = DTYPES[from].kind === 'c';
  const toComplex = dst.kind === 'c';
  const n = fromComplex ? src.length / 2 : src.length;
  const out = new dst.ctor(n * dst.lanes);
  // 64-bit integers into narrower types exactly as NumPy's astype: integers wrap modulo the
  // target's width (before any rounding), float32 rounds once.
  const bits = dst.kind === 'i' || dst.kind === 'u' ? dst.itemsize * 8 : 0;
  const f32 = dst.ctor === Float32Array;
  const num = (v) => {
    if (typeof v !== 'bigint') {
      // NumPy's result for NaN / ±∞ in an integer type is platform-defined garbage: refuse.
      if (bits && !Number.isFinite(v)) throw new ValueError(`cannot cast ${v} to ${to}`);
      return v;
    }
    if (bits) return Number(dst.kind === 'i' ? BigInt.asIntN(bits, v) : BigInt.asUintN(bits, v));
    return f32 ? bigintToF32(v) : Number(v);
  };
  for (let i = 0; i < n; i++) {
    let re, im = 0;
    if (fromComplex) { re = src[2 * i]; im = src[2 * i + 1]; } else { re = src[i]; }
    if (toComplex) { out[2 * i] = num(re); out[2 * i + 1] = Number(im); continue; }
    if (to === 'bool') out[i] = re ? 1 : 0;
    else if (to === 'int64' || to === 'uint64') out[i] = typeof re === 'bigint' ? re : bigFromNumber(re, to);
    else if (to === 'float16' && !(F16 && out instanceof F16)) out[i] = toHalfBits(Number(re));
    else out[i] = num(re);
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
