// The JS API reference from the package's type declarations (js/types/index.d.ts): every
// exported declaration with its doc comment, and the members of classes and interfaces.
// Usage as a module: `reference(dtsText) -> [{ kind, name, signature, doc, members }]`.

/** A doc comment's text without the comment markers. */
const docText = (c) => c.replace(/^\/\*\*|\*\/$/g, '').split('\n').map((l) => l.replace(/^\s*\* ?/, '')).join('\n').trim();

/** Splits `src` into `[{ doc, text }]` statements (ending at `;` or a top-level `}` block). */
function statements(src) {
  const out = [];
  let i = 0, doc = null;
  while (i < src.length) {
    if (/\s/.test(src[i])) { i++; continue; }
    if (src.startsWith('//', i)) { i = src.indexOf('\n', i); if (i < 0) break; continue; }
    if (src.startsWith('/**', i) || src.startsWith('/*', i)) {
      const end = src.indexOf('*/', i) + 2;
      if (src.startsWith('/**', i)) doc = docText(src.slice(i, end));
      i = end;
      continue;
    }
    let depth = 0, j = i, block = false;
    for (; j < src.length; j++) {
      const c = src[j];
      if (c === '/' && src[j + 1] === '*') { j = src.indexOf('*/', j) + 1; continue; }
      if (c === '\'' || c === '"' || c === '`') { j = src.indexOf(c, j + 1); continue; }
      if (c === '{' || c === '(' || c === '[') depth++;
      else if (c === '}' || c === ')' || c === ']') {
        depth--;
        if (depth === 0 && c === '}' && /^\s*(export\s+)?(declare\s+)?(class|interface|namespace)\b/.test(src.slice(i, j))) { block = true; break; }
      } else if (c === ';' && depth === 0) break;
    }
    out.push({ doc, text: src.slice(i, j + 1).trim(), block });
    doc = null;
    i = j + 1;
  }
  return out;
}

/** The exported declarations of a `.d.ts` text. */
export function reference(dts) {
  const decls = [];
  for (const s of statements(dts)) {
    const m = /^export\s+(?:declare\s+)?(default\s+)?(class|interface|type|function|const|let|enum)?\s*([\w$]+)?/.exec(s.text);
    if (!m) continue;
    const kind = m[2] ?? (m[1] ? 'default' : 'export');
    const name = m[3] ?? (m[1] ? 'default' : s.text);
    let signature = s.text, members = [];
    if (s.block) {
      const open = s.text.indexOf('{');
      signature = s.text.slice(0, open).trim();
      members = statements(s.text.slice(open + 1, -1)).map((x) => ({ doc: x.doc, signature: x.text.replace(/\s+/g, ' ').replace(/;$/, '') }));
    }
    decls.push({ kind, name, signature: signature.replace(/;$/, ''), doc: s.doc ?? '', members });
  }
  return decls;
}
