// One search thread of the pool (`pool.js`): a Node `worker_threads` worker or a browser Web
// Worker. It instantiates the same wasm build as its parent once, keeps the row ranges of
// matrices it was handed (`shard`), and answers search tasks by writing the local top-k into
// the task's SharedArrayBuffer and counting the task done (the parent waits with Atomics.wait).
// Every rule (dtypes, metrics, ranking) is the wasm module's, as on the parent thread.

import { convertError } from './errors.js';

const isNode = typeof process !== 'undefined' && process.versions?.node && typeof self === 'undefined';
let bindings = null;
let nodeFs = null; // Node's store back end, for searches over a stored array
const shards = new Map();
const pending = [];

/** Instantiates the wasm build `kernels` ('simd128' or 'scalar'). */
async function load(kernels) {
  const dir = kernels === 'scalar' ? 'wasm-scalar' : 'wasm';
  const mod = kernels === 'scalar'
    ? await import('../dist/wasm-scalar/numpack_wasm.js')
    : await import('../dist/wasm/numpack_wasm.js');
  const url = new URL(`../dist/${dir}/numpack_wasm_bg.wasm`, import.meta.url);
  if (isNode) {
    const { readFileSync } = await import('node:fs');
    mod.initSync({ module: readFileSync(url) });
    nodeFs = await import('./node-fs.js');
    nodeFs.useLockProtocol(mod);
  } else {
    await mod.default({ module_or_path: url });
  }
  return mod;
}

/** A wasm matrix of `rows × dim` elements of `dtype` read from `bytes`. */
const matrix = (m) => bindings.WasmMatrix.fromBytes(m.dtype, m.bytes, m.rows, m.dim);

/** Writes a result (or an error) into the task's buffer, then counts the task done. */
function finish(task, result, error) {
  const head = new Int32Array(task.res, 0, 4);
  if (error) {
    const e = convertError(error, bindings);
    const text = new TextEncoder().encode(JSON.stringify({ name: e?.name ?? 'Error', message: e?.message ?? String(e) }));
    const room = new Uint8Array(task.res, 16, Math.min(text.length, task.res.byteLength - 16));
    room.set(text.subarray(0, room.length));
    head[1] = room.length;
    head[0] = 2;
  } else {
    const n = result.indices.length;
    new Float64Array(task.res, 16, n).set(result.scores);
    const idx = new Uint32Array(task.res, 16 + 8 * task.cap, n);
    for (let i = 0; i < n; i++) idx[i] = result.indices[i] + task.offset;
    head[1] = n;
    head[2] = result.k;
    head[0] = 1;
  }
  Atomics.sub(task.ctl, 0, 1);
  Atomics.notify(task.ctl, 0);
}

function handle(msg) {
  if (msg.op === 'shard') {
    try {
      const m = matrix(msg.cands);
      m.keepNorms = true; // kept across searches, like the VectorMatrix it is a range of
      shards.set(msg.id, m);
    } catch (e) { shards.set(msg.id, e); }
    return;
  }
  if (msg.op === 'free') {
    const m = shards.get(msg.id);
    if (m && typeof m.free === 'function') m.free();
    shards.delete(msg.id);
    return;
  }
  // op 'search': topK (one query row) or multiQueryTopK over the shard or the inline rows, or
  // top-k over a range of a stored array's logical rows (the thread opens the folder itself).
  let q = null, c = null, own = false;
  try {
    if (msg.stored) {
      q = matrix(msg.query);
      finish(msg, searchStored(msg, q), null);
      return;
    }
    if (msg.shard !== undefined) {
      c = shards.get(msg.shard);
      if (c instanceof Error || c === undefined) throw c ?? new Error('internal: unknown shard');
    } else {
      c = matrix(msg.cands);
      own = true;
    }
    q = matrix(msg.query);
    const r = msg.multi
      ? bindings.multiQueryTopK(q, c, msg.metric, msg.k, msg.filter, undefined)
      : bindings.topK(q, c, msg.metric, msg.k, msg.filter, undefined);
    finish(msg, r, null);
  } catch (e) {
    finish(msg, null, e ?? new Error('unknown error'));
  } finally {
    q?.free();
    if (own) c?.free();
  }
}

/** Top-k of query `q` over rows `start..stop` of a stored array, read from its folder here. */
function searchStored(msg, q) {
  const st = msg.stored;
  const store = bindings.WasmStore.openBackend(new nodeFs.NodeFsBackend(st.path), false);
  try {
    return bindings.topKStored(store, st.name, q, msg.metric, msg.k, st.batchRows, st.filter[0], st.filter[1], st.start, st.stop);
  } finally {
    store.free();
  }
}

function onMessage(msg) {
  if (msg.op === 'init') {
    const flag = (v) => { Atomics.store(msg.flag, msg.slot, v); Atomics.notify(msg.flag, msg.slot); };
    load(msg.kernels).then((mod) => {
      bindings = mod;
      flag(1);
      for (const m of pending.splice(0)) handle(m);
      post({ ready: true });
    }, (e) => { flag(2); post({ ready: false, error: String(e?.stack ?? e) }); });
    return;
  }
  if (!bindings) pending.push(msg); else handle(msg);
}

let post;
if (isNode) {
  const { parentPort } = await import('node:worker_threads');
  post = (m) => parentPort.postMessage(m);
  parentPort.on('message', onMessage);
} else {
  post = (m) => self.postMessage(m);
  self.onmessage = (ev) => onMessage(ev.data);
}
