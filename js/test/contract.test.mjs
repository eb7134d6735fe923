// Contract regressions of issue 9 (items 3, 13, 14, 15, 16): indices never wrap, masks are
// checked by the core, open() on a file is a documented error, a back end may report a missing
// file to remove() with ENOENT, and casts are NumPy's bit for bit (NumPy in .venv computes the
// expected bytes).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { Store, open, IndexError, ValueError, NumPackError, StoreIOError, toHalfBits } from '../src/node.js';
import { plain, tmpdir, readTree, sameFiles } from './helpers.mjs';

const repo = path.resolve(new URL('../..', import.meta.url).pathname);
const py = path.join(repo, '.venv/bin/python');

/** Runs NumPy code in the project's venv (scripts/setup.sh installs it); the last stdout line is JSON. */
function numpy(code, input) {
  const r = spawnSync(py, ['-c', code], { input, encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`python failed (run scripts/setup.sh):\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

const five = () => {
  const s = Store.memory();
  s.save({ a: { data: Float64Array.from({ length: 10 }, (_, i) => i), shape: [5, 2] } });
  return s;
};

test('indices no int64 holds are IndexError in getitem / replace / drop, never wrapped (item 3)', () => {
  const s = five();
  const before = JSON.stringify(s.files(), (k, v) => (v instanceof Uint8Array ? [...v] : v));
  const huge = [2 ** 64, 2n ** 64n, 2n ** 64n + 4n, -(2n ** 64n), 2n ** 63n, -(2n ** 63n) - 1n, 1e300, -1e300];
  for (const i of huge) {
    assert.throws(() => s.getitem('a', i), IndexError, String(i));
    assert.throws(() => s.getitem('a', [0, i]), IndexError, String(i));
    assert.throws(() => s.replace('a', i, [9, 9]), IndexError, String(i));
    assert.throws(() => s.replace('a', [i], [9, 9]), IndexError, String(i));
    assert.throws(() => s.drop('a', [i]), IndexError, String(i));
    assert.throws(() => s.drop('a', i), IndexError, String(i));
  }
  // In range of int64 but not of the array: the core's IndexError too.
  assert.throws(() => s.getitem('a', 2n ** 63n - 1n), IndexError);
  assert.throws(() => s.getitem('a', -(2n ** 63n)), IndexError);
  assert.equal(JSON.stringify(s.files(), (k, v) => (v instanceof Uint8Array ? [...v] : v)), before, 'nothing changed');
  // Slice bounds beyond int64 mean the same slice, clamped (as Python's slice.indices).
  assert.deepEqual(plain(s.getitem('a', { start: 3, stop: 2 ** 70 }).data), [6, 7, 8, 9]);
  assert.deepEqual(plain(s.getitem('a', { start: -(2n ** 80n), stop: 1n }).data), [0, 1]);
  assert.throws(() => s.getitem('a', { start: 0.5 }), ValueError);
});

test('a boolean mask of the wrong length is IndexError; the right length selects (item 13)', () => {
  const s = five();
  for (const mask of [[true, false], [true, false, true, false, true, false], [false]]) {
    assert.throws(() => s.getitem('a', mask), IndexError);
    assert.throws(() => s.replace('a', mask, [1, 1]), IndexError);
    assert.throws(() => s.drop('a', mask), IndexError);
  }
  assert.deepEqual(s.shape('a'), [5, 2]);
  const mask = [true, false, false, true, true];
  assert.deepEqual(plain(s.getitem('a', mask).data), plain(s.getitem('a', [0, 3, 4]).data));
  s.replace('a', mask, { data: [10, 11, 30, 31, 40, 41], shape: [3, 2] });
  assert.deepEqual(plain(s.load('a').data), [10, 11, 2, 3, 4, 5, 30, 31, 40, 41]);
  s.drop('a', mask);
  assert.deepEqual(plain(s.load('a').data), [2, 3, 4, 5]);
});

test('open() on a regular file or a bad path throws a documented error (item 14)', () => {
  const dir = tmpdir('openfile');
  const file = path.join(dir, 'file');
  fs.writeFileSync(file, 'x');
  assert.throws(() => open(file), (e) => e instanceof StoreIOError && e instanceof NumPackError && /file/.test(e.message));
  assert.throws(() => open(path.join(file, 'below')), StoreIOError);
  for (const bad of ['', 42, null, undefined, 'a\0b', {}]) assert.throws(() => open(bad), ValueError, String(bad));
  assert.equal(fs.readFileSync(file, 'utf8'), 'x');
});

/** An in-memory IoBackend whose remove()/removeDir() of a missing path throws ENOENT, as the
 * types allow (the strictest reading of the contract). */
class StrictBackend {
  files = new Map();
  dirs = new Set(['']);
  stamps = new Map();
  tick = 0n;
  clock = 1;
  static enoent(p) { return Object.assign(new Error(`${p}: no such file`), { code: 'ENOENT' }); }
  #touch(p) { this.stamps.set(p, ++this.tick); }
  readAt(p, offset, into) {
    const f = this.files.get(p);
    if (!f) throw StrictBackend.enoent(p);
    if (offset + into.length > f.length) throw Object.assign(new Error('short'), { code: 'EOF' });
    into.set(f.subarray(offset, offset + into.length));
  }
  writeAt(p, offset, data) {
    let f = this.files.get(p) ?? new Uint8Array(0);
    if (offset + data.length > f.length) { const g = new Uint8Array(offset + data.length); g.set(f); f = g; }
    f.set(data, offset);
    this.files.set(p, f);
    this.#touch(p);
  }
  len(p) { return this.files.has(p) ? this.files.get(p).length : null; }
  setLen(p, len) {
    const f = this.files.get(p) ?? new Uint8Array(0);
    const g = new Uint8Array(len); g.set(f.subarray(0, len)); this.files.set(p, g); this.#touch(p);
  }
  sync() {}
  rename(from, to) {
    if (!this.files.has(from)) throw StrictBackend.enoent(from);
    this.files.set(to, this.files.get(from)); this.files.delete(from); this.stamps.delete(from); this.#touch(to);
  }
  missing = 0; // remove() calls that reported ENOENT
  remove(p) {
    if (!this.files.delete(p)) { this.missing += 1; throw StrictBackend.enoent(p); }
    this.stamps.delete(p);
  }
  createDir(d) { this.dirs.add(d); }
  removeDir(d) { if (!this.dirs.delete(d)) throw StrictBackend.enoent(d); }
  list(d) {
    const pre = d === '' ? '' : `${d}/`;
    return [...this.files.keys()].filter((p) => p.startsWith(pre) && !p.slice(pre.length).includes('/')).map((p) => p.slice(pre.length));
  }
  stamp(p) { return this.stamps.get(p) ?? null; }
  now() { return this.clock++; }
  lock() {}
  unlock() {}
}

test('a back end whose remove() of a missing file reports ENOENT works for every call (item 15)', () => {
  const be = new StrictBackend();
  const s = Store.fromBackend(be);
  const m = Store.memory();
  const ops = [
    (x) => x.save({ a: { data: Float32Array.from({ length: 12 }, (_, i) => i), shape: [6, 2] }, b: { data: Int32Array.from({ length: 6 }, (_, i) => i), shape: [6, 1] } }),
    (x) => x.drop('a', [1, 3]),
    (x) => x.drop('b', [0]),
    (x) => x.append('a', { data: [100, 101], shape: [1, 2] }),
    (x) => x.compact('a'),
    (x) => x.clone('b', 'c'),
    (x) => x.drop(['a', 'b']),
    (x) => x.save({ a: { data: Float32Array.of(1, 2), shape: [1, 2] } }),
    (x) => x.reset(),
    (x) => x.save({ z: { data: Uint8Array.of(7), shape: [1] } }),
  ];
  for (const op of ops) {
    op(s); op(m);
    assert.deepEqual(s.list(), m.list());
    for (const n of s.list()) assert.deepEqual(plain(s.load(n).data), plain(m.load(n).data), n);
  }
  assert.ok(be.missing > 0, 'the calls removed missing files (the case under test)');
});

test('casts on save / append are NumPy\'s bit for bit (item 16)', () => {
  // float64 → float16: values near every kind of rounding boundary, incl. the 1 + 2^-11 + 2^-40.
  let x = 12345;
  const next = () => { x = (Math.imul(x, 1103515245) + 12345) >>> 0; return x / 2 ** 32; };
  const doubles = [1 + 2 ** -11 + 2 ** -40, 65504, 65519.99, 65520, -65520, 2 ** -24, 2 ** -25, 2 ** -25 + 2 ** -60, 3 * 2 ** -26, 6.1e-5, -0, 0, Infinity, -Infinity, NaN];
  for (let i = 0; i < 3000; i++) {
    const h = toHalfBits((next() - 0.5) * 2 ** Math.floor(next() * 40 - 24)) & 0x7bff;
    const v = new Float64Array(1);
    // A half plus (almost exactly) half an ulp of it: the double rounding cases.
    const base = Number(h & 0x7c00 ? (1 + (h & 0x3ff) / 1024) * 2 ** ((h >> 10) - 15) : (h & 0x3ff) * 2 ** -24);
    const ulp = h & 0x7c00 ? 2 ** ((h >> 10) - 25) : 2 ** -24;
    v[0] = base + ulp / 2 + (next() - 0.5) * ulp * 2 ** -30 * (i % 3);
    doubles.push(i % 2 ? -v[0] : v[0], base + ulp * next());
  }
  const ints = [2n ** 60n + 1n, -(2n ** 63n), 2n ** 63n - 1n, 2n ** 62n + 2n ** 38n + 1n, (1n << 53n) + (1n << 29n) + 1n, -(2n ** 40n) - 3n, 255n, -129n];
  for (let i = 0; i < 500; i++) ints.push(BigInt.asIntN(64, (BigInt(Math.floor(next() * 2 ** 32)) << 32n) | BigInt(Math.floor(next() * 2 ** 32))));
  const targets = ['int32', 'int16', 'int8', 'uint8', 'uint16', 'uint32', 'uint64', 'float64', 'float32', 'float16', 'complex64'];
  const want = numpy(`
import json, sys, numpy as np
d = json.loads(sys.stdin.read())
f = np.frombuffer(bytes.fromhex(d["doubles"]), dtype="<f8")
i = np.array([int(v) for v in d["ints"]], dtype=np.int64)
out = {"f16": f.astype(np.float16).tobytes().hex()}
for t in d["targets"]:
    out[t] = i.astype(t).tobytes().hex()
print(json.dumps(out))
`, JSON.stringify({ doubles: Buffer.from(Float64Array.from(doubles).buffer).toString('hex'), ints: ints.map(String), targets }));
  const hex = (a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');
  for (const s of [Store.memory(), open(tmpdir('casts'))]) {
    // save() with a dtype casts; append() casts with same_kind into the stored dtype.
    s.save({ h: { data: Float64Array.from(doubles), dtype: 'float16' } });
    assert.equal(hex(s.load('h').data), want.f16, 'float64 → float16 on save');
    s.save({ h2: { data: new Uint16Array(0), dtype: 'float16', shape: [0] } });
    s.append('h2', Float64Array.from(doubles));
    assert.equal(hex(s.load('h2').data), want.f16, 'float64 → float16 on append');
    for (const t of targets) {
      s.save({ [t]: { data: BigInt64Array.from(ints), dtype: t } });
      assert.equal(hex(s.load(t).data), want[t], `int64 → ${t} on save`);
      if (t.startsWith('int') || t.startsWith('float') || t.startsWith('complex')) {
        s.save({ [`${t}_app`]: { data: BigInt64Array.of(), dtype: t, shape: [0] } });
        s.append(`${t}_app`, BigInt64Array.from(ints));
        assert.equal(hex(s.load(`${t}_app`).data), want[t], `int64 → ${t} on append`);
      }
    }
    s.close();
  }
  // And the files Node writes equal the files NumPy's values would give (same bytes on disk).
  const dir = tmpdir('casts-files');
  const s = open(dir, { clock: () => 1 });
  s.save({ i: { data: BigInt64Array.from(ints), dtype: 'int32' } });
  s.close();
  const ref = tmpdir('casts-ref');
  const r = open(ref, { clock: () => 1 });
  r.save({ i: { data: new Int32Array(Uint8Array.from(Buffer.from(want.int32, 'hex')).buffer), dtype: 'int32' } });
  r.close();
  assert.equal(sameFiles(readTree(dir), readTree(ref)), null);
});
