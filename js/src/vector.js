// Vector search over the core engine (through the wasm module): VectorSearch with computeMetric,
// batchCompute, topK, multiQueryTopK, and top-k streamed over a stored array.

import { bytesOf } from './dtypes.js';
import { DTypeError, ValueError } from './errors.js';

const HALVES = new Set(['float16', 'bfloat16']);

/** Builds `VectorSearch` and `VectorMatrix` over one wasm module. */
export function makeVector(bindings, wrap, normalizeArray) {
  const { WasmMatrix } = bindings;

  /** `{ data, shape, dtype }` of a vector argument. Plain arrays are float64 (bigints int64);
   * a typed array without a dtype is its own type, except that a `Uint16Array` (what a store
   * returns for float16 where there is no `Float16Array`) is the bits of `halfDtype` when the
   * other operand is float16 or bfloat16. bfloat16 is always given as `Uint16Array` bits. */
  function normalize(value, halfDtype) {
    let v = ArrayBuffer.isView(value) ? { data: value } : value;
    if (v && typeof v === 'object' && !Array.isArray(v) && v.dtype === undefined && v.data instanceof Uint16Array && HALVES.has(halfDtype)) {
      v = { ...v, dtype: halfDtype };
    }
    if (v?.dtype !== 'bfloat16') return normalizeArray(v, []);
    if (!(v.data instanceof Uint16Array)) throw new DTypeError('bfloat16 vectors are given as a Uint16Array of their bits');
    return { ...normalizeArray({ ...v, dtype: 'uint16' }, []), dtype: 'bfloat16' };
  }

  /** Uploads `{ data, shape, dtype }` (1-D = one row) into wasm memory; the core decides the
   * element type it is computed in. */
  function upload(value, halfDtype) {
    const { data, shape, dtype } = normalize(value, halfDtype);
    let rows, dim;
    if (shape.length === 1) { rows = 1; dim = shape[0]; }
    else if (shape.length === 2) { [rows, dim] = shape; }
    else throw new ValueError(`vectors must be 1-D or 2-D, got shape [${shape}]`);
    return wrap(() => WasmMatrix.fromBytes(dtype, bytesOf(data), rows, dim));
  }

  /** Vectors uploaded once into wasm memory, reusable across searches. Call `free()` when done. */
  class VectorMatrix {
    #h;
    /** `halfDtype`: the dtype a bare `Uint16Array` stands for (`'float16'` or `'bfloat16'`). */
    constructor(value, halfDtype) { this.#h = value instanceof VectorMatrix ? value._h() : upload(value, halfDtype); }
    /** Rows. */
    get rows() { return this._h().rows; }
    /** Row length. */
    get dim() { return this._h().dim; }
    /** Element type used in computation. */
    get dtype() { return this._h().dtype; }
    /** @internal */
    _h() { if (!this.#h) throw new ValueError('the matrix was freed'); return this.#h; }
    /** Releases the wasm memory. */
    free() { if (this.#h) { this.#h.free(); this.#h = null; } }
    [Symbol.dispose]() { this.free(); }
  }

  /** Runs `fn` with `values` as uploaded matrices (temporary ones are freed afterwards). */
  function withMatrices(values, fn) {
    const temps = [];
    const hs = [];
    let prefer;
    for (const v of values.slice().reverse()) { // candidates last in the argument list: learn their dtype first
      if (v instanceof VectorMatrix) { prefer ??= v.dtype; hs.unshift(v._h()); continue; }
      const m = new VectorMatrix(v, prefer);
      prefer ??= m.dtype;
      temps.push(m);
      hs.unshift(m._h());
    }
    try { return fn(...hs); } finally { for (const t of temps) t.free(); }
  }

  const checkK = (k) => {
    if (!Number.isInteger(k) || k < 1) throw new ValueError('k must be a positive integer');
    return Math.min(k, 0xffffffff);
  };

  /** Similarity / distance search on the core engine (simd128 kernels where compiled in). */
  class VectorSearch {
    /** `"wasm: simd128"` or `"wasm: scalar"`. */
    capabilities() { return `wasm: ${bindings.kernelTier()}`; }
    /** The metric between two 1-D vectors. */
    computeMetric(a, b, metric) {
      return withMatrices([a, b], (x, y) => {
        if (x.rows !== 1 || y.rows !== 1) throw new ValueError('computeMetric takes two 1-D vectors');
        return wrap(() => bindings.computeMetric(x, y, String(metric)));
      });
    }
    /** Scores of a query (1-D → Float64Array of N) or queries (2-D → `{ data, shape: [M, N] }`) against candidates. */
    batchCompute(query, candidates, metric) {
      const twoD = !(query instanceof VectorMatrix) && (query?.shape?.length === 2);
      return withMatrices([query, candidates], (q, c) => {
        const out = wrap(() => bindings.batchCompute(q, c, String(metric)));
        return twoD || q.rows !== 1 ? { data: out, shape: [q.rows, c.rows], dtype: 'float64' } : out;
      });
    }
    /** The `k` best candidates, best first: `{ indices: Uint32Array, scores: Float64Array }`. */
    topK(query, candidates, metric, k) {
      const kk = checkK(k);
      return withMatrices([query, candidates], (q, c) => {
        if (q.rows !== 1) throw new ValueError('topK takes one query vector; use multiQueryTopK');
        const r = wrap(() => bindings.topK(q, c, String(metric), kk));
        return { indices: r.indices, scores: r.scores };
      });
    }
    /** The `k` best candidates for each query row: `{ indices, scores, shape: [Q, k] }` (row-major). */
    multiQueryTopK(queries, candidates, metric, k) {
      const kk = checkK(k);
      return withMatrices([queries, candidates], (q, c) => {
        const r = wrap(() => bindings.multiQueryTopK(q, c, String(metric), kk));
        return { indices: r.indices, scores: r.scores, shape: [q.rows, r.k] };
      });
    }
    /** Top-k streamed over the stored 2-D array `name` (never loaded whole). A 2-D query gives `shape: [Q, k]`. */
    topKStored(store, name, query, metric, k, options = {}) {
      if (typeof store?._wrap !== 'function') throw new ValueError('topKStored() takes a Store');
      const kk = checkK(k);
      const batchRows = options?.batchRows ?? 10000;
      if (!Number.isInteger(batchRows) || batchRows < 1) throw new ValueError('batchRows must be a positive integer');
      const m = query instanceof VectorMatrix ? query : new VectorMatrix(query, store.dtype(name));
      try {
        const r = store._wrap((h) => bindings.topKStored(h, String(name), m._h(), String(metric), kk, batchRows));
        return m.rows === 1 && !(query?.shape?.length === 2)
          ? { indices: r.indices, scores: r.scores }
          : { indices: r.indices, scores: r.scores, shape: [m.rows, r.k] };
      } finally {
        if (m !== query) m.free();
      }
    }
  }

  /** Alias with upstream's name. */
  const VectorEngine = VectorSearch;
  return { VectorSearch, VectorEngine, VectorMatrix, METRICS: ['dot', 'cosine', 'l2', 'l2sq', 'hamming', 'jaccard', 'kl', 'js'] };
}
