// Node.js entry: loads the wasm module synchronously from the package folder and adds
// `open(path)` for store folders on disk. `NUMPACK_WASM=scalar` selects the build without simd128.

import { readFileSync } from 'node:fs';
import * as simdBuild from '../dist/wasm/numpack_wasm.js';
import * as scalarBuild from '../dist/wasm-scalar/numpack_wasm.js';
import { createApi } from './api.js';
import { NodeFsBackend, useLockProtocol } from './node-fs.js';
import { ValueError } from './errors.js';

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
  const api = createApi(mod);
  /** Opens (creating if needed) the store folder `path`. */
  api.open = (path, opts = {}) => api.Store.fromBackend(new NodeFsBackend(path, opts), opts);
  api.Store.open = api.open;
  instances.set(kernels, api);
  return api;
}

const api = createNumPack();

export const { Store, VectorSearch, VectorEngine, VectorMatrix, METRICS, kernelTier, version, open } = api;
export default api;
