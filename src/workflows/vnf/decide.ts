// The `vnf` workflow (spec §6, ETSI FEAT03) and `k8s` (the same with EVICTION as the default
// action). After the MAINTENANCE round it plans the whole session (src/planner), persists the plan
// in the session's phase and follows it: batches of hosts start in the planned order, every
// instance is asked on its own (PREPARE/PLANNED_MAINTENANCE with a one-element `instance_ids` and a
// per-instance reply_url) early enough that its lead_time has passed when its target is ready, and
// moves to its planned target when its group allows (max_impacted_members, recovery_time); targets
// are checked live (capacity, anti-affinity, max_instances_per_host) and chosen again when the
// world changed. Hosts are maintained as soon as they are empty, many at once. docs/vnf.md.
import { groupRules, instanceRules, type GroupRules, type InstanceRules, type PersistedPlan, type PlanEstimates } from '../../domain/constraints.js';
import type { Decision, InstancePatch } from '../../domain/decision.js';
import { merge, minWake } from '../../domain/decision.js';
import type { HostInfo, InstanceInfo } from '../../domain/infra.js';
import type { NewEvent, Op, SessionHost, SessionInstance } from '../../domain/model.js';
import type { Snapshot } from '../../domain/snapshot.js';
import type { InstanceAction, ReplyState } from '../../domain/states.js';
import { freeCapacity } from '../../planner/capacity.js';
import { estimatesOf, planInput } from '../../planner/input.js';
import { Placement, type Placeable } from '../../planner/placement.js';
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
} from '../common.js';

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
  const inv = syncInventory(s, now);
  if (inv) return inv;
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
    projects: asked.filter((p) => s.projects.some((x) => x.projectId === p)),
    windowS: s.session.options.scaleInReplyWindowS,
    allowedActions: [],
    actionsAt: now,
  });
  return orFail(s, now, r) ?? merge(r.decision, toPlan(policy, s, now));
}

// ---- following the plan ---------------------------------------------------------------------

interface Ctx {
  policy: ActionPolicy;
  s: Snapshot;
  now: number;
  plan: PersistedPlan;
  est: PlanEstimates;
  a: string;
  status: Map<string, SessionHost['status']>;
  host: Map<string, SessionHost>;
  obsHost: Map<string, HostInfo>;
  obsOn: Map<string, InstanceInfo[]>;
  obsInst: Map<string, InstanceInfo>;
  op: Map<string, Op>;
  groups: Map<string, GroupRules>;
  rules: Map<string, InstanceRules>;
  planned: Map<string, string>;
  rank: Map<string, number>;
  subscribed: Set<string>;
  parts: Decision[];
  wake: number | null;
}

const moveKey = (c: Ctx, iid: string, from: string) => `move:${c.a}:${iid}:${from}`;
const askKeyOf = (c: Ctx, iid: string, from: string) => `${c.a}:${iid}:${from}`;
const instanceUrl = (s: Snapshot, pid: string, iid: string) => `${projectUrl(s, pid)}/${encodeURIComponent(iid)}`;
const wakeAt = (c: Ctx, t: number) => {
  c.wake = minWake(c.wake, t);
};
const rulesOf = (c: Ctx, iid: string): InstanceRules => c.rules.get(iid) ?? instanceRules(undefined);
const groupOf = (c: Ctx, r: InstanceRules): GroupRules | null => (r.groupId ? (c.groups.get(r.groupId) ?? null) : null);

function context(policy: ActionPolicy, s: Snapshot, now: number, plan: PersistedPlan): Ctx {
  const obsOn = new Map<string, InstanceInfo[]>();
  for (const i of s.observed.instances) {
    const l = obsOn.get(i.host);
    if (l) l.push(i);
    else obsOn.set(i.host, [i]);
  }
  const planned = new Map<string, string>();
  for (const [from, list] of Object.entries(plan.moves)) for (const [iid, to] of list) planned.set(`${from}|${iid}`, to);
  const rank = new Map<string, number>();
  plan.batches.forEach((b, k) => b.hosts.forEach((h, j) => rank.set(h, k * 100_000 + j)));
  return {
    policy,
    s,
    now,
    plan,
    est: estimates(s),
    a: attempt(s),
    status: new Map(s.hosts.map((h) => [h.name, h.status])),
    host: new Map(s.hosts.map((h) => [h.name, h])),
    obsHost: new Map(s.observed.hosts.map((h) => [h.name, h])),
    obsOn,
    obsInst: new Map(s.observed.instances.map((i) => [i.id, i])),
    op: new Map(s.ops.map((o) => [o.key, o])),
    groups: new Map((s.constraints?.groups ?? []).map((g) => [g.groupId, groupRules(g)])),
    rules: new Map((s.constraints?.instances ?? []).map((i) => [i.instanceId, instanceRules(i)])),
    planned,
    rank,
    subscribed: new Set(s.subscribedProjects),
    parts: [],
    wake: null,
  };
}

