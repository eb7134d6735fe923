// Vector search: simd128 and scalar builds against each other (bit-identical by design) and
// against a plain-JS float64 reference, for every metric and dtype; top-k variants; streaming
// over a stored array with dropped rows; errors.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createNumPack, DTypeError, ValueError, NotFoundError, toHalfBits, fromHalfBits } from '../src/node.js';

const simd = createNumPack({ kernels: 'simd128' });
const scalar = createNumPack({ kernels: 'scalar' });
const vs = new simd.VectorSearch();
const vsScalar = new scalar.VectorSearch();

/** Plain-JS float64 reference of each metric (docs/METRICS.md). */
const popcount = (x) => { let c = 0; while (x) { c += x & 1; x >>>= 1; } return c; };
const REF = {
  dot: (a, b) => a.reduce((s, x, i) => s + x * b[i], 0),
  cosine: (a, b) => {
    const ab = REF.dot(a, b), aa = REF.dot(a, a), bb = REF.dot(b, b);
    return aa === 0 || bb === 0 ? 0 : Math.max(-1, Math.min(1, ab / Math.sqrt(aa * bb)));
  },
  l2sq: (a, b) => a.reduce((s, x, i) => s + (x - b[i]) ** 2, 0),
  l2: (a, b) => Math.sqrt(REF.l2sq(a, b)),
  hamming: (a, b) => a.reduce((s, x, i) => s + popcount(x ^ b[i]), 0),
  jaccard: (a, b) => {
    let inter = 0, uni = 0;
    a.forEach((x, i) => { inter += popcount(x & b[i]); uni += popcount(x | b[i]); });
    return uni === 0 ? 0 : 1 - inter / uni;
  },
};

function rand(seed) {
  let x = seed >>> 0;
  return () => { x = (Math.imul(x, 1664525) + 1013904223) >>> 0; return x / 2 ** 32; };
}

function vectors(dtype, n, r, positive = false) {
  const f = () => (positive ? r() : r() * 2 - 1);
  switch (dtype) {
    case 'float32': return Float32Array.from({ length: n }, f);
    case 'float64': return Float64Array.from({ length: n }, f);
    case 'float16': return Uint16Array.from({ length: n }, () => toHalfBits(f()));
    case 'int8': return Int8Array.from({ length: n }, () => Math.floor(r() * 256) - 128);
    case 'uint8': return Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
    case 'int32': return Int32Array.from({ length: n }, () => Math.floor(r() * 2000) - 1000);
    default: throw new Error(dtype);
  }
}
const asNumbers = (dtype, a) => (dtype === 'float16' ? Array.from(a, fromHalfBits) : Array.from(a, Number));

const CASES = {
  float32: ['dot', 'cosine', 'l2', 'l2sq', 'kl', 'js'],
  float64: ['dot', 'cosine', 'l2', 'l2sq', 'kl', 'js'],
  float16: ['dot', 'cosine', 'l2', 'l2sq', 'kl', 'js'],
  int8: ['dot', 'cosine', 'l2', 'l2sq'],
  int32: ['dot', 'cosine', 'l2', 'l2sq'],
  uint8: ['hamming', 'jaccard'],
};

test('kernels are the ones compiled in', () => {
  assert.equal(vs.capabilities(), 'wasm: simd128');
  assert.equal(vsScalar.capabilities(), 'wasm: scalar');
});

for (const [dtype, metrics] of Object.entries(CASES)) {
  test(`parity ${dtype}: simd128 == scalar bit for bit, both ≈ JS reference, every length 0..70`, () => {
    const r = rand(dtype.length * 977);
    for (const metric of metrics) {
      const positive = metric === 'kl' || metric === 'js';
      for (let len = 1; len <= 70; len++) {
        const a = vectors(dtype, len, r, positive), b = vectors(dtype, len, r, positive);
        const x = vs.computeMetric({ data: a, dtype }, { data: b, dtype }, metric);
        const y = vsScalar.computeMetric({ data: a, dtype }, { data: b, dtype }, metric);
        assert.ok(Object.is(x, y) || (Number.isNaN(x) && Number.isNaN(y)), `${dtype} ${metric} len ${len}: ${x} vs ${y}`);
        if (REF[metric]) {
          const want = REF[metric](asNumbers(dtype, a), asNumbers(dtype, b));
          const tol = (dtype === 'float64' || dtype === 'int8' || dtype === 'int32' || dtype === 'uint8' ? 1e-9 : 2e-5) * Math.max(1, Math.abs(want), len);
          assert.ok(Math.abs(x - want) <= tol, `${dtype} ${metric} len ${len}: ${x} vs reference ${want}`);
        }
      }
    }
  });
}

