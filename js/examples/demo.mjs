// Node demo: opens a NumPack store folder (by default the one the Python demo wrote, with a
// float32 `embeddings` array), lists it, and runs vector searches on it — in memory and
// streamed over the stored array. With no store at the path, it creates one first.
// Usage: node js/examples/demo.mjs [store-folder]

import fs from 'node:fs';
import { open, VectorSearch, kernelTier, version } from '../src/node.js';

const path = process.argv[2] ?? 'bench-out/demo.npk';
const fresh = !fs.existsSync(`${path}/metadata.npkm`);
const store = open(path);
if (fresh || !store.has('embeddings')) {
  console.log(`no store with an 'embeddings' array at ${path}: creating one (1000 × 64 float32)`);
  const rows = 1000, dim = 64;
  const data = new Float32Array(rows * dim).map((_, i) => Math.sin(i * 0.731) + Math.cos(i * 0.017));
  store.save({ embeddings: { data, shape: [rows, dim] }, ids: BigInt64Array.from({ length: rows }, (_, i) => BigInt(1000 + i)) });
}
console.log(`numpack ${version()} (wasm, ${kernelTier()} kernels), store ${path}`);
for (const info of store.infos()) console.log(`  ${info.name}: ${info.dtype} [${info.shape.join(', ')}]`);

const emb = store.load('embeddings');
const [rows, dim] = emb.shape;
const queryRow = Math.min(42, rows - 1);
const query = store.getitem('embeddings', queryRow).data;
const vs = new VectorSearch();
console.log(`query = row ${queryRow} of embeddings (${rows} × ${dim} ${emb.dtype})`);
for (const metric of ['cosine', 'l2', 'dot']) {
  const t0 = performance.now();
  const r = vs.topK(query, emb, metric, 5);
  const ms = performance.now() - t0;
  const fmt = [...r.indices].map((i, j) => `${i} (${r.scores[j].toFixed(4)})`).join(', ');
  console.log(`  top-5 ${metric.padEnd(6)} ${fmt}   [${ms.toFixed(2)} ms]`);
}
const streamed = vs.topKStored(store, 'embeddings', query, 'cosine', 5, { batchRows: 256 });
console.log(`  streamed top-5 cosine over the stored array (256-row batches): ${[...streamed.indices].join(', ')}`);
store.close();
