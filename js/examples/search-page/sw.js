// Service worker of the search page: network first, falling back to the cache, so the page, the
// package's modules and the wasm keep working offline once loaded (and a reload online always
// gets the current files).
const CACHE = 'numpack-search-page-v1';
// The page's own files; the modules and the wasm they load are found by following their imports.
const PRECACHE = ['./', './index.html', './app.js', './style.css', './worker.js'];

// Relative module specifiers a script loads: static and dynamic imports, and
// `new URL('…', import.meta.url)` (workers, wasm).
const SPECIFIERS = /(?:\bfrom\s*|\bimport\s*\(?\s*|new URL\(\s*)['"](\.{1,2}\/[^'"]+)['"]|new URL\(\s*['"]([\w.-]+)['"]\s*,\s*import\.meta\.url/g;

/** Caches `url` and, for a script, everything it loads (so modules added to the package later
 * are found without listing them here). A missing file must not stop the others. */
async function precache(cache, url, seen) {
  if (seen.has(url)) return;
  seen.add(url);
  try {
    const res = await fetch(url);
    if (!res.ok) return;
    await cache.put(url, res.clone());
    if (!/\.m?js$/.test(new URL(url).pathname)) return;
    const text = await res.text();
    await Promise.all([...text.matchAll(SPECIFIERS)].map((m) => precache(cache, new URL(m[1] ?? m[2], url).href, seen)));
  } catch { /* offline at install: cached later, on use */ }
}

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    const seen = new Set();
    await Promise.all(PRECACHE.map((u) => precache(cache, new URL(u, self.location).href, seen)));
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

// The package folder (this file is at <package>/examples/search-page/sw.js): only the page, the
// modules and the wasm are cached, never data files the user fetches by URL.
const ROOT = new URL('../../', self.location).href;
const OWN = ['examples/search-page/', 'src/', 'dist/'].map((p) => ROOT + p);

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET' || !OWN.some((p) => req.url.startsWith(p))) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    try {
      const res = await fetch(req);
      if (res.ok) await cache.put(req, res.clone());
      return res;
    } catch (e) {
      const hit = await cache.match(req, { ignoreSearch: true });
      if (hit) return hit;
      throw e;
    }
  })());
});
