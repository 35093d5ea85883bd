// The dashboard (docs/dashboard.md): plain DOM, no framework, no import. The server inlines this
// module into its page; everything it shows comes from the API with the token the user typed
// (kept in sessionStorage, sent as X-Auth-Token, never in a URL). Live views are read as
// Server-Sent Events with fetch() and a ReadableStream, since EventSource cannot send headers.

type Json = Record<string, unknown>;
type Row = Json & { key: string };
type Child = Node | string | number | null | undefined | false;

const TOKEN_KEY = 'fenix-token';
const TERMINAL = new Set(['MAINTENANCE_DONE', 'MAINTENANCE_FAILED']);
const HOST_STATUSES: [string, string][] = [
  ['pending', 'waiting'],
  ['emptying', 'being emptied'],
  ['maintaining', 'in maintenance'],
  ['maintained', 'done'],
  ['failed', 'failed'],
];
const STATUS_LABEL = new Map(HOST_STATUSES);

// ---- DOM helpers ------------------------------------------------------------------------------

function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, unknown> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v as EventListener);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

const SVG = 'http://www.w3.org/2000/svg';
function s(tag: string, attrs: Record<string, string | number> = {}, ...children: Child[]): SVGElement {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  append(el, children);
  return el;
}

function append(el: Element, children: Child[]): void {
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(typeof c === 'number' ? String(c) : c);
}

const str = (v: unknown): string => (v === null || v === undefined ? '' : String(v));
const time = (v: unknown): string => (typeof v === 'string' ? new Date(v).toLocaleString() : '–');
const clock = (v: unknown): string => (typeof v === 'string' ? new Date(v).toLocaleTimeString() : '–');

