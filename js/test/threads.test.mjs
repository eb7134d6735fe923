// Multi-threaded search: every metric and dtype on 2 and 3 threads equals one thread bit for bit
// (topK and multiQueryTopK, uploaded matrices and plain arrays, ties and NaN rows included, both
// wasm builds), as do fewer rows than threads, k beyond the rows and filtered searches on up to
// 4 threads; the pool is created once and reused; a script that searches exits by itself.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createNumPack, ValueError, toHalfBits } from '../src/node.js';

const builds = { simd128: createNumPack({ kernels: 'simd128' }), scalar: createNumPack({ kernels: 'scalar' }) };

function rand(seed) {
  let x = seed >>> 0;
  return () => { x = (Math.imul(x, 1664525) + 1013904223) >>> 0; return x / 2 ** 32; };
}

/** `n` rows × `dim` of `dtype`, with a few exact duplicate rows (ties) and, for floats, a NaN row. */
function rowsOf(dtype, n, dim, seed) {
  const r = rand(seed);
  const f = () => r() * 2 - 1;
  const len = n * dim;
  let data;
  switch (dtype) {
    case 'float32': data = Float32Array.from({ length: len }, f); break;
    case 'float64': data = Float64Array.from({ length: len }, f); break;
    case 'float16': data = Uint16Array.from({ length: len }, () => toHalfBits(f())); break;
    case 'bfloat16': data = Uint16Array.from({ length: len }, () => new Uint16Array(Float32Array.of(f()).buffer)[1]); break;
    case 'int8': data = Int8Array.from({ length: len }, () => Math.floor(r() * 256) - 128); break;
    case 'int32': data = Int32Array.from({ length: len }, () => Math.floor(r() * 2000) - 1000); break;
    case 'uint8': data = Uint8Array.from({ length: len }, () => Math.floor(r() * 256)); break;
    case 'positive32': data = Float32Array.from({ length: len }, () => r() + 0.01); break;
    default: throw new Error(dtype);
  }
  // Ties across the thread boundaries: rows 1, n/2 and n-2 equal row 0.
  for (const i of [1, n >> 1, n - 2]) data.copyWithin(i * dim, 0, dim);
  if (dtype === 'float32' || dtype === 'float64') data[(n - 3) * dim] = NaN;
  return { data, shape: [n, dim], ...(dtype === 'bfloat16' || dtype === 'float16' ? { dtype } : {}) };
}

const CASES = [
  ['float32', ['dot', 'cosine', 'l2', 'l2sq']], ['float64', ['dot', 'cosine', 'l2', 'l2sq']],
  ['float16', ['dot', 'cosine', 'l2', 'l2sq', 'kl', 'js']], ['bfloat16', ['dot', 'cosine', 'l2', 'l2sq']],
  ['int8', ['dot', 'cosine', 'l2', 'l2sq']], ['int32', ['dot', 'l2']], ['uint8', ['hamming', 'jaccard']],
  ['positive32', ['kl', 'js']],
];

const bits = (r) => ({ indices: Array.from(r.indices), scores: Array.from(r.scores, (s) => (Number.isNaN(s) ? 'NaN' : Object.is(s, -0) ? '-0' : s)), shape: r.shape });

for (const [name, np] of Object.entries(builds)) {
  test(`[${name}] threaded top-k equals one thread bit for bit, every metric and dtype`, () => {
    const vs = new np.VectorSearch();
    let seed = 1;
    for (const [dtype, metrics] of CASES) {
      for (const dim of [1, 13, 128]) {
        const n = 97;
        const cands = rowsOf(dtype, n, dim, seed++);
        const queries = rowsOf(dtype, 4, dim, seed++);
        const q1 = { ...queries, data: queries.data.subarray(dim, 2 * dim), shape: [dim] };
        const m = new np.VectorMatrix(cands);
        try {
          for (const metric of metrics) {
            for (const k of [1, 10, 200]) {
              const one = bits(vs.topK(q1, m, metric, k, { threads: 1 }));
              const oneQ = bits(vs.multiQueryTopK(queries, m, metric, k, { threads: 1 }));
              for (const threads of [2, 3]) {
                const what = `${dtype} ${metric} dim ${dim} k ${k} threads ${threads}`;
                assert.deepEqual(bits(vs.topK(q1, m, metric, k, { threads })), one, `topK matrix ${what}`);
                assert.deepEqual(bits(vs.topK(q1, cands, metric, k, { threads })), one, `topK array ${what}`);
                assert.deepEqual(bits(vs.multiQueryTopK(queries, m, metric, k, { threads })), oneQ, `multi matrix ${what}`);
                assert.deepEqual(bits(vs.multiQueryTopK(queries, cands, metric, k, { threads })), oneQ, `multi array ${what}`);
              }
            }
          }
        } finally {
          m.free();
        }
      }
    }
  });
}

