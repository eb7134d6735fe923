// Browser tests, run in headless Chromium by run.mjs. `?phase=write` / `?phase=read` split the
// OPFS persistence checks across a page reload; `?phase=bench` runs bench.js. Results go to
// window.__results (a result's `info` is printed by the runner).

const results = [];
window.__results = results;
const phase = new URLSearchParams(location.search).get('phase') ?? 'main';

async function test(name, fn) {
  try { await fn(); results.push({ name, ok: true }); } catch (e) { results.push({ name, ok: false, error: `${e?.name}: ${e?.message}\n${e?.stack ?? ''}` }); }
}
function assert(cond, msg) { if (!cond) throw new Error(msg ?? 'assertion failed'); }
const eq = (a, b) => JSON.stringify(Array.from(a, (x) => (typeof x === 'bigint' ? x.toString() : x))) === JSON.stringify(Array.from(b, (x) => (typeof x === 'bigint' ? x.toString() : x)));

/** A seeded generator (mulberry32): the same operations on every run. */
function rng(seed) {
  return (n) => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (((t ^ (t >>> 14)) >>> 0) % n);
  };
}

/** Checks that the store holds exactly the arrays of `model` ({ name: rows }, rows of 4 float32). */
async function expectModel(ws, model, where) {
  const names = Object.keys(model).sort();
  assert(eq((await ws.list()).sort(), names), `${where}: arrays ${await ws.list()} vs ${names}`);
  for (const n of names) {
    const got = await ws.load(n);
    assert(eq(got.shape, [model[n].length, 4]) && eq(got.data, model[n].flat()), `${where}: ${n}`);
  }
}

/** Saves, appends, replaces, drops (rows and arrays), compacts, clones and resets at random,
 * mirroring each call in a model; returns the model. */
async function churn(ws) {
  const rand = rng(11);
  const names = ['p', 'q', 'r', 's', 't'];
  const model = {};
  let next = 0;
  const rows = (n) => Array.from({ length: n }, () => { next++; return [next, -next, next / 2, next % 7]; });
  const f32 = (r) => new Float32Array(r.flat());
  for (let step = 0; step < 120; step++) {
    const name = names[rand(names.length)];
    const cur = model[name];
    const r = rand(100);
    if (!cur || r < 12) {
      const v = rows(1 + rand(40));
      await ws.save({ [name]: { data: f32(v), shape: [v.length, 4] } });
      model[name] = v;
    } else if (r < 27) {
      const v = rows(1 + rand(20));
      await ws.append(name, f32(v));
      cur.push(...v);
    } else if (r < 40) {
      const idx = [...new Set(Array.from({ length: 1 + rand(4) }, () => rand(cur.length)))];
      const v = rows(idx.length);
      await ws.replace(name, idx, f32(v));
      idx.forEach((i, k) => { cur[i] = v[k]; });
    } else if (r < 60 && cur.length > 1) {
      const idx = [...new Set(Array.from({ length: 1 + rand(Math.min(5, cur.length - 1)) }, () => rand(cur.length)))];
      await ws.drop(name, idx);
      model[name] = cur.filter((_, i) => !idx.includes(i));
    } else if (r < 75) {
      await ws.compact(name);
    } else if (r < 85) {
      const dst = names.find((n) => !model[n]);
      if (dst) { await ws.clone(name, dst); model[dst] = cur.map((row) => row.slice()); }
    } else if (r < 97) {
      await ws.drop(name);
      delete model[name];
    } else {
      await ws.reset();
      for (const n of Object.keys(model)) delete model[n];
    }
    if (step % 10 === 9) await expectModel(ws, model, `step ${step}`);
  }
  await expectModel(ws, model, 'end of write phase');
  return model;
}

