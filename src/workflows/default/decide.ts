// The `default` workflow (spec §6): the original Fenix algorithm, one host at a time, with its
// defects fixed. decide(snapshot, now) returns the next step as data; the engine calls it again
// after persisting, until it returns nothing new.
import type { Decision } from '../../domain/decision.js';
import { merge } from '../../domain/decision.js';
import type { SessionHost, SessionInstance } from '../../domain/model.js';
import type { Snapshot } from '../../domain/snapshot.js';
import type { InstanceAction, ReplyState } from '../../domain/states.js';
import { chooseRankedHostToEmpty, freeCapacity } from '../../planner/capacity.js';
import {
  ask,
  attempt,
  disableHost,
  fail,
  intent,
  maintainHost,
  observedOn,
  openHosts,
  opByKey,
  project,
  projectUrl,
  settle,
  transition,
  type StepResult,
  activeProjects,
  complete,
  ix,
  ox,
  orFail,
  syncInventory,
  maintenanceRound,
  errorBudget,
  windowGate,
  OWN_ACTION_LOOK_MS,
} from '../common.js';

const MOVE_ACTIONS: InstanceAction[] = ['MIGRATE', 'LIVE_MIGRATE', 'OWN_ACTION'];
/** SCALE_IN rounds that free nothing before the session gives up. */
const MAX_FRUITLESS_SCALE_INS = 1;

export function decide(s: Snapshot, now: number): Decision {
  const over = settle(s, now);
  if (over) return over.decision;
  if (s.session.paused) return {};

  const inv = syncInventory(s, now);
  if (inv) return inv;
  const budget = errorBudget(s, now);
  if (budget) return budget;

  switch (s.session.state) {
    case 'MAINTENANCE':
      return maintenance(s, now);
    case 'SCALE_IN':
      return scaleIn(s, now);
    case 'PREPARE_MAINTENANCE':
    case 'PLANNED_MAINTENANCE':
      return emptyHost(s, now);
    case 'START_MAINTENANCE':
      return startMaintenance(s, now);
    case 'MAINTENANCE_COMPLETE':
      return complete(s, now);
    default:
      return {};
  }
}

// ---- MAINTENANCE ----------------------------------------------------------------------------

const maintenance = (s: Snapshot, now: number): Decision => maintenanceRound(s, now, () => next(s, now));

/**
 * Where to go once the projects agreed: an empty compute host → START_MAINTENANCE; a host that can
 * be emptied into free capacity → PREPARE / PLANNED_MAINTENANCE; otherwise SCALE_IN.
 */
function next(s: Snapshot, now: number): Decision {
  // O(log hosts + answer): the open hosts are kept ranked, not scanned on every step.
  const open = openHosts(s);
  if (!open.size) return transition(s, now, 'MAINTENANCE_COMPLETE', 'every host is maintained');
  const gate = windowGate(s, now); // no new host is taken down outside the windows
  if (gate) return gate;
  const firstRound = !s.session.phase.computesDisabled;
  // Non-compute hosts are maintained in a START round after a compute host (or alone, when no
  // compute host is left): starting with them would disable every compute host with nowhere to go.
  const empty = open.computeCount ? open.emptyComputes() : open.others();
  if (empty.length) return transition(s, now, 'START_MAINTENANCE', `${empty.join(', ')} can be maintained now`);

  const choice = chooseRankedHostToEmpty(open.cheapest(), ox(s), () => s.observed.hosts);
  const state = firstRound ? 'PREPARE_MAINTENANCE' : 'PLANNED_MAINTENANCE';
  if (choice.host)
    return transition(s, now, state, `emptying ${choice.host}`, {
      session: { phase: { ...s.session.phase, host: choice.host, actionsSince: null } },
      hosts: [{ name: choice.host, status: 'emptying' }],
    });

  const rounds = s.session.phase.scaleInRounds ?? 0;
  const free = freeCapacity(s.observed.hosts);
  const fruitless = rounds > 0 && free <= (s.session.phase.scaleInFreeBefore ?? -1);
  if (fruitless && rounds >= MAX_FRUITLESS_SCALE_INS)
    return fail(s, now, `not enough capacity to empty any host: ${choice.reason}; scaling in freed nothing`);
  return transition(s, now, 'SCALE_IN', `no host can be emptied: ${choice.reason}`, {
    session: { phase: { ...s.session.phase, scaleInRounds: rounds + 1, scaleInFreeBefore: free } },
  });
}

