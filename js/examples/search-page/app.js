// The search page: files (.npy, .npz, .npkg) dropped, picked or fetched land in an OPFS store
// run by a worker (numpack/worker); a search streams the chosen stored array through the
// engine's top-k. No data leaves the browser.

import { WorkerStore } from '../../src/worker-client.js';
import { readNpy, readNpz } from '../../src/npy.js';

const OPFS_FOLDER = 'numpack-search-page';
const METRICS = ['cosine', 'dot', 'l2', 'l2sq', 'hamming', 'jaccard', 'kl', 'js'];
const WORKER_URL = new URL('./worker.js', import.meta.url);
const $ = (id) => document.getElementById(id);

let store = null;
let infos = [];

/** Shows a status line; `state` ('idle', 'busy', 'error') goes on `<body data-state>`. */
function status(text, state = 'idle') {
  $('status').textContent = text;
  document.body.dataset.state = state;
}

/** Runs `fn` with the page marked busy; errors become the status line. `<body data-done>`
 * counts finished actions (for scripts driving the page). */
async function busy(what, fn) {
  status(`${what}…`, 'busy');
  try {
    const msg = await fn();
    status(msg ?? 'ready');
  } catch (e) {
    status(`${what} failed: ${e?.name ?? 'Error'}: ${e?.message ?? e}`, 'error');
    console.error(e);
  } finally {
    document.body.dataset.done = String(Number(document.body.dataset.done ?? 0) + 1);
  }
}

