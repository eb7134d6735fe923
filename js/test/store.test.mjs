// The whole store API in Node: every dtype, every operation, errors, persistence on disk,
// byte-identical files between the in-memory and the disk back end, corrupt files.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import np, {
  Store, open, NotFoundError, IndexError, ValueError, DTypeError, NumPackError, CorruptStoreError, InternalError,
  DTYPE_NAMES, NodeFsBackend, toHalfBits, fromHalfBits,
} from '../src/node.js';
import { sample, plain, tmpdir, readTree, sameFiles } from './helpers.mjs';

const LANES = (dt) => (dt.startsWith('complex') ? 2 : 1);

test('14 dtypes, each mapped to its typed array', () => {
  assert.equal(DTYPE_NAMES.length, 14);
  const s = Store.memory();
  const want = { bool: Uint8Array, int64: BigInt64Array, uint64: BigUint64Array, float16: Uint16Array, complex64: Float32Array, complex128: Float64Array, int8: Int8Array, uint32: Uint32Array };
  for (const dt of DTYPE_NAMES) {
    const data = sample(dt, 12 * LANES(dt) / LANES(dt) * 1);
    s.save({ [dt]: { data, shape: [4, 3], dtype: dt } });
    const back = s.load(dt);
    assert.equal(back.dtype, dt);
    assert.deepEqual(back.shape, [4, 3]);
    assert.deepEqual(plain(back.data), plain(data), dt);
    if (want[dt]) assert.ok(back.data instanceof want[dt], `${dt} → ${back.data.constructor.name}`);
  }
  assert.deepEqual(s.list(), DTYPE_NAMES);
});

for (const dt of DTYPE_NAMES) {
  test(`every operation on ${dt}`, () => {
    const s = Store.memory();
    const L = LANES(dt);
    const rows = (start, n) => sample(dt, 100 * 3, 7).slice(start * 3 * L, (start + n) * 3 * L);
    const all = rows(0, 100);
    s.save({ a: { data: rows(0, 60), shape: [60, 3], dtype: dt } });
    s.append('a', { data: rows(60, 40), dtype: dt });
    assert.deepEqual(s.shape('a'), [100, 3]);
    assert.deepEqual(plain(s.load('a').data), plain(all));
    // getitem: int keeps the axis, negative, list, slice with step.
    assert.deepEqual(s.getitem('a', -1).shape, [1, 3]);
    assert.deepEqual(plain(s.getitem('a', -1).data), plain(rows(99, 1)));
    assert.deepEqual(plain(s.getitem('a', [5, 2]).data), plain([...rows(5, 1), ...rows(2, 1)]));
    assert.deepEqual(s.getitem('a', { start: 10, stop: 20, step: 3 }).shape, [4, 3]);
    assert.deepEqual(plain(s.getitem('a', { start: 3, stop: 0, step: -1 }).data), plain([...rows(3, 1), ...rows(2, 1), ...rows(1, 1)]));
    // replace rows 0 and 1 with rows 98 and 99.
    s.replace('a', [0, 1], { data: rows(98, 2), dtype: dt });
    assert.deepEqual(plain(s.getitem('a', { start: 0, stop: 2 }).data), plain(rows(98, 2)));
    // drop rows, compact, clone, drop array.
    s.drop('a', { start: 0, stop: 50 });
    assert.deepEqual(s.shape('a'), [50, 3]);
    assert.deepEqual(s.info('a').physicalShape, [100, 3]);
    assert.deepEqual(plain(s.getitem('a', 0).data), plain(rows(50, 1)));
    s.compact('a');
    assert.deepEqual(s.info('a').physicalShape, [50, 3]);
    s.clone('a', 'b');
    assert.deepEqual(plain(s.load('b').data), plain(rows(50, 50)));
    const streamed = [...s.streamLoad('b', 16)];
    assert.deepEqual(streamed.map((x) => x.shape[0]), [16, 16, 16, 2]);
    s.drop('a');
    assert.deepEqual(s.list(), ['b']);
    s.reset();
    assert.deepEqual(s.list(), []);
  });
}

