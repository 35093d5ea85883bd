// The `vnf` workflow (spec §6, ETSI FEAT03) and `k8s` (the same with EVICTION as the default
// action). After the MAINTENANCE round it plans the whole session (src/planner), persists the plan
// in the session's phase and follows it: batches of hosts start in the planned order, every
// instance is asked on its own (PREPARE/PLANNED_MAINTENANCE with a one-element `instance_ids` and a
// per-instance reply_url) early enough that its lead_time has passed when its target is ready, and
// moves to its planned target when its group allows (max_impacted_members, recovery_time); targets
// are checked live (capacity, anti-affinity, max_instances_per_host) and chosen again when the
// world changed. Hosts are maintained as soon as they are empty, many at once. docs/vnf.md.
import {
  groupRules,
  instanceRules,
  NO_CONSTRAINTS,
  type Constraints,
  type GroupRules,
  type InstanceRules,
  type PersistedPlan,
  type PlanEstimates,
} from '../../domain/constraints.js';
import type { Decision, InstancePatch } from '../../domain/decision.js';
import { merge, minWake } from '../../domain/decision.js';
import type { HostStatus, NewEvent, Op, SessionHost, SessionInstance, TimelineEntry } from '../../domain/model.js';
import type { ObservedIndex, SessionIndex } from '../../domain/session-index.js';
import type { Snapshot } from '../../domain/snapshot.js';
import type { InstanceAction, ReplyState } from '../../domain/states.js';
import { ackOf } from '../../domain/states.js';
import { freeCapacity } from '../../planner/capacity.js';
import { estimatesOf, planInput } from '../../planner/input.js';
import type { Placeable } from '../../planner/placement.js';
import { defaultAction, persistPlan, planMaintenance, type ActionPolicy, type Plan } from '../../planner/plan.js';
import {
  ask,
  attempt,
  disableHost,
  fail,
  iso,
  maintainHost,
  projectUrl,
  settle,
  transition,
  activeProjects,
  complete,
  orFail,
  syncInventory,
  maintenanceRound,
  ix,
  ox,
  errorBudget,
  windowGate,
  OWN_ACTION_LOOK_MS,
} from '../common.js';
import { agendaFor, dropAgenda, noteChanges } from './agenda.js';
import { TARGET_REFUSED } from '../../domain/infra.js';
import { HostLoads } from './host-loads.js';

/** SCALE_IN rounds before a plan that still cannot start fails the session. */
const MAX_SCALE_IN_ROUNDS = 2;

export const ALLOWED_ACTIONS: Record<ActionPolicy, InstanceAction[]> = {
  vnf: ['MIGRATE', 'LIVE_MIGRATE', 'OWN_ACTION'],
  k8s: ['EVICTION', 'OWN_ACTION'],
};

export const makeDecide =
  (policy: ActionPolicy) =>
  (s: Snapshot, now: number): Decision =>
    decide(policy, s, now);

export function decide(policy: ActionPolicy, s: Snapshot, now: number): Decision {
  const over = settle(s, now);
  if (over) return over.decision;
  if (s.session.paused) return {};
  // From here the engine counts the step as its inventory step and forgets what changed: note it.
  noteChanges(ix(s), s.observed.changed);
  const inv = syncInventory(s, now);
  if (inv) return inv;
  const budget = errorBudget(s, now);
  if (budget) return budget;
  switch (s.session.state) {
    case 'MAINTENANCE':
      return maintenance(policy, s, now);
    case 'SCALE_IN':
      return scaleIn(policy, s, now);
    case 'PREPARE_MAINTENANCE':
    case 'PLANNED_MAINTENANCE':
    case 'START_MAINTENANCE':
      return execute(policy, s, now);
    case 'MAINTENANCE_COMPLETE':
      return complete(s, now);
    default:
      return {};
  }
}

// ---- MAINTENANCE, planning and SCALE_IN -------------------------------------------------------

const maintenance = (policy: ActionPolicy, s: Snapshot, now: number): Decision => maintenanceRound(s, now, () => toPlan(policy, s, now));

export function estimates(s: Snapshot): PlanEstimates {
  return estimatesOf(s.ctx.estimates, s.session.options.estimates);
}

/** The plan for the session as it stands (what the dry-run shows for the same cloud). */
export function sessionPlan(policy: ActionPolicy, s: Snapshot): Plan {
  const replying = s.projects.filter((p) => s.subscribedProjects.includes(p.projectId) && !p.unreachable).map((p) => p.projectId);
  return planMaintenance(
    planInput({
      observed: s.observed,
      session: s.hosts.map((h) => ({ name: h.name, maintained: h.status === 'maintained', disabledByUs: h.disabledByUs, originalEnabled: h.originalEnabled })),
      constraints: s.constraints ?? { instances: [], groups: [] },
      estimates: estimates(s),
      policy,
      maxParallelHosts: s.session.options.maxParallelHosts,
      replyingProjects: replying,
    }),
  );
}

