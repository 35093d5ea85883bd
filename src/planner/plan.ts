// The vnf / k8s planner (docs/vnf.md): from the inventory, capacity and constraints, the order in
// which hosts are emptied and maintained, in batches, with every instance's move (target, times),
// the expected duration, the capacity headroom at each batch, a lower bound, and — when the
// session cannot succeed — the reasons. Pure and deterministic: the workflow persists its result
// and follows it, and the dry-run API shows the same thing before a session exists.
//
// How: a discrete-event simulation of the policy the workflow executes.
// - At the start and whenever a host finishes maintenance, start a batch: take pending hosts
//   (emptiest first), and start each one whose instances can all be given a target now: a
//   maintained host or a host outside the session (tier 1), else — for an instance not yet moved —
//   a host that is maintained later (tier 2: it moves again then; this is what gets a full cloud
//   going). Targets are reserved when the batch starts. `max_parallel_hosts` caps hosts out at once;
//   non-compute hosts go one at a time.
// - Each instance of a started host is notified at once and may move after max(reply, lead_time);
//   a group never has more than max_impacted_members impacted, an impact lasting from the move's
//   start to its end plus recovery_time.
// - A host is maintained once empty; when it is done it takes instances.
import {
  groupRules,
  instanceRules,
  type Constraints,
  type GroupRules,
  type InstanceRules,
  type PersistedPlan,
  type PlanEstimates,
} from '../domain/constraints.js';
import type { HostType, InstanceAction } from '../domain/states.js';
import { EventQueue } from './heap.js';
import { lowerBound, type BoundGroup, type BoundHost, type LowerBound } from './lower-bound.js';
import { describeRefusal, Placement, type HostPool, type Placeable, type Refusal } from './placement.js';
import { SortedList } from '../domain/sorted-list.js';

export type ActionPolicy = 'vnf' | 'k8s';

export interface PlanHost {
  name: string;
  type: HostType;
  vcpus: number;
  /** Scheduling enabled: may take instances (after its maintenance, for a host of the session). */
  enabled: boolean;
  /** Part of the session (to be maintained). */
  inSession: boolean;
  /** Already maintained by this session (takes instances, needs nothing more). */
  maintained?: boolean;
}

export interface PlanInstance {
  id: string;
  projectId: string;
  host: string;
  vcpus: number;
  liveMigratable: boolean;
}

export interface PlanInput {
  hosts: PlanHost[];
  instances: PlanInstance[];
  constraints: Constraints;
  estimates: PlanEstimates;
  policy: ActionPolicy;
  /** Hosts in maintenance (emptying or maintained) at once; 0 = as many as capacity allows. */
  maxParallelHosts?: number;
  /** Actions already chosen (replies), by instance id. */
  actions?: Record<string, InstanceAction>;
  /** Projects that answer notifications; the others get the default behaviour at once. Default: all. */
  replyingProjects?: string[];
  /** Allow a first move onto a host maintained later (default true). */
  allowDoubleMoves?: boolean;
}

export interface PlanReason {
  kind: 'capacity' | 'group' | 'constraint';
  severity: 'error' | 'warning';
  message: string;
  host?: string;
  instance?: string;
  group?: string;
  constraint?: string;
  /** vCPUs that would have to be freed (capacity). */
  missingVcpus?: number;
}

export interface PlannedMove {
  instance: string;
  project: string;
  from: string;
  to: string;
  action: InstanceAction;
  batch: number;
  /** The instance's second move (its first landed on a host maintained later). */
  second: boolean;
  /** Seconds after the plan starts. */
  notifyS: number;
  startS: number;
  endS: number;
}

export interface Headroom {
  /** vCPUs free on hosts that may take instances now (before this batch's reservations). */
  freeVcpus: number;
  /** Of which on maintained / outside hosts. */
  freeMaintainedVcpus: number;
  /** vCPUs this batch reserved on targets. */
  reservedVcpus: number;
  /** Hosts out of service (emptying or in maintenance) once the batch started. */
  hostsOut: number;
}

export interface PlannedBatch {
  index: number;
  hosts: string[];
  /** Hosts that finished maintenance since the previous batch started: this batch waits for them. */
  waitFor: string[];
  startS: number;
  /** When its last host is maintained. */
  doneS: number;
  headroom: Headroom;
}