test('kl and js known values', () => {
  assert.ok(Math.abs(vs.computeMetric([0.5, 0.5], [0.9, 0.1], 'kl') - 0.5108256237659907) < 1e-12);
  const js = vs.computeMetric([1, 0], [0, 1], 'js');
  assert.ok(Math.abs(js - Math.sqrt(Math.LN2)) < 1e-12, `js ${js}`);
  assert.equal(vs.computeMetric(new Float32Array([0, 0]), new Float32Array([1, 2]), 'cosine'), 0);
});

test('topK / multiQueryTopK / batchCompute agree with a brute-force JS sort (ties by lower index)', () => {
  const r = rand(42);
  const N = 777, D = 37;
  const c = vectors('float32', N * D, r);
  c.set(c.subarray(0, D), 10 * D); // row 10 duplicates row 0: a tie
  const cand = { data: c, shape: [N, D] };
  const qs = vectors('float32', 3 * D, r);
  qs.set(c.subarray(0, D), 0);
  for (const metric of ['dot', 'cosine', 'l2', 'l2sq']) {
    const sim = metric === 'dot' || metric === 'cosine';
    const multi = vs.multiQueryTopK({ data: qs, shape: [3, D] }, cand, metric, 5);
    assert.deepEqual(multi.shape, [3, 5]);
    const all = vs.batchCompute({ data: qs, shape: [3, D] }, cand, metric);
    assert.deepEqual(all.shape, [3, N]);
    for (let qi = 0; qi < 3; qi++) {
      const q = qs.subarray(qi * D, (qi + 1) * D);
      const scores = vs.batchCompute(q, cand, metric);
      const order = [...scores.keys()].sort((i, j) => (sim ? scores[j] - scores[i] : scores[i] - scores[j]) || i - j).slice(0, 5);
      const one = vs.topK(q, cand, metric, 5);
      assert.deepEqual([...one.indices], order, `${metric} q${qi}`);
      assert.deepEqual([...multi.indices.subarray(qi * 5, qi * 5 + 5)], order, `${metric} multi q${qi}`);
      for (let j = 0; j < N; j++) assert.equal(all.data[qi * N + j], scores[j]);
      const ref = REF[metric](Array.from(q), Array.from(c.subarray(order[0] * D, order[0] * D + D)));
      assert.ok(Math.abs(one.scores[0] - ref) < 1e-4 * Math.max(1, Math.abs(ref)));
    }
  }
  assert.deepEqual([...vs.topK(c.subarray(0, D), cand, 'l2', 2).indices], [0, 10]);
  assert.equal(vs.topK(c.subarray(0, D), cand, 'l2', 5000).indices.length, N); // k clipped
});

test('VectorMatrix uploads once and is reused', () => {
  const r = rand(7);
  const c = new simd.VectorMatrix({ data: vectors('float32', 100 * 8, r), shape: [100, 8] });
  assert.equal(c.rows, 100); assert.equal(c.dim, 8); assert.equal(c.dtype, 'float32');
  const q = vectors('float32', 8, r);
  const a = vs.topK(q, c, 'cosine', 3), b = vs.topK(Array.from(q), c, 'cosine', 3);
  assert.deepEqual([...a.indices], [...b.indices]);
  c.free();
  assert.throws(() => c.rows, ValueError);
});

test('top-k streamed over a stored array equals in-memory top-k, dropped rows skipped', () => {
  const r = rand(99);
  const N = 5000, D = 24;
  const e = vectors('float32', N * D, r);
  const s = simd.Store.memory();
  s.save({ e: { data: e, shape: [N, D] } });
  const q = vectors('float32', D, r);
  for (const metric of ['dot', 'cosine', 'l2', 'l2sq']) {
    const mem = vs.topK(q, { data: e, shape: [N, D] }, metric, 10);
    for (const batchRows of [1, 333, 100000]) {
      const st = vs.topKStored(s, 'e', q, metric, 10, { batchRows });
      assert.deepEqual([...st.indices], [...mem.indices], `${metric} batch ${batchRows}`);
      assert.deepEqual([...st.scores], [...mem.scores]);
    }
    const multi = vs.topKStored(s, 'e', { data: e.subarray(0, 4 * D), shape: [4, D] }, metric, 3);
    assert.deepEqual(multi.shape, [4, 3]);
  }
  // After dropping rows, indices are logical rows of what is left.
  s.drop('e', { start: 0, stop: 100 });
  const after = vs.topKStored(s, 'e', e.subarray(150 * D, 151 * D), 'l2', 1);
  assert.equal(after.indices[0], 50);
  // Other dtypes are searched in their own type (int16 widened to float64).
  s.save({ i: { data: Int16Array.from({ length: 40 }, (_, i) => i), shape: [10, 4] } });
  assert.equal(vs.topKStored(s, 'i', [8, 9, 10, 11], 'l2', 1).indices[0], 2);
});

