// Drives the example search page (js/examples/search-page) in headless Chromium through
// chromedriver, as a user would: picks a .npy and a .npkg with the file input, fetches a .npz
// by URL, drops a float16 .npy on the drop zone, searches, and compares each top-k table with NumPy's (the oracle, run here through
// the Python venv). Then reloads the page (the OPFS store must still be there, the page must be
// cross-origin isolated and controlled by its service worker) with the server refusing every
// request (the page must still load from its service worker and search: offline), then online.
// The page is served by `serve-example`'s own server (COOP/COEP headers); Chromium is driven by
// webdriver.mjs.
// Usage: node js/test/browser/search-page.run.mjs   (PYTHON: an interpreter with numpy)

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { chromium } from './webdriver.mjs';
import { serveExample } from '../../src/cli-serve.js';
import { Store } from '../../src/node.js';
import { readNpy } from '../../src/npy.js';

const here = path.dirname(new URL(import.meta.url).pathname);
const python = process.env.PYTHON ?? (fs.existsSync(path.join(here, '../../../.venv/bin/python')) ? path.join(here, '../../../.venv/bin/python') : '/work/main/.venv/bin/python');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'numpack-search-page-'));

// ---- data and the NumPy oracle ----
const ORACLE = String.raw`
import json, sys
import numpy as np
out = sys.argv[1]
rng = np.random.default_rng(20261203)
vec = rng.standard_normal((500, 24)).astype(np.float32)
docs = rng.standard_normal((300, 24)).astype(np.float32)
ids = np.arange(300, dtype=np.int64) * 3
pk = rng.standard_normal((120, 8))
half = rng.standard_normal((64, 10)).astype(np.float16)
np.save(f"{out}/vec.npy", vec)
np.savez_compressed(f"{out}/pair.npz", docs=docs, ids=ids)
np.save(f"{out}/pk.npy", pk)
np.save(f"{out}/dropped.npy", half)

def top(scores, k, best_high, cand):
    order = np.argsort(-scores if best_high else scores, kind="stable")[:k]
    return {"indices": order.tolist(), "scores": scores[order].tolist(), "first": cand[order, 0].astype(np.float64).tolist()}

def cosine(c, q):
    c = c.astype(np.float64); q = q.astype(np.float64)
    return (c @ q) / (np.linalg.norm(c, axis=1) * np.linalg.norm(q))

qv = [0.5, -1.0, 2.0, 0.25] * 6
cases = [
    {"array": "vec", "query": {"row": 7, "of": "vec"}, "metric": "cosine", "k": 10, **top(cosine(vec, vec[7]), 10, True, vec)},
    {"array": "docs", "query": {"vector": qv}, "metric": "l2", "k": 5,
     **top(np.sqrt(((docs.astype(np.float64) - np.array(qv)) ** 2).sum(axis=1)), 5, False, docs)},
    {"array": "docs", "query": {"row": 3, "of": "vec"}, "metric": "dot", "k": 7,
     **top(docs.astype(np.float64) @ vec[3].astype(np.float64), 7, True, docs)},
    {"array": "pk", "query": {"row": 11, "of": "pk"}, "metric": "l2sq", "k": 4, **top(((pk - pk[11]) ** 2).sum(axis=1), 4, False, pk)},
    {"array": "dropped", "query": {"row": 5, "of": "dropped"}, "metric": "cosine", "k": 6, **top(cosine(half, half[5]), 6, True, half)},
]
json.dump(cases, open(f"{out}/expected.json", "w"))
`;
execFileSync(python, ['-c', ORACLE, work], { stdio: 'inherit' });
const cases = JSON.parse(fs.readFileSync(path.join(work, 'expected.json'), 'utf8'));
{ // the .npkg: pk.npy packed (zstd) by the package itself
  const s = Store.memory();
  s.save({ pk: readNpy(new Uint8Array(fs.readFileSync(path.join(work, 'pk.npy')))) });
  fs.writeFileSync(path.join(work, 'pk.npkg'), s.toPackage({ compression: true }));
  s.close();
}