/** The snapshot as far as one host is concerned: lets the shared host steps run without scanning everything. */
function hostView(s: Snapshot, opsByHost: Map<string, Op[]>, eventsByHost: Map<string, string[]>, host: string): Snapshot {
  return { ...s, ops: opsByHost.get(host) ?? [], eventKeys: eventsByHost.get(host) ?? [] };
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
  const left = s.hosts.filter((h) => c.status.get(h.name) !== 'maintained');
  const maintained = s.hosts.length - left.length;
  if (!left.length) return merge(d, transition(s, now, 'MAINTENANCE_COMPLETE', 'every host is maintained'));
  const out: Decision = { ...d };
  if (maintained !== s.hosts.filter((h) => h.status === 'maintained').length)
    out.session = { ...out.session, percentDone: Math.floor((maintained / s.hosts.length) * 95) };
  if (s.session.state === 'PREPARE_MAINTENANCE' && maintained > 0)
    return merge(out, transition(s, now, 'PLANNED_MAINTENANCE', 'the first hosts are maintained; instances now move to maintained hosts'));
  if (c.wake !== null) out.wakeAt = minWake(out.wakeAt, c.wake);
  return out;
}

/** Start the next batches of the plan: in order, each once the hosts it waits for are far enough. */
function startBatches(c: Ctx): void {
  const { s, now, plan } = c;
  const limit = s.session.options.maxParallelHosts;
  let out = [...c.status.values()].filter((x) => x === 'emptying' || x === 'maintaining').length;
  for (let k = 0; k < plan.batches.length; k++) {
    const b = plan.batches[k]!;
    const mine = b.hosts.filter((h) => c.status.has(h));
    if (mine.some((h) => c.status.get(h) !== 'pending')) continue;
    const ready = b.waitFor.every((h) => {
      const st = c.status.get(h);
      const compute = c.host.get(h)?.type === 'compute';
      return st === 'maintained' || (compute && st === 'maintaining') || st === undefined;
    });
    if (!ready) break;
    if (limit > 0 && out > 0 && out + mine.length > limit) break;
    for (const h of mine) c.status.set(h, 'emptying');
    out += mine.length;
    if (mine.length)
      c.parts.push({
        hosts: mine.map((name) => ({ name, status: 'emptying' as const })),
        timeline: [{ at: now, kind: 'batch', message: `batch ${k + 1}/${plan.batches.length}: ${mine.join(', ')}` }],
      });
  }
}

/** Moves that finished (or failed) since the last look. */
function finishMoves(c: Ctx): { failed?: Decision } {
  const { s, now } = c;
  for (const rec of s.instances) {
    if (rec.status !== 'moving') continue;
    const from = rec.host;
    const op = c.op.get(moveKey(c, rec.instanceId, from));
    if (!op || op.status === 'pending' || op.status === 'started') continue;
    if (op.status === 'failed') {
      const reason = `moving ${rec.instanceId} off ${from} failed: ${op.error}`;
      return { failed: merge(...c.parts, { instances: [{ instanceId: rec.instanceId, status: 'failed', error: op.error }] }, fail(s, now, reason)) };
    }
    const landed = String(op.result?.host ?? op.args.target ?? rec.host);
    const events: NewEvent[] = c.subscribed.has(rec.projectId)
      ? [
          {
            key: `done:${c.a}:${rec.instanceId}:${from}`,
            eventType: 'maintenance.scheduled',
            projectId: rec.projectId,
            payload: {
              service: 'fenix',
              project_id: rec.projectId,
              session_id: s.session.id,
              state: 'INSTANCE_ACTION_DONE',
              instance_ids: [rec.instanceId],
              allowed_actions: [],
              reply_url: instanceUrl(s, rec.projectId, rec.instanceId),
              actions_at: null,
              reply_at: null,
              metadata: s.session.metadata,
            },
          },
        ]
      : [];
    c.parts.push({
      instances: [{ instanceId: rec.instanceId, status: 'moved', host: landed, moves: rec.moves + 1, action: null, askState: null }],
      events,
      timeline: [{ at: now, kind: 'instance', message: `${rec.instanceId} moved ${from} → ${landed} (${String(op.args.kind)})`, data: { from, to: landed, action: op.args.kind, started: op.startedAt, finished: op.finishedAt } }],
    });
  }
  return {};
}

