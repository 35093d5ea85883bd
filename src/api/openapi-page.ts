// GET /v1/docs: one self-contained page that fetches /v1/openapi.json and renders it (operations by
// resource, their access, parameters, bodies and answers). No CDN and no other asset, so it works
// on a cloud's management network with no internet. Text from the document only ever goes through
// textContent, and the CSP allows exactly this page's script and style (by hash), and fetches
// from this origin: nothing else runs or loads.
import { selfContainedPageCsp } from './page-csp.js';

const STYLE = `
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2327;background:#f6f7f7}
header{background:#1d2327;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;color:#c3c4c7;max-width:70em}header a{color:#9ec2e6}
main{padding:12px 24px;max-width:1100px}
#filter{width:100%;max-width:420px;padding:6px 8px;font:inherit;margin:8px 0 4px}
h2{font-size:16px;margin:22px 0 6px}
details.op{background:#fff;border:1px solid #dcdcde;border-radius:4px;margin:4px 0}
details.op>summary{cursor:pointer;padding:6px 10px;display:flex;gap:10px;align-items:baseline;flex-wrap:wrap}
.m{font:600 12px monospace;padding:2px 6px;border-radius:3px;color:#fff;min-width:52px;text-align:center}
.GET{background:#2271b1}.POST{background:#008a20}.PUT{background:#996800}.DELETE{background:#d63638}.PATCH{background:#6b3fa0}
.path{font-family:monospace;font-weight:600}.sum{color:#50575e}
.acc{font-size:11px;border:1px solid #c3c4c7;border-radius:10px;padding:0 7px;color:#50575e}
.acc.public{border-color:#00a32a;color:#007017}.acc.admin{border-color:#d63638;color:#b32d2e}
.body{padding:4px 14px 10px;border-top:1px solid #f0f0f1}
h3{font-size:13px;margin:10px 0 4px;color:#50575e}
table{border-collapse:collapse}td,th{padding:2px 10px 2px 0;text-align:left;vertical-align:top}
code,.t{font-family:monospace}.t{color:#2271b1}.req{color:#d63638}.c{color:#787c82;font-size:12px}
ul.s{list-style:none;margin:0;padding-left:16px;border-left:1px dotted #c3c4c7}
#err{color:#b32d2e}
`;

