// `make docs` (scripts/build-docs.sh) as a smoke test: the site builds, every guide is there,
// every public Python class and function (found by a plain scan of the source) and every
// exported JS declaration (a plain scan of index.d.ts) has its entry, and no link between the
// site's pages is broken.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

const root = path.resolve(new URL('../..', import.meta.url).pathname);
const site = fs.mkdtempSync(path.join(os.tmpdir(), 'numpack-site-'));
process.on('exit', () => fs.rmSync(site, { recursive: true, force: true }));

test('make docs builds the guides, the Python and the JS reference, with no broken page links', () => {
  execFileSync('bash', [path.join(root, 'scripts/build-docs.sh'), site], { stdio: 'pipe' });
  const read = (p) => fs.readFileSync(path.join(site, p), 'utf8');
  for (const md of fs.readdirSync(path.join(root, 'docs')).filter((f) => f.endsWith('.md'))) {
    assert.ok(fs.existsSync(path.join(site, 'docs', md.replace(/\.md$/, '.html'))), md);
  }
  assert.match(read('index.html'), /<h1/);

  const py = read('api/python.html');
  const pyDir = path.join(root, 'python/numpack');
  for (const f of fs.readdirSync(pyDir).filter((x) => x.endsWith('.py') && !x.startsWith('_'))) {
    for (const [, name] of fs.readFileSync(path.join(pyDir, f), 'utf8').matchAll(/^(?:def|class) ([A-Za-z]\w*)/gm)) {
      assert.ok(py.includes(`id="numpack.${f.replace(/\.py$/, '')}.${name}"`), `Python reference lacks numpack.${f}:${name}`);
    }
  }
  const jsRef = read('api/js.html');
  for (const [, name] of fs.readFileSync(path.join(root, 'js/types/index.d.ts'), 'utf8').matchAll(/^export (?:declare )?(?:class|function|const|interface|type) (\w+)/gm)) {
    assert.ok(jsRef.includes(`id="${name}"`), `JS reference lacks ${name}`);
  }
  assert.match(jsRef, /static fromPackage\(bytes: ArrayBuffer \| Uint8Array\): Store/);

  const pages = [];
  const walk = (d) => { for (const f of fs.readdirSync(d)) { const p = path.join(d, f); if (fs.statSync(p).isDirectory()) walk(p); else if (p.endsWith('.html')) pages.push(p); } };
  walk(site);
  for (const p of pages) {
    for (const [, href] of fs.readFileSync(p, 'utf8').matchAll(/href="([^"#]+\.html)(#[^"]*)?"/g)) {
      if (/^[a-z]+:/.test(href)) continue;
      assert.ok(fs.existsSync(path.resolve(path.dirname(p), href)), `${path.relative(site, p)} links to missing ${href}`);
    }
  }
});
