// Building blocks shared by workflows: asking projects, keyed intents, host scheduling, plug-in
// sequences, host maintenance, failure and restore. Each returns a Decision (effects as data) and,
// where it waits, whether it is done; none performs I/O.
import type { Decision, InstancePatch } from '../domain/decision.js';
import type { InstanceInfo } from '../domain/infra.js';
import { merge } from '../domain/decision.js';
import type { NewOp, Op, SessionHost, SessionInstance, SessionProject } from '../domain/model.js';
import type { Snapshot } from '../domain/snapshot.js';
import type { InstanceAction, PluginType, ReplyState, SessionState } from '../domain/states.js';
import { ackOf, isTerminal } from '../domain/states.js';
import type { OpenHostsView } from '../domain/open-hosts.js';
import { MutableObservedIndex, MutableSessionIndex, type ObservedIndex, type SessionIndex } from '../domain/session-index.js';
import { nextOpen } from '../domain/windows.js';

export type StepResult = { status: 'done'; decision: Decision } | { status: 'waiting'; decision: Decision } | { status: 'failed'; reason: string; decision: Decision };

export const done = (decision: Decision = {}): StepResult => ({ status: 'done', decision });
export const waiting = (decision: Decision = {}): StepResult => ({ status: 'waiting', decision });
export const failed = (reason: string, decision: Decision = {}): StepResult => ({ status: 'failed', reason, decision });

/**
 * While applications move instances themselves (OWN_ACTION), the session looks at the world again
 * this often: a real cloud's changes nudge no session, and waiting for the deadline would make every
 * OWN_ACTION take the whole --own-action-timeout.
 */
export const OWN_ACTION_LOOK_MS = 2_000;

export const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Continue-attempt prefix of intent keys: a continued session issues fresh intents. */
export const attempt = (s: Snapshot): string => `a${s.session.phase.attempt ?? 0}`;

// ---- indexed lookups: O(1) or O(answer), whatever the size of the session ----------------------

const built = new WeakMap<Snapshot, SessionIndex>();
const observedBuilt = new WeakMap<object, ObservedIndex>();

/** The session's index: the engine's, else built once for this snapshot (tests build snapshots by hand). */
export function ix(s: Snapshot): SessionIndex {
  if (s.index) return s.index;
  let i = built.get(s);
  if (!i) built.set(s, (i = new MutableSessionIndex(s)));
  return i;
}

/** The observed world indexed, once per observation (the engine reuses one observation across steps). */
export function ox(s: Snapshot): ObservedIndex {
  const o = s.observed as Snapshot['observed'] & { index?: ObservedIndex };
  if (o.index) return o.index;
  let i = observedBuilt.get(o);
  if (!i) observedBuilt.set(o, (i = new MutableObservedIndex(o)));
  return i;
}

/** The session's hosts still to maintain, ranked against the observed world (O(hosts) once, then kept current). */
export const openHosts = (s: Snapshot): OpenHostsView => ix(s).openHosts(ox(s));

export const opByKey = (s: Snapshot, key: string): Op | undefined => ix(s).op(key);
export const emitted = (s: Snapshot, key: string): boolean => ix(s).emitted(key);

// ---- observed world --------------------------------------------------------------------------

export const observedOn = (s: Snapshot, host: string): InstanceInfo[] => [...ox(s).on(host)];
export const observedHost = (s: Snapshot, host: string) => ox(s).host(host);
export const sessionHost = (s: Snapshot, host: string): SessionHost | undefined => ix(s).host(host);
export const sessionInstance = (s: Snapshot, id: string): SessionInstance | undefined => ix(s).instance(id);
export const project = (s: Snapshot, id: string): SessionProject | undefined => ix(s).project(id);

/** O(1): hosts are counted by status in the index (a host that failed its verify actions is done with). */
export function percentDone(s: Snapshot): number {
  if (s.session.state === 'MAINTENANCE_DONE') return 100;
  const total = s.hosts.length || 1;
  const maintained = ix(s).hostsWith('maintained').size + ix(s).hostsWith('failed').size;
  // Hosts make 95 %; the final MAINTENANCE_COMPLETE round the rest.
  return Math.floor((maintained / total) * 95);
}

// ---- session transitions ---------------------------------------------------------------------