test('vector errors', () => {
  const c = { data: new Float32Array(8), shape: [2, 4] };
  assert.throws(() => vs.topK(new Float32Array(3), c, 'l2', 1), ValueError);
  assert.throws(() => vs.topK(new Float32Array(4), c, 'nope', 1), ValueError);
  assert.throws(() => vs.topK(new Float32Array(4), c, 'l2', 0), ValueError);
  assert.throws(() => vs.topK(new Float32Array(4), c, 'hamming', 1), DTypeError);
  assert.throws(() => vs.computeMetric(new Uint8Array(4), new Uint8Array(4), 'cosine'), DTypeError);
  assert.throws(() => vs.computeMetric({ data: new Uint8Array(4), dtype: 'bool' }, new Uint8Array(4), 'hamming'), DTypeError);
  const s = simd.Store.memory();
  assert.throws(() => vs.topKStored(s, 'missing', [1], 'l2', 1), NotFoundError);
  s.save({ flat: new Float32Array(4) });
  assert.throws(() => vs.topKStored(s, 'flat', [1], 'l2', 1), ValueError);
});

test('cosine over a reused VectorMatrix (cached row norms) equals the float64 reference, zero rows included', () => {
  const r = rand(2024);
  for (const [dtype, D] of [['float32', 7], ['float32', 37], ['float32', 128], ['float32', 300], ['float64', 45], ['float16', 64], ['int8', 130]]) {
    const N = 300;
    const c = vectors(dtype, N * D, r);
    c.fill(0, 3 * D, 4 * D); // zero rows → 0.0
    c.fill(0, 250 * D, 251 * D);
    c.set(c.subarray(5 * D, 6 * D), 9 * D); // a duplicate: a tie, lower index first
    const rowsNum = asNumbers(dtype, c);
    const row = (i) => rowsNum.slice(i * D, (i + 1) * D);
    const m = new simd.VectorMatrix({ data: c, shape: [N, D], dtype });
    const mScalar = new scalar.VectorMatrix({ data: c, shape: [N, D], dtype });
    const tol = (dtype === 'float64' || dtype === 'int8' ? 1e-12 : 2e-6) * Math.max(1, D / 64);
    const queries = [vectors(dtype, D, r), c.slice(5 * D, 6 * D), vectors(dtype, D, r), new c.constructor(D)];
    for (let round = 0; round < 2; round++) { // the second round reuses the cached norms
      for (const q of queries) {
        const qn = asNumbers(dtype, q);
        const ref = Array.from({ length: N }, (_, i) => REF.cosine(qn, row(i)));
        const all = vs.batchCompute({ data: q, dtype }, m, 'cosine');
        ref.forEach((want, i) => assert.ok(Math.abs(all[i] - want) <= tol, `${dtype} D${D} row ${i}: ${all[i]} vs ${want}`));
        assert.equal(all[3], 0); assert.equal(all[250], 0);
        for (const k of [1, 10, N + 5]) {
          const got = vs.topK({ data: q, dtype }, m, 'cosine', k);
          const kk = Math.min(k, N);
          assert.equal(got.indices.length, kk);
          // Scores are the pair kernel's bit for bit, equal the scalar build and a fresh upload.
          got.indices.forEach((i, j) => {
            assert.equal(got.scores[j], all[i]);
            assert.ok(got.scores[j] >= -1 && got.scores[j] <= 1);
            if (j < 3) assert.ok(Object.is(got.scores[j], vs.computeMetric({ data: q, dtype }, { data: c.subarray(i * D, (i + 1) * D), dtype }, 'cosine')));
            if (j > 0) assert.ok(got.scores[j - 1] > got.scores[j] || (got.scores[j - 1] === got.scores[j] && got.indices[j - 1] < i));
          });
          const want = [...ref.keys()].sort((i, j) => ref[j] - ref[i] || i - j).slice(0, kk);
          got.indices.forEach((i, j) => assert.ok(Math.abs(ref[i] - ref[want[j]]) <= 2 * tol, `${dtype} D${D} rank ${j}`));
          const fresh = vs.topK({ data: q, dtype }, { data: c, shape: [N, D], dtype }, 'cosine', k);
          assert.deepEqual([...fresh.indices], [...got.indices]);
          assert.deepEqual([...fresh.scores], [...got.scores]);
          const sc = vsScalar.topK({ data: q, dtype }, mScalar, 'cosine', k);
          assert.deepEqual([...sc.indices], [...got.indices]);
          assert.deepEqual([...sc.scores], [...got.scores]);
        }
        if (q === queries[1]) assert.deepEqual([...vs.topK({ data: q, dtype }, m, 'cosine', 2).indices], [5, 9]);
        if (q === queries[3]) assert.deepEqual([...vs.topK({ data: q, dtype }, m, 'cosine', 3).scores], [0, 0, 0]);
      }
      vs.topK({ data: queries[0], dtype }, m, 'dot', 3); // other metrics in between leave the cache alone
    }
    m.free(); mScalar.free();
  }
});
