// The dedicated-worker side of `numpack/worker`: owns one store (in memory, OPFS, or a
// package) and runs every call in order. After each store call it awaits the OPFS back end's
// flush, so every change the page is told about is on OPFS before its promise resolves.

import { Store, VectorSearch, startThreads } from './browser.js';
import { OpfsBackend } from './opfs.js';

let store = null;
let backend = null;
const search = new VectorSearch();
let queue = Promise.resolve();

const STORE_CALLS = new Set(['list', 'has', 'info', 'infos', 'shape', 'dtype', 'modifyTime', 'save', 'load', 'getitem',
  'append', 'replace', 'drop', 'compact', 'clone', 'reset', 'refresh', 'toPackage', 'files']);
const SEARCH_CALLS = new Set(['computeMetric', 'batchCompute', 'topK', 'multiQueryTopK', 'capabilities']);

async function run(op, args) {
  if (op === 'open') {
    const opts = args[0] ?? {};
    if (opts.opfs) {
      backend = await OpfsBackend.open(opts.opfs, opts);
      try {
        store = Store.fromBackend(backend, opts);
        await backend.flush(); // recovery done by open() reaches OPFS too
      } catch (e) {
        await backend.close().catch(() => {}); // its handles and lock
        backend = null;
        throw e;
      }
    } else if (opts.package) {
      store = Store.fromPackage(opts.package);
    } else {
      store = Store.memory();
    }
    return true;
  }
  if (op === 'close') {
    store?.close();
    store = null;
    await backend?.close();
    backend = null;
    return true;
  }
  if (op === 'ioStats') return backend?.stats ?? null; // for tests and benchmarks
  if (op === 'startThreads') return startThreads(...args); // search threads of this worker
  if (SEARCH_CALLS.has(op)) return search[op](...args);
  if (!store) throw Object.assign(new Error('no store is open'), { name: 'ValueError' });
  if (op !== 'topKStored' && !STORE_CALLS.has(op)) throw Object.assign(new Error(`unknown call ${op}`), { name: 'ValueError' });
  try {
    return op === 'topKStored' ? search.topKStored(store, ...args) : store[op](...args);
  } finally {
    await backend?.flush(); // any call may have changed files (e.g. by recovering a commit)
  }
}

/** Typed-array buffers in a result, to transfer instead of copy. */
function transfers(value, out = []) {
  if (ArrayBuffer.isView(value)) { if (!out.includes(value.buffer) && value.buffer instanceof ArrayBuffer) out.push(value.buffer); }
  else if (value && typeof value === 'object') for (const v of Object.values(value)) transfers(v, out);
  return out;
}

self.onmessage = (ev) => {
  const { id, op, args } = ev.data;
  queue = queue.then(async () => {
    try {
      const result = await run(op, args);
      let list = [];
      try { list = transfers(result); } catch { list = []; }
      self.postMessage({ id, ok: true, result }, list);
    } catch (e) {
      self.postMessage({ id, ok: false, error: { name: e?.name ?? 'Error', message: e?.message ?? String(e) } });
    }
  });
};
self.postMessage({ ready: true });