/** Move the session to `state`, with a maintenance.session event and a timeline entry. */
export function transition(s: Snapshot, now: number, state: SessionState, message: string, extra: Decision = {}): Decision {
  const n = (s.session.phase.transitions ?? 0) + 1;
  const phase = { ...s.session.phase, ...extra.session?.phase, transitions: n };
  const percent = state === 'MAINTENANCE_DONE' ? 100 : percentDone(s);
  return merge(extra, {
    session: { state, phase, percentDone: percent },
    events: [
      {
        key: `session:${n}`,
        eventType: 'maintenance.session',
        projectId: null,
        payload: { service: 'fenix', session_id: s.session.id, state, percent_done: percent, reason: extra.session?.reason ?? null },
      },
    ],
    timeline: [{ at: now, kind: 'state', message: `${state}: ${message}`, data: { from: s.session.state, to: state } }],
    wakeAt: now,
  });
}

export function fail(s: Snapshot, now: number, reason: string): Decision {
  return transition(s, now, 'MAINTENANCE_FAILED', reason, {
    session: { reason, phase: { ...s.session.phase, failedIn: s.session.state } },
  });
}

// ---- asking projects ------------------------------------------------------------------------

export interface AskSpec {
  state: ReplyState;
  /** Distinguishes repeated asks of the same state. */
  key: string;
  projects: string[];
  windowS: number;
  allowedActions: InstanceAction[];
  actionsAt: number;
  /** instance_ids value per project; default: the project URL. */
  instanceIds?: (projectId: string) => string | string[];
  /** Action taken for projects that do not interact (also the answer given on their behalf). */
}

export const projectUrl = (s: Snapshot, projectId: string): string =>
  `${s.ctx.publicUrl}/v1/maintenance/${s.session.id}/${projectId}`;

/**
 * Ask each project `spec.state` once per key and evaluate the replies. Projects without a
 * subscription get the default behaviour (an ACK on their behalf) or fail the session, by policy.
 */
export function ask(s: Snapshot, now: number, spec: AskSpec): StepResult {
  const d: Decision = { projects: [], events: [], timeline: [] };
  const fresh: string[] = [];
  for (const pid of spec.projects) {
    const p = project(s, pid);
    if (p?.askKey === spec.key) continue;
    fresh.push(pid);
    const interacting = s.subscribedProjects.includes(pid);
    if (!interacting && s.session.options.noSubscription === 'fail')
      return failed(`project ${pid} has no subscription and the session's policy is to fail such projects`);
    const replyAt = now + spec.windowS * 1000;
    d.projects!.push({
      projectId: pid,
      interacting,
      awaiting: interacting ? spec.state : null,
      askKey: spec.key,
      notifiedAt: now,
      replyAt,
      reply: interacting ? null : ackOf(spec.state),
      repliedAt: interacting ? null : now,
      unreachable: false,
    });
    if (interacting) {
      d.events!.push({
        key: `ask:${spec.key}:${pid}`,
        eventType: 'maintenance.scheduled',
        projectId: pid,
        payload: {
          service: 'fenix',
          project_id: pid,
          session_id: s.session.id,
          state: spec.state,
          instance_ids: spec.instanceIds?.(pid) ?? projectUrl(s, pid),
          allowed_actions: spec.allowedActions,
          reply_url: projectUrl(s, pid),
          actions_at: iso(Math.max(spec.actionsAt, now)),
          reply_at: iso(replyAt),
          metadata: s.session.metadata,
        },
      });
    } else {
      d.timeline!.push({ at: now, kind: 'default_behaviour', message: `${pid} has no subscription: ${spec.state} acknowledged on its behalf` });
    }
  }
  if (fresh.length) return waiting({ ...d, wakeAt: now });

  // Every project has been asked under this key: evaluate.
  let wakeAt: number | null = null;
  const late: Decision = { projects: [], timeline: [] };
  for (const pid of spec.projects) {
    const p = project(s, pid)!;
    if (p.reply?.startsWith('NACK_')) return failed(`project ${pid} answered ${p.reply}`);
    if (p.reply?.startsWith('ACK_')) continue;
    if (p.replyAt !== null && now >= p.replyAt) {
      const del = s.deliveries[`ask:${spec.key}:${pid}`];
      if (!del || del.delivered === 0) {
        // The project never received the question: treat it as not interacting (default behaviour).
        late.projects!.push({ projectId: pid, reply: ackOf(spec.state), repliedAt: now, awaiting: null, unreachable: true });
        late.timeline!.push({
          at: now,
          kind: 'default_behaviour',
          message: `${pid} could not be reached before reply_at: ${spec.state} acknowledged on its behalf`,
        });
        continue;
      }
      return failed(`project ${pid} did not answer ${spec.state} by ${iso(p.replyAt)}`);
    }
    wakeAt = wakeAt === null ? p.replyAt : Math.min(wakeAt, p.replyAt ?? wakeAt);
  }
  if (late.projects!.length) return waiting({ ...late, wakeAt: now });
  if (wakeAt !== null) return waiting({ wakeAt });
  // All acknowledged: stop accepting replies for this ask (later ones are recorded, no effect).
  const close = spec.projects.filter((pid) => project(s, pid)!.awaiting !== null).map((pid) => ({ projectId: pid, awaiting: null }));
  return done(close.length ? { projects: close } : {});
}

