// The verbs of `npx numpack` (see cli.js for parsing and exit codes). Each verb is
// `{ help, options, positionals: [min, max], run(args, values, io) }`; `run` resolves to an
// exit code (or null to keep the process running, for the example server).

import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { open, Store, VectorSearch, storeVerify, storeFacts, storeChecksums, packageFacts } from './node.js';
import { DTYPES, fromHalfBits } from './dtypes.js';
import { ValueError } from './errors.js';
import { parseNpyHeader, arrayFromBytes, readNpy, readNpz, encodeNpz, npyHeader, dataBytes } from './npy.js';
import { UsageError, EXIT } from './cli.js';

// Output keys and formats follow the Python `numpack` command (python/numpack/cli.py): the JSON
// of `info` and `search` has exactly its keys, so one script reads the output of either CLI.

/** A store folder or `.npkg` file that does not exist or cannot be read (exit 2). */
class MissingInputError extends Error {
  constructor(message) { super(message); this.name = 'MissingInputError'; }
}

/** Opens the existing store at `p`: a folder, or a `.npkg` file (read into memory). Never creates. */
function openExisting(p) {
  const st = fs.statSync(p, { throwIfNoEntry: false });
  if (!st) throw new MissingInputError(`no NumPack store at '${p}'`);
  if (st.isDirectory()) return { store: open(p), kind: 'folder' };
  if (/\.npkg$/i.test(p)) return { store: Store.fromPackage(readInput(p)), kind: 'package' };
  throw new MissingInputError(`${p} is not a store folder or a .npkg file`);
}

/** The bytes of the input file `p` (a missing one is exit 2). */
function readInput(p) {
  try { return new Uint8Array(fs.readFileSync(p)); } catch (e) { throw new MissingInputError(`cannot read ${p}: ${e.code ?? e.message}`); }
}

/** Runs `fn(store)` on the existing store at `p`, closing it afterwards. */
function withStore(p, fn) {
  const { store, kind } = openExisting(p);
  try { return fn(store, kind); } finally { store.close(); }
}

/** Writes all of `bytes` at the file position of `fd` (a write may take only part, e.g. 2 GiB). */
function writeAll(fd, bytes) {
  for (let done = 0; done < bytes.length;) done += fs.writeSync(fd, bytes, done, bytes.length - done);
}

/** Writes `bytes` (or the chunks `write(fd)` writes) to `p` atomically: a sibling temp file,
 * synced, then renamed over `p`. */