// ---- server (serve-example's), with test data and an "offline" switch ----
let offline = false;
const { server, base, url: pageUrl } = await serveExample({
  port: 0,
  extra(url, req, res) {
    if (offline) { req.socket.destroy(); return true; }
    if (!url.pathname.startsWith('/test-data/')) return false;
    const file = path.join(work, path.basename(url.pathname));
    if (!fs.existsSync(file)) { res.writeHead(404).end(); return true; }
    res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(fs.readFileSync(file));
    return true;
  },
});

// ---- the browser ----
let browser;
try { browser = await chromium(); } catch (e) { server.close(); fs.rmSync(work, { recursive: true, force: true }); throw e; }
let failed = 0, passed = 0;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const { js } = browser;
const done = async () => Number(await js('return document.body.dataset.done ?? 0'));

/** Waits until the page finished more than `before` actions; returns the status line. */
async function settle(before, what) {
  for (let i = 0; i < 600; i++) {
    const s = await js('return { done: Number(document.body.dataset.done ?? 0), state: document.body.dataset.state, text: document.getElementById("status").textContent }');
    if (s.done > before && s.state !== 'busy') {
      if (s.state === 'error') throw new Error(`${what}: ${s.text}`);
      return s.text;
    }
    await sleep(100);
  }
  throw new Error(`${what}: timed out`);
}

async function check(name, fn) {
  try { const info = await fn(); passed++; console.log(`ok - [search page] ${name}${info ? `: ${info}` : ''}`); } catch (e) { failed++; console.log(`not ok - [search page] ${name}\n  ${String(e?.stack ?? e).replace(/\n/g, '\n  ')}`); }
}

/** Opens the page and waits until its store is open. */
async function load() {
  await browser.open(pageUrl);
  return settle(0, 'opening the page');
}

/** Fills the search form for `c`, searches, and compares the table with NumPy's top-k. */
async function search(c) {
  await js(`const [c] = arguments; const set = (id, v) => { document.getElementById(id).value = v; };
    set('array', c.array); set('metric', c.metric); set('k', c.k);
    document.querySelector('input[name=qkind][value=' + (c.query.vector ? 'vector' : 'row') + ']').checked = true;
    if (c.query.vector) set('qvec', c.query.vector.join(', ')); else { set('qarray', c.query.of); set('qrow', c.query.row); }`, c);
  const before = await done();
  await browser.click('#search');
  await settle(before, `search ${c.metric}`);
  const got = await js(`return { indices: [...document.querySelectorAll('#hits tbody tr')].map((tr) => Number(tr.cells[1].textContent)),
    scores: JSON.parse(document.getElementById('results').dataset.scores), timing: document.getElementById('timing').textContent,
    first: [...document.querySelectorAll('#hits tbody tr')].map((tr) => Number(tr.cells[3].textContent.slice(1).split(',')[0])) }`);
  if (JSON.stringify(got.indices) !== JSON.stringify(c.indices)) throw new Error(`${c.metric} top-${c.k} of ${c.array}: rows ${got.indices} vs NumPy's ${c.indices}`);
  got.scores.forEach((s, j) => {
    if (!(Math.abs(s - c.scores[j]) <= 1e-5 * Math.max(1, Math.abs(c.scores[j])))) throw new Error(`${c.metric}: score ${j} ${s} vs NumPy's ${c.scores[j]}`);
  });
  got.first.forEach((v, j) => {
    if (!(Math.abs(v - c.first[j]) <= 1e-6 * Math.max(1, Math.abs(c.first[j])))) throw new Error(`${c.metric}: row ${c.indices[j]} shows ${v} first, NumPy has ${c.first[j]}`);
  });
  return got.timing;
}

const storeNames = async () => js(`return [...document.querySelectorAll('#arrays tbody tr')].map((tr) => tr.cells[0].textContent).sort()`);