// ---- intents --------------------------------------------------------------------------------

/** Ensure the keyed intent exists and report its outcome. */
export function intent(s: Snapshot, op: NewOp): StepResult {
  const o = opByKey(s, op.key);
  if (!o) return waiting({ ops: [op] });
  if (o.status === 'done') return done();
  if (o.status === 'failed') return failed(o.error ?? `${op.kind} ${op.subject} failed`);
  return waiting();
}

/** Run intents one after the other. */
export function sequence(s: Snapshot, ops: NewOp[]): StepResult {
  for (const op of ops) {
    const r = intent(s, op);
    if (r.status !== 'done') return r;
  }
  return done();
}

// ---- host scheduling: record what was found, restore exactly that -------------------------

const schedOps = (s: Snapshot, host: string) => ix(s).opsOf('scheduling', host);

export function disableHost(s: Snapshot, now: number, host: string): StepResult {
  const h = sessionHost(s, host);
  const obs = observedHost(s, host);
  if (!h || !obs) return failed(`host ${host} is no longer reported by the infrastructure`);
  const ops = schedOps(s, host);
  const last = ops.at(-1);
  if (h.disabledByUs) {
    if (!last || last.args.enabled !== false) return done();
    if (last.status === 'failed') return failed(`disabling ${host} failed: ${last.error}`);
    return last.status === 'done' ? done() : waiting();
  }
  if (!obs.enabled) {
    // Found disabled by someone else: leave it so, and remember that.
    return h.originalEnabled === null ? waiting({ hosts: [{ name: host, originalEnabled: false }] }) : done();
  }
  return waiting({
    hosts: [{ name: host, disabledByUs: true, originalEnabled: h.originalEnabled ?? true }],
    ops: [{ key: `sched:${host}:${ops.length}`, kind: 'scheduling', subject: host, args: { enabled: false } }],
    timeline: [{ at: now, kind: 'host', message: `disabling scheduling on ${host}` }],
  });
}

/** Put a host we disabled back to enabled; a host found disabled stays as it was. */
export function restoreHost(s: Snapshot, now: number, host: string): StepResult {
  const h = sessionHost(s, host);
  if (!h?.disabledByUs) return done();
  const ops = schedOps(s, host);
  const last = ops.at(-1);
  if (last && last.args.enabled === true) {
    if (last.status === 'done') return waiting({ hosts: [{ name: host, disabledByUs: false }] });
    if (last.status === 'failed') {
      // Keep trying: a host must never stay disabled because one call failed.
      return waiting({
        ops: [{ key: `sched:${host}:${ops.length}`, kind: 'scheduling', subject: host, args: { enabled: true } }],
        timeline: [{ at: now, kind: 'host', message: `enabling ${host} failed (${last.error}); retrying` }],
      });
    }
    return waiting();
  }
  if (last && last.args.enabled === false && last.status !== 'done' && last.status !== 'failed') return waiting();
  return waiting({
    ops: [{ key: `sched:${host}:${ops.length}`, kind: 'scheduling', subject: host, args: { enabled: true } }],
    timeline: [{ at: now, kind: 'host', message: `enabling scheduling on ${host}` }],
  });
}

/**
 * Restore every host of the session; done when none is left disabled by us, but for the hosts that
 * failed their verify actions: those stay disabled on purpose (the detail names them).
 */
