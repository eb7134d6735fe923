// Runs inside a cross-origin isolated dedicated worker (page-tests.js): starts 2 search threads,
// then checks that threaded search (plain, filtered, multi-query; every metric; float32, float16
// and int8) equals one thread bit for bit. Posts { ok, info } or { ok: false, error }.

const eq = (a, b) => JSON.stringify(Array.from(a, String)) === JSON.stringify(Array.from(b, String));

self.onmessage = async () => {
  try {
    const np = await import('../../src/browser.js');
    if (!self.crossOriginIsolated) throw new Error('worker is not cross-origin isolated');
    const started = await np.startThreads(2);
    const vs = new np.VectorSearch();
    const N = 3001, D = 33;
    const c32 = new Float32Array(N * D).map((_, i) => Math.sin(i * 0.37) + Math.cos(i * 0.011));
    c32.copyWithin(1500 * D, 7 * D, 8 * D); // a tie across the thread boundary
    const sets = {
      float32: { data: c32, shape: [N, D] },
      int8: { data: Int8Array.from(c32, (x) => Math.round(x * 60)), shape: [N, D] },
      float16: { data: Uint16Array.from(c32, (x) => 0x3c00 + Math.round(Math.abs(x) * 100)), shape: [N, D], dtype: 'float16' },
    };
    const mask = Uint8Array.from({ length: N }, (_, i) => (i % 3 === 0 ? 1 : 0));
    let checks = 0;
    for (const [dtype, cands] of Object.entries(sets)) {
      const m = new np.VectorMatrix(cands);
      const q = { ...cands, data: cands.data.slice(7 * D, 8 * D), shape: [D] };
      const qs = { ...cands, data: cands.data.slice(0, 4 * D), shape: [4, D] };
      for (const metric of ['dot', 'cosine', 'l2', 'l2sq']) {
        for (const filter of [undefined, mask, [5, 1500, 2999, 5]]) {
          const one = vs.topK(q, m, metric, 10, { threads: 1, filter });
          const two = vs.topK(q, m, metric, 10, { threads: 2, filter });
          if (!eq(one.indices, two.indices) || !eq(one.scores, two.scores)) throw new Error(`topK ${dtype} ${metric}`);
          const mo = vs.multiQueryTopK(qs, m, metric, 5, { threads: 1, filter });
          const mt = vs.multiQueryTopK(qs, cands, metric, 5, { threads: 2, filter });
          if (!eq(mo.indices, mt.indices) || !eq(mo.scores, mt.scores)) throw new Error(`multi ${dtype} ${metric}`);
          checks += 2;
        }
      }
      m.free();
    }
    self.postMessage({ ok: true, info: `${started} threads started, ${vs.threadsStarted()} in the pool, ${checks} comparisons` });
  } catch (e) {
    self.postMessage({ ok: false, error: `${e?.name}: ${e?.message}\n${e?.stack ?? ''}` });
  }
};