/** When a target can take instances: now, when its maintenance should end, or never (being emptied). */
function targetReadyAt(c: Ctx, target: string): number | null {
  const st = c.status.get(target);
  if (st === undefined || st === 'maintained' || st === 'pending') return c.now;
  if (st === 'emptying') return null;
  const hm = c.op.get(`hm:${c.a}:${target}`);
  const since = hm?.startedAt ?? hm?.createdAt ?? c.now;
  return Math.max(c.now, since + c.est.hostMaintenanceS * 1000);
}

/** Whether `target` may take instances now: enabled, compute, and not waiting for its own turn. */
function targetUsable(c: Ctx, target: string, firstMove: boolean): boolean {
  const o = c.obsHost.get(target);
  if (!o || o.type !== 'compute' || !o.enabled) return false;
  const st = c.status.get(target);
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

/** Per-instance asks and moves on the hosts being emptied. Returns a decision only when the session fails. */
function askAndMove(c: Ctx): Decision | null {
  const { s, now, est } = c;
  const window = s.session.options.replyWindowS * 1000;
  const ready: Candidate[] = [];
  const emptying = s.hosts.filter((h) => c.status.get(h.name) === 'emptying' && h.type === 'compute');
  if (!emptying.length) return null;
  const emptyingSet = new Set(emptying.map((h) => h.name));
  const patches: InstancePatch[] = [];
  const events: NewEvent[] = [];
  const notes: NonNullable<Decision['timeline']> = [];
  const allowed = ALLOWED_ACTIONS[c.policy];

  for (const rec of s.instances) {
    if (rec.status === 'gone' || rec.status === 'moving' || rec.status === 'failed' || !emptyingSet.has(rec.host)) continue;
    const from = rec.host;
    const obs = c.obsInst.get(rec.instanceId);
    if (!obs || obs.host !== from) continue;
    const rules = rulesOf(c, rec.instanceId);
    const group = groupOf(c, rules);
    const key = askKeyOf(c, rec.instanceId, from);
    const fallback = defaultAction(c.policy, rec, rules);
    if (rec.askKey !== key) {
      // Not asked yet: ask so that the notice has passed when the target can take it.
      const target = c.planned.get(`${from}|${rec.instanceId}`);
      const at = target ? targetReadyAt(c, target) : now;
      const interacting = c.subscribed.has(rec.projectId);
      const lead = rules.leadS * 1000;
      const notice = Math.max(lead, interacting ? est.replyS * 1000 : 0);
      const notifyAt = Math.max(now, (at ?? now) - notice);
      if (notifyAt > now) {
        wakeAt(c, notifyAt);
        continue;
      }
      const targetStatus = target ? c.status.get(target) : undefined;
      const state: ReplyState = targetStatus === 'maintained' || targetStatus === 'maintaining' ? 'PLANNED_MAINTENANCE' : 'PREPARE_MAINTENANCE';
      const replyAt = now + window;
      patches.push({
        instanceId: rec.instanceId,
        askState: interacting ? state : null,
        askKey: key,
        notifiedAt: now,
        replyAt,
        reply: interacting ? null : `ACK_${state}`,
        repliedAt: interacting ? null : now,
        action: interacting ? null : fallback,
      });
      if (interacting)
        events.push({
          key: `iask:${key}`,
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
            actions_at: iso(Math.max(now + lead, at ?? now)),
            reply_at: iso(replyAt),
            metadata: s.session.metadata,
          },
        });
      continue;
    }
    if (rec.reply?.startsWith('NACK_')) return merge(...c.parts, fail(s, now, `project ${rec.projectId} answered ${rec.reply} for ${rec.instanceId}`));
    if (!rec.reply) {
      if (rec.replyAt != null && now >= rec.replyAt) {
        const del = s.deliveries[`iask:${key}`];
        if (del && del.delivered > 0)
          return merge(...c.parts, fail(s, now, `project ${rec.projectId} did not answer ${rec.askState ?? 'the notification'} for ${rec.instanceId} by ${iso(rec.replyAt)}`));
        // Never delivered: the project gets the default behaviour for this instance.
        patches.push({ instanceId: rec.instanceId, reply: `ACK_${rec.askState ?? 'PLANNED_MAINTENANCE'}`, repliedAt: now, askState: null, action: fallback });
        notes.push({ at: now, kind: 'default_behaviour', message: `${rec.projectId} could not be reached about ${rec.instanceId}: acting on its behalf (${fallback})` });
      } else if (rec.replyAt != null) wakeAt(c, rec.replyAt);
      continue;
    }
    const readyAt = (rec.notifiedAt ?? now) + rules.leadS * 1000;
    if (now < readyAt) {
      wakeAt(c, readyAt);
      continue;
    }
    let action = rec.action ?? fallback;
    if (!allowed.includes(action)) {
      notes.push({ at: now, kind: 'instance', message: `${rec.instanceId}: ${action} is not offered by the ${c.policy} workflow; ${fallback} instead` });
      action = fallback;
    }
    if (action === 'OWN_ACTION') {
      const deadline = (rec.repliedAt ?? now) + s.session.options.ownActionTimeoutS * 1000;
      if (now >= deadline) return merge(...c.parts, fail(s, now, `${rec.instanceId} is still on ${from} ${s.session.options.ownActionTimeoutS}s after its OWN_ACTION was acknowledged`));
      wakeAt(c, deadline);
      continue;
    }
    ready.push({ rec, from, action, rules, group, rank: c.rank.get(from) ?? Number.MAX_SAFE_INTEGER });
  }

  if (ready.length) startMoves(c, ready, patches, notes);
  if (patches.length || events.length || notes.length) c.parts.push({ instances: patches, events, timeline: notes });
  return null;
}