test('0-d, empty and high-rank arrays', () => {
  const s = Store.memory();
  s.save({ scalar: { data: new Float64Array([3.5]), shape: [] }, empty: { data: new Int32Array(0), shape: [0, 4] }, r4: { data: new Uint8Array(24), shape: [2, 3, 2, 2] } });
  assert.deepEqual(s.load('scalar').shape, []);
  assert.equal(s.load('scalar').data[0], 3.5);
  assert.deepEqual(s.load('empty').shape, [0, 4]);
  s.append('empty', { data: new Int32Array([1, 2, 3, 4]), shape: [1, 4] });
  assert.deepEqual(s.shape('empty'), [1, 4]);
  assert.deepEqual(s.shape('r4'), [2, 3, 2, 2]);
});

test('same_kind casting on append / replace, and refusal otherwise', () => {
  const s = Store.memory();
  s.save({ f: { data: new Float32Array([1, 2]), shape: [2] }, i: new Int32Array([1, 2]), h: { data: Uint16Array.of(toHalfBits(1)), dtype: 'float16' } });
  s.append('f', new Float64Array([3.25]));
  s.append('f', new Int16Array([4]));
  assert.deepEqual(plain(s.load('f').data), [1, 2, 3.25, 4]);
  s.append('i', [5, 6]);
  s.append('h', new Float32Array([0.5]));
  assert.equal(fromHalfBits(s.load('h').data[1]), 0.5);
  assert.throws(() => s.append('i', new Float32Array([1.5])), DTypeError);
  assert.throws(() => s.append('i', new Float32Array([1.5])), TypeError);
  assert.throws(() => s.replace('f', 0, { data: new Float32Array([1, 2]), dtype: 'complex64' }), DTypeError);
});

test('errors carry the Python meanings', () => {
  const s = Store.memory();
  s.save({ a: { data: new Float32Array(6), shape: [3, 2] } });
  assert.throws(() => s.load('missing'), NotFoundError);
  assert.throws(() => s.getitem('a', 3), IndexError);
  assert.throws(() => s.getitem('a', -4), RangeError);
  assert.throws(() => s.append('a', { data: new Float32Array(3), shape: [1, 3] }), ValueError);
  assert.throws(() => s.save({ '../evil': new Float32Array(1) }), ValueError);
  assert.throws(() => s.save({ '': new Float32Array(1) }), ValueError);
  assert.throws(() => s.save({ x: { data: new Float32Array(3), shape: [2, 2] } }), ValueError);
  assert.throws(() => s.save({ x: { data: new Float32Array(3), dtype: 'object' } }), DTypeError);
  assert.throws(() => s.save({ x: { data: new Float32Array(3), dtype: 'complex64' } }), ValueError);
  assert.throws(() => s.save({ x: { data: ['a'], dtype: 'float32' } }), ValueError);
  assert.throws(() => s.getitem('a', { step: 0 }), ValueError);
  assert.throws(() => s.getitem('a', 1.5), ValueError);
  assert.throws(() => s.clone('a', 'a'), ValueError);
  assert.throws(() => s.clone('zz', 'b'), NotFoundError);
  s.close();
  assert.throws(() => s.list(), ValueError);
});

test('a trap in wasm becomes InternalError with the panic message', async () => {
  const raw = await import('../dist/wasm/numpack_wasm.js');
  const { convertError } = await import('../src/errors.js');
  let err;
  try { raw.debugPanic(); } catch (e) { err = convertError(e, raw); }
  assert.ok(err instanceof InternalError && err instanceof NumPackError);
  assert.match(err.message, /deliberate panic/);
  // The module stays usable for other handles afterwards.
  const s = Store.memory();
  s.save({ a: new Int8Array([1]) });
  assert.deepEqual(plain(s.load('a').data), [1]);
});

test('disk store: persists, reopens, and sees another handle\'s commits', () => {
  const dir = tmpdir('disk');
  const a = open(dir);
  a.save({ e: { data: new Float32Array([1, 2, 3, 4]), shape: [2, 2] } });
  const b = open(dir);
  assert.deepEqual(plain(b.load('e').data), [1, 2, 3, 4]);
  a.append('e', new Float32Array([5, 6]));
  assert.deepEqual(b.shape('e'), [3, 2]); // b re-reads the catalogue after a's commit
  a.close(); b.close();
  const names = fs.readdirSync(dir).sort();
  assert.deepEqual(names, ['data_e.npkd', 'metadata.npkm']);
  fs.rmSync(dir, { recursive: true });
});

