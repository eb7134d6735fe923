// The public API, built over one instantiated wasm module (`bindings`). Every store operation
// is the core's; this file only converts arrays, selections and errors.

import { DTYPES, DTYPE_NAMES, inferDtype, dtypeInfo, castData, viewBytes, bytesOf, holdsDtype, toInt64 } from './dtypes.js';
import { convertError, InternalError, ValueError, DTypeError, IndexError } from './errors.js';
import { makeVector } from './vector.js';

const isInt = (v) => (typeof v === 'number' && Number.isInteger(v)) || typeof v === 'bigint';
const I64_MIN = -(2n ** 63n), I64_MAX = 2n ** 63n - 1n;

/** A row index as an int64 BigInt; one no int64 holds (e.g. 2^64) is out of range for every
 * array (an `IndexError`, as NumPy), never wrapped. */
function rowIndex(v) {
  if (!isInt(v)) throw new ValueError(`row index ${String(v)} is not an integer`);
  const b = BigInt(v);
  if (b < I64_MIN || b > I64_MAX) throw new IndexError(`index ${b} is out of bounds`);
  return b;
}

/** Normalises a row selection into the flat form the wasm `read` / `replace` / `dropRows` take:
 * `[kind, values, start, stop, step]`, kind 0 = all, 1 = indices, 2 = slice, 3 = boolean mask
 * (one 0/1 per row; the core checks its length). */
export function selectionParts(index) {
  if (index === undefined || index === null) return [0, undefined, undefined, undefined, undefined];
  if (isInt(index)) return [1, BigInt64Array.of(rowIndex(index)), undefined, undefined, undefined];
  if (typeof index === 'number') throw new ValueError(`row index ${index} is not an integer`);
  if (Array.isArray(index) && index.length > 0 && index.every((v) => typeof v === 'boolean')) {
    return [3, BigInt64Array.from(index, (keep) => (keep ? 1n : 0n)), undefined, undefined, undefined];
  }
  if (Array.isArray(index) || (ArrayBuffer.isView(index) && !(index instanceof DataView))) {
    const out = new BigInt64Array(index.length);
    for (let i = 0; i < index.length; i++) out[i] = rowIndex(index[i]);
    return [1, out, undefined, undefined, undefined];
  }
  if (typeof index === 'object') {
    const b = (v) => {
      if (v === undefined || v === null) return undefined;
      if (!isInt(v)) throw new ValueError(`slice bound ${String(v)} is not an integer`);
      return Number(v); // the wasm side clamps bounds beyond int64 (the slice means the same)
    };
    return [2, undefined, b(index.start), b(index.stop), b(index.step)];
  }
  throw new ValueError(`unsupported row selection: ${String(index)}`);
}

/** Splits an array argument into `{ data, shape, dtype }` with `data` a typed array of `dtype`. */
export function normalizeArray(value, defaultShapeTail, defaultDtype) {
  let data, shape, dtype;
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) data = value;
  else if (Array.isArray(value)) { data = value; dtype = defaultDtype; }
  else if (value && typeof value === 'object' && 'data' in value) ({ data, shape, dtype } = value);
  else throw new ValueError('an array must be a typed array or { data, shape?, dtype? }');
  if (Array.isArray(data)) {
    dtype ??= defaultDtype;
    if (!data.every((v) => typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean')) {
      throw new ValueError('plain array elements must be numbers, bigints or booleans');
    }
    const first = data[0];
    dtype ??= typeof first === 'bigint' ? 'int64' : typeof first === 'boolean' ? 'bool' : 'float64';
    const info = dtypeInfo(dtype, DTypeError);
    if (info.itemsize === 8 && (info.kind === 'u' || info.kind === 'i')) data = info.ctor.from(data, (v) => toInt64(v, dtype));
    else if (data.some((v) => typeof v === 'bigint')) data = castData(BigInt64Array.from(data, (v) => toInt64(v, 'int64')), 'int64', dtype);
    else data = castData(Float64Array.from(data, Number), 'float64', dtype);
  } else if (!ArrayBuffer.isView(data) || data instanceof DataView) {
    throw new ValueError('array data must be a typed array or a plain array');
  }
  const inferred = inferDtype(data);
  dtype ??= inferred;
  if (!dtype) throw new DTypeError(`cannot infer a dtype from ${data?.constructor?.name}`);
  const info = dtypeInfo(dtype, DTypeError);
  if (!holdsDtype(data, dtype)) {
    if (!inferred) throw new DTypeError(`${data.constructor.name} cannot hold ${dtype}`);
    data = castData(data, inferred, dtype);
  }
  if (data.length % info.lanes !== 0) throw new ValueError(`${dtype} data needs an even number of floats (re, im)`);
  const count = data.length / info.lanes;
  if (shape === undefined) {
    const tail = defaultShapeTail ?? [];
    const rowSize = tail.reduce((a, b) => a * b, 1);
    if (rowSize === 0 || count % rowSize !== 0) throw new ValueError(`${count} elements do not make rows of shape [${tail}]`);
    shape = [count / rowSize, ...tail];
  }
  shape = Array.from(shape, Number);
  if (!shape.every((d) => Number.isInteger(d) && d >= 0)) throw new ValueError(`invalid shape [${shape}]`);
  const size = shape.reduce((a, b) => a * b, 1);
  if (size !== count) throw new ValueError(`shape [${shape}] holds ${size} elements, data has ${count}`);
  return { data, shape, dtype };
}

