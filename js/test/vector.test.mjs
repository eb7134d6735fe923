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

// ---- issue 9 items 1 and 2: what a store returns searches correctly; one mixed-dtype rule ----

/** bfloat16 bits → number (the top half of a float32). */
const fromBf16Bits = (b) => new Float32Array(Uint32Array.of(b << 16).buffer)[0];
const toBf16Bits = (x) => { // nearest even, through float32 (ml_dtypes' cast)
  const u = new Uint32Array(Float32Array.of(x).buffer)[0];
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
};

test('a Uint16Array query against float16 / bfloat16 candidates is their bits, in every call', () => {
  const r = rand(316);
  const N = 40, D = 8;
  for (const [dtype, toBits, fromBits] of [['float16', toHalfBits, fromHalfBits], ['bfloat16', toBf16Bits, fromBf16Bits]]) {
    const bits = Uint16Array.from({ length: N * D }, () => toBits(r() * 4 - 2));
    const vals = Array.from(bits, fromBits);
    const row = (i) => vals.slice(i * D, (i + 1) * D);
    const cand = { data: bits, shape: [N, D], dtype };
    const m = new simd.VectorMatrix(cand);
    assert.equal(m.dtype, dtype);
    const q = bits.slice(2 * D, 3 * D); // a bare Uint16Array: row 2 as the store returns it
    for (const c of [cand, m]) {
      const top = vs.topK(q, c, 'l2', 4);
      assert.equal(top.indices[0], 2); assert.equal(top.scores[0], 0);
      const all = vs.batchCompute(q, c, 'dot');
      all.forEach((s, i) => assert.ok(Math.abs(s - REF.dot(row(2), row(i))) <= 1e-5 * Math.max(1, Math.abs(s)), `${dtype} dot row ${i}`));
      const multi = vs.multiQueryTopK({ data: bits.slice(0, 3 * D), shape: [3, D] }, c, 'l2', 1);
      assert.deepEqual([...multi.indices], [0, 1, 2]);
      assert.deepEqual([...multi.scores], [0, 0, 0]);
    }
    assert.equal(vs.computeMetric(q, { data: bits.slice(2 * D, 3 * D), dtype }, 'l2'), 0);
    assert.ok(Math.abs(vs.computeMetric(q, { data: bits.slice(0, D), dtype }, 'l2') - REF.l2(row(2), row(0))) < 1e-5);
    m.free();
  }
  // The store round trip of the issue: getitem(...).data (a Uint16Array on Node 20) passed back.
  const s = simd.Store.memory();
  const h = Uint16Array.from({ length: N * D }, () => toHalfBits(r() * 200 - 100));
  s.save({ h: { data: h, shape: [N, D], dtype: 'float16' } });
  const got = s.getitem('h', 2).data;
  for (const query of [got, s.getitem('h', 2)]) {
    const st = vs.topKStored(s, 'h', query, 'l2', 4);
    assert.equal(st.indices[0], 2); assert.equal(st.scores[0], 0);
    const mem = vs.topK(query, s.load('h'), 'l2', 4);
    assert.deepEqual([...mem.indices], [...st.indices]);
    assert.deepEqual([...mem.scores], [...st.scores]);
  }
  // A Uint16Array against uint16 (or no) candidates stays uint16 integers.
  s.save({ u: { data: Uint16Array.from({ length: 8 }, (_, i) => i * 1000), shape: [4, 2] } });
  assert.deepEqual([...vs.topKStored(s, 'u', Uint16Array.of(2000, 3000), 'l2', 1).scores], [0]);
});

/** The documented rule (docs/METRICS.md "Mixed dtypes"), written again as a model. */
function modelType(queryType, candType, values) {
  const own = (t) => (['int16', 'int32', 'int64', 'uint16', 'uint32', 'uint64'].includes(t) ? 'float64' : t);
  const q = own(queryType), c = own(candType);
  if (q === c || c === 'float64') return c;
  const fits = {
    float32: (x) => !Number.isFinite(x) || Number.isFinite(Math.fround(x)),
    float16: (x) => !Number.isFinite(x) || Number.isFinite(fromHalfBits(toHalfBits(x))),
    int8: (x) => Number.isInteger(x) && x >= -128 && x <= 127,
    uint8: (x) => Number.isInteger(x) && x >= 0 && x <= 255,
  }[c];
  return values.every(fits) ? c : 'float64';
}

