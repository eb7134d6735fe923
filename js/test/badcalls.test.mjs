// The bad-call matrix of issue 9 over the JS API: each case of badcalls.cases.mjs runs in its
// own Node process (a crash or abort is a failure, not a lost test), must throw a documented
// `Error` subclass (NumPackError and its subclasses, NotFoundError, IndexError, ValueError,
// DTypeError), and must leave every file of the store folder byte for byte unchanged.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { open } from '../src/node.js';
import { CASES, fill } from './badcalls.cases.mjs';
import { tmpdir } from './helpers.mjs';

const child = new URL('./badcalls.child.mjs', import.meta.url).pathname;

/** Every file under `dir` (dot files included), `{ relPath: Buffer }`. */
function snapshot(dir) {
  const out = {};
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const p = path.join(e.parentPath ?? e.path, e.name);
    if (e.isFile()) out[path.relative(dir, p)] = fs.readFileSync(p);
    else if (e.isSymbolicLink()) out[path.relative(dir, p)] = Buffer.from(`-> ${fs.readlinkSync(p)}`);
  }
  return out;
}

function run(dir, i, file) {
  return new Promise((resolve) => {
    execFile(process.execPath, [child, dir, String(i), file], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? err.code ?? err.signal : 0, stdout, stderr });
    });
  });
}

const root = tmpdir('badcalls');
const template = path.join(root, 'template');
const t = open(template, { clock: () => 1 });
fill(t);
t.close();
const file = path.join(root, 'a-file');
fs.writeFileSync(file, 'not a store');

test(`bad-call matrix: ${CASES.length} calls, each in a child process`, { concurrency: 2 }, async (t) => {
  await Promise.all(CASES.map((c, i) =>
    t.test(`${i}: ${c.name}`, async () => {
      const dir = path.join(root, `case-${i}`);
      fs.cpSync(template, dir, { recursive: true, verbatimSymlinks: true });
      const before = snapshot(dir);
      const r = await run(dir, i, file);
      assert.equal(r.code, 0, `the child crashed (${r.code}): ${r.stderr.slice(-2000)}`);
      const out = JSON.parse(r.stdout);
      assert.ok(out.threw, 'the call did not throw');
      assert.ok(out.documented, `threw an undocumented ${out.cls}: ${out.message}`);
      const after = snapshot(dir);
      assert.deepEqual(Object.keys(after).sort(), Object.keys(before).sort(), 'files added or removed');
      for (const k of Object.keys(before)) assert.ok(before[k].equals(after[k]), `${k} changed`);
      assert.equal(fs.readFileSync(file, 'utf8'), 'not a store');
      fs.rmSync(dir, { recursive: true, force: true });
    })));
});