/** Start the moves whose group has room, to their planned target (or another valid one). */
function startMoves(c: Ctx, ready: Candidate[], patches: InstancePatch[], notes: NonNullable<Decision['timeline']>): void {
  const { s, now } = c;
  // The world as it is: placed instances plus the targets of moves in flight.
  const placement = new Placement(s.observed.hosts.map((h) => ({ name: h.name, capacity: h.vcpus })));
  const placeable = (iid: string, vcpus: number): Placeable => ({ id: iid, vcpus, group: groupOf(c, rulesOf(c, iid)) });
  for (const i of s.observed.instances) placement.add(placeable(i.id, i.vcpus), i.host);
  const impacted = new Map<string, number>();
  const bump = (g: string) => impacted.set(g, (impacted.get(g) ?? 0) + 1);
  for (const rec of s.instances) {
    const g = groupOf(c, rulesOf(c, rec.instanceId));
    if (rec.status === 'moving') {
      const op = c.op.get(moveKey(c, rec.instanceId, rec.host));
      const to = op?.args.target;
      if (typeof to === 'string' && placement.has(to) && op?.status !== 'done') placement.add(placeable(rec.instanceId, rec.vcpus), to);
      if (g) bump(g.groupId);
    } else if (g && rec.status !== 'gone' && rec.askKey && rec.reply?.startsWith('ACK_') && rec.action === 'OWN_ACTION' && c.status.get(rec.host) === 'emptying') {
      bump(g.groupId); // the application is moving it itself
    }
  }
  // Members whose move ended less than recovery_time ago still count as impacted.
  for (const op of s.ops) {
    if (op.kind !== 'move' || op.status !== 'done' || op.finishedAt === null) continue;
    const g = groupOf(c, rulesOf(c, op.subject));
    if (!g || g.maxImpacted <= 0) continue;
    const until = op.finishedAt + g.recoveryS * 1000;
    if (until > now) {
      bump(g.groupId);
      wakeAt(c, until);
    }
  }
  const tier1 = s.observed.hosts.filter((h) => h.type === 'compute' && targetUsable(c, h.name, false)).map((h) => h.name).sort();
  const byPlan = (h: string) => c.rank.get(h) ?? Number.MAX_SAFE_INTEGER;
  const tier2 = s.observed.hosts
    .filter((h) => h.type === 'compute' && c.status.get(h.name) === 'pending' && targetUsable(c, h.name, true))
    .map((h) => h.name)
    .sort((a, b) => byPlan(a) - byPlan(b) || (a < b ? -1 : 1));

  ready.sort((a, b) => a.rank - b.rank || (a.rec.instanceId < b.rec.instanceId ? -1 : 1));
  const ops: Decision['ops'] = [];
  for (const r of ready) {
    const g = r.group;
    if (g && g.maxImpacted > 0 && (impacted.get(g.groupId) ?? 0) >= g.maxImpacted) continue;
    const p = placeable(r.rec.instanceId, r.rec.vcpus);
    const first = r.rec.moves === 0;
    const planned = c.planned.get(`${r.from}|${r.rec.instanceId}`);
    let target: string | null = null;
    if (planned) {
      const at = targetReadyAt(c, planned);
      if (at !== null && at > now) continue; // its target is still in maintenance; its end wakes the session
      if (at !== null && targetUsable(c, planned, first) && !placement.refusal(p, planned)) target = planned;
    }
    if (!target) {
      const self = (h: string) => h === r.from;
      target = placement.bestFit(p, tier1, self) ?? (first ? placement.bestFit(p, tier2, self) : null);
      if (!target) continue; // nowhere right now: capacity comes back as hosts are maintained
      notes.push({ at: now, kind: 'instance', message: `${r.rec.instanceId}: ${planned ? `planned target ${planned} cannot take it now; ` : ''}moving to ${target}` });
    }
    placement.add(p, target);
    if (g) bump(g.groupId);
    ops.push({ key: moveKey(c, r.rec.instanceId, r.from), kind: 'move', subject: r.rec.instanceId, args: { kind: r.action, from: r.from, target } });
    patches.push({ instanceId: r.rec.instanceId, status: 'moving', action: r.action, askState: null });
    notes.push({ at: now, kind: 'instance', message: `${r.action} ${r.rec.instanceId} ${r.from} → ${target}` });
  }
  if (ops.length) c.parts.push({ ops });
}