export interface PlannedHost {
  name: string;
  type: HostType;
  batch: number;
  instances: number;
  startS: number;
  emptyS: number;
  maintainedS: number;
}

export interface Plan {
  feasible: boolean;
  reasons: PlanReason[];
  /** Hosts in the order they are started. */
  order: string[];
  batches: PlannedBatch[];
  hosts: PlannedHost[];
  moves: PlannedMove[];
  /** Expected duration of the action phase (s). */
  durationS: number;
  lowerBound: LowerBound;
  /** vCPUs to free (scale in) before the plan can start; 0 when feasible. */
  missingVcpus: number;
  stats: { hosts: number; instances: number; moves: number; doubleMoves: number; maxHostsOut: number; batches: number };
  estimates: PlanEstimates;
}

/** The action an instance gets unless its project answers otherwise. */
export function defaultAction(policy: ActionPolicy, inst: { liveMigratable: boolean }, rules: InstanceRules): InstanceAction {
  if (rules.migrationType) return rules.migrationType;
  if (policy === 'k8s') return 'EVICTION';
  return inst.liveMigratable ? 'LIVE_MIGRATE' : 'MIGRATE';
}

export function moveSeconds(action: InstanceAction, est: PlanEstimates): number {
  if (action === 'LIVE_MIGRATE') return est.liveMigrateS;
  if (action === 'EVICTION') return est.evictS;
  return est.migrateS;
}

/** How long the instance is down while it moves (live migration: none to speak of). */
export function interruptionSeconds(action: InstanceAction, est: PlanEstimates): number {
  if (action === 'LIVE_MIGRATE' || action === 'OWN_ACTION') return 0;
  return moveSeconds(action, est);
}

/** Groups and instance rules, indexed, with defaults applied. */
export function indexConstraints(c: Constraints): { groups: Map<string, GroupRules>; instances: Map<string, InstanceRules> } {
  const groups = new Map<string, GroupRules>();
  for (const g of c.groups) groups.set(g.groupId, groupRules(g));
  const instances = new Map<string, InstanceRules>();
  for (const i of c.instances) instances.set(i.instanceId, instanceRules(i));
  return { groups, instances };
}

// ---- simulation state --------------------------------------------------------------------------

type HostStatus = 'outside' | 'pending' | 'active' | 'maintaining' | 'maintained';

interface H {
  name: string;
  type: HostType;
  cap: number;
  enabled: boolean;
  compute: boolean;
  status: HostStatus;
  inSession: boolean;
  /** Instances on it, in no particular order (each knows its `slot` here: O(1) removal). */
  insts: I[];
  /** vCPUs of `insts`. */
  used: number;
  inbound: number;
  remaining: number;
  batch: number;
  count: number;
  startMs: number;
  emptyMs: number;
  maintainedMs: number;
  /** Start order (priority of its moves in every group). */
  rank: number;
  /** In the candidate order (pending compute host with nothing inbound). */
  queued: boolean;
}

interface I {
  id: string;
  project: string;
  vcpus: number;
  live: boolean;
  host: string;
  p: Placeable;
  rules: InstanceRules;
  action: InstanceAction;
  moveMs: number;
  readyMs: number;
  moves: number;
  /** Index in its host's `insts`. */
  slot: number;
  /** Number of its group when the group limits max_impacted_members, else -1. */
  gi: number;
}

interface Mv {
  i: I;
  src: H;
  from: string;
  to: string;
  batch: number;
  second: boolean;
  notifyMs: number;
  readyAt: number;
  startMs: number;
  endMs: number;
  seq: number;
}

type Ev = { kind: 'ready'; mv: Mv } | { kind: 'moveEnd'; mv: Mv } | { kind: 'slotFree'; gi: number } | { kind: 'maintained'; host: H };

const byName = <T extends { name: string }>(a: T, b: T) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
/** The order a batch tries pending hosts in: least used, then fewest instances, then name. */
const byLoad = (a: H, b: H) => a.used - b.used || a.insts.length - b.insts.length || byName(a, b);
/** Place and remove an instance in its host's list, O(1) (the last one takes the freed slot). */
const putOn = (h: H, i: I) => {
  i.slot = h.insts.length;
  h.insts.push(i);
};
const takeOff = (h: H, i: I) => {
  const last = h.insts.pop()!;
  if (last !== i) {
    h.insts[i.slot] = last;
    last.slot = i.slot;
  }
};

