// Live views for the dashboard (docs/dashboard.md): the sessions list (GET /v1/events) and one
// session (GET /v1/maintenance/{id}/events). With `Accept: text/event-stream` each is a stream of
// Server-Sent Events: a `snapshot`, then a `patch` with only the rows that changed, whenever
// something changed; otherwise one JSON view (the snapshot), for curl and scripts.
//
// One watcher per watched thing, whatever the number of viewers: it reads the session row (one
// indexed row) every SESSION_TICK_MS, and only when that row changed (the engine stamps updated_at
// on every decision; API writes move wake_at or the flags) does it read the pages the view shows
// (bounded pages, as the detail does: the cost does not grow with the session) and push patches.
// It stops when its last viewer leaves. It reads the store, so it works in the `api` role too
// (engine in another process, PostgreSQL). A project token sees its own part only.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { FenixError } from '../../domain/errors.js';
import type { SessionInstance, SessionProject, SessionRow } from '../../domain/model.js';
import { isTerminal } from '../../domain/states.js';
import type { Clock } from '../../ports/clock.js';
import type { Store } from '../../ports/store.js';
import { detailView, instanceView, sessionView } from '../../services/detail.js';
import type { Principal } from '../../services/principal.js';
import { ErrorSchema } from '../schemas/common.js';
import { EventsQuery, LiveView, SessionIdParams } from '../schemas/events.js';

export interface EventRouteDeps {
  store: Store;
  clock: Clock;
  /** How often a watched session's row is looked at (ms). */
  sessionTickMs?: number;
  /** How often the watched sessions list is looked at (ms). */
  listTickMs?: number;
  /** Open streams this app serves at most (each holds a socket); more are refused 503 TOO_MANY_STREAMS. */
  maxStreams?: number;
}

const SESSION_TICK_MS = 500;
const LIST_TICK_MS = 2_000;
/** A comment line now and then keeps proxies from closing an idle stream, and finds dead clients. */
const HEARTBEAT_MS = 15_000;
/** Hosts the grid shows (the detail's largest page); the header says how many there are in all. */
const HOSTS_PAGE = 1_000;
/** Rows of the other lists (projects, instances, plug-in runs, replies) and the newest timeline entries. */
const LIST_PAGE = 100;
/** A viewer that does not read its stream: past this much unsent data it is dropped (it reconnects and gets a snapshot). */
const MAX_BUFFERED = 1024 * 1024;
/** Open streams per process: a browser tab holds one or two; past this, callers are told to come back. */
export const MAX_STREAMS = 512;

/** A list row on the wire: `key` identifies it across patches. */
type Row = { key: string } & Record<string, unknown>;
/** A view: a head (small, sent whole when it changes) and keyed lists (sent as upserts and removals). */
export interface View {
  head: Record<string, unknown>;
  lists: Map<string, Row[]>;
}
type Scope = string;
const ADMIN_SCOPE = 'admin';
const scopeOf = (p: Principal): Scope => (p.role === 'admin' ? ADMIN_SCOPE : `project:${p.projectId}`);
const projectOfScope = (s: Scope): string | null => (s.startsWith('project:') ? s.slice('project:'.length) : null);

const iso = (t: number | null | undefined): string | null => (t == null ? null : new Date(t).toISOString());

// ---- the wire ----------------------------------------------------------------------------------

function snapshotOf(v: View): Record<string, unknown> {
  return { ...v.head, lists: Object.fromEntries(v.lists) };
}

