// Read models: the session as clients see it, and the detail an operator reads when a session is
// stuck (spec §3 detail): it names who or what the session waits for, and until when. The detail's
// long lists come a page at a time (limit + opaque cursor per list, docs/api.md), so its cost and
// size do not grow with the session.
import type { SessionInstance, SessionRow } from '../domain/model.js';
import { FenixError } from '../domain/errors.js';
import { isTerminal } from '../domain/states.js';
import { nextOpen } from '../domain/windows.js';
import {
  DETAIL_LISTS,
  DETAIL_PAGE,
  type DetailKeys,
  type DetailList,
  type DetailQuery,
  type DetailRows,
  type SessionDetail,
  type WaitingFacts,
} from '../ports/detail-reads.js';

const iso = (t: number | null | undefined): string | null => (t == null ? null : new Date(t).toISOString());

export function sessionView(s: SessionRow) {
  return {
    session_id: s.id,
    state: s.state,
    workflow: s.workflow,
    maintenance_at: new Date(s.maintenanceAt).toISOString(),
    percent_done: s.percentDone,
    paused: s.paused,
    reason: s.reason,
    metadata: s.metadata,
    created_at: new Date(s.createdAt).toISOString(),
    updated_at: new Date(s.updatedAt).toISOString(),
  };
}

/** How many of each kind "waiting for" names before it counts the rest ("and N more"). */
const NAMED = { projects: DETAIL_PAGE.waitingNames, instances: 5, ops: 5 } as const;

const andMore = (count: number, shown: number): string => (count > shown ? ` and ${count - shown} more` : '');

/**
 * Who or what the session waits for, and until when: from the session row and the few rows the
 * store read by index (WaitingFacts), so it costs the same at any size. Pure.
 */
export function waitingFor(s: SessionRow, w: WaitingFacts, now: number): { what: string; until: string | null } {
  if (s.deleting) return { what: 'restoring hosts before the session is removed', until: null };
  if (s.state === 'MAINTENANCE_DONE') return { what: 'nothing: the session is done', until: null };
  if (s.state === 'MAINTENANCE_FAILED')
    return { what: `the admin: the session failed (${s.reason ?? 'unknown reason'}); fix the cause and PUT {"state": "${s.phase.failedIn ?? 'MAINTENANCE'}"} to continue, or DELETE`, until: null };
  if (s.paused) return { what: 'the admin: the session is paused', until: null };
  const projects = w.silentProjects;
  if (projects.count > 0 && projects.first.length) {
    const names = projects.first.slice(0, NAMED.projects);
    return {
      what: `replies to ${names[0]!.awaiting} from ${names.map((p) => p.projectId).join(', ')}${andMore(projects.count, names.length)}`,
      until: iso(projects.until),
    };
  }
  // vnf / k8s: per-instance asks not answered yet.
  const instances = w.silentInstances;
  if (instances.count > 0 && instances.first.length) {
    const names = instances.first.slice(0, NAMED.instances);
    return {
      what: `replies to ${names[0]!.askState} for ${names.map((i) => `${i.projectId}/${i.instanceId}`).join(', ')}${andMore(instances.count, names.length)}`,
      until: iso(instances.until),
    };
  }
  const running = w.inFlight;
  if (running.count > 0 && running.first.length) {
    // An op not started yet with an error is being retried: say why (e.g. the PDB that refuses an eviction).
    const names = running.first.slice(0, NAMED.ops).map((o) => `${o.kind} ${o.subject}${o.status === 'pending' && o.error ? ` (retrying: ${o.error})` : ''}`);
    return { what: `${names.join(', ')}${andMore(running.count, names.length)} to finish`, until: null };
  }
  if (now < s.maintenanceAt) return { what: 'maintenance_at', until: iso(s.maintenanceAt) };
  // Asleep until the next maintenance window opens: outside one no new host is taken down.
  const windows = s.options?.windows;
  if (windows && s.wakeAt !== null && s.wakeAt > now && nextOpen(windows, now) === s.wakeAt)
    return { what: 'the next maintenance window (outside the windows no new host is taken down)', until: iso(s.wakeAt) };
  if (s.wakeAt !== null && s.wakeAt > now) return { what: 'its next check', until: iso(s.wakeAt) };
  return { what: isTerminal(s.state) ? 'nothing' : 'the engine (working)', until: null };
}

/**
 * Action metadata as the detail shows it: header values and fields named like secrets as `***`
 * (an http action's Authorization header should come from {"env": "FENIX_SECRET_…"}; if not, it
 * still does not leave through this view).
 */