test('mixed query / candidate dtypes meet by the one documented rule (issue 9 item 2)', () => {
  const c8 = { data: Int8Array.from([1, 2, -3, 4, 100, 100, -128, 127]), shape: [4, 2] };
  // Expected values: the float64 dot products (the numbers; Python gives the same).
  const t = vs.topK([0.4, 0.6], c8, 'dot', 4);
  assert.deepEqual([...t.indices], [2, 3, 0, 1]);
  const want = [100, 25, 1.6, 1.2];
  t.scores.forEach((s, i) => assert.ok(Math.abs(s - want[i]) < 1e-12, `${s} vs ${want[i]}`));
  assert.ok(Math.abs(vs.computeMetric([0.4, 0.6], Int8Array.from([1, 2]), 'dot') - 1.6) < 1e-12);
  assert.equal(vs.computeMetric([200, -300], Int8Array.from([1, 2]), 'dot'), 200 - 600); // no wrap
  assert.equal(vs.batchCompute([200, -300], c8, 'dot')[3], 200 * -128 - 300 * 127);
  const mq = vs.multiQueryTopK({ data: [0.4, 0.6, 200, -300], shape: [2, 2] }, c8, 'dot', 1);
  assert.deepEqual([...mq.indices], [2, 0]);
  // Stored candidates follow the same rule.
  const s = simd.Store.memory();
  s.save({ c: { data: c8.data, shape: [4, 2] } });
  assert.deepEqual([...vs.topKStored(s, 'c', [0.4, 0.6], 'dot', 4).indices], [2, 3, 0, 1]);
  // Random queries of every type against every candidate type: the scores equal the float64
  // reference over the values in the model's compute type (exactly for float64 and int8 math).
  const r = rand(1717);
  const make = {
    float64: (n, wide) => Float64Array.from({ length: n }, () => (wide ? (r() - 0.5) * 1e6 : Math.round((r() - 0.5) * 200) / (r() < 0.5 ? 1 : 4))),
    float32: (n) => Float32Array.from({ length: n }, () => Math.round((r() - 0.5) * 100) / 2),
    int8: (n) => Int8Array.from({ length: n }, () => Math.floor(r() * 256) - 128),
    int32: (n, wide) => Int32Array.from({ length: n }, () => Math.floor((r() - 0.5) * (wide ? 1e6 : 200))),
    float16: (n, wide) => Uint16Array.from({ length: n }, () => toHalfBits((r() - 0.5) * (wide ? 1e4 : 100))),
  };
  const valuesOf = (dtype, a) => (dtype === 'float16' ? Array.from(a, fromHalfBits) : Array.from(a, Number));
  const castTo = (type, x) => (type === 'float32' ? Math.fround(x) : type === 'float16' ? fromHalfBits(toHalfBits(x)) : x);
  let seen = new Set();
  for (let round = 0; round < 200; round++) {
    for (const qt of Object.keys(make)) {
      for (const ct of ['float64', 'float32', 'float16', 'int8']) {
        const D = 5, N = 6;
        const qa = make[qt](D, round % 3 === 0), ca = make[ct](N * D, false);
        const qv = valuesOf(qt, qa), cv = valuesOf(ct, ca);
        const type = modelType(qt, ct, qv);
        seen.add(`${qt}/${ct}→${type}`);
        const got = vs.batchCompute({ data: qa, dtype: qt }, { data: ca, shape: [N, D], dtype: ct }, 'dot');
        const qc = qv.map((x) => castTo(type, x));
        for (let i = 0; i < N; i++) {
          const row = cv.slice(i * D, (i + 1) * D);
          const ref = REF.dot(qc, row);
          const mag = qc.reduce((acc, x, j) => acc + Math.abs(x * row[j]), 0); // METRICS.md: (n+16)·u·Σ|aᵢbᵢ|
          const tol = (D + 16) * (type === 'float64' || type === 'int8' ? 2 ** -53 : 2 ** -24) * mag;
          assert.ok(Math.abs(got[i] - ref) <= tol, `${qt} query on ${ct} (computed in ${type}) row ${i}: ${got[i]} vs ${ref}`);
        }
      }
    }
  }
  // Every branch of the rule was taken.
  for (const k of ['float64/int8→int8', 'float64/int8→float64', 'float64/float16→float16', 'float64/float16→float64', 'int32/int8→float64', 'float16/float32→float32']) {
    assert.ok(seen.has(k), `case ${k} not reached: ${[...seen]}`);
  }
});
