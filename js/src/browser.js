// Browser (and bundler) entry: instantiates the wasm module with top-level await, choosing the
// simd128 build when the engine validates SIMD and the scalar build otherwise. Synchronous API
// on the thread that imports it; from a page's main thread prefer `numpack/worker`, which runs
// the same calls in a dedicated worker (and is the way to use OPFS from a page).

import initSimd, * as simdBuild from '../dist/wasm/numpack_wasm.js';
import initScalar, * as scalarBuild from '../dist/wasm-scalar/numpack_wasm.js';
import { createApi } from './api.js';

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
  const api = createApi(mod);
  instances.set(kernels, api);
  return api;
}

const api = await createNumPack();

export const { Store, VectorSearch, VectorEngine, VectorMatrix, METRICS, kernelTier, version } = api;
export default api;