export function restoreAll(s: Snapshot, now: number): StepResult {
  const parts: Decision[] = [];
  let pending = false;
  for (const h of s.hosts) {
    if (h.status === 'failed') continue;
    const r = restoreHost(s, now, h.name);
    if (r.status !== 'done') pending = true;
    parts.push(r.decision);
  }
  return pending ? waiting(merge(...parts)) : done();
}

// ---- plug-ins and host maintenance -----------------------------------------------------------

/** The session's `download` list, fetched into its work directory before the `pre` plug-ins. */
export function downloadOps(s: Snapshot): NewOp[] {
  return s.session.download.map((url, i) => ({ key: `download:${attempt(s)}:${i}`, kind: 'download' as const, subject: url, args: { url } }));
}

/**
 * The runs of a type's actions, one after the other: by `order`, then as listed. The key names the
 * plug-in (`shell#2` for its second action of the type); `args.action` is the action's index.
 */
export function pluginOps(s: Snapshot, type: PluginType, host?: string): NewOp[] {
  const seen = new Map<string, number>();
  return s.session.actions
    .map((a, i) => ({ a, i }))
    .filter(({ a }) => a.type === type)
    .sort((x, y) => (x.a.order ?? 0) - (y.a.order ?? 0) || x.i - y.i)
    .map(({ a, i }) => {
      const n = (seen.get(a.plugin) ?? 0) + 1;
      seen.set(a.plugin, n);
      return {
        key: `plugin:${attempt(s)}:${type}:${a.plugin}${n > 1 ? `#${n}` : ''}${host ? `:${host}` : ''}`,
        kind: 'plugin' as const,
        subject: a.plugin,
        args: { type, action: i, ...(host && { host }) },
      };
    });
}

export function hostEvent(s: Snapshot, host: string, state: 'IN_MAINTENANCE' | 'MAINTENANCE_COMPLETE') {
  return {
    key: `host:${attempt(s)}:${host}:${state}`,
    eventType: 'maintenance.host' as const,
    projectId: null,
    payload: { service: 'fenix', host, state, session_id: s.session.id, project_id: s.ctx.adminProject },
  };
}

/**
 * Maintain one empty host: IN_MAINTENANCE, `host` then host-type plug-ins, the infrastructure's own
 * maintenance step, the `verify` actions (health gates), MAINTENANCE_COMPLETE, scheduling back as
 * found, marked maintained. A failed verify marks the host failed and ends the step there: the host
 * stays disabled, and the workflow's next step checks the error budget (errorBudget).
 */
export function maintainHost(s: Snapshot, now: number, host: string): StepResult {
  const h = sessionHost(s, host)!;
  if (h.status === 'maintained' || h.status === 'failed') return done();
  const start = hostEvent(s, host, 'IN_MAINTENANCE');
  if (!emitted(s, start.key))
    return waiting({
      hosts: [{ name: host, status: 'maintaining' }],
      events: [start],
      timeline: [{ at: now, kind: 'host', message: `${host} in maintenance` }],
    });
  const typed: PluginType | null = h.type === 'compute' || h.type === 'controller' ? h.type : null;
  const work = sequence(s, [
    ...pluginOps(s, 'host', host),
    ...(typed ? pluginOps(s, typed, host) : []),
    { key: `hm:${attempt(s)}:${host}`, kind: 'host_maintenance', subject: host },
  ]);
  if (work.status !== 'done') return work.status === 'failed' ? failed(`maintenance of ${host} failed: ${work.reason}`) : work;
  const gate = sequence(s, pluginOps(s, 'verify', host));
  if (gate.status === 'waiting') return gate;
  if (gate.status === 'failed') return hostFailed(s, now, host, gate.reason);
  const complete = hostEvent(s, host, 'MAINTENANCE_COMPLETE');
  if (!emitted(s, complete.key)) return waiting({ events: [complete] });
  const back = restoreHost(s, now, host);
  if (back.status !== 'done') return back;
  return done({
    hosts: [{ name: host, status: 'maintained', maintainedAt: now }],
    timeline: [{ at: now, kind: 'host', message: `${host} maintained` }],
  });
}

