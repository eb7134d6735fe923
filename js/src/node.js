// Node.js entry: loads the wasm module synchronously from the package folder and adds
// `open(path)` for store folders on disk. `NUMPACK_WASM=scalar` selects the build without simd128.

import { readFileSync } from 'node:fs';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import * as simdBuild from '../dist/wasm/numpack_wasm.js';
import * as scalarBuild from '../dist/wasm-scalar/numpack_wasm.js';
import { createApi } from './api.js';
import { NodeFsBackend, useLockProtocol } from './node-fs.js';
import { ValueError, convertError, errorFromName } from './errors.js';
import { poolFor, setStoreSource, setThreadEnv } from './pool.js';

export * from './errors.js';
export { NodeFsBackend } from './node-fs.js';
export { DTYPE_NAMES, HAS_FLOAT16ARRAY, toHalfBits, fromHalfBits } from './dtypes.js';

const instances = new Map();

/** The API over the `simd128` or `scalar` wasm build (each is instantiated once). */
export function createNumPack(options = {}) {
  const kernels = options.kernels ?? (process.env.NUMPACK_WASM === 'scalar' ? 'scalar' : 'simd128');
  if (instances.has(kernels)) return instances.get(kernels);
  const [mod, dir] = kernels === 'scalar' ? [scalarBuild, 'wasm-scalar'] : [simdBuild, 'wasm'];
  if (kernels !== 'scalar' && kernels !== 'simd128') throw new ValueError(`unknown kernels ${kernels}: 'simd128' or 'scalar'`);
  mod.initSync({ module: readFileSync(new URL(`../dist/${dir}/numpack_wasm_bg.wasm`, import.meta.url)) });
  useLockProtocol(mod);
  // Search threads: worker_threads running the same build, unref'd so they never keep the
  // process alive; Atomics.wait may block any Node thread, and a worker starts while it does.
  setThreadEnv(mod, {
    kernels,
    defaultThreads: () => os.availableParallelism?.() ?? os.cpus().length,
    canBlock: () => true,
    startsWhileBlocked: true,
    spawn: (onMessage) => {
      // Not the parent's --input-type (meant for its -e / stdin source, an error for a file).
      const execArgv = process.execArgv.filter((a) => !a.startsWith('--input-type'));
      const w = new Worker(new URL('./pool-worker.js', import.meta.url), { execArgv });
      w.on('message', onMessage);
      w.on('error', () => {}); // a failed thread shows up as its search's error
      w.unref();
      return w;
    },
    error: errorFromName,
  });
  const api = createApi(mod);
  /** Starts `n` search threads (default: every core) ahead of the first search; resolves once
   * they have loaded the wasm module. Optional in Node: searches start threads as needed. */
  api.startThreads = (n = os.availableParallelism?.() ?? os.cpus().length) => poolFor(mod).start(n);
  /** Opens (creating if needed) the store folder `path`. */
  api.open = (path, opts = {}) => {
    const store = api.Store.fromBackend(new NodeFsBackend(path, opts), opts);
    setStoreSource(store, { path: String(path) }); // search threads open the folder themselves
    return store;
  };
  api.Store.open = api.open;
  // The command line's read-only checks (numpack_core::verify and ::facts over the folder's
  // back end, under its shared lock); errors become the package's typed classes.
  const typed = (fn) => { try { return fn(); } catch (e) { throw convertError(e, mod); } };
  /** `[[fault, path, message]]` of every problem in the store folder `path` (empty: clean). */
  api.storeVerify = (path) => typed(() => mod.storeVerify(new NodeFsBackend(path)));
  /** What `numpack info` reports of the store folder `path` (every array, or only `name`). */
  api.storeFacts = (path, name) => typed(() => mod.storeFacts(new NodeFsBackend(path), name));
  /** `[[name, dtype, shape, sha256]]` of every array of the store folder `path`, opened read-only. */
  api.storeChecksums = (path) => typed(() => mod.storeChecksums(new NodeFsBackend(path)));
  /** {@link api.storeFacts} of a `.npkg` package's bytes. */
  api.packageFacts = (bytes, name) => typed(() => mod.packageFacts(bytes, name));
  instances.set(kernels, api);
  return api;
}

const api = createNumPack();

export const { Store, VectorSearch, VectorEngine, VectorMatrix, METRICS, kernelTier, version, open, startThreads, storeVerify, storeFacts, storeChecksums, packageFacts } = api;
export default api;
