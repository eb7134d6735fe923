// Browser (and bundler) entry: instantiates the wasm module with top-level await, choosing the
// simd128 build when the engine validates SIMD and the scalar build otherwise. Synchronous API
// on the thread that imports it; from a page's main thread prefer `numpack/worker`, which runs
// the same calls in a dedicated worker (and is the way to use OPFS from a page).

import initSimd, * as simdBuild from '../dist/wasm/numpack_wasm.js';
import initScalar, * as scalarBuild from '../dist/wasm-scalar/numpack_wasm.js';
import { createApi } from './api.js';
import { errorFromName } from './errors.js';
import { poolFor, setThreadEnv } from './pool.js';

export * from './errors.js';
export { DTYPE_NAMES, HAS_FLOAT16ARRAY, toHalfBits, fromHalfBits } from './dtypes.js';

// A minimal module whose one function uses a v128 instruction: valid only where SIMD is.
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);

/** Whether this engine runs WebAssembly SIMD (simd128). */
export const simdSupported = (() => { try { return WebAssembly.validate(SIMD_PROBE); } catch { return false; } })();

const instances = new Map();

/** The API over the `simd128` or `scalar` build (each instantiated once). */
export async function createNumPack(options = {}) {
  const kernels = options.kernels ?? (simdSupported ? 'simd128' : 'scalar');
  if (instances.has(kernels)) return instances.get(kernels);
  if (kernels !== 'scalar' && kernels !== 'simd128') throw new Error(`unknown kernels ${kernels}`);
  const [init, mod] = kernels === 'scalar' ? [initScalar, scalarBuild] : [initSimd, simdBuild];
  await init(options.wasmUrl ? { module_or_path: options.wasmUrl } : undefined);
  // Search threads: Web Workers running the same build. A search may block on them only inside
  // a cross-origin isolated worker (SharedArrayBuffer and Atomics.wait); a page's main thread
  // searches on one thread. Nested workers may not load while their parent blocks, so only
  // threads already started by `await startThreads(n)` take part.
  setThreadEnv(mod, {
    kernels,
    defaultThreads: () => navigator.hardwareConcurrency || 1,
    canBlock: () => globalThis.crossOriginIsolated === true && typeof globalThis.WorkerGlobalScope === 'function'
      && globalThis instanceof globalThis.WorkerGlobalScope,
    startsWhileBlocked: false,
    spawn: (onMessage) => {
      const w = new Worker(new URL('./pool-worker.js', import.meta.url), { type: 'module' });
      w.addEventListener('message', (ev) => onMessage(ev.data));
      return w;
    },
    error: errorFromName,
  });
  const api = createApi(mod);
  /** Starts `n` search threads (default: every core) and resolves once they are ready; until
   * then, and wherever this thread may not block, searches run on one thread. */
  api.startThreads = (n = navigator.hardwareConcurrency || 1) => poolFor(mod).start(n);
  instances.set(kernels, api);
  return api;
}

const api = await createNumPack();

export const { Store, VectorSearch, VectorEngine, VectorMatrix, METRICS, kernelTier, version, startThreads } = api;
export default api;