/** What changed from `a` to `b`: the head when it differs, and per list the rows added or changed and the keys gone. */
export function diffViews(a: View, b: View): Record<string, unknown> | null {
  const out: Record<string, unknown> = {};
  let changed = false;
  if (JSON.stringify(a.head) !== JSON.stringify(b.head)) {
    out.head = b.head;
    changed = true;
  }
  const lists: Record<string, { upsert: Row[]; remove: string[] }> = {};
  for (const [name, rows] of b.lists) {
    const before = new Map((a.lists.get(name) ?? []).map((r) => [r.key, JSON.stringify(r)]));
    const upsert = rows.filter((r) => before.get(r.key) !== JSON.stringify(r));
    const now = new Set(rows.map((r) => r.key));
    const remove = [...before.keys()].filter((k) => !now.has(k));
    if (upsert.length || remove.length) {
      lists[name] = { upsert, remove };
      changed = true;
    }
  }
  out.lists = lists;
  return changed ? out : null;
}

interface Viewer {
  scope: Scope;
  /** Has had its snapshot: from now on it gets patches. */
  primed: boolean;
  send(event: string, data: unknown): void;
  close(): void;
}

/**
 * One watched thing (a session, or the list): `probe` is the cheap look (a fingerprint, or
 * undefined when it is gone), `build` reads the views of the scopes that have viewers.
 */
class Watch {
  readonly viewers = new Set<Viewer>();
  private views = new Map<Scope, View>();
  private fingerprint: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private busy = false;
  private again = false;

  constructor(
    private readonly tickMs: number,
    private readonly probe: () => Promise<string | undefined>,
    private readonly build: (scopes: ReadonlySet<Scope>) => Promise<Map<Scope, View> | undefined>,
    private readonly onEmpty: () => void,
    private readonly log: FastifyInstance['log'],
  ) {}

  join(v: Viewer): void {
    this.viewers.add(v);
    const cached = this.views.get(v.scope);
    if (cached) {
      v.send('snapshot', snapshotOf(cached));
      v.primed = true;
    } else void this.tick();
    this.timer ??= setInterval(() => void this.tick(), this.tickMs);
  }

  leave(v: Viewer): void {
    this.viewers.delete(v);
    if ([...this.viewers].every((o) => o.scope !== v.scope)) this.views.delete(v.scope);
    if (this.viewers.size) return;
    this.stop();
    this.onEmpty();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async tick(): Promise<void> {
    // One look at a time; a viewer joining meanwhile gets the look after it.
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    try {
      do {
        this.again = false;
        await this.look();
      } while (this.again && this.viewers.size);
    } catch (e) {
      // A store hiccup: the next tick looks again (the fingerprint was not taken).
      this.log.warn({ err: e }, 'live view: reading the store failed');
    } finally {
      this.busy = false;
    }
  }

  private async look(): Promise<void> {
    if (!this.viewers.size) return;
    const fp = await this.probe();
    if (fp === undefined) return this.gone();
    const scopes = new Set([...this.viewers].map((v) => v.scope));
    const unbuilt = new Set([...scopes].filter((s) => !this.views.has(s)));
    if (fp === this.fingerprint && !unbuilt.size) return;
    const changed = fp !== this.fingerprint;
    const built = await this.build(changed ? scopes : unbuilt);
    if (!built) return this.gone();
    this.fingerprint = fp;
    for (const [scope, view] of built) {
      const old = this.views.get(scope);
      this.views.set(scope, view);
      const patch = old ? diffViews(old, view) : null;
      for (const v of this.viewers) {
        if (v.scope !== scope) continue;
        if (!v.primed || !old) {
          v.send('snapshot', snapshotOf(view));
          v.primed = true;
        } else if (patch) v.send('patch', patch);
      }
    }
  }

  private gone(): void {
    for (const v of [...this.viewers]) {
      v.send('gone', {});
      v.close();
    }
  }
}

/** Every watch of this app, by what it watches; closed with the app. */
class Hub {
  private readonly watches = new Map<string, Watch>();
  private readonly open = new Set<Viewer>();

  watch(key: string, make: (onEmpty: () => void) => Watch): Watch {
    let w = this.watches.get(key);
    if (!w) {
      const fresh = make(() => {
        if (this.watches.get(key) === fresh) this.watches.delete(key);
      });
      this.watches.set(key, fresh);
      w = fresh;
    }
    return w;
  }

