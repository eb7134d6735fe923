// `npx numpack` (js/src/cli.js) run as a child process against real stores, including
// corrupted ones: exit codes, one-line errors, and results checked against independent oracles
// (NumPy through the Python venv for .npy/.npz, a plain-JS float64 loop for search, file sizes
// from fs for info).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync, execFileSync } from 'node:child_process';
import http from 'node:http';
import { open } from '../src/node.js';
import { serveExample } from '../src/cli-serve.js';

const here = path.dirname(new URL(import.meta.url).pathname);
const CLI = path.join(here, '../src/cli.js');
const PYTHON = process.env.PYTHON ?? [path.join(here, '../../.venv/bin/python'), '/work/main/.venv/bin/python'].find((p) => fs.existsSync(p));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'numpack-cli-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const fresh = (suffix = '.npk') => path.join(tmp, `t${n++}${suffix}`);

/** Runs the CLI: `{ code, out, err }`. */
function cli(...args) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
/** Asserts a user error: the exit code, and one line on stderr without a stack trace (after
 * the verb's usage line, for a usage error). */
function userError(r, code, pattern) {
  assert.equal(r.code, code, `exit ${r.code}, stderr: ${r.err}`);
  const lines = r.err.trim().split('\n');
  assert.ok(lines.length === 1 || (lines.length === 2 && lines[0].startsWith('usage: ')), `one line expected: ${r.err}`);
  assert.doesNotMatch(r.err, /\n\s+at /);
  if (pattern) assert.match(r.err, pattern);
}
const py = (code, ...args) => execFileSync(PYTHON, ['-c', code, ...args], { encoding: 'utf8' });

/** A seeded float in [-1, 1). */
function rng(seed) { return () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 1073741824 - 1; }; }

/** A store with `emb` (float32 rows × dim), `ids` (int64) and rows `dropped` dropped from emb. */
function makeStore(rows = 50, dim = 6, dropped = []) {
  const p = fresh();
  const r = rng(rows * 31 + dim);
  const data = Float32Array.from({ length: rows * dim }, r);
  const s = open(p);
  s.save({ emb: { data, shape: [rows, dim] }, ids: BigInt64Array.from({ length: rows }, (_, i) => BigInt(i * 10)) });
  if (dropped.length) s.drop('emb', dropped);
  s.close();
  const kept = [...Array(rows).keys()].filter((i) => !dropped.includes(i));
  return { p, rows: kept.map((i) => Array.from(data.subarray(i * dim, (i + 1) * dim))), dim };
}

/** The `{indices, scores}` of query `q` in a `search --json` output, by rank. */
function ofQuery(j, q) {
  const mine = j.results.filter((x) => x.query === q).sort((a, b) => a.rank - b.rank);
  return { indices: mine.map((x) => x.index), scores: mine.map((x) => x.score) };
}

/** Plain float64 scores (the oracle) and the top-k, best first, ties by lower index. */
function oracleTopK(rows, q, metric, k) {
  const score = (v) => {
    let dot = 0, na = 0, nb = 0, d2 = 0;
    for (let i = 0; i < v.length; i++) { dot += v[i] * q[i]; na += v[i] * v[i]; nb += q[i] * q[i]; d2 += (v[i] - q[i]) ** 2; }
    return { dot, cosine: na && nb ? dot / Math.sqrt(na) / Math.sqrt(nb) : 0, l2: Math.sqrt(d2), l2sq: d2 }[metric];
  };
  const high = metric === 'dot' || metric === 'cosine';
  const s = rows.map((v, i) => [score(v), i]);
  s.sort((a, b) => (high ? b[0] - a[0] : a[0] - b[0]) || a[1] - b[1]);
  return s.slice(0, k);
}

function assertTopK(got, want, where) {
  assert.deepEqual(got.indices, want.map(([, i]) => i), where);
  got.scores.forEach((s, j) => assert.ok(Math.abs(s - want[j][0]) <= 1e-5 * Math.max(1, Math.abs(want[j][0])), `${where}: score ${s} vs ${want[j][0]}`));
}