function redactSecrets(m: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(m)) {
    if (k === 'headers' && typeof v === 'object' && v !== null && !Array.isArray(v))
      out[k] = Object.fromEntries(Object.entries(v).map(([h, x]) => [h, typeof x === 'string' ? '***' : x]));
    else out[k] = /password|secret|token/i.test(k) && typeof v === 'string' ? '***' : v;
  }
  return out;
}

// ---- paging: cursors and the query ----------------------------------------------------------

/** The query parameter that carries a list's cursor. */
export const cursorParam = (list: DetailList): `${DetailList}_after` => `${list}_after`;

/** An opaque cursor: the list's name and the key of the last row of the page it follows. */
export function encodeCursor<L extends DetailList>(list: L, key: DetailKeys[L]): string {
  return Buffer.from(JSON.stringify([list, key]), 'utf8').toString('base64url');
}

const isPos = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isId = (v: unknown): v is string => typeof v === 'string' && v.length <= 255;
const KEY_OK: { [L in DetailList]: (v: unknown) => boolean } = {
  hosts: isPos,
  projects: isId,
  instances: isId,
  plugin_runs: isPos,
  operations: isPos,
  deliveries: isPos,
  timeline: isPos,
  replies: (v) =>
    Array.isArray(v) && v.length === 5 && isId(v[0]) && isId(v[1]) && isId(v[2]) && (v[3] === 0 || v[3] === 1) && isId(v[4]),
};

/** The key in a cursor this API gave for `list`; anything else is 400 VALIDATION_FAILED. */
export function decodeCursor<L extends DetailList>(list: L, cursor: string): DetailKeys[L] {
  const bad = (): never => {
    throw new FenixError('VALIDATION_FAILED', `${cursorParam(list)} is not a cursor of the ${list} list (pass page.${list}.next of an earlier answer)`);
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return bad();
  }
  if (!Array.isArray(parsed) || parsed.length !== 2 || parsed[0] !== list || !KEY_OK[list](parsed[1])) return bad();
  const key = parsed[1] as DetailKeys[L];
  // Only the exact text this API writes: no lenient base64 variants of the same key.
  if (encodeCursor(list, key) !== cursor) return bad();
  return key;
}

/** The detail's query string after schema validation (api/schemas/maintenance.ts DetailQuery). */
export type DetailQueryInput = { limit?: number; lists?: string } & { [P in `${DetailList}_after`]?: string };

export function detailQuery(input: DetailQueryInput): DetailQuery {
  const limit = input.limit ?? DETAIL_PAGE.default;
  if (!Number.isInteger(limit) || limit < 1 || limit > DETAIL_PAGE.max)
    throw new FenixError('VALIDATION_FAILED', `limit must be an integer from 1 to ${DETAIL_PAGE.max}`);
  let lists: DetailList[] = [...DETAIL_LISTS];
  if (input.lists !== undefined) {
    const named = input.lists === '' ? [] : input.lists.split(',');
    const unknown = named.filter((l) => !(DETAIL_LISTS as readonly string[]).includes(l));
    if (unknown.length) throw new FenixError('VALIDATION_FAILED', `lists: unknown list ${unknown.join(', ')} (known: ${DETAIL_LISTS.join(', ')})`);
    lists = DETAIL_LISTS.filter((l) => named.includes(l));
  }
  const after: Partial<Record<DetailList, unknown>> = {};
  for (const list of DETAIL_LISTS) {
    const c = input[cursorParam(list)];
    if (c !== undefined) after[list] = decodeCursor(list, c);
  }
  return { lists, limit, after: after as DetailQuery['after'] };
}

// ---- the view ---------------------------------------------------------------------------------

type Views = { [L in DetailList]: (r: DetailRows[L], s: SessionRow) => unknown };

/** An instance of a session on the wire (the detail adds its move operations, the live view a key). */
export const instanceView = (i: SessionInstance) => ({
  instance_id: i.instanceId,
  name: i.name,
  project_id: i.projectId,
  host: i.host,
  origin_host: i.originHost,
  vcpus: i.vcpus,
  action: i.action,
  status: i.status,
  moves: i.moves,
  error: i.error,
});

