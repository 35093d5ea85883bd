// The vnf / k8s workflow's decisions: a snapshot and a time in, a Decision out (no I/O).
import { describe, expect, it } from 'vitest';
import type { GroupConstraint, InstanceConstraint, PersistedPlan } from '../../src/domain/constraints.js';
import type { Decision } from '../../src/domain/decision.js';
import type { HostInfo, InstanceInfo } from '../../src/domain/infra.js';
import type { Op, SessionHost, SessionInstance, SessionProject, SessionRow } from '../../src/domain/model.js';
import type { Snapshot } from '../../src/domain/snapshot.js';
import { TARGET_REFUSED } from '../../src/ports/infra-driver.js';
import { decide } from '../../src/workflows/vnf/decide.js';

const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);
const S = 1000;
const ctx = { publicUrl: 'http://fenix.example:12347', adminProject: 'admin', plugins: ['dummy'], estimates: { migrateS: 30, liveMigrateS: 30, hostMaintenanceS: 600, replyS: 1 } };

function session(p: Partial<SessionRow> = {}): SessionRow {
  return {
    id: 's1', state: 'MAINTENANCE', workflow: 'vnf', maintenanceAt: T0, metadata: {}, actions: [], download: [],
    options: { replyWindowS: 40, scaleInReplyWindowS: 60, noSubscription: 'act', ownActionTimeoutS: 600, maxParallelHosts: 0 },
    phase: { inventoried: true, transitions: 1 }, reason: null, paused: false, deleting: false, wakeAt: null, createdAt: T0, updatedAt: T0, percentDone: 0, pausedAt: null, ...p,
  } as SessionRow;
}
const host = (name: string, p: Partial<SessionHost> = {}): SessionHost => ({
  sessionId: 's1', name, type: 'compute', status: 'pending', originalEnabled: null, disabledByUs: false, maintainedAt: null, ...p,
});
const obsHost = (name: string, vcpus: number, used: number, enabled = true): HostInfo => ({ name, type: 'compute', vcpus, vcpusUsed: used, enabled });
const obsInst = (id: string, on: string, vcpus = 2, projectId = 'p1'): InstanceInfo => ({ id, name: id, projectId, host: on, vcpus, floatingIp: false, liveMigratable: true });
const inst = (id: string, on: string, p: Partial<SessionInstance> = {}): SessionInstance => ({
  sessionId: 's1', instanceId: id, projectId: 'p1', name: id, host: on, originHost: on, vcpus: 2, floatingIp: false, liveMigratable: true,
  action: null, status: 'present', moves: 0, error: null, ...p,
});
const proj = (id: string, p: Partial<SessionProject> = {}): SessionProject => ({
  sessionId: 's1', projectId: id, interacting: true, awaiting: null, askKey: 'MAINTENANCE:a0', notifiedAt: T0, replyAt: T0 + 40 * S,
  reply: 'ACK_MAINTENANCE', repliedAt: T0, lastReply: null, lastReplyAt: null, unreachable: false, ...p,
});
const op = (key: string, p: Partial<Op>): Op => ({
  id: 1, sessionId: 's1', key, kind: 'move', subject: 'x', args: {}, status: 'pending', ref: null, result: null, error: null, attempts: 0,
  createdAt: T0, startedAt: null, finishedAt: null, pollAt: null, ...p,
});
const group = (id: string, p: Partial<GroupConstraint> = {}): GroupConstraint => ({
  groupId: id, projectId: 'p1', groupName: id, antiAffinityGroup: true, maxInstancesPerHost: 1, maxImpactedMembers: 1, recoveryTime: 10,
  resourceMitigation: true, createdAt: 0, updatedAt: 0, ...p,
});
const ic = (id: string, groupId: string | null, p: Partial<InstanceConstraint> = {}): InstanceConstraint => ({
  instanceId: id, projectId: 'p1', groupId, instanceName: id, maxInterruptionTime: null, migrationType: 'MIGRATE', resourceMitigation: true,
  leadTime: 20, createdAt: 0, updatedAt: 0, ...p,
});