test('every verb has --help with an example; bad usage exits 2', () => {
  const top = cli('--help');
  assert.equal(top.code, 0);
  for (const verb of ['info', 'head', 'search', 'pack', 'unpack', 'compact', 'convert', 'verify', 'serve-example']) {
    assert.match(top.out, new RegExp(`^  ${verb} `, 'm'));
    const r = cli(verb, '--help');
    assert.equal(r.code, 0, verb);
    assert.match(r.out, /^usage: numpack /);
    assert.match(r.out, /example: /, verb);
  }
  userError(cli('frobnicate'), 2, /unknown verb/);
  assert.equal(cli().code, 2);
  userError(cli('info'), 2, /missing argument/);
  userError(cli('info', 'x', '--bogus'), 2, /bogus/);
  userError(cli('head', 'a', 'b', 'c'), 2, /unexpected argument c/);
});

test('info: shapes, live/dropped rows, bytes on disk and reclaimable bytes (--json and table)', () => {
  const dropped = [1, 4, 5, 30];
  const { p, dim } = makeStore(50, 6, dropped);
  const r = cli('info', p, '--json');
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out);
  assert.deepEqual(Object.keys(j).sort(), ['arrays', 'bytes_on_disk', 'reclaimable_bytes', 'store']); // python/numpack/cli.py's keys
  const emb = j.arrays.find((a) => a.name === 'emb'), ids = j.arrays.find((a) => a.name === 'ids');
  // exactly the Python CLI's keys
  assert.deepEqual(Object.keys(emb).sort(), ['bytes_on_disk', 'dropped_rows', 'dtype', 'files', 'last_modified', 'live_rows', 'name', 'reclaimable_bytes', 'shape']);
  assert.deepEqual(emb.files, ['data_emb.npkd', 'deleted_emb.npkb']);
  assert.equal(j.store, p);
  const everything = fs.readdirSync(p).reduce((a, f) => a + fs.statSync(path.join(p, f)).size, 0);
  assert.equal(j.bytes_on_disk, everything);
  assert.equal(j.reclaimable_bytes, emb.reclaimable_bytes);
  assert.deepEqual([emb.shape, emb.dtype, emb.live_rows, emb.dropped_rows], [[46, 6], 'float32', 46, 4]);
  assert.equal(emb.reclaimable_bytes, dropped.length * dim * 4);
  const size = (f) => fs.statSync(path.join(p, f)).size;
  assert.equal(emb.bytes_on_disk, size('data_emb.npkd') + size('deleted_emb.npkb'));
  assert.deepEqual([ids.shape, ids.dtype, ids.dropped_rows, ids.reclaimable_bytes, ids.bytes_on_disk], [[50], 'int64', 0, 0, size('data_ids.npkd')]);
  assert.ok(Math.abs(Date.parse(emb.last_modified) - Date.now()) < 600_000, emb.last_modified);
  const one = JSON.parse(cli('info', p, 'ids', '--json').out);
  assert.deepEqual(one.arrays.map((a) => a.name), ['ids']);
  const table = cli('info', p);
  assert.equal(table.code, 0);
  assert.match(table.out, /^emb\s+\(46, 6\)\s+float32\s+46\s+4\s/m);
  userError(cli('info', p, 'nope'), 3, /NotFoundError/);
});

test('head prints the first rows (checked against NumPy reading the same .npy)', () => {
  const npy = path.join(tmp, 'h.npy'), store = fresh();
  py('import numpy as np, sys; np.save(sys.argv[1], (np.arange(40, dtype=np.float64).reshape(10, 4) / 3))', npy);
  assert.equal(cli('convert', npy, store, '--name', 'm').code, 0);
  const j = JSON.parse(cli('head', store, 'm', '-n', '3', '--json').out);
  const want = JSON.parse(py('import numpy as np, sys, json; print(json.dumps(np.load(sys.argv[1])[:3].tolist()))', npy));
  assert.deepEqual(j.rows, want);
  assert.deepEqual([j.shape, j.dtype], [[10, 4], 'float64']);
  const t = cli('head', store, 'm', '-n', '2');
  assert.equal(t.out.trim().split('\n').length, 3);
  assert.equal(JSON.parse(cli('head', store, 'm', '--json').out).rows.length, 10); // default -n 10, as Python
  userError(cli('head', store, 'm', '-n', 'x'), 2, /-n takes an integer/);
});

