// `fenix session watch <id>` (and `session create --watch`): a live view of one session from the
// detail's first page (GET /v1/maintenance/{id}/detail?lists=hosts,timeline), read when the
// session's event stream (GET /v1/maintenance/{id}/events, Server-Sent Events) says something
// changed, and once every --interval anyway (the only trigger when the stream is not there).
// On a terminal it redraws one screen: the session's state and progress, what it waits for, a grid
// of the hosts marked and coloured by state, and the latest events. Anywhere else (a pipe, a log)
// it writes a plain line per change. It ends with the session: exit code 0 when it is done,
// 1 when it failed or was deleted, 130 when stopped with Ctrl-C (the session goes on).
import { setTimeout as delay } from 'node:timers/promises';
import { ApiError, type FenixHttp } from './http.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === 'string' ? v : v === null || v === undefined ? '' : String(v));
const list = (v: unknown): Obj[] => (Array.isArray(v) ? v.filter(isObj) : []);

/** What one poll of the detail says, in the shape the views need. */
export interface WatchSnapshot {
  id: string;
  state: string;
  workflow: string;
  paused: boolean;
  percent: number | null;
  reason: string;
  waiting: string;
  waitingUntil: string | null;
  hosts: { name: string; status: string; current: boolean }[];
  /** Hosts in the session (the page may hold fewer). */
  hostTotal: number;
  /** Oldest first. */
  timeline: { at: string; kind: string; message: string }[];
}

export function snapshotOf(detail: unknown, id: string): WatchSnapshot {
  const d = isObj(detail) ? detail : {};
  const s = isObj(d.session) ? d.session : {};
  const w = d.waiting_for;
  const hosts = list(d.hosts).map((h) => ({ name: str(h.name), status: str(h.status) || 'pending', current: h.current === true }));
  const page = isObj(d.page) && isObj(d.page.hosts) ? d.page.hosts : {};
  return {
    id: str(s.session_id) || id,
    state: str(s.state) || '?',
    workflow: str(s.workflow),
    paused: s.paused === true,
    percent: typeof d.percent_done === 'number' ? d.percent_done : typeof s.percent_done === 'number' ? s.percent_done : null,
    reason: str(s.reason),
    waiting: isObj(w) ? str(w.what) : str(w),
    waitingUntil: isObj(w) && typeof w.until === 'string' ? w.until : null,
    hosts,
    hostTotal: typeof page.total === 'number' ? Math.max(page.total, hosts.length) : hosts.length,
    timeline: list(d.timeline).map((t) => ({ at: str(t.at), kind: str(t.kind), message: str(t.message) })),
  };
}

export const isFinal = (state: string): boolean => state === 'MAINTENANCE_DONE' || state === 'MAINTENANCE_FAILED';

// ---- the terminal view ----------------------------------------------------------------------

/** How each host state is marked (a symbol, for terminals without colour) and coloured (SGR). */
export const HOST_MARKS: Record<string, { mark: string; colour: string; label: string }> = {
  pending: { mark: '○', colour: '2', label: 'waiting' },
  emptying: { mark: '◐', colour: '33', label: 'being emptied' },
  maintaining: { mark: '●', colour: '36;1', label: 'in maintenance' },
  maintained: { mark: '✓', colour: '32', label: 'done' },
  failed: { mark: '✗', colour: '31;1', label: 'failed' },
};
const markOf = (status: string) => HOST_MARKS[status] ?? { mark: '?', colour: '35', label: status };

/** A piece of a line: text and an optional SGR colour. */
type Seg = [text: string, colour?: string];

/** Segments joined and cut to `width` visible characters (colour codes do not count). */
function fit(segs: Seg[], width: number, colour: boolean): string {
  let room = width;
  let out = '';
  for (const [text, code] of segs) {
    if (room <= 0) break;
    const chars = [...text];
    const cut = chars.length > room ? chars.slice(0, Math.max(0, room - 1)).join('') + '…' : text;
    room -= Math.min(chars.length, room);
    out += colour && code ? `\x1b[${code}m${cut}\x1b[0m` : cut;
  }
  return out;
}

const clock = (iso: string): string => (iso.length >= 19 ? iso.slice(11, 19) : iso);

