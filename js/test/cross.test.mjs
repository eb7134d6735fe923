// Cross-runtime: Python writes → Node (and headless Chromium) read and verify; Node writes →
// Python reads and verifies; the same calls in both runtimes give byte-identical files (modify
// times masked); the same search gives the same indices. Needs the Python wheel in .venv
// (scripts/test-python.sh builds it); without it these tests are SKIPPED LOUDLY.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { Store, open, VectorSearch, DTYPE_NAMES } from '../src/node.js';
import { sample, plain, tmpdir, readTree, sameFiles } from './helpers.mjs';

const repo = path.resolve(new URL('../..', import.meta.url).pathname);
const py = path.join(repo, '.venv/bin/python');
const probe = fs.existsSync(py) ? spawnSync(py, ['-c', 'import numpack'], { encoding: 'utf8' }) : null;
// The cross-runtime checks need the Python wheel (scripts/test-python.sh installs it, and
// `make test` runs that first). Without it they fail: a skipped cross-runtime check hides a gap.
if (!probe || probe.status !== 0) {
  throw new Error('the Python wheel is not installed in .venv: run scripts/test-python.sh first');
}
function python(code, ...args) {
  const r = spawnSync(py, ['-c', code, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`python failed:\n${r.stderr}`);
  return r.stdout.trim() ? JSON.parse(r.stdout.trim().split('\n').pop()) : null;
}

// The same operation list, expressed in both runtimes. Data comes from files written by Node
// so both sides use identical bytes.
const DT = DTYPE_NAMES;
function writeInputs(dir) {
  fs.mkdirSync(dir, { recursive: true });
  for (const dt of DT) fs.writeFileSync(path.join(dir, `${dt}.bin`), Buffer.from(sample(dt, 30).buffer));
  fs.writeFileSync(path.join(dir, 'extra.bin'), Buffer.from(sample('float32', 6, 3).buffer));
  const emb = new Float32Array(500 * 16).map((_, i) => Math.sin(i * 0.37) + Math.cos(i * 0.011));
  fs.writeFileSync(path.join(dir, 'emb.bin'), Buffer.from(emb.buffer));
  return emb;
}

const PY_WRITE = `
import sys, numpy as np
from numpack import NumPack
src, out = sys.argv[1], sys.argv[2]
names = ${JSON.stringify(DT)}
with NumPack(out, drop_if_exists=True) as n:
    for dt in names:
        n.save({dt: np.fromfile(f"{src}/{dt}.bin", dtype=np.dtype(dt)).reshape(10, 3)})
    n.append({"float32": np.fromfile(f"{src}/extra.bin", dtype=np.float32).reshape(2, 3)})
    n.drop("int8", [1, 3, 5])
    n.save({"emb": np.fromfile(f"{src}/emb.bin", dtype=np.float32).reshape(500, 16)})
`;

function nodeWrite(src, out) {
  fs.rmSync(out, { recursive: true, force: true });
  const s = open(out);
  for (const dt of DT) {
    const raw = fs.readFileSync(path.join(src, `${dt}.bin`));
    const bytes = new Uint8Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
    s.save({ [dt]: { data: sample(dt, 30), shape: [10, 3], dtype: dt } });
    assert.deepEqual(new Uint8Array(s.load(dt).data.buffer), bytes);
  }
  s.append('float32', { data: sample('float32', 6, 3), shape: [2, 3] });
  s.drop('int8', [1, 3, 5]);
  const emb = fs.readFileSync(path.join(src, 'emb.bin'));
  s.save({ emb: { data: new Float32Array(emb.buffer.slice(emb.byteOffset, emb.byteOffset + emb.byteLength)), shape: [500, 16] } });
  s.close();
}

test('Python writes → Node reads; the same calls give the same bytes', () => {
  const work = tmpdir('cross');
  writeInputs(path.join(work, 'in'));
  python(PY_WRITE, path.join(work, 'in'), path.join(work, 'py.npk'));
  nodeWrite(path.join(work, 'in'), path.join(work, 'node.npk'));
  const s = open(path.join(work, 'py.npk'));
  assert.deepEqual(s.shape('float32'), [12, 3]);
  assert.deepEqual(s.shape('int8'), [7, 3]);
  for (const dt of DT.filter((d) => d !== 'float32' && d !== 'int8')) assert.deepEqual(plain(s.load(dt).data), plain(sample(dt, 30)), dt);
  assert.equal(sameFiles(readTree(path.join(work, 'py.npk')), readTree(path.join(work, 'node.npk'))), null);
  s.close();
  fs.rmSync(work, { recursive: true, force: true });
});

test('Node writes → Python reads and verifies', () => {
  const work = tmpdir('cross2');
  writeInputs(path.join(work, 'in'));
  nodeWrite(path.join(work, 'in'), path.join(work, 'node.npk'));
  const got = python(`
import sys, json, numpy as np
from numpack import NumPack
src, store = sys.argv[1], sys.argv[2]
ok = {}
with NumPack(store) as n:
    for dt in ${JSON.stringify(DT)}:
        want = np.fromfile(f"{src}/{dt}.bin", dtype=np.dtype(dt)).reshape(10, 3)
        if dt == "float32":
            want = np.concatenate([want, np.fromfile(f"{src}/extra.bin", dtype=np.float32).reshape(2, 3)])
        if dt == "int8":
            want = np.delete(want, [1, 3, 5], axis=0)
        ok[dt] = bool(np.array_equal(n.load(dt), want, equal_nan=want.dtype.kind in "fc"))
print(json.dumps(ok))
`, path.join(work, 'in'), path.join(work, 'node.npk'));
  for (const dt of DT) assert.equal(got[dt], true, dt);
  fs.rmSync(work, { recursive: true, force: true });
});

test('the same search gives the same indices in Python and Node', () => {
  const work = tmpdir('cross3');
  const emb = writeInputs(path.join(work, 'in'));
  python(PY_WRITE, path.join(work, 'in'), path.join(work, 'py.npk'));
  const res = python(`
import sys, json, numpy as np
from numpack import NumPack
from numpack.vector_engine import VectorSearch
with NumPack(sys.argv[1]) as n:
    e = n.load("emb")
out = {}
for m in ["cosine", "l2", "dot", "l2sq"]:
    idx, sc = VectorSearch().top_k_search(e[7], e, m, 10)
    out[m] = [int(i) for i in idx]
print(json.dumps(out))
`, path.join(work, 'py.npk'));
  const s = open(path.join(work, 'py.npk'));
  const vs = new VectorSearch();
  for (const m of Object.keys(res)) {
    assert.deepEqual([...vs.topKStored(s, 'emb', emb.subarray(7 * 16, 8 * 16), m, 10).indices], res[m], m);
  }
  s.close();
  fs.rmSync(work, { recursive: true, force: true });
});

test('Python writes → headless Chromium reads (package of the Python files)', () => {
  const work = tmpdir('cross4');
  writeInputs(path.join(work, 'in'));
  python(PY_WRITE, path.join(work, 'in'), path.join(work, 'py.npk'));
  const files = readTree(path.join(work, 'py.npk'));
  const mem = Store.fromFiles(files);
  fs.writeFileSync(path.join(work, 'store.npkg'), mem.toPackage());
  const arrays = {};
  for (const dt of DT) { const a = mem.load(dt); arrays[dt] = { dtype: a.dtype, shape: a.shape, data: plain(a.data).map((v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v)) }; }
  delete arrays.float16; // NaN-free check via Node above; Chromium may return Float16Array values
  delete arrays.complex64; delete arrays.complex128;
  const q = mem.getitem('emb', 7).data;
  const search = { array: 'emb', row: 7, metric: 'cosine', k: 5, indices: [...new VectorSearch().topKStored(mem, 'emb', q, 'cosine', 5).indices] };
  fs.writeFileSync(path.join(work, 'expect.json'), JSON.stringify({ arrays, search }));
  const r = spawnSync('node', [path.join(repo, 'js/test/browser/run.mjs'), '--cross', work], { encoding: 'utf8' });
  process.stdout.write(r.stdout);
  assert.equal(r.status, 0, r.stderr);
  fs.rmSync(work, { recursive: true, force: true });
});

test('Node packs with zstd → Python unpacks and verifies', () => {
  const work = tmpdir('cross6');
  const s = Store.memory();
  const ids = BigInt64Array.from({ length: 30000 }, (_, i) => BigInt(i * 3));
  const emb = new Float32Array(400 * 8).map((_, i) => Math.sin(i * 0.1));
  s.save({ ids: { data: ids, shape: [30000] }, emb: { data: emb, shape: [400, 8] } });
  s.drop('emb', [0, 5]);
  fs.writeFileSync(path.join(work, 'n.npkg'), s.toPackage({ compression: true }));
  const got = python(`
import sys, json, numpy as np
from numpack import NumPack, unpack, get_package_info
work = sys.argv[1]
info = get_package_info(work + "/n.npkg")
unpack(work + "/n.npkg", work + "/out.npk")
with NumPack(work + "/out.npk") as n:
    ids, emb = n.load("ids"), n.load("emb")
ok_ids = bool(np.array_equal(ids, np.arange(30000, dtype=np.int64) * 3))
ref = np.sin(np.arange(400 * 8) * 0.1).astype(np.float32).reshape(400, 8)
ok_emb = bool(np.array_equal(emb, np.delete(ref, [0, 5], axis=0)))
print(json.dumps({"ids": ok_ids, "emb": ok_emb, "compressed": [f["name"] for f in info["files"] if f["compressed_size"]]}))
`, work);
  assert.ok(got.ids && got.emb, JSON.stringify(got));
  assert.ok(got.compressed.includes('data_ids.npkd'), JSON.stringify(got));
  fs.rmSync(work, { recursive: true, force: true });
});

test('Python packs with zstd (default) → Node opens the .npkg', () => {
  const work = tmpdir('cross5');
  // Two packages of one store: `pack()` as it is now, and one whose files the `zstandard`
  // module compressed at level 3 the way Python's writer did before the codec moved to Rust.
  const got = python(`
import sys, json, struct, zlib, numpy as np, zstandard
from numpack import NumPack, pack, get_package_info
work = sys.argv[1]
rng = np.random.default_rng(7)
arrays = {
    "emb": rng.standard_normal((3000, 16)).astype(np.float32),
    "ids": np.arange(20000, dtype=np.int64),
    "cat": rng.integers(0, 50, (2000, 10)).astype(np.int32),
    "flag": np.arange(5000) % 3 == 0,
}
with NumPack(work + "/s.npk", drop_if_exists=True) as n:
    n.save(arrays)
    n.drop("ids", [0, 1])
arrays["ids"] = arrays["ids"][2:]
for k, v in arrays.items():
    v.tofile(f"{work}/{k}.bin")
info = get_package_info(pack(work + "/s.npk", work + "/new.npkg"))
old, chain = b"", 0
for f in info["files"]:
    data = open(f"{work}/s.npk/{f['name']}", "rb").read()
    frame = zstandard.ZstdCompressor(level=3).compress(data)
    raw = len(frame) >= len(data)
    old += struct.pack("<I", len(f["name"])) + f["name"].encode() + struct.pack("<QQ", len(data), 0 if raw else len(frame))
    old += data if raw else frame
    chain = zlib.crc32(struct.pack("<I", zlib.crc32(data)), chain)
open(work + "/old.npkg", "wb").write(b"NPKG" + struct.pack("<IBI", 2, 1, len(info["files"])) + old + struct.pack("<I", chain))
print(json.dumps({"compressed": [f["name"] for f in info["files"] if f["compressed_size"]],
                  "shapes": {k: list(v.shape) for k, v in arrays.items()}}))
`, work);
  assert.ok(got.compressed.includes('data_ids.npkd') && got.compressed.includes('data_cat.npkd'), JSON.stringify(got));
  for (const pkg of ['new.npkg', 'old.npkg']) {
    const s = Store.fromPackage(fs.readFileSync(path.join(work, pkg)));
    for (const [name, shape] of Object.entries(got.shapes)) {
      const a = s.load(name);
      assert.deepEqual(a.shape, shape, `${pkg} ${name}`);
      const bytes = Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength);
      assert.ok(bytes.equals(fs.readFileSync(path.join(work, `${name}.bin`))), `${pkg} ${name}`);
    }
    s.close();
  }
  fs.rmSync(work, { recursive: true, force: true });
});