test('search: --query (1-D and 2-D .npy), --row, --vector match a float64 scalar loop', () => {
  const { p, rows } = makeStore(80, 5, [2, 3]);
  // --row counts logical rows (dropped ones skipped), like getitem
  const byRow = JSON.parse(cli('search', p, 'emb', '--row', '7', '--metric', 'l2', '-k', '4', '--json').out);
  assertTopK(ofQuery(byRow, 0), oracleTopK(rows, rows[7], 'l2', 4), '--row');
  const v = [0.5, -0.25, 1, 0, 2];
  const byVec = JSON.parse(cli('search', p, 'emb', '--vector', v.join(','), '-k', '6', '--json').out);
  assertTopK(ofQuery(byVec, 0), oracleTopK(rows, v, 'cosine', 6), '--vector');
  const q = path.join(tmp, 'q.npy');
  py('import numpy as np, sys; np.save(sys.argv[1], np.array([[0.1, 0.2, -0.3, 0.4, 0.5], [1, 1, 1, 1, 1]], dtype=np.float32))', q);
  const qs = [[0.1, 0.2, -0.3, 0.4, 0.5].map(Math.fround), [1, 1, 1, 1, 1]];
  const multi = JSON.parse(cli('search', p, 'emb', '--query', q, '--metric', 'dot', '-k', '3', '--json').out);
  assert.deepEqual(new Set(multi.results.map((x) => x.query)), new Set([0, 1]));
  qs.forEach((qq, i) => assertTopK(ofQuery(multi, i), oracleTopK(rows, qq, 'dot', 3), `query ${i}`));
  const table = cli('search', p, 'emb', '--query', q, '-k', '2');
  assert.match(table.out, /^query\s+rank\s+index\s+score$/m);
  assert.equal(table.out.trim().split('\n').length, 2 + 4);
  const full = JSON.parse(cli('search', p, 'emb', '--query', q, '-k', '2', '--batch-size', '7', '--json').out);
  assert.deepEqual(Object.keys(full).sort(), ['k', 'metric', 'results']); // python/numpack/cli.py's keys
  assert.deepEqual(full.results.map((x) => [x.query, x.rank]), [[0, 1], [0, 2], [1, 1], [1, 2]]);
  assert.deepEqual(full.results.map((x) => Object.keys(x).sort()), full.results.map(() => ['index', 'query', 'rank', 'score']));
  assert.deepEqual([full.metric, full.k], ['cosine', 2]);
  userError(cli('search', p, 'emb', '-k', '3'), 2, /exactly one of/);
  userError(cli('search', p, 'emb', '--row', '1', '-k', '0'), 2, /-k takes an integer >= 1/);
  userError(cli('search', p, 'emb', '--row', '1', '--metric', 'manhattan'), 3, /ValueError/);
  userError(cli('search', p, 'emb', '--vector', '1,2'), 3);
  userError(cli('search', p, 'emb', '--row', '500'), 3, /IndexError/);
  userError(cli('search', p, 'emb', '--query', path.join(tmp, 'missing.npy')), 2, /cannot read/);
});

test('pack and unpack round-trip a store (dropped rows too); a corrupt package creates nothing', () => {
  const { p, rows } = makeStore(30, 4, [0, 29]);
  const pkg = path.join(tmp, 'rt.npkg');
  assert.equal(cli('pack', p, pkg).code, 0);
  const dst = fresh();
  const r = cli('unpack', pkg, dst);
  assert.equal(r.code, 0, r.err);
  const s = open(dst);
  const got = s.load('emb');
  assert.deepEqual(got.shape, [28, 4]);
  assert.deepEqual(Array.from(got.data), rows.flat().map(Math.fround));
  s.close();
  userError(cli('unpack', pkg, dst), 3, /exists/);
  assert.equal(cli('unpack', pkg, dst, '--overwrite').code, 0);
  // default output names, as Python's pack/unpack: STORE.npkg, PKG.npk
  assert.equal(cli('pack', p).code, 0);
  assert.ok(fs.existsSync(p.replace(/\.npk$/, '.npkg')));
  const bytes = fs.readFileSync(pkg);
  bytes[Math.floor(bytes.length / 2)] ^= 0xff;
  const bad = path.join(tmp, 'bad.npkg');
  fs.writeFileSync(bad, bytes);
  const target = fresh();
  userError(cli('unpack', bad, target), 2, /CorruptStoreError/);
  assert.ok(!fs.existsSync(target));
  userError(cli('unpack', path.join(tmp, 'none.npkg')), 2, /cannot read/);
  userError(cli('pack', path.join(tmp, 'nothing-here')), 2, /no store folder/);
  // info and search read a package directly
  const j = JSON.parse(cli('info', pkg, '--json').out);
  assert.deepEqual(j.arrays.find((a) => a.name === 'emb').shape, [28, 4]);
  // A package's facts are its files' (unpacked): the same as the folder it was packed from.
  assert.deepEqual(j.arrays, JSON.parse(cli('info', p, '--json').out).arrays);
  assert.deepEqual(JSON.parse(cli('info', pkg, 'ids', '--json').out).arrays, JSON.parse(cli('info', p, 'ids', '--json').out).arrays);
});

