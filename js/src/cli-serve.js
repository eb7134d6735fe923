// `npx numpack serve-example`: a static server for the package folder (the search page, the
// modules and the wasm) on localhost — a secure context, so OPFS and service workers work —
// with the COOP/COEP headers that make pages cross-origin isolated (SharedArrayBuffer).

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json', '.wasm': 'application/wasm', '.map': 'application/json',
  '.ts': 'text/plain; charset=utf-8', '.md': 'text/markdown; charset=utf-8',
};
const PAGE = '/examples/search-page/';

/** The headers every response carries. */
export const ISOLATION_HEADERS = Object.freeze({
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
  'cross-origin-resource-policy': 'same-origin',
  'cache-control': 'no-cache',
});

/**
 * Serves `root` (default: the npm package folder) on `host:port` (port 0 = any free port).
 * `extra(url, req, res)` may answer a request first (returning true), e.g. test data.
 * Resolves to `{ server, url, base }` once listening.
 */
export async function serveExample({ port = 8080, host = '127.0.0.1', root, extra } = {}) {
  const top = path.resolve(root ?? fileURLToPath(new URL('..', import.meta.url)));
  const server = http.createServer((req, res) => {
    for (const [k, v] of Object.entries(ISOLATION_HEADERS)) res.setHeader(k, v);
    let url;
    try { url = new URL(req.url, 'http://x'); } catch { res.writeHead(400).end(); return; }
    if (extra && extra(url, req, res)) return;
    if (req.method !== 'GET' && req.method !== 'HEAD') { res.writeHead(405).end(); return; }
    if (url.pathname === '/') { res.writeHead(302, { location: PAGE }).end(); return; }
    let file;
    try { file = path.join(top, decodeURIComponent(url.pathname)); } catch { res.writeHead(400).end(); return; }
    if (file !== top && !file.startsWith(top + path.sep)) { res.writeHead(403).end(); return; }
    let st = fs.statSync(file, { throwIfNoEntry: false });
    if (st?.isDirectory()) {
      if (!url.pathname.endsWith('/')) { res.writeHead(301, { location: `${url.pathname}/` }).end(); return; }
      file = path.join(file, 'index.html');
      st = fs.statSync(file, { throwIfNoEntry: false });
    }
    if (!st?.isFile()) { res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n'); return; }
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream', 'content-length': st.size });
    if (req.method === 'HEAD') { res.end(); return; }
    fs.createReadStream(file).pipe(res);
  });
  await new Promise((resolve, reject) => { server.once('error', reject); server.listen(port, host, resolve); });
  const shown = host.includes(':') ? `[${host}]` : host;
  const base = `http://${shown}:${server.address().port}`;
  return { server, base, url: `${base}${PAGE}` };
}