function toPlan(policy: ActionPolicy, s: Snapshot, now: number): Decision {
  const plan = sessionPlan(policy, s);
  const warnings = plan.reasons.filter((r) => r.severity === 'warning');
  const notes = warnings.slice(0, 20).map((r) => ({ at: now, kind: 'plan_warning', message: r.message }));
  if (plan.feasible) {
    const persisted: PersistedPlan = { ...persistPlan(plan, now), attempt: s.session.phase.attempt ?? 0 };
    const msg =
      `${plan.batches.length} batches over ${plan.stats.hosts} hosts, ${plan.stats.moves} moves (${plan.stats.doubleMoves} second moves), ` +
      `expected ${Math.round(plan.durationS)}s, lower bound ${Math.round(plan.lowerBound.totalS)}s`;
    return transition(s, now, 'PREPARE_MAINTENANCE', `planned: ${msg}`, {
      session: { phase: { ...s.session.phase, plan: persisted } },
      timeline: [
        ...notes,
        { at: now, kind: 'plan', message: `plan: ${msg}`, data: { order: plan.order.slice(0, 500), batches: plan.batches.map((b) => b.hosts.length), lower_bound: plan.lowerBound } },
      ],
    });
  }
  const errors = plan.reasons.filter((r) => r.severity === 'error');
  const why = errors.slice(0, 3).map((r) => r.message).join('; ') || 'the plan cannot start';
  const rounds = s.session.phase.scaleInRounds ?? 0;
  const free = freeCapacity(s.observed.hosts);
  const fruitless = rounds > 0 && free <= (s.session.phase.scaleInFreeBefore ?? -1);
  const candidates = scaleInCandidates(s, Math.max(1, plan.missingVcpus));
  if (rounds >= MAX_SCALE_IN_ROUNDS || fruitless || !candidates.length)
    return merge({ timeline: notes }, fail(s, now, `no feasible plan: ${why}${rounds ? `; ${rounds} scale-in round(s) did not help` : ''}`));
  return transition(s, now, 'SCALE_IN', `no feasible plan (${why}); asking ${candidates.join(', ')} to scale in about ${plan.missingVcpus} vCPUs`, {
    session: { phase: { ...s.session.phase, scaleInRounds: rounds + 1, scaleInFreeBefore: free, scaleInAsked: candidates } },
    timeline: notes,
  });
}

/**
 * Only as much scale-in as needed: projects whose instances accept it (resource_mitigation, on the
 * instance or its group), largest first, until their vCPUs on the session's hosts cover what is
 * missing; projects that said nothing come after those that said yes.
 */
function scaleInCandidates(s: Snapshot, missing: number): string[] {
  const groups = new Map((s.constraints?.groups ?? []).map((g) => [g.groupId, g]));
  const rules = new Map((s.constraints?.instances ?? []).map((c) => [c.instanceId, c]));
  const by = new Map<string, { yes: number; any: number; declared: boolean }>();
  for (const i of s.instances) {
    if (i.status === 'gone') continue;
    const c = rules.get(i.instanceId);
    const g = c?.groupId ? groups.get(c.groupId) : undefined;
    const says = c?.resourceMitigation ?? g?.resourceMitigation ?? null;
    const e = by.get(i.projectId) ?? { yes: 0, any: 0, declared: false };
    if (says === true) e.yes += i.vcpus;
    if (says !== null) e.declared = true;
    e.any += i.vcpus;
    by.set(i.projectId, e);
  }
  const willing = [...by].filter(([, e]) => e.yes > 0).sort((a, b) => b[1].yes - a[1].yes || (a[0] < b[0] ? -1 : 1));
  const silent = [...by].filter(([, e]) => !e.declared).sort((a, b) => b[1].any - a[1].any || (a[0] < b[0] ? -1 : 1));
  const out: string[] = [];
  let covered = 0;
  for (const [pid, e] of [...willing.map(([p, e]) => [p, e.yes] as const), ...silent.map(([p, e]) => [p, e.any] as const)]) {
    if (covered >= missing) break;
    out.push(pid);
    covered += e;
  }
  return out;
}

function scaleIn(policy: ActionPolicy, s: Snapshot, now: number): Decision {
  const asked = s.session.phase.scaleInAsked ?? activeProjects(s);
  const r = ask(s, now, {
    state: 'SCALE_IN',
    key: `SCALE_IN:${attempt(s)}:${s.session.phase.scaleInRounds ?? 1}`,
    projects: asked.filter((p) => ix(s).project(p) !== undefined),
    windowS: s.session.options.scaleInReplyWindowS,
    allowedActions: [],
    actionsAt: now,
  });
  return orFail(s, now, r) ?? merge(r.decision, toPlan(policy, s, now));
}

// ---- following the plan ---------------------------------------------------------------------
//
// A step costs what it looks at (issue 9): hosts by status, the instances on the hosts being
// emptied, the moves in flight, and the few targets it checks, all through the session's and the
// world's indexes. What derives from the plan or the constraints alone is computed once per plan
// or constraints object (the engine replaces those objects when they change). Where a full scan
// used to fix an order (instances by id, hosts in session order), the smaller set is sorted the
// same way, so the decisions are the same.

/** From the plan alone. */
interface PlanView {
  /** Source host → instance → planned target (two levels: no key string per move). */
  planned: Map<string, Map<string, string>>;
  /** Host → position in the plan (batch, then place in the batch). */
  rank: Map<string, number>;
}

/** From the constraints alone. */
interface RulesView {
  groups: Map<string, GroupRules>;
  rules: Map<string, InstanceRules>;
  /** The longest recovery_time of a group that limits its impacted members (ms). */
  maxRecoveryMs: number;
  /** Group → its members' instance ids. */
  members: Map<string, Set<string>>;
}

const planViews = new WeakMap<PersistedPlan, PlanView>();
const rulesViews = new WeakMap<Constraints, RulesView>();
const subscribedSets = new WeakMap<readonly string[], ReadonlySet<string>>();
const hostOrders = new WeakMap<readonly SessionHost[], Map<string, number>>();

/** Per session index: the plan last seen, and its view. */
const lastPlans = new WeakMap<SessionIndex, { plan: PersistedPlan; view: PlanView }>();

/**
 * Whether two plans of one session are the same plan: the engine may hand over the same plan
 * parsed again (the session row is re-read when others write to it), and a session makes at most
 * one plan per attempt.
 */