test('compact frees the dropped rows; the data is unchanged', () => {
  const { p, rows } = makeStore(64, 8, [0, 1, 2, 10, 63]);
  const before = JSON.parse(cli('info', p, 'emb', '--json').out).arrays[0];
  assert.equal(before.reclaimable_bytes, 5 * 8 * 4);
  const r = cli('compact', p);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /emb: 5 dropped rows removed/);
  const after = JSON.parse(cli('info', p, 'emb', '--json').out).arrays[0];
  assert.deepEqual([after.dropped_rows, after.reclaimable_bytes], [0, 0]);
  assert.ok(after.bytes_on_disk < before.bytes_on_disk);
  const s = open(p);
  assert.deepEqual(Array.from(s.load('emb').data), rows.flat().map(Math.fround));
  s.close();
  assert.match(cli('compact', p).out, /nothing to compact/);
  userError(cli('compact', p, 'nope'), 3, /NotFoundError/);
});

test('convert .npy/.npz <-> .npk, checked by NumPy on both sides (chunked, big-endian, every dtype)', () => {
  const src = path.join(tmp, 'all.npz'), big = path.join(tmp, 'big.npy'), be = path.join(tmp, 'be.npy');
  py(`import numpy as np, sys
rng = np.random.default_rng(5)
arrs = {d: (rng.standard_normal((7, 3)) * 50).astype(d) for d in ['int8','int16','int32','int64','uint8','uint16','uint32','uint64','float16','float32','float64','complex64','complex128']}
arrs['bool'] = rng.standard_normal((7, 3)) > 0
arrs['scalar'] = np.array(3.5)
np.savez_compressed(sys.argv[1], **arrs)
np.save(sys.argv[2], rng.standard_normal((20000, 40)).astype(np.float32))
np.save(sys.argv[3], np.arange(12, dtype='>i4').reshape(4, 3))`, src, big, be);
  const store = fresh();
  assert.equal(cli('convert', src, store).code, 0);
  assert.equal(cli('convert', big, store, '--chunk-mb', '1').code, 0); // 3.2 MB in 1 MiB chunks
  assert.equal(cli('convert', be, store).code, 0);
  const outNpz = path.join(tmp, 'out.npz'), outNpy = path.join(tmp, 'out.npy'), outBe = path.join(tmp, 'be2.npy');
  assert.equal(cli('convert', store, outNpz, '--name', [...['int8', 'uint64', 'float16', 'complex128', 'bool', 'scalar']].join(',')).code, 0);
  assert.equal(cli('convert', store, outNpy, '--name', 'big', '--chunk-mb', '1').code, 0);
  assert.equal(cli('convert', store, outBe, '--name', 'be').code, 0);
  const verdict = py(`import numpy as np, sys
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
ok = all(np.array_equal(a[k], b[k]) and a[k].dtype == b[k].dtype and a[k].shape == b[k].shape for k in b.files)
ok = ok and sorted(b.files) == sorted(['int8', 'uint64', 'float16', 'complex128', 'bool', 'scalar'])
ok = ok and np.array_equal(np.load(sys.argv[3]), np.load(sys.argv[4]))
ok = ok and np.array_equal(np.load(sys.argv[5]), np.load(sys.argv[6]).astype('<i4'))
print(ok)`, src, outNpz, big, outNpy, outBe, be);
  assert.equal(verdict.trim(), 'True');
  const r = cli('convert', big, store); // the array exists: refused, store unchanged
  userError(r, 3, /exists/);
  assert.equal(cli('convert', big, store, '--overwrite', '--name', 'big').code, 0);
  userError(cli('convert', store, path.join(tmp, 'x.npy')), 2, /choose one with --name/);
  userError(cli('convert', src, path.join(tmp, 'x.h5')), 2, /Python CLI/);
  assert.ok(!fs.existsSync(path.join(tmp, 'x.h5')));
  userError(cli('convert', path.join(tmp, 'x.csv'), path.join(tmp, 'y.npy')), 2, /Python CLI/);
  const trunc = path.join(tmp, 'trunc.npy');
  fs.writeFileSync(trunc, fs.readFileSync(big).subarray(0, 5000));
  const tstore = fresh();
  userError(cli('convert', trunc, tstore), 3, /truncated/);
  assert.deepEqual(open(tstore).list(), []);
});

