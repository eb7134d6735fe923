// Multi-threaded search: a persistent pool of search threads (`pool-worker.js`), created lazily
// once per wasm build and reused, each instantiating the wasm module once. A search on `t`
// threads splits the candidate rows into `t` contiguous ranges: the calling thread searches the
// first itself (its rows are already in its memory) while `t − 1` pool threads search the
// others; each returns its local top-k and the caller merges them with the core's ranking
// (`mergeTopK`: score, then lower index), so results are bit for bit those of one thread. The parent waits with `Atomics.wait`, so the
// calls stay synchronous: in Node on any thread; in a browser only inside a cross-origin
// isolated worker (a page's main thread may not block), after `startThreads()` (see below).

const envs = new WeakMap();

/** Registers how threads are made for one wasm build (`node.js` / `browser.js` call this). */
export function setThreadEnv(bindings, env) {
  envs.set(bindings, env);
}

/** The pool of one wasm build, or null where threads cannot be used. */
export function poolFor(bindings) {
  const env = envs.get(bindings);
  if (!env) return null;
  env.pool ??= new ThreadPool(env);
  return env.pool;
}

let nextShard = 1;

const storeSources = new WeakMap();

/** Records where a thread can open `store` itself (Node: `{ path }` of its folder), so a
 * threaded `topKStored` reads each thread's rows there, not through this thread. */
export function setStoreSource(store, source) {
  storeSources.set(store, source);
}

/** Where a thread can open `store`, or undefined (in memory, OPFS, packages). */
export function storeSource(store) {
  return storeSources.get(store);
}

/** Worker threads running `pool-worker.js`. */
export class ThreadPool {
  #env; #workers = []; #broken = false;
  /** Per thread: 0 loading, 1 ready, 2 failed (set by the thread itself, so a blocked parent sees it). */
  #flags = new Int32Array(new SharedArrayBuffer(4 * 256));
  constructor(env) { this.#env = env; }
  /** Threads a search uses when the caller gives no `threads`: every core. */
  get defaultThreads() { return this.#env.defaultThreads(); }
  /** Whether this thread may block waiting for the pool (else searches run on one thread). */
  get usable() { return !this.#broken && this.#env.canBlock() && typeof SharedArrayBuffer === 'function'; }
  /** Threads started so far. */
  get size() { return this.#workers.length; }
  /** Threads that may take work now, at most `n`. Where a thread starts while its parent
   * blocks (Node) the pool grows to `n`; in a browser only threads already started by
   * `start()` count (a worker spawned by a blocked thread may never load). */
  available(n) {
    n = Math.min(n, this.#flags.length);
    if (this.#env.startsWhileBlocked) {
      this.#grow(n);
      // A thread that cannot load would leave a blocked search waiting forever: wait for each
      // to report (20 s at most), and fall back to one thread for good if one does not.
      for (let i = 0; i < n; i++) {
        if (Atomics.load(this.#flags, i) === 0) Atomics.wait(this.#flags, i, 0, 20_000);
        if (Atomics.load(this.#flags, i) !== 1) { this.#broken = true; return 1; }
      }
      return n;
    }
    let ready = 0;
    while (ready < Math.min(n, this.#workers.length) && this.#workers[ready].ready) ready++;
    return ready;
  }
  /** Starts threads up to `n` and resolves once all have loaded the wasm module. */
  async start(n) {
    n = Math.min(n, this.#flags.length);
    this.#grow(n);
    await Promise.all(this.#workers.slice(0, n).map((w) => w.readyPromise));
    return this.#workers.length;
  }
  #grow(n) {
    while (this.#workers.length < n) {
      const w = { ready: false };
      w.readyPromise = new Promise((resolve, reject) => {
        w.port = this.#env.spawn((m) => {
          if (m?.ready) { w.ready = true; resolve(); } else if (m && m.ready === false) reject(new Error(`numpack search thread failed: ${m.error}`));
        });
      });
      w.readyPromise.catch(() => {});
      w.port.postMessage({ op: 'init', kernels: this.#env.kernels, flag: this.#flags, slot: this.#workers.length });
      this.#workers.push(w);
    }
  }
  /** Sends `msg` to thread `i` (no answer). */
  send(i, msg) { this.#workers[i].port.postMessage(msg); }
  /** Splits `rows` into `t` ranges and copies the rows of all but the first (which the calling
   * thread searches in place) out of `src` (a view of wasm memory) into pool threads
   * `0..t−2`, which keep them as shard `id`; returns the ranges (all `t`). */
  shard(t, src, rows, dim, dtype, itemsize) {
    const id = nextShard++;
    const ranges = split(rows, t);
    const row = dim * itemsize, base = ranges.length > 1 ? ranges[1][0] : rows;
    const sab = new SharedArrayBuffer((rows - base) * row);
    new Uint8Array(sab).set(src.subarray(base * row, rows * row));
    ranges.slice(1).forEach(([a, b], i) => this.send(i, { op: 'shard', id, cands: { dtype, rows: b - a, dim, bytes: new Uint8Array(sab, (a - base) * row, (b - a) * row) } }));
    return { id, ranges };
  }
  /** Runs one search task per thread and waits for all (`post(tasks).wait()`). */
  run(tasks) { return this.post(tasks).wait(); }
  /** Starts one search task per thread: `tasks[i]` goes to thread `i` with `cap` result
   * slots. `wait()` blocks until all are done and returns `{ scores, indices, k }` per task
   * (indices are global), or throws the first task's error. */
  post(tasks) {
    const ctl = new Int32Array(new SharedArrayBuffer(4));
    ctl[0] = tasks.length;
    const bufs = tasks.map((t, i) => {
      const res = new SharedArrayBuffer(16 + 12 * t.cap + 1024);
      this.send(i, { ...t, op: 'search', ctl, res });
      return res;
    });
    return { wait: () => this.#collect(ctl, bufs, tasks) };
  }
  #collect(ctl, bufs, tasks) {
    for (let left; (left = Atomics.load(ctl, 0)) > 0;) Atomics.wait(ctl, 0, left);
    return bufs.map((res, i) => {
      const head = new Int32Array(res, 0, 4);
      if (head[0] === 2) {
        const { name, message } = JSON.parse(new TextDecoder().decode(new Uint8Array(res, 16, head[1]).slice()));
        throw this.#env.error(name, message);
      }
      const n = head[1];
      return { scores: new Float64Array(res, 16, n).slice(), indices: new Uint32Array(res, 16 + 8 * tasks[i].cap, n).slice(), k: head[2] };
    });
  }
}

/** `rows` split into `t` contiguous, non-empty ranges of near-equal size. */
export function split(rows, t) {
  const out = [];
  for (let i = 0; i < t; i++) {
    const a = Math.floor((rows * i) / t), b = Math.floor((rows * (i + 1)) / t);
    if (b > a) out.push([a, b]);
  }
  return out;
}

/** Shard ids of matrices that were freed: their threads are told to drop them. */
export function freeShard(pool, shard) {
  shard.ranges.slice(1).forEach((_, i) => pool.send(i, { op: 'free', id: shard.id }));
}
