// Service worker of the search page: network first, falling back to the cache, so the page, the
// package's modules and the wasm keep working offline once loaded (and a reload online always
// gets the current files). Everything the page and its worker fetch from this origin is cached.
const CACHE = 'numpack-search-page-v1';
const PRECACHE = [
  './', './index.html', './app.js', './style.css', './worker.js',
  '../../src/worker-client.js', '../../src/worker.js', '../../src/browser.js', '../../src/api.js',
  '../../src/dtypes.js', '../../src/errors.js', '../../src/vector.js', '../../src/opfs.js', '../../src/npy.js',
  '../../dist/wasm/numpack_wasm.js', '../../dist/wasm/numpack_wasm_bg.wasm',
  '../../dist/wasm-scalar/numpack_wasm.js', '../../dist/wasm-scalar/numpack_wasm_bg.wasm',
];

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    // One by one: a file missing from a build must not stop the others being cached.
    await Promise.all(PRECACHE.map((u) => cache.add(new URL(u, self.location).href).catch(() => {})));
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET' || new URL(req.url).origin !== self.location.origin) return;
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