/** Hosts that are empty go into maintenance; hosts in maintenance go on. */
function maintainHosts(c: Ctx): Decision | null {
  const { s, now } = c;
  const busy = s.hosts.filter((h) => {
    const st = c.status.get(h.name);
    return st === 'emptying' || st === 'maintaining';
  });
  if (!busy.length) return null;
  const opsByHost = new Map<string, Op[]>();
  for (const o of s.ops) {
    const h = o.kind === 'plugin' ? (typeof o.args.host === 'string' ? o.args.host : null) : o.kind === 'move' ? null : o.subject;
    if (!h) continue;
    const l = opsByHost.get(h);
    if (l) l.push(o);
    else opsByHost.set(h, [o]);
  }
  const eventsByHost = new Map<string, string[]>();
  for (const k of s.eventKeys) {
    if (!k.startsWith('host:')) continue;
    const h = k.slice(k.indexOf(':', 5) + 1, k.lastIndexOf(':'));
    const l = eventsByHost.get(h);
    if (l) l.push(k);
    else eventsByHost.set(h, [k]);
  }
  const moving = new Set(s.instances.filter((i) => i.status === 'moving').flatMap((i) => [i.host, String(c.op.get(moveKey(c, i.instanceId, i.host))?.args.target ?? '')]));
  for (const h of busy) {
    const view = hostView(s, opsByHost, eventsByHost, h.name);
    if (c.status.get(h.name) === 'emptying' && h.type === 'compute') {
      // Being emptied: no new instances land on it (recorded as found, put back after its maintenance).
      if (!h.disabledByUs && h.originalEnabled === null) {
        const off = disableHost(view, now, h.name);
        if (off.status === 'failed') return merge(...c.parts, fail(s, now, off.reason));
        c.parts.push(off.decision);
        continue;
      }
      if ((c.obsOn.get(h.name)?.length ?? 0) > 0 || moving.has(h.name)) continue;
    }
    const r = maintainHost(view, now, h.name);
    if (r.status === 'failed') return merge(...c.parts, r.decision, fail(s, now, r.reason));
    c.parts.push(r.decision);
    for (const p of r.decision.hosts ?? []) if (p.name === h.name && p.status) c.status.set(h.name, p.status);
  }
  return null;
}