/** "in 34s", "1m05s ago": how far a deadline is. */
function until(iso: string, now: number): string {
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return iso;
  const s = Math.round((t - now) / 1000);
  const a = Math.abs(s);
  const span = a >= 3600 ? `${Math.floor(a / 3600)}h${String(Math.floor((a % 3600) / 60)).padStart(2, '0')}m` : a >= 60 ? `${Math.floor(a / 60)}m${String(a % 60).padStart(2, '0')}s` : `${a}s`;
  return s >= 0 ? `in ${span}` : `${span} ago`;
}

export function progressBar(percent: number | null, width: number): string {
  const p = Math.max(0, Math.min(100, percent ?? 0));
  const full = Math.round((p / 100) * width);
  return '█'.repeat(full) + '░'.repeat(width - full);
}

const stateColour = (state: string, paused: boolean): string =>
  state === 'MAINTENANCE_DONE' ? '32;1' : state === 'MAINTENANCE_FAILED' ? '31;1' : paused ? '33;1' : '36;1';

export interface FrameOptions {
  width: number;
  /** Lines available (the events list is cut to fit); Infinity: no limit. */
  height: number;
  colour: boolean;
  now: number;
  /** The last poll failed: say so above the (older) view. */
  problem?: string;
}

/** One screen of the watch view. */
export function renderFrame(s: WatchSnapshot, o: FrameOptions): string[] {
  const W = Math.max(20, o.width);
  const line = (...segs: Seg[]) => fit(segs, W, o.colour);
  const counts = new Map<string, number>();
  for (const h of s.hosts) counts.set(h.status, (counts.get(h.status) ?? 0) + 1);

  const top: string[] = [
    line(['session ', '1'], [s.id, '1'], ['  '], [s.state + (s.paused ? ' (paused)' : ''), stateColour(s.state, s.paused)], [s.workflow ? `  workflow ${s.workflow}` : '']),
    line([progressBar(s.percent, Math.min(40, Math.max(10, W - 40))), '32'], [` ${s.percent ?? '-'}% done`], [`  ${counts.get('maintained') ?? 0} of ${s.hostTotal} host${s.hostTotal === 1 ? '' : 's'} maintained`]),
    line(['waiting for: ', '1'], [s.waiting || 'nothing', '33;1'], [s.waitingUntil ? `  (until ${clock(s.waitingUntil)} UTC, ${until(s.waitingUntil, o.now)})` : '']),
  ];
  if (s.reason && s.state === 'MAINTENANCE_FAILED') top.push(line(['reason: ', '1'], [s.reason, '31']));
  if (o.problem) top.push(line([`(last update failed: ${o.problem}; retrying)`, '31']));

  // The grid: as many cells a row as fit, each `mark name` padded to the longest name.
  const cellW = Math.min(W, Math.max(...s.hosts.map((h) => [...h.name].length), 4) + 4);
  const perRow = Math.max(1, Math.floor(W / cellW));
  const grid: string[] = [];
  for (let i = 0; i < s.hosts.length; i += perRow) {
    const segs: Seg[] = s.hosts.slice(i, i + perRow).map((h) => {
      const m = markOf(h.status);
      const text = `${m.mark} ${h.name}${h.current ? '*' : ''}`;
      return [[...text].length < cellW ? text + ' '.repeat(cellW - [...text].length) : text, m.colour];
    });
    grid.push(line(...segs));
  }
  // A grid taller than the screen would push the events off it: keep room for a few of them.
  const gridRoom = Number.isFinite(o.height) ? Math.max(1, o.height - top.length - 9) : grid.length;
  if (grid.length > gridRoom) {
    const hidden = s.hosts.length - (gridRoom - 1) * perRow;
    grid.splice(gridRoom - 1, grid.length, line([`… ${hidden} more host${hidden === 1 ? '' : 's'} (a taller terminal shows them)`, '2']));
  }
  const legend = Object.entries(HOST_MARKS).map(([k, m]): Seg => [`${m.mark} ${m.label} ${counts.get(k) ?? 0}  `, m.colour]);
  if (s.hosts.some((h) => h.current)) legend.push(['* current', '2']);
  const shown = s.hostTotal > s.hosts.length ? ` (first ${s.hosts.length} of ${s.hostTotal})` : '';
  const hosts = [line([`hosts${shown}: `, '1'], ...legend), ...grid];

  const footer = [line([`updated ${clock(new Date(o.now).toISOString())} UTC · Ctrl-C stops watching (the session goes on)`, '2'])];
  const room = Number.isFinite(o.height) ? o.height - top.length - hosts.length - footer.length - 3 : s.timeline.length;
  const events = s.timeline.slice(-Math.max(0, room)).map((t) => line([`${clock(t.at)}  `, '2'], [t.kind.padEnd(9), '36'], [' ' + t.message]));
  return [...top, '', ...hosts, '', line(['latest events:', '1']), ...(events.length ? events : [line(['  (none yet)', '2'])]), ...footer];
}

