// The whole store API in Node: every dtype, every operation, errors, persistence on disk,
// byte-identical files between the in-memory and the disk back end, corrupt files.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import np, {
  Store, open, NotFoundError, IndexError, ValueError, DTypeError, NumPackError, CorruptStoreError, InternalError,
  StoreIOError, DTYPE_NAMES, NodeFsBackend, toHalfBits, fromHalfBits,
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

test('a trap in wasm becomes InternalError, with the recorded panic message when there is one', async () => {
  const raw = await import('../dist/wasm/numpack_wasm.js');
  const { convertError } = await import('../src/errors.js');
  // A real trap: a tiny module whose only function is `unreachable` (what a Rust panic ends in).
  const bytes = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 4, 1, 0x60, 0, 0, 3, 2, 1, 0,
    7, 5, 1, 1, 0x66, 0, 0, 10, 5, 1, 3, 0, 0, 0x0b]);
  const { instance } = await WebAssembly.instantiate(bytes);
  const trap = () => { try { instance.exports.f(); } catch (e) { return e; } };
  const bare = convertError(trap(), raw); // no panic recorded: the trap's own text
  assert.ok(bare instanceof InternalError && bare instanceof NumPackError);
  assert.match(bare.message, /numpack wasm trapped: .*unreachable/);
  const told = convertError(trap(), { takePanicMessage: () => 'panicked at src/x.rs: boom' });
  assert.ok(told instanceof InternalError);
  assert.match(told.message, /boom/);
  assert.equal(told.cause instanceof WebAssembly.RuntimeError, true);
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