function writeAtomic(p, write) {
  const tmp = `${p}.${process.pid}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  try {
    if (write instanceof Uint8Array) writeAll(fd, write); else write(fd);
    fs.fsyncSync(fd);
  } catch (e) { fs.closeSync(fd); fs.rmSync(tmp, { force: true }); throw e; }
  fs.closeSync(fd);
  fs.renameSync(tmp, p);
}

const prod = (a) => a.reduce((x, y) => x * y, 1);
/** µs since the epoch as Python's `isoformat(timespec="seconds")` in UTC: `2026-12-03T15:48:39+00:00`. */
const iso = (us) => (us ? `${new Date(Number(us) / 1000).toISOString().slice(0, 19)}+00:00` : null);

/** Human-readable bytes. */
function humanBytes(n) {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n, u = -1;
  do { v /= 1024; u++; } while (v >= 1024 && u < units.length - 1);
  return `${v.toFixed(1)} ${units[u]}`;
}

/** The facts `info` reports (numpack_core::facts, the same the Python CLI prints) as the
 * Python CLI's JSON: `{ store, arrays: [...], bytes_on_disk, reclaimable_bytes }` and the
 * store's last change (µs, null when empty) beside it. */
function infoReport(store, kind, name) {
  const f = kind === 'package' ? packageFacts(readInput(store), name) : storeFacts(store, name);
  const arrays = f.arrays.map((a) => ({
    name: a.name, shape: a.shape, dtype: a.dtype, live_rows: a.liveRows, dropped_rows: a.droppedRows,
    bytes_on_disk: a.bytesOnDisk, reclaimable_bytes: a.reclaimableBytes, last_modified: iso(a.lastModified),
    files: a.files.map(([file]) => file),
  }));
  return { report: { store, arrays, bytes_on_disk: f.bytesOnDisk, reclaimable_bytes: f.reclaimableBytes }, last: f.lastModified };
}

/** Whether `p` is a folder, a `.npkg` file (else a missing-input error, exit 2). */
function inputKind(p) {
  const st = fs.statSync(p, { throwIfNoEntry: false });
  if (!st) throw new MissingInputError(`no NumPack store at '${p}'`);
  if (st.isDirectory()) return 'folder';
  if (/\.npkg$/i.test(p)) return 'package';
  throw new MissingInputError(`${p} is not a store folder or a .npkg file`);
}

/** JSON of arrays and search results: bigints as numbers when exact (else strings), NaN and
 * infinities as null. */
const toJson = (v) => JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? (x >= -(2n ** 53n) && x <= 2n ** 53n ? Number(x) : String(x)) : x));

/** A table as the Python CLI prints it: left-aligned columns, the header underlined. */
function table(header, rows) {
  const cells = [header, ...rows].map((r) => r.map(String));
  const widths = header.map((_, c) => Math.max(...cells.map((r) => r[c].length)));
  const line = (r) => r.map((v, c) => v.padEnd(widths[c])).join('  ').trimEnd();
  return [line(cells[0]), line(widths.map((w) => '-'.repeat(w))), ...cells.slice(1).map(line)].join('\n');
}

/** `%.6g` of a number, as Python formats scores. */
const g6 = (x) => (Number.isFinite(x) ? Number(x.toPrecision(6)).toString() : x > 0 ? 'inf' : x < 0 ? '-inf' : 'nan');

/** A shape as Python prints it: `(3, 4)`, `(10,)`, `()`. */
const pyShape = (shape) => `(${shape.join(', ')}${shape.length === 1 ? ',' : ''})`;

/** The elements of `{ data, shape, dtype }` as nested JS lists (complex as [re, im], bool as
 * true/false, float16 bits decoded). */
function toNested({ data, shape, dtype }, decodeHalf) {
  const lanes = DTYPES[dtype].lanes;
  const at = (i) => {
    if (lanes === 2) return [data[2 * i], data[2 * i + 1]];
    if (dtype === 'bool') return data[i] !== 0;
    if (dtype === 'float16' && data instanceof Uint16Array) return decodeHalf(data[i]);
    return data[i];
  };
  if (shape.length === 0) return at(0);
  const build = (dim, offset) => {
    const n = shape[dim], stride = prod(shape.slice(dim + 1));
    return Array.from({ length: n }, (_, i) => (dim === shape.length - 1 ? at(offset + i) : build(dim + 1, offset + i * stride)));
  };
  return build(0, 0);
}

/** One value for a table cell. */
function fmt(v) {
  if (Array.isArray(v)) return `[${v.map(fmt).join(', ')}]`;
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : Number(v.toPrecision(6)).toString();
  return String(v);
}


// ---- verbs ----

const info = {
  help: `usage: numpack info STORE [NAME] [--json]
Lists the arrays of a store (a folder, or a .npkg file): shape, dtype, live and dropped rows,
bytes on disk (for a .npkg: the bytes unpacked), bytes a compaction would reclaim, and the
last change (ISO 8601, UTC). --json keys as the Python command's.
example: npx numpack info vectors.npk --json`,
  options: { json: { type: 'boolean' } },
  positionals: [1, 2],
  run([store, name], values, io) {
    const { report, last } = infoReport(store, inputKind(store), name);
    if (values.json) { io.out(`${JSON.stringify(report, null, 2)}\n`); return EXIT.OK; }
    const { arrays } = report;
    io.out(`${store}: ${arrays.length} array(s), ${humanBytes(report.bytes_on_disk)} on disk, ${humanBytes(report.reclaimable_bytes)} reclaimable, last change ${iso(last) ?? '-'}\n`);
    io.out(`${table(['name', 'shape', 'dtype', 'live', 'dropped', 'on disk', 'reclaimable', 'last change'],
      arrays.map((a) => [a.name, pyShape(a.shape), a.dtype, a.live_rows, a.dropped_rows, humanBytes(a.bytes_on_disk), humanBytes(a.reclaimable_bytes), a.last_modified]))}\n`);
    return EXIT.OK;
  },
};

const head = {
  help: `usage: numpack head STORE NAME [-n ROWS] [--json]
Prints the first ROWS (default 10) rows of an array.
example: npx numpack head vectors.npk emb -n 3`,
  options: { n: { type: 'string', short: 'n' }, json: { type: 'boolean' } },
  positionals: [2, 2],
  run([store, name], values, io) {
    const n = intOption(values.n ?? '10', '-n', 0);
    return withStore(store, (s) => {
      const shape = s.shape(name);
      const arr = shape.length === 0 ? s.load(name) : s.getitem(name, { start: 0, stop: Math.min(n, shape[0]) });
      const rows = toNested(arr, fromHalfBits);
      if (values.json) { io.out(`${toJson({ name, dtype: arr.dtype, shape, rows })}\n`); return EXIT.OK; }
      io.out(`${name}: shape ${pyShape(shape)}, ${arr.dtype}${shape.length && shape[0] > n ? `, first ${n} rows` : ''}\n`);
      if (shape.length === 0) io.out(`${fmt(rows)}\n`);
      else rows.forEach((r, i) => io.out(`${i}: ${fmt(r)}\n`));
      return EXIT.OK;
    });
  },
};

/** `text` as an integer ≥ `min`, or a usage error naming `flag`. */
function intOption(text, flag, min) {
  if (!/^-?\d+$/.test(String(text)) || Number(text) < min) throw new UsageError(`${flag} takes an integer >= ${min}, got ${text}`);
  return Number(text);
}

const search = {
  help: `usage: numpack search STORE NAME (--query Q.npy | --row I | --vector 1,2,3) [--metric cosine] [-k 10] [--batch-size 10000] [--json]
The k best rows of the 2-D array NAME for a query: a .npy file (1-D: one query, 2-D: one per
row), a row of NAME itself, or a comma-separated vector. Streams over the stored array,
--batch-size rows at a time. --json: {"metric", "k", "results": [{"query", "rank", "index",
"score"}]} (best first per query; NaN scores are null).
Metrics: dot, cosine, l2, l2sq, hamming, jaccard, kl, js (docs/METRICS.md).
example: npx numpack search vectors.npk emb --query q.npy --metric cosine -k 10`,
  options: {
    query: { type: 'string', short: 'q' }, row: { type: 'string' }, vector: { type: 'string' },
    metric: { type: 'string', short: 'm' }, k: { type: 'string', short: 'k' }, 'batch-size': { type: 'string' }, json: { type: 'boolean' },
  },
  positionals: [2, 2],
  run([store, name], values, io) {
    const given = ['query', 'row', 'vector'].filter((o) => values[o] !== undefined);
    if (given.length !== 1) throw new UsageError('give exactly one of --query, --row, --vector');
    const k = intOption(values.k ?? '10', '-k', 1);
    const metric = values.metric ?? 'cosine';
    const batchRows = intOption(values['batch-size'] ?? '10000', '--batch-size', 1);
    return withStore(store, (s) => {
      let query;
      if (values.query !== undefined) query = readNpy(readInput(values.query));
      else if (values.row !== undefined) query = s.getitem(name, intOption(values.row, '--row', -(2 ** 53)));
      else {
        const parts = values.vector.split(',').map((x) => x.trim());
        if (parts.some((x) => x === '' || !Number.isFinite(Number(x)))) throw new UsageError(`--vector takes comma-separated numbers, got ${values.vector}`);
        query = parts.map(Number);
      }
      const r = new VectorSearch().topKStored(s, name, query, metric, k, { batchRows });
      const q = r.shape ? r.shape[0] : 1, kk = r.shape ? r.shape[1] : r.indices.length;
      const indices = [], scores = [];
      for (let i = 0; i < q; i++) {
        indices.push(Array.from(r.indices.subarray(i * kk, (i + 1) * kk)));
        scores.push(Array.from(r.scores.subarray(i * kk, (i + 1) * kk)));
      }
      const results = indices.flatMap((row, qi) => row.map((index, r) => ({ query: qi, rank: r + 1, index, score: scores[qi][r] })));
      if (values.json) { io.out(`${toJson({ metric, k, results })}\n`); return EXIT.OK; }
      io.out(`${table(['query', 'rank', 'index', 'score'], results.map((x) => [x.query, x.rank, x.index, g6(x.score)]))}\n`);
      return EXIT.OK;
    });
  },
};

const pack = {
  help: `usage: numpack pack STORE [OUT.npkg] [--no-compress]
Packs a store folder into one .npkg file (default: beside it, suffix .npkg), zstd-compressing
the files that shrink unless --no-compress. Python's numpack.unpack reads it.
example: npx numpack pack vectors.npk vectors.npkg`,
  options: { 'no-compress': { type: 'boolean' } },
  positionals: [1, 2],
  run([store, out], values, io) {
    if (fs.statSync(store, { throwIfNoEntry: false })?.isDirectory() !== true) throw new MissingInputError(`no store folder at ${store}`);
    const target = out ?? replaceSuffix(store, '.npkg');
    const bytes = withStore(store, (s) => s.toPackage({ compression: !values['no-compress'] }));
    writeAtomic(target, bytes);
    io.out(`packed ${store} into ${target} (${humanBytes(bytes.length)})\n`);
    return EXIT.OK;
  },
};

/** `p` with its last suffix replaced by `suffix` (or `suffix` added), as Python's `with_suffix`. */
function replaceSuffix(p, suffix) {
  const clean = p.replace(/[\\/]+$/, '');
  const ext = path.extname(clean);
  return (ext ? clean.slice(0, -ext.length) : clean) + suffix;
}

const unpack = {
  help: `usage: numpack unpack PKG [DST] [--overwrite]
Unpacks a .npkg file into a store folder (default: beside it, suffix .npk). An existing DST is
an error unless --overwrite (the store in it is then replaced). A bad package creates nothing.
example: npx numpack unpack vectors.npkg vectors.npk`,
  options: { overwrite: { type: 'boolean' } },
  positionals: [1, 2],
  run([pkg, dst], values, io) {
    const target = dst ?? replaceSuffix(pkg, '.npk');
    const store = Store.fromPackage(readInput(pkg));
    let files;
    try { files = store.files(); } finally { store.close(); }
    const exists = fs.existsSync(target);
    if (exists && !values.overwrite) throw new ValueError(`${target} exists (use --overwrite to replace it)`);
    const tmp = `${target.replace(/[\\/]+$/, '')}.${process.pid}.unpack.tmp`;
    fs.rmSync(tmp, { recursive: true, force: true });
    try {
      for (const [rel, data] of Object.entries(files)) {
        const file = path.join(tmp, rel);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        writeAtomic(file, data);
      }
      fs.mkdirSync(tmp, { recursive: true });
      if (exists) {
        const old = `${tmp}.old`;
        fs.renameSync(target, old);
        fs.renameSync(tmp, target);
        fs.rmSync(old, { recursive: true, force: true });
      } else fs.renameSync(tmp, target);
    } catch (e) { fs.rmSync(tmp, { recursive: true, force: true }); throw e; }
    io.out(`unpacked ${pkg} into ${target} (${Object.keys(files).length} files)\n`);
    return EXIT.OK;
  },
};

const compact = {
  help: `usage: numpack compact STORE [NAME...]
Rewrites arrays (default: every array with dropped rows) without their dropped rows,
returning the space to the file system.
example: npx numpack compact vectors.npk emb`,
  options: {},
  positionals: [1, Infinity],
  run([store, ...names], values, io) {
    if (fs.statSync(store, { throwIfNoEntry: false })?.isDirectory() !== true) throw new MissingInputError(`no store folder at ${store}`);
    return withStore(store, (s) => {
      const todo = names.length ? names.map((n) => s.info(n)) : s.infos().filter((i) => (i.physicalShape[0] ?? 1) !== (i.shape[0] ?? 1));
      for (const i of todo) {
        const [before] = storeFacts(store, i.name).arrays;
        s.compact(i.name);
        const [after] = storeFacts(store, i.name).arrays;
        io.out(`${i.name}: ${before.droppedRows} dropped rows removed, ${humanBytes(Math.max(before.bytesOnDisk - after.bytesOnDisk, 0))} freed\n`);
      }
      if (!todo.length) io.out('nothing to compact\n');
      return EXIT.OK;
    });
  },
};

const convert = {
  help: `usage: numpack convert SRC DST [--name NAME] [--overwrite] [--chunk-mb 64]
Converts between .npy / .npz files and .npk store folders (or .npkg packages as the source):
  a.npy  -> STORE   one array, named NAME or the file stem (read --chunk-mb at a time)
  a.npz  -> STORE   every member, under its own name
  STORE  -> a.npy   the array NAME (or the store's only array), streamed out
  STORE  -> a.npz   the arrays NAME (comma-separated; default all), deflated
An existing array in STORE is an error unless --overwrite. Other formats (HDF5, zarr, Parquet,
CSV, ...): the Python CLI.
example: npx numpack convert embeddings.npy vectors.npk --name emb`,
  options: { name: { type: 'string' }, overwrite: { type: 'boolean' }, 'chunk-mb': { type: 'string' } },
  positionals: [2, 2],
  async run([src, dst], values, io) {
    const chunkBytes = intOption(values['chunk-mb'] ?? '64', '--chunk-mb', 1) * 2 ** 20;
    const se = path.extname(src).toLowerCase(), de = path.extname(dst).toLowerCase();
    /** A store folder: `.npk`, no suffix, or an existing folder. */
    const isStore = (p, e) => e === '.npk' || e === '' || fs.statSync(p, { throwIfNoEntry: false })?.isDirectory();
    if (se === '.npy' || se === '.npz') {
      if (!isStore(dst, de)) throw new UsageError(`convert ${se} -> ${de}: the npm package writes .npk store folders (other formats: the Python CLI)`);
      const names = se === '.npy' ? npyIntoStore(src, dst, values.name ?? path.basename(src, path.extname(src)), values.overwrite, chunkBytes)
        : await npzIntoStore(src, dst, values.overwrite);
      io.out(`${src} -> ${dst}: ${names.join(', ')}\n`);
      return EXIT.OK;
    }
    if ((de === '.npy' || de === '.npz') && (isStore(src, se) || se === '.npkg')) {
      const names = withStore(src, (s) => (de === '.npy' ? storeToNpy(s, dst, values.name, chunkBytes) : storeToNpz(s, dst, values.name)));
      io.out(`${src} -> ${dst}: ${names.join(', ')}\n`);
      return EXIT.OK;
    }
    throw new UsageError(`convert handles .npy/.npz <-> .npk (got ${se || src} -> ${de || dst}); other formats: the Python CLI`);
  },
};

/** Refuses to replace an existing array without `overwrite` (with it, the first save replaces
 * the array whole, in one commit). */
function makeRoom(store, name, overwrite) {
  if (store.has(name) && !overwrite) throw new ValueError(`array ${name} exists in the store (use --overwrite to replace it)`);
}

/** Imports one `.npy` file `chunkBytes` of rows at a time; returns the array names. */
function npyIntoStore(src, dst, name, overwrite, chunkBytes) {
  let fd;
  try { fd = fs.openSync(src, 'r'); } catch (e) { throw new MissingInputError(`cannot read ${src}: ${e.code ?? e.message}`); }
  try {
    const size = fs.fstatSync(fd).size;
    const first = Buffer.alloc(Math.min(size, 65536 + 12));
    fs.readSync(fd, first, 0, first.length, 0);
    const h = parseNpyHeader(new Uint8Array(first.buffer, first.byteOffset, first.length));
    const rowShape = h.shape.slice(1);
    const rowBytes = prod(rowShape) * DTYPES[h.dtype].itemsize;
    const rows = h.shape.length ? h.shape[0] : 1;
    if (size < h.dataOffset + rows * rowBytes * (h.shape.length ? 1 : 0) + (h.shape.length ? 0 : DTYPES[h.dtype].itemsize)) {
      throw new ValueError(`${src} is truncated: its header promises more data than the file holds`);
    }
    const store = open(dst);
    try {
      makeRoom(store, name, overwrite);
      const step = h.shape.length === 0 || rowBytes === 0 ? Math.max(rows, 1) : Math.max(1, Math.floor(chunkBytes / rowBytes));
      let done = 0;
      try {
        do {
          const n = Math.min(step, rows - done);
          const shape = h.shape.length ? [n, ...rowShape] : [];
          const buf = new Uint8Array(prod(shape) * DTYPES[h.dtype].itemsize);
          for (let got = 0; got < buf.length;) {
            const r = fs.readSync(fd, buf, got, buf.length - got, h.dataOffset + done * rowBytes + got);
            if (r === 0) throw new ValueError(`${src} is truncated`);
            got += r;
          }
          const arr = arrayFromBytes(buf, h.dtype, shape, h.bigEndian);
          if (done === 0) store.save({ [name]: arr }); else store.append(name, arr);
          done += n;
        } while (done < rows);
      } catch (e) {
        if (done > 0) try { store.drop(name); } catch { /* report the first error */ }
        throw e;
      }
    } finally { store.close(); }
    return [name];
  } finally { fs.closeSync(fd); }
}

/** Imports every member of a `.npz` archive in one commit; returns the names. */
async function npzIntoStore(src, dst, overwrite) {
  const arrays = await readNpz(readInput(src), (b) => new Uint8Array(zlib.inflateRawSync(b)));
  const store = open(dst);
  try {
    for (const [name] of arrays) makeRoom(store, name, overwrite);
    store.save(Object.fromEntries(arrays));
  } finally { store.close(); }
  return arrays.map(([n]) => n);
}

/** The one array to export: `name`, or the store's only array. */
function pickOne(store, name) {
  if (name !== undefined) { store.info(name); return name; }
  const names = store.list();
  if (names.length !== 1) throw new UsageError(`the store holds ${names.length} arrays: choose one with --name`);
  return names[0];
}

/** Streams one array into a `.npy` file. */
function storeToNpy(store, dst, name, chunkBytes) {
  const n = pickOne(store, name);
  const { shape, dtype } = store.info(n);
  const rowBytes = Math.max(1, prod(shape.slice(1)) * DTYPES[dtype].itemsize);
  writeAtomic(dst, (fd) => {
    writeAll(fd, npyHeader(dtype, shape));
    if (shape.length === 0) { writeAll(fd, dataBytes(store.load(n).data)); return; }
    for (const batch of store.streamLoad(n, Math.max(1, Math.floor(chunkBytes / rowBytes)))) writeAll(fd, dataBytes(batch.data));
  });
  return [n];
}

/** Writes arrays (comma-separated `names`, default all) into a deflated `.npz`. */
function storeToNpz(store, dst, names) {
  const list = names === undefined ? store.list() : names.split(',').map((x) => x.trim());
  const arrays = list.map((n) => [n, store.load(n)]);
  writeAtomic(dst, encodeNpz(arrays, (b) => new Uint8Array(zlib.deflateRawSync(b))));
  return list;
}

const verify = {
  help: `usage: numpack verify STORE [--data SUMS] [--save-checksums SUMS] [--repair] [--json]
Checks a store folder's consistency, as the Python command does (the same check, in the core):
every file against the catalogue, sizes, bitmaps, the commit journal, orphan and temporary
files. Exit 0 clean, 1 problems found (listed: fault, file, problem), 2 unreadable. Never
writes unless --repair, which does only what a writer's recovery does (finish a pending commit,
remove temporary files), then checks. --save-checksums SUMS saves each array's SHA-256 (of its
logical bytes, C order) as JSON; --data SUMS compares the arrays with such a file (either
command's). --json: {"store", "clean", "problems": [{"fault", "path", "message"}]}.
example: npx numpack verify vectors.npk --save-checksums sums.json && npx numpack verify vectors.npk --data sums.json`,
  options: { data: { type: 'string' }, 'save-checksums': { type: 'string' }, repair: { type: 'boolean' }, json: { type: 'boolean' } },
  positionals: [1, 1],
  run([store], values, io) {
    if (fs.statSync(store, { throwIfNoEntry: false })?.isDirectory() !== true) throw new MissingInputError(`no NumPack store at '${store}'`);
    const unreadable = (what) => (e) => {
      if (e?.name === 'CorruptStoreError' || e?.name === 'StoreIOError') throw new MissingInputError(`${what}: ${String(e.message).split('\n')[0]}`);
      throw e;
    };
    // A writer's recovery is what opening the store for writing does; nothing else is touched.
    if (values.repair) { try { open(store).close(); } catch (e) { unreadable('cannot repair')(e); } }
    let found;
    try { found = storeVerify(store).map(([fault, file, message]) => ({ fault, path: file, message })); } catch (e) { unreadable('unreadable store')(e); }
    const sumsOut = values['save-checksums'], sumsIn = values.data;
    if (sumsIn !== undefined || sumsOut !== undefined) {
      if (found.some((p) => ['data', 'bitmap', 'segments', 'journal'].includes(p.fault))) {
        if (sumsOut !== undefined) { io.err('numpack: error: the store has problems: fix them before saving checksums\n'); return EXIT.PROBLEMS; }
      } else {
        let sums;
        try { sums = checksums(store); } catch (e) { unreadable('unreadable store')(e); }
        if (sumsOut !== undefined) writeAtomic(sumsOut, new TextEncoder().encode(JSON.stringify({ arrays: sums }, null, 2)));
        if (sumsIn !== undefined) found.push(...compareChecksums(readChecksums(sumsIn), sums));
      }
    }
    if (values.json) io.out(`${JSON.stringify({ store, clean: found.length === 0, problems: found }, null, 2)}\n`);
    else if (found.length) {
      io.out(`${store}: ${found.length} problem(s)\n`);
      io.out(`${table(['fault', 'file', 'problem'], found.map((p) => [p.fault, p.path, p.message]))}\n`);
    } else io.out(`${store}: clean\n`);
    return found.length ? EXIT.PROBLEMS : EXIT.OK;
  },
};

/** `{ name: { dtype, shape, sha256 } }`: each array's SHA-256 over its logical bytes in C order
 * (numpack_core::verify::checksums, the same the Python command saves), read-only. */
function checksums(store) {
  return Object.fromEntries(storeChecksums(store).map(([name, dtype, shape, sha256]) => [name, { dtype, shape, sha256 }]));
}

/** The `arrays` of a checksum file (a bad one is exit 3, as in Python). */
function readChecksums(file) {
  try {
    const arrays = JSON.parse(fs.readFileSync(file, 'utf8')).arrays;
    if (arrays === null || typeof arrays !== 'object' || Array.isArray(arrays)) throw new Error("no 'arrays' object");
    return arrays;
  } catch (e) { throw new ValueError(`cannot read checksums from '${file}': ${e.message}`); }
}

/** `checksum` problems: arrays missing, new, or with other contents than the saved sums. */
function compareChecksums(saved, sums) {
  const same = (a, b) => a?.dtype === b.dtype && a?.sha256 === b.sha256 && JSON.stringify(a?.shape) === JSON.stringify(b.shape);
  return [...new Set([...Object.keys(saved), ...Object.keys(sums)])].sort().flatMap((name) => {
    if (!(name in sums)) return [{ fault: 'checksum', path: name, message: 'array is missing' }];
    if (!(name in saved)) return [{ fault: 'checksum', path: name, message: 'array is new since the checksums' }];
    if (same(saved[name], sums[name])) return [];
    return [{ fault: 'checksum', path: name, message: `contents differ from the saved checksum (${String(saved[name]?.sha256).slice(0, 12)}… → ${sums[name].sha256.slice(0, 12)}…)` }];
  });
}

const serveExample = {
  help: `usage: numpack serve-example [--port 8080] [--host 127.0.0.1]
Serves the browser search page (examples/search-page) and the package's modules and wasm on
localhost, with the COOP/COEP headers that make the page cross-origin isolated. Ctrl-C stops it.
example: npx numpack serve-example --port 8080   # then open http://127.0.0.1:8080/examples/search-page/`,
  options: { port: { type: 'string', short: 'p' }, host: { type: 'string' } },
  positionals: [0, 0],
  async run(args, values, io) {
    const { serveExample: serve } = await import('./cli-serve.js');
    const { url } = await serve({ port: intOption(values.port ?? '8080', '--port', 0), host: values.host ?? '127.0.0.1' });
    io.out(`serving the search page at ${url}  (Ctrl-C stops)\n`);
    process.removeAllListeners('SIGINT');
    process.once('SIGINT', () => process.exit(EXIT.OK));
    return null;
  },
};

/** Every verb by name. */
export const VERBS = { info, head, search, pack, unpack, compact, convert, verify, 'serve-example': serveExample };