const VIEWS: Views = {
  hosts: (h, s) => ({
    name: h.name,
    type: h.type,
    status: h.status,
    maintained: h.status === 'maintained',
    maintained_at: iso(h.maintainedAt),
    disabled_by_us: h.disabledByUs,
    original_enabled: h.originalEnabled,
    current: s.phase.host === h.name || h.status === 'maintaining',
    // Its verify actions failed: it stays disabled on purpose until someone looks at it.
    ...(h.status === 'failed' && { left_disabled: true, failure: s.phase.failedHosts?.find((f) => f.host === h.name)?.reason ?? null }),
  }),
  // An ended (or departing) session awaits nothing and has no open deadline, whatever its rows
  // still say: a failed session keeps the ask it failed in until it is continued.
  projects: (p, s) => {
    const open = !isTerminal(s.state) && !s.deleting && p.awaiting !== null;
    return {
      project_id: p.projectId,
      interacting: p.interacting,
      unreachable: p.unreachable,
      awaiting: open ? p.awaiting : null,
      reply_at: open ? iso(p.replyAt) : null,
      answered: open ? p.reply !== null : null,
      reply: p.reply,
      last_reply: p.lastReply,
      last_reply_at: iso(p.lastReplyAt),
    };
  },
  instances: (i) => ({
    ...instanceView(i),
    operations: i.moveOps.map((o) => ({
      action: o.args.kind,
      from: o.args.from,
      // The planned host (null: the cloud's scheduler chooses), and where the driver saw it land.
      target: typeof o.args.target === 'string' ? o.args.target : null,
      host: typeof o.result?.host === 'string' ? o.result.host : null,
      status: o.status,
      error: o.error,
      started_at: iso(o.startedAt),
      finished_at: iso(o.finishedAt),
    })),
  }),
  plugin_runs: (o) => ({
    plugin: o.subject,
    type: o.args.type,
    host: o.args.host ?? null,
    status: o.status,
    attempts: o.attempts,
    output: (o.result?.output as string | undefined) ?? null,
    error: o.error,
    started_at: iso(o.startedAt),
    finished_at: iso(o.finishedAt),
  }),
  operations: (o) => ({
    key: o.key,
    kind: o.kind,
    subject: o.subject,
    status: o.status,
    attempts: o.attempts,
    error: o.error,
    created_at: iso(o.createdAt),
    finished_at: iso(o.finishedAt),
  }),
  deliveries: (r) => ({
    message_id: r.messageId,
    event_type: r.eventType,
    subscription_id: r.subscriptionId,
    state: (r.payload.state as string | undefined) ?? null,
    project_id: (r.payload.project_id as string | undefined) ?? null,
    status: r.status,
    attempts: r.attempts,
    last_error: r.lastError,
    last_status: r.lastStatus,
    created_at: iso(r.createdAt),
    delivered_at: iso(r.deliveredAt),
    next_attempt_at: r.status === 'pending' ? iso(r.nextAttemptAt) : null,
  }),
  timeline: (t) => ({ at: iso(t.at), kind: t.kind, message: t.message, ...(t.data && { data: t.data }) }),
  replies: (r) => ({
    project_id: r.projectId,
    instance_id: r.instanceId,
    reply: r.reply,
    accepted: r.accepted,
    count: r.count,
    first_at: iso(r.firstAt),
    last_at: iso(r.lastAt),
  }),
};

/**
 * The detail answer: the session, what it waits for, each list read (a page of it) and beside them
 * `page`: per list its total and the cursor of the next page (null on the last).
 */
export function detailView(d: SessionDetail, now: number) {
  const s = d.session;
  const out: Record<string, unknown> = {
    session: {
      ...sessionView(s),
      options: s.options,
      actions: s.actions.map((a) => ({ ...a, metadata: redactSecrets(a.metadata) })),
      current_host: s.phase.host ?? null,
      failed_in: s.phase.failedIn ?? null,
      // The error budget: hosts whose verify actions failed (left disabled), and how many may.
      max_failed_hosts: s.options.maxFailedHosts ?? 0,
      failed_hosts: (s.phase.failedHosts ?? []).map((f) => ({ host: f.host, reason: f.reason, at: iso(f.at) })),
    },
    percent_done: s.percentDone,
    waiting_for: waitingFor(s, d.waiting, now),
  };
  const page: Record<string, { total: number; next: string | null }> = {};
  for (const list of DETAIL_LISTS) {
    const p = d.pages[list];
    if (!p) continue;
    const view = VIEWS[list] as (r: unknown, s: SessionRow) => unknown;
    out[list] = p.rows.map((r) => view(r, s));
    page[list] = { total: p.total, next: p.next === null ? null : encodeCursor(list, p.next as DetailKeys[typeof list]) };
  }
  out.page = page;
  return out;
}