// ---- SCALE_IN -------------------------------------------------------------------------------

function scaleIn(s: Snapshot, now: number): Decision {
  const r = ask(s, now, {
    state: 'SCALE_IN',
    key: `SCALE_IN:${attempt(s)}:${s.session.phase.scaleInRounds ?? 1}`,
    projects: activeProjects(s),
    windowS: s.session.options.scaleInReplyWindowS,
    allowedActions: [],
    actionsAt: now,
  });
  return orFail(s, now, r) ?? merge(r.decision, next(s, now));
}

// ---- PREPARE_MAINTENANCE / PLANNED_MAINTENANCE: empty one host -------------------------------

function emptyHost(s: Snapshot, now: number): Decision {
  const host = s.session.phase.host;
  if (!host) return next(s, now);
  const state = s.session.state as ReplyState;
  // The host being emptied takes no new instances while it is emptied.
  const off = orFail(s, now, disableHost(s, now, host));
  if (off) return off;

  const key = `${state}:${attempt(s)}:${host}`;
  // O(instances on the host + instances moving), by index.
  const moving = sortById([...ix(s).moving()]);
  const onHost = sortById([...ix(s).instancesOn(host)].filter((i) => i.status !== 'gone' && i.status !== 'moving'));
  if (!onHost.length && !moving.length && !observedOn(s, host).length) return hostEmptied(s, now, host);

  const projects = [
    ...new Set([...onHost.map((i) => i.projectId), ...s.projects.filter((p) => p.askKey === key).map((p) => p.projectId)]),
  ].sort();
  const asked = ask(s, now, {
    state,
    key,
    projects,
    windowS: s.session.options.replyWindowS,
    allowedActions: MOVE_ACTIONS,
    actionsAt: now,
  });
  const notYet = orFail(s, now, asked);
  if (notYet) return notYet;

  const parts: Decision[] = [asked.decision];
  const since = s.session.phase.actionsSince ?? now;
  if (s.session.phase.actionsSince == null) parts.push({ session: { phase: { ...s.session.phase, actionsSince: now } } });
  let busy = false;
  for (const inst of [...moving, ...onHost]) {
    const r = moveInstance(s, now, inst, host);
    if (r.status === 'failed') return merge(r.decision, fail(s, now, r.reason));
    if (r.status === 'waiting') busy = true;
    parts.push(r.decision);
  }
  const d = merge(...parts);
  if (busy || d.ops?.length || d.instances?.length || d.events?.length) return d;

  // What is left on the host is moved by its application manager (OWN_ACTION): wait, with a limit.
  const left = observedOn(s, host);
  if (left.length) {
    const deadline = since + s.session.options.ownActionTimeoutS * 1000;
    if (now >= deadline)
      return fail(s, now, `${host} still holds ${left.map((i) => i.id).join(', ')} ${s.session.options.ownActionTimeoutS}s after the actions began`);
    return merge(d, { wakeAt: Math.min(deadline, now + OWN_ACTION_LOOK_MS) });
  }
  return merge(d, hostEmptied(s, now, host));
}

function hostEmptied(s: Snapshot, now: number, host: string): Decision {
  return transition(s, now, 'START_MAINTENANCE', `${host} is empty`, {
    session: { phase: { ...s.session.phase, host: null, actionsSince: null } },
  });
}

/** The action for one instance: the project's answer, else the default behaviour. */
function actionFor(s: Snapshot, inst: SessionInstance): InstanceAction {
  if (inst.action && inst.action !== 'EVICTION') return inst.action;
  const p = project(s, inst.projectId);
  if (p && p.interacting && !p.unreachable) return 'MIGRATE';
  return inst.liveMigratable ? 'LIVE_MIGRATE' : 'MIGRATE';
}