/** `value` (an ArrayBuffer or a typed array) as bytes, or a ValueError saying `what`. */
function asBytes(value, what) {
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return bytesOf(value);
  throw new ValueError(what);
}

/** Builds the public classes over one wasm module instance. */
export function createApi(bindings, extras = {}) {
  const { WasmStore } = bindings;

  const wrap = (fn) => {
    try { return fn(); } catch (e) { throw convertError(e, bindings); }
  };

  const toNd = (raw) => ({ data: viewBytes(raw.bytes, raw.dtype), shape: raw.shape, dtype: raw.dtype });
  /** `options.out` of a read, checked against the array's dtype: its bytes, or undefined. */
  const outBytes = (store, name, options) => {
    const out = options?.out;
    if (out === undefined || out === null) return undefined;
    if (!ArrayBuffer.isView(out) || out instanceof DataView) throw new ValueError('out must be a typed array');
    const dtype = store.dtype(name);
    if (!holdsDtype(out, dtype)) throw new DTypeError(`out is a ${out.constructor.name}, ${name} holds ${dtype}`);
    return bytesOf(out);
  };

  /** A NumPack store: a folder of named arrays (in memory, on disk, or in OPFS). */
  class Store {
    #h;
    /** @internal */
    constructor(handle) { this.#h = handle; }

    /** A new, empty in-memory store. */
    static memory() { return new Store(wrap(() => WasmStore.openMemory())); }

    /** An in-memory store holding the files of a `.npkg` package (as `pack()` writes it in Python:
     * raw or zstd-compressed entries). */
    static fromPackage(bytes) {
      const u8 = asBytes(bytes, 'fromPackage() takes the package bytes');
      return new Store(wrap(() => WasmStore.openPackage(u8)));
    }

    /** An in-memory store holding `{ relativePath: Uint8Array }` files (e.g. fetched one by one). */
    static fromFiles(files) {
      const entries = Object.entries(files ?? {});
      const datas = entries.map(([p, d]) => asBytes(d, `fromFiles(): ${p} is not bytes`));
      return new Store(wrap(() => WasmStore.openFiles(entries.map(([p]) => p), datas)));
    }

    /** A store over any object implementing the `IoBackend` callbacks. */
    static fromBackend(backend, options = {}) {
      return new Store(wrap(() => WasmStore.openBackend(backend, !!options?.durable)));
    }

    #call(fn) {
      if (!this.#h) throw new ValueError('the store is closed');
      try {
        return fn(this.#h);
      } catch (e) {
        const err = convertError(e, bindings);
        if (err instanceof InternalError) this.#h = null; // its Rust state may be inconsistent
        throw err;
      }
    }

    /** Array names, in the order they were created. */
    list() { return this.#call((h) => h.names()); }
    /** Whether `name` exists. */
    has(name) { return this.#call((h) => h.contains(String(name))); }
    /** `{ name, dtype, shape, physicalShape, dataFile, lastModified }`. */
    info(name) { return this.#call((h) => h.info(String(name))); }
    /** `info()` of every array. */
    infos() { return this.#call((h) => h.infos()); }
    /** Logical shape (dropped rows not counted). */
    shape(name) { return this.info(name).shape; }
    /** The dtype name. */
    dtype(name) { return this.info(name).dtype; }
    /** Microseconds since the epoch of the array's last change. */
    modifyTime(name) { return this.info(name).lastModified; }

    /** Saves arrays (created or replaced whole) in one commit. */
    save(arrays) {
      const entries = arrays instanceof Map ? [...arrays] : Object.entries(arrays ?? {});
      if (entries.length === 0 && (arrays === null || typeof arrays !== 'object')) throw new ValueError('save() takes an object of arrays');
      const norm = entries.map(([n, v]) => [n, normalizeArray(v)]);
      const dims = norm.flatMap(([, a]) => a.shape);
      this.#call((h) => h.save(norm.map(([n]) => n), norm.map(([, a]) => a.dtype),
        Uint32Array.from(norm, ([, a]) => a.shape.length), Float64Array.from(dims),
        norm.map(([, a]) => bytesOf(a.data))));
    }

    /** The whole array (logical rows). `options.out`: a typed array to read into (see `getitem`). */
    load(name, options) { return this.getitem(name, null, options); }

    /** Selected rows: an int (keeps the leading axis), indices, booleans, or `{ start, stop, step }`.
     * `options.out`: a typed array of the array's dtype and exactly the result's size to read
     * into (reused buffers skip allocating and faulting in fresh memory); it is returned as `data`. */
    getitem(name, index, options) {
      const [kind, idx, start, stop, step] = selectionParts(index);
      const out = outBytes(this, name, options);
      const raw = this.#call((h) => h.read(String(name), kind, idx, start, stop, step, out));
      return out ? { data: options.out, shape: raw.shape, dtype: raw.dtype } : toNd(raw);
    }

    /** Appends rows (cast to the stored dtype by the core's rule: NumPy's same_kind). */
    append(name, value) {
      const info = this.info(name);
      const arr = normalizeArray(value, info.shape.slice(1), info.dtype);
      this.#call((h) => h.append(String(name), arr.dtype, Float64Array.from(arr.shape), bytesOf(arr.data)));
    }

    /** Overwrites the selected rows with `value` (cast like `append`). */
    replace(name, index, value) {
      const info = this.info(name);
      const arr = normalizeArray(value, info.shape.slice(1), info.dtype);
      const [kind, idx, start, stop, step] = selectionParts(index);
      this.#call((h) => h.replace(String(name), kind, idx, start, stop, step, arr.dtype, Float64Array.from(arr.shape), bytesOf(arr.data)));
    }

    /** Drops whole arrays (no `index`), or the selected rows of one array. */
    drop(name, index) {
      if (index === undefined) {
        const names = Array.isArray(name) ? name.map(String) : [String(name)];
        this.#call((h) => h.dropArrays(names));
        return;
      }
      const [kind, idx, start, stop, step] = selectionParts(index);
      this.#call((h) => h.dropRows(String(name), kind, idx, start, stop, step));
    }

    /** Rewrites an array without its dropped rows. */
    compact(name) { this.#call((h) => h.compact(String(name))); }
    /** Copies `src` into a new array `dst`. */
    clone(src, dst) { this.#call((h) => h.cloneArray(String(src), String(dst))); }
    /** Removes every array. */
    reset() { this.#call((h) => h.reset()); }
    /** Re-reads the catalogue if another writer committed. */
    refresh() { this.#call((h) => h.refresh()); }

    /** Yields the array in batches of `batchRows` logical rows. */
    *streamLoad(name, batchRows = 1) {
      if (!Number.isInteger(batchRows) || batchRows <= 0) throw new ValueError('batchRows must be a positive integer');
      const rows = this.shape(name)[0] ?? 1;
      for (let start = 0; start < rows; start += batchRows) {
        const n = Math.min(batchRows, rows - start);
        yield toNd(this.#call((h) => h.readRange(String(name), start, n)));
      }
    }

    /** The store as a `.npkg` package (any store: in memory, on disk, OPFS); `{ compression: true }`
     * zstd-compresses every file that shrinks (default false: raw, the fastest to write and to open). */
    toPackage(options = {}) { return this.#call((h) => h.toPackage(Boolean(options?.compression))); }
    /** Every file of an in-memory store, `{ path: Uint8Array }`. */
    files() { return this.#call((h) => h.files()); }

    /** @internal The wasm handle (used by the vector search over stored arrays). */
    _handle() { if (!this.#h) throw new ValueError('the store is closed'); return this.#h; }
    /** @internal */
    _wrap(fn) { return this.#call(fn); }

    /** Releases the store. Further calls throw `ValueError`. */
    close() {
      if (this.#h) { try { this.#h.free(); } catch { /* already poisoned */ } this.#h = null; }
    }
    /** Whether `close()` was called. */
    get closed() { return !this.#h; }
    [Symbol.dispose]() { this.close(); }
  }

  const vector = makeVector(bindings, wrap, normalizeArray);

  return {
    Store,
    ...vector,
    kernelTier: () => bindings.kernelTier(),
    version: () => bindings.version(),
    DTYPES: DTYPE_NAMES,
    ...extras,
  };
}