const samePlan = (a: PersistedPlan, b: PersistedPlan): boolean =>
  a === b || (a.at === b.at && (a.attempt ?? 0) === (b.attempt ?? 0) && a.batches.length === b.batches.length);

function planView(plan: PersistedPlan, index: SessionIndex): PlanView {
  let v = planViews.get(plan);
  if (v) return v;
  const last = lastPlans.get(index);
  if (last && samePlan(last.plan, plan)) v = last.view;
  else {
    const planned = new Map<string, Map<string, string>>();
    for (const [from, list] of Object.entries(plan.moves)) planned.set(from, new Map(list));
    const rank = new Map<string, number>();
    plan.batches.forEach((b, k) => b.hosts.forEach((h, j) => rank.set(h, k * 100_000 + j)));
    v = { planned, rank };
  }
  planViews.set(plan, v);
  lastPlans.set(index, { plan, view: v });
  return v;
}

function rulesView(constraints: Constraints): RulesView {
  let v = rulesViews.get(constraints);
  if (!v) {
    const groups = new Map(constraints.groups.map((g) => [g.groupId, groupRules(g)]));
    let maxRecoveryMs = 0;
    for (const g of groups.values()) if (g.maxImpacted > 0) maxRecoveryMs = Math.max(maxRecoveryMs, g.recoveryS * 1000);
    const members = new Map<string, Set<string>>();
    for (const i of constraints.instances) {
      if (i.groupId === null) continue;
      const l = members.get(i.groupId);
      if (l) l.add(i.instanceId);
      else members.set(i.groupId, new Set([i.instanceId]));
    }
    rulesViews.set(constraints, (v = { groups, rules: new Map(constraints.instances.map((i) => [i.instanceId, instanceRules(i)])), maxRecoveryMs, members }));
  }
  return v;
}

function subscribedSet(projects: readonly string[]): ReadonlySet<string> {
  let v = subscribedSets.get(projects);
  if (!v) subscribedSets.set(projects, (v = new Set(projects)));
  return v;
}

/** Host → place in the session's host list (the list never changes in a session). */
function hostOrder(hosts: readonly SessionHost[]): Map<string, number> {
  let v = hostOrders.get(hosts);
  if (!v) hostOrders.set(hosts, (v = new Map(hosts.map((h, k) => [h.name, k]))));
  return v;
}

interface Ctx {
  policy: ActionPolicy;
  s: Snapshot;
  now: number;
  plan: PersistedPlan;
  est: PlanEstimates;
  a: string;
  ix: SessionIndex;
  ox: ObservedIndex;
  /** Host statuses this step changed (batches started, hosts maintained), over the index's. */
  over: Map<string, HostStatus>;
  planned: Map<string, Map<string, string>>;
  rank: Map<string, number>;
  rules: RulesView;
  subscribed: ReadonlySet<string>;
  parts: Decision[];
  wake: number | null;
}

/** A move the cloud refused (its target: no room, filtered out, disabled): nothing moved. */
const refused = (op: Op | undefined): boolean => op?.status === 'failed' && op.error?.startsWith(TARGET_REFUSED) === true;
/** Refused targets one instance may try before its session fails. */
const MAX_REFUSALS = 3;
/**
 * The key of an instance's latest move off `from`. A move whose target was refused is followed by
 * another under the next key (`…:1`, `…:2`): O(refusals), which are few.
 */
function moveKey(c: Ctx, iid: string, from: string): string {
  const base = `move:${c.a}:${iid}:${from}`;
  let key = base;
  for (let n = 1; refused(c.ix.op(key)) && c.ix.op(`${base}:${n}`); n++) key = `${base}:${n}`;
  return key;
}
/** The key for a new move off `from`, and the targets refused so far (not to be asked again). */
function nextMove(c: Ctx, iid: string, from: string): { key: string; refusedTargets: Set<string> } {
  const base = `move:${c.a}:${iid}:${from}`;
  const refusedTargets = new Set<string>();
  let key = base;
  for (let n = 1; refused(c.ix.op(key)); n++) {
    refusedTargets.add(String(c.ix.op(key)!.args.target ?? ''));
    key = `${base}:${n}`;
  }
  return { key, refusedTargets };
}
const askKeyOf = (c: Ctx, iid: string, from: string) => `${c.a}:${iid}:${from}`;
const instanceUrl = (s: Snapshot, pid: string, iid: string) => `${projectUrl(s, pid)}/${encodeURIComponent(iid)}`;
const wakeAt = (c: Ctx, t: number) => {
  c.wake = minWake(c.wake, t);
};
const rulesOf = (c: Ctx, iid: string): InstanceRules => c.rules.rules.get(iid) ?? instanceRules(undefined);
const groupOf = (c: Ctx, r: InstanceRules): GroupRules | null => (r.groupId ? (c.rules.groups.get(r.groupId) ?? null) : null);
/** A session host's status as this step leaves it; undefined for a host outside the session. */
const statusOf = (c: Ctx, host: string): HostStatus | undefined => c.over.get(host) ?? c.ix.host(host)?.status;
const byId = (a: SessionInstance, b: SessionInstance) => (a.instanceId < b.instanceId ? -1 : a.instanceId > b.instanceId ? 1 : 0);

/** Hosts with `status` as this step leaves them, in session order: O(those hosts). */
function hostsIn(c: Ctx, status: HostStatus): SessionHost[] {
  const out: SessionHost[] = [];
  for (const h of c.ix.hostsWith(status)) if (statusOf(c, h.name) === status) out.push(h);
  for (const [name, st] of c.over) {
    const h = c.ix.host(name)!;
    if (st === status && h.status !== status) out.push(h);
  }
  const order = hostOrder(c.s.hosts);
  return out.sort((a, b) => order.get(a.name)! - order.get(b.name)!);
}

