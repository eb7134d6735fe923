// The cross-process writer lock in Node (core/src/lock.rs run through js/src/node-fs.js; docs/FORMAT.md §5): a writer waits
// for another process's writer marker, then gets StoreLockedError after NUMPACK_LOCK_TIMEOUT; a
// marker left by a SIGKILLed process never blocks the next writer; a marker from another host is
// never broken; concurrent writers in two processes lose no rows.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { open, StoreLockedError, NodeFsBackend } from '../src/node.js';
import { tmpdir } from './helpers.mjs';

const NODE_JS = new URL('../src/node.js', import.meta.url).href;
const MARKER = '.numpack.writer';

/** Starts `node` on an ES module source; resolves once it printed `ready`. */
function child(source, ...args) {
  return start(['--input-type=module', '-e', source, ...args]);
}

/** Starts `node` with `argv`; resolves `ready` once the child printed `ready`. */
function start(argv) {
  const proc = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = ''; let err = '';
  proc.stderr.on('data', (d) => { err += d; });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal, out, err })));
  const ready = new Promise((resolve, reject) => {
    proc.stdout.on('data', (d) => { out += d; if (out.includes('ready')) resolve(); });
    exited.then((r) => reject(new Error(`child exited before it was ready: ${JSON.stringify(r)}`)));
  });
  return { proc, ready, exited };
}

/** The lock holder both runtimes' lock tests run (see its header). */
const HOLDER = fileURLToPath(new URL('./lock_holder.mjs', import.meta.url));

function withTimeout(seconds, fn) {
  const before = process.env.NUMPACK_LOCK_TIMEOUT;
  process.env.NUMPACK_LOCK_TIMEOUT = String(seconds);
  try { return fn(); } finally {
    if (before === undefined) delete process.env.NUMPACK_LOCK_TIMEOUT; else process.env.NUMPACK_LOCK_TIMEOUT = before;
  }
}

/** The error `fn` throws, checked to be a StoreLockedError. */
function lockedBy(fn) {
  try { fn(); } catch (e) {
    assert.ok(e instanceof StoreLockedError, `not a StoreLockedError: ${e?.name}: ${e?.message}`);
    return e;
  }
  assert.fail('no StoreLockedError');
}

function newStore(tag) {
  const dir = tmpdir(tag);
  fs.rmSync(dir, { recursive: true, force: true });
  const s = open(dir);
  s.save({ a: { data: new Int32Array([0, 0]), shape: [1, 2] } });
  return { dir, s };
}

const leftovers = (dir) => fs.readdirSync(dir).filter((f) => f.startsWith('.numpack.writer'));

test('a writer waits while another process holds the lock, then commits', async (t0) => {
  const { dir, s } = newStore('lock-wait');
  const go = `${dir}.go`;
  fs.rmSync(go, { force: true });
  fs.rmSync(`${go}.released`, { force: true });
  const holder = start([HOLDER, dir, go]);
  t0.after(() => holder.proc.kill('SIGKILL'));
  await holder.ready;
  assert.ok(fs.readlinkSync(path.join(dir, MARKER)).startsWith(`npk1 js ${holder.proc.pid} `));
  // Readers take no marker: a read goes through while the holder keeps the lock (until `go`).
  assert.deepEqual(s.shape('a'), [1, 2]);
  assert.equal(holder.proc.exitCode, null, 'the holder is still holding');
  fs.writeFileSync(go, '');
  s.append('a', { data: new Int32Array([7, 7]), shape: [1, 2] }); // blocks (synchronously) until the holder is done
  assert.ok(fs.existsSync(`${go}.released`), 'the append did not wait for the holder');
  fs.rmSync(go);
  fs.rmSync(`${go}.released`);
  const r = await holder.exited;
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(Array.from(s.load('a').data), [0, 0, 7, 7]);
  assert.deepEqual(leftovers(dir), []);
  s.close();
  fs.rmSync(dir, { recursive: true });
});

test('NUMPACK_LOCK_TIMEOUT: a held lock gives StoreLockedError; a SIGKILLed holder blocks nobody', async (t0) => {
  const { dir, s } = newStore('lock-kill');
  const holder = start([HOLDER, dir]);
  t0.after(() => holder.proc.kill('SIGKILL'));
  await holder.ready;
  const t = Date.now();
  const err = withTimeout(0.3, () => lockedBy(() => s.append('a', new Int32Array([1, 1]))));
  assert.ok(Date.now() - t >= 300, `gave up after ${Date.now() - t} ms`);
  assert.match(err.message, new RegExp(`pid ${holder.proc.pid} \\(Node\\) on this host`));
  assert.match(err.message, /NUMPACK_LOCK_TIMEOUT/);
  assert.deepEqual(s.shape('a'), [1, 2], 'nothing was written');
  holder.proc.kill('SIGKILL');
  // Synchronously, so the event loop cannot reap the child: the marker's owner is a zombie.
  const t2 = Date.now();
  withTimeout(10, () => s.append('a', { data: new Int32Array([2, 2]), shape: [1, 2] }));
  assert.ok(Date.now() - t2 < 5000, `the dead holder blocked the writer for ${Date.now() - t2} ms`);
  assert.equal((await holder.exited).signal, 'SIGKILL');
  assert.deepEqual(Array.from(s.load('a').data), [0, 0, 2, 2]);
  assert.deepEqual(leftovers(dir), [], 'the stale marker and its aside copy are gone');
  s.close();
  fs.rmSync(dir, { recursive: true });
});

