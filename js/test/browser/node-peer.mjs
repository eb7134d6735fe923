// The Node side of the page benchmark (run.mjs --bench): the same work as bench.js on Node's
// file system and Node's wasm, measured in the same run, keyed like the page's figures.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as np from '../../src/node.js';
import { searchBench } from './bench.js';

const ROWS = 204_800, DIM = 256; // 200 MiB of float32, as bench.js

/** `{ key: ms }`: store open, whole load, and top-10 per metric. */
export function nodePeer() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'np-peer-'));
  const med = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1];
  try {
    const data = new Float32Array(ROWS * DIM);
    for (let i = 0; i < data.length; i++) data[i] = i % 1009;
    let s = np.open(dir);
    s.save({ big: { data, shape: [ROWS, DIM] } });
    s.close();
    const opens = [];
    for (let i = 0; i < 5; i++) { const t = performance.now(); s = np.open(dir); opens.push(performance.now() - t); if (i < 4) s.close(); }
    const loads = [];
    for (let i = 0; i < 3; i++) { const t = performance.now(); s.load('big'); loads.push(performance.now() - t); }
    s.close();
    const out = { open: med(opens), load: med(loads) };
    for (const [m, ms] of Object.entries(searchBench(np))) out[`search ${m}`] = ms;
    return out;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