test('fewer rows than threads, k beyond the rows, and filters on 2–4 threads equal one thread', () => {
  const kinds = [['float32', ['dot', 'cosine', 'l2', 'l2sq']], ['float16', ['cosine', 'l2']], ['int8', ['dot', 'l2']], ['uint8', ['hamming']]];
  for (const [name, np] of Object.entries(builds)) {
    const vs = new np.VectorSearch();
    let seed = 500;
    for (const [dtype, metrics] of kinds) {
      const dim = 9;
      const six = rowsOf(dtype, 6, dim, seed++); // ties and (floats) a NaN row among the first rows
      const queries = rowsOf(dtype, 3, dim, seed++);
      const q1 = { ...queries, data: queries.data.subarray(0, dim), shape: [dim] };
      for (const n of [1, 2, 3, 5]) {
        const cands = { ...six, data: six.data.slice(0, n * dim), shape: [n, dim] };
        const m = new np.VectorMatrix(cands);
        try {
          for (const filter of [undefined, [n - 1], Uint8Array.from({ length: n }, (_, i) => i % 2)]) {
            for (const metric of metrics) {
              for (const k of [1, n, n + 5]) {
                const opts = (threads) => ({ threads, filter });
                const one = bits(vs.topK(q1, m, metric, k, opts(1)));
                const oneQ = bits(vs.multiQueryTopK(queries, m, metric, k, opts(1)));
                for (const threads of [2, 3, 4]) {
                  const what = `[${name}] ${dtype} ${metric} rows ${n} k ${k} threads ${threads} filter ${filter ? Array.from(filter) : 'none'}`;
                  assert.deepEqual(bits(vs.topK(q1, m, metric, k, opts(threads))), one, `topK matrix ${what}`);
                  assert.deepEqual(bits(vs.topK(q1, cands, metric, k, opts(threads))), one, `topK array ${what}`);
                  assert.deepEqual(bits(vs.multiQueryTopK(queries, m, metric, k, opts(threads))), oneQ, `multi matrix ${what}`);
                  assert.deepEqual(bits(vs.multiQueryTopK(queries, cands, metric, k, opts(threads))), oneQ, `multi array ${what}`);
                }
              }
            }
          }
        } finally {
          m.free();
        }
      }
    }
  }
});

test('a float64 query against float32 rows meets in the same type on every thread', () => {
  const np = builds.simd128, vs = new np.VectorSearch();
  const cands = rowsOf('float32', 50, 8, 99);
  for (const q of [[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8], [1e300, 0, 0, 0, 0, 0, 0, 1]]) {
    for (const metric of ['dot', 'l2']) {
      assert.deepEqual(bits(vs.topK(q, cands, metric, 5, { threads: 2 })), bits(vs.topK(q, cands, metric, 5, { threads: 1 })));
    }
  }
});

test('the pool is created once and reused; a matrix is copied to the threads once', () => {
  const np = builds.simd128, vs = new np.VectorSearch();
  const cands = rowsOf('float32', 64, 16, 5);
  const m = new np.VectorMatrix(cands);
  vs.topK(cands.data.subarray(0, 16), m, 'dot', 3, { threads: 2 });
  const started = vs.threadsStarted();
  assert.ok(started >= 1, 'a 2-thread search runs on this thread and one pool thread');
  for (let i = 0; i < 20; i++) vs.topK(cands.data.subarray(16 * i, 16 * i + 16), m, 'l2', 3, { threads: 2 });
  assert.equal(vs.threadsStarted(), started, 'no new threads for later searches');
  // Another VectorSearch of the same build shares the pool.
  new np.VectorSearch().multiQueryTopK({ data: cands.data.subarray(0, 32), shape: [2, 16] }, m, 'cosine', 4, { threads: 2 });
  assert.equal(vs.threadsStarted(), started);
  m.free();
  assert.throws(() => vs.topK(cands.data.subarray(0, 16), m, 'dot', 3, { threads: 2 }), ValueError);
});