function context(policy: ActionPolicy, s: Snapshot, now: number, plan: PersistedPlan): Ctx {
  const pv = planView(plan, ix(s));
  return {
    policy,
    s,
    now,
    plan,
    est: estimates(s),
    a: attempt(s),
    ix: ix(s),
    ox: ox(s),
    over: new Map(),
    planned: pv.planned,
    rank: pv.rank,
    rules: rulesView(s.constraints ?? NO_CONSTRAINTS),
    subscribed: subscribedSet(s.subscribedProjects),
    parts: [],
    wake: null,
  };
}

function execute(policy: ActionPolicy, s: Snapshot, now: number): Decision {
  const plan = s.session.phase.plan;
  if (!plan || (plan.attempt ?? 0) !== (s.session.phase.attempt ?? 0)) return toPlan(policy, s, now);
  const c = context(policy, s, now, plan);

  startBatches(c);
  const moving = finishMoves(c);
  if (moving.failed) return moving.failed;
  const asked = askAndMove(c);
  if (asked) return asked;
  const hosts = maintainHosts(c);
  if (hosts) return hosts;

  const d = merge(...c.parts);
  const before = c.ix.hostsWith('maintained').size;
  let maintained = before;
  for (const [name, st] of c.over) maintained += (st === 'maintained' ? 1 : 0) - (c.ix.host(name)!.status === 'maintained' ? 1 : 0);
  // Hosts that failed their verify actions are done with (a failure ends its step: none in c.over).
  const failedN = c.ix.hostsWith('failed').size;
  if (maintained + failedN === s.hosts.length) return merge(d, transition(s, now, 'MAINTENANCE_COMPLETE', 'every host is maintained'));
  const out: Decision = { ...d };
  if (maintained !== before) out.session = { ...out.session, percentDone: Math.floor(((maintained + failedN) / s.hosts.length) * 95) };
  if (s.session.state === 'PREPARE_MAINTENANCE' && maintained > 0)
    return merge(out, transition(s, now, 'PLANNED_MAINTENANCE', 'the first hosts are maintained; instances now move to maintained hosts'));
  if (c.wake !== null) out.wakeAt = minWake(out.wakeAt, c.wake);
  return out;
}

/** Per session index: the plan's batches before `k` have started (a host of each left 'pending'). */
const startedBatches = new WeakMap<SessionIndex, { plan: PersistedPlan; k: number }>();

/**
 * The first batch that may not have started: amortised O(1) per step. Sound because a host never
 * goes back to 'pending' under the same plan (an admin's continue does so, with a new attempt and
 * so a new plan), and the engine keeps one index per session it holds.
 */
function firstOpenBatch(c: Ctx): number {
  let e = startedBatches.get(c.ix);
  if (!e || !samePlan(e.plan, c.plan)) startedBatches.set(c.ix, (e = { plan: c.plan, k: 0 }));
  const started = (h: string) => {
    const st = c.ix.host(h)?.status;
    return st !== undefined && st !== 'pending';
  };
  while (e.k < c.plan.batches.length && c.plan.batches[e.k]!.hosts.some(started)) e.k++;
  return e.k;
}

/** Start the next batches of the plan: in order, each once the hosts it waits for are far enough. */
function startBatches(c: Ctx): void {
  const { s, now, plan } = c;
  const limit = s.session.options.maxParallelHosts;
  let out = c.ix.hostsWith('emptying').size + c.ix.hostsWith('maintaining').size;
  for (let k = firstOpenBatch(c); k < plan.batches.length; k++) {
    const b = plan.batches[k]!;
    const mine = b.hosts.filter((h) => c.ix.host(h) !== undefined);
    if (mine.some((h) => statusOf(c, h) !== 'pending')) continue;
    const ready = b.waitFor.every((h) => {
      const st = statusOf(c, h);
      const compute = c.ix.host(h)?.type === 'compute';
      return st === 'maintained' || st === 'failed' || (compute && st === 'maintaining') || st === undefined;
    });
    if (!ready) break;
    if (limit > 0 && out > 0 && out + mine.length > limit) break;
    // Outside the maintenance windows no new batch starts (what runs finishes).
    const gate = windowGate(s, now);
    if (gate) {
      c.parts.push(gate);
      if (gate.wakeAt != null) wakeAt(c, gate.wakeAt);
      break;
    }
    for (const h of mine) c.over.set(h, 'emptying');
    out += mine.length;
    if (mine.length)
      c.parts.push({
        hosts: mine.map((name) => ({ name, status: 'emptying' as const })),
        timeline: [{ at: now, kind: 'batch', message: `batch ${k + 1}/${plan.batches.length}: ${mine.join(', ')}` }],
      });
  }
}

