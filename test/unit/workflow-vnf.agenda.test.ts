// The vnf workflow follows a session through an engine-like loop (a live session kept by its own
// decisions, the world changing as operations end, replies arriving) with its agenda (which
// instances to look at) and cached views; at every step its decision must equal the decision
// taken on a snapshot built afresh, where it looks at everything.
import { describe, expect, it } from 'vitest';
import type { GroupConstraint, InstanceConstraint } from '../../src/domain/constraints.js';
import { hasEffects, type Decision } from '../../src/domain/decision.js';
import type { HostInfo, InstanceInfo } from '../../src/domain/infra.js';
import type { Op, SessionRow } from '../../src/domain/model.js';
import { MutableObservedIndex } from '../../src/domain/session-index.js';
import type { Snapshot } from '../../src/domain/snapshot.js';
import { LiveSession } from '../../src/engine/live-session.js';
import { decide } from '../../src/workflows/vnf/decide.js';

const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);
const S = 1000;
const ctx = { publicUrl: 'http://fenix.example:12347', adminProject: 'admin', plugins: [], estimates: { migrateS: 30, liveMigrateS: 30, hostMaintenanceS: 120, replyS: 5 } };

function cloud(policy: 'vnf' | 'k8s', maxParallelHosts: number, hostPlugin: boolean) {
  const hosts: HostInfo[] = Array.from({ length: 8 }, (_, k) => ({ name: `c${k}`, type: 'compute', vcpus: 16, vcpusUsed: 0, enabled: true }));
  const instances: InstanceInfo[] = [];
  const ics: InstanceConstraint[] = [];
  const groups: GroupConstraint[] = ['g0', 'g1'].map((g, k) => ({
    groupId: g, projectId: 'p0', groupName: g, antiAffinityGroup: true, maxInstancesPerHost: 1, maxImpactedMembers: 1 + k, recoveryTime: 10 * (k + 1),
    resourceMitigation: true, createdAt: 0, updatedAt: 0,
  }));
  let n = 0;
  for (const h of hosts.slice(1))
    for (let j = 0; j < 3; j++) {
      const id = `i${String(n).padStart(3, '0')}`;
      const projectId = `p${n % 3}`;
      instances.push({ id, name: id, projectId, host: h.name, vcpus: 2, floatingIp: false, liveMigratable: n % 2 === 0 });
      const group = projectId === 'p0' && j < 2 ? `g${j}` : null;
      ics.push({ instanceId: id, projectId, groupId: group, instanceName: id, maxInterruptionTime: null, migrationType: null, resourceMitigation: true, leadTime: 5 * (n % 4), createdAt: 0, updatedAt: 0 });
      n++;
    }
  const session: SessionRow = {
    id: 's1', state: 'MAINTENANCE', workflow: policy, maintenanceAt: T0, metadata: {}, actions: hostPlugin ? [{ type: 'host', plugin: 'dummy', metadata: {} }] : [], download: [],
    options: { replyWindowS: 60, scaleInReplyWindowS: 60, noSubscription: 'act', ownActionTimeoutS: 600, maxParallelHosts },
    phase: { inventoried: true, transitions: 1 }, reason: null, paused: false, deleting: false, wakeAt: null, createdAt: T0, updatedAt: T0, percentDone: 0, pausedAt: null, control: null,
  } as SessionRow;
  const ls = new LiveSession(
    {
      session,
      hosts: hosts.map((h) => ({ sessionId: 's1', name: h.name, type: 'compute' as const, status: 'pending' as const, originalEnabled: null, disabledByUs: false, maintainedAt: null })),
      projects: ['p0', 'p1', 'p2'].map((projectId) => ({
        sessionId: 's1', projectId, interacting: projectId !== 'p2', awaiting: null, askKey: 'MAINTENANCE:a0', notifiedAt: T0, replyAt: T0 + 60 * S,
        reply: 'ACK_MAINTENANCE', repliedAt: T0, lastReply: null, lastReplyAt: null, unreachable: false,
      })),
      instances: instances.map((i) => ({
        sessionId: 's1', instanceId: i.id, projectId: i.projectId, name: i.name, host: i.host, originHost: i.host, vcpus: i.vcpus, floatingIp: false,
        liveMigratable: i.liveMigratable, action: null, status: 'present' as const, moves: 0, error: null,
      })),
      ops: [],
      subscribedProjects: ['p0', 'p1'], // p2 gets the default behaviour
      deliveries: {},
      eventKeys: ['ask:MAINTENANCE:a0:p0', 'ask:MAINTENANCE:a0:p1'],
      constraints: { instances: ics, groups },
      changeSeq: 0,
      globalSeq: 0,
    },
    1,
  );
  return { ls, world: new MutableObservedIndex({ hosts, instances }) };
}

/** The same state as plain data, with no index, cache or change list: the workflow looks at everything. */
function afresh(ls: LiveSession, world: MutableObservedIndex, c: Snapshot['ctx'] = ctx): Snapshot {
  const data = structuredClone({ ...ls.data });
  return { ...data, observed: structuredClone({ hosts: world.hostList(), instances: world.instanceList() }), ctx: c };
}