test('corrupted stores: a one-line CorruptStoreError and exit 2, for every reading verb', () => {
  const damage = {
    'catalogue with a bad magic': (p) => { const f = path.join(p, 'metadata.npkm'); const b = fs.readFileSync(f); b[0] ^= 0xff; fs.writeFileSync(f, b); },
    'truncated catalogue': (p) => { const f = path.join(p, 'metadata.npkm'); fs.writeFileSync(f, fs.readFileSync(f).subarray(0, 30)); },
    'truncated data file': (p) => { const f = path.join(p, 'data_emb.npkd'); fs.truncateSync(f, fs.statSync(f).size - 3); },
    'catalogue of garbage': (p) => fs.writeFileSync(path.join(p, 'metadata.npkm'), Buffer.alloc(200, 0x5a)),
  };
  for (const [what, hurt] of Object.entries(damage)) {
    const { p } = makeStore(20, 4, [3]);
    hurt(p);
    const files = fs.readdirSync(p).sort();
    const bytes = files.map((f) => fs.readFileSync(path.join(p, f)).toString('base64'));
    for (const args of [['info', p], ['head', p, 'emb'], ['search', p, 'emb', '--row', '0'], ['pack', p, path.join(tmp, 'c.npkg')], ['compact', p], ['convert', p, path.join(tmp, 'c.npy'), '--name', 'emb']]) {
      const r = cli(...args);
      userError(r, 2, /CorruptStoreError/);
    }
    assert.deepEqual(fs.readdirSync(p).sort(), files, `${what}: files changed`);
    assert.deepEqual(files.map((f) => fs.readFileSync(path.join(p, f)).toString('base64')), bytes, `${what}: bytes changed`);
  }
  userError(cli('info', path.join(tmp, 'no-such-store')), 2, /no NumPack store at/);
  const file = path.join(tmp, 'plain.txt');
  fs.writeFileSync(file, 'x');
  userError(cli('info', file), 2, /not a store folder/);
  assert.ok(!fs.existsSync(path.join(tmp, 'no-such-store')), 'a reading verb created a store');
});

// ---- verify and info: the npm and the Python command on the same stores ----

/** Runs the Python command (`python -m numpack`) of the venv: `{ code, out, err }`. The
 * comparisons below need it: no Python, no pass. */