function moveInstance(s: Snapshot, now: number, inst: SessionInstance, host: string): StepResult {
  const key = `move:${attempt(s)}:${inst.instanceId}:${host}`;
  const op = opByKey(s, key);
  if (inst.status === 'moving') {
    if (!op) return { status: 'done', decision: {} }; // moving off another host (earlier step)
    if (op.status === 'failed') return { status: 'failed', reason: `moving ${inst.instanceId} off ${host} failed: ${op.error}`, decision: { instances: [{ instanceId: inst.instanceId, status: 'failed', error: op.error }] } };
    if (op.status !== 'done') return { status: 'waiting', decision: {} };
    const landed = String(op.result?.host ?? inst.host);
    return {
      status: 'done',
      decision: {
        instances: [{ instanceId: inst.instanceId, status: 'moved', host: landed, moves: inst.moves + 1, action: null }],
        events: project(s, inst.projectId)?.interacting
          ? [
              {
                key: `done:${attempt(s)}:${inst.instanceId}:${host}`,
                eventType: 'maintenance.scheduled',
                projectId: inst.projectId,
                payload: {
                  service: 'fenix',
                  project_id: inst.projectId,
                  session_id: s.session.id,
                  state: 'INSTANCE_ACTION_DONE',
                  instance_ids: [inst.instanceId],
                  allowed_actions: [],
                  // Tacker's receiver rejects an event without one; the original sent the project URL.
                  reply_url: projectUrl(s, inst.projectId),
                  actions_at: null,
                  reply_at: null,
                  metadata: s.session.metadata,
                },
              },
            ]
          : [],
        timeline: [{ at: now, kind: 'instance', message: `${inst.instanceId} moved ${host} → ${landed} (${op.args.kind})` }],
      },
    };
  }
  if (inst.host !== host) return { status: 'done', decision: {} };
  const action = actionFor(s, inst);
  if (action === 'OWN_ACTION') return { status: 'done', decision: inst.action ? {} : { instances: [{ instanceId: inst.instanceId, action }] } };
  const r = intent(s, { key, kind: 'move', subject: inst.instanceId, args: { kind: action, from: host } });
  return {
    status: 'waiting',
    decision: merge(r.decision, {
      instances: [{ instanceId: inst.instanceId, status: 'moving', action }],
      timeline: [{ at: now, kind: 'instance', message: `${action} ${inst.instanceId} off ${host}` }],
    }),
  };
}

/** Records in id order, as a full scan of the session would list them (deterministic decisions). */
const sortById = (xs: SessionInstance[]): SessionInstance[] => xs.sort((a, b) => (a.instanceId < b.instanceId ? -1 : a.instanceId > b.instanceId ? 1 : 0));

/** The host of a status (this workflow maintains one host at a time). */
function first(hosts: ReadonlySet<SessionHost>): SessionHost | undefined {
  let best: SessionHost | undefined;
  for (const h of hosts) if (!best) best = h;
  return best;
}

// ---- START_MAINTENANCE ----------------------------------------------------------------------

function startMaintenance(s: Snapshot, now: number): Decision {
  if (!s.session.phase.computesDisabled) {
    // First round: every compute host of the session stops taking instances, so moved instances
    // land only on maintained hosts and nothing moves twice.
    const parts: Decision[] = [];
    let busy = false;
    for (const h of s.hosts.filter((x) => x.type === 'compute' && x.status !== 'maintained')) {
      const r = disableHost(s, now, h.name);
      if (r.status === 'failed') return merge(r.decision, fail(s, now, r.reason));
      if (r.status === 'waiting') busy = true;
      parts.push(r.decision);
    }
    if (busy) return merge(...parts);
    return { session: { phase: { ...s.session.phase, computesDisabled: true } }, wakeAt: now };
  }
  const current = first(ix(s).hostsWith('maintaining'));
  const ready = current ? undefined : openHosts(s).firstReady();
  const target = current ?? (ready === undefined ? undefined : ix(s).host(ready));
  if (!target) return next(s, now);
  if (!current && target.status === 'pending') {
    // A host not touched yet is taken down only in a window; one already emptied goes on.
    const gate = windowGate(s, now);
    if (gate) return gate;
  }
  const r = maintainHost(s, now, target.name);
  if (r.status === 'failed') return merge(r.decision, fail(s, now, r.reason));
  if (r.status === 'waiting') return r.decision;
  // One more host done; the next decide picks the next host or state.
  const maintained = ix(s).hostsWith('maintained').size + ix(s).hostsWith('failed').size + 1;
  return merge(r.decision, { session: { percentDone: Math.floor((maintained / s.hosts.length) * 95) }, wakeAt: now });
}