try {
  await check('the page opens an empty OPFS store', async () => {
    const text = await load();
    if (!/^ready/.test(text)) throw new Error(text);
    return text;
  });
  await check('a .npy picked with the file input lands in the store', async () => {
    const before = await done();
    await browser.type('#file', path.join(work, 'vec.npy'));
    return settle(before, 'adding vec.npy');
  });
  await check('a .npz (deflated) fetched by URL lands in the store', async () => {
    await js('document.getElementById("url").value = arguments[0]', `${base}/test-data/pair.npz`);
    const before = await done();
    await browser.click('#fetch');
    return settle(before, 'fetching pair.npz');
  });
  await check('a .npkg (zstd) picked with the file input lands in the store', async () => {
    const before = await done();
    await browser.type('#file', path.join(work, 'pk.npkg'));
    const text = await settle(before, 'adding pk.npkg');
    const names = await storeNames();
    if (JSON.stringify(names) !== JSON.stringify(['docs', 'ids', 'pk', 'vec'])) throw new Error(`store lists ${names}`);
    return text;
  });
  await check('a float16 .npy dropped on the drop zone lands in the store', async () => {
    const before = await done();
    await js(`fetch(arguments[0]).then((r) => r.arrayBuffer()).then((bytes) => {
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], 'dropped.npy'));
      document.getElementById('drop').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    })`, `${base}/test-data/dropped.npy`);
    const text = await settle(before, 'dropping dropped.npy');
    if (!/added dropped \(float16 \[64,10\]\)/.test(text)) throw new Error(text);
    return text;
  });
  await check('the demo button adds random vectors, which search', async () => {
    const before = await done();
    await browser.click('#demo');
    const text = await settle(before, 'demo vectors');
    const before2 = await done();
    await js(`document.getElementById('array').value = 'demo'; document.getElementById('qarray').value = 'demo';
      document.getElementById('qrow').value = '42'; document.getElementById('metric').value = 'l2'; document.getElementById('k').value = '3';
      document.querySelector('input[name=qkind][value=row]').checked = true;`);
    await browser.click('#search');
    await settle(before2, 'searching demo');
    const first = await js(`return [document.querySelector('#hits tbody tr').cells[1].textContent, document.querySelectorAll('#hits tbody tr').length]`);
    if (first[0] !== '42' || first[1] !== 3) throw new Error(`l2 top-3 of row 42 against itself: ${first}`); // a row is nearest itself
    return text;
  });
  for (const c of cases) await check(`top-${c.k} ${c.metric} over ${c.array} = NumPy's`, () => search(c));

  await check('offline right after the first visit (the server refuses every request): the page loads from its service worker, the OPFS store is still there, and it searches', async () => {
    offline = true;
    await js('return navigator.serviceWorker.ready.then(() => true)');
    const text = await load();
    if (!/^ready: 6 array/.test(text)) throw new Error(text);
    const probe = await js('return fetch(arguments[0]).then(() => "reached", () => "unreachable")', `${base}/test-data/vec.npy`);
    if (probe !== 'unreachable') throw new Error('the server still answered: the offline check proves nothing');
    return search(cases[1]);
  });
  await check('back online, after a reload: the OPFS store is still there, the page is isolated and served by its service worker', async () => {
    offline = false;
    await load();
    const names = await storeNames();
    if (JSON.stringify(names) !== JSON.stringify(['demo', 'docs', 'dropped', 'ids', 'pk', 'vec'])) throw new Error(`store lists ${names} after reload`);
    const env = await js('return { isolated: self.crossOriginIsolated, controlled: !!navigator.serviceWorker.controller }');
    if (!env.isolated) throw new Error('the page is not cross-origin isolated (COOP/COEP headers)');
    if (!env.controlled) throw new Error('no service worker controls the page after a reload');
    return search(cases[0]);
  });
  await check('emptying the store empties OPFS (still empty after a reload)', async () => {
    const before = await done();
    await browser.click('#clear');
    await settle(before, 'emptying the store');
    const text = await load();
    const names = await storeNames();
    if (names.length || !/add a file/.test(text)) throw new Error(`after emptying and a reload: ${names} / ${text}`);
    return text;
  });
} finally {
  await browser.close();
  server.close();
  server.closeAllConnections?.();
  fs.rmSync(work, { recursive: true, force: true });
}
console.log(failed ? `# ${failed} search-page test(s) failed` : `# all ${passed} search-page tests passed`);
process.exit(failed ? 1 : 0);