/** Moves that finished (or failed) since the last look: O(moves in flight). */
function finishMoves(c: Ctx): { failed?: Decision } {
  const { s, now } = c;
  const ended: [SessionInstance, Op][] = [];
  for (const rec of c.ix.moving()) {
    const op = c.ix.op(moveKey(c, rec.instanceId, rec.host));
    if (op && (op.status === 'done' || op.status === 'failed')) ended.push([rec, op]);
  }
  ended.sort((a, b) => byId(a[0], b[0]));
  // One part for them all (a step of a large session may see thousands of moves end).
  const part = { instances: [] as InstancePatch[], events: [] as NewEvent[], timeline: [] as NonNullable<Decision['timeline']> };
  for (const [rec, op] of ended) {
    const from = rec.host;
    if (refused(op) && nextMove(c, rec.instanceId, from).refusedTargets.size <= MAX_REFUSALS) {
      // Nothing moved: plan it again, elsewhere (startMoves skips the targets refused so far).
      part.instances.push({ instanceId: rec.instanceId, status: 'present', error: op.error });
      part.timeline.push({ at: now, kind: 'instance', message: `${rec.instanceId}: ${String(op.args.target)} refused it (${op.error}); choosing another target` });
      continue;
    }
    if (op.status === 'failed') {
      const reason = `moving ${rec.instanceId} off ${from} failed: ${op.error}`;
      return { failed: merge(...c.parts, part, { instances: [{ instanceId: rec.instanceId, status: 'failed', error: op.error }] }, fail(s, now, reason)) };
    }
    const landed = String(op.result?.host ?? op.args.target ?? rec.host);
    const events: NewEvent[] = c.subscribed.has(rec.projectId)
      ? [instanceEvent(s, rec, `done:${c.a}:${rec.instanceId}:${from}`, 'INSTANCE_ACTION_DONE', [], null, null)]
      : [];
    part.instances.push({ instanceId: rec.instanceId, status: 'moved', host: landed, moves: rec.moves + 1, action: null, askState: null });
    part.events.push(...events);
    part.timeline.push({ at: now, kind: 'instance', message: `${rec.instanceId} moved ${from} → ${landed} (${String(op.args.kind)})`, data: { from, to: landed, action: op.args.kind, started: op.startedAt, finished: op.finishedAt } });
  }
  if (ended.length) c.parts.push(part);
  return {};
}

/** When a target can take instances: now, when its maintenance should end, or never (being emptied). */
function targetReadyAt(c: Ctx, target: string): number | null {
  const st = statusOf(c, target);
  if (st === undefined || st === 'maintained' || st === 'pending') return c.now;
  if (st === 'emptying' || st === 'failed') return null;
  const hm = c.ix.op(`hm:${c.a}:${target}`);
  const since = hm?.startedAt ?? hm?.createdAt ?? c.now;
  return Math.max(c.now, since + c.est.hostMaintenanceS * 1000);
}

/** Whether `target` may take instances now: enabled, compute, and not waiting for its own turn. */
function targetUsable(c: Ctx, target: string, firstMove: boolean): boolean {
  const o = c.ox.host(target);
  if (!o || o.type !== 'compute' || !o.enabled) return false;
  const st = statusOf(c, target);
  if (st === undefined || st === 'maintained') return true;
  return st === 'pending' && firstMove;
}

interface Candidate {
  rec: SessionInstance;
  from: string;
  action: InstanceAction;
  rules: InstanceRules;
  group: GroupRules | null;
  rank: number;
}

/** What one instance on a host being emptied asks of this step. */
type Verdict =
  | Wait
  | { kind: 'fail'; reason: string }
  | { kind: 'act'; patch?: InstancePatch; event?: NewEvent; note?: TimelineEntry }
  | { kind: 'ready'; candidate: Candidate };

/**
 * Nothing to do until `until` (null: until something changes), unless its record, its
 * observation or (`target`) its planned target changes; `volatile`: look again next step (the
 * wait moves with the clock).
 */
interface Wait {
  kind: 'wait';
  until: number | null;
  target?: string;
  volatile?: boolean;
}

/** A maintenance.scheduled event about one instance (the per-instance question, or its move done). */
function instanceEvent(
  s: Snapshot,
  rec: SessionInstance,
  key: string,
  state: string,
  allowed: readonly string[],
  actionsAt: string | null,
  replyAt: string | null,
): NewEvent {
  return {
    key,
    eventType: 'maintenance.scheduled',
    projectId: rec.projectId,
    payload: {
      service: 'fenix',
      project_id: rec.projectId,
      session_id: s.session.id,
      state,
      instance_ids: [rec.instanceId],
      allowed_actions: allowed,
      reply_url: instanceUrl(s, rec.projectId, rec.instanceId),
      actions_at: actionsAt,
      reply_at: replyAt,
      metadata: s.session.metadata,
    },
  };
}

/** How a target looks to the instances waiting for its maintenance to end. */
function targetMark(c: Ctx, target: string): string {
  const hm = c.ix.op(`hm:${c.a}:${target}`);
  return `${statusOf(c, target)}|${hm?.startedAt ?? hm?.createdAt ?? '-'}`;
}

/**
 * Per-instance asks and moves on the hosts being emptied. An instance is looked at when the
 * agenda says so (see agenda.ts): O(instances that changed, are due, ready or acting), not the
 * whole batch. Returns a decision only when the session fails.
 */