function pycli(...args) {
  assert.ok(PYTHON, 'the Python venv with the numpack wheel is required (set PYTHON)');
  const r = spawnSync(PYTHON, ['-m', 'numpack', ...args], { encoding: 'utf8', cwd: tmp, env: { ...process.env, PYTHONWARNINGS: 'ignore' } });
  assert.doesNotMatch(r.stderr, /Traceback/);
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** A store written by Python: `vec` (float32 10×4, rows 2, 5, 7 dropped) and `ids` (int64). */
function pyStore() {
  const p = fresh();
  py(`import sys, numpy as np
from numpack import NumPack
with NumPack(sys.argv[1]) as npk:
    npk.save({"vec": np.arange(40, dtype=np.float32).reshape(10, 4), "ids": np.arange(7, dtype=np.int64)})
    npk.drop("vec", [2, 5, 7])`, p);
  return p;
}

/** A store in upstream NumPack's segmented layout (python/tests/test_upstream_layout.py). */
function upstreamStore() {
  const p = fresh();
  py(`import sys, numpy as np
sys.path.insert(0, sys.argv[2])
from pathlib import Path
from test_upstream_layout import _write_upstream_store
_write_upstream_store(Path(sys.argv[1]), np.arange(21.0).reshape(7, 3), np.arange(70))`, p, path.join(here, '../../python/tests'));
  return p;
}

/** Every file under `p` with its bytes (base64), the lock files excepted. */
function snapshot(p) {
  const out = {};
  const walk = (dir, rel) => {
    for (const f of fs.readdirSync(dir).sort()) {
      const full = path.join(dir, f), r = rel ? `${rel}/${f}` : f;
      if (fs.statSync(full).isDirectory()) walk(full, r);
      else if (!f.startsWith('.numpack.')) out[r] = fs.readFileSync(full).toString('base64');
    }
  };
  walk(p, '');
  return out;
}

/** `verify --json` by both commands: the npm one's `{ code, report }`, after checking that the
 * Python one gives the same exit code and the same problems. */
function verifyBoth(p, ...extra) {
  const js = cli('verify', p, '--json', ...extra), pyr = pycli('verify', p, '--json', ...extra);
  assert.equal(js.code, pyr.code, `npx exit ${js.code} (${js.err}), python exit ${pyr.code} (${pyr.err})`);
  if (js.code > 1) return { code: js.code, err: js.err, pyErr: pyr.err };
  const a = JSON.parse(js.out), b = JSON.parse(pyr.out);
  assert.deepEqual(a.problems, b.problems);
  assert.equal(a.clean, b.clean);
  return { code: js.code, report: a };
}

const hurt = {
  journal: (p) => fs.writeFileSync(path.join(p, 'commit.npkj'), Buffer.from([0x4e, 0x50, 0x4b, 0x4a, 1, 0, 0, 0, 0, 0, 0, 0])),
  'data (truncated data file)': (p) => fs.truncateSync(path.join(p, 'data_ids.npkd'), 20),
  'data (catalogue names a missing file)': (p) => fs.rmSync(path.join(p, 'data_ids.npkd')),
  bitmap: (p) => fs.writeFileSync(path.join(p, 'deleted_vec.npkb'), Buffer.from([1, 2, 3])),
  orphan: (p) => fs.writeFileSync(path.join(p, 'data_ghost.npkd'), '12345678'),
  temp: (p) => fs.writeFileSync(path.join(p, 'data_vec.npkd.tmp'), 'half'),
};

test('verify: a clean store, exit 0 in both commands, nothing written', () => {
  const p = pyStore();
  const before = snapshot(p);
  const { code, report } = verifyBoth(p);
  assert.deepEqual([code, report.clean, report.problems], [0, true, []]);
  assert.deepEqual(snapshot(p), before);
  const text = cli('verify', p);
  assert.deepEqual([text.code, text.out.trim()], [0, `${p}: clean`]);
});

test('verify finds each injected fault class, as the Python command does (exit 1, listed, nothing written)', () => {
  for (const [what, damage] of Object.entries(hurt)) {
    const p = pyStore();
    damage(p);
    const before = snapshot(p);
    const { code, report } = verifyBoth(p);
    const fault = what.split(' ')[0];
    assert.equal(code, 1, what);
    assert.deepEqual(report.problems.map((x) => x.fault), [fault], what);
    assert.deepEqual(snapshot(p), before, `${what}: verify wrote`);
    const text = cli('verify', p);
    assert.equal(text.code, 1);
    assert.match(text.out, /: 1 problem\(s\)\n/);
    assert.match(text.out.split('\n')[3], new RegExp(`^${fault} `));
  }
});

test('verify: segment faults and orphan segment files in the upstream layout', () => {
  const p = upstreamStore();
  assert.equal(verifyBoth(p).code, 0);
  fs.writeFileSync(path.join(p, 'data_big_segments', 'seg_000009.npkd'), 'x'.repeat(24));
  let r = verifyBoth(p);
  assert.deepEqual(r.report.problems.map((x) => [x.fault, x.path]), [['orphan', 'data_big_segments/seg_000009.npkd']]);
  fs.truncateSync(path.join(p, 'data_big_segments', 'seg_000001.npkd'), 8);
  r = verifyBoth(p);
  assert.deepEqual(r.report.problems.map((x) => x.fault), ['segments']);
});

test('verify: unreadable stores exit 2 in both commands', () => {
  const missing = path.join(tmp, 'no-such.npk');
  let r = verifyBoth(missing);
  assert.equal(r.code, 2);
  userError(cli('verify', missing), 2, /no NumPack store at/);
  assert.ok(!fs.existsSync(missing), 'verify created a store');
  const p = pyStore();
  fs.writeFileSync(path.join(p, 'metadata.npkm'), 'NPKB garbage');
  r = verifyBoth(p);
  assert.equal(r.code, 2);
  userError(cli('verify', p), 2, /unreadable store/);
});

test('verify --repair does a writer\'s recovery and nothing else, as the Python command does', () => {
  const [a, b] = [pyStore(), pyStore()];
  for (const p of [a, b]) { hurt.journal(p); hurt.temp(p); hurt.orphan(p); }
  const js = cli('verify', a, '--repair', '--json'), pyr = pycli('verify', b, '--repair', '--json');
  assert.deepEqual([js.code, pyr.code], [1, 1], js.err + pyr.err);
  const problems = (r) => JSON.parse(r.out).problems.map((x) => [x.fault, x.path]);
  assert.deepEqual(problems(js), [['orphan', 'data_ghost.npkd']]);
  assert.deepEqual(problems(js), problems(pyr));
  for (const p of [a, b]) {
    assert.ok(!fs.existsSync(path.join(p, 'commit.npkj')) && !fs.existsSync(path.join(p, 'data_vec.npkd.tmp')));
    assert.ok(fs.existsSync(path.join(p, 'data_ghost.npkd'))); // an orphan is no writer's business
  }
  // The same files with the same bytes (the catalogues differ only in their save times).
  const [sa, sb] = [snapshot(a), snapshot(b)];
  delete sa['metadata.npkm']; delete sb['metadata.npkm'];
  assert.deepEqual(sa, sb);
});

test('verify --save-checksums / --data: either command reads the other\'s sums; bit rot is found', () => {
  const p = pyStore();
  const [jsSums, pySums] = [fresh('.json'), fresh('.json')];
  assert.equal(cli('verify', p, '--save-checksums', jsSums).code, 0);
  assert.equal(pycli('verify', p, '--save-checksums', pySums).code, 0);
  assert.deepEqual(JSON.parse(fs.readFileSync(jsSums, 'utf8')), JSON.parse(fs.readFileSync(pySums, 'utf8')));
  // An independent reference: NumPy's bytes of each array, hashed by Python's hashlib.
  const want = JSON.parse(py(`import sys, json, hashlib
from numpack import NumPack
with NumPack(sys.argv[1]) as npk:
    print(json.dumps({n: hashlib.sha256(npk.load(n).tobytes()).hexdigest() for n in npk.get_member_list()}))`, p));
  const saved = JSON.parse(fs.readFileSync(jsSums, 'utf8')).arrays;
  assert.deepEqual(Object.fromEntries(Object.entries(saved).map(([n, x]) => [n, x.sha256])), want);
  assert.deepEqual(saved.vec.shape, [7, 4]);
  assert.equal(verifyBoth(p, '--data', pySums).code, 0);
  const f = path.join(p, 'data_ids.npkd');
  const raw = fs.readFileSync(f);
  raw[8] ^= 0xff; // silent bit rot: every size stays right
  fs.writeFileSync(f, raw);
  assert.equal(verifyBoth(p).code, 0); // the structure is fine...
  const r = verifyBoth(p, '--data', jsSums);
  assert.deepEqual([r.code, r.report.problems.map((x) => [x.fault, x.path])], [1, [['checksum', 'ids']]]);
  userError(cli('verify', p, '--data', path.join(tmp, 'no-sums.json')), 3, /cannot read checksums/);
  // Checksums read the store read-only: a leftover temporary file is reported, not removed.
  hurt.temp(p);
  const before = snapshot(p);
  const t = verifyBoth(p, '--data', jsSums);
  assert.deepEqual(t.report.problems.map((x) => x.fault), ['temp', 'checksum']);
  assert.deepEqual(snapshot(p), before);
});

test('info --json: the npm and the Python command print the same facts', () => {
  const plain = pyStore();
  fs.appendFileSync(path.join(plain, 'data_ids.npkd'), Buffer.alloc(40)); // an uncommitted append's tail
  const stores = [plain, upstreamStore()];
  for (const p of stores) {
    for (const args of [[p, '--json'], [p, 'ids', '--json']]) {
      const js = cli('info', ...args), pyr = pycli('info', ...args);
      assert.deepEqual([js.code, pyr.code], [0, 0], js.err + pyr.err);
      assert.deepEqual(JSON.parse(js.out), JSON.parse(pyr.out));
    }
  }
  const j = JSON.parse(cli('info', plain, '--json').out);
  const ids = j.arrays.find((a) => a.name === 'ids');
  assert.deepEqual([ids.bytes_on_disk, ids.reclaimable_bytes], [7 * 8 + 40, 40]);
  assert.equal(j.reclaimable_bytes, 3 * 4 * 4 + 40);
  const seg = JSON.parse(cli('info', stores[1], '--json').out);
  const big = seg.arrays.find((a) => a.files.some((f) => f.includes('_segments/')));
  assert.ok(big, 'the segmented array lists its segment files');
  const size = (f) => fs.statSync(path.join(stores[1], f)).size;
  assert.equal(big.bytes_on_disk, big.files.reduce((a, f) => a + size(f), 0));
  assert.equal(cli('info', plain, 'nope').code, pycli('info', plain, 'nope').code);
});

test('serve-example serves the page and the package with COOP/COEP, and nothing outside it', async () => {
  const { server, base, url } = await serveExample({ port: 0 });
  try {
    const page = await fetch(url);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('cross-origin-opener-policy'), 'same-origin');
    assert.equal(page.headers.get('cross-origin-embedder-policy'), 'require-corp');
    assert.match(await page.text(), /NumPack vector search/);
    const wasm = await fetch(`${base}/dist/wasm/numpack_wasm_bg.wasm`);
    assert.equal(wasm.headers.get('content-type'), 'application/wasm');
    assert.equal((await fetch(`${base}/src/cli.js`)).status, 200);
    const outside = await new Promise((resolve) => http.get(`${base}/../../../../etc/passwd`, (res) => { res.resume(); resolve(res.statusCode); }));
    assert.equal(outside, 404); // the URL resolves inside the package folder: no file there
    assert.equal((await fetch(`${base}/nope.js`)).status, 404);
    assert.equal((await fetch(base, { redirect: 'manual' })).headers.get('location'), '/examples/search-page/');
  } finally { server.close(); server.closeAllConnections?.(); }
});

