// Vector search over the core engine (through the wasm module): VectorSearch with computeMetric,
// batchCompute, topK, multiQueryTopK, and top-k streamed over a stored array.

import { bytesOf } from './dtypes.js';
import { DTypeError, ValueError } from './errors.js';
import { freeShard, poolFor, split, storeSource } from './pool.js';

/** Below this many candidate elements a search without an explicit `threads` stays on one
 * thread (handing work to threads costs more than it saves). */
const MIN_THREADED_ELEMENTS = 1 << 20;

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

  /** Drops the thread copies of a matrix that was garbage-collected without `free()`. */
  const shardReaper = typeof FinalizationRegistry === 'function'
    ? new FinalizationRegistry(({ pool, shard }) => freeShard(pool, shard)) : null;

  /** Vectors uploaded once into wasm memory, reusable across searches. Call `free()` when done. */
  class VectorMatrix {
    #h; #shard = null; #dtype;
    /** `halfDtype`: the dtype a bare `Uint16Array` stands for (`'float16'` or `'bfloat16'`);
     * `temporary` (internal): made for one call, so it keeps no norm cache. */
    constructor(value, halfDtype, temporary = false) {
      this.#h = value instanceof VectorMatrix ? value._h() : upload(value, halfDtype);
      if (!temporary && !(value instanceof VectorMatrix)) this.#h.keepNorms = true;
    }
    /** Rows. */
    get rows() { return this._h().rows; }
    /** Row length. */
    get dim() { return this._h().dim; }
    /** Element type used in computation (read from wasm once: a string crossing costs ~1 µs). */
    get dtype() { const h = this._h(); return (this.#dtype ??= h.dtype); }
    /** @internal */
    _h() { if (!this.#h) throw new ValueError('the matrix was freed'); return this.#h; }
    /** @internal This matrix split into `t` row ranges, all but the first held by threads of
     * `pool` (copied there once, reused by every later search with as many threads; the
     * calling thread searches the first range here). */
    _shard(pool, t) {
      if (this.#shard?.t === t && this.#shard.pool === pool) return this.#shard;
      this.#dropShard();
      const h = this._h();
      const src = new Uint8Array(bindings.wasmMemory().buffer, h.bytePtr(), h.byteLength);
      const sh = pool.shard(t, src, h.rows, h.dim, h.dtype, h.byteLength / (h.rows * h.dim));
      this.#shard = { ...sh, t, pool };
      shardReaper?.register(this, { pool, shard: sh }, this);
      return this.#shard;
    }
    #dropShard() {
      if (!this.#shard) return;
      shardReaper?.unregister(this);
      freeShard(this.#shard.pool, this.#shard);
      this.#shard = null;
    }
    /** Releases the wasm memory (and the copies held by search threads). */
    free() { this.#dropShard(); if (this.#h) { this.#h.free(); this.#h = null; } }
    [Symbol.dispose]() { this.free(); }
  }

  /** Runs `fn` with `values` as uploaded matrices (temporary ones are freed afterwards). */
  function withMatrices(values, fn) {
    const temps = [];
    const hs = [];
    let prefer;
    for (const v of values.slice().reverse()) { // candidates last in the argument list: learn their dtype first
      if (v instanceof VectorMatrix) { prefer ??= v.dtype; hs.unshift(v._h()); continue; }
      const m = new VectorMatrix(v, prefer, true);
      prefer ??= m.dtype;
      temps.push(m);
      hs.unshift(m._h());
    }
    try { return fn(...hs); } finally { for (const t of temps) t.free(); }
  }

  /** `[indices, mask]` of a `filter` option for the wasm calls (conversion only; the rules
   * are the core's `RowFilter`): a `Uint8Array` / `Uint8ClampedArray` or an array of booleans
   * is a mask, any other typed array or array of numbers / bigints is logical row indices. */
  function filterArgs(filter) {
    if (filter === undefined || filter === null) return [undefined, undefined];
    if (filter instanceof Uint8Array || filter instanceof Uint8ClampedArray) return [undefined, Uint8Array.from(filter)];
    if (Array.isArray(filter) && filter.length > 0 && filter.every((x) => typeof x === 'boolean')) {
      return [undefined, Uint8Array.from(filter, (x) => (x ? 1 : 0))];
    }
    if ((Array.isArray(filter) || (ArrayBuffer.isView(filter) && !(filter instanceof DataView)))
      && Array.prototype.every.call(filter, (x) => typeof x === 'number' || typeof x === 'bigint')) {
      return [Float64Array.from(filter, Number), undefined];
    }
    throw new ValueError('filter must be logical row indices (an integer array) or a boolean mask (booleans or a Uint8Array)');
  }

  const checkK = (k) => {
    if (!Number.isInteger(k) || k < 1) throw new ValueError('k must be a positive integer');
    return Math.min(k, 0xffffffff);
  };

  /** Rows and row length of a candidates argument without uploading it. */
  function extent(value) {
    if (value instanceof VectorMatrix) return [value.rows, value.dim];
    const { shape } = normalize(value);
    if (shape.length === 1) return [1, shape[0]];
    if (shape.length === 2) return shape;
    throw new ValueError(`vectors must be 1-D or 2-D, got shape [${shape}]`);
  }

  /** `[threads, pool]` for a search over `candidates` (`[1, null]`: run on this thread). */
  function threadsFor(options, candidates, shape) {
    const asked = options?.threads;
    if (asked !== undefined && asked !== null && (!Number.isInteger(asked) || asked < 1)) {
      throw new ValueError('threads must be a positive integer');
    }
    if (asked === 1) return [1, null];
    const pool = poolFor(bindings);
    if (!pool?.usable) return [1, null];
    const [rows, dim] = shape ?? extent(candidates);
    let t = Math.min(asked ?? pool.defaultThreads, rows);
    if (asked == null && rows * dim < MIN_THREADED_ELEMENTS) t = 1;
    if (t <= 1) return [1, null];
    t = 1 + pool.available(t - 1); // this thread works too
    return t > 1 ? [t, pool] : [1, null];
  }

  /** `{ dtype, bytes, rows, dim }` of a vector argument, its bytes copied (to post to a thread). */
  function portable(value, halfDtype) {
    if (value instanceof VectorMatrix) {
      const h = value._h();
      const bytes = new Uint8Array(bindings.wasmMemory().buffer, h.bytePtr(), h.byteLength).slice();
      return { dtype: h.dtype, bytes, rows: h.rows, dim: h.dim };
    }
    const { data, shape, dtype } = normalize(value, halfDtype);
    if (shape.length > 2) throw new ValueError(`vectors must be 1-D or 2-D, got shape [${shape}]`);
    const [rows, dim] = shape.length === 1 ? [1, shape[0]] : shape;
    return { dtype, bytes: bytesOf(data), rows, dim };
  }

  /** Top-k of `query` (one row, or many with `multi`) over `candidates` split across `t`
   * threads: this one searches the first range while `t − 1` threads of `pool` search the
   * others; the local lists are merged by the core's ranking. */
  function threadedSearch(pool, t, query, candidates, metric, kk, multi, filter) {
    let shard = null, cands = null, prefer, ranges;
    if (candidates instanceof VectorMatrix) {
      shard = candidates._shard(pool, t);
      prefer = candidates.dtype;
      ranges = shard.ranges;
    } else {
      cands = portable(candidates);
      prefer = cands.dtype;
      ranges = split(cands.rows, t);
    }
    const q = portable(query, prefer);
    if (!multi && q.rows !== 1) throw new ValueError('topK takes one query vector; use multiQueryTopK');
    q.bytes = q.bytes.slice();
    const item = cands ? cands.bytes.byteLength / Math.max(1, cands.rows * cands.dim) : 0;
    const rowsOf = ([a, b]) => new Uint8Array(cands.bytes.buffer, cands.bytes.byteOffset + a * cands.dim * item, (b - a) * cands.dim * item);
    // The other threads' rows (plain arrays only; a matrix's are kept by the threads): shared
    // memory as given, else one copy of them into a SharedArrayBuffer.
    let shared = null, base = 0;
    if (cands && ranges.length > 1) {
      base = ranges[1][0];
      shared = rowsOf([base, cands.rows]);
      if (!(shared.buffer instanceof SharedArrayBuffer)) {
        const sab = new Uint8Array(new SharedArrayBuffer(shared.byteLength));
        sab.set(shared);
        shared = sab;
      }
    }
    // A filter is checked once here by the core (against all rows) and handed to each thread
    // as the allowed rows of its range, shifted to the range's first row.
    let allowed = null;
    if (filter[0] || filter[1]) {
      allowed = wrap(() => bindings.filterAllowed(shard ? candidates.rows : cands.rows, filter[0], filter[1]));
    }
    const local = ([a, b]) => {
      if (!allowed) return undefined;
      let lo = 0, hi = allowed.length;
      while (lo < hi) { const mid = (lo + hi) >> 1; if (allowed[mid] < a) lo = mid + 1; else hi = mid; }
      let end = lo;
      while (end < allowed.length && allowed[end] < b) end++;
      return allowed.subarray(lo, end).map((r) => r - a);
    };
    const tasks = ranges.slice(1).map(([a, b]) => ({
      shard: shard?.id,
      cands: cands ? { dtype: cands.dtype, rows: b - a, dim: cands.dim,
        bytes: new Uint8Array(shared.buffer, shared.byteOffset + (a - base) * cands.dim * item, (b - a) * cands.dim * item) } : undefined,
      query: q, metric: String(metric), k: kk, multi, offset: a, cap: q.rows * Math.min(kk, b - a),
      filter: local([a, b]),
    }));
    const pending = pool.post(tasks);
    // This thread's range (rows 0..b): in place in the matrix (its norm cache included), or
    // uploaded from the plain array; while the pool threads search theirs.
    let mine, error = null;
    try {
      const [a, b] = ranges[0];
      const qh = wrap(() => WasmMatrix.fromBytes(q.dtype, q.bytes, q.rows, q.dim));
      let ch = null;
      try {
        const search = multi ? bindings.multiQueryTopK : bindings.topK;
        if (shard) {
          mine = wrap(() => search(qh, candidates._h(), String(metric), kk, filter[0], filter[1], a, b));
        } else {
          ch = wrap(() => WasmMatrix.fromBytes(cands.dtype, rowsOf([a, b]), b - a, cands.dim));
          mine = wrap(() => search(qh, ch, String(metric), kk, local([a, b]), undefined, undefined, undefined));
        }
      } finally {
        qh.free();
        ch?.free();
      }
    } catch (e) {
      error = e;
    }
    const parts = pending.wait(); // always waited for, so no thread is left working for a failed call
    if (error) throw error;
    const m = mergeParts([{ scores: mine.scores, indices: mine.indices, k: mine.k }, ...parts], q.rows, metric, kk);
    return { indices: m.indices, scores: m.scores, k: m.k, rows: q.rows };
  }

  /** `topKStored` on `t` threads: this one searches the first range of logical rows through
   * `store`, `t − 1` threads open the store folder themselves and search the others (no row
   * passes between threads); the lists are merged as in memory. */
  function storedThreaded(pool, t, source, store, name, query, metric, kk, batchRows, filter) {
    const shape = store.shape(name);
    const q = portable(query, store.dtype(name));
    q.bytes = q.bytes.slice();
    const ranges = split(shape[0], t);
    const tasks = ranges.slice(1).map(([a, b]) => ({
      stored: { path: source.path, name, batchRows, start: a, stop: b, filter },
      query: q, metric: String(metric), k: kk, multi: true, offset: 0, cap: q.rows * Math.min(kk, b - a),
    }));
    const pending = pool.post(tasks);
    let mine, error = null;
    try {
      const [a, b] = ranges[0];
      const qh = wrap(() => WasmMatrix.fromBytes(q.dtype, q.bytes, q.rows, q.dim));
      try {
        mine = store._wrap((h) => bindings.topKStored(h, name, qh, String(metric), kk, batchRows, filter[0], filter[1], a, b));
      } finally {
        qh.free();
      }
    } catch (e) {
      error = e;
    }
    const parts = pending.wait();
    if (error) throw error;
    const r = mergeParts([{ scores: mine.scores, indices: mine.indices, k: mine.k }, ...parts], q.rows, metric, kk);
    return q.rows === 1 && !(query?.shape?.length === 2) ? { indices: r.indices, scores: r.scores } : { indices: r.indices, scores: r.scores, shape: [q.rows, r.k] };
  }

  /** Merges per-thread lists (`parts[i]`: `k_i` entries per query row) into each row's best `kk`. */
  function mergeParts(parts, rows, metric, kk) {
    const total = parts.reduce((n, p) => n + p.scores.length, 0);
    const scores = new Float64Array(total), indices = new Uint32Array(total), offsets = new Uint32Array(rows + 1);
    let at = 0;
    for (let r = 0; r < rows; r++) {
      for (const p of parts) {
        scores.set(p.scores.subarray(r * p.k, (r + 1) * p.k), at);
        indices.set(p.indices.subarray(r * p.k, (r + 1) * p.k), at);
        at += p.k;
      }
      offsets[r + 1] = at;
    }
    return wrap(() => bindings.mergeTopK(String(metric), kk, scores, indices, offsets));
  }

  /** Similarity / distance search on the core engine (simd128 kernels where compiled in). */
  class VectorSearch {
    /** `"wasm: simd128"` or `"wasm: scalar"`. */
    capabilities() { return `wasm: ${bindings.kernelTier()}`; }
    /** Search threads this build has started so far (one pool, created on first use and
     * reused by every search; 0 where searches run on the calling thread only). */
    threadsStarted() { return poolFor(bindings)?.size ?? 0; }
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
    /** The `k` best candidates, best first: `{ indices: Uint32Array, scores: Float64Array }`.
     * `options.threads`: threads to split the rows over (default: every core for large
     * searches; results are identical to one thread). */
    topK(query, candidates, metric, k, options = {}) {
      const kk = checkK(k);
      const filter = filterArgs(options?.filter);
      const [t, pool] = threadsFor(options, candidates);
      if (t > 1) {
        const r = threadedSearch(pool, t, query, candidates, metric, kk, false, filter);
        return { indices: r.indices, scores: r.scores };
      }
      return withMatrices([query, candidates], (q, c) => {
        if (q.rows !== 1) throw new ValueError('topK takes one query vector; use multiQueryTopK');
        const r = wrap(() => bindings.topK(q, c, String(metric), kk, filter[0], filter[1]));
        return { indices: r.indices, scores: r.scores };
      });
    }
    /** The `k` best candidates for each query row: `{ indices, scores, shape: [Q, k] }` (row-major). */
    multiQueryTopK(queries, candidates, metric, k, options = {}) {
      const kk = checkK(k);
      const filter = filterArgs(options?.filter);
      const [t, pool] = threadsFor(options, candidates);
      if (t > 1) {
        const r = threadedSearch(pool, t, queries, candidates, metric, kk, true, filter);
        return { indices: r.indices, scores: r.scores, shape: [r.rows, r.k] };
      }
      return withMatrices([queries, candidates], (q, c) => {
        const r = wrap(() => bindings.multiQueryTopK(q, c, String(metric), kk, filter[0], filter[1]));
        return { indices: r.indices, scores: r.scores, shape: [q.rows, r.k] };
      });
    }
    /** Top-k streamed over the stored 2-D array `name` (never loaded whole). A 2-D query gives `shape: [Q, k]`. */
    topKStored(store, name, query, metric, k, options = {}) {
      if (typeof store?._wrap !== 'function') throw new ValueError('topKStored() takes a Store');
      const kk = checkK(k);
      const filter = filterArgs(options?.filter);
      const batchRows = options?.batchRows ?? 10000;
      if (!Number.isInteger(batchRows) || batchRows < 1) throw new ValueError('batchRows must be a positive integer');
      const source = storeSource(store);
      if (source) {
        const shape = store.shape(name);
        const [t, pool] = shape.length === 2 ? threadsFor(options, null, shape) : [1, null];
        if (t > 1) return storedThreaded(pool, t, source, store, String(name), query, metric, kk, batchRows, filter);
      } else if (options?.threads !== undefined && options?.threads !== null) {
        threadsFor({ threads: options.threads }, null, [0, 0]); // validates the option
      }
      const m = query instanceof VectorMatrix ? query : new VectorMatrix(query, store.dtype(name), true);
      try {
        const r = store._wrap((h) => bindings.topKStored(h, String(name), m._h(), String(metric), kk, batchRows, filter[0], filter[1]));
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
