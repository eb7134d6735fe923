// The bad-call matrix (issue 9): every public JS call with wrong types, shapes and dtypes,
// empty input, NaN, huge / negative k and indices, unknown names, calls after close and
// hostile names. Each case must throw a documented `Error` subclass and leave the store
// folder byte for byte unchanged; badcalls.test.mjs runs each in its own child process.

/** The store every case starts from (written by the parent, then copied per case). */
export function fill(s) {
  s.save({
    f: { data: Float32Array.from({ length: 10 }, (_, i) => i), shape: [5, 2] },
    i: Int32Array.of(1, 2, 3, 4),
    h: { data: Uint16Array.of(0x3c00, 0x4000, 0x4200, 0x4400, 0x4500, 0x4600), shape: [3, 2], dtype: 'float16' },
    b: { data: Uint8Array.of(1, 0, 1), dtype: 'bool' },
    c2: { data: new Float32Array(8), shape: [2, 2], dtype: 'complex64' },
    u8: { data: Uint8Array.from({ length: 16 }, (_, i) => i * 17), shape: [4, 4] },
    e: { data: Float32Array.from({ length: 400 }, (_, i) => Math.sin(i)), shape: [50, 8] },
    z: { data: Float64Array.of(3.5), shape: [] },
    empty: { data: new Float32Array(0), shape: [0, 3] },
  });
  s.drop('e', [1, 2]);
}

const HOSTILE = ['', '.', '..', 'a/b', '../up', 'a\\b', 'a\0b', 'tab\t', 'new\nline', 'x'.repeat(241), '名'.repeat(81)];
const q3 = () => Float32Array.of(1, 2, 3);
const C = () => ({ data: Float32Array.from({ length: 12 }, (_, i) => i), shape: [4, 3] });
const BAD_K = [0, -1, 1.5, NaN, Infinity, -Infinity, '3', null, 10n, {}];
const BAD_INDEX = [5, -6, 2 ** 64, 2n ** 64n, -(2n ** 64n), 2n ** 63n, 1e300, 1.5, NaN, Infinity, '0', [0, 99], [[0]], [true, false],
  [0.5], Float64Array.of(0.5), { step: 0 }, { start: 'a' }, { start: NaN }, { stop: 1.5 }, Symbol('x')];
const BAD_ARRAY = [null, undefined, 5, 'str', {}, { data: 'abc' }, [1, 'a'], [[1, 2]], [1n, NaN], { data: [NaN], dtype: 'int64' },
  { data: [Infinity], dtype: 'int32' }, { data: Float64Array.of(NaN), dtype: 'int16' }, { data: [2n ** 64n], dtype: 'uint64' },
  { data: [-1n], dtype: 'uint64' }, { data: [2n ** 63n], dtype: 'int64' }, { data: [1e300], dtype: 'int64' }, { data: new Float32Array(4), shape: [3] },
  { data: new Float32Array(4), shape: [-1, 4] }, { data: new Float32Array(4), shape: [2.5, 2] }, { data: new Float32Array(4), shape: [NaN] },
  { data: new Float32Array(4), dtype: 'float128' }, { data: new Float32Array(4), dtype: 'bfloat16' }, { data: new Float32Array(3), dtype: 'complex64' },
  { data: new DataView(new ArrayBuffer(4)) }, { data: Int8Array.of(1), dtype: 'nope' }];
const BAD_METRIC = ['nope', '', null, 5, 'hamming'];
const BAD_VECTORS = [null, 'abc', { data: 'abc' }, [1, 'a'], [[1, 2, 3]], { data: q3(), shape: [1, 1, 3] }, { data: new Float32Array(5), shape: [2, 3] },
  { data: q3(), shape: [-1, 3] }, { data: new Uint8Array(3), dtype: 'bool' }, { data: new Float32Array(6), dtype: 'complex64' },
  { data: q3(), dtype: 'bfloat16' }, { data: [1, 2, 3], dtype: 'bfloat16' }, Float32Array.of(1, 2), new Float32Array(0)];