function askAndMove(c: Ctx): Decision | null {
  const emptying = hostsIn(c, 'emptying').filter((h) => h.type === 'compute');
  if (!emptying.length) {
    dropAgenda(c.ix);
    return null;
  }
  const names = new Set(emptying.map((h) => h.name));
  const eligible = (rec: SessionInstance) => rec.status !== 'gone' && rec.status !== 'moving' && rec.status !== 'failed' && names.has(rec.host);
  const o = c.s.session.options;
  const { agenda, fresh, changed } = agendaFor(
    c.ix,
    {
      fingerprint: `${c.plan.at}|${c.plan.attempt ?? 0}|${c.plan.batches.length}|${c.a}|${c.policy}|${c.est.replyS}|${c.est.hostMaintenanceS}|${o.replyWindowS}|${o.ownActionTimeoutS}`,
      constraints: c.s.constraints,
      subscribed: c.s.subscribedProjects,
    },
    c.now,
  );
  const todo = new Set<SessionInstance>();
  const onHost = (h: string) => {
    for (const rec of c.ix.instancesOn(h)) todo.add(rec);
  };
  if (fresh) for (const h of names) onHost(h);
  else {
    for (const h of names) if (!agenda.emptying.has(h)) onHost(h);
    for (const id of changed) {
      const rec = c.ix.instance(id);
      if (rec) todo.add(rec);
    }
    for (const rec of agenda.active) todo.add(rec);
    agenda.due(c.now, todo);
    agenda.targetsChanged((t) => targetMark(c, t), todo);
  }
  agenda.emptying = names;

  // Each instance is judged on its own; what they do is put in instance id order, and the first
  // failure by id fails the session, as a scan of every instance by id would.
  let failure: { id: string; reason: string } | null = null;
  const acts: { id: string; patch?: InstancePatch; event?: NewEvent; note?: TimelineEntry }[] = [];
  const ready: Candidate[] = [];
  for (const rec of todo) {
    if (!eligible(rec)) {
      agenda.forget(rec);
      continue;
    }
    if (failure && rec.instanceId > failure.id) {
      agenda.activate(rec); // its outcome would not count; look again
      continue;
    }
    const v = examine(c, rec);
    if (v.kind === 'wait' && !v.volatile) agenda.park(rec, v.until, v.target ? { name: v.target, mark: targetMark(c, v.target) } : undefined);
    else agenda.activate(rec);
    if (v.kind === 'fail') failure = { id: rec.instanceId, reason: v.reason };
    else if (v.kind === 'act') acts.push({ id: rec.instanceId, patch: v.patch, event: v.event, note: v.note });
    else if (v.kind === 'ready') ready.push(v.candidate);
  }
  if (failure) return merge(...c.parts, fail(c.s, c.now, failure.reason));
  // The instances parked in earlier steps wait too.
  const next = agenda.nextWake(eligible);
  if (next !== null) wakeAt(c, next);
  acts.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const patches: InstancePatch[] = [];
  const events: NewEvent[] = [];
  const notes: TimelineEntry[] = [];
  for (const a of acts) {
    if (a.patch) patches.push(a.patch);
    if (a.event) events.push(a.event);
    if (a.note) notes.push(a.note);
  }
  if (ready.length) startMoves(c, ready, patches, notes);
  if (patches.length || events.length || notes.length) c.parts.push({ instances: patches, events, timeline: notes });
  return null;
}

/** One instance on a host being emptied: ask it, wait for it, act on its behalf, fail, or ready to move. */
function examine(c: Ctx, rec: SessionInstance): Verdict {
  const { s, now, est } = c;
  const from = rec.host;
  const obs = c.ox.instance(rec.instanceId);
  if (!obs || obs.host !== from) return { kind: 'wait', until: null };
  const allowed = ALLOWED_ACTIONS[c.policy];
  const rules = rulesOf(c, rec.instanceId);
  const key = askKeyOf(c, rec.instanceId, from);
  const fallback = defaultAction(c.policy, rec, rules);
  if (rec.askKey !== key) {
    // Not asked yet: ask so that the notice has passed when the target can take it.
    const target = c.planned.get(from)?.get(rec.instanceId);
    const at = target ? targetReadyAt(c, target) : now;
    const interacting = c.subscribed.has(rec.projectId);
    const lead = rules.leadS * 1000;
    const notice = Math.max(lead, interacting ? est.replyS * 1000 : 0);
    const notifyAt = Math.max(now, (at ?? now) - notice);
    if (notifyAt > now) {
      wakeAt(c, notifyAt);
      // Its target is in maintenance: the wait holds while the target looks the same, unless the
      // maintenance op is not there yet (then its end is reckoned from now).
      return { kind: 'wait', until: notifyAt, target, volatile: !c.ix.op(`hm:${c.a}:${target}`) };
    }
    const targetStatus = target ? statusOf(c, target) : undefined;
    const state: ReplyState = targetStatus === 'maintained' || targetStatus === 'maintaining' ? 'PLANNED_MAINTENANCE' : 'PREPARE_MAINTENANCE';
    const replyAt = now + s.session.options.replyWindowS * 1000;
    const patch: InstancePatch = {
      instanceId: rec.instanceId,
      askState: interacting ? state : null,
      askKey: key,
      notifiedAt: now,
      replyAt,
      reply: interacting ? null : ackOf(state),
      repliedAt: interacting ? null : now,
      action: interacting ? null : fallback,
    };
    if (!interacting) return { kind: 'act', patch };
    return {
      kind: 'act',
      patch,
      event: instanceEvent(s, rec, `iask:${key}`, state, allowed, iso(Math.max(now + lead, at ?? now)), iso(replyAt)),
    };
  }
  if (rec.reply?.startsWith('NACK_')) return { kind: 'fail', reason: `project ${rec.projectId} answered ${rec.reply} for ${rec.instanceId}` };
  if (!rec.reply) {
    if (rec.replyAt != null && now >= rec.replyAt) {
      const del = s.deliveries[`iask:${key}`];
      if (del && del.delivered > 0)
        return { kind: 'fail', reason: `project ${rec.projectId} did not answer ${rec.askState ?? 'the notification'} for ${rec.instanceId} by ${iso(rec.replyAt)}` };
      // Never delivered: the project gets the default behaviour for this instance.
      return {
        kind: 'act',
        patch: { instanceId: rec.instanceId, reply: ackOf(rec.askState ?? 'PLANNED_MAINTENANCE'), repliedAt: now, askState: null, action: fallback },
        note: { at: now, kind: 'default_behaviour', message: `${rec.projectId} could not be reached about ${rec.instanceId}: acting on its behalf (${fallback})` },
      };
    }
    if (rec.replyAt != null) wakeAt(c, rec.replyAt);
    return { kind: 'wait', until: rec.replyAt ?? null };
  }
  const readyAt = (rec.notifiedAt ?? now) + rules.leadS * 1000;
  if (now < readyAt) {
    wakeAt(c, readyAt);
    return { kind: 'wait', until: readyAt };
  }
  const action = rec.action ?? fallback;
  if (!allowed.includes(action)) {
    // A constraint or reply asked for what this workflow does not offer (k8s: no migrations). Said
    // once: the record takes an offered action, so later steps neither note it nor step for it.
    const instead = allowed.includes(fallback) ? fallback : (allowed.find((a) => a !== 'OWN_ACTION') ?? fallback);
    return {
      kind: 'act',
      patch: { instanceId: rec.instanceId, action: instead },
      note: { at: now, kind: 'instance', message: `${rec.instanceId}: ${action} is not offered by the ${c.policy} workflow; ${instead} instead` },
    };
  }
  if (action === 'OWN_ACTION') {
    const deadline = (rec.repliedAt ?? now) + s.session.options.ownActionTimeoutS * 1000;
    if (now >= deadline) return { kind: 'fail', reason: `${rec.instanceId} is still on ${from} ${s.session.options.ownActionTimeoutS}s after its OWN_ACTION was acknowledged` };
    // Looked at again shortly (is it gone?), not only at its deadline.
    const next = Math.min(deadline, now + OWN_ACTION_LOOK_MS);
    wakeAt(c, next);
    return { kind: 'wait', until: next };
  }
  const candidate = { rec, from, action, rules, group: groupOf(c, rules), rank: c.rank.get(from) ?? Number.MAX_SAFE_INTEGER };
  return { kind: 'ready', candidate };
}