// ---- the plain view: a line per change -------------------------------------------------------

/** What the plain view remembers between polls. */
export interface PlainState {
  head: string;
  waiting: string;
  hosts: Map<string, string>;
  /** Newest timeline time printed, and the entries printed at that time. */
  lastAt: string;
  atLast: Set<string>;
}

/** Lines for what changed since `prev` (everything worth a line on the first poll). */
export function plainChanges(prev: PlainState | null, s: WatchSnapshot, firstEvents = 5): { lines: string[]; state: PlainState } {
  const lines: string[] = [];
  const head = `session ${s.id} ${s.state}${s.paused ? ' (paused)' : ''} ${s.percent ?? '-'}%`;
  if (head !== prev?.head) lines.push(head + (s.state === 'MAINTENANCE_FAILED' && s.reason ? `: ${s.reason}` : ''));
  const waiting = `waiting for: ${s.waiting || 'nothing'}${s.waitingUntil ? ` (until ${s.waitingUntil})` : ''}`;
  if (waiting !== prev?.waiting) lines.push(waiting);
  const hosts = new Map(s.hosts.map((h) => [h.name, h.status]));
  if (!prev) {
    const by = new Map<string, string[]>();
    for (const h of s.hosts) by.set(h.status, [...(by.get(h.status) ?? []), h.name]);
    lines.push(`hosts: ${[...by].map(([st, names]) => `${st} ${names.length}`).join(', ') || 'none'}`);
  } else {
    for (const [name, status] of hosts) {
      const was = prev.hosts.get(name);
      if (was !== undefined && was !== status) lines.push(`host ${name}: ${was} → ${status}`);
    }
  }
  // The first page's timeline is the newest entries, oldest first; print those after the last seen.
  const key = (t: WatchSnapshot['timeline'][number]) => `${t.kind}\u0000${t.message}`;
  const fresh = prev ? s.timeline.filter((t) => t.at > prev.lastAt || (t.at === prev.lastAt && !prev.atLast.has(key(t)))) : s.timeline.slice(-firstEvents);
  for (const t of fresh) lines.push(`event ${t.at} ${t.kind}: ${t.message}`);
  const newest = s.timeline.at(-1)?.at ?? prev?.lastAt ?? '';
  const atLast = new Set(s.timeline.filter((t) => t.at === newest).map(key));
  if (prev && newest === prev.lastAt) for (const k of prev.atLast) atLast.add(k);
  return { lines, state: { head, waiting, hosts, lastAt: newest, atLast } };
}

// ---- the loop --------------------------------------------------------------------------------

/** The terminal the view draws on (process.stdout, or a test's fake). */
export interface Screen {
  write(s: string): void;
  columns?: number;
  rows?: number;
}

export interface WatchOptions {
  http: FenixHttp;
  id: string;
  intervalMs: number;
  /** A terminal: redraw. null: a plain line per change through `out`. */
  screen: Screen | null;
  out: (line: string) => void;
  err: (line: string) => void;
  colour: boolean;
  /** --json: each changed detail answer as one JSON line, instead of either view. */
  json?: boolean;
  /** Also read when the session's event stream says it changed (default true). */
  events?: boolean;
  /** Stops watching (Ctrl-C): the view is restored and watchSession answers 130. */
  signal?: AbortSignal;
  now?: () => number;
}

/**
 * Calls `wake` whenever the session's event stream sends an event (a `patch`: something changed;
 * `gone`: it was deleted), until `signal` aborts or the stream ends. Best effort: a server without
 * the stream, or a stream that breaks, leaves the polling alone to carry on.
 */
export async function wakeOnEvents(http: FenixHttp, id: string, signal: AbortSignal, wake: () => void): Promise<void> {
  try {
    const { request } = await import('undici');
    const res = await request(http.url(`/v1/maintenance/${encodeURIComponent(id)}/events`), {
      headers: { accept: 'text/event-stream', ...(http.token && { 'x-auth-token': http.token }) },
      signal,
      bodyTimeout: 0, // quiet for minutes while a host is in maintenance; the server pings
    });
    if (res.statusCode !== 200 || !String(res.headers['content-type'] ?? '').startsWith('text/event-stream')) {
      // Read off and let go (a bare destroy() makes undici emit an AbortError nobody listens to).
      await res.body.dump().catch(() => {});
      return;
    }
    let first = true;
    for await (const chunk of res.body) {
      // Comments (": ping") keep the connection; the first event is the snapshot we read anyway.
      const events = String(chunk).match(/^event: *\S+/gm)?.length ?? 0;
      if (events > (first ? 1 : 0)) wake();
      if (events) first = false;
    }
  } catch {
    /* polling goes on */
  }
}

