// Builds the static documentation site: the guides (README.md, docs/*.md, js/README.md, at the
// same relative paths so their links work), the Python API reference (JSON from pyref.py) and
// the JS API reference (js/types/index.d.ts). Usage: node scripts/docs/build.mjs OUT PYREF.json

import fs from 'node:fs';
import path from 'node:path';
import { render, inline } from './md.mjs';
import { reference } from './jsref.mjs';

const root = path.resolve(new URL('../..', import.meta.url).pathname);
const [outDir, pyJson] = process.argv.slice(2);
if (!outDir || !pyJson) { console.error('usage: node scripts/docs/build.mjs OUT PYREF.json'); process.exit(2); }
const out = path.resolve(outDir);
const esc = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const guides = [['README.md', 'Overview'], ...fs.readdirSync(path.join(root, 'docs')).filter((f) => f.endsWith('.md')).sort()
  .map((f) => [`docs/${f}`, null]), ['js/README.md', 'npm package']];
const pages = [...guides.map(([p, t]) => [p.replace(/\.md$/, '.html'), t]), ['api/python.html', 'Python API'], ['api/js.html', 'JS API']];
const titles = new Map();

/** Writes one page at `rel` (relative to the site root) inside the common frame. */
function page(rel, title, body) {
  const up = '../'.repeat(rel.split('/').length - 1);
  const nav = pages.map(([p, t]) => `<a href="${up}${p}"${p === rel ? ' aria-current="page"' : ''}>${esc(titles.get(p) ?? t ?? p)}</a>`).join('');
  const file = path.join(out, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `<!doctype html>
<html lang="en"><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} · NumPack</title><link rel="stylesheet" href="${up}style.css">
<body><nav><strong>NumPack</strong>${nav}</nav><main>
${body}
</main></body></html>
`);
}

/** A docstring (reStructuredText-ish) as HTML: doctest blocks as code, ``x`` as code. */
function docstring(doc) {
  if (!doc) return '';
  return doc.split(/\n\s*\n/).map((para) => {
    if (/^\s*>>>/.test(para)) return `<pre><code class="language-pycon">${esc(para)}</code></pre>`;
    const md = para.replace(/``([^`]+)``/g, '`$1`').replace(/:(?:func|class|meth|attr|mod):`~?([^`]+)`/g, '`$1`');
    return `<p>${inline(md)}</p>`;
  }).join('\n');
}

fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });
fs.copyFileSync(new URL('./style.css', import.meta.url), path.join(out, 'style.css'));

const rendered = guides.map(([p, t]) => {
  const r = render(fs.readFileSync(path.join(root, p), 'utf8'));
  titles.set(p.replace(/\.md$/, '.html'), t ?? r.title ?? p);
  return [p, r];
});
for (const [p, r] of rendered) page(p.replace(/\.md$/, '.html'), r.title ?? p, r.html);
fs.copyFileSync(path.join(out, 'README.html'), path.join(out, 'index.html'));

// Python reference
const modules = JSON.parse(fs.readFileSync(pyJson, 'utf8'));
const pyBody = ['<h1>Python API</h1>', '<p>Generated from the docstrings of <code>python/numpack</code>.</p>',
  `<ul class="toc">${modules.map((m) => `<li><a href="#${m.module}">${m.module}</a></li>`).join('')}</ul>`];
for (const m of modules) {
  pyBody.push(`<h2 id="${m.module}">${m.module}</h2>`, docstring(m.doc));
  if (m.exports.length) pyBody.push(`<p class="exports">Exports: ${m.exports.map((e) => `<code>${esc(e)}</code>`).join(', ')}</p>`);
  for (const it of m.items) {
    pyBody.push(`<section class="api" id="${m.module}.${it.name}"><h3><code>${esc(it.signature)}</code></h3>${docstring(it.doc)}`);
    for (const mem of it.members ?? []) {
      pyBody.push(`<div class="member" id="${m.module}.${it.name}.${mem.name}"><h4><code>${mem.kind === 'property' ? '@property ' : ''}${esc(mem.signature)}</code></h4>${docstring(mem.doc)}</div>`);
    }
    pyBody.push('</section>');
  }
}
page('api/python.html', 'Python API', pyBody.join('\n'));

// JS reference
const decls = reference(fs.readFileSync(path.join(root, 'js/types/index.d.ts'), 'utf8'));
const jsBody = ['<h1>JS API</h1>', '<p>Generated from <code>js/types/index.d.ts</code> (the npm package <code>numpack</code>: <code>numpack</code>, <code>numpack/worker</code>, <code>numpack/opfs</code>).</p>',
  `<ul class="toc">${decls.map((d) => `<li><a href="#${d.name}">${esc(d.name)}</a></li>`).join('')}</ul>`];
for (const d of decls) {
  jsBody.push(`<section class="api" id="${esc(d.name)}"><h3><code>${esc(d.signature)}</code></h3>${d.doc ? `<p>${inline(d.doc)}</p>` : ''}`);
  for (const mem of d.members) jsBody.push(`<div class="member"><h4><code>${esc(mem.signature)}</code></h4>${mem.doc ? `<p>${inline(mem.doc)}</p>` : ''}</div>`);
  jsBody.push('</section>');
}
page('api/js.html', 'JS API', jsBody.join('\n'));
console.log(`docs: ${pages.length} pages (${modules.length} Python modules, ${decls.length} JS declarations) in ${out}`);