/** A host failed its verify actions: it stays disabled, out of the session's way, and is counted. */
function hostFailed(s: Snapshot, now: number, host: string, reason: string): StepResult {
  const failedHosts = [...(s.session.phase.failedHosts ?? []).filter((f) => f.host !== host), { host, reason, at: now }];
  const budget = s.session.options.maxFailedHosts ?? 0;
  return waiting({
    hosts: [{ name: host, status: 'failed' }],
    session: { phase: { ...s.session.phase, failedHosts } },
    timeline: [
      {
        at: now,
        kind: 'host',
        message: `${host} failed its verify actions and stays disabled (${failedHosts.length} failed, max_failed_hosts ${budget}): ${reason}`,
        data: { host, failed_hosts: failedHosts.length, max_failed_hosts: budget },
      },
    ],
    wakeAt: now,
  });
}

/** The session fails once more hosts failed their verify actions than max_failed_hosts allows. */
export function errorBudget(s: Snapshot, now: number): Decision | null {
  const failedHosts = s.session.phase.failedHosts ?? [];
  const budget = s.session.options.maxFailedHosts ?? 0;
  if (failedHosts.length <= budget) return null;
  const last = failedHosts.at(-1)!;
  return fail(
    s,
    now,
    `${last.reason} (host ${last.host} stays disabled); ${failedHosts.length} host(s) failed their verify actions (${failedHosts.map((f) => f.host).join(', ')}), more than max_failed_hosts ${budget}`,
  );
}

/**
 * Outside the session's maintenance windows no new host is taken down: null when one may be now,
 * else the decision that waits for the next window (noted in the timeline once per wait).
 */
export function windowGate(s: Snapshot, now: number): Decision | null {
  const w = s.session.options.windows;
  if (!w) return null;
  const open = nextOpen(w, now);
  if (open === now) return null;
  if (open === null) return fail(s, now, 'no maintenance window opens any more (every day excluded)');
  if (s.session.phase.windowWait === open) return { wakeAt: open };
  return {
    session: { phase: { ...s.session.phase, windowWait: open } },
    timeline: [{ at: now, kind: 'window', message: `outside the maintenance windows: no new host is taken down until ${iso(open)}` }],
    wakeAt: open,
  };
}

/** What every workflow does once the session is over (terminal or deleted): hosts back as found. */
export function settle(s: Snapshot, now: number): StepResult | null {
  if (!isTerminal(s.session.state) && !s.session.deleting) return null;
  if (s.session.phase.restored) return done();
  // A plug-in still at work on a host (finishing, or being cancelled) keeps it out of service until it stops.
  for (const o of ix(s).active()) if (o.kind === 'plugin' && o.status === 'started') return waiting();
  const r = restoreAll(s, now);
  if (r.status !== 'done') return r;
  return waiting({
    session: { phase: { ...s.session.phase, restored: true } },
    timeline: [{ at: now, kind: 'host', message: 'every host is back as it was found' }],
  });
}

// ---- shared steps of the workflows -------------------------------------------------------

/** Settle a step: its decision when waiting, the session failed when it failed, null when done. */
export function orFail(s: Snapshot, now: number, r: StepResult): Decision | null {
  if (r.status === 'failed') return merge(r.decision, fail(s, now, r.reason));
  if (r.status === 'waiting') return r.decision;
  return null;
}

// ---- inventory ------------------------------------------------------------------------------

export const newInstance = (i: InstanceInfo): InstancePatch => ({
  instanceId: i.id,
  projectId: i.projectId,
  name: i.name,
  host: i.host,
  originHost: i.host,
  vcpus: i.vcpus,
  floatingIp: i.floatingIp,
  liveMigratable: i.liveMigratable,
  status: 'present',
  moves: 0,
});

/** Whether decide gets to the inventory step: every workflow runs it first unless the session is over or paused. */
export const reachesInventory = (s: Snapshot): boolean => !isTerminal(s.session.state) && !s.session.deleting && !s.session.paused;

/**
 * Instance records follow the infrastructure: new ones join, vanished ones are gone, moved ones
 * follow. The first inventory reads the whole observed world once; after that, with the engine's
 * `observed.changed`, a step costs the instances that changed.
 */