function duration(ms: number): string {
  const t = Math.max(0, Math.round(Math.abs(ms) / 1000));
  const hh = Math.floor(t / 3600);
  const mm = Math.floor((t % 3600) / 60);
  const ss = String(t % 60).padStart(2, '0');
  return hh ? `${hh}:${String(mm).padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
}

function toast(text: string, error = false): void {
  const el = h('div', { class: `toast${error ? ' error' : ''}`, role: 'status' }, text);
  document.body.append(el);
  setTimeout(() => el.remove(), 6000);
}

function stateBadge(state: string, paused = false): HTMLElement {
  const cls = paused ? 'paused' : state === 'MAINTENANCE_DONE' ? 'done' : state === 'MAINTENANCE_FAILED' ? 'failed' : 'running';
  return h('span', { class: `badge ${cls}`, 'data-state': state }, paused ? `${state} · paused` : state);
}

function progress(pct: number): HTMLElement {
  const bar = h('div');
  bar.style.width = `${Math.max(0, Math.min(100, pct))}%`;
  return h('div', { class: 'progress', role: 'progressbar', 'aria-valuenow': pct, 'aria-valuemin': 0, 'aria-valuemax': 100 }, bar);
}

// ---- the token and the API --------------------------------------------------------------------

const token = (): string | null => sessionStorage.getItem(TOKEN_KEY);
let asking: Promise<void> | null = null;

/** Ask for a token (once, however many requests were refused); resolves when one is given. */
function askToken(message: string): Promise<void> {
  asking ??= new Promise<void>((resolve) => {
    const dlg = document.getElementById('token') as HTMLDialogElement;
    const form = document.getElementById('token-form') as HTMLFormElement;
    const input = document.getElementById('token-input') as HTMLInputElement;
    (document.getElementById('token-text') as HTMLElement).textContent = message;
    input.value = '';
    const done = (e: Event) => {
      e.preventDefault();
      if (!input.value.trim()) return;
      sessionStorage.setItem(TOKEN_KEY, input.value.trim());
      form.removeEventListener('submit', done);
      dlg.close();
      asking = null;
      renderWho();
      resolve();
    };
    form.addEventListener('submit', done);
    dlg.addEventListener('cancel', (e) => e.preventDefault());
    dlg.showModal();
    input.focus();
  });
  return asking;
}

const NEED_TOKEN = 'This service needs a token (X-Auth-Token). An admin token sees everything; a project token sees its own project\'s part. It is kept in this browser tab only.';
const BAD_TOKEN = 'That token was refused. Give another one.';

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const t = token();
  return { ...extra, ...(t && { 'x-auth-token': t }) };
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function api(method: string, path: string, body?: unknown): Promise<Json> {
  for (;;) {
    const res = await fetch(path, {
      method,
      cache: 'no-store',
      headers: headers({ accept: 'application/json', ...(body !== undefined && { 'content-type': 'application/json' }) }),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json: Json = {};
    try {
      json = text ? (JSON.parse(text) as Json) : {};
    } catch {
      /* not JSON: the status says enough */
    }
    if (res.status === 401) {
      await askToken(token() ? BAD_TOKEN : NEED_TOKEN);
      continue;
    }
    if (!res.ok) {
      const err = (json.error ?? {}) as { code?: string; message?: string };
      throw new ApiError(res.status, err.code ?? `HTTP_${res.status}`, err.message ?? res.statusText);
    }
    return json;
  }
}

// ---- live views -------------------------------------------------------------------------------

/** A view as the server keeps it: a head and keyed lists, kept current by snapshots and patches. */
class Model {
  head: Json = {};
  lists = new Map<string, Map<string, Row>>();
  /** Keys changed by the last patch, per list (rows are flashed). */
  touched = new Map<string, Set<string>>();
  /** Server time minus this browser's, so that countdowns follow the server's clock. */
  skew = 0;

  apply(event: string, data: Json): void {
    this.touched = new Map();
    if (event === 'snapshot') {
      const { lists, ...head } = data as Json & { lists: Record<string, Row[]> };
      this.head = head;
      this.lists = new Map(Object.entries(lists).map(([n, rows]) => [n, new Map(rows.map((r) => [r.key, r]))]));
    } else if (event === 'patch') {
      const p = data as { head?: Json; lists: Record<string, { upsert: Row[]; remove: string[] }> };
      if (p.head) this.head = p.head;
      for (const [name, d] of Object.entries(p.lists)) {
        const m = this.lists.get(name) ?? new Map<string, Row>();
        for (const k of d.remove) m.delete(k);
        for (const r of d.upsert) m.set(r.key, r);
        this.lists.set(name, m);
        this.touched.set(name, new Set(d.upsert.map((r) => r.key)));
      }
    }
    if (typeof this.head.now === 'string') this.skew = Date.parse(this.head.now) - Date.now();
  }

  rows(name: string): Row[] {
    return [...(this.lists.get(name)?.values() ?? [])];
  }
}

type ConnState = 'connecting' | 'live' | 'down';

/** A Server-Sent Events stream read with fetch(): reconnects (with backoff) until stopped. */
class Live {
  private readonly ctrl = new AbortController();
  private stopped = false;

  constructor(
    private readonly path: string,
    private readonly onEvent: (event: string, data: Json) => void,
    private readonly onConn: (c: ConnState, why?: string) => void,
  ) {
    void this.run();
  }

  stop(): void {
    this.stopped = true;
    this.ctrl.abort();
  }

  private async run(): Promise<void> {
    let delay = 1000;
    while (!this.stopped) {
      this.onConn('connecting');
      try {
        const res = await fetch(this.path, { headers: headers({ accept: 'text/event-stream' }), cache: 'no-store', signal: this.ctrl.signal });
        if (res.status === 401) {
          this.onConn('down', 'token needed');
          await askToken(token() ? BAD_TOKEN : NEED_TOKEN);
          continue;
        }
        if (res.status === 404 || res.status === 403) {
          this.onEvent('gone', {});
          return;
        }
        if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
        this.onConn('live');
        delay = 1000;
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value.replace(/\r\n?/g, '\n');
          for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            let event = 'message';
            const data: string[] = [];
            for (const line of block.split('\n')) {
              if (line.startsWith('event:')) event = line.slice(6).trim();
              else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
            }
            if (data.length) this.onEvent(event, JSON.parse(data.join('\n')) as Json);
          }
        }
      } catch {
        if (this.stopped) return;
      }
      if (this.stopped) return;
      this.onConn('down', 'reconnecting');
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 15_000);
    }
  }
}

function connBadge(): { el: HTMLElement; set: (c: ConnState, why?: string) => void } {
  const el = h('span', { class: 'conn muted', id: 'conn' }, 'connecting');
  return {
    el,
    set(c, why) {
      el.className = `conn muted ${c}`;
      el.textContent = c === 'live' ? 'live' : c === 'down' ? `disconnected${why ? `: ${why}` : ''}` : 'connecting…';
    },
  };
}

// ---- dialogs ----------------------------------------------------------------------------------

/** Every action asks first: resolves true when the user confirms. */
function confirmAction(title: string, text: string, danger = false): Promise<boolean> {
  const dlg = document.getElementById('confirm') as HTMLDialogElement;
  (document.getElementById('confirm-title') as HTMLElement).textContent = title;
  (document.getElementById('confirm-text') as HTMLElement).textContent = text;
  const ok = document.getElementById('confirm-ok') as HTMLButtonElement;
  const cancel = document.getElementById('confirm-cancel') as HTMLButtonElement;
  ok.className = danger ? 'danger' : 'primary';
  ok.textContent = title;
  return new Promise((resolve) => {
    const finish = (v: boolean) => (e: Event) => {
      e.preventDefault();
      ok.onclick = cancel.onclick = null;
      dlg.onclose = null;
      if (dlg.open) dlg.close();
      resolve(v);
    };
    ok.onclick = finish(true);
    cancel.onclick = finish(false);
    dlg.onclose = () => resolve(false);
    dlg.showModal();
    cancel.focus();
  });
}

// ---- the Gantt chart ----------------------------------------------------------------------------

interface GanttRow {
  host: string;
  wave: number | null;
  /** Bars, in ms from the chart's start. */
  bars: { status: string; from: number; to: number }[];
}

/** Hosts down the side (grouped by wave when there are waves), time across. */
function gantt(rows: GanttRow[], spanMs: number, marks: { at: number; label: string; cls: string }[], caption: string): SVGElement {
  const W = 960;
  const LABEL = 150;
  const ROW = 20;
  const top = 22;
  const lines: ({ wave: number } | GanttRow)[] = [];
  let last: number | null | undefined;
  for (const r of rows) {
    if (r.wave !== null && r.wave !== last) lines.push({ wave: r.wave });
    last = r.wave;
    lines.push(r);
  }
  const height = top + lines.length * ROW + 8;
  const span = Math.max(spanMs, 1000);
  const x = (ms: number) => LABEL + (Math.max(0, ms) / span) * (W - LABEL - 10);
  const svg = s('svg', { class: 'gantt', viewBox: `0 0 ${W} ${height}`, width: '100%', role: 'img', 'aria-label': caption });
  svg.append(s('title', {}, caption));
  // Axis: about six ticks at a round number of seconds.
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400];
  const step = (steps.find((st) => (span / 1000) / st <= 6) ?? 28800) * 1000;
  for (let t = 0; t <= span; t += step) {
    svg.append(s('line', { class: 'axis', x1: x(t), x2: x(t), y1: top - 6, y2: height - 4 }));
    svg.append(s('text', { x: x(t) + 2, y: 12 }, `+${duration(t)}`));
  }
  lines.forEach((l, i) => {
    const y = top + i * ROW;
    if (!('host' in l)) {
      svg.append(s('text', { class: 'wave', x: 4, y: y + 14 }, `wave ${l.wave + 1}`));
      return;
    }
    svg.append(s('rect', { class: 'lane', x: LABEL, y: y + 2, width: W - LABEL - 10, height: ROW - 4, rx: 3 }));
    svg.append(s('text', { x: l.wave === null ? 4 : 14, y: y + 14 }, l.host));
    for (const b of l.bars) {
      const w = Math.max(3, x(b.to) - x(b.from));
      svg.append(s('rect', { class: `b-${b.status}`, x: x(b.from), y: y + 3, width: w, height: ROW - 6, rx: 2, 'data-host': l.host, 'data-bar': b.status }, s('title', {}, `${l.host}: ${STATUS_LABEL.get(b.status) ?? b.status} ${duration(b.to - b.from)}`)));
    }
  });
  for (const m of marks) {
    svg.append(s('line', { class: m.cls, x1: x(m.at), x2: x(m.at), y1: top - 6, y2: height - 4, 'stroke-dasharray': m.cls === 'now' ? '' : '4 3', stroke: 'currentColor' }));
    svg.append(s('text', { x: Math.min(x(m.at) + 3, W - 80), y: height - 6 }, m.label));
  }
  return svg;
}

function ganttLegend(): HTMLElement {
  return h(
    'div',
    { class: 'legend' },
    ...[['emptying', 'being emptied'], ['maintaining', 'in maintenance'], ['maintained', 'done'], ['failed', 'failed']].map(([k, label]) => h('span', {}, h('i', { class: `s-${k}` }), label!)),
  );
}

// ---- pages ------------------------------------------------------------------------------------

interface Page {
  stop(): void;
}

const app = (): HTMLElement => document.getElementById('app') as HTMLElement;
let scope: Json = {};

function renderWho(): void {
  const who = document.getElementById('who') as HTMLElement;
  who.replaceChildren();
  if (scope.scope === 'project') who.append(h('span', { id: 'who-scope' }, `project ${str(scope.project_id)}`));
  else if (scope.scope === 'admin') who.append(h('span', { id: 'who-scope' }, 'admin'));
  if (token())
    who.append(
      h('button', {
        class: 'ghost',
        id: 'sign-out',
        onclick: () => {
          sessionStorage.removeItem(TOKEN_KEY);
          location.reload();
        },
      }, 'Sign out'),
    );
}

function navigate(path: string): void {
  history.pushState(null, '', path);
  route();
}

// The sessions list, and "new session" (with its plan preview first).
function listPage(): Page {
  const model = new Model();
  const conn = connBadge();
  const body = h('tbody', { id: 'sessions' });
  const table = h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Session'), h('th', {}, 'State'), h('th', {}, 'Workflow'), h('th', {}, 'Progress'), h('th', {}, 'Created'), h('th', {}, 'Maintenance at'))), body);
  const empty = h('div', { class: 'empty', id: 'no-sessions' }, 'No maintenance sessions. Start one with “New session”.');
  const newBtn = h('button', { class: 'primary', id: 'new-session', hidden: true, onclick: () => (createPanel.hidden = !createPanel.hidden) }, 'New session');
  const createPanel = createForm();
  createPanel.hidden = true;
  app().replaceChildren(
    h('div', { class: 'row'}, h('h1', {}, 'Maintenance sessions'), conn.el, h('span', { class: 'spacer' }), newBtn),
    createPanel,
    h('section', { class: 'panel' }, table, empty),
  );
  const render = () => {
    scope = model.head;
    renderWho();
    newBtn.hidden = model.head.scope !== 'admin';
    const rows = model.rows('sessions').sort((a, b) => str(b.created_at).localeCompare(str(a.created_at)));
    empty.hidden = rows.length > 0;
    table.hidden = rows.length === 0;
    body.replaceChildren(
      ...rows.map((r) =>
        h(
          'tr',
          { 'data-session': r.session_id, class: model.touched.get('sessions')?.has(r.key) ? 'flash' : undefined },
          h('td', {}, h('a', { href: `/sessions/${encodeURIComponent(str(r.session_id))}`, 'data-nav': true, class: 'mono' }, str(r.session_id))),
          h('td', {}, stateBadge(str(r.state), r.paused === true)),
          h('td', {}, str(r.workflow)),
          h('td', {}, h('div', { class: 'row' }, progress(Number(r.percent_done)), `${str(r.percent_done)} %`)),
          h('td', {}, time(r.created_at)),
          h('td', {}, time(r.maintenance_at)),
        ),
      ),
    );
  };
  const live = new Live('/v1/events', (ev, data) => {
    model.apply(ev, data);
    render();
  }, conn.set);
  return { stop: () => live.stop() };
}

function createForm(): HTMLElement {
  const hosts = h('input', { id: 'c-hosts', placeholder: 'compute-0, compute-1 (empty: every host)' });
  const workflow = h('select', { id: 'c-workflow' }, h('option', { value: 'default' }, 'default'), h('option', { value: 'vnf' }, 'vnf'), h('option', { value: 'k8s' }, 'k8s'));
  const at = h('input', { id: 'c-at', type: 'datetime-local' });
  const reply = h('input', { id: 'c-reply', type: 'number', min: 1, placeholder: 'server default' });
  const parallel = h('input', { id: 'c-parallel', type: 'number', min: 0, placeholder: '0 (no limit)' });
  const preview = h('div', { id: 'preview' });
  const createBtn = h('button', { class: 'primary', id: 'c-create', disabled: true }, 'Create session');
  let previewed: string | null = null;

  const bodyOf = (): Json => {
    const list = hosts.value.split(/[\s,]+/).filter(Boolean);
    return {
      state: 'MAINTENANCE',
      workflow: workflow.value,
      hosts: list,
      ...(at.value && { maintenance_at: new Date(at.value).toISOString() }),
      ...(reply.value && { reply_window: Number(reply.value) }),
      ...(parallel.value && { max_parallel_hosts: Number(parallel.value) }),
    };
  };
  const invalidate = () => {
    previewed = null;
    createBtn.disabled = true;
  };
  for (const el of [hosts, workflow, at, reply, parallel]) el.addEventListener('input', invalidate);

  const previewBtn = h('button', {
    id: 'c-preview',
    onclick: async () => {
      const body = bodyOf();
      preview.replaceChildren(h('p', { class: 'muted' }, 'Planning…'));
      try {
        if (body.workflow === 'default') {
          preview.replaceChildren(
            h('p', {}, `The default workflow has no plan ahead: it takes ${(body.hosts as string[]).length ? (body.hosts as string[]).join(', ') : 'every host the driver reports'} one at a time, asking the projects before each host is emptied.`),
          );
        } else preview.replaceChildren(planPreview(await api('POST', '/v1/maintenance/plan', body)));
        previewed = JSON.stringify(body);
        createBtn.disabled = false;
      } catch (e) {
        preview.replaceChildren(h('p', { class: 'error' }, e instanceof ApiError ? `${e.code}: ${e.message}` : String(e)));
      }
    },
  }, 'Preview plan');

  createBtn.addEventListener('click', async () => {
    const body = bodyOf();
    if (previewed !== JSON.stringify(body)) return invalidate();
    const hostsText = (body.hosts as string[]).length ? (body.hosts as string[]).join(', ') : 'every host';
    if (!(await confirmAction('Create session', `Start a ${str(body.workflow)} maintenance session over ${hostsText}${body.maintenance_at ? ` at ${time(body.maintenance_at)}` : ' now'}?`))) return;
    try {
      const s = await api('POST', '/v1/maintenance', body);
      navigate(`/sessions/${encodeURIComponent(str(s.session_id))}`);
    } catch (e) {
      preview.append(h('p', { class: 'error' }, e instanceof ApiError ? `${e.code}: ${e.message}` : String(e)));
    }
  });

  return h(
    'section',
    { class: 'panel', id: 'create' },
    h('h2', {}, 'New session'),
    h(
      'div',
      { class: 'form' },
      h('label', {}, 'Hosts', hosts),
      h('label', {}, 'Workflow', workflow),
      h('label', {}, 'Maintenance at (empty: now)', at),
      h('label', {}, 'Reply window (s)', reply),
      h('label', {}, 'Max hosts at once', parallel),
    ),
    h('div', { class: 'row'}, h('p', { class: 'muted' }, 'Preview the plan first; the session is created only after that, and after you confirm.'), h('span', { class: 'spacer' }), previewBtn, createBtn),
    preview,
  );
}

/** POST /v1/maintenance/plan's answer: the summary, the reasons, and the waves as a chart. */
function planPreview(p: Json): HTMLElement {
  const hosts = (p.hosts as { host: string; batch: number | null; start_s: number | null; empty_s: number | null; maintained_s: number | null }[]) ?? [];
  const rows: GanttRow[] = hosts
    .filter((x) => x.batch !== null)
    .sort((a, b) => (a.batch ?? 0) - (b.batch ?? 0) || (a.start_s ?? 0) - (b.start_s ?? 0))
    .map((x) => ({
      host: x.host,
      wave: x.batch,
      bars: [
        ...(x.start_s !== null && x.empty_s !== null ? [{ status: 'emptying', from: x.start_s * 1000, to: x.empty_s * 1000 }] : []),
        ...(x.empty_s !== null && x.maintained_s !== null ? [{ status: 'maintaining', from: x.empty_s * 1000, to: x.maintained_s * 1000 }] : []),
      ],
    }));
  const total = Number(p.expected_duration_s ?? 0) * 1000;
  const lb = p.lower_bound as Json | undefined;
  const reasons = (p.reasons as { severity: string; message: string }[]) ?? [];
  const batches = (p.batches as unknown[]) ?? [];
  return h(
    'div',
    { id: 'plan-preview' },
    h(
      'dl',
      { class: 'kv' },
      h('dt', {}, 'Feasible'),
      h('dd', { id: 'plan-feasible' }, p.feasible ? 'yes' : 'no'),
      h('dt', {}, 'Waves'),
      h('dd', {}, `${batches.length} (${hosts.length} hosts)`),
      h('dt', {}, 'Expected duration'),
      h('dd', {}, p.expected_duration_s === null ? '–' : duration(total)),
      h('dt', {}, 'Lower bound'),
      h('dd', {}, lb?.total_s == null ? '–' : `${duration(Number(lb.total_s) * 1000)} (${str(lb.binding)})`),
    ),
    reasons.length ? h('ul', {}, ...reasons.map((r) => h('li', { class: r.severity === 'error' ? 'error' : 'muted' }, r.message))) : null,
    rows.length ? gantt(rows, Math.max(total, ...rows.flatMap((r) => r.bars.map((b) => b.to))), total ? [{ at: total, label: 'expected end', cls: 'planned' }] : [], 'the dry-run plan: which hosts go down in which wave') : null,
    ganttLegend(),
  );
}

// One session, live.
function sessionPage(id: string): Page {
  const model = new Model();
  const conn = connBadge();
  const el = {
    head: h('section', { class: 'panel', id: 'session-head' }),
    waiting: h('section', { class: 'panel waiting', id: 'waiting', 'aria-live': 'polite' }),
    hosts: h('div', { class: 'hosts', id: 'hosts' }),
    hostsNote: h('p', { class: 'muted' }),
    chart: h('div', { id: 'chart' }),
    projects: h('tbody', { id: 'projects' }),
    instances: h('tbody', { id: 'instances' }),
    instancesNote: h('span', { class: 'muted' }),
    timeline: h('ul', { class: 'timeline', id: 'timeline' }),
    plugins: h('section', { class: 'panel', id: 'plugins', hidden: true }),
  };
  const tiles = new Map<string, HTMLElement>();
  const legend = h('div', { class: 'legend' }, ...HOST_STATUSES.map(([k, label]) => h('span', {}, h('i', { class: `s-${k}` }), label)));
  app().replaceChildren(
    h('div', { class: 'row' }, h('a', { href: '/', 'data-nav': true }, '← Sessions'), conn.el),
    el.head,
    el.waiting,
    h('section', { class: 'panel' }, h('div', { class: 'row' }, h('h2', {}, 'Hosts'), h('span', { class: 'spacer' }), legend), el.hosts, el.hostsNote),
    h('section', { class: 'panel', id: 'chart-panel' }, h('div', { class: 'row' }, h('h2', {}, 'Plan and progress'), h('span', { class: 'spacer' }), ganttLegend()), el.chart),
    h(
      'div',
      { class: 'grid2' },
      h('section', { class: 'panel' }, h('h2', {}, 'Projects'), h('div', { class: 'scroll' }, h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Project'), h('th', {}, 'Last notification'), h('th', {}, 'Reply'), h('th', {}, 'Deadline'))), el.projects))),
      h('section', { class: 'panel' }, h('h2', {}, 'Timeline'), h('div', { class: 'scroll' }, el.timeline)),
    ),
    h('section', { class: 'panel' }, h('div', { class: 'row' }, h('h2', {}, 'Instances and moves'), h('span', { class: 'spacer' }), el.instancesNote), h('div', { class: 'scroll' }, h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Instance'), h('th', {}, 'Project'), h('th', {}, 'From → on'), h('th', {}, 'Action'), h('th', {}, 'Status'), h('th', {}, 'Moves'))), el.instances))),
    el.plugins,
  );

  const flash = (list: string, key: string) => (model.touched.get(list)?.has(key) ? 'flash' : undefined);

  const action = async (what: string, text: string, run: () => Promise<unknown>, danger = false, after?: () => void) => {
    if (!(await confirmAction(what, text, danger))) return;
    try {
      await run();
      toast(`${what}: done`);
      after?.();
    } catch (e) {
      toast(e instanceof ApiError ? `${what}: ${e.code}: ${e.message}` : `${what}: ${String(e)}`, true);
    }
  };

  const renderHead = () => {
    const sess = (model.head.session ?? {}) as Json;
    const state = str(sess.state);
    const paused = sess.paused === true;
    const admin = model.head.scope === 'admin';
    const terminal = TERMINAL.has(state);
    const put = (body: Json) => () => api('PUT', `/v1/maintenance/${encodeURIComponent(id)}`, body);
    const buttons = admin
      ? [
          h('button', { id: 'a-pause', disabled: terminal || paused, onclick: () => action('Pause', 'Pause this session? Nothing is sent or moved until it is resumed.', put({ action: 'pause' })) }, 'Pause'),
          h('button', { id: 'a-resume', disabled: !paused, onclick: () => action('Resume', 'Resume this session? Open reply deadlines move by the length of the pause.', put({ action: 'resume' })) }, 'Resume'),
          h('button', { id: 'a-continue', disabled: state !== 'MAINTENANCE_FAILED', onclick: () => action('Continue', `Continue this failed session from ${str(sess.failed_in ?? 'where it failed')}?`, put({ action: 'continue' })) }, 'Continue'),
          h('button', { id: 'a-abort', class: 'danger', disabled: terminal, onclick: () => action('Abort', 'Abort this session? It ends MAINTENANCE_FAILED, running plug-ins are stopped and hosts go back as found.', put({ action: 'abort' }), true) }, 'Abort'),
          h('button', { id: 'a-delete', class: 'danger', onclick: () => action('Delete', 'Delete this session? Hosts go back as found, then the session is removed.', () => api('DELETE', `/v1/maintenance/${encodeURIComponent(id)}`), true, () => navigate('/')) }, 'Delete'),
        ]
      : [];
    el.head.replaceChildren(
      h('div', { class: 'row' }, h('h1', { class: 'mono', id: 'session-id' }, id), h('span', { id: 'session-state', 'data-state': state }, stateBadge(state, paused)), h('span', { class: 'muted' }, str(sess.workflow)), h('span', { class: 'spacer' }), ...buttons),
      h(
        'div',
        { class: 'row'},
        h('div', { class: 'row' }, progress(Number(model.head.percent_done ?? 0)), h('span', { id: 'percent' }, `${str(model.head.percent_done)} % done`)),
        h('span', { class: 'muted' }, `created ${time(sess.created_at)}`),
        h('span', { class: 'muted' }, `maintenance at ${time(sess.maintenance_at)}`),
        sess.current_host ? h('span', {}, 'current host ', h('b', {}, str(sess.current_host))) : null,
        sess.reason ? h('span', { class: state === 'MAINTENANCE_FAILED' ? 'error' : 'muted' }, str(sess.reason)) : null,
      ),
    );
    const w = (model.head.waiting_for ?? {}) as { what?: string; until?: string | null; yours?: boolean };
    el.waiting.className = `panel waiting${w.yours ? ' yours' : ''}`;
    el.waiting.replaceChildren(
      h('div', { class: 'label' }, 'Waiting for'),
      h('div', { class: 'row' }, h('span', { class: 'what', id: 'waiting-what' }, str(w.what)), w.until ? h('span', { class: 'countdown', 'data-until': w.until }) : null),
    );
  };

  const renderHosts = () => {
    const rows = model.rows('hosts').sort((a, b) => Number(a.pos) - Number(b.pos));
    const keep = new Set(rows.map((r) => r.key));
    for (const [k, t] of tiles)
      if (!keep.has(k)) {
        t.remove();
        tiles.delete(k);
      }
    rows.forEach((r, i) => {
      let t = tiles.get(r.key);
      if (!t) {
        t = h('div', { class: 'host', 'data-host': r.key, role: 'group', 'aria-label': r.key }, h('div', { class: 'name', title: r.key }, r.key), h('div', { class: 'st' }));
        tiles.set(r.key, t);
      }
      // The tile is kept and its status changed in place (an attribute change, not a new element).
      const status = str(r.status);
      if (t.dataset.status !== status) t.dataset.status = status;
      t.classList.toggle('current', r.current === true);
      const label = `${STATUS_LABEL.get(status) ?? status}${r.type && r.type !== 'compute' ? ` · ${str(r.type)}` : ''}${r.failure ? ` · ${str(r.failure)}` : ''}`;
      const st = t.querySelector('.st') as HTMLElement;
      if (st.textContent !== label) st.textContent = label;
      if (el.hosts.children[i] !== t) el.hosts.insertBefore(t, el.hosts.children[i] ?? null);
    });
    // Many hosts: smaller tiles, so that the grid stays an overview.
    el.hosts.classList.toggle('dense', rows.length > 60);
    const total = Number((model.head.totals as Json | undefined)?.hosts ?? rows.length);
    el.hostsNote.textContent = total > rows.length ? `showing ${rows.length} of ${total} hosts` : '';
  };

  const renderChart = () => {
    const hosts = model.rows('hosts').sort((a, b) => Number(a.pos) - Number(b.pos));
    const plan = model.head.plan as { planned_at: string; expected_duration_s: number; batches: { index: number; hosts: string[] }[] } | null;
    const wave = new Map<string, number>();
    for (const b of plan?.batches ?? []) for (const x of b.hosts) wave.set(x, b.index);
    const since = (r: Row) => (r.since ?? {}) as Record<string, string | undefined>;
    const now = Date.now() + model.skew;
    const starts = hosts.flatMap((r) => ['emptying', 'maintaining', 'maintained', 'failed'].map((k) => since(r)[k]).filter((v): v is string => !!v).map(Date.parse));
    const t0 = Math.min(...starts, plan ? Date.parse(plan.planned_at) : Infinity);
    if (!Number.isFinite(t0) && !plan) {
      el.chart.replaceChildren(h('p', { class: 'muted' }, 'Nothing has started yet.'));
      return;
    }
    const start = Number.isFinite(t0) ? t0 : now;
    const order = [...hosts].sort((a, b) => (wave.get(a.key) ?? 1e9) - (wave.get(b.key) ?? 1e9) || Number(a.pos) - Number(b.pos));
    const rows: GanttRow[] = order.map((r) => {
      const t = since(r);
      const at = (k: string) => (t[k] ? Date.parse(t[k]) - start : null);
      const end = (...ks: string[]) => ks.map(at).find((v) => v !== null) ?? now - start;
      const bars: GanttRow['bars'] = [];
      const e = at('emptying');
      const m = at('maintaining');
      const d = at('maintained');
      const f = at('failed');
      if (e !== null) bars.push({ status: 'emptying', from: e, to: end('maintaining', 'maintained', 'failed') });
      if (m !== null) bars.push({ status: 'maintaining', from: m, to: end('maintained', 'failed') });
      if (d !== null) bars.push({ status: 'maintained', from: d, to: d + 1 });
      if (f !== null) bars.push({ status: 'failed', from: f, to: f + 1 });
      return { host: r.key, wave: wave.has(r.key) ? wave.get(r.key)! : null, bars };
    });
    const terminal = TERMINAL.has(str((model.head.session as Json | undefined)?.state));
    const lastBar = Math.max(0, ...rows.flatMap((r) => r.bars.map((b) => b.to)));
    const expected = plan ? Date.parse(plan.planned_at) + plan.expected_duration_s * 1000 - start : null;
    const span = Math.max(terminal ? lastBar : now - start, expected ?? 0, 1000);
    const marks = [...(expected !== null ? [{ at: expected, label: 'expected end', cls: 'planned' }] : []), ...(!terminal ? [{ at: now - start, label: 'now', cls: 'now' }] : [])];
    const caption = plan ? `plan: ${plan.batches.length} waves; bars: actual times` : 'actual times of each host';
    el.chart.replaceChildren(
      h('p', { class: 'muted' }, plan ? `The session's plan: ${plan.batches.length} waves, expected to take ${duration(plan.expected_duration_s * 1000)}. Bars are the times each host actually spent being emptied and in maintenance.` : 'Bars are the times each host actually spent being emptied and in maintenance (the default workflow plans one host at a time, as it goes).'),
      gantt(rows, span, marks, caption),
    );
  };

  const renderLists = () => {
    el.projects.replaceChildren(
      ...model.rows('projects').sort((a, b) => a.key.localeCompare(b.key)).map((p) =>
        h(
          'tr',
          { 'data-project': p.key, class: flash('projects', p.key) },
          h('td', {}, h('b', {}, p.key), p.unreachable ? h('div', { class: 'error' }, 'unreachable') : null, p.interacting === false ? h('div', { class: 'muted' }, 'no subscription') : null),
          // The state asked now, else the one the last reply answered.
          h(
            'td',
            {},
            str(p.awaiting) || (p.last_reply ? h('span', { class: 'muted' }, `${str(p.last_reply).replace(/^N?ACK_/, '')} (answered)`) : h('span', { class: 'muted' }, '–')),
            p.notified_at ? h('div', { class: 'muted' }, `sent ${clock(p.notified_at)}`) : null,
          ),
          h('td', {}, str(p.reply) || (p.awaiting ? h('span', { class: 'muted' }, 'not yet') : str(p.last_reply) || '–'), p.last_reply_at ? h('div', { class: 'muted' }, clock(p.last_reply_at)) : null),
          h('td', {}, p.awaiting && !p.reply && p.reply_at ? h('span', { class: 'countdown', 'data-until': str(p.reply_at) }) : h('span', { class: 'muted' }, '–')),
        ),
      ),
    );
    const shown = model.lists.get('instances')?.size ?? 0;
    const all = Number((model.head.totals as Json | undefined)?.instances ?? shown);
    el.instancesNote.textContent = all > shown ? `the first ${shown} of ${all}` : '';
    const rank = (r: Row) => (r.status === 'moving' ? 0 : Number(r.moves) > 0 ? 1 : 2);
    el.instances.replaceChildren(
      ...model.rows('instances').sort((a, b) => rank(a) - rank(b) || str(a.name).localeCompare(str(b.name))).map((i) =>
        h(
          'tr',
          { 'data-instance': i.key, class: flash('instances', i.key) },
          h('td', {}, str(i.name), h('div', { class: 'muted mono' }, i.key)),
          h('td', {}, str(i.project_id)),
          h('td', {}, i.origin_host !== i.host ? `${str(i.origin_host)} → ${str(i.host)}` : str(i.host)),
          h('td', {}, str(i.action) || '–'),
          h('td', {}, str(i.status), i.error ? h('div', { class: 'error' }, str(i.error)) : null),
          h('td', {}, str(i.moves)),
        ),
      ),
    );
    el.timeline.replaceChildren(
      ...model.rows('timeline').sort((a, b) => str(b.at).localeCompare(str(a.at))).map((t) =>
        h('li', { class: flash('timeline', t.key) }, h('span', { class: 't' }, clock(t.at)), h('span', { class: 'k' }, str(t.kind)), h('span', {}, str(t.message))),
      ),
    );
    const runs = model.rows('plugin_runs');
    el.plugins.hidden = runs.length === 0;
    el.plugins.replaceChildren(
      h('h2', {}, 'Plug-in runs'),
      h(
        'table',
        {},
        h('thead', {}, h('tr', {}, h('th', {}, 'Plug-in'), h('th', {}, 'Type'), h('th', {}, 'Host'), h('th', {}, 'Status'), h('th', {}, 'Attempts'), h('th', {}, 'Error'))),
        h('tbody', {}, ...runs.map((r) => h('tr', { class: flash('plugin_runs', r.key) }, h('td', {}, str(r.plugin)), h('td', {}, str(r.type)), h('td', {}, str(r.host) || '–'), h('td', {}, str(r.status)), h('td', {}, str(r.attempts)), h('td', { class: 'error' }, str(r.error))))),
      ),
    );
  };

  const tickCountdowns = () => {
    const now = Date.now() + model.skew;
    for (const c of document.querySelectorAll<HTMLElement>('[data-until]')) {
      const left = Date.parse(c.dataset.until ?? '') - now;
      c.textContent = left >= 0 ? `in ${duration(left)}` : `overdue by ${duration(left)}`;
      c.classList.toggle('late', left < 0);
    }
  };

  const live = new Live(
    `/v1/maintenance/${encodeURIComponent(id)}/events`,
    (ev, data) => {
      if (ev === 'gone') {
        live.stop();
        clearInterval(timer);
        app().replaceChildren(h('section', { class: 'panel empty', id: 'gone' }, `No session ${id} (it was deleted, or this token may not see it). `, h('a', { href: '/', 'data-nav': true }, 'Back to the sessions')));
        return;
      }
      model.apply(ev, data);
      scope = model.head;
      renderWho();
      renderHead();
      renderHosts();
      renderChart();
      renderLists();
      tickCountdowns();
    },
    conn.set,
  );
  // Countdowns and the chart's "now" move every second without anything coming from the server.
  const timer = setInterval(() => {
    tickCountdowns();
    // The chart's "now" line moves too; a big chart (hundreds of hosts) only when data comes.
    if (!TERMINAL.has(str((model.head.session as Json | undefined)?.state)) && model.head.session && tiles.size <= 200) renderChart();
  }, 1000);
  return {
    stop() {
      live.stop();
      clearInterval(timer);
    },
  };
}

// ---- routing ----------------------------------------------------------------------------------

let page: Page | null = null;

function route(): void {
  page?.stop();
  const m = /^\/sessions\/([^/]+)\/?$/.exec(location.pathname);
  page = m ? sessionPage(decodeURIComponent(m[1]!)) : listPage();
}

document.addEventListener('click', (e) => {
  const a = (e.target as Element | null)?.closest?.('a[data-nav]') as HTMLAnchorElement | null;
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const url = new URL(a.href);
  if (url.origin !== location.origin) return;
  e.preventDefault();
  navigate(url.pathname);
});
window.addEventListener('popstate', route);
renderWho();
route();