/** Per session index: the session's move ops, followed so that recently finished ones are found without scanning every op. */
interface MoveLog {
  ops: readonly Op[];
  constraints: Constraints | undefined;
  /** s.ops read up to here (the engine only appends to it). */
  seen: number;
  /** Moves not finished when last looked at. */
  open: Set<Op>;
  /** Finished moves that may still be within their group's recovery_time. */
  done: Op[];
  /** The `now` of the last look (what `done` was trimmed for). */
  at: number;
}
const moveLogs = new WeakMap<SessionIndex, MoveLog>();

/**
 * Moves done less than the longest recovery_time ago: O(moves in flight + moves finished lately +
 * ops added since the last step); the first look (a new index, new constraints, a clock that went
 * back) reads every op once. Ops are only appended, and an op's status only moves forward.
 */
function recentMoves(c: Ctx): readonly Op[] {
  const { s, now } = c;
  let log = moveLogs.get(c.ix);
  if (!log || log.ops !== s.ops || log.constraints !== s.constraints || now < log.at) {
    log = { ops: s.ops, constraints: s.constraints, seen: 0, open: new Set(), done: [], at: now };
    moveLogs.set(c.ix, log);
  }
  for (; log.seen < s.ops.length; log.seen++) {
    const o = s.ops[log.seen]!;
    if (o.kind === 'move') log.open.add(o);
  }
  for (const o of log.open) {
    if (o.status !== 'done' && o.status !== 'failed') continue;
    log.open.delete(o);
    if (o.status === 'done' && o.finishedAt !== null) log.done.push(o);
  }
  // Past the longest recovery_time a move never counts again (time only moves forward here).
  const keep = c.rules.maxRecoveryMs;
  if (log.done.some((o) => o.finishedAt! + keep <= now)) log.done = log.done.filter((o) => o.finishedAt! + keep > now);
  log.at = now;
  return log.done;
}

/**
 * Moves started by one step at most. A 10,000-host plan's first batch empties 5,000 hosts: 40,000
 * moves in one decision would be one transaction of 40,000 ops, instance patches and notes held in
 * memory at once (most of the session's peak memory). In steps of 1,000 the same moves start in the
 * same order at the same moment, a few milliseconds apart.
 */
const MAX_MOVES_PER_STEP = 1000;