export function syncInventory(s: Snapshot, now: number): Decision | null {
  if (!s.session.phase.inventoried) {
    const on = new Set(s.hosts.map((h) => h.name)); // once per session
    const found = s.observed.instances.filter((i) => on.has(i.host));
    const projects = [...new Set(found.map((i) => i.projectId))].sort();
    return {
      instances: found.map(newInstance),
      projects: projects.map((projectId) => ({ projectId, interacting: s.subscribedProjects.includes(projectId) })),
      session: { phase: { ...s.session.phase, inventoried: true } },
      timeline: [{ at: now, kind: 'inventory', message: `${found.length} instances of ${projects.length} projects on ${on.size} hosts` }],
      wakeAt: now,
    };
  }
  // Which instances to look at: those the engine says changed since the last look (O(changes)),
  // else every record and every observed instance (a snapshot built without that knowledge).
  const changed = s.observed.changed;
  const records = changed ? [...changed].map((id) => ix(s).instance(id)).filter((r): r is SessionInstance => r !== undefined) : s.instances;
  const observed = changed ? [...changed].map((id) => ox(s).instance(id)).filter((o): o is InstanceInfo => o !== undefined) : s.observed.instances;
  const patches: InstancePatch[] = [];
  const newProjects = new Set<string>();
  for (const rec of records) {
    const o = ox(s).instance(rec.instanceId);
    if (!o && rec.status !== 'gone' && rec.status !== 'moving') patches.push({ instanceId: rec.instanceId, status: 'gone', askState: null });
    else if (o && o.host !== rec.host && rec.status !== 'moving') patches.push({ instanceId: rec.instanceId, host: o.host, action: null });
  }
  for (const o of observed) {
    if (!ix(s).host(o.host) || ix(s).instance(o.id)) continue;
    patches.push(newInstance(o));
    if (!ix(s).project(o.projectId)) newProjects.add(o.projectId);
  }
  if (!patches.length) return null;
  return {
    instances: patches,
    projects: [...newProjects].map((projectId) => ({ projectId, interacting: s.subscribedProjects.includes(projectId) })),
  };
}

/** Projects with instances still present in the session (not scaled away). */
export const activeProjects = (s: Snapshot): string[] =>
  [...new Set(s.instances.filter((i) => i.status !== 'gone').map((i) => i.projectId))].sort();

// ---- MAINTENANCE_COMPLETE -------------------------------------------------------------------

/**
 * MAINTENANCE: the download list, `pre` plug-ins, every affected project asked, then wait for
 * maintenance_at; `then` decides where the session goes next.
 */
export function maintenanceRound(s: Snapshot, now: number, then: () => Decision): Decision {
  const pre = orFail(s, now, sequence(s, [...downloadOps(s), ...pluginOps(s, 'pre')]));
  if (pre) return pre;
  const r = ask(s, now, {
    state: 'MAINTENANCE',
    key: `MAINTENANCE:${attempt(s)}`,
    projects: activeProjects(s),
    windowS: s.session.options.replyWindowS,
    allowedActions: [],
    actionsAt: s.session.maintenanceAt,
  });
  const notYet = orFail(s, now, r);
  if (notYet) return notYet;
  if (now < s.session.maintenanceAt) return merge(r.decision, { wakeAt: s.session.maintenanceAt });
  return merge(r.decision, then());
}

/** MAINTENANCE_COMPLETE: `post` plug-ins, hosts back as found, every project told; then DONE. */
export function complete(s: Snapshot, now: number): Decision {
  const post = orFail(s, now, sequence(s, pluginOps(s, 'post')));
  if (post) return post;
  const back = orFail(s, now, restoreAll(s, now));
  if (back) return back;
  const r = ask(s, now, {
    state: 'MAINTENANCE_COMPLETE',
    key: `MAINTENANCE_COMPLETE:${attempt(s)}`,
    projects: s.projects.map((p) => p.projectId),
    windowS: s.session.options.scaleInReplyWindowS,
    allowedActions: [],
    actionsAt: now,
  });
  const failedHosts = s.session.phase.failedHosts ?? [];
  if (!failedHosts.length) return orFail(s, now, r) ?? merge(r.decision, transition(s, now, 'MAINTENANCE_DONE', 'every host maintained'));
  const left = `${failedHosts.length} host(s) failed their verify actions and stay disabled: ${failedHosts.map((f) => f.host).join(', ')}`;
  return orFail(s, now, r) ?? merge(r.decision, transition(s, now, 'MAINTENANCE_DONE', `every other host maintained; ${left}`, { session: { reason: left } }));
}