  track(v: Viewer): void {
    this.open.add(v);
  }

  /** Streams open now. */
  get streams(): number {
    return this.open.size;
  }

  untrack(v: Viewer): void {
    this.open.delete(v);
  }

  /** Watches running now (tests check that the last viewer leaving stops its watch). */
  get size(): number {
    return this.watches.size;
  }

  closeAll(): void {
    for (const v of [...this.open]) v.close();
    for (const w of this.watches.values()) w.stop();
    this.watches.clear();
  }
}

// ---- the session's views ----------------------------------------------------------------------

type HostTimes = Map<string, Map<string, number>>;
/** Host statuses in the order a host goes through them ('failed' ends either of the middle two). */
const STATUS_ORDER = ['pending', 'emptying', 'maintaining', 'maintained', 'failed'];

/** What the probe compares: every field of the session row a change of the session moves. */
function fingerprintOf(s: SessionRow): string {
  return JSON.stringify([s.updatedAt, s.state, s.paused, s.deleting, s.percentDone, s.reason, s.wakeAt, s.control?.action ?? null]);
}

const wordIn = (text: string, words: ReadonlySet<string>): boolean => text.split(/[^\w.:-]+/).some((w) => words.has(w));

/** "Waiting for" as a project may read it: its own ask by name, other projects and operations only counted. */
function projectWaiting(s: SessionRow, admin: { what: string; until: string | null }, own: SessionProject | undefined) {
  if (own?.awaiting && own.reply === null && !isTerminal(s.state))
    return { what: `your reply to ${own.awaiting}`, until: iso(own.replyAt), yours: true };
  if (s.state === 'MAINTENANCE_FAILED') return { what: 'the admin: the session failed', until: null, yours: false };
  if (admin.what.startsWith('replies to ')) return { what: 'replies from other projects', until: admin.until, yours: false };
  if (admin.what.endsWith(' to finish')) return { what: 'operations in flight to finish', until: null, yours: false };
  return { ...admin, yours: false };
}

const instanceRow = (i: SessionInstance): Row => ({ key: i.instanceId, ...instanceView(i) });

interface PlanCache {
  state: string | null;
  plan: Record<string, unknown> | null;
}

/** The session's views for `scopes`; undefined when it is gone. */
async function buildSession(
  store: Store,
  clock: Clock,
  id: string,
  scopes: ReadonlySet<Scope>,
  times: HostTimes,
  planCache: PlanCache,
): Promise<Map<Scope, View> | undefined> {
  const hostsRead = await store.readDetail(id, { lists: ['hosts'], limit: HOSTS_PAGE, after: {} });
  if (!hostsRead || hostsRead.session.deleting) return undefined;
  const rest = await store.readDetail(id, { lists: ['projects', 'instances', 'timeline', 'plugin_runs', 'replies', 'operations'], limit: LIST_PAGE, after: {} });
  if (!rest) return undefined;
  const now = clock.now();
  const s = hostsRead.session;
  const a = detailView(hostsRead, now) as { session: Record<string, unknown>; waiting_for: { what: string; until: string | null }; hosts: Record<string, unknown>[]; page: Record<string, { total: number }> };
  const b = detailView(rest, now) as Record<string, unknown> & { page: Record<string, { total: number }> };

  // When each host entered each status, for the Gantt's actual bars. The store keeps maintained_at;
  // the oldest operations page has when host maintenance was asked; the rest is when this watch
  // first saw the status. (Disabling scheduling does not date the emptying: the default workflow
  // disables every compute host at once.)
  const opStarts = new Map<string, Map<string, number>>();
  for (const o of (b.operations as { kind: string; subject: string; created_at: string | null }[] | undefined) ?? []) {
    const status = o.kind === 'host_maintenance' ? 'maintaining' : null;
    if (!status || !o.created_at) continue;
    const m = opStarts.get(o.subject) ?? new Map<string, number>();
    if (!m.has(status)) m.set(status, Date.parse(o.created_at));
    opStarts.set(o.subject, m);
  }
  const hosts: Row[] = a.hosts.map((h, pos) => {
    const name = h.name as string;
    let t = times.get(name);
    if (!t) times.set(name, (t = new Map()));
    const status = h.status as string;
    const reached = STATUS_ORDER.indexOf(status);
    for (const [st, at] of opStarts.get(name) ?? [])
      if (STATUS_ORDER.indexOf(st) <= reached && (t.get(st) ?? Infinity) > at) t.set(st, at);
    if (!t.has(status)) t.set(status, status === 'maintained' && h.maintained_at ? Date.parse(h.maintained_at as string) : now);
    // A continued session sends hosts back to pending: times past the current status are stale.
    if (status === 'pending') for (const k of [...t.keys()]) if (k !== 'pending') t.delete(k);
    return { key: name, pos, ...h, since: Object.fromEntries([...t].map(([k, v]) => [k, iso(v)])) };
  });

  // The plan (vnf / k8s) is read again only when the state changes (a continued session plans again); its moves stay out.
  if (s.workflow !== 'default' && planCache.state !== s.state) {
    const p = await store.sessionPlan(id);
    // Not made yet (null): looked for again at the next change.
    planCache.state = p ? s.state : null;
    planCache.plan = p && {
      planned_at: iso(p.at),
      expected_duration_s: p.durationS,
      lower_bound_s: p.lowerBoundS,
      batches: p.batches.map((x, index) => ({ index, hosts: x.hosts, wait_for: x.waitFor })),
    };
  }

  const notifiedAt = new Map((rest.pages.projects?.rows ?? []).map((p) => [p.projectId, p.notifiedAt]));
  const out = new Map<Scope, View>();
  for (const scope of scopes) {
    const pid = projectOfScope(scope);
    if (pid === null) {
      const keyed = (list: string, key: (r: Record<string, unknown>, i: number) => string): Row[] =>
        ((b[list] as Record<string, unknown>[] | undefined) ?? []).map((r, i) => ({ key: key(r, i), ...r }));
      out.set(scope, {
        head: {
          scope: 'admin',
          now: iso(now),
          session: a.session,
          percent_done: s.percentDone,
          waiting_for: a.waiting_for,
          totals: Object.fromEntries(Object.entries({ ...a.page, ...b.page }).filter(([k]) => k !== 'operations').map(([k, v]) => [k, v.total])),
          plan: planCache.plan,
        },
        lists: new Map([
          ['hosts', hosts],
          // With when the project was last notified (the detail leaves it out).
          ['projects', keyed('projects', (r) => r.project_id as string).map((r) => ({ ...r, notified_at: iso(notifiedAt.get(r.key)) }))],
          ['instances', keyed('instances', (r) => r.instance_id as string)],
          ['timeline', keyed('timeline', (r) => `${String(r.at)}|${String(r.kind)}|${String(r.message)}`)],
          ['plugin_runs', keyed('plugin_runs', (r) => `${String(r.plugin)}|${String(r.type)}|${String(r.host)}`)],
          ['replies', keyed('replies', (r) => `${String(r.project_id)}|${String(r.instance_id)}|${String(r.reply)}|${String(r.accepted)}|${String(r.first_at)}`)],
        ]),
      });
      continue;
    }
    // A project: its own row and instances (read by index, whatever the page above held), the hosts
    // they are or were on, and the timeline entries that name it or them.
    const own = await store.sessionProject(id, pid);
    const inst = (await store.projectInstances(id, pid)).slice(0, HOSTS_PAGE);
    const names = new Set<string>([pid, ...inst.map((i) => i.instanceId)]);
    const onHosts = new Set(inst.flatMap((i) => [i.host, i.originHost]));
    const timeline = ((b.timeline as { at: string; kind: string; message: string; data?: Record<string, unknown> }[] | undefined) ?? []).flatMap((t): Row[] => {
      const key = `${t.at}|${t.kind}|${t.message}`;
      if (t.kind === 'state' && typeof t.data?.to === 'string') return [{ key, at: t.at, kind: t.kind, message: `session ${t.data.to}` }];
      return wordIn(t.message, names) ? [{ key, at: t.at, kind: t.kind, message: t.message }] : [];
    });
    const view = sessionView(s);
    out.set(scope, {
      head: {
        scope: 'project',
        project_id: pid,
        now: iso(now),
        session: { ...view, reason: null, metadata: {} },
        percent_done: s.percentDone,
        waiting_for: projectWaiting(s, a.waiting_for, own),
        totals: { hosts: onHosts.size, instances: inst.length },
        plan: null,
      },
      lists: new Map([
        ['hosts', hosts.filter((h) => onHosts.has(h.key))],
        [
          'projects',
          own
            ? [
                {
                  key: pid,
                  project_id: pid,
                  interacting: own.interacting,
                  unreachable: own.unreachable,
                  awaiting: own.awaiting,
                  reply_at: iso(own.replyAt),
                  answered: own.awaiting ? own.reply !== null : null,
                  reply: own.reply,
                  last_reply: own.lastReply,
                  last_reply_at: iso(own.lastReplyAt),
                  notified_at: iso(own.notifiedAt),
                },
              ]
            : [],
        ],
        ['instances', inst.map(instanceRow)],
        ['timeline', timeline],
        ['plugin_runs', []],
        ['replies', []],
      ]),
    });
  }
  return out;
}

// ---- the sessions list's views ----------------------------------------------------------------

async function buildList(store: Store, clock: Clock, sessions: SessionRow[], scopes: ReadonlySet<Scope>): Promise<Map<Scope, View>> {
  const out = new Map<Scope, View>();
  for (const scope of scopes) {
    const pid = projectOfScope(scope);
    const rows: Row[] = [];
    for (const s of sessions) {
      // A project sees the sessions it takes part in (one indexed read each).
      if (pid !== null && !(await store.sessionProject(s.id, pid))) continue;
      rows.push({
        key: s.id,
        session_id: s.id,
        state: s.state,
        workflow: s.workflow,
        percent_done: s.percentDone,
        paused: s.paused,
        reason: pid === null ? s.reason : null,
        maintenance_at: iso(s.maintenanceAt),
        created_at: iso(s.createdAt),
        updated_at: iso(s.updatedAt),
      });
    }
    out.set(scope, { head: { scope: pid === null ? 'admin' : 'project', ...(pid !== null && { project_id: pid }), now: iso(clock.now()) }, lists: new Map([['sessions', rows]]) });
  }
  return out;
}

// ---- the routes -------------------------------------------------------------------------------

/** A stream for a GET that accepts one (a HEAD gets the headers of the JSON answer, never an open stream). */
const wantsStream = (req: FastifyRequest): boolean => req.method === 'GET' && /(^|[\s,])text\/event-stream\b/i.test(String(req.headers.accept ?? ''));

/** Before a watch is made for a new stream: past `max` open streams the caller is told to come back. */
function admitStream(reply: FastifyReply, hub: Hub, max: number): void {
  if (hub.streams < max) return;
  reply.header('retry-after', '10');
  throw new FenixError('TOO_MANY_STREAMS', `this service has ${max} live views open; try again later`);
}

/** Open an SSE stream on `reply` and return its viewer (the caller joins it to a watch). */
function openStream(req: FastifyRequest, reply: FastifyReply, scope: Scope, hub: Hub, onClose: (v: Viewer) => void): Viewer {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    ...(reply.getHeaders() as Record<string, string>),
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    'x-accel-buffering': 'no',
    connection: 'keep-alive',
  });
  res.write('retry: 2000\n\n');
  let closed = false;
  const heartbeat = setInterval(() => res.write(': ping\n\n'), HEARTBEAT_MS);
  const v: Viewer = {
    scope,
    primed: false,
    send(event, data) {
      if (closed) return;
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      // A viewer that reads nothing is not kept in memory: drop it; it reconnects to a snapshot.
      if (res.writableLength > MAX_BUFFERED) v.close();
    },
    close() {
      if (closed) return;
      closed = true;
      clearInterval(heartbeat);
      hub.untrack(v);
      res.end();
      onClose(v);
    },
  };
  hub.track(v);
  req.raw.on('close', () => v.close());
  res.on('error', () => v.close());
  return v;
}

