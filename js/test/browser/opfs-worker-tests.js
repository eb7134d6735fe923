// Tests of the OPFS back end itself, run in a dedicated worker (sync access handles exist only
// there) by page-tests.js: raw callbacks against a model of the files, across flushes and
// reopens, and a store whose reads meet writes not yet flushed. Posts [{ name, ok, error }].

import { OpfsBackend } from '../../src/opfs.js';
import { Store } from '../../src/browser.js';

const results = [];
async function test(name, fn) {
  try { await fn(); results.push({ name, ok: true }); } catch (e) { results.push({ name, ok: false, error: `${e?.name}: ${e?.message}\n${e?.stack ?? ''}` }); }
}
function assert(cond, msg) { if (!cond) throw new Error(msg ?? 'assertion failed'); }
const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
/** A seeded generator (mulberry32): the same operations on every run. */
function rng(seed) {
  return (n) => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (((t ^ (t >>> 14)) >>> 0) % n);
  };
}
async function fresh(name) {
  const root = await navigator.storage.getDirectory();
  try { await root.removeEntry(name, { recursive: true }); } catch {}
}

await test('OPFS callbacks match a model of the files across writes, truncations, renames, removes, flushes and reopens', async () => {
  const NAME = 'np-test-callbacks';
  await fresh(NAME);
  const rand = rng(7);
  const model = new Map(); // path → Uint8Array
  const paths = ['a', 'b', 'c', 's/x', 's/y'];
  let be = await OpfsBackend.open(NAME);
  be.createDir('s');
  const check = (where) => {
    for (const p of paths) {
      const want = model.get(p);
      assert(be.len(p) === (want ? want.length : null), `${where}: len(${p}) ${be.len(p)} vs ${want?.length}`);
      if (!want) continue;
      // Into a slice of a bigger array, as large reads do: the bytes around it stay untouched.
      const off = rand(want.length + 1), n = rand(want.length - off + 1);
      const big = new Uint8Array(n + 8).fill(0xee);
      be.readAt(p, off, big.subarray(4, 4 + n));
      assert(same(big.subarray(4, 4 + n), want.subarray(off, off + n)), `${where}: ${p}[${off}..${off + n}]`);
      assert(big[3] === 0xee && big[4 + n] === 0xee, `${where}: read outside its slice`);
      const whole = new Uint8Array(want.length);
      be.readAt(p, 0, whole);
      assert(same(whole, want), `${where}: whole ${p}`);
      let err;
      try { be.readAt(p, want.length - n, new Uint8Array(n + 1)); } catch (e) { err = e; }
      assert(err?.code === 'EOF', `${where}: read past the end of ${p}`);
    }
    for (const d of ['', 's']) {
      const want = paths.filter((p) => model.has(p) && (p.startsWith('s/') ? 's' : '') === d).map((p) => p.slice(p.lastIndexOf('/') + 1));
      assert(same(be.list(d).sort(), want.sort()), `${where}: list(${d})`);
    }
  };
  let flushes = 0, reopens = 0, direct = 0;
  for (let step = 0; step < 500; step++) {
    const p = paths[rand(paths.length)];
    const cur = model.get(p);
    const r = rand(100);
    const where = `step ${step}`;
    if (r < 40) {
      const off = rand((cur?.length ?? 0) + 3000), n = 1 + rand(5000);
      const data = new Uint8Array(n).map(() => rand(256));
      if (be.pending === 0 && cur) direct++;
      be.writeAt(p, off, data);
      const next = new Uint8Array(Math.max(cur?.length ?? 0, off + n));
      if (cur) next.set(cur);
      next.set(data, off);
      model.set(p, next);
    } else if (r < 55) {
      const len = rand((cur?.length ?? 0) + 4000);
      be.setLen(p, len);
      const next = new Uint8Array(len);
      if (cur) next.set(cur.subarray(0, Math.min(len, cur.length)));
      model.set(p, next);
    } else if (r < 70 && cur) {
      const to = paths[rand(paths.length)];
      if (to === p) continue;
      be.rename(p, to);
      model.delete(p);
      model.set(to, cur);
    } else if (r < 78) {
      be.remove(p);
      model.delete(p);
    } else if (r < 90) {
      await be.flush();
      flushes++;
      assert(be.pending === 0 && be.stats.pendingBytes === 0, 'flush leaves nothing pending');
    } else if (r < 93) {
      await be.close();
      be = await OpfsBackend.open(NAME);
      reopens++;
    }
    check(where);
  }
  assert(flushes > 20 && reopens > 5 && direct > 10, `coverage: ${flushes} flushes, ${reopens} reopens, ${direct} direct writes`);
  await be.close();
  // What OPFS holds, read without the back end.
  const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle(NAME);
  for (const p of paths) {
    const [sub, base] = p.includes('/') ? p.split('/') : [null, p];
    const d = sub ? await dir.getDirectoryHandle(sub) : dir;
    let bytes = null;
    try { bytes = new Uint8Array(await (await (await d.getFileHandle(base)).getFile()).arrayBuffer()); } catch (e) { if (e.name !== 'NotFoundError') throw e; }
    const want = model.get(p);
    assert(want ? bytes && same(bytes, want) : !bytes, `on OPFS: ${p}`);
  }
});