const ENTER = '\x1b[?1049h\x1b[?25l'; // the alternate screen, cursor hidden
const LEAVE = '\x1b[?25h\x1b[?1049l';

/** Watches until the session ends; answers the exit code. */
export async function watchSession(o: WatchOptions): Promise<number> {
  const now = o.now ?? Date.now;
  const path = `/v1/maintenance/${encodeURIComponent(o.id)}/detail?lists=hosts,timeline`;
  let plain: PlainState | null = null;
  let lastJson = '';
  let snap: WatchSnapshot | null = null;
  let problem: string | undefined;
  let drawn = false;
  const draw = (final = false) => {
    if (!o.screen || !snap) return;
    const frame = renderFrame(snap, { width: o.screen.columns ?? 80, height: o.screen.rows ?? 24, colour: o.colour, now: now(), ...(problem && { problem }) });
    if (final) {
      // Back on the normal screen, the last frame stays in the scrollback.
      o.screen.write(LEAVE + frame.join('\n') + '\n');
      return;
    }
    o.screen.write('\x1b[H' + frame.map((l) => l + '\x1b[K').join('\n') + '\x1b[J');
  };
  const restore = () => {
    if (drawn && o.screen) o.screen.write(LEAVE);
    drawn = false;
  };
  process.once('exit', restore); // whatever ends the process, the terminal gets its cursor back
  // The next read comes after --interval, or sooner when the event stream says something changed.
  const streaming = new AbortController();
  const stopStream = () => streaming.abort();
  o.signal?.addEventListener('abort', stopStream);
  let woken: () => void = () => undefined;
  let changed = false;
  if (o.events !== false)
    void wakeOnEvents(o.http, o.id, streaming.signal, () => {
      changed = true;
      woken();
    });
  const pause = async (): Promise<void> => {
    if (changed) {
      changed = false;
      return;
    }
    const wait = new AbortController();
    woken = () => wait.abort();
    await delay(o.intervalMs, undefined, { signal: AbortSignal.any([wait.signal, ...(o.signal ? [o.signal] : [])]) }).catch(() => undefined);
    woken = () => undefined;
    changed = false;
  };
  try {
    for (;;) {
      if (o.signal?.aborted) {
        restore();
        o.err(`stopped watching session ${o.id} (the session goes on)`);
        return 130;
      }
      let detail: unknown;
      try {
        detail = await o.http.get(path, o.signal);
        problem = undefined;
      } catch (err) {
        if (o.signal?.aborted) continue;
        // Gone: deleted while we watched (or never there, on the first look).
        if (err instanceof ApiError && err.status === 404) {
          restore();
          o.err(snap ? `error SESSION_NOT_FOUND: session ${o.id} was deleted while being watched` : `error ${err.code}: ${err.message}`);
          return 1;
        }
        if (!snap) throw err; // nothing to show yet: report it as any command does
        const was = problem;
        problem = err instanceof Error ? err.message : String(err);
        // Off a terminal: one line when reading starts failing, not one a second while it does.
        if (!o.screen && was === undefined) o.err(`${new Date(now()).toISOString()} cannot read session ${o.id} (${problem}); retrying`);
        draw();
        await pause();
        continue;
      }
      snap = snapshotOf(detail, o.id);
      if (o.json) {
        const text = JSON.stringify(detail);
        if (text !== lastJson) o.out(text);
        lastJson = text;
      } else if (o.screen) {
        if (!drawn) o.screen.write(ENTER);
        drawn = true;
        draw(isFinal(snap.state));
        if (isFinal(snap.state)) drawn = false;
      } else {
        const c = plainChanges(plain, snap);
        plain = c.state;
        const at = new Date(now()).toISOString();
        for (const l of c.lines) o.out(`${at} ${l}`);
      }
      if (isFinal(snap.state)) return snap.state === 'MAINTENANCE_DONE' ? 0 : 1;
      await pause();
    }
  } finally {
    streaming.abort();
    o.signal?.removeEventListener('abort', stopStream);
    restore();
    process.off('exit', restore);
  }
}