/** Three hosts: c0 empty, c1 with i1 and i2 (a group with max_impacted_members 1), c2 with i3. */
function snap(p: Partial<Snapshot> = {}): Snapshot {
  return {
    session: session(),
    hosts: [host('c0'), host('c1'), host('c2')],
    projects: [proj('p1')],
    instances: [inst('i1', 'c1'), inst('i2', 'c1'), inst('i3', 'c2')],
    ops: [],
    subscribedProjects: ['p1'],
    deliveries: {},
    eventKeys: ['ask:MAINTENANCE:a0:p1'],
    constraints: { groups: [group('g')], instances: [ic('i1', 'g'), ic('i2', 'g')] },
    observed: {
      hosts: [obsHost('c0', 8, 0), obsHost('c1', 8, 4), obsHost('c2', 8, 2)],
      instances: [obsInst('i1', 'c1'), obsInst('i2', 'c1'), obsInst('i3', 'c2')],
    },
    ctx,
    ...p,
  };
}

const PLAN: PersistedPlan = {
  v: 1, attempt: 0, at: T0, durationS: 1300, lowerBoundS: 1200,
  batches: [{ hosts: ['c0'], waitFor: [] }, { hosts: ['c1', 'c2'], waitFor: ['c0'] }],
  moves: { c1: [['i1', 'c0'], ['i2', 'c0']], c2: [['i3', 'c0']] },
};
const running = (p: Partial<SessionRow> = {}) => session({ state: 'PREPARE_MAINTENANCE', phase: { inventoried: true, transitions: 2, plan: PLAN }, ...p });
const scheduled = (d: Decision) => d.events?.filter((e) => e.eventType === 'maintenance.scheduled') ?? [];