test('a store written by Python (numpy data, dropped rows): info, head, search and pack agree with NumPy', () => {
  const p = fresh();
  const want = JSON.parse(py(`import json, sys
import numpy as np
from numpack import NumPack
rng = np.random.default_rng(9)
emb = rng.standard_normal((40, 7)).astype(np.float32)
with NumPack(sys.argv[1]) as npk:
    npk.save({"emb": emb, "tags": np.arange(12, dtype=np.uint16).reshape(4, 3)})
    npk.drop("emb", [0, 5, 6])
    live = np.delete(emb, [0, 5, 6], axis=0)
    shapes = {n: list(npk.get_shape(n)) for n in npk.get_member_list()}
c = live.astype(np.float64); q = c[2]
scores = (c @ q) / (np.linalg.norm(c, axis=1) * np.linalg.norm(q))
order = np.argsort(-scores, kind="stable")[:5]
print(json.dumps({"shapes": shapes, "head": live[:2].tolist(), "indices": order.tolist(), "scores": scores[order].tolist()}))`, p));
  const info = JSON.parse(cli('info', p, '--json').out);
  for (const a of info.arrays) assert.deepEqual(a.shape, want.shapes[a.name], a.name);
  const emb = info.arrays.find((a) => a.name === 'emb');
  assert.deepEqual([emb.live_rows, emb.dropped_rows, emb.reclaimable_bytes], [37, 3, 3 * 7 * 4]);
  assert.deepEqual(JSON.parse(cli('head', p, 'emb', '-n', '2', '--json').out).rows, want.head);
  const s = JSON.parse(cli('search', p, 'emb', '--row', '2', '-k', '5', '--json').out);
  assertTopK(ofQuery(s, 0), want.indices.map((ix, j) => [want.scores[j], ix]), 'search');
  const pkg = path.join(tmp, 'py.npkg');
  assert.equal(cli('pack', p, pkg).code, 0);
  const back = py(`import sys, numpy as np
from numpack import NumPack, unpack
unpack(sys.argv[1], sys.argv[2])
with NumPack(sys.argv[2]) as npk:
    print(npk.get_shape("emb"), npk.load("tags").sum())`, pkg, path.join(tmp, 'py-unpacked.npk'));
  assert.equal(back.trim(), '(37, 7) 66');
});
