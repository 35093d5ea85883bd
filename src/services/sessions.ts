// Session use cases: create (validated, all or nothing), list, read, detail, delete.
import { randomUUID } from 'node:crypto';
import { FenixError } from '../domain/errors.js';
import type { ActionSpec, SessionControl, SessionOptions, SessionRow } from '../domain/model.js';
import type { PluginType, SessionState, WorkflowName } from '../domain/states.js';
import { controlConflict } from '../workflows/control.js';
import type { PluginRegistry } from '../ports/action-plugin.js';
import type { Clock } from '../ports/clock.js';
import type { InfraDriver } from '../ports/infra-driver.js';
import type { Store } from '../ports/store.js';
import type { OutboundUrlPolicy } from '../ports/url-policy.js';
import { requireAdmin, type Principal } from './principal.js';
import { parseEstimates } from './plan.js';
import { parseMaintenanceAt } from './time.js';
import { nextOpen, parseWindows, type MaintenanceWindows } from '../domain/windows.js';

export interface CreateSessionInput {
  hosts?: string[];
  state?: string;
  maintenance_at?: string;
  metadata?: Record<string, unknown>;
  workflow?: string;
  actions?: { plugin: string; type: PluginType; metadata?: Record<string, unknown>; order?: number }[];
  download?: string[];
  reply_window?: number;
  scale_in_reply_window?: number;
  own_action_timeout?: number;
  no_subscription?: 'act' | 'fail';
  max_parallel_hosts?: number;
  /** Durations (seconds) the constraint workflows plan with, overriding the driver's. */
  estimates?: Record<string, unknown>;
  /** Error budget: hosts that may fail their verify actions before the session fails (default 0). */
  max_failed_hosts?: number;
  /** Maintenance windows (domain/windows.ts), checked here. */
  windows?: unknown;
}

/** Longest timeout_s an action may ask for: a week. */
const MAX_TIMEOUT_S = 7 * 86_400;

export interface SessionDefaults {
  replyWindowS: number;
  scaleInReplyWindowS: number;
  ownActionTimeoutS: number;
  noSubscription: 'act' | 'fail';
  /** maintenance_at, when given, must be at least this many seconds ahead. */
  minNoticeS: number;
  /** Workflows this engine can run. */
  workflows: WorkflowName[];
}

/** How far in the past a given maintenance_at may lie (clock skew, a slow client) before it is refused. */
const PAST_TOLERANCE_MS = 5 * 60_000;

export interface SessionDeps {
  store: Store;
  driver: InfraDriver;
  clock: Clock;
  plugins: PluginRegistry;
  defaults: SessionDefaults;
  nudge: (sessionId: string) => void;
  /** Checks `download` URLs at create (SSRF guard); absent: not checked here. */
  urlPolicy?: OutboundUrlPolicy;
}

const busyError = (busy: { id: string; hosts: string[] }[]) =>
  new FenixError('HOSTS_BUSY', `hosts already in a running session: ${busy.map((b) => `${b.hosts.join(', ')} (session ${b.id})`).join('; ')}`, {
    sessions: busy,
  });

export class SessionService {
  constructor(private readonly deps: SessionDeps) {}