test('disk reads never see a replaced file through a kept descriptor', () => {
  const dir = tmpdir('fds');
  const a = open(dir);
  const b = open(dir);
  const rows = (v) => ({ data: new Int32Array(3000).fill(v), shape: [1000, 3] });
  a.save({ x: rows(1) });
  const idx = [5, 700, 12, 999, 0];
  assert.deepEqual(plain(b.getitem('x', idx).data), new Array(15).fill(1));
  for (let v = 2; v < 6; v++) {
    a.save({ x: rows(v) }); // a new data file renamed over the one b read last call
    assert.deepEqual(plain(b.getitem('x', idx).data), new Array(15).fill(v), `after save ${v}`);
    b.replace('x', [3], new Int32Array([-v, -v, -v]));
    assert.deepEqual(plain(a.getitem('x', [3, 4]).data), [-v, -v, -v, v, v, v]);
  }
  a.drop('x');
  assert.throws(() => b.load('x'), NotFoundError);
  a.close(); b.close();
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

test('.npkg of a store on disk: the same bytes as the same store in memory, junk left out', () => {
  const dir = tmpdir('pkgdisk');
  const mem = Store.memory();
  let t = 0;
  const disk = Store.fromBackend(new NodeFsBackend(dir, { clock: () => 1_700_000_000_000_000 + (++t) }));
  for (const s of [mem, disk]) {
    s.save({ a: { data: sample('float32', 12), shape: [4, 3] }, b: sample('int64', 5) });
    s.drop('b', [0, 3]);
  }
  // Files of the folder that are no part of the store (a package never holds them).
  for (const junk of ['notes.txt', 'data_a.npkd.tmp', 'commit.npkj.tmp']) fs.writeFileSync(path.join(dir, junk), 'junk');
  for (const compression of [false, true]) {
    const pkg = disk.toPackage({ compression });
    assert.ok(Buffer.from(pkg).equals(Buffer.from(mem.toPackage({ compression }))), `compression ${compression}`);
    const back = Store.fromPackage(pkg);
    assert.deepEqual(Object.keys(back.files()).sort(), ['data_a.npkd', 'data_b.npkd', 'deleted_b.npkb', 'metadata.npkm']);
    assert.deepEqual(plain(back.load('b').data), plain(sample('int64', 5)).filter((_, i) => i !== 0 && i !== 3));
    back.close();
  }
  assert.throws(() => Store.memory().toPackage(), StoreIOError, 'an empty store has no catalogue to pack');
  disk.close();
  fs.rmSync(dir, { recursive: true });
});

test('.npkg with compression: smaller, same arrays, every dtype', () => {
  const s = Store.memory();
  const arrays = {};
  for (const dt of DTYPE_NAMES) arrays[dt] = { data: sample(dt, 60), shape: [20, 3], dtype: dt };
  const ramp = BigInt64Array.from({ length: 50000 }, (_, i) => BigInt(i));
  s.save({ ...arrays, ramp: { data: ramp, shape: [50000] } });
  s.drop('ramp', [0]);
  const raw = s.toPackage();
  const packed = s.toPackage({ compression: true });
  assert.equal(packed[8], 1, 'compression code 1 (zstd) in the header');
  assert.ok(packed.length < raw.length / 2, `${packed.length} vs ${raw.length}`);
  for (const pkg of [raw, packed]) {
    const t = Store.fromPackage(pkg);
    for (const dt of DTYPE_NAMES) assert.deepEqual(plain(t.load(dt).data), plain(sample(dt, 60)), dt);
    assert.deepEqual(plain(t.load('ramp').data), plain(ramp.subarray(1)));
  }
  const bad = packed.slice(); bad[bad.length - 9] ^= 0x40;
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

// ---- reads over a JS back end: large results go from readAt straight into the JS array ----

/** `rows` (logical indices) of `ref`, a flat typed array of rows `rowLen` elements wide. */
const pickRows = (ref, rowLen, rows) => rows.flatMap((r) => plain(ref.subarray(r * rowLen, (r + 1) * rowLen)));
/** Python's `range(len)[start:stop:step]`. */
function sliceRows(len, start, stop, step = 1) {
  const out = [];
  const norm = (v, d) => (v === undefined ? d : v < 0 ? Math.max(v + len, step > 0 ? 0 : -1) : Math.min(v, step > 0 ? len : len - 1));
  if (step > 0) for (let i = norm(start, 0); i < norm(stop, len); i += step) out.push(i);
  else for (let i = norm(start, len - 1); i > norm(stop, -1); i += step) out.push(i);
  return out;
}

/** A backend over `dir` that records, per readAt, whether `into` is a view of the given buffer. */
class WatchedBackend extends NodeFsBackend {
  intos = [];
  readAt(p, offset, into) { this.intos.push(into); return super.readAt(p, offset, into); }
}

test('disk reads match the saved data: every dtype, with and without dropped rows, both read paths', () => {
  const dir = tmpdir('reads');
  const s = open(dir);
  const N = 4096, W = 3;
  for (const dt of DTYPE_NAMES) {
    const L = LANES(dt);
    const ref = sample(dt, N * W, 11);
    s.save({ [dt]: { data: ref, shape: [N, W], dtype: dt } });
    // Drop every 7th row and a block: reads then cross many physical runs.
    const dropped = new Set([...Array.from({ length: N / 7 | 0 }, (_, i) => i * 7), ...Array.from({ length: 100 }, (_, i) => 1000 + i)]);
    for (const drops of [false, true]) {
      if (drops) s.drop(dt, [...dropped]);
      const live = Array.from({ length: N }, (_, i) => i).filter((i) => !drops || !dropped.has(i));
      const rowsOf = (logical) => pickRows(ref, W * L, logical.map((l) => live[l]));
      const len = live.length;
      assert.deepEqual(s.shape(dt), [len, W]);
      const all = s.load(dt);
      assert.deepEqual(all.shape, [len, W]);
      assert.deepEqual(plain(all.data), rowsOf(Array.from({ length: len }, (_, i) => i)), `${dt} load drops=${drops}`);
      // Results from 1 row to most of the array, so that with drops both sides of the
      // direct-read threshold (result bytes >= physical rows / 4) are taken for every dtype.
      const cases = [[5], [len - 1, 0, 3, 3, 2], Array.from({ length: 40 }, (_, i) => (i * 97) % len),
        Array.from({ length: 2000 }, (_, i) => (i * 13) % len), [-1, -len]];
      for (const idx of cases) {
        const want = rowsOf(idx.map((i) => (i < 0 ? i + len : i)));
        const got = s.getitem(dt, idx);
        assert.deepEqual(got.shape, [idx.length, W]);
        assert.deepEqual(plain(got.data), want, `${dt} getitem ${idx.length} rows drops=${drops}`);
      }
      for (const [a, b, c] of [[0, 1], [10, 60], [100, len], [-300, undefined], [5, 3000, 7], [undefined, undefined, -3], [len, undefined], [2000, 100, -41]]) {
        const want = rowsOf(sliceRows(len, a, b, c));
        const got = s.getitem(dt, { start: a, stop: b, step: c });
        assert.deepEqual(got.shape, [want.length / W / L, W]);
        assert.deepEqual(plain(got.data), want, `${dt} slice ${a}:${b}:${c} drops=${drops}`);
      }
      const streamed = [...s.streamLoad(dt, 1500)];
      assert.deepEqual(streamed.map((x) => x.shape[0]), [1500, 1500, len - 3000]);
      assert.deepEqual(streamed.flatMap((x) => plain(x.data)), plain(all.data));
      assert.equal(s.getitem(dt, 0).data.byteOffset, 0);
    }
  }
  s.close();
  fs.rmSync(dir, { recursive: true });
});

test('every disk read lands in the returned array, with or without drops', () => {
  const dir = tmpdir('direct');
  const be = new WatchedBackend(dir);
  const s = Store.fromBackend(be);
  const ref = sample('float32', 20000 * 4, 3);
  s.save({ a: { data: ref, shape: [20000, 4] } });
  be.intos = [];
  const all = s.load('a');
  assert.equal(be.intos.length, 1);
  assert.equal(be.intos[0].buffer, all.data.buffer, 'load reads straight into the result');
  assert.deepEqual(plain(all.data), plain(ref));
  be.intos = [];
  const some = s.getitem('a', [7, 8, 9, 100]);
  assert.equal(be.intos.length, 2, 'consecutive rows are one read');
  assert.ok(be.intos.every((v) => v.buffer === some.data.buffer));
  assert.deepEqual(plain(some.data), pickRows(ref, 4, [7, 8, 9, 100]));
  s.drop('a', { start: 0, stop: 20000, step: 2 });
  be.intos = [];
  const one = s.getitem('a', 3); // a small read with many drops: still no copy through wasm
  assert.equal(be.intos.length, 1);
  assert.equal(be.intos[0].buffer, one.data.buffer);
  assert.deepEqual(plain(one.data), pickRows(ref, 4, [7]));
  be.intos = [];
  const half = s.load('a');
  assert.equal(be.intos.length, 10000, 'one read per run of live rows');
  assert.ok(be.intos.every((v) => v.buffer === half.data.buffer));
  assert.deepEqual(plain(half.data), pickRows(ref, 4, Array.from({ length: 10000 }, (_, i) => 2 * i + 1)));
  s.close();
  fs.rmSync(dir, { recursive: true });
});

test('big disk arrays (8 MB, with drops) load and stream exactly', () => {
  const dir = tmpdir('big');
  const s = open(dir);
  const N = 65536, W = 32;
  const ref = sample('float32', N * W, 5);
  s.save({ big: { data: ref, shape: [N, W] } });
  const a = s.load('big');
  assert.ok(Buffer.from(a.data.buffer).equals(Buffer.from(ref.buffer)));
  const dropped = Array.from({ length: 5000 }, (_, i) => (i * 131) % N);
  s.drop('big', dropped);
  const gone = new Set(dropped);
  const live = Array.from({ length: N }, (_, i) => i).filter((i) => !gone.has(i));
  const want = new Float32Array(live.length * W);
  live.forEach((r, k) => want.set(ref.subarray(r * W, (r + 1) * W), k * W));
  assert.ok(Buffer.from(s.load('big').data.buffer).equals(Buffer.from(want.buffer)));
  const parts = [...s.streamLoad('big', 10000)].map((b) => Buffer.from(b.data.buffer));
  assert.ok(Buffer.concat(parts).equals(Buffer.from(want.buffer)));
  const rows = Array.from({ length: 3000 }, (_, i) => (i * 7919) % live.length);
  const got = s.getitem('big', rows).data;
  rows.forEach((r, k) => assert.deepEqual(got.subarray(k * W, (k + 1) * W), want.subarray(r * W, (r + 1) * W)));
  s.close();
  fs.rmSync(dir, { recursive: true });
});

test('load and getitem into out: same array back, every dtype, memory and disk', () => {
  const dir = tmpdir('out');
  for (const s of [Store.memory(), open(dir)]) {
    for (const dt of DTYPE_NAMES) {
      const ref = sample(dt, 300, 9);
      s.save({ [dt]: { data: ref, shape: [100, 3], dtype: dt } });
      const out = new ref.constructor(ref.length).fill(ref instanceof BigInt64Array || ref instanceof BigUint64Array ? 1n : 1);
      const r = s.load(dt, { out });
      assert.equal(r.data, out);
      assert.deepEqual(r.shape, [100, 3]);
      assert.equal(r.dtype, dt);
      assert.deepEqual(plain(out), plain(ref), dt);
      const L = LANES(dt);
      const part = new ref.constructor(2 * 3 * L);
      assert.equal(s.getitem(dt, [99, 0], { out: part }).data, part);
      assert.deepEqual(plain(part), pickRows(ref, 3 * L, [99, 0]));
      // A subarray of a bigger buffer is filled in place, around it nothing changes.
      const host = new ref.constructor(ref.length + 6 * L);
      const window = host.subarray(3 * L, 3 * L + ref.length);
      s.load(dt, { out: window });
      assert.deepEqual(plain(window), plain(ref));
      assert.ok(plain(host.subarray(0, 3 * L)).every((v) => v === 0 || v === '0'));
    }
    assert.throws(() => s.load('float32', { out: new Float32Array(299) }), ValueError);
    assert.throws(() => s.load('float32', { out: new Float32Array(301) }), ValueError);
    assert.throws(() => s.load('float32', { out: new Float64Array(300) }), DTypeError);
    assert.throws(() => s.load('float32', { out: [1, 2, 3] }), ValueError);
    assert.throws(() => s.getitem('float32', 100, { out: new Float32Array(3) }), IndexError);
    assert.throws(() => s.load('nope', { out: new Float32Array(3) }), NotFoundError);
    const f16 = new Uint16Array(300);
    s.load('float16', { out: f16 });
    assert.deepEqual(plain(f16), plain(sample('float16', 300, 9)));
    assert.deepEqual(s.list(), DTYPE_NAMES); // still usable after the errors
    s.close();
  }
  fs.rmSync(dir, { recursive: true });
});

test('disk edge cases: 0-d, empty, zero-width rows, out-of-range, short and failing reads', () => {
  const dir = tmpdir('edges');
  const s = open(dir);
  s.save({ scalar: { data: new Float64Array([2.5]), shape: [] }, empty: { data: new Int32Array(0), shape: [0, 4] }, thin: { data: new Uint8Array(0), shape: [5, 0] }, a: { data: new Int16Array([1, 2, 3, 4, 5, 6]), shape: [3, 2] } });
  assert.deepEqual(s.load('scalar').shape, []);
  assert.deepEqual(plain(s.load('scalar').data), [2.5]);
  assert.throws(() => s.getitem('scalar', 0), IndexError, 'a 0-d array takes no row index (NumPy: too many indices)');
  assert.deepEqual(s.load('empty').shape, [0, 4]);
  assert.equal(s.load('empty').data.length, 0);
  assert.deepEqual(s.getitem('empty', { start: 0, stop: 10 }).shape, [0, 4]);
  assert.throws(() => s.getitem('empty', 0), IndexError);
  assert.deepEqual(s.load('thin').shape, [5, 0]);
  assert.deepEqual(s.getitem('thin', [4, 0]).shape, [2, 0]);
  assert.deepEqual([...s.streamLoad('scalar')].map((x) => plain(x.data)), [[2.5]]);
  assert.throws(() => s.getitem('a', [0, 3]), IndexError);
  assert.throws(() => s.getitem('a', -4), IndexError);
  assert.throws(() => s._wrap((h) => h.readRange('a', 2, 2)), IndexError);
  assert.deepEqual(plain(s._wrap((h) => h.readRange('a', 1, 2)).bytes), plain(new Uint8Array(new Int16Array([3, 4, 5, 6]).buffer)));
  // A data file cut short behind the store's back: the read fails as I/O, the handle lives on.
  fs.truncateSync(path.join(dir, 'data_a.npkd'), 6);
  assert.throws(() => s.load('a'), StoreIOError);
  assert.deepEqual(plain(s.getitem('a', 0).data), [1, 2]);
  s.close();
  fs.writeFileSync(path.join(dir, 'data_a.npkd'), new Int16Array([1, 2, 3, 4, 5, 6]));
  // A back end whose readAt throws: the error keeps its meaning.
  class Failing extends NodeFsBackend {
    readAt(p, o, into) { if (p === 'data_big.npkd') throw Object.assign(new Error('disk on fire'), { code: 'EIO' }); return super.readAt(p, o, into); }
  }
  const t = Store.fromBackend(new Failing(dir));
  assert.throws(() => t.load('scalar', { out: new Float64Array(2) }), ValueError);
  assert.deepEqual(plain(t.load('scalar').data), [2.5]);
  t.save({ big: new Float32Array(16) });
  assert.throws(() => t.load('big'), (e) => e instanceof StoreIOError && /disk on fire/.test(e.message));
  assert.deepEqual(t.list().sort(), ['a', 'big', 'empty', 'scalar', 'thin']);
  t.close();
  fs.rmSync(dir, { recursive: true });
});

/** `metadata.npkm` of `files` with array `name`'s data file renamed to `file`. */
function renameDataFile(meta, name, file) {
  const dv = new DataView(meta.buffer, meta.byteOffset, meta.byteLength);
  let at = 20;
  for (let i = 0; i < dv.getUint32(16, true); i++) {
    const nameLen = dv.getUint32(at, true);
    const recName = Buffer.from(meta.subarray(at + 4, at + 4 + nameLen)).toString();
    at += 4 + nameLen;
    at += 4 + 8 * dv.getUint32(at, true);
    const fileLen = dv.getUint32(at, true);
    if (recName === name) {
      const len = Buffer.alloc(4); len.writeUInt32LE(Buffer.byteLength(file));
      return Buffer.concat([meta.subarray(0, at), len, Buffer.from(file), meta.subarray(at + 4 + fileLen)]);
    }
    at += 4 + fileLen + 39;
  }
  throw new Error(`no record ${name}`);
}

test('segmented arrays (upstream 0.7) read across segment boundaries', () => {
  const dir = tmpdir('segments');
  const W = 5, segs = [700, 1, 1299, 48];
  const N = segs.reduce((a, b) => a + b);
  const ref = sample('float64', N * W, 21);
  const mem = Store.memory();
  mem.save({ s: { data: ref, shape: [N, W] } });
  fs.writeFileSync(path.join(dir, 'metadata.npkm'), renameDataFile(Buffer.from(mem.files()['metadata.npkm']), 's', 'data_s.npkseg'));
  fs.mkdirSync(path.join(dir, 'data_s_segments'));
  const entries = [];
  let row = 0;
  segs.forEach((rows, i) => {
    const file = `data_s_segments/seg_${String(i).padStart(6, '0')}.npkd`;
    fs.writeFileSync(path.join(dir, file), new Uint8Array(ref.buffer, row * W * 8, rows * W * 8));
    entries.push({ file, rows, bytes: rows * W * 8 });
    row += rows;
  });
  fs.writeFileSync(path.join(dir, 'data_s.npkseg'), JSON.stringify({ version: 1, segments: entries }, null, 2));
  const s = open(dir);
  const check = (live) => {
    const rowsOf = (logical) => pickRows(ref, W, logical.map((l) => live[l]));
    const len = live.length;
    assert.deepEqual(plain(s.load('s').data), rowsOf(Array.from({ length: len }, (_, i) => i)));
    for (const [a, b] of [[695, 705], [699, 702], [0, len], [1990, len]]) {
      assert.deepEqual(plain(s.getitem('s', { start: a, stop: b }).data), rowsOf(sliceRows(len, a, b)), `${a}:${b}`);
    }
    const idx = [699, 700, 701, 702, 1999, 2000, 2001, 5, 6, len - 1];
    assert.deepEqual(plain(s.getitem('s', idx).data), rowsOf(idx));
    assert.deepEqual([...s.streamLoad('s', 333)].flatMap((x) => plain(x.data)), rowsOf(Array.from({ length: len }, (_, i) => i)));
  };
  check(Array.from({ length: N }, (_, i) => i));
  s.drop('s', [0, 699, 700, 1500, 2047]);
  assert.ok(fs.existsSync(path.join(dir, 'data_s.npkseg')), 'dropping rows keeps the segments');
  const gone = new Set([0, 699, 700, 1500, 2047]);
  check(Array.from({ length: N }, (_, i) => i).filter((i) => !gone.has(i)));
  s.close();
  fs.rmSync(dir, { recursive: true });
});
