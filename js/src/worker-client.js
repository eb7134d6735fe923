// Main-thread side of the worker: the same store and search calls, run in a dedicated worker
// so a page never blocks, each returning a Promise. The only way to use OPFS from a page.

import { errorFromName } from './errors.js';

export * from './errors.js';

/** A store living in a dedicated worker. Every method returns a Promise. */
export class WorkerStore {
  #worker; #next = 1; #pending = new Map(); #ready;

  constructor(worker) {
    this.#worker = worker;
    this.#ready = new Promise((resolve, reject) => {
      worker.addEventListener('error', (e) => reject(new Error(`numpack worker failed: ${e.message}`)), { once: true });
      worker.addEventListener('message', function first(ev) {
        if (ev.data?.ready) { worker.removeEventListener('message', first); resolve(); }
      });
    });
    worker.addEventListener('message', (ev) => {
      const { id, ok, result, error } = ev.data;
      const p = this.#pending.get(id);
      if (!p) return;
      this.#pending.delete(id);
      if (ok) p.resolve(result); else p.reject(errorFromName(error.name, error.message));
    });
  }

  /**
   * Starts a worker and opens a store in it: `{ opfs: 'folder' }` (persistent), `{ package: bytes }`
   * (an `.npkg`), or `{}` (in memory). `workerUrl` overrides the worker script location.
   */
  static async open(options = {}) {
    const url = options.workerUrl ?? new URL('./worker.js', import.meta.url);
    const worker = new Worker(url, { type: 'module' });
    const ws = new WorkerStore(worker);
    await ws.#ready;
    const { workerUrl, ...rest } = options;
    try {
      await ws.call('open', [rest]);
    } catch (e) {
      worker.terminate();
      throw e;
    }
    return ws;
  }

  /** Sends one call to the worker. */
  call(op, args = []) {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ id, op, args });
    });
  }

  list() { return this.call('list'); }
  has(name) { return this.call('has', [name]); }
  info(name) { return this.call('info', [name]); }
  infos() { return this.call('infos'); }
  shape(name) { return this.call('shape', [name]); }
  dtype(name) { return this.call('dtype', [name]); }
  save(arrays) { return this.call('save', [arrays]); }
  load(name) { return this.call('load', [name]); }
  getitem(name, index) { return this.call('getitem', [name, index]); }
  append(name, value) { return this.call('append', [name, value]); }
  replace(name, index, value) { return this.call('replace', [name, index, value]); }
  drop(name, index) { return this.call('drop', index === undefined ? [name] : [name, index]); }
  compact(name) { return this.call('compact', [name]); }
  clone(src, dst) { return this.call('clone', [src, dst]); }
  reset() { return this.call('reset'); }
  toPackage(options) { return this.call('toPackage', [options]); }
  files() { return this.call('files'); }
  capabilities() { return this.call('capabilities'); }
  /** Starts `n` search threads inside the worker (default: every core). Searches with
   * `threads` use them where the page is cross-origin isolated; elsewhere they run on one. */
  startThreads(n) { return this.call('startThreads', n === undefined ? [] : [n]); }
  computeMetric(a, b, metric) { return this.call('computeMetric', [a, b, metric]); }
  batchCompute(q, c, metric) { return this.call('batchCompute', [q, c, metric]); }
  topK(q, c, metric, k, options) { return this.call('topK', [q, c, metric, k, options]); }
  multiQueryTopK(q, c, metric, k, options) { return this.call('multiQueryTopK', [q, c, metric, k, options]); }
  /** Top-k streamed over the worker's stored array `name`. */
  topKStored(name, q, metric, k, options) { return this.call('topKStored', [name, q, metric, k, options]); }

  /** Closes the store (flushing OPFS) and terminates the worker. */
  async close() {
    try { await this.call('close'); } finally { this.#worker.terminate(); }
  }
}