test('threads: bad values and errors from the threads are typed', () => {
  const vs = new builds.simd128.VectorSearch();
  const cands = rowsOf('float32', 10, 4, 3);
  for (const threads of [0, -1, 1.5, 'two']) {
    assert.throws(() => vs.topK([1, 2, 3, 4], cands, 'dot', 2, { threads }), ValueError, String(threads));
  }
  assert.throws(() => vs.topK([1, 2, 3], cands, 'dot', 2, { threads: 2 }), ValueError);
  assert.throws(() => vs.topK([1, 2, 3, 4], cands, 'nope', 2, { threads: 2 }), ValueError);
  assert.throws(() => vs.topK({ data: new Float32Array(8), shape: [2, 4] }, cands, 'dot', 2, { threads: 2 }), ValueError);
});

test('a script that searches on threads exits by itself', () => {
  const src = new URL('../src/node.js', import.meta.url).href;
  const script = `import { VectorSearch } from ${JSON.stringify(src)};
    const data = Float32Array.from({ length: 4000 }, (_, i) => Math.sin(i));
    const r = new VectorSearch().topK(data.subarray(0, 8), { data, shape: [500, 8] }, 'l2', 3, { threads: 2 });
    console.log(r.indices[0]);`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.error, undefined, 'did not exit within 30 s');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), '0');
});

test('topKStored on threads (each thread reads its rows from the folder) equals one thread', async () => {
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'np-threads-'));
  try {
    for (const [name, np] of Object.entries(builds)) {
      const vs = new np.VectorSearch();
      const s = np.open(path.join(dir, name));
      const N = 2003, D = 24;
      const e = rowsOf('float32', N, D, 42);
      s.save({ e, h: rowsOf('float16', N, D, 43), i: rowsOf('int8', N, D, 44) });
      s.drop('e', [0, 1, 999, 2001]); // logical rows are what is left
      for (const arr of ['e', 'h', 'i']) {
        const left = s.load(arr);
        const q = left.data.slice(5 * D, 6 * D);
        const qs = { data: left.data.slice(0, 3 * D), shape: [3, D], ...(arr === 'h' ? { dtype: 'float16' } : {}) };
        const q1 = arr === 'h' ? { data: q, shape: [D], dtype: 'float16' } : q;
        for (const metric of ['dot', 'cosine', 'l2', 'l2sq']) {
          for (const filter of [undefined, [3, 1500, 7, 7, 1998], Uint8Array.from({ length: left.shape[0] }, (_, i) => i % 5 === 0)]) {
            for (const batchRows of [100, 10000]) {
              const what = `[${name}] ${arr} ${metric} batch ${batchRows} filter ${filter ? filter.length : 'none'}`;
              const one = bits(vs.topKStored(s, arr, q1, metric, 9, { threads: 1, filter, batchRows }));
              assert.deepEqual(bits(vs.topKStored(s, arr, q1, metric, 9, { threads: 2, filter, batchRows })), one, what);
              const oneQ = bits(vs.topKStored(s, arr, qs, metric, 4, { threads: 1, filter, batchRows }));
              assert.deepEqual(bits(vs.topKStored(s, arr, qs, metric, 4, { threads: 3, filter, batchRows })), oneQ, `multi ${what}`);
            }
          }
        }
      }
      assert.throws(() => vs.topKStored(s, 'e', [1, 2], 'l2', 3, { threads: 2 }), ValueError);
      assert.throws(() => vs.topKStored(s, 'e', new Float32Array(D), 'l2', 3, { threads: 2, filter: [N] }), Error);
      s.close();
      // A store in memory has no folder for the threads: one thread, same results.
      const m = np.Store.memory();
      m.save({ e });
      assert.deepEqual(bits(vs.topKStored(m, 'e', e.data.slice(0, D), 'l2', 5, { threads: 2 })), bits(vs.topKStored(m, 'e', e.data.slice(0, D), 'l2', 5)));
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