const ms = (s: number) => Math.round(s * 1000);
const sec = (m: number) => m / 1000;
/** Failed candidates in a row after which a batch stops looking (the rest are fuller). */
const MAX_MISSES = 4;

// Cost (n instances, m hosts, k moves): O(n log n + m log m + k·(log m + b)), b being what a
// best-fit query walks — the distinct free-vCPU values plus the hosts the instance's group refuses
// (HostPool). Each batch touches only the hosts it tries, each event only its move, host or group
// (SortedList, EventQueue): no step scans every host or instance per batch or per move.
export function planMaintenance(input: PlanInput): Plan {
  const est = input.estimates;
  const thMs = ms(est.hostMaintenanceS);
  const maxParallel = Math.max(0, input.maxParallelHosts ?? 0);
  const allowDouble = input.allowDoubleMoves !== false;
  const replying = input.replyingProjects ? new Set(input.replyingProjects) : null;
  const { groups, instances: irules } = indexConstraints(input.constraints);
  const reasons: PlanReason[] = [];

  // ---- hosts and instances
  const hosts = new Map<string, H>();
  for (const h of [...input.hosts].sort(byName)) {
    hosts.set(h.name, {
      name: h.name,
      type: h.type,
      cap: h.vcpus,
      enabled: h.enabled,
      compute: h.type === 'compute',
      inSession: h.inSession,
      status: !h.inSession ? 'outside' : h.maintained ? 'maintained' : 'pending',
      insts: [],
      used: 0,
      inbound: 0,
      remaining: 0,
      batch: -1,
      count: 0,
      startMs: -1,
      emptyMs: -1,
      maintainedMs: h.maintained ? 0 : -1,
      rank: -1,
      queued: false,
    });
  }
  const placement = new Placement([...hosts.values()].map((h) => ({ name: h.name, capacity: h.cap })));
  // Groups that limit max_impacted_members, numbered in id order (the order their queues are served).
  const limited = [...groups.values()].filter((g) => g.maxImpacted > 0).sort((a, b) => (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0));
  const gIndex = new Map(limited.map((g, k) => [g.groupId, k]));
  const unknownGroups = new Set<string>();
  let lastId: string | null = null;
  for (const x of [...input.instances].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
    const h = hosts.get(x.host);
    if (!h || x.id === lastId) continue; // an id listed twice counts once
    lastId = x.id;
    const rules = irules.get(x.id) ?? instanceRules(undefined);
    const group = rules.groupId ? (groups.get(rules.groupId) ?? null) : null;
    if (rules.groupId && !group) unknownGroups.add(rules.groupId);
    let action = input.actions?.[x.id] ?? defaultAction(input.policy, x, rules);
    if (rules.maxInterruptionS !== null && interruptionSeconds(action, est) > rules.maxInterruptionS) {
      if (!input.actions?.[x.id] && !rules.migrationType && x.liveMigratable && input.policy === 'vnf') action = 'LIVE_MIGRATE';
      else if (h.status === 'pending')
        reasons.push({
          kind: 'constraint',
          severity: 'warning',
          instance: x.id,
          constraint: 'max_interruption_time',
          message: `${x.id}: ${action} interrupts it for about ${interruptionSeconds(action, est)}s, more than its max_interruption_time ${rules.maxInterruptionS}s`,
        });
    }
    const replyS = replying && !replying.has(x.projectId) ? 0 : est.replyS;
    const i: I = {
      id: x.id,
      project: x.projectId,
      vcpus: x.vcpus,
      live: x.liveMigratable,
      host: x.host,
      p: { id: x.id, vcpus: x.vcpus, group },
      rules,
      action,
      moveMs: ms(moveSeconds(action, est)),
      readyMs: ms(Math.max(replyS, rules.leadS)),
      moves: 0,
      slot: -1,
      gi: group ? (gIndex.get(group.groupId) ?? -1) : -1,
    };
    putOn(h, i);
    h.used += i.vcpus;
    placement.add(i.p, h.name);
  }
  for (const g of [...unknownGroups].sort())
    reasons.push({ kind: 'constraint', severity: 'warning', group: g, constraint: 'group_id', message: `group ${g} is referenced by instances but has no constraints: its members are treated as ungrouped` });
  // O(members): only the hosts holding the group's members, in host name order.
  for (const [gid, g] of groups) {
    if (!g.antiAffinity) continue;
    for (const [h, n] of placement.hostsOf(gid).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      if (n > 1) reasons.push({ kind: 'group', severity: 'warning', group: gid, host: h, constraint: 'anti_affinity', message: `anti-affinity group ${gid} already has ${n} members on ${h}` });
  }

  // ---- lower bound (from the initial state)
  const session = [...hosts.values()].filter((h) => h.inSession && h.status !== 'maintained');
  const boundHosts: BoundHost[] = session.map((h) => ({
    compute: h.compute,
    vcpus: h.cap,
    enabled: h.enabled,
    instances: h.insts.map((i) => ({ vcpus: i.vcpus, readyS: sec(i.readyMs), moveS: sec(i.moveMs), group: i.p.group && i.p.group.maxImpacted > 0 ? i.p.group.groupId : null })),
  }));
  const boundGroups: BoundGroup[] = [...groups.values()].map((g) => ({ id: g.groupId, maxImpacted: g.maxImpacted, recoveryS: g.recoveryS }));
  let capacity = 0;
  let used = 0;
  for (const h of hosts.values()) {
    if (!h.compute) continue;
    if (h.enabled) capacity += h.cap;
    used += h.used;
  }
  const bound = lowerBound({ hosts: boundHosts, capacity, used, groups: boundGroups, hostMaintenanceS: est.hostMaintenanceS, maxParallelHosts: maxParallel });

  // ---- target tiers: now (maintained / outside), soon (in maintenance), later (pending: moves again).
  // Pools indexed by free vCPUs (best fit without scanning every host), in the order hosts joined.
  const tier1: HostPool = placement.pool();
  const tierSoon: HostPool = placement.pool();
  const tier2: HostPool = placement.pool();
  for (const h of hosts.values()) {
    if (!h.compute || !h.enabled) continue;
    if (h.status === 'outside' || h.status === 'maintained') tier1.add(h.name);
    else if (h.status === 'pending') tier2.add(h.name);
  }
  // Pending compute hosts with nothing inbound, in the order a batch tries them (byLoad); a host's
  // key only changes while something is inbound, i.e. while it is out of this list.
  const candidates = new SortedList<H>(byLoad);
  const enqueue = (h: H) => {
    candidates.insert(h);
    h.queued = true;
  };
  const dequeue = (h: H) => {
    candidates.delete(h);
    h.queued = false;
  };
  for (const h of hosts.values()) if (h.compute && h.status === 'pending') enqueue(h);
  // Non-compute hosts to maintain, one at a time in name order.
  const nonCompute = [...hosts.values()].filter((h) => !h.compute && h.status === 'pending');
  let nextNonCompute = 0;
  let nonComputeOut = 0;

  // ---- simulation
  const events = new EventQueue<Ev>();
  const moves: Mv[] = [];
  const batches: { hosts: H[]; waitFor: string[]; startMs: number; headroom: Headroom }[] = [];
  // Per limited group (by number): moves ready and waiting for a slot, in priority order; members
  // impacted now; whether it may start some (served in group number order).
  // Priority: the source host's start rank, then the move's number.
  const readyQ = limited.map(() => new SortedList<Mv>((a, b) => a.src.rank - b.src.rank || a.seq - b.seq));
  const impacted: number[] = limited.map(() => 0);
  const isDirty = new Uint8Array(limited.length);
  let dirty: number[] = [];
  const markDirty = (gi: number) => {
    if (isDirty[gi]) return;
    isDirty[gi] = 1;
    dirty.push(gi);
  };
  /** Moves whose target is still in maintenance, by target. */
  const onTarget = new Map<string, Mv[]>();
  let newlyEmptied: string[] = [];
  let lastNonCompute: string | null = null;
  let out = 0;
  let ranked = 0;
  let maxOut = 0;
  let trigger = true;

  const startMove = (mv: Mv, t: number) => {
    mv.startMs = t;
    if (mv.i.gi >= 0) impacted[mv.i.gi]!++;
    events.push(t + mv.i.moveMs, { kind: 'moveEnd', mv });
  };

  /** Ready and its target can take it: move now, or queue for a slot of its group. */
  const eligible = (mv: Mv, t: number) => {
    const gi = mv.i.gi;
    if (gi >= 0) {
      // One priority for every group (the host's start order): the first hosts get their members
      // moved first in all their groups, so they empty early instead of all waiting on each other.
      readyQ[gi]!.insert(mv);
      markDirty(gi);
    } else startMove(mv, t);
  };

  /** Start what the groups marked since the last call have room for: O(d log d + moves started). */
  const startReady = (t: number) => {
    const list = dirty.sort((a, b) => a - b);
    dirty = [];
    for (const gi of list) {
      isDirty[gi] = 0;
      const q = readyQ[gi]!;
      const max = limited[gi]!.maxImpacted;
      while (q.size && impacted[gi]! < max) startMove(q.shift()!, t);
    }
  };

  const hostEmpty = (h: H, t: number) => {
    h.status = 'maintaining';
    h.emptyMs = t;
    h.maintainedMs = t + thMs;
    if (h.compute) {
      if (h.enabled) tierSoon.add(h.name);
      newlyEmptied.push(h.name);
      trigger = true;
    }
    events.push(h.maintainedMs, { kind: 'maintained', host: h });
  };

  /**
   * Give every instance of `c` a target, or undo and say which instance fits nowhere.
   * O(j log j + j·b) for j instances on `c`, b = what a HostPool best fit walks.
   */
  const assign = (c: H, inBatch: Set<string>): { ok: true; moves: [I, string][] } | { ok: false; inst: I } => {
    const list = [...c.insts].sort((a, b) => b.vcpus - a.vcpus || (a.id < b.id ? -1 : 1));
    const done: [I, string][] = [];
    const self = (h: string) => h === c.name;
    for (const i of list) {
      let to = tier1.bestFit(i.p, self) ?? tierSoon.bestFit(i.p, self);
      // A host maintained later (the instance moves again then): best fit, so the fullest hosts,
      // which are emptied last, take them and the emptiest stay free to be emptied first.
      if (!to && allowDouble && i.moves === 0) to = tier2.bestFit(i.p, (h) => h === c.name || inBatch.has(h));
      if (!to) {
        for (const [j, h] of done) placement.remove(j.p, h);
        return { ok: false, inst: i };
      }
      placement.add(i.p, to);
      done.push([i, to]);
    }
    return { ok: true, moves: done };
  };

  /**
   * Start what can start now. O(Σ assign over the hosts tried + s log m) for s hosts started: the
   * candidates are kept in order (no sort, no scan of all hosts), the free totals by the pools.
   */
  const tryBatch = (t: number) => {
    const started: H[] = [];
    const inBatch = new Set<string>();
    const free1 = tier1.freeVcpus + tierSoon.freeVcpus;
    const free2 = tier2.freeVcpus;
    let reserved = 0;
    const fresh: Mv[] = [];
    const room = () => maxParallel === 0 || out + started.length < maxParallel;
    // Non-compute hosts: one at a time, alongside the computes, each in a batch of its own that
    // waits for the previous one to be maintained.
    if (nonComputeOut === 0) {
      const next = nonCompute[nextNonCompute];
      if (next && room()) {
        nextNonCompute++;
        nonComputeOut++;
        next.status = 'active';
        next.batch = batches.length;
        next.startMs = t;
        next.rank = ranked++;
        out++;
        maxOut = Math.max(maxOut, out);
        batches.push({ hosts: [next], waitFor: lastNonCompute ? [lastNonCompute] : [], startMs: t, headroom: { freeVcpus: 0, freeMaintainedVcpus: 0, reservedVcpus: 0, hostsOut: out } });
        hostEmpty(next, t);
      }
    }
    // `candidates` is not changed during the loop: hosts that start or get something inbound leave
    // it afterwards.
    const leaving: H[] = [];
    let misses = 0;
    for (const c of candidates) {
      if (!room() || misses >= MAX_MISSES) break;
      if (c.inbound > 0) continue; // took instances of an earlier host of this batch: it waits for them
      const r = assign(c, inBatch);
      if (!r.ok) {
        misses++;
        continue;
      }
      misses = 0;
      started.push(c);
      inBatch.add(c.name);
      tier2.delete(c.name);
      for (const [i, to] of r.moves) {
        reserved += i.vcpus;
        const target = hosts.get(to)!;
        if (target.inbound++ === 0 && target.queued) leaving.push(target);
        // Notified so that its notice (reply, lead_time) has passed when the target is ready.
        const targetAt = target.status === 'maintaining' ? target.maintainedMs : t;
        const notifyMs = Math.max(t, targetAt - i.readyMs);
        const mv: Mv = { i, src: c, from: c.name, to, batch: batches.length, second: i.moves > 0, notifyMs, readyAt: notifyMs + i.readyMs, startMs: -1, endMs: -1, seq: moves.length };
        moves.push(mv);
        fresh.push(mv);
      }
    }
    for (const h of leaving) dequeue(h);
    for (const h of started) dequeue(h);
    if (!started.length) return;
    const index = batches.length;
    for (const h of started) {
      tier2.delete(h.name);
      h.status = 'active';
      h.batch = index;
      h.startMs = t;
      h.count = h.insts.length;
      h.remaining = h.insts.length;
      h.rank = ranked++;
      out++;
    }
    maxOut = Math.max(maxOut, out);
    for (const mv of fresh) events.push(mv.readyAt, { kind: 'ready', mv });
    batches.push({
      hosts: started,
      waitFor: newlyEmptied,
      startMs: t,
      headroom: { freeVcpus: free1 + free2, freeMaintainedVcpus: free1, reservedVcpus: reserved, hostsOut: out },
    });
    newlyEmptied = [];
    for (const h of started) if (h.remaining === 0) hostEmpty(h, t);
  };

  let now = 0;
  for (;;) {
    while (trigger) {
      trigger = false;
      tryBatch(now);
    }
    startReady(now);
    const next = events.peekTime();
    if (next === undefined) break;
    now = next;
    while (events.peekTime() === now) {
      const e = events.pop()!;
      switch (e.kind) {
        case 'ready': {
          const target = hosts.get(e.mv.to)!;
          if (target.status === 'maintaining') {
            const w = onTarget.get(target.name) ?? [];
            w.push(e.mv);
            onTarget.set(target.name, w);
          } else eligible(e.mv, now);
          break;
        }
        case 'moveEnd': {
          const { i, from, to } = e.mv;
          e.mv.endMs = now;
          placement.remove(i.p, from);
          i.host = to;
          i.moves++;
          const src = hosts.get(from)!;
          const dst = hosts.get(to)!;
          takeOff(src, i);
          src.used -= i.vcpus;
          putOn(dst, i);
          dst.used += i.vcpus;
          dst.inbound--;
          if (dst.status === 'pending' && dst.inbound === 0) {
            trigger = true;
            if (dst.compute) enqueue(dst);
          }
          if (i.gi >= 0) events.push(now + ms(limited[i.gi]!.recoveryS), { kind: 'slotFree', gi: i.gi });
          if (--src.remaining === 0) hostEmpty(src, now);
          break;
        }
        case 'slotFree':
          impacted[e.gi]!--;
          markDirty(e.gi);
          break;
        case 'maintained': {
          const h = e.host;
          h.status = 'maintained';
          if (!h.compute) {
            lastNonCompute = h.name;
            nonComputeOut--;
          }
          trigger = true; // room under max_parallel_hosts, the next non-compute host
          out--;
          tierSoon.delete(h.name);
          if (h.compute && h.enabled) tier1.add(h.name);
          for (const mv of onTarget.get(h.name) ?? []) eligible(mv, now);
          onTarget.delete(h.name);
          break;
        }
      }
    }
  }

  // ---- stuck: explain why
  const stuck = [...hosts.values()].filter((h) => h.status === 'pending').sort(byName);
  let missingVcpus = 0;
  if (stuck.length) missingVcpus = explainStuck(stuck, placement, new Set([...tier1, ...tierSoon]), tier2, allowDouble, reasons);

  const feasible = stuck.length === 0;
  // Batch by batch, in each in start order (every started host is in exactly one batch).
  const plannedHosts: PlannedHost[] = batches
    .flatMap((b) => b.hosts)
    .map((h) => ({ name: h.name, type: h.type, batch: h.batch, instances: h.count, startS: sec(h.startMs), emptyS: sec(h.emptyMs), maintainedS: sec(h.maintainedMs) }));
  let end = 0;
  for (const h of plannedHosts) end = Math.max(end, h.maintainedS);
  return {
    feasible,
    reasons,
    order: plannedHosts.map((h) => h.name),
    batches: batches.map((b, index) => ({
      index,
      hosts: b.hosts.map((h) => h.name),
      waitFor: b.waitFor,
      startS: sec(b.startMs),
      doneS: sec(b.hosts.reduce((n, h) => Math.max(n, h.maintainedMs), -Infinity)),
      headroom: b.headroom,
    })),
    hosts: plannedHosts,
    moves: moves.map((m) => ({
      instance: m.i.id,
      project: m.i.project,
      from: m.from,
      to: m.to,
      action: m.i.action,
      batch: m.batch,
      second: m.second,
      notifyS: sec(m.notifyMs),
      startS: sec(m.startMs),
      endS: sec(m.endMs),
    })),
    durationS: feasible ? end : Infinity,
    lowerBound: bound,
    missingVcpus,
    stats: {
      hosts: session.length,
      instances: boundHosts.reduce((n, h) => n + h.instances.length, 0),
      moves: moves.length,
      doubleMoves: moves.filter((m) => m.second).length,
      maxHostsOut: maxOut,
      batches: batches.length,
    },
    estimates: est,
  };
}

/** Reasons for the hosts that could not be started, and the vCPUs the cheapest one lacks. O(j·m) for the j instances of the three cheapest hosts over m targets: only when stuck. */
function explainStuck(
  stuck: H[],
  placement: Placement,
  tier1: Set<string>,
  tier2: Iterable<string>,
  allowDouble: boolean,
  reasons: PlanReason[],
): number {
  const ranked = [...stuck].filter((h) => h.compute).sort((a, b) => a.used - b.used || byName(a, b));
  let missing = Infinity;
  for (const c of ranked.slice(0, 3)) {
    const targets = [...tier1, ...(allowDouble ? tier2 : [])].filter((h) => h !== c.name);
    const added: [Placeable, string][] = [];
    let lacking = 0;
    for (const i of [...c.insts].sort((a, b) => b.vcpus - a.vcpus || (a.id < b.id ? -1 : 1))) {
      const to = placement.bestFit(i.p, i.moves === 0 ? targets : [...tier1]);
      if (to) {
        placement.add(i.p, to);
        added.push([i.p, to]);
        continue;
      }
      lacking += i.vcpus;
      const refusals = targets.map((h) => [h, placement.refusal(i.p, h)] as [string, Refusal | null]);
      const group = refusals.find(([, r]) => r && r.kind !== 'capacity');
      const roomy = refusals.filter(([, r]) => r?.kind !== 'capacity').length;
      const maxFree = targets.reduce((n, h) => Math.max(n, placement.free(h)), 0);
      if (group && roomy > 0) {
        const [h, r] = group as [string, Refusal];
        reasons.push({
          kind: 'group',
          severity: 'error',
          host: c.name,
          instance: i.id,
          group: 'group' in r ? r.group : undefined,
          constraint: r.kind,
          message: `${c.name} cannot be emptied: ${i.id} fits on no host its group allows (e.g. ${describeRefusal(r, h)})`,
        });
      } else {
        reasons.push({
          kind: 'capacity',
          severity: 'error',
          host: c.name,
          instance: i.id,
          missingVcpus: Math.max(1, i.vcpus - maxFree),
          message: `${c.name} cannot be emptied: ${i.id} needs ${i.vcpus} vCPUs, the largest free slot on a host that may take it is ${maxFree}${targets.length ? '' : ' (no host may take instances yet)'}`,
        });
      }
    }
    for (const [p, h] of added) placement.remove(p, h);
    missing = Math.min(missing, lacking);
  }
  if (!ranked.length) return 0;
  if (!reasons.some((r) => r.severity === 'error'))
    reasons.push({ kind: 'capacity', severity: 'error', message: `hosts ${stuck.map((h) => h.name).join(', ')} could not be started`, missingVcpus: 0 });
  return Number.isFinite(missing) ? missing : 0;
}

/** What a session persists of a plan (docs/vnf.md): batches and targets. */
export function persistPlan(plan: Plan, at: number): PersistedPlan {
  const moves: Record<string, [string, string][]> = {};
  for (const m of plan.moves) (moves[m.from] ??= []).push([m.instance, m.to]);
  return {
    v: 1,
    at,
    durationS: plan.durationS,
    lowerBoundS: plan.lowerBound.totalS,
    batches: plan.batches.map((b) => ({ hosts: b.hosts, waitFor: b.waitFor })),
    moves,
  };
}