describe('vnf workflow: decide(snapshot, now)', () => {
  it('after the MAINTENANCE round, plans the session and persists the plan', () => {
    const d = decide('vnf', snap(), T0);
    expect(d.session?.state).toBe('PREPARE_MAINTENANCE');
    const plan = d.session?.phase?.plan;
    expect(plan?.batches[0]!.hosts[0]).toBe('c0');
    expect(plan?.moves.c1?.map(([i]) => i)).toEqual(expect.arrayContaining(['i1', 'i2']));
    expect(d.timeline?.some((t) => t.kind === 'plan')).toBe(true);
  });

  it('starts the batches whose turn has come, in order, and maintains an empty host at once', () => {
    const d = decide('vnf', snap({ session: running() }), T0);
    expect(d.hosts).toContainEqual({ name: 'c0', status: 'emptying' });
    expect(d.hosts?.some((h) => h.name === 'c1')).toBe(false); // waits for c0 to be emptied
    expect(d.ops).toContainEqual(expect.objectContaining({ kind: 'scheduling', subject: 'c0', args: { enabled: false } }));
  });

  it('asks each instance on its own, timed so that lead_time ends when its target is ready', () => {
    const s = snap({
      session: running(),
      hosts: [host('c0', { status: 'maintaining', disabledByUs: true, originalEnabled: true }), host('c1', { status: 'emptying', disabledByUs: true, originalEnabled: true }), host('c2', { status: 'emptying', disabledByUs: true, originalEnabled: true })],
      ops: [op('hm:a0:c0', { kind: 'host_maintenance', subject: 'c0', status: 'started', startedAt: T0 })],
      eventKeys: ['ask:MAINTENANCE:a0:p1', 'host:a0:c0:IN_MAINTENANCE'],
    });
    // c0 is done at T0+600s; the instances have lead_time 20 s: not yet.
    const early = decide('vnf', s, T0 + 100 * S);
    expect(scheduled(early)).toEqual([]);
    expect(early.wakeAt).toBe(T0 + (600 - 20) * S);
    const d = decide('vnf', s, T0 + 580 * S);
    const asks = scheduled(d);
    expect(asks.map((e) => e.payload.instance_ids)).toEqual([['i1'], ['i2']]);
    const p = asks[0]!.payload;
    expect(p).toMatchObject({
      state: 'PLANNED_MAINTENANCE',
      reply_url: 'http://fenix.example:12347/v1/maintenance/s1/p1/i1',
      allowed_actions: ['MIGRATE', 'LIVE_MIGRATE', 'OWN_ACTION'],
      actions_at: new Date(T0 + 600 * S).toISOString().replace('.000', ''),
    });
    expect(d.instances).toContainEqual(expect.objectContaining({ instanceId: 'i1', askState: 'PLANNED_MAINTENANCE', askKey: 'a0:i1:c1', reply: null }));
  });

  const asked = (id: string, on: string, p: Partial<SessionInstance> = {}) =>
    inst(id, on, { askState: 'PLANNED_MAINTENANCE', askKey: `a0:${id}:${on}`, notifiedAt: T0, replyAt: T0 + 40 * S, reply: 'ACK_PLANNED_MAINTENANCE', repliedAt: T0 + S, ...p });
  const moving = () =>
    snap({
      session: running({ state: 'PLANNED_MAINTENANCE' }),
      hosts: [host('c0', { status: 'maintained', maintainedAt: T0 }), host('c1', { status: 'emptying', disabledByUs: true, originalEnabled: true }), host('c2', { status: 'emptying', disabledByUs: true, originalEnabled: true })],
      instances: [asked('i1', 'c1', { action: 'MIGRATE' }), asked('i2', 'c1'), asked('i3', 'c2')],
      observed: {
        hosts: [obsHost('c0', 8, 0), obsHost('c1', 8, 4, false), obsHost('c2', 8, 2, false)],
        instances: [obsInst('i1', 'c1'), obsInst('i2', 'c1'), obsInst('i3', 'c2')],
      },
    });

  it('moves acknowledged instances to their planned target, one group member at a time, after lead_time', () => {
    // i3 has no constraints (no lead_time, the default action); i1 and i2 wait for their lead_time of 20 s.
    const early = decide('vnf', moving(), T0 + 10 * S);
    expect(early.ops?.map((o) => [o.subject, o.args])).toEqual([['i3', { kind: 'LIVE_MIGRATE', from: 'c2', target: 'c0' }]]);
    const d = decide('vnf', moving(), T0 + 20 * S);
    const moves = d.ops?.filter((o) => o.kind === 'move') ?? [];
    // i1 and i2 share a group with max_impacted_members 1: only i1 now.
    expect(moves.map((o) => [o.subject, o.args])).toEqual([
      ['i1', { kind: 'MIGRATE', from: 'c1', target: 'c0' }],
      ['i3', { kind: 'LIVE_MIGRATE', from: 'c2', target: 'c0' }],
    ]);
    expect(d.instances).toContainEqual(expect.objectContaining({ instanceId: 'i1', status: 'moving', askState: null }));
  });

  it('waits recovery_time after a member moved before the next one, and says INSTANCE_ACTION_DONE with the per-instance reply_url', () => {
    const s = moving();
    s.instances = [asked('i1', 'c1', { status: 'moving', action: 'MIGRATE' }), asked('i2', 'c1'), asked('i3', 'c2', { status: 'moved', host: 'c0', moves: 1 })];
    s.ops = [op('move:a0:i1:c1', { subject: 'i1', status: 'done', args: { kind: 'MIGRATE', from: 'c1', target: 'c0' }, result: { host: 'c0' }, startedAt: T0 + 20 * S, finishedAt: T0 + 50 * S })];
    s.observed.instances = [obsInst('i1', 'c0'), obsInst('i2', 'c1'), obsInst('i3', 'c0')];
    const d = decide('vnf', s, T0 + 55 * S);
    const done = scheduled(d).find((e) => e.payload.state === 'INSTANCE_ACTION_DONE')!;
    expect(done.payload).toMatchObject({ instance_ids: ['i1'], reply_url: 'http://fenix.example:12347/v1/maintenance/s1/p1/i1' });
    expect(d.instances).toContainEqual(expect.objectContaining({ instanceId: 'i1', status: 'moved', host: 'c0', moves: 1 }));
    expect((d.ops ?? []).some((o) => o.subject === 'i2')).toBe(false); // recovery until T0+60s
    expect(d.wakeAt).toBe(T0 + 60 * S);
  });

  it('a NACK for an instance fails the session with the reason', () => {
    const s = moving();
    s.instances[1] = asked('i2', 'c1', { reply: 'NACK_PLANNED_MAINTENANCE' });
    const d = decide('vnf', s, T0 + 20 * S);
    expect(d.session?.state).toBe('MAINTENANCE_FAILED');
    expect(d.session?.reason).toMatch(/NACK_PLANNED_MAINTENANCE for i2/);
  });

  it('when the cloud refuses the planned target, says so and moves the instance elsewhere under a new key; fails after 3 refusals', () => {
    const refusedOp = (key: string, target: string) =>
      op(key, { subject: 'i1', status: 'failed', args: { kind: 'MIGRATE', from: 'c1', target }, error: `${TARGET_REFUSED}: Nova refused ${target}: No valid host was found.`, startedAt: T0 + 20 * S, finishedAt: T0 + 21 * S });
    // (a snapshot per step: a snapshot's index is built once)
    const at = (i1: Partial<SessionInstance>, ops: Op[]) => {
      const s = moving();
      s.hosts.push(host('c3', { status: 'maintained', maintainedAt: T0 }));
      s.observed.hosts = [obsHost('c0', 8, 0), obsHost('c1', 8, 4, false), obsHost('c2', 8, 2, false), obsHost('c3', 8, 0)];
      s.instances[0] = asked('i1', 'c1', i1);
      s.ops = ops;
      return s;
    };
    const d = decide('vnf', at({ status: 'moving', action: 'MIGRATE' }, [refusedOp('move:a0:i1:c1', 'c0')]), T0 + 22 * S);
    expect(d.session?.state).toBeUndefined();
    expect(d.instances).toContainEqual(expect.objectContaining({ instanceId: 'i1', status: 'present', error: expect.stringMatching(/refused c0/) }));
    expect(d.timeline?.some((t) => /c0 refused it/.test(t.message))).toBe(true);
    // the next step: a move to another host under the next key (c0 is not asked again)
    const next = decide('vnf', at({ status: 'present', action: 'MIGRATE', error: 'refused' }, [refusedOp('move:a0:i1:c1', 'c0')]), T0 + 23 * S);
    expect(next.ops?.find((o) => o.subject === 'i1')).toMatchObject({ key: 'move:a0:i1:c1:1', args: { from: 'c1', target: 'c3' } });
    // a fourth refusal fails the session with the cloud's words
    const ops = [refusedOp('move:a0:i1:c1', 'c0'), refusedOp('move:a0:i1:c1:1', 'c3'), refusedOp('move:a0:i1:c1:2', 'c5'), refusedOp('move:a0:i1:c1:3', 'c6')];
    const failed = decide('vnf', at({ status: 'moving', action: 'MIGRATE' }, ops), T0 + 30 * S);
    expect(failed.session?.state).toBe('MAINTENANCE_FAILED');
    expect(failed.session?.reason).toMatch(/moving i1 off c1 failed: target refused: Nova refused c6/);
  });

  it('chooses another target when the planned one cannot take the instance now', () => {
    const s = moving();
    s.hosts.push(host('c3', { status: 'maintained', maintainedAt: T0 }));
    s.observed.hosts = [obsHost('c0', 8, 7), obsHost('c1', 8, 4, false), obsHost('c2', 8, 2, false), obsHost('c3', 8, 0)];
    s.observed.instances.push(obsInst('big', 'c0', 7, 'p2'));
    s.instances.push(inst('big', 'c0', { projectId: 'p2', vcpus: 7, status: 'moved' }));
    const d = decide('vnf', s, T0 + 20 * S);
    expect(d.ops?.find((o) => o.subject === 'i1')?.args).toMatchObject({ target: 'c3' });
    expect(d.timeline?.some((t) => /planned target c0 cannot take it now/.test(t.message))).toBe(true);
  });

  it('projects without an application manager get the default behaviour at once', () => {
    const s = moving();
    s.subscribedProjects = [];
    s.instances = [inst('i1', 'c1'), inst('i2', 'c1'), inst('i3', 'c2')];
    const d = decide('vnf', s, T0);
    expect(scheduled(d)).toEqual([]);
    expect(d.instances).toContainEqual(expect.objectContaining({ instanceId: 'i3', reply: 'ACK_PREPARE_MAINTENANCE'.replace('PREPARE', 'PLANNED'), action: 'LIVE_MIGRATE' }));
  });

  it('k8s: EVICTION is the default action and what is offered', () => {
    const s = moving();
    s.session = running({ workflow: 'k8s' });
    s.constraints = { groups: [], instances: [] };
    s.instances = [asked('i1', 'c1'), asked('i2', 'c1'), asked('i3', 'c2')];
    const d = decide('k8s', s, T0 + 20 * S);
    expect(new Set(d.ops?.filter((o) => o.kind === 'move').map((o) => o.args?.kind))).toEqual(new Set(['EVICTION']));
    const s2 = snap({ session: running({ workflow: 'k8s' }), hosts: [host('c0', { status: 'maintained' }), host('c1', { status: 'emptying', disabledByUs: true, originalEnabled: true }), host('c2', { status: 'maintained' })] });
    const ask = scheduled(decide('k8s', s2, T0 + 600 * S))[0]!;
    expect(ask.payload.allowed_actions).toEqual(['EVICTION', 'OWN_ACTION']);
  });

  it('k8s: a constraint asking for a migration gets EVICTION, said once (no step after step of notes)', () => {
    const s = moving();
    s.session = running({ workflow: 'k8s' });
    s.constraints = { groups: [], instances: [ic('i1', null, { migrationType: 'LIVE_MIGRATE' })] };
    s.instances = [asked('i1', 'c1'), asked('i2', 'c1'), asked('i3', 'c2')];
    const d = decide('k8s', s, T0 + 20 * S);
    expect(d.instances).toContainEqual({ instanceId: 'i1', action: 'EVICTION' });
    expect(d.timeline?.filter((t) => /not offered/.test(t.message))).toHaveLength(1);
    // With the record's action set, the next step moves by eviction only and notes nothing.
    const next = decide('k8s', { ...s, instances: [asked('i1', 'c1', { action: 'EVICTION' }), asked('i2', 'c1'), asked('i3', 'c2')] }, T0 + 20 * S);
    expect(new Set(next.ops?.filter((o) => o.kind === 'move').map((o) => o.args?.kind))).toEqual(new Set(['EVICTION']));
    expect(next.timeline?.filter((t) => /not offered/.test(t.message)).map((t) => t.message) ?? []).toEqual([]);
  });

  it('no feasible plan: asks only the projects needed to free the missing capacity to scale in', () => {
    // Two full hosts: nothing can move anywhere. p1 accepts scale-in (resource_mitigation) and has
    // enough; p2 said nothing; p3 refused: only p1 is asked.
    const s = snap({
      hosts: [host('c0'), host('c1')],
      projects: [proj('p1'), proj('p2'), proj('p3')],
      instances: [inst('a', 'c0'), inst('b', 'c0', { projectId: 'p2' }), inst('c', 'c1', { projectId: 'p3' }), inst('d', 'c1')],
      constraints: { groups: [], instances: [ic('a', null), ic('d', null), ic('c', null, { projectId: 'p3', resourceMitigation: false })] },
      observed: {
        hosts: [obsHost('c0', 4, 4), obsHost('c1', 4, 4)],
        instances: [obsInst('a', 'c0'), obsInst('b', 'c0', 2, 'p2'), obsInst('c', 'c1', 2, 'p3'), obsInst('d', 'c1')],
      },
    });
    const d = decide('vnf', s, T0);
    expect(d.session?.state).toBe('SCALE_IN');
    expect(d.session?.phase?.scaleInAsked).toEqual(['p1']);
    const next = decide('vnf', { ...s, session: session({ state: 'SCALE_IN', phase: { ...d.session!.phase! } }) }, T0);
    expect(scheduled(next).map((e) => `${e.projectId}:${e.payload.state}`)).toEqual(['p1:SCALE_IN']);
  });

  it('every host maintained: MAINTENANCE_COMPLETE', () => {
    const s = snap({ session: running({ state: 'PLANNED_MAINTENANCE' }), hosts: ['c0', 'c1', 'c2'].map((h) => host(h, { status: 'maintained' })) });
    expect(decide('vnf', s, T0).session?.state).toBe('MAINTENANCE_COMPLETE');
  });
});