export async function eventRoutes(app: FastifyInstance, deps: EventRouteDeps): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const { store, clock } = deps;
  const hub = new Hub();
  app.decorate('liveWatches', () => hub.size);
  // Open streams would keep app.close() waiting for ever.
  app.addHook('preClose', async () => hub.closeAll());
  const errors = { 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 503: ErrorSchema };

  /** The session as `who` may see it: a project token only one it takes part in (else as if there were none). */
  async function visible(who: Principal, id: string): Promise<SessionRow> {
    const s = await store.getSession(id);
    const missing = () => new FenixError('SESSION_NOT_FOUND', `no maintenance session ${id}`);
    if (!s || s.deleting) throw missing();
    if (who.role === 'project' && !(await store.sessionProject(id, who.projectId))) throw missing();
    return s;
  }

  r.get(
    '/v1/maintenance/:session_id/events',
    { config: { access: 'project' }, schema: { params: SessionIdParams, querystring: EventsQuery, response: { 200: LiveView, ...errors } } },
    async (req, reply) => {
      const id = req.params.session_id;
      await visible(req.principal, id);
      const scope = scopeOf(req.principal);
      const times: HostTimes = new Map();
      const planCache: PlanCache = { state: null, plan: null };
      if (!wantsStream(req)) {
        const views = await buildSession(store, clock, id, new Set([scope]), times, planCache);
        const v = views?.get(scope);
        if (!v) throw new FenixError('SESSION_NOT_FOUND', `no maintenance session ${id}`);
        return snapshotOf(v);
      }
      admitStream(reply, hub, deps.maxStreams ?? MAX_STREAMS);
      const w = hub.watch(
        `session:${id}`,
        (onEmpty) =>
          new Watch(
            deps.sessionTickMs ?? SESSION_TICK_MS,
            async () => {
              const s = await store.getSession(id);
              return s && !s.deleting ? fingerprintOf(s) : undefined;
            },
            (scopes) => buildSession(store, clock, id, scopes, times, planCache),
            onEmpty,
            app.log,
          ),
      );
      w.join(openStream(req, reply, scope, hub, (v) => w.leave(v)));
      return reply;
    },
  );

  r.get('/v1/events', { config: { access: 'project' }, schema: { querystring: EventsQuery, response: { 200: LiveView, ...errors } } }, async (req, reply) => {
    const scope = scopeOf(req.principal);
    const live = async () => (await store.listSessions()).filter((s) => !s.deleting);
    if (!wantsStream(req)) return snapshotOf((await buildList(store, clock, await live(), new Set([scope]))).get(scope)!);
    admitStream(reply, hub, deps.maxStreams ?? MAX_STREAMS);
    let latest: SessionRow[] = [];
    const w = hub.watch(
      'list',
      (onEmpty) =>
        new Watch(
          deps.listTickMs ?? LIST_TICK_MS,
          async () => {
            latest = await live();
            return JSON.stringify(latest.map((s) => [s.id, fingerprintOf(s)]));
          },
          (scopes) => buildList(store, clock, latest, scopes),
          onEmpty,
          app.log,
        ),
    );
    w.join(openStream(req, reply, scope, hub, (v) => w.leave(v)));
    return reply;
  });
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Live-view watches running now (one per watched session, one for the list). */
    liveWatches(): number;
  }
}

// Not an encapsulated child (what fastify-plugin does): the close hook and liveWatches() are the app's own.
(eventRoutes as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;