/** `hmS`: how long a host's maintenance really takes (the planner assumes 120 s); `pluginS`: a host plug-in before it. */
function run(policy: 'vnf' | 'k8s', maxParallelHosts: number, hmS: number, pluginS?: number, maxMovesPerStep?: number): { steps: number; state: string; mostMovesInAStep: number } {
  const c = maxMovesPerStep === undefined ? ctx : { ...ctx, maxMovesPerStep };
  let mostMovesInAStep = 0;
  const DURATION_S: Partial<Record<Op['kind'], number>> = { move: 30, host_maintenance: hmS, plugin: pluginS ?? 0 };
  const { ls, world } = cloud(policy, maxParallelHosts, pluginS !== undefined);
  let now = T0;
  let opId = 0;
  const finishing = new Map<Op, number>();
  const replies: { at: number; id: string }[] = [];
  let steps = 0;
  for (; steps < 3000; steps++) {
    const live: Snapshot = {
      ...ls.data,
      index: ls.index,
      observed: { hosts: world.hostList(), instances: world.instanceList(), index: world, ...(ls.inventoryChanges() && { changed: ls.inventoryChanges() }) },
      ctx: c,
    };
    const expected = decide(policy, afresh(ls, world, c), now);
    const d: Decision = decide(policy, live, now);
    mostMovesInAStep = Math.max(mostMovesInAStep, (d.ops ?? []).filter((o) => o.kind === 'move').length);
    expect(JSON.stringify(d), `step ${steps} at +${(now - T0) / S}s`).toBe(JSON.stringify(expected));
    ls.inventoryTaken();
    if (ls.data.session.state === 'MAINTENANCE_DONE' || ls.data.session.state === 'MAINTENANCE_FAILED') break;
    if (hasEffects(d)) {
      const ops: Op[] = (d.ops ?? []).map((o) => ({
        id: ++opId, sessionId: 's1', key: o.key, kind: o.kind, subject: o.subject, args: o.args ?? {}, status: 'started' as const, ref: null, result: null,
        error: null, attempts: 1, createdAt: now, startedAt: now, finishedAt: null, pollAt: null,
      }));
      ls.apply({ ...d, wakeAt: d.wakeAt ?? now }, { ops, fanout: new Map((d.events ?? []).map((e) => [e.key, e.projectId && ls.data.subscribedProjects.includes(e.projectId) ? 1 : 0])), changeSeq: 0 } as never, now);
      for (const o of ops) finishing.set(o, now + (DURATION_S[o.kind] ?? 0) * S);
      // Each project answers its per-instance question 5 s later, the action of its choice for odd instances.
      for (const e of d.events ?? []) if (e.key.startsWith('iask:')) replies.push({ at: now + 5 * S, id: (e.payload.instance_ids as string[])[0]! });
    } else {
      const next = Math.min(d.wakeAt ?? Infinity, ...finishing.values(), ...replies.map((r) => r.at));
      if (next === Infinity) break;
      now = Math.max(now + 1, next);
    }
    for (const [o, at] of finishing) {
      if (at > now) continue;
      finishing.delete(o);
      const result: Record<string, unknown> = {};
      if (o.kind === 'move') {
        const inst = world.instance(o.subject)!;
        world.putInstance({ ...inst, host: String(o.args.target) });
        result.host = o.args.target;
        ls.observedChanges({ instances: new Set([o.subject]), hosts: new Set([inst.host, String(o.args.target)]) });
      } else if (o.kind === 'scheduling') world.putHost({ ...world.host(o.subject)!, enabled: o.args.enabled === true });
      ls.patchOp(ls.index.op(o.key)!, { status: 'done', finishedAt: at, result });
    }
    for (const r of replies.filter((x) => x.at <= now)) {
      replies.splice(replies.indexOf(r), 1);
      const rec = ls.index.instance(r.id)!;
      if (!rec.askState) continue;
      const action = Number(r.id.slice(1)) % 2 ? (policy === 'k8s' ? 'EVICTION' : 'MIGRATE') : null;
      ls.merge({ changeSeq: 0, globalSeq: 0, projects: [], deliveries: {}, instances: [{ ...rec, reply: `ACK_${rec.askState}`, repliedAt: now, action }] });
    }
  }
  return { steps, state: ls.data.session.state, mostMovesInAStep };
}

describe('vnf workflow: its agenda and cached views decide as a full look would', () => {
  it('vnf, hosts in parallel as the plan says', () => {
    const r = run('vnf', 0, 120);
    expect(r.state).toBe('MAINTENANCE_DONE');
    expect(r.steps).toBeGreaterThan(50);
  });

  it('k8s, at most two hosts out', () => {
    const r = run('k8s', 2, 120);
    expect(r.state).toBe('MAINTENANCE_DONE');
    expect(r.steps).toBeGreaterThan(50);
  });

  it('hosts maintained sooner than planned: instances waiting for them are asked at once', () => {
    const r = run('vnf', 0, 40);
    expect(r.state).toBe('MAINTENANCE_DONE');
  });

  it('moves capped per step: the ready instances not started stay on the agenda and start in the next steps', () => {
    const free = run('vnf', 0, 120);
    const capped = run('vnf', 0, 120, undefined, 1);
    expect(free.mostMovesInAStep).toBeGreaterThan(1);
    expect(capped.mostMovesInAStep).toBe(1);
    expect(capped.state).toBe('MAINTENANCE_DONE');
    expect(capped.steps).toBeGreaterThan(free.steps);
  });

  it('a host plug-in runs before the maintenance op: waits reckoned from now are looked at again', () => {
    const r = run('vnf', 0, 120, 15);
    expect(r.state).toBe('MAINTENANCE_DONE');
  });
});
