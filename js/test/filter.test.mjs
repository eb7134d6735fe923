// Filtered search (the `filter` option of topK, multiQueryTopK and topKStored, on one thread and
// on several) against a plain-JS oracle: the engine's own per-row scores (batchCompute, bit for
// bit the search's, docs/METRICS.md) restricted to the allowed rows in JS, sorted in JS by score
// then lower index with NaN last, cut at k. All-false and all-true masks, duplicate and unordered
// indices, stored arrays with dropped rows, bad filters.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createNumPack, IndexError, ValueError, toHalfBits } from '../src/node.js';

const np = createNumPack({ kernels: 'simd128' });
const vs = new np.VectorSearch();
const SIM = new Set(['dot', 'cosine']);

function rand(seed) {
  let x = seed >>> 0;
  return () => { x = (Math.imul(x, 1664525) + 1013904223) >>> 0; return x / 2 ** 32; };
}

/** The oracle: best-first `k` of the allowed rows (a set) by `scores`. */
function oracle(scores, allowed, metric, k) {
  const rows = [...new Set(allowed)];
  const key = (s) => (Number.isNaN(s) ? Infinity : SIM.has(metric) ? -s : s);
  rows.sort((a, b) => {
    const [x, y] = [scores[a], scores[b]];
    if (Number.isNaN(x) !== Number.isNaN(y)) return Number.isNaN(x) ? 1 : -1;
    return key(x) - key(y) || a - b;
  });
  const top = rows.slice(0, k);
  return { indices: top, scores: top.map((i) => scores[i]) };
}

const plain = (r) => ({ indices: Array.from(r.indices), scores: Array.from(r.scores) });

/** Filters of `n` rows: [description, filter value, allowed rows]. */
function filters(n, r) {
  const pick = Array.from({ length: n }, () => r() < 0.3);
  const some = [];
  for (let i = 0; i < n; i++) if (pick[i]) some.push(i);
  const dups = [...some.slice().reverse(), ...some.slice(0, 5), n - 1, n - 1, 0];
  const dense = Array.from({ length: n }, () => r() < 0.9);
  const denseRows = [];
  for (let i = 0; i < n; i++) if (dense[i]) denseRows.push(i);
  // Runs crossing 64-row words and 256-row chunks (the core reads masks a word at a time).
  const edges = [];
  for (const [a, b] of [[60, 70], [250, 262], [511, 513], [n - 65, n]]) {
    for (let i = Math.max(a, 0); i < Math.min(b, n); i++) if (!edges.includes(i)) edges.push(i);
  }
  edges.sort((a, b) => a - b);
  const edgeMask = new Uint8Array(n);
  for (const i of edges) edgeMask[i] = 1;
  return [
    ['90 % mask of any non-zero bytes', Uint8Array.from(dense, (b, i) => (b ? 1 + (i % 255) : 0)), denseRows],
    ['word and chunk edges mask', edgeMask, edges],
    ['all-false mask', new Uint8Array(n), []],
    ['all-true mask', new Uint8Array(n).fill(1), [...Array(n).keys()]],
    ['boolean array mask', pick, some],
    ['Uint8Array mask', Uint8Array.from(pick, Number), some],
    ['sorted indices', some, some],
    ['unordered indices with duplicates', dups, dups],
    ['Int32Array indices', Int32Array.from(dups), dups],
    ['BigInt64Array indices', BigInt64Array.from(dups, BigInt), dups],
    ['one row', [n >> 1], [n >> 1]],
    ['empty index list', [], []],
  ];
}

