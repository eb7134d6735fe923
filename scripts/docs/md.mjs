// A small Markdown → HTML renderer for our own docs (the subset they use: headings, paragraphs,
// fenced code, tables, nested lists, block quotes, rules; inline code, links, bold, italic).
// Links to `X.md` become `X.html`. Usage as a module: `render(markdownText) -> { html, title }`.

const esc = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
/** An id for a heading's text (GitHub-like). */
export const slug = (s) => s.toLowerCase().replace(/<[^>]+>/g, '').replace(/[^\p{L}\p{N}\s_-]/gu, '').trim().replace(/\s+/g, '-');

/** Inline markup of one line of text. */
export function inline(text) {
  const codes = [];
  let s = text.replace(/(`+)([\s\S]*?[^`])\1(?!`)/g, (_, __, c) => { codes.push(`<code>${esc(c.trim() ? c.replace(/^ (.*) $/, '$1') : c)}</code>`); return `\u0000${codes.length - 1}\u0000`; });
  s = esc(s);
  s = s.replace(/\[([^\]]+)\]\(([^)\s]+)\)/g, (_, t, u) => `<a href="${u.replace(/^((?!https?:)[^#]*?)\.md(#|$)/, '$1.html$2')}">${t}</a>`);
  s = s.replace(/&lt;(https?:\/\/[^\s&]+)&gt;/g, '<a href="$1">$1</a>');
  s = s.replace(/\*\*(?=\S)([\s\S]*?\S)\*\*/g, '<strong>$1</strong>');
  s = s.replace(/(^|[^\w*])\*(?=\S)([^*]*?\S)\*(?!\w)/g, '$1<em>$2</em>');
  return s.replace(/\u0000(\d+)\u0000/g, (_, i) => codes[Number(i)]);
}

const LIST = /^(\s*)([-*+]|\d+[.)])\s+(.*)$/;
const splitRow = (line) => line.trim().replace(/^\|/, '').replace(/\|$/, '').split(/(?<!\\)\|/).map((c) => c.trim().replace(/\\\|/g, '|'));

/** Renders list lines (already grouped) into nested <ul>/<ol>. */
function renderList(lines) {
  const out = [];
  let i = 0;
  const walk = (indent) => {
    const first = LIST.exec(lines[i]);
    const tag = /\d/.test(first[2]) ? 'ol' : 'ul';
    out.push(`<${tag}>`);
    while (i < lines.length) {
      const m = LIST.exec(lines[i]);
      if (!m || m[1].length < indent) break;
      if (m[1].length > indent) { walk(m[1].length); continue; }
      let body = m[3];
      i++;
      while (i < lines.length && !LIST.exec(lines[i])) body += ` ${lines[i].trim()}`, i++;
      out.push(`<li>${inline(body)}`);
      if (i < lines.length && LIST.exec(lines[i]) && LIST.exec(lines[i])[1].length > indent) walk(LIST.exec(lines[i])[1].length);
      out.push('</li>');
    }
    out.push(`</${tag}>`);
  };
  while (i < lines.length) walk(LIST.exec(lines[i])[1].length);
  return out.join('');
}

/** `{ html, title, headings: [{ level, id, text }] }` of a Markdown document. */
export function render(md) {
  const lines = md.replace(/\r\n?/g, '\n').split('\n');
  const out = [], headings = [];
  let title = null;
  for (let i = 0; i < lines.length;) {
    const line = lines[i];
    const fence = /^\s*(```+|~~~+)\s*([\w+-]*)/.exec(line);
    if (fence) {
      const body = [];
      for (i++; i < lines.length && !lines[i].trim().startsWith(fence[1]); i++) body.push(lines[i]);
      i++;
      out.push(`<pre><code${fence[2] ? ` class="language-${fence[2]}"` : ''}>${esc(body.join('\n'))}</code></pre>`);
      continue;
    }
    const h = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    if (h) {
      const level = h[1].length, html = inline(h[2]), id = slug(html);
      title ??= html.replace(/<[^>]+>/g, '');
      headings.push({ level, id, text: html.replace(/<[^>]+>/g, '') });
      out.push(`<h${level} id="${id}">${html}</h${level}>`);
      i++;
      continue;
    }
    if (/^\s*\|/.test(line) && /^\s*\|?\s*:?-{2,}/.test(lines[i + 1] ?? '')) {
      const head = splitRow(line);
      const aligns = splitRow(lines[i + 1]).map((c) => (c.endsWith(':') ? (c.startsWith(':') ? 'center' : 'right') : ''));
      const cell = (tag, c, j) => `<${tag}${aligns[j] ? ` style="text-align:${aligns[j]}"` : ''}>${inline(c)}</${tag}>`;
      const rows = [];
      for (i += 2; i < lines.length && /^\s*\|/.test(lines[i]); i++) rows.push(`<tr>${splitRow(lines[i]).map((c, j) => cell('td', c, j)).join('')}</tr>`);
      out.push(`<table><thead><tr>${head.map((c, j) => cell('th', c, j)).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>`);
      continue;
    }
    if (/^\s*(-{3,}|\*{3,}|_{3,})\s*$/.test(line)) { out.push('<hr>'); i++; continue; }
    if (/^\s*>/.test(line)) {
      const body = [];
      for (; i < lines.length && /^\s*>/.test(lines[i]); i++) body.push(lines[i].replace(/^\s*>\s?/, ''));
      out.push(`<blockquote>${render(body.join('\n')).html}</blockquote>`);
      continue;
    }
    if (LIST.test(line)) {
      const body = [];
      for (; i < lines.length && lines[i].trim() !== '' && (LIST.test(lines[i]) || /^\s+\S/.test(lines[i]) || body.length === 0); i++) body.push(lines[i]);
      out.push(renderList(body));
      continue;
    }
    if (line.trim() === '') { i++; continue; }
    const para = [];
    for (; i < lines.length && lines[i].trim() !== '' && !/^(#{1,6}\s|\s*```|\s*~~~|\s*>)/.test(lines[i]) && !LIST.test(lines[i])
      && !(/^\s*\|/.test(lines[i]) && /^\s*\|?\s*:?-{2,}/.test(lines[i + 1] ?? '')); i++) para.push(lines[i].trim());
    out.push(`<p>${inline(para.join('\n'))}</p>`);
  }
  return { html: out.join('\n'), title, headings };
}