await test('a store reads back what it wrote before and after the flush, and after a reopen', async () => {
  const NAME = 'np-test-overlay';
  await fresh(NAME);
  const D = 3;
  const rows = (n, from) => Array.from({ length: n }, (_, i) => [from + i, -(from + i), (from + i) / 4]);
  let want = rows(1000, 0);
  const check = (s, where) => {
    const got = s.load('a');
    assert(got.shape[0] === want.length && got.shape[1] === D, `${where}: shape ${got.shape}`);
    assert(same(got.data, want.flat()), `${where}: data`);
    const k = want.length >> 1;
    assert(same(s.getitem('a', k).data, want[k]), `${where}: row ${k}`);
  };
  let be = await OpfsBackend.open(NAME);
  let s = Store.fromBackend(be);
  s.save({ a: { data: new Float64Array(want.flat()), shape: [want.length, D] } });
  assert(be.pending > 0 && be.stats.pendingBytes >= want.length * D * 8, `unflushed save: ${JSON.stringify(be.stats)}`);
  check(s, 'save, not flushed');
  s.append('a', new Float64Array(rows(50, 1000).flat()));
  want = want.concat(rows(50, 1000));
  s.replace('a', [3, 999, 1049], new Float64Array(rows(3, 5000).flat()));
  [want[3], want[999], want[1049]] = rows(3, 5000);
  s.drop('a', [0, 1, 2, 500]);
  want = want.filter((_, i) => ![0, 1, 2, 500].includes(i));
  check(s, 'append, replace, drop, not flushed');
  s.compact('a'); // reads the unflushed rows and bitmap, writes a new file over the old one
  s.clone('a', 'b');
  check(s, 'compact, not flushed');
  assert(same(s.load('b').data, want.flat()), 'clone, not flushed');
  await be.flush();
  assert(be.pending === 0 && be.stats.pendingBytes === 0, 'flushed');
  check(s, 'flushed');
  // Nothing pending: these go straight to OPFS.
  s.append('a', new Float64Array(rows(7, 2000).flat()));
  want = want.concat(rows(7, 2000));
  s.replace('a', { start: 10, stop: 12 }, new Float64Array(rows(2, 3000).flat()));
  [want[10], want[11]] = rows(2, 3000);
  check(s, 'in place');
  s.drop('b');
  await be.flush();
  s.close();
  await be.close();
  be = await OpfsBackend.open(NAME);
  const before = be.stats.bytesRead;
  s = Store.fromBackend(be);
  assert(be.stats.bytesRead - before < 1024, `open read ${be.stats.bytesRead - before} bytes`);
  check(s, 'reopened');
  assert(same(s.list(), ['a']), `arrays ${s.list()}`);
  s.close();
  await be.close();
  let err;
  try { be.len('metadata.npkm'); } catch (e) { err = e; }
  assert(err, 'a closed back end refuses calls');
});

postMessage(results);