const SCRIPT = `
(() => {
  const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = String(text); return e; };
  const CONSTRAINTS = ['minLength', 'maxLength', 'minimum', 'maximum', 'minItems', 'maxItems', 'pattern', 'format', 'default'];
  // A JSON Schema as a short type line and, for objects and arrays of objects, a nested list.
  function typeOf(s) {
    if (!s || typeof s !== 'object') return 'any';
    if (s.const !== undefined) return JSON.stringify(s.const);
    if (Array.isArray(s.enum)) return s.enum.map((v) => JSON.stringify(v)).join(' | ');
    if (Array.isArray(s.anyOf)) return s.anyOf.map(typeOf).join(' | ');
    if (Array.isArray(s.oneOf)) return s.oneOf.map(typeOf).join(' | ');
    if (s.type === 'array') return 'array of ' + typeOf(s.items);
    if (s.$ref) return s.$ref.split('/').pop();
    return Array.isArray(s.type) ? s.type.join(' | ') : s.type || 'any';
  }
  function schemaView(s, depth) {
    const box = el('span');
    const line = el('span');
    line.append(el('span', 't', typeOf(s)));
    const c = s && typeof s === 'object' ? CONSTRAINTS.filter((k) => s[k] !== undefined).map((k) => k + ' ' + JSON.stringify(s[k])) : [];
    if (c.length) line.append(' ', el('span', 'c', c.join(', ')));
    if (s && s.description) line.append(' ', el('span', 'c', s.description));
    box.append(line);
    const obj = s && s.type === 'array' ? s.items : s;
    if (obj && obj.type === 'object' && obj.properties && depth < 6) {
      const ul = el('ul', 's');
      const req = new Set(obj.required || []);
      for (const [name, p] of Object.entries(obj.properties)) {
        const li = el('li');
        li.append(el('code', null, name), req.has(name) ? el('span', 'req', ' *') : '', ': ');
        li.append(schemaView(p, depth + 1));
        ul.append(li);
      }
      if (obj.additionalProperties && typeof obj.additionalProperties === 'object') {
        const li = el('li');
        li.append(el('code', null, '{key}'), ': ', schemaView(obj.additionalProperties, depth + 1));
        ul.append(li);
      }
      box.append(ul);
    }
    return box;
  }
  function operation(method, path, op) {
    const d = el('details', 'op');
    d.dataset.text = (method + ' ' + path + ' ' + (op.summary || '') + ' ' + (op['x-fenix-access'] || '')).toLowerCase();
    const s = el('summary');
    s.append(el('span', 'm ' + method.toUpperCase(), method.toUpperCase()), el('span', 'path', path));
    if (op['x-fenix-access']) s.append(el('span', 'acc ' + op['x-fenix-access'], op['x-fenix-access']));
    if (op.summary) s.append(el('span', 'sum', op.summary));
    d.append(s);
    const b = el('div', 'body');
    if (op.parameters && op.parameters.length) {
      b.append(el('h3', null, 'Parameters'));
      const t = el('table');
      for (const p of op.parameters) {
        const tr = el('tr');
        const name = el('td'); name.append(el('code', null, p.name), p.required ? el('span', 'req', ' *') : '');
        const sch = el('td'); sch.append(schemaView(p.schema, 5));
        tr.append(name, el('td', 'c', p.in), sch);
        t.append(tr);
      }
      b.append(t);
    }
    const rb = op.requestBody && op.requestBody.content;
    if (rb) for (const [type, media] of Object.entries(rb)) { b.append(el('h3', null, 'Body (' + type + ')')); b.append(schemaView(media.schema, 0)); }
    b.append(el('h3', null, 'Answers'));
    for (const [code, r] of Object.entries(op.responses || {})) {
      const row = el('div');
      row.append(el('strong', null, code + ' '), el('span', 'c', r.description || ''));
      b.append(row);
      const content = r.content && Object.values(r.content)[0];
      // Every 4xx/5xx has the same {"error": {"code", "message"}} shape (said in the header).
      if (content && content.schema && !/^[45]/.test(code)) b.append(schemaView(content.schema, 0));
    }
    d.append(b);
    return d;
  }
  // Beside this page, also behind a proxy's path prefix and with a trailing slash (/v1/docs/).
  const url = location.pathname.replace(/[/]docs[/]?$/, '/openapi.json');
  document.getElementById('doc').href = url;
  fetch(url).then((r) => { if (!r.ok) throw new Error('openapi.json: HTTP ' + r.status); return r.json(); }).then((doc) => {
    document.getElementById('title').textContent = doc.info.title + ' ' + doc.info.version;
    document.getElementById('desc').textContent = doc.info.description || '';
    const groups = new Map();
    for (const [path, item] of Object.entries(doc.paths || {}))
      for (const [method, op] of Object.entries(item)) {
        const tag = (op.tags && op.tags[0]) || 'other';
        if (!groups.has(tag)) groups.set(tag, []);
        groups.get(tag).push(operation(method, path, op));
      }
    const main = document.getElementById('ops');
    for (const [tag, ops] of groups) { const sec = el('section'); sec.append(el('h2', null, tag.replace(/_/g, ' ')), ...ops); main.append(sec); }
    const filter = document.getElementById('filter');
    filter.addEventListener('input', () => {
      const q = filter.value.trim().toLowerCase();
      for (const sec of main.children) {
        let shown = 0;
        for (const d of sec.querySelectorAll('details.op')) { const on = !q || d.dataset.text.includes(q); d.hidden = !on; shown += on ? 1 : 0; }
        sec.hidden = shown === 0;
      }
    });
  }).catch((e) => { document.getElementById('err').textContent = String(e); });
})();
`;

export const DOCS_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Fenix API reference</title><style>${STYLE}</style></head>
<body><header><h1 id="title">Fenix maintenance API</h1><p id="desc"></p><p><a id="doc" href="openapi.json">openapi.json</a></p></header>
<main><input id="filter" type="search" placeholder="Filter: path, method, summary, access" aria-label="Filter operations"><p id="err"></p><div id="ops"></div></main>
<script>${SCRIPT}</script></body></html>
`;

/** Only this page's own script and style, and fetches to this origin (openapi.json). */
export const DOCS_PAGE_CSP = selfContainedPageCsp(SCRIPT, STYLE);