const show = (v) => {
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'symbol') return v.toString();
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${v.length})`;
  try { return JSON.stringify(v, (k, x) => (typeof x === 'bigint' ? `${x}n` : ArrayBuffer.isView(x) ? `${x.constructor.name}(${x.length})` : x)) ?? String(v); } catch { return String(v); }
};

/** `[name, (ctx) => call]`; ctx = `{ np, s, vs, dir, file }`. `closed` cases get a closed store. */
export const CASES = [];
const add = (name, call, opts = {}) => CASES.push({ name, call, ...opts });

// ---- names: unknown and hostile, in every call that takes one ----
for (const n of ['nope', ...HOSTILE]) {
  const t = show(n);
  add(`info(${t})`, ({ s }) => s.info(n));
  add(`shape(${t})`, ({ s }) => s.shape(n));
  add(`dtype(${t})`, ({ s }) => s.dtype(n));
  add(`modifyTime(${t})`, ({ s }) => s.modifyTime(n));
  add(`load(${t})`, ({ s }) => s.load(n));
  add(`getitem(${t}, 0)`, ({ s }) => s.getitem(n, 0));
  add(`append(${t})`, ({ s }) => s.append(n, [1, 2]));
  add(`replace(${t})`, ({ s }) => s.replace(n, 0, [1, 2]));
  add(`drop rows of ${t}`, ({ s }) => s.drop(n, [0]));
  add(`drop array ${t}`, ({ s }) => s.drop(n));
  add(`drop arrays [f, ${t}] (f kept)`, ({ s }) => s.drop(['f', n]));
  add(`compact(${t})`, ({ s }) => s.compact(n));
  add(`clone(${t}, x)`, ({ s }) => s.clone(n, 'x'));
  add(`streamLoad(${t})`, ({ s }) => [...s.streamLoad(n, 1)]);
  add(`topKStored(${t})`, ({ s, vs }) => vs.topKStored(s, n, Float32Array.of(1, 2), 'l2', 1));
  if (n !== 'nope') {
    add(`save({${t}})`, ({ s }) => s.save({ [n]: [1, 2] }));
    add(`save({ok, ${t}}) saves neither`, ({ s }) => s.save({ ok: [1], [n]: [1, 2] }));
    add(`clone(f, ${t})`, ({ s }) => s.clone('f', n));
  }
}
add('clone onto an existing array', ({ s }) => s.clone('f', 'i'));

// ---- arrays: wrong types, shapes, dtypes, casts ----
for (const a of BAD_ARRAY) {
  add(`save({x: ${show(a)}})`, ({ s }) => s.save({ x: a }));
  add(`save({f: ${show(a)}}) over an existing array`, ({ s }) => s.save({ f: a }));
  add(`save({ok, x: ${show(a)}}) saves neither`, ({ s }) => s.save({ ok: Float32Array.of(1), x: a }));
  add(`append(f, ${show(a)})`, ({ s }) => s.append('f', a));
  add(`replace(f, 0, ${show(a)})`, ({ s }) => s.replace('f', 0, a));
}
for (const arg of [null, 5, 'str', [1, 2], undefined]) add(`save(${show(arg)})`, ({ s }) => s.save(arg));
add('append: a row of the wrong width', ({ s }) => s.append('f', [1, 2, 3]));
add('append: shape [2, 3] into rows of 2', ({ s }) => s.append('f', { data: new Float32Array(6), shape: [2, 3] }));
add('append: float into int32 (not same_kind)', ({ s }) => s.append('i', Float32Array.of(1)));
add('append: signed into bool', ({ s }) => s.append('b', Int8Array.of(1)));
add('append: complex into float32', ({ s }) => s.append('f', { data: new Float32Array(4), dtype: 'complex64', shape: [1, 2] }));
add('append to a 0-d array', ({ s }) => s.append('z', [1]));
add('replace: row of the wrong width', ({ s }) => s.replace('f', 0, [1, 2, 3]));
add('replace: float into int32', ({ s }) => s.replace('i', 0, Float64Array.of(1)));
add('replace: three rows given for two', ({ s }) => s.replace('f', [0, 1], { data: new Float32Array(6), shape: [3, 2] }));

// ---- selections: out of range, huge, negative, NaN, wrong kinds, masks ----
for (const idx of BAD_INDEX) {
  const t = show(idx);
  add(`getitem(f, ${t})`, ({ s }) => s.getitem('f', idx));
  add(`replace(f, ${t})`, ({ s }) => s.replace('f', idx, [9, 9]));
  add(`drop(f, ${t})`, ({ s }) => s.drop('f', idx));
}
add('getitem: out of the wrong dtype', ({ s }) => s.getitem('f', 0, { out: new Float64Array(2) }));
add('getitem: out of the wrong size', ({ s }) => s.getitem('f', 0, { out: new Float32Array(3) }));
add('getitem: out not a typed array', ({ s }) => s.getitem('f', 0, { out: [0, 0] }));
add('load: out of the wrong size', ({ s }) => s.load('f', { out: new Float32Array(9) }));
for (const b of [0, -1, 1.5, NaN, Infinity, '2', 2n]) add(`streamLoad(f, ${show(b)})`, ({ s }) => [...s.streamLoad('f', b)]);

// ---- whole-store calls that only work elsewhere, and the constructors ----
add('files of a disk store', ({ s }) => s.files());
add('fromPackage(garbage)', ({ np }) => np.Store.fromPackage(new Uint8Array(64).fill(7)));
add('fromPackage(empty)', ({ np }) => np.Store.fromPackage(new Uint8Array(0)));
for (const v of [null, 5, 'str', {}]) add(`fromPackage(${show(v)})`, ({ np }) => np.Store.fromPackage(v));
add('fromFiles with an escaping path', ({ np }) => np.Store.fromFiles({ '../x': new Uint8Array(1) }));
add('fromFiles with a non-bytes value', ({ np }) => np.Store.fromFiles({ 'metadata.npkm': 5 }));
add('fromFiles with a corrupt catalogue', ({ np }) => np.Store.fromFiles({ 'metadata.npkm': new Uint8Array(30).fill(1) }));
for (const v of [null, 5, {}, { len: 5 }]) add(`fromBackend(${show(v)})`, ({ np }) => np.Store.fromBackend(v));
for (const p of ['', 42, null, 'a\0b']) add(`open(${show(p)})`, ({ np }) => np.open(p));
add('open(a regular file)', ({ np, file }) => np.open(file));
add('open(below a regular file)', ({ np, file }) => np.open(`${file}/x`));

// ---- calls after close ----
const CLOSED = {
  list: (s) => s.list(), has: (s) => s.has('f'), info: (s) => s.info('f'), infos: (s) => s.infos(), shape: (s) => s.shape('f'),
  dtype: (s) => s.dtype('f'), save: (s) => s.save({ n: [1] }), load: (s) => s.load('f'), getitem: (s) => s.getitem('f', 0),
  append: (s) => s.append('f', [1, 2]), replace: (s) => s.replace('f', 0, [1, 2]), dropRows: (s) => s.drop('f', [0]),
  dropArray: (s) => s.drop('f'), compact: (s) => s.compact('f'), clone: (s) => s.clone('f', 'g'), reset: (s) => s.reset(),
  refresh: (s) => s.refresh(), streamLoad: (s) => [...s.streamLoad('f', 1)], toPackage: (s) => s.toPackage(), files: (s) => s.files(),
  topKStored: (s, vs) => vs.topKStored(s, 'e', new Float32Array(8), 'l2', 1),
};
for (const [n, f] of Object.entries(CLOSED)) add(`${n} after close`, ({ s, vs }) => f(s, vs), { closed: true });

// ---- vector search ----
for (const k of BAD_K) {
  add(`topK(k = ${show(k)})`, ({ vs }) => vs.topK(q3(), C(), 'l2', k));
  add(`multiQueryTopK(k = ${show(k)})`, ({ vs }) => vs.multiQueryTopK(q3(), C(), 'l2', k));
  add(`topKStored(k = ${show(k)})`, ({ s, vs }) => vs.topKStored(s, 'e', new Float32Array(8), 'l2', k));
}
for (const m of BAD_METRIC) {
  add(`computeMetric(metric = ${show(m)})`, ({ vs }) => vs.computeMetric(q3(), q3(), m));
  add(`batchCompute(metric = ${show(m)})`, ({ vs }) => vs.batchCompute(q3(), C(), m));
  add(`topK(metric = ${show(m)})`, ({ vs }) => vs.topK(q3(), C(), m, 1));
  add(`multiQueryTopK(metric = ${show(m)})`, ({ vs }) => vs.multiQueryTopK(q3(), C(), m, 1));
  add(`topKStored(metric = ${show(m)})`, ({ s, vs }) => vs.topKStored(s, 'e', new Float32Array(8), m, 1));
}
for (const v of BAD_VECTORS) {
  const t = show(v);
  add(`computeMetric(${t}, q)`, ({ vs }) => vs.computeMetric(v, q3(), 'l2'));
  add(`computeMetric(q, ${t})`, ({ vs }) => vs.computeMetric(q3(), v, 'l2'));
  add(`batchCompute(${t}, C)`, ({ vs }) => vs.batchCompute(v, C(), 'l2'));
  add(`batchCompute(q, ${t})`, ({ vs }) => vs.batchCompute(q3(), v, 'l2'));
  add(`topK(${t}, C)`, ({ vs }) => vs.topK(v, C(), 'l2', 1));
  add(`topK(q, ${t})`, ({ vs }) => vs.topK(q3(), v, 'l2', 1));
  add(`multiQueryTopK(${t}, C)`, ({ vs }) => vs.multiQueryTopK(v, C(), 'l2', 1));
  add(`topKStored(e, ${t})`, ({ s, vs }) => vs.topKStored(s, 'e', v, 'l2', 1));
  if (v?.length !== 0 && v?.length !== 2) add(`new VectorMatrix(${t})`, ({ np }) => new np.VectorMatrix(v).rows); // a 1-D vector of any length is one row
}
add('topK: no candidates', ({ vs }) => vs.topK(q3(), { data: new Float32Array(0), shape: [0, 3] }, 'l2', 1));
add('multiQueryTopK: no queries', ({ vs }) => vs.multiQueryTopK({ data: new Float32Array(0), shape: [0, 3] }, C(), 'l2', 1));
add('topK: two queries', ({ vs }) => vs.topK({ data: new Float32Array(6), shape: [2, 3] }, C(), 'l2', 1));
add('computeMetric: 2-D', ({ vs }) => vs.computeMetric(C(), C(), 'dot'));
add('hamming on float32', ({ vs }) => vs.topK(q3(), C(), 'hamming', 1));
add('cosine on uint8', ({ vs }) => vs.topK(Uint8Array.of(1, 2, 3), { data: new Uint8Array(6), shape: [2, 3] }, 'cosine', 1));
add('kl on int8', ({ vs }) => vs.computeMetric(Int8Array.of(1), Int8Array.of(1), 'kl'));
add('topKStored over a 1-D array', ({ s, vs }) => vs.topKStored(s, 'i', [1], 'l2', 1));
add('topKStored over a 0-d array', ({ s, vs }) => vs.topKStored(s, 'z', [1], 'l2', 1));
add('topKStored over complex rows', ({ s, vs }) => vs.topKStored(s, 'c2', [1, 2], 'l2', 1));
add('topKStored over an empty array', ({ s, vs }) => vs.topKStored(s, 'empty', q3(), 'l2', 1));
add('topKStored hamming on float32 rows', ({ s, vs }) => vs.topKStored(s, 'e', new Float32Array(8), 'hamming', 1));
add('topKStored cosine on uint8 rows', ({ s, vs }) => vs.topKStored(s, 'u8', new Uint8Array(4), 'cosine', 1));
for (const b of [0, -1, 1.5, NaN, '10', 10n]) add(`topKStored(batchRows = ${show(b)})`, ({ s, vs }) => vs.topKStored(s, 'e', new Float32Array(8), 'l2', 1, { batchRows: b }));
for (const st of [null, {}, 'store', 5]) add(`topKStored(store = ${show(st)})`, ({ vs }) => vs.topKStored(st, 'e', new Float32Array(8), 'l2', 1));
add('topKStored(options = null)', ({ s, vs }) => vs.topKStored(s, 'e', Float32Array.of(1), 'l2', 1, null));
add('a freed VectorMatrix', ({ np, vs }) => { const m = new np.VectorMatrix(C()); m.free(); return vs.topK(q3(), m, 'l2', 1); });
add('createNumPack with unknown kernels', ({ np }) => np.createNumPack({ kernels: 'avx' }));