/** Inflates raw-deflate bytes (a deflated .npz member) with the browser's DecompressionStream. */
async function inflateRaw(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('deflate-raw'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** The arrays of one file, `[[name, array]]`, by its extension. */
async function arraysOf(fileName, bytes) {
  const lower = fileName.toLowerCase();
  const stem = fileName.replace(/^.*[\\/]/, '').replace(/\.[^.]*$/, '') || 'array';
  if (lower.endsWith('.npy')) return [[stem, readNpy(bytes)]];
  if (lower.endsWith('.npz')) return readNpz(bytes, inflateRaw);
  if (lower.endsWith('.npkg')) {
    const pkg = await WorkerStore.open({ package: bytes, workerUrl: WORKER_URL });
    try {
      const out = [];
      for (const name of await pkg.list()) out.push([name, await pkg.load(name)]);
      return out;
    } finally { await pkg.close(); }
  }
  throw new Error(`${fileName}: expected a .npy, .npz or .npkg file`);
}

/** Saves the arrays of a file into the OPFS store (one commit) and refreshes the lists. */
async function addFile(fileName, bytes) {
  const arrays = await arraysOf(fileName, bytes);
  if (!arrays.length) throw new Error(`${fileName} holds no arrays`);
  await store.save(Object.fromEntries(arrays));
  await refresh(arrays.find(([, a]) => a.shape.length === 2)?.[0]);
  return `added ${arrays.map(([n, a]) => `${n} (${a.dtype} [${a.shape}])`).join(', ')} from ${fileName}`;
}

/** Re-reads the store's arrays into the tables and selects; `pick` becomes the candidates. */
async function refresh(pick) {
  infos = await store.infos();
  const body = $('arrays').tBodies[0];
  body.replaceChildren(...infos.map((i) => row([i.name, i.dtype, `[${i.shape.join(', ')}]`])));
  const matrices = infos.filter((i) => i.shape.length === 2).map((i) => i.name);
  for (const [sel, names] of [[$('array'), matrices], [$('qarray'), matrices]]) {
    const keep = sel.value;
    sel.replaceChildren(...names.map((n) => new Option(n, n)));
    if (names.includes(pick)) sel.value = pick; else if (names.includes(keep)) sel.value = keep;
  }
}

/** A table row of cells. */
function row(cells) {
  const tr = document.createElement('tr');
  for (const c of cells) { const td = document.createElement('td'); td.textContent = c; tr.append(td); }
  return tr;
}

/** The query the form describes: a stored row, or the typed vector (float64). */
async function queryOf() {
  if (document.querySelector('input[name=qkind]:checked').value === 'vector') {
    const parts = $('qvec').value.split(/[\s,;]+/).filter(Boolean);
    const nums = parts.map(Number);
    if (!parts.length || nums.some((x) => !Number.isFinite(x))) throw new Error('type the query vector as numbers separated by commas or spaces');
    return nums;
  }
  const name = $('qarray').value;
  const r = Number($('qrow').value);
  if (!name) throw new Error('no array to take the query row from');
  if (!Number.isInteger(r)) throw new Error('the query row must be an integer');
  const got = await store.getitem(name, r);
  return { data: got.data, shape: [got.data.length], dtype: got.dtype };
}

/** Runs the search the form describes and fills the results table. */
async function search() {
  const name = $('array').value;
  if (!name) throw new Error('add a file with a 2-D array first');
  const k = Number($('k').value);
  const metric = $('metric').value;
  const query = await queryOf();
  const t0 = performance.now();
  const r = await store.topKStored(name, query, metric, k);
  const ms = performance.now() - t0;
  const rows = r.indices.length ? await store.getitem(name, Array.from(r.indices)) : null;
  const per = rows ? rows.data.length / r.indices.length : 0;
  const preview = (j) => {
    const v = Array.from(rows.data.subarray(j * per, j * per + Math.min(per, 4)), (x) => formatScore(Number(x)));
    return `[${v.join(', ')}${per > 4 ? ', …' : ''}]`;
  };
  $('hits').tBodies[0].replaceChildren(...Array.from(r.indices, (ix, j) => row([j + 1, ix, formatScore(r.scores[j]), preview(j)])));
  $('timing').textContent = `${r.indices.length} of ${infos.find((i) => i.name === name)?.shape[0]} rows of ${name}, ${metric}, in ${ms.toFixed(1)} ms`;
  $('results').dataset.scores = JSON.stringify(Array.from(r.scores, (s) => (Number.isFinite(s) ? s : String(s))));
  return `searched ${name} in ${ms.toFixed(1)} ms`;
}

const formatScore = (s) => (Number.isFinite(s) ? Number(s.toPrecision(7)).toString() : String(s));

/** Opens the OPFS store (retrying while a reloaded page's old worker still holds it). */
async function openStore() {
  for (let attempt = 0; ; attempt++) {
    try {
      return await WorkerStore.open({ opfs: OPFS_FOLDER, workerUrl: WORKER_URL });
    } catch (e) {
      if (e?.name !== 'StoreLockedError' || attempt >= 20) throw e;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

function wire() {
  $('metric').replaceChildren(...METRICS.map((m) => new Option(m, m)));
  $('file').addEventListener('change', async (ev) => {
    for (const f of ev.target.files) await busy(`adding ${f.name}`, async () => addFile(f.name, new Uint8Array(await f.arrayBuffer())));
    ev.target.value = '';
  });
  const drop = $('drop');
  drop.addEventListener('dragover', (ev) => { ev.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', async (ev) => {
    ev.preventDefault();
    drop.classList.remove('over');
    for (const f of ev.dataTransfer.files) await busy(`adding ${f.name}`, async () => addFile(f.name, new Uint8Array(await f.arrayBuffer())));
  });
  $('fetch-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const url = $('url').value.trim();
    busy(`fetching ${url}`, async () => {
      const res = await fetch(url);
      if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
      return addFile(new URL(url, location.href).pathname, new Uint8Array(await res.arrayBuffer()));
    });
  });
  $('search-form').addEventListener('submit', (ev) => { ev.preventDefault(); busy('searching', search); });
  $('demo').addEventListener('click', () => busy('making demo vectors', async () => {
    const rows = 10000, dim = 64;
    const data = new Float32Array(rows * dim);
    for (let i = 0; i < data.length; i++) data[i] = Math.random() * 2 - 1;
    await store.save({ demo: { data, shape: [rows, dim] } });
    await refresh('demo');
    return `added demo (float32 [${rows},${dim}], random)`;
  }));
  $('clear').addEventListener('click', () => busy('emptying the store', async () => { await store.reset(); await refresh(); return 'the store is empty'; }));
}

async function start() {
  wire();
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('./sw.js').catch((e) => console.warn('no offline support:', e));
  }
  $('env').textContent = `cross-origin isolated: ${self.crossOriginIsolated ? 'yes' : 'no'} · cores: ${navigator.hardwareConcurrency ?? '?'} · OPFS folder: ${OPFS_FOLDER}`;
  await busy('opening the store', async () => {
    store = await openStore();
    $('store-name').textContent = `(OPFS: ${OPFS_FOLDER}, ${await store.capabilities()})`;
    await refresh();
    return infos.length ? `ready: ${infos.length} array(s) in the store` : 'ready: add a file to search';
  });
}

start();
