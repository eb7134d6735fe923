// The OPFS benchmark (`node js/test/browser/run.mjs --bench`): a store holding one 200 MiB
// float32 array is written, then reopened; we time the open, one row and the whole load, and
// ask the runner for the browser's resident memory (`rss()`) around the open.

const ROWS = 204_800, DIM = 256; // 200 MiB of float32

/** Runs the benchmark; `report(name, text)` records one figure, `rss()` resolves to bytes. */
export async function bench(WorkerStore, report, rss) {
  const mib = (b) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  const root = await navigator.storage.getDirectory();
  try { await root.removeEntry('np-bench', { recursive: true }); } catch {}
  const data = new Float32Array(ROWS * DIM);
  for (let i = 0; i < data.length; i++) data[i] = i % 1009;
  let ws = await WorkerStore.open({ opfs: 'np-bench' });
  let t = performance.now();
  await ws.save({ big: { data, shape: [ROWS, DIM] } });
  report('save 200 MiB', `${(performance.now() - t).toFixed(0)} ms`);
  await ws.close();

  t = performance.now();
  const mem = await WorkerStore.open({});
  report('worker start + in-memory open (baseline)', `${(performance.now() - t).toFixed(0)} ms`);
  await mem.close();

  // The open alone: a running worker switches from its in-memory store to the OPFS one.
  ws = await WorkerStore.open({});
  const before = await rss();
  t = performance.now();
  await ws.call('open', [{ opfs: 'np-bench' }]);
  report('OPFS open in a running worker', `${(performance.now() - t).toFixed(1)} ms`);
  const opened = await rss();
  report('resident memory growth over the open', mib(opened - before));
  const stats = await ws.call('ioStats').catch(() => null);
  if (stats) report('backend after open', JSON.stringify(stats));

  t = performance.now();
  const row = await ws.getitem('big', 123_457);
  report('one row after open', `${(performance.now() - t).toFixed(2)} ms`);
  if (row.data[0] !== (123_457 * DIM) % 1009) throw new Error('row data');
  for (let run = 1; run <= 2; run++) {
    t = performance.now();
    const all = await ws.load('big');
    const ms = performance.now() - t;
    report(`load 200 MiB (run ${run})`, `${ms.toFixed(0)} ms = ${(200 / (ms / 1000)).toFixed(0)} MiB/s`);
    if (all.data.length !== data.length || all.data[data.length - 1] !== data[data.length - 1]) throw new Error('load data');
  }
  await ws.close();
  await root.removeEntry('np-bench', { recursive: true });
}