async function main() {
  const np = await import('../../src/browser.js');
  const { WorkerStore } = await import('../../src/worker-client.js');

  if (phase === 'main') {
    await test('browser build loads with simd128', async () => {
      assert(np.simdSupported, 'simd not supported');
      assert(np.kernelTier() === 'simd128', np.kernelTier());
    });
    await test('in-memory store on the main thread: every dtype round-trips', async () => {
      const s = np.Store.memory();
      for (const dt of np.DTYPE_NAMES) {
        const info = { bool: Uint8Array, int64: BigInt64Array, uint64: BigUint64Array, complex64: Float32Array, complex128: Float64Array }[dt];
        const lanes = dt.startsWith('complex') ? 2 : 1;
        let data;
        if (dt === 'int64' || dt === 'uint64') data = new info(6).map((_, i) => BigInt(i));
        else if (dt === 'float16') data = Uint16Array.from([0x3c00, 0x4000, 0x4200, 0x4400, 0x4500, 0x4600]);
        else if (info) data = new info(6 * lanes).map((_, i) => i % 2);
        else data = new ({ uint8: Uint8Array, uint16: Uint16Array, uint32: Uint32Array, int8: Int8Array, int16: Int16Array, int32: Int32Array, float32: Float32Array, float64: Float64Array }[dt])(6).map((_, i) => i);
        s.save({ [dt]: { data, shape: [3, 2], dtype: dt } });
        const back = s.load(dt);
        assert(back.dtype === dt && eq(back.shape, [3, 2]), dt);
        if (dt === 'float16' && np.HAS_FLOAT16ARRAY) assert(back.data[0] === 1, 'float16 as Float16Array');
        else assert(eq(back.data, data), `${dt} data`);
      }
    });
    await test('vector search in the page (simd128 == scalar)', async () => {
      const scalar = await np.createNumPack({ kernels: 'scalar' });
      const N = 2000, D = 64;
      const c = new Float32Array(N * D).map((_, i) => Math.sin(i * 0.013) + Math.cos(i * 0.7));
      const q = c.slice(17 * D, 18 * D);
      for (const m of ['dot', 'cosine', 'l2', 'l2sq']) {
        const a = new np.VectorSearch().topK(q, { data: c, shape: [N, D] }, m, 10);
        const b = new scalar.VectorSearch().topK(q, { data: c, shape: [N, D] }, m, 10);
        assert(eq(a.indices, b.indices) && eq(a.scores, b.scores), m);
      }
    });
    await test('page thread: threads fall back to one thread; filters work', async () => {
      const N = 500, D = 16;
      const c = new Float32Array(N * D).map((_, i) => Math.sin(i * 0.3));
      const vs = new np.VectorSearch();
      for (const m of ['dot', 'l2']) {
        const a = vs.topK(c.slice(0, D), { data: c, shape: [N, D] }, m, 5, { threads: 1 });
        const b = vs.topK(c.slice(0, D), { data: c, shape: [N, D] }, m, 5, { threads: 4 });
        assert(eq(a.indices, b.indices) && eq(a.scores, b.scores), m);
        const f = vs.topK(c.slice(0, D), { data: c, shape: [N, D] }, m, 5, { filter: [3, 9, 9, 400] });
        assert(eq([...f.indices].sort((x, y) => x - y), [3, 9, 400]), `filter ${m}: ${[...f.indices]}`);
      }
      assert(vs.threadsStarted() === 0, 'no threads on the page thread');
    });
    await test('cross-origin isolated worker: threaded search == one thread, bit for bit', async () => {
      assert(self.crossOriginIsolated, 'page is not cross-origin isolated');
      const w = new Worker(new URL('./threads-worker.js', import.meta.url), { type: 'module' });
      const r = await new Promise((resolve) => { w.onmessage = (ev) => resolve(ev.data); w.onerror = (e) => resolve({ ok: false, error: e.message }); w.postMessage('go'); });
      w.terminate();
      if (!r.ok) throw new Error(r.error);
      results.push({ name: 'threads in a worker', ok: true, info: r.info });
    });
    await test('worker store: startThreads, then threaded (and filtered) topK == one thread', async () => {
      const ws = await WorkerStore.open({});
      try {
        assert((await ws.startThreads(2)) >= 2, 'threads started');
        const N = 1001, D = 8;
        const c = { data: new Float32Array(N * D).map((_, i) => Math.cos(i * 0.21)), shape: [N, D] };
        const q = c.data.slice(3 * D, 4 * D);
        for (const filter of [undefined, [1, 500, 999, 500]]) {
          const a = await ws.topK(q, c, 'l2', 5, { threads: 1, filter });
          const b = await ws.topK(q, c, 'l2', 5, { threads: 2, filter });
          assert(eq(a.indices, b.indices) && eq(a.scores, b.scores), `filter ${filter}`);
        }
      } finally {
        await ws.close();
      }
    });
    await test('worker store in memory: save / load / topKStored', async () => {
      const ws = await WorkerStore.open({});
      const N = 500, D = 8;
      const e = new Float32Array(N * D).map((_, i) => (i * 7919) % 13 - 6);
      await ws.save({ e: { data: e, shape: [N, D] } });
      const back = await ws.load('e');
      assert(eq(back.data, e), 'data');
      const r = await ws.topKStored('e', e.slice(3 * D, 4 * D), 'l2', 1);
      assert(r.indices[0] === 3 || r.scores[0] === 0, 'top-1 is itself');
      let err;
      try { await ws.load('nope'); } catch (x) { err = x; }
      assert(err instanceof np.NotFoundError, `error class ${err?.name}`);
      await ws.close();
    });
    await test('OPFS store in a worker: write, reopen, same bytes as in memory', async () => {
      const root = await navigator.storage.getDirectory();
      try { await root.removeEntry('np-test-a', { recursive: true }); } catch {}
      let t = 0;
      const ws = await WorkerStore.open({ opfs: 'np-test-a' });
      await ws.save({ a: { data: new Int32Array([1, 2, 3, 4]), shape: [2, 2] }, b: new Float64Array([0.5]) });
      await ws.append('a', new Int32Array([5, 6]));
      await ws.drop('a', [0]);
      await ws.close();
      const ws2 = await WorkerStore.open({ opfs: 'np-test-a' });
      const a = await ws2.load('a');
      assert(eq(a.data, [3, 4, 5, 6]) && eq(a.shape, [2, 2]), `reopened ${JSON.stringify(Array.from(a.data))}`);
      await ws2.compact('a');
      assert(eq((await ws2.load('a')).data, [3, 4, 5, 6]), 'after compact');
      await ws2.close();
      // The OPFS folder holds exactly the files a store has.
      const dir = await root.getDirectoryHandle('np-test-a');
      const names = [];
      for await (const [n] of dir.entries()) names.push(n);
      names.sort();
      assert(eq(names, ['data_a.npkd', 'data_b.npkd', 'metadata.npkm']), names.join(','));
    });
    await test('a second open of the same OPFS store is refused', async () => {
      const ws = await WorkerStore.open({ opfs: 'np-test-lock' });
      let err;
      try { await WorkerStore.open({ opfs: 'np-test-lock' }); } catch (x) { err = x; }
      assert(err instanceof np.StoreLockedError, `got ${err?.name}`);
      await ws.close();
    });
    await test('crash-free on a corrupt OPFS store', async () => {
      const root = await navigator.storage.getDirectory();
      const dir = await root.getDirectoryHandle('np-test-corrupt', { create: true });
      const fh = await dir.getFileHandle('metadata.npkm', { create: true });
      const w = await fh.createWritable(); await w.write(new Uint8Array([0x4e, 0x50, 0x4b, 0x42, 1, 0, 0, 0, 9])); await w.close();
      for (let i = 0; i < 2; i++) { // a failed open leaves no lock or handle behind
        let err;
        try { await WorkerStore.open({ opfs: 'np-test-corrupt' }); } catch (x) { err = x; }
        assert(err instanceof np.CorruptStoreError, `open ${i + 1}: got ${err?.name}: ${err?.message}`);
      }
    });
    await test('OPFS open reads no array data: only the rows asked for are read', async () => {
      const root = await navigator.storage.getDirectory();
      try { await root.removeEntry('np-test-lazy', { recursive: true }); } catch {}
      const N = 8192, D = 1024; // 32 MiB
      const big = new Float32Array(N * D).map((_, i) => i % 4093);
      let ws = await WorkerStore.open({ opfs: 'np-test-lazy' });
      await ws.save({ big: { data: big, shape: [N, D] }, small: new Int32Array([7, 8, 9]) });
      await ws.close();
      ws = await WorkerStore.open({ opfs: 'np-test-lazy' });
      const opened = await ws.call('ioStats');
      assert(opened.bytesRead < 1024, `open read ${opened.bytesRead} bytes`);
      const row = await ws.getitem('big', 5000);
      assert(eq(row.data, big.subarray(5000 * D, 5001 * D)), 'row 5000');
      assert((await ws.call('ioStats')).bytesRead - opened.bytesRead === D * 4, 'one row read one row');
      const all = await ws.load('big');
      assert(eq(all.data, big), 'whole array');
      assert((await ws.call('ioStats')).bytesRead - opened.bytesRead === D * 4 + N * D * 4, 'load read the array once');
      await ws.close();
      await root.removeEntry('np-test-lazy', { recursive: true });
    });
    await test('OPFS back end in a worker: callbacks vs a model, and reads of unflushed writes', async () => {
      const worker = new Worker(new URL('./opfs-worker-tests.js', import.meta.url), { type: 'module' });
      const got = await new Promise((resolve, reject) => {
        worker.onmessage = (ev) => resolve(ev.data);
        worker.onerror = (ev) => reject(new Error(ev.message));
      });
      worker.terminate();
      for (const r of got) results.push({ ...r, name: `  ${r.name}` });
      assert(got.length === 2 && got.every((r) => r.ok), `${got.filter((r) => !r.ok).length} failed`);
    });
    await test('package round trip (fetch-style ArrayBuffer)', async () => {
      const s = np.Store.memory();
      s.save({ v: { data: new Float32Array([1, 2, 3, 4, 5, 6]), shape: [3, 2] } });
      const pkg = s.toPackage();
      const s2 = np.Store.fromPackage(pkg.buffer);
      assert(eq(s2.load('v').data, [1, 2, 3, 4, 5, 6]), 'package data');
    });
  } else if (phase === 'write') {
    await test('persist: write phase', async () => {
      const root = await navigator.storage.getDirectory();
      try { await root.removeEntry('np-test-reload', { recursive: true }); } catch {}
      const ws = await WorkerStore.open({ opfs: 'np-test-reload' });
      const N = 300, D = 16;
      await ws.save({ emb: { data: new Float32Array(N * D).map((_, i) => Math.sin(i)), shape: [N, D] } });
      await ws.close();
    });
  } else if (phase === 'read') {
    await test('persist: read phase after a page reload', async () => {
      const ws = await WorkerStore.open({ opfs: 'np-test-reload' });
      const e = await ws.load('emb');
      const want = new Float32Array(300 * 16).map((_, i) => Math.sin(i));
      assert(eq(e.data, want) && eq(e.shape, [300, 16]), 'data after reload');
      const r = await ws.topKStored('emb', want.slice(42 * 16, 43 * 16), 'cosine', 3);
      assert(r.indices[0] === 42, `top-1 ${r.indices[0]}`);
      await ws.close();
    });
  } else if (phase === 'write-ops') {
    await test('persist after drops, compactions, clones and renames: write phase (no close)', async () => {
      const root = await navigator.storage.getDirectory();
      try { await root.removeEntry('np-test-ops', { recursive: true }); } catch {}
      const model = await churn(await WorkerStore.open({ opfs: 'np-test-ops' }));
      localStorage.setItem('np-test-ops', JSON.stringify(model));
      // Not closed: the reload kills the worker, and every acknowledged call must be on OPFS.
    });
  } else if (phase === 'read-ops') {
    await test('persist after drops, compactions, clones and renames: read phase after a reload', async () => {
      let ws;
      for (let i = 0; !ws; i++) { // the killed worker's lock is released shortly after the reload
        try { ws = await WorkerStore.open({ opfs: 'np-test-ops' }); } catch (e) {
          if (!(e instanceof np.StoreLockedError) || i > 50) throw e;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      await expectModel(ws, JSON.parse(localStorage.getItem('np-test-ops')), 'after reload');
      await ws.close();
    });
  } else if (phase === 'bench') {
    const { bench } = await import('./bench.js');
    // The runner answers window.__rssReq (a counter) with window.__rssResp = { n, bytes }.
    const rss = async () => {
      const n = (window.__rssReq ?? 0) + 1;
      window.__rssReq = n;
      while (window.__rssResp?.n !== n) await new Promise((r) => setTimeout(r, 20));
      return window.__rssResp.bytes;
    };
    await test('page benchmark', () => bench(WorkerStore, (name, info, fig) => results.push({ name, ok: true, info, ...fig }), rss, np));
  } else if (phase === 'cross') {
    await test('cross-runtime: open the store written by another runtime', async () => {
      const pkg = await (await fetch('/cross/store.npkg')).arrayBuffer();
      const expect = await (await fetch('/cross/expect.json')).json();
      const s = np.Store.fromPackage(pkg);
      for (const [name, want] of Object.entries(expect.arrays)) {
        const a = s.load(name);
        assert(a.dtype === want.dtype && eq(a.shape, want.shape), `${name} meta`);
        assert(eq(a.data, want.data.map((x) => (a.data instanceof BigInt64Array || a.data instanceof BigUint64Array ? BigInt(x) : x))), `${name} data`);
      }
      if (expect.search) {
        const q = s.getitem(expect.search.array, expect.search.row).data;
        const r = new np.VectorSearch().topKStored(s, expect.search.array, q, expect.search.metric, expect.search.k);
        assert(eq(r.indices, expect.search.indices), `search ${Array.from(r.indices)} vs ${expect.search.indices}`);
      }
    });
  }
}

main().catch((e) => results.push({ name: 'page', ok: false, error: `${e?.name}: ${e?.message}\n${e?.stack}` }))
  .finally(() => { window.__done = true; });