/** Start the moves whose group has room, to their planned target (or another valid one). */
function startMoves(c: Ctx, ready: Candidate[], patches: InstancePatch[], notes: NonNullable<Decision['timeline']>): void {
  const { now } = c;
  const placeable = (iid: string, vcpus: number): Placeable => ({ id: iid, vcpus, group: groupOf(c, rulesOf(c, iid)) });
  const impacted = new Map<string, number>();
  const bump = (g: string) => impacted.set(g, (impacted.get(g) ?? 0) + 1);
  // The targets of moves in flight, reserved there until the move is done.
  const reserved = new Map<string, Placeable[]>();
  const reservedVcpus = new Map<string, number>();
  for (const rec of c.ix.moving()) {
    const op = c.ix.op(moveKey(c, rec.instanceId, rec.host));
    const to = op?.args.target;
    if (typeof to === 'string' && c.ox.host(to) && op?.status !== 'done') {
      const l = reserved.get(to);
      if (l) l.push(placeable(rec.instanceId, rec.vcpus));
      else reserved.set(to, [placeable(rec.instanceId, rec.vcpus)]);
      reservedVcpus.set(to, (reservedVcpus.get(to) ?? 0) + rec.vcpus);
    }
    const g = groupOf(c, rulesOf(c, rec.instanceId));
    if (g) bump(g.groupId);
  }
  // The application moves an OWN_ACTION instance itself: it counts as impacted while its host is
  // emptied. Only the groups of instances about to move are asked about: O(their members).
  const limited = new Set<string>();
  for (const r of ready) if (r.group && r.group.maxImpacted > 0) limited.add(r.group.groupId);
  for (const gid of limited)
    for (const iid of c.rules.members.get(gid) ?? []) {
      const rec = c.ix.instance(iid);
      if (!rec || rec.status === 'moving' || rec.status === 'gone' || !rec.askKey || !rec.reply?.startsWith('ACK_') || rec.action !== 'OWN_ACTION') continue;
      if (statusOf(c, rec.host) === 'emptying' && groupOf(c, rulesOf(c, iid))?.groupId === gid) bump(gid);
    }
  // Members whose move ended less than recovery_time ago still count as impacted.
  for (const op of recentMoves(c)) {
    const g = groupOf(c, rulesOf(c, op.subject));
    if (!g || g.maxImpacted <= 0) continue;
    const until = op.finishedAt! + g.recoveryS * 1000;
    if (until > now) {
      bump(g.groupId);
      wakeAt(c, until);
    }
  }
  // The world as it is, counted host by host when a step first asks about it.
  const capacity = (host: string) => c.ox.host(host)?.vcpus ?? 0;
  const placement = new HostLoads(
    (host) => {
      const on: Placeable[] = [...c.ox.on(host)].map((i) => placeable(i.id, i.vcpus));
      for (const p of reserved.get(host) ?? []) on.push(p);
      return { capacity: capacity(host), on };
    },
    (host) => capacity(host) - c.ox.vcpusOn(host) - (reservedVcpus.get(host) ?? 0),
  );
  // Other targets, for when the planned one cannot take an instance: only then, O(hosts) lookups
  // (enabled compute hosts outside the session or maintained by name; pending ones by plan).
  let tiers: { tier1: string[]; tier2: string[] } | null = null;
  const otherTargets = () => {
    if (tiers) return tiers;
    const byPlan = (h: string) => c.rank.get(h) ?? Number.MAX_SAFE_INTEGER;
    const tier1 = c.ox.hostNames().filter((h) => targetUsable(c, h, false));
    const tier2 = hostsIn(c, 'pending')
      .map((h) => h.name)
      .filter((h) => targetUsable(c, h, true))
      .sort((a, b) => byPlan(a) - byPlan(b) || (a < b ? -1 : 1));
    return (tiers = { tier1, tier2 });
  };

  ready.sort((a, b) => a.rank - b.rank || (a.rec.instanceId < b.rec.instanceId ? -1 : 1));
  const ops: Decision['ops'] = [];
  for (const r of ready) {
    if (ops.length >= (c.s.ctx.maxMovesPerStep ?? MAX_MOVES_PER_STEP)) {
      wakeAt(c, now); // the rest stay active in the agenda: the next step, at once, starts them
      break;
    }
    const g = r.group;
    if (g && g.maxImpacted > 0 && (impacted.get(g.groupId) ?? 0) >= g.maxImpacted) continue;
    const p = placeable(r.rec.instanceId, r.rec.vcpus);
    const first = r.rec.moves === 0;
    const { key, refusedTargets } = nextMove(c, r.rec.instanceId, r.from);
    const planned = c.planned.get(r.from)?.get(r.rec.instanceId);
    let target: string | null = null;
    if (planned && !refusedTargets.has(planned)) {
      const at = targetReadyAt(c, planned);
      if (at !== null && at > now) continue; // its target is still in maintenance; its end wakes the session
      if (at !== null && targetUsable(c, planned, first) && !placement.refusal(p, planned)) target = planned;
    }
    if (!target) {
      const self = (h: string) => h === r.from || refusedTargets.has(h);
      const { tier1, tier2 } = otherTargets();
      target = placement.bestFit(p, tier1, self) ?? (first ? placement.bestFit(p, tier2, self) : null);
      if (!target) continue; // nowhere right now: capacity comes back as hosts are maintained
      notes.push({ at: now, kind: 'instance', message: `${r.rec.instanceId}: ${planned ? `planned target ${planned} cannot take it now; ` : ''}moving to ${target}` });
    }
    placement.add(p, target);
    if (g) bump(g.groupId);
    ops.push({ key, kind: 'move', subject: r.rec.instanceId, args: { kind: r.action, from: r.from, target } });
    patches.push({ instanceId: r.rec.instanceId, status: 'moving', action: r.action, askState: null, ...(refusedTargets.size && { error: null }) });
    notes.push({ at: now, kind: 'instance', message: `${r.action} ${r.rec.instanceId} ${r.from} → ${target}` });
  }
  if (ops.length) c.parts.push({ ops });
}

/** Hosts that are empty go into maintenance; hosts in maintenance go on. O(hosts out + moves in flight). */
function maintainHosts(c: Ctx): Decision | null {
  const { s, now } = c;
  const order = hostOrder(s.hosts);
  const busy = [...hostsIn(c, 'emptying'), ...hostsIn(c, 'maintaining')].sort((a, b) => order.get(a.name)! - order.get(b.name)!);
  if (!busy.length) return null;
  // Hosts an instance is leaving or heading for.
  const moving = new Set<string>();
  for (const i of c.ix.moving()) {
    moving.add(i.host);
    moving.add(String(c.ix.op(moveKey(c, i.instanceId, i.host))?.args.target ?? ''));
  }
  for (const h of busy) {
    if (statusOf(c, h.name) === 'emptying' && h.type === 'compute') {
      // Being emptied: no new instances land on it (recorded as found, put back after its maintenance).
      if (!h.disabledByUs && h.originalEnabled === null) {
        const off = disableHost(s, now, h.name);
        if (off.status === 'failed') return merge(...c.parts, fail(s, now, off.reason));
        c.parts.push(off.decision);
        continue;
      }
      if (c.ox.on(h.name).size > 0 || moving.has(h.name)) continue;
    }
    const r = maintainHost(s, now, h.name);
    if (r.status === 'failed') return merge(...c.parts, r.decision, fail(s, now, r.reason));
    c.parts.push(r.decision);
    // A host that failed its verify actions ends the step: the next one checks the error budget.
    if (r.decision.hosts?.some((p) => p.name === h.name && p.status === 'failed')) return merge(...c.parts);
    for (const p of r.decision.hosts ?? []) if (p.name === h.name && p.status) c.over.set(h.name, p.status);
  }
  return null;
}
