// The page benchmark's threaded figures (bench.js): inside a cross-origin isolated dedicated
// worker (where a search may block on its threads), top-10 over 1M × 128 float32 on one thread
// and on two (this worker + one search thread holding its half), interleaved, median of 7.
// Posts { ok, figures: { metric: [oneMs, twoMs, identical] } } or { ok: false, error }.

self.onmessage = async () => {
  try {
    const np = await import('../../src/browser.js');
    if (!self.crossOriginIsolated) throw new Error('worker is not cross-origin isolated');
    await np.startThreads(1);
    const N = 1_000_000, D = 128;
    let seed = 12345;
    const rnd = () => { seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0; return seed / 2 ** 32 - 0.5; };
    const query = Float32Array.from({ length: D }, rnd);
    let data = new Float32Array(N * D);
    for (let i = 0; i < data.length; i++) data[i] = rnd();
    const m = new np.VectorMatrix({ data, shape: [N, D] });
    data = null; // the matrix holds its own copy
    const vs = new np.VectorSearch();
    const figures = {};
    for (const metric of ['cosine', 'l2', 'dot']) {
      for (let i = 0; i < 3; i++) { vs.topK(query, m, metric, 10, { threads: 1 }); vs.topK(query, m, metric, 10, { threads: 2 }); }
      const one = [], two = [];
      for (let i = 0; i < 7; i++) {
        let t = performance.now(); vs.topK(query, m, metric, 10, { threads: 1 }); one.push(performance.now() - t);
        t = performance.now(); vs.topK(query, m, metric, 10, { threads: 2 }); two.push(performance.now() - t);
      }
      const r1 = vs.topK(query, m, metric, 10, { threads: 1 }), r2 = vs.topK(query, m, metric, 10, { threads: 2 });
      const same = JSON.stringify([...r1.indices, ...r1.scores]) === JSON.stringify([...r2.indices, ...r2.scores]);
      const med = (xs) => xs.sort((a, b) => a - b)[3];
      figures[metric] = [med(one), med(two), same];
    }
    m.free();
    self.postMessage({ ok: true, figures });
  } catch (e) {
    self.postMessage({ ok: false, error: `${e?.name}: ${e?.message}\n${e?.stack ?? ''}` });
  }
};