  async create(who: Principal, body: CreateSessionInput): Promise<SessionRow> {
    requireAdmin(who);
    const { store, driver, clock, plugins, defaults } = this.deps;
    const now = clock.now();
    if (body.state !== undefined && body.state !== 'MAINTENANCE')
      throw new FenixError('VALIDATION_FAILED', `state must be MAINTENANCE when given, got ${JSON.stringify(body.state)}`);

    const workflow = (body.workflow ?? 'default') as WorkflowName;
    if (!defaults.workflows.includes(workflow))
      throw new FenixError('UNKNOWN_WORKFLOW', `workflow ${JSON.stringify(body.workflow)} is not available here; use one of ${defaults.workflows.join(', ')}`);

    let maintenanceAt = now;
    if (body.maintenance_at !== undefined) {
      const t = parseMaintenanceAt(body.maintenance_at);
      if (t === null)
        throw new FenixError('VALIDATION_FAILED', `maintenance_at ${JSON.stringify(body.maintenance_at)} is not "YYYY-MM-DD HH:MM:SS" (UTC) or ISO 8601`);
      if (t < now - PAST_TOLERANCE_MS) throw new FenixError('MAINTENANCE_AT_TOO_SOON', `maintenance_at ${body.maintenance_at} is in the past`);
      // No notice asked: "now" as the client saw it is fine (its clock and ours differ a little).
      if (defaults.minNoticeS > 0 && t < now + defaults.minNoticeS * 1000)
        throw new FenixError('MAINTENANCE_AT_TOO_SOON', `maintenance_at must be at least ${defaults.minNoticeS}s ahead so projects can answer`);
      maintenanceAt = Math.max(t, now);
    }

    for (const url of body.download ?? []) await this.deps.urlPolicy?.checkRegistration(url, 'download URL');

    const unknownPlugins = (body.actions ?? []).map((a) => a.plugin).filter((p) => !plugins.get(p));
    if (unknownPlugins.length)
      throw new FenixError('UNKNOWN_PLUGIN', `unknown action plug-in(s): ${[...new Set(unknownPlugins)].join(', ')}; known: ${plugins.names().join(', ') || 'none'}`);
    for (const [i, a] of (body.actions ?? []).entries()) await this.checkAction(i, a);
    const windows = body.windows === undefined ? undefined : checkWindows(body.windows, now);

    const known = new Map((await driver.listHosts()).map((h) => [h.name, h]));
    const asked = body.hosts ?? [];
    const seen = new Set<string>();
    const dup = asked.filter((h) => seen.has(h) || (seen.add(h), false));
    if (dup.length) throw new FenixError('VALIDATION_FAILED', `hosts listed twice: ${[...new Set(dup)].join(', ')}`);
    const unknown = asked.filter((h) => !known.has(h));
    if (unknown.length) throw new FenixError('UNKNOWN_HOSTS', `unknown hosts: ${unknown.join(', ')}`, { unknown });
    const hosts = asked.length ? asked.map((h) => known.get(h)!) : [...known.values()];
    if (!hosts.length) throw new FenixError('NO_HOSTS', 'the infrastructure reports no hosts to maintain');
    const busy = await store.activeSessionsOnHosts(hosts.map((h) => h.name));
    if (busy.length) throw busyError(busy);

    const options: SessionOptions = {
      replyWindowS: body.reply_window ?? defaults.replyWindowS,
      scaleInReplyWindowS: body.scale_in_reply_window ?? defaults.scaleInReplyWindowS,
      noSubscription: body.no_subscription ?? defaults.noSubscription,
      ownActionTimeoutS: body.own_action_timeout ?? defaults.ownActionTimeoutS,
      maxParallelHosts: body.max_parallel_hosts ?? 0,
      ...(body.estimates !== undefined && { estimates: parseEstimates(body.estimates) }),
      maxFailedHosts: body.max_failed_hosts ?? 0,
      ...(windows && { windows }),
    };
    const actions: ActionSpec[] = (body.actions ?? []).map((a) => ({
      plugin: a.plugin,
      type: a.type,
      metadata: a.metadata ?? {},
      ...(a.order !== undefined && { order: a.order }),
    }));
    const id = randomUUID();
    const { busy: raced } = await store.createSession({
      session: {
        id,
        state: 'MAINTENANCE',
        workflow,
        maintenanceAt,
        metadata: body.metadata ?? {},
        actions,
        download: body.download ?? [],
        options,
        phase: {},
        createdAt: now,
      },
      hosts: hosts.map((h) => ({ name: h.name, type: h.type })),
      timeline: [
        {
          at: now,
          kind: 'created',
          message: `session created over ${hosts.length} hosts, workflow ${workflow}, maintenance at ${new Date(maintenanceAt).toISOString()}`,
        },
      ],
    });
    if (raced.length) throw busyError(raced);
    this.deps.nudge(id);
    return (await store.getSession(id))!;
  }