test('memory and disk back ends write byte-identical files (same clock)', () => {
  const dir = tmpdir('same');
  const mem = Store.memory();
  let t = 0;
  const disk = Store.fromBackend(new NodeFsBackend(dir, { clock: () => 1_700_000_000_000_000 + (++t) }));
  for (const s of [mem, disk]) {
    for (const dt of DTYPE_NAMES) s.save({ [dt]: { data: sample(dt, 30), shape: [10, 3], dtype: dt } });
    s.append('float32', { data: sample('float32', 6, 3), shape: [2, 3] });
    s.drop('int8', [1, 3, 5]);
    s.replace('uint16', { start: 0, stop: 2 }, { data: sample('uint16', 6, 9), shape: [2, 3] });
    s.compact('int16');
    s.drop('int16', [0]);
    s.clone('float64', 'copy');
    s.drop('bool');
  }
  const memFiles = Object.fromEntries(Object.entries(mem.files()).map(([k, v]) => [k, Buffer.from(v)]));
  const diskFiles = readTree(dir);
  assert.equal(sameFiles(memFiles, diskFiles), null);
  // With the same clock even the metadata is identical, modify times included.
  assert.ok(Buffer.from(mem.files()['metadata.npkm']).equals(diskFiles['metadata.npkm']));
  fs.rmSync(dir, { recursive: true });
});

test('.npkg package round trip', () => {
  const s = Store.memory();
  s.save({ a: { data: sample('float32', 12), shape: [4, 3] }, b: sample('int64', 5) });
  const pkg = s.toPackage();
  assert.equal(Buffer.from(pkg.subarray(0, 4)).toString(), 'NPKG');
  const t = Store.fromPackage(pkg);
  assert.deepEqual(plain(t.load('a').data), plain(sample('float32', 12)));
  assert.throws(() => Store.fromPackage(pkg.subarray(0, pkg.length - 1)), CorruptStoreError);
  const bad = pkg.slice(); bad[bad.length - 5] ^= 1;
  assert.throws(() => Store.fromPackage(bad), CorruptStoreError);
});

test('corrupt files: every truncation and many byte flips fail cleanly', () => {
  const src = Store.memory();
  src.save({ a: { data: sample('float32', 12), shape: [4, 3] }, b: sample('int16', 7) });
  src.drop('a', [1]);
  const files = Object.fromEntries(Object.entries(src.files()).map(([k, v]) => [k, Buffer.from(v)]));
  const dir = tmpdir('corrupt');
  const write = (over) => {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir);
    for (const [k, v] of Object.entries({ ...files, ...over })) fs.writeFileSync(path.join(dir, k), v);
  };
  const tryAll = () => {
    try {
      const s = open(dir);
      for (const n of s.list()) { s.load(n); s.info(n); }
      s.close();
    } catch (e) {
      assert.ok(!(e instanceof InternalError), `trap: ${e.message}`);
      assert.ok(e instanceof NumPackError || e instanceof ValueError || e instanceof NotFoundError || e instanceof IndexError || e instanceof DTypeError, `${e.name}: ${e.message}`);
    }
  };
  for (const name of Object.keys(files)) {
    for (let cut = 0; cut < files[name].length; cut++) { write({ [name]: files[name].subarray(0, cut) }); tryAll(); }
  }
  let x = 12345;
  const meta = files['metadata.npkm'];
  for (let i = 0; i < 300; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const m = Buffer.from(meta);
    m[x % m.length] ^= 1 << ((x >>> 8) & 7);
    write({ 'metadata.npkm': m });
    tryAll();
  }
  write({ 'metadata.npkm': Buffer.from('not a store at all') });
  assert.throws(() => open(dir), CorruptStoreError);
  fs.rmSync(dir, { recursive: true });
});
