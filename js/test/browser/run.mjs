// Runs page-tests.js in headless Chromium through chromedriver (plain WebDriver over fetch,
// no npm dependency). Serves js/ over http://127.0.0.1 (a secure context, so OPFS works).
// Usage: node js/test/browser/run.mjs [--cross DIR | --bench]  (DIR holds store.npkg + expect.json;
// --bench runs bench.js, answering its requests for the browser's resident memory)

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { spawn } from 'node:child_process';

const root = path.resolve(new URL('../..', import.meta.url).pathname);
const crossIdx = process.argv.indexOf('--cross');
const crossDir = crossIdx > 0 ? path.resolve(process.argv[crossIdx + 1]) : null;
const benchMode = process.argv.includes('--bench');
const TYPES = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html', '.json': 'application/json' };

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  let file = url.pathname.startsWith('/cross/') && crossDir
    ? path.join(crossDir, url.pathname.slice(7)) : path.join(root, url.pathname);
  if (!file.startsWith(root) && !(crossDir && file.startsWith(crossDir))) { res.writeHead(403).end(); return; }
  fs.readFile(file, (err, data) => {
    if (err) { res.writeHead(404).end(); return; }
    // Cross-origin isolated (COOP + COEP): SharedArrayBuffer, so workers can search on threads.
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream',
      'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' }).end(data);
  });
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}`;

const port = 9600 + Math.floor(Math.random() * 300);
const driver = spawn(process.env.CHROMEDRIVER ?? '/usr/bin/chromedriver', [`--port=${port}`], { stdio: 'ignore' });
const wd = `http://127.0.0.1:${port}`;
async function call(method, p, body) {
  const r = await fetch(wd + p, { method, headers: { 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined });
  const j = await r.json();
  if (!r.ok) throw new Error(`${method} ${p}: ${JSON.stringify(j.value).slice(0, 500)}`);
  return j.value;
}
for (let i = 0; ; i++) {
  try { await call('GET', '/status'); break; } catch (e) { if (i > 100) throw e; await new Promise((r) => setTimeout(r, 100)); }
}
/** Resident memory (bytes) of process `pid` and all its descendants (Linux /proc). */
function treeRss(pid) {
  const children = new Map();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(d));
    } catch { /* gone */ }
  }
  let total = 0;
  for (const stack = [pid]; stack.length;) {
    const p = stack.pop();
    try { total += 1024 * Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0); } catch { /* gone */ }
    stack.push(...(children.get(p) ?? []));
  }
  return total;
}

const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'numpack-chromium-'));
let failed = 0;
let session;
const figures = {};
try {
  session = (await call('POST', '/session', {
    capabilities: { alwaysMatch: { browserName: 'chrome', 'goog:chromeOptions': {
      binary: process.env.CHROMIUM ?? '/usr/bin/chromium',
      args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage', `--user-data-dir=${profile}`],
    } } },
  })).sessionId;
  const phases = crossDir ? ['cross'] : benchMode ? ['bench'] : ['main', 'write', 'read', 'write-ops', 'read-ops'];
  for (const phase of phases) {
    await call('POST', `/session/${session}/url`, { url: `${base}/test/browser/index.html?phase=${phase}` });
    let results = null, answered = 0;
    for (let i = 0; i < (benchMode ? 6000 : 600) && !results; i++) {
      const poll = JSON.parse(await call('POST', `/session/${session}/execute/sync`, {
        script: 'return JSON.stringify({ done: !!window.__done, results: window.__results, rss: window.__rssReq ?? 0 })', args: [] }));
      if (poll.done) results = poll.results;
      else if (poll.rss > answered) {
        answered = poll.rss;
        await call('POST', `/session/${session}/execute/sync`, { script: 'window.__rssResp = { n: arguments[0], bytes: arguments[1] }', args: [poll.rss, treeRss(driver.pid)] });
      }
      if (!results) await new Promise((r) => setTimeout(r, 100));
    }
    if (!results) { console.log(`not ok - phase ${phase} timed out`); failed++; continue; }
    for (const r of results) {
      if (r.key) figures[r.key] = r.ms;
      console.log(`${r.ok ? 'ok' : 'not ok'} - [chromium ${phase}] ${r.name}${r.info ? `: ${r.info}` : ''}${r.ok ? '' : `\n  ${r.error.replace(/\n/g, '\n  ')}`}`);
      if (!r.ok) failed++;
    }
  }
} finally {
  if (session) await call('DELETE', `/session/${session}`).catch(() => {});
  driver.kill();
  server.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
if (benchMode && !failed) {
  // The same work in Node, same machine, same run: OPFS vs Node's fs, the page's wasm vs Node's.
  const { nodePeer } = await import('./node-peer.mjs');
  const node = nodePeer();
  console.log('# page (headless Chromium) vs Node, same run (ratio = page ms / Node ms; > 1: the page is slower)');
  for (const [key, ms] of Object.entries(figures)) {
    const peer = node[key];
    const what = key === 'open' ? 'store open (OPFS vs fs)' : key === 'load' ? 'load 200 MiB (OPFS vs fs)' : `${key} top-10 100K × 128 (one thread)`;
    console.log(`#   ${what}: page ${ms.toFixed(2)} ms, Node ${peer?.toFixed(2) ?? '-'} ms, ratio ${peer ? (ms / peer).toFixed(2) : '-'}`);
  }
}
console.log(failed ? `# ${failed} browser test(s) failed` : '# all browser tests passed');
process.exit(failed ? 1 : 0);