  /**
   * An action's metadata, as far as can be told before it runs: what every run reads (timeout_s,
   * idempotent), then its plug-in's own check. A bad one is a 400 naming the action.
   */
  private async checkAction(i: number, a: NonNullable<CreateSessionInput['actions']>[number]): Promise<void> {
    const meta = a.metadata ?? {};
    const bad = (msg: string) => new FenixError('INVALID_PLUGIN_METADATA', `actions[${i}] (${a.plugin}, ${a.type}): ${msg}`);
    const t = meta.timeout_s;
    if (t !== undefined && !(typeof t === 'number' && Number.isFinite(t) && t > 0 && t <= MAX_TIMEOUT_S))
      throw bad(`timeout_s must be a number of seconds, more than 0 and at most ${MAX_TIMEOUT_S}`);
    if (meta.idempotent !== undefined && typeof meta.idempotent !== 'boolean') throw bad('idempotent must be true or false');
    let msg: string | null;
    try {
      msg = (await this.deps.plugins.get(a.plugin)!.validate?.(meta, a.type)) ?? null;
    } catch (e) {
      if (e instanceof FenixError) throw e; // URL_FORBIDDEN from the URL policy, say
      msg = `the plug-in's check failed: ${(e as Error).message}`;
    }
    if (msg) throw bad(msg);
  }

  async list(who: Principal): Promise<SessionRow[]> {
    requireAdmin(who);
    return (await this.deps.store.listSessions()).filter((s) => !s.deleting);
  }

  /** A session visible through the API (deleted ones are gone at once, while hosts are restored). */
  async get(id: string): Promise<SessionRow> {
    const s = await this.deps.store.getSession(id);
    if (!s || s.deleting) throw new FenixError('SESSION_NOT_FOUND', `no maintenance session ${id}`);
    return s;
  }

  async getForAdmin(who: Principal, id: string): Promise<SessionRow> {
    requireAdmin(who);
    return this.get(id);
  }

  /** DELETE: stop the session; the engine puts hosts back as found, then removes it. Any state. */
  async delete(who: Principal, id: string): Promise<SessionRow> {
    const s = await this.getForAdmin(who, id);
    const now = this.deps.clock.now();
    await this.deps.store.setSessionFlags(id, { deleting: true, wakeAt: now }, now);
    await this.deps.store.appendTimeline(id, { at: now, kind: 'deleted', message: 'session deleted; restoring hosts' });
    this.deps.nudge(id);
    return s;
  }

  /**
   * PUT: session control (spec §3). `{"state": S}` continues a MAINTENANCE_FAILED session from S;
   * `{"action": "pause" | "resume" | "abort" | "continue"}` are this project's extensions.
   * Pause takes effect at once; the others are applied by the engine under the session's lease.
   */
  async update(who: Principal, id: string, body: { state?: string; action?: string }): Promise<SessionRow> {
    const s = await this.getForAdmin(who, id);
    const now = this.deps.clock.now();
    const action = body.action ?? (body.state !== undefined ? 'continue' : undefined);
    if (!action) throw new FenixError('VALIDATION_FAILED', 'give "state" (to continue a failed session) or "action": pause, resume, abort or continue');
    if (!['pause', 'resume', 'abort', 'continue'].includes(action))
      throw new FenixError('VALIDATION_FAILED', `unknown action ${JSON.stringify(action)}; use pause, resume, abort or continue`);
    const target = action === 'continue' ? (body.state ?? s.phase.failedIn ?? undefined) : undefined;
    const conflict = controlConflict(s, action as SessionControl['action'] | 'pause', target);
    if (conflict) throw new FenixError('STATE_CONFLICT', conflict);
    if (action === 'pause') {
      await this.deps.store.setSessionFlags(id, { paused: true }, now);
      await this.deps.store.appendTimeline(id, { at: now, kind: 'control', message: 'paused by the admin: nothing is sent or moved until resumed' });
    } else {
      const control: SessionControl =
        action === 'continue' ? { action: 'continue', state: target as SessionState, at: now } : { action: action as 'resume' | 'abort', at: now };
      await this.deps.store.setSessionFlags(id, { control, wakeAt: now }, now);
      await this.deps.store.appendTimeline(id, { at: now, kind: 'control', message: `${action}${target ? ` from ${target}` : ''} requested by the admin` });
    }
    this.deps.nudge(id);
    return (await this.deps.store.getSession(id))!;
  }
}

/** `windows` of a create body: well-formed, and opening at some point (else the session would wait forever). */
function checkWindows(raw: unknown, now: number): MaintenanceWindows {
  const w = parseWindows(raw);
  if (typeof w === 'string') throw new FenixError('VALIDATION_FAILED', w);
  if (nextOpen(w, now) === null) throw new FenixError('VALIDATION_FAILED', 'windows: no window opens within the next two years (every day it would open is excluded)');
  return w;
}