test('filtered topK and multiQueryTopK equal the oracle, every metric, dtypes, 1 and 2 threads', () => {
  const r = rand(7);
  const N = 300, D = 19;
  const datasets = {
    float32: { data: Float32Array.from({ length: N * D }, () => r() * 2 - 1), shape: [N, D] },
    int8: { data: Int8Array.from({ length: N * D }, () => Math.floor(r() * 256) - 128), shape: [N, D] },
    float16: { data: Uint16Array.from({ length: N * D }, () => toHalfBits(r() * 2 - 1)), shape: [N, D], dtype: 'float16' },
  };
  // Ties: rows 10, 150 and 290 equal row 3; a NaN row.
  for (const d of Object.values(datasets)) for (const i of [10, 150, 290]) d.data.copyWithin(i * D, 3 * D, 4 * D);
  datasets.float32.data[77 * D] = NaN;
  for (const [dtype, cands] of Object.entries(datasets)) {
    const m = new np.VectorMatrix(cands);
    const queries = { ...cands, data: cands.data.slice(3 * D, 6 * D), shape: [3, D] };
    const q = { ...cands, data: cands.data.slice(3 * D, 4 * D), shape: [D] };
    for (const metric of ['dot', 'cosine', 'l2', 'l2sq']) {
      const all = vs.batchCompute(queries, m, metric);
      const rowScores = (i) => all.data.subarray(i * N, (i + 1) * N);
      for (const [what, filter, allowed] of filters(N, r)) {
        for (const k of [1, 7, 1000]) {
          for (const threads of [1, 2]) {
            const tag = `${dtype} ${metric} ${what} k ${k} threads ${threads}`;
            const want = oracle(rowScores(0), allowed, metric, k);
            assert.deepEqual(plain(vs.topK(q, m, metric, k, { filter, threads })), want, `topK ${tag}`);
            assert.deepEqual(plain(vs.topK(q, cands, metric, k, { filter, threads })), want, `topK array ${tag}`);
            const multi = vs.multiQueryTopK(queries, m, metric, k, { filter, threads });
            const kk = Math.min(k, new Set(allowed).size);
            assert.deepEqual(multi.shape, [3, kk], tag);
            for (let i = 0; i < 3; i++) {
              const got = { indices: Array.from(multi.indices.subarray(i * kk, (i + 1) * kk)), scores: Array.from(multi.scores.subarray(i * kk, (i + 1) * kk)) };
              assert.deepEqual(got, oracle(rowScores(i), allowed, metric, k), `multi query ${i} ${tag}`);
            }
          }
        }
      }
    }
    m.free();
  }
});

test('an all-true mask gives the unfiltered results', () => {
  const r = rand(3);
  const N = 200, D = 8;
  const c = { data: Float32Array.from({ length: N * D }, r), shape: [N, D] };
  const q = c.data.slice(0, D);
  for (const metric of ['dot', 'cosine', 'l2']) {
    assert.deepEqual(plain(vs.topK(q, c, metric, 9, { filter: new Uint8Array(N).fill(1) })), plain(vs.topK(q, c, metric, 9)));
  }
});

test('filtered topKStored: logical rows after drops, equal to the oracle over the loaded array', () => {
  const r = rand(11);
  const N = 1000, D = 12;
  const s = np.Store.memory();
  s.save({ e: { data: Float32Array.from({ length: N * D }, () => r() - 0.5), shape: [N, D] } });
  s.drop('e', [5, 6, 7, 500, 998]); // dropped rows: the logical rows are what is left
  const left = s.load('e');
  const n = left.shape[0];
  assert.equal(n, N - 5);
  const q = left.data.slice(40 * D, 41 * D);
  for (const metric of ['dot', 'cosine', 'l2', 'l2sq']) {
    const scores = vs.batchCompute(q, left, metric);
    for (const [what, filter, allowed] of filters(n, r)) {
      for (const batchRows of [1, 97, 100000]) {
        const got = vs.topKStored(s, 'e', q, metric, 6, { filter, batchRows });
        assert.deepEqual(plain(got), oracle(scores, allowed, metric, 6), `${metric} ${what} batch ${batchRows}`);
        assert.ok(Array.from(got.indices).every((i) => i < n), 'only logical rows');
      }
    }
    const multi = vs.topKStored(s, 'e', { data: left.data.slice(0, 2 * D), shape: [2, D] }, metric, 4, { filter: [1, 2, 3, n - 1] });
    assert.deepEqual(multi.shape, [2, 4]);
  }
  assert.throws(() => vs.topKStored(s, 'e', q, 'l2', 3, { filter: [n] }), IndexError);
  assert.throws(() => vs.topKStored(s, 'e', q, 'l2', 3, { filter: new Uint8Array(N) }), ValueError);
});

test('bad filters are typed errors', () => {
  const c = { data: new Float32Array(40), shape: [10, 4] };
  const q = [1, 2, 3, 4];
  for (const threads of [1, 2]) {
    assert.throws(() => vs.topK(q, c, 'l2', 2, { filter: [10], threads }), IndexError);
    assert.throws(() => vs.topK(q, c, 'l2', 2, { filter: [-1], threads }), IndexError);
    assert.throws(() => vs.topK(q, c, 'l2', 2, { filter: [1.5], threads }), IndexError);
    assert.throws(() => vs.topK(q, c, 'l2', 2, { filter: new Uint8Array(9), threads }), ValueError);
    assert.throws(() => vs.topK(q, c, 'l2', 2, { filter: [true, 1], threads }), ValueError);
    assert.throws(() => vs.topK(q, c, 'l2', 2, { filter: 'rows', threads }), ValueError);
    assert.throws(() => vs.multiQueryTopK(q, c, 'l2', 2, { filter: [11], threads }), IndexError);
  }
});
