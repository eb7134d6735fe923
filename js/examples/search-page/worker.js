// The store's worker, at a URL inside the page's service-worker scope so that its module and
// wasm fetches go through the service worker too (and so work offline).
import '../../src/worker.js';