test('a marker from another host (or pid namespace) is never broken', () => {
  const { dir, s } = newStore('lock-foreign');
  fs.symlinkSync('npk1 rs 1 0000abcd 0123456789ab otherhost', path.join(dir, MARKER));
  const err = withTimeout(0.05, () => lockedBy(() => s.append('a', new Int32Array([1, 1]))));
  assert.match(err.message, /never removed automatically/);
  assert.match(err.message, /otherhost/);
  assert.equal(fs.readlinkSync(path.join(dir, MARKER)), 'npk1 rs 1 0000abcd 0123456789ab otherhost');
  fs.unlinkSync(path.join(dir, MARKER)); // what the message tells the user to do
  s.append('a', new Int32Array([1, 1]));
  assert.deepEqual(s.shape('a'), [2, 2]);
  s.close();
  fs.rmSync(dir, { recursive: true });
});

const APPENDER = `
import fs from 'node:fs';
import { open } from ${JSON.stringify(NODE_JS)};
const [dir, k, n, go] = process.argv.slice(1).map((v, i) => (i === 1 || i === 2 ? Number(v) : v));
const s = open(dir);
console.log('ready');
while (!fs.existsSync(go)) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
for (let i = 0; i < n; i++) s.append('a', { data: new Int32Array([k, i]), shape: [1, 2] });
s.close();
`;

test('two Node processes appending at once lose no rows', async (t0) => {
  const { dir, s } = newStore('lock-race');
  const N = 300;
  const go = path.join(dir, 'go');
  const writers = [1, 2].map((k) => child(APPENDER, dir, String(k), String(N), go));
  t0.after(() => writers.forEach((w) => w.proc.kill('SIGKILL')));
  await Promise.all(writers.map((w) => w.ready));
  fs.writeFileSync(go, ''); // both start appending together
  for (const w of writers) {
    const r = await w.exited;
    assert.equal(r.code, 0, r.err);
  }
  const rows = s.load('a').data;
  assert.equal(rows.length, 2 * (2 * N + 1), 'row count');
  const seen = { 1: [], 2: [] };
  let switches = 0;
  for (let r = 1; r < rows.length / 2; r++) {
    seen[rows[2 * r]].push(rows[2 * r + 1]);
    if (r > 1 && rows[2 * r] !== rows[2 * r - 2]) switches += 1;
  }
  const want = Array.from({ length: N }, (_, i) => i);
  assert.deepEqual(seen[1], want, 'writer 1: every row, in its order');
  assert.deepEqual(seen[2], want, 'writer 2: every row, in its order');
  assert.ok(switches >= 10, `the writers hardly overlapped (${switches} switches): the test proves nothing`);
  assert.deepEqual(leftovers(dir), []);
  s.close();
  fs.rmSync(dir, { recursive: true });
});

/** A native (Python) writer's slot in `.numpack.lock` naming `pid` (docs/FORMAT.md §5). */
function announce(dir, pid, id) {
  const line = `npk1 rs ${pid} 0000abcd ${id} somehost`;
  fs.writeFileSync(path.join(dir, '.numpack.lock'), `${line.padEnd(63, ' ')}\n`);
}

/** This host's id, as a marker of ours records it. */
function ourId(dir) {
  const be = new NodeFsBackend(dir);
  be.lock('exclusive');
  const id = fs.readlinkSync(path.join(dir, MARKER)).split(' ')[4];
  be.unlock();
  return id;
}

test('a native writer announced in .numpack.lock makes a Node writer wait; a dead or idle one does not', async (t0) => {
  const { dir, s } = newStore('lock-native');
  const id = ourId(dir);
  // Any live process of this host stands in for the Python writer.
  const holder = child('console.log("ready"); setInterval(() => {}, 1 << 30);');
  t0.after(() => holder.proc.kill('SIGKILL'));
  await holder.ready;
  announce(dir, holder.proc.pid, id);
  const t = Date.now();
  const err = withTimeout(0.3, () => lockedBy(() => s.append('a', new Int32Array([1, 1]))));
  assert.ok(Date.now() - t >= 300, `gave up after ${Date.now() - t} ms`);
  assert.match(err.message, new RegExp(`\\.numpack\\.lock names a native writer held by pid ${holder.proc.pid} \\(native/Python\\) on this host`));
  assert.deepEqual(leftovers(dir), [], 'the waiting writer withdrew its marker');
  assert.deepEqual(s.shape('a'), [1, 2], 'nothing was written');
  // From another host: never ignored.
  announce(dir, holder.proc.pid, '0123456789ab');
  const err2 = withTimeout(0.05, () => lockedBy(() => s.append('a', new Int32Array([1, 1]))));
  assert.match(err2.message, /never removed automatically.*truncate that file/);
  // Killed (unreaped: a zombie): its record is left over and blocks nobody.
  announce(dir, holder.proc.pid, id);
  holder.proc.kill('SIGKILL');
  withTimeout(10, () => s.append('a', { data: new Int32Array([2, 2]), shape: [1, 2] }));
  assert.equal((await holder.exited).signal, 'SIGKILL');
  // An idle slot (what a native writer leaves when it is done).
  fs.writeFileSync(path.join(dir, '.numpack.lock'), `${' '.repeat(63)}\n`);
  withTimeout(0, () => s.append('a', { data: new Int32Array([3, 3]), shape: [1, 2] }));
  assert.deepEqual(Array.from(s.load('a').data), [0, 0, 2, 2, 3, 3]);
  assert.deepEqual(leftovers(dir), []);
  s.close();
  fs.rmSync(dir, { recursive: true });
});
