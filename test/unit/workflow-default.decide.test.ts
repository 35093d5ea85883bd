// The default workflow's decisions as a table: a snapshot and a time in, a Decision out.
import { describe, expect, it } from 'vitest';
import type { Decision } from '../../src/domain/decision.js';
import type { HostInfo, InstanceInfo } from '../../src/domain/infra.js';
import type { Op, SessionHost, SessionInstance, SessionProject, SessionRow } from '../../src/domain/model.js';
import type { Snapshot } from '../../src/domain/snapshot.js';
import { decide } from '../../src/workflows/default/decide.js';

const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);
const S = 1000;

function session(p: Partial<SessionRow> = {}): SessionRow {
  return {
    id: 's1',
    state: 'MAINTENANCE',
    workflow: 'default',
    maintenanceAt: T0,
    metadata: { openstack_version: 'Train' },
    actions: [],
    download: [],
    options: { replyWindowS: 40, scaleInReplyWindowS: 60, noSubscription: 'act', ownActionTimeoutS: 600, maxParallelHosts: 0 },
    phase: { inventoried: true },
    reason: null,
    paused: false,
    deleting: false,
    pausedAt: null,
    control: null,
    wakeAt: null,
    createdAt: T0,
    updatedAt: T0,
    percentDone: 0,
    ...p,
  };
}
const host = (name: string, p: Partial<SessionHost> = {}): SessionHost => ({
  sessionId: 's1', name, type: 'compute', status: 'pending', originalEnabled: null, disabledByUs: false, maintainedAt: null, ...p,
});
const obsHost = (name: string, vcpus: number, used: number, enabled = true): HostInfo => ({ name, type: 'compute', vcpus, vcpusUsed: used, enabled });
const obsInst = (id: string, hostName: string, projectId = 'p1', vcpus = 2): InstanceInfo => ({
  id, name: id, projectId, host: hostName, vcpus, floatingIp: false, liveMigratable: true,
});
const inst = (id: string, hostName: string, p: Partial<SessionInstance> = {}): SessionInstance => ({
  sessionId: 's1', instanceId: id, projectId: 'p1', name: id, host: hostName, originHost: hostName, vcpus: 2, floatingIp: false,
  liveMigratable: true, action: null, status: 'present', moves: 0, error: null, ...p,
});
const proj = (id: string, p: Partial<SessionProject> = {}): SessionProject => ({
  sessionId: 's1', projectId: id, interacting: true, awaiting: null, askKey: null, notifiedAt: null, replyAt: null, reply: null,
  repliedAt: null, lastReply: null, lastReplyAt: null, unreachable: false, ...p,
});
const op = (key: string, p: Partial<Op>): Op => ({
  id: 1, sessionId: 's1', key, kind: 'move', subject: 'x', args: {}, status: 'pending', ref: null, result: null, error: null,
  attempts: 0, createdAt: T0, startedAt: null, finishedAt: null, pollAt: null, ...p,
});

/** Two compute hosts with one instance each and room for one more on each. */
function snap(p: Partial<Snapshot> & { session?: SessionRow } = {}): Snapshot {
  return {
    session: session(),
    hosts: [host('c0'), host('c1')],
    projects: [proj('p1')],
    instances: [inst('i0', 'c0'), inst('i1', 'c1')],
    ops: [],
    subscribedProjects: ['p1'],
    deliveries: {},
    eventKeys: [],
    observed: { hosts: [obsHost('c0', 4, 2), obsHost('c1', 4, 2)], instances: [obsInst('i0', 'c0'), obsInst('i1', 'c1')] },
    ctx: { publicUrl: 'http://fenix.example:12347', adminProject: 'admin', plugins: ['dummy'] },
    ...p,
  };
}

const asked = (d: Decision) => d.events?.filter((e) => e.eventType === 'maintenance.scheduled').map((e) => `${e.projectId}:${e.payload.state}`);
const newState = (d: Decision) => d.session?.state;

describe('default workflow: decide(snapshot, now)', () => {
  const cases: { name: string; s: Snapshot; now?: number; expect: (d: Decision) => void }[] = [
    {
      name: 'takes the inventory of the session hosts first',
      s: snap({ session: session({ phase: {} }), projects: [], instances: [] }),
      expect: (d) => {
        expect(d.instances?.map((i) => i.instanceId)).toEqual(['i0', 'i1']);
        expect(d.projects).toEqual([{ projectId: 'p1', interacting: true }]);
        expect(d.session?.phase?.inventoried).toBe(true);
      },
    },
    {
      name: 'MAINTENANCE: notifies every affected project once, reply_at in the future',
      s: snap(),
      expect: (d) => {
        expect(asked(d)).toEqual(['p1:MAINTENANCE']);
        const p = d.events![0]!.payload;
        expect(p.instance_ids).toBe('http://fenix.example:12347/v1/maintenance/s1/p1');
        expect(p.reply_url).toBe('http://fenix.example:12347/v1/maintenance/s1/p1');
        expect(p.allowed_actions).toEqual([]);
        expect(Date.parse(String(p.reply_at))).toBe(T0 + 40 * S);
        expect(p.metadata).toEqual({ openstack_version: 'Train' });
        expect(d.projects?.[0]).toMatchObject({ awaiting: 'MAINTENANCE', replyAt: T0 + 40 * S, reply: null });
      },
    },
    {
      name: 'MAINTENANCE: a project without subscription is answered on its behalf (default behaviour)',
      s: snap({ subscribedProjects: [] }),
      expect: (d) => {
        expect(asked(d)).toEqual([]);
        expect(d.projects?.[0]).toMatchObject({ interacting: false, reply: 'ACK_MAINTENANCE' });
        expect(d.timeline?.[0]?.kind).toBe('default_behaviour');
      },
    },
    {
      name: 'MAINTENANCE: a project without subscription fails the session when the policy says so',
      s: snap({ subscribedProjects: [], session: session({ options: { ...session().options, noSubscription: 'fail' } }) }),
      expect: (d) => {
        expect(newState(d)).toBe('MAINTENANCE_FAILED');
        expect(d.session?.reason).toMatch(/no subscription/);
      },
    },
    {
      name: 'MAINTENANCE: waits for the reply until reply_at',
      s: snap({ projects: [proj('p1', { awaiting: 'MAINTENANCE', askKey: 'MAINTENANCE:a0', replyAt: T0 + 40 * S })] }),
      now: T0 + 10 * S,
      expect: (d) => expect(d).toEqual({ wakeAt: T0 + 40 * S }),
    },
    {
      name: 'MAINTENANCE: NACK fails the session with the reason',
      s: snap({ projects: [proj('p1', { awaiting: 'MAINTENANCE', askKey: 'MAINTENANCE:a0', replyAt: T0 + 40 * S, reply: 'NACK_MAINTENANCE' })] }),
      expect: (d) => {
        expect(newState(d)).toBe('MAINTENANCE_FAILED');
        expect(d.session?.reason).toBe('project p1 answered NACK_MAINTENANCE');
      },
    },
    {
      name: 'MAINTENANCE: no reply by reply_at from a project that got the notification fails the session',
      s: snap({
        projects: [proj('p1', { awaiting: 'MAINTENANCE', askKey: 'MAINTENANCE:a0', replyAt: T0 + 40 * S })],
        deliveries: { 'ask:MAINTENANCE:a0:p1': { delivered: 1, pending: 0, dead: 0 } },
      }),
      now: T0 + 40 * S,
      expect: (d) => expect(d.session?.reason).toMatch(/did not answer MAINTENANCE/),
    },
    {
      name: 'MAINTENANCE: a project that could not be reached gets the default behaviour at reply_at',
      s: snap({
        projects: [proj('p1', { awaiting: 'MAINTENANCE', askKey: 'MAINTENANCE:a0', replyAt: T0 + 40 * S })],
        deliveries: { 'ask:MAINTENANCE:a0:p1': { delivered: 0, pending: 1, dead: 0 } },
      }),
      now: T0 + 40 * S,
      expect: (d) => expect(d.projects?.[0]).toMatchObject({ reply: 'ACK_MAINTENANCE', unreachable: true }),
    },
    {
      name: 'MAINTENANCE: after the ACKs, waits for maintenance_at',
      s: snap({
        session: session({ maintenanceAt: T0 + 600 * S }),
        projects: [proj('p1', { askKey: 'MAINTENANCE:a0', replyAt: T0 + 40 * S, reply: 'ACK_MAINTENANCE' })],
      }),
      now: T0 + 5 * S,
      expect: (d) => expect(d).toEqual({ wakeAt: T0 + 600 * S }),
    },
    {
      name: 'MAINTENANCE → PREPARE_MAINTENANCE when a host can be emptied into free capacity',
      s: snap({ projects: [proj('p1', { askKey: 'MAINTENANCE:a0', reply: 'ACK_MAINTENANCE' })] }),
      expect: (d) => {
        expect(newState(d)).toBe('PREPARE_MAINTENANCE');
        expect(d.session?.phase?.host).toBe('c0');
        expect(d.events?.find((e) => e.eventType === 'maintenance.session')?.payload).toMatchObject({ state: 'PREPARE_MAINTENANCE' });
      },
    },
    {
      name: 'MAINTENANCE → START_MAINTENANCE when a compute host is empty',
      s: snap({
        projects: [proj('p1', { askKey: 'MAINTENANCE:a0', reply: 'ACK_MAINTENANCE' })],
        instances: [inst('i0', 'c0'), inst('i1', 'c0')],
        observed: { hosts: [obsHost('c0', 4, 4), obsHost('c1', 4, 0)], instances: [obsInst('i0', 'c0'), obsInst('i1', 'c0')] },
      }),
      expect: (d) => expect(newState(d)).toBe('START_MAINTENANCE'),
    },
    {
      name: 'MAINTENANCE → SCALE_IN when no host can be emptied',
      s: snap({
        projects: [proj('p1', { askKey: 'MAINTENANCE:a0', reply: 'ACK_MAINTENANCE' })],
        observed: { hosts: [obsHost('c0', 2, 2), obsHost('c1', 2, 2)], instances: [obsInst('i0', 'c0'), obsInst('i1', 'c1')] },
      }),
      expect: (d) => {
        expect(newState(d)).toBe('SCALE_IN');
        expect(d.timeline?.[0]?.message).toMatch(/c0 needs 2 vCPUs but 0 are free/);
      },
    },
    {
      name: 'SCALE_IN that freed nothing fails the session with the capacity reason',
      s: snap({
        session: session({ state: 'SCALE_IN', phase: { inventoried: true, scaleInRounds: 1, scaleInFreeBefore: 0 } }),
        projects: [proj('p1', { askKey: 'SCALE_IN:a0:1', reply: 'ACK_SCALE_IN' })],
        observed: { hosts: [obsHost('c0', 2, 2), obsHost('c1', 2, 2)], instances: [obsInst('i0', 'c0'), obsInst('i1', 'c1')] },
      }),
      expect: (d) => {
        expect(newState(d)).toBe('MAINTENANCE_FAILED');
        expect(d.session?.reason).toMatch(/scaling in freed nothing/);
      },
    },
    {
      name: 'PREPARE_MAINTENANCE: disables the host to empty (recording that it was enabled) before asking',
      s: snap({ session: session({ state: 'PREPARE_MAINTENANCE', phase: { inventoried: true, host: 'c0' } }) }),
      expect: (d) => {
        expect(d.ops).toEqual([{ key: 'sched:c0:0', kind: 'scheduling', subject: 'c0', args: { enabled: false } }]);
        expect(d.hosts).toEqual([{ name: 'c0', disabledByUs: true, originalEnabled: true }]);
      },
    },
    {
      name: 'PREPARE_MAINTENANCE: asks only the projects on the host, offering MIGRATE, LIVE_MIGRATE, OWN_ACTION',
      s: snap({
        session: session({ state: 'PREPARE_MAINTENANCE', phase: { inventoried: true, host: 'c0' } }),
        hosts: [host('c0', { disabledByUs: true, originalEnabled: true }), host('c1')],
        ops: [op('sched:c0:0', { kind: 'scheduling', subject: 'c0', args: { enabled: false }, status: 'done' })],
        projects: [proj('p1'), proj('p2')],
        instances: [inst('i0', 'c0'), inst('i1', 'c1', { projectId: 'p2' })],
        subscribedProjects: ['p1', 'p2'],
      }),
      expect: (d) => {
        expect(asked(d)).toEqual(['p1:PREPARE_MAINTENANCE']);
        expect(d.events![0]!.payload.allowed_actions).toEqual(['MIGRATE', 'LIVE_MIGRATE', 'OWN_ACTION']);
      },
    },
    {
      name: 'PREPARE_MAINTENANCE: after the ACK, moves each instance with the action asked for, once',
      s: snap({
        session: session({ state: 'PREPARE_MAINTENANCE', phase: { inventoried: true, host: 'c0' } }),
        hosts: [host('c0', { disabledByUs: true, originalEnabled: true }), host('c1')],
        ops: [op('sched:c0:0', { kind: 'scheduling', subject: 'c0', args: { enabled: false }, status: 'done' })],
        projects: [proj('p1', { askKey: 'PREPARE_MAINTENANCE:a0:c0', reply: 'ACK_PREPARE_MAINTENANCE', awaiting: null })],
        instances: [inst('i0', 'c0', { action: 'LIVE_MIGRATE' }), inst('i1', 'c1')],
      }),
      expect: (d) => {
        expect(d.ops).toEqual([{ key: 'move:a0:i0:c0', kind: 'move', subject: 'i0', args: { kind: 'LIVE_MIGRATE', from: 'c0' } }]);
        expect(d.instances).toEqual([{ instanceId: 'i0', status: 'moving', action: 'LIVE_MIGRATE' }]);
      },
    },
    {
      name: 'PREPARE_MAINTENANCE: a finished move sends INSTANCE_ACTION_DONE and records where it landed',
      s: snap({
        session: session({ state: 'PREPARE_MAINTENANCE', phase: { inventoried: true, host: 'c0', actionsSince: T0 } }),
        hosts: [host('c0', { disabledByUs: true, originalEnabled: true }), host('c1')],
        ops: [
          op('sched:c0:0', { kind: 'scheduling', subject: 'c0', args: { enabled: false }, status: 'done' }),
          op('move:a0:i0:c0', { subject: 'i0', args: { kind: 'MIGRATE', from: 'c0' }, status: 'done', result: { host: 'c1' } }),
        ],
        projects: [proj('p1', { askKey: 'PREPARE_MAINTENANCE:a0:c0', reply: 'ACK_PREPARE_MAINTENANCE' })],
        instances: [inst('i0', 'c0', { status: 'moving', action: 'MIGRATE' }), inst('i1', 'c1')],
        observed: { hosts: [obsHost('c0', 4, 0, false), obsHost('c1', 4, 4)], instances: [obsInst('i0', 'c1'), obsInst('i1', 'c1')] },
      }),
      expect: (d) => {
        expect(d.instances).toEqual([{ instanceId: 'i0', status: 'moved', host: 'c1', moves: 1, action: null }]);
        // with the project's reply_url, as the original sent it (Tacker's receiver rejects an event without one)
        expect(d.events?.[0]?.payload).toMatchObject({ state: 'INSTANCE_ACTION_DONE', instance_ids: ['i0'], reply_url: expect.stringMatching(/\/v1\/maintenance\/[^/]+\/p1$/) });
      },
    },
    {
      name: 'PREPARE_MAINTENANCE: a failed move fails the session with the driver error',
      s: snap({
        session: session({ state: 'PREPARE_MAINTENANCE', phase: { inventoried: true, host: 'c0', actionsSince: T0 } }),
        hosts: [host('c0', { disabledByUs: true, originalEnabled: true }), host('c1')],
        ops: [
          op('sched:c0:0', { kind: 'scheduling', subject: 'c0', args: { enabled: false }, status: 'done' }),
          op('move:a0:i0:c0', { subject: 'i0', args: { kind: 'MIGRATE' }, status: 'failed', error: 'No valid host was found.' }),
        ],
        projects: [proj('p1', { askKey: 'PREPARE_MAINTENANCE:a0:c0', reply: 'ACK_PREPARE_MAINTENANCE' })],
        instances: [inst('i0', 'c0', { status: 'moving', action: 'MIGRATE' }), inst('i1', 'c1')],
      }),
      expect: (d) => {
        expect(newState(d)).toBe('MAINTENANCE_FAILED');
        expect(d.session?.reason).toMatch(/No valid host was found/);
      },
    },
    {
      name: 'PREPARE_MAINTENANCE: the emptied host leads to START_MAINTENANCE',
      s: snap({
        session: session({ state: 'PREPARE_MAINTENANCE', phase: { inventoried: true, host: 'c0', actionsSince: T0 } }),
        hosts: [host('c0', { disabledByUs: true, originalEnabled: true }), host('c1')],
        ops: [op('sched:c0:0', { kind: 'scheduling', subject: 'c0', args: { enabled: false }, status: 'done' })],
        projects: [proj('p1', { askKey: 'PREPARE_MAINTENANCE:a0:c0', reply: 'ACK_PREPARE_MAINTENANCE' })],
        instances: [inst('i0', 'c1', { status: 'moved', moves: 1 }), inst('i1', 'c1')],
        observed: { hosts: [obsHost('c0', 4, 0, false), obsHost('c1', 4, 4)], instances: [obsInst('i0', 'c1'), obsInst('i1', 'c1')] },
      }),
      expect: (d) => expect(newState(d)).toBe('START_MAINTENANCE'),
    },
    {
      name: 'PREPARE_MAINTENANCE: OWN_ACTION instances still on the host after the timeout fail the session',
      s: snap({
        session: session({ state: 'PREPARE_MAINTENANCE', phase: { inventoried: true, host: 'c0', actionsSince: T0 } }),
        hosts: [host('c0', { disabledByUs: true, originalEnabled: true }), host('c1')],
        ops: [op('sched:c0:0', { kind: 'scheduling', subject: 'c0', args: { enabled: false }, status: 'done' })],
        projects: [proj('p1', { askKey: 'PREPARE_MAINTENANCE:a0:c0', reply: 'ACK_PREPARE_MAINTENANCE' })],
        instances: [inst('i0', 'c0', { action: 'OWN_ACTION' }), inst('i1', 'c1')],
      }),
      now: T0 + 600 * S,
      expect: (d) => expect(d.session?.reason).toMatch(/c0 still holds i0/),
    },
    {
      name: 'START_MAINTENANCE: first round disables every compute host of the session',
      s: snap({ session: session({ state: 'START_MAINTENANCE' }) }),
      expect: (d) => expect(d.ops?.map((o) => o.key)).toEqual(['sched:c0:0', 'sched:c1:0']),
    },
    {
      name: 'START_MAINTENANCE: a host found disabled is left so, and remembered as such',
      s: snap({
        session: session({ state: 'START_MAINTENANCE' }),
        observed: { hosts: [obsHost('c0', 4, 2, false), obsHost('c1', 4, 2)], instances: [obsInst('i0', 'c0'), obsInst('i1', 'c1')] },
      }),
      expect: (d) => {
        expect(d.hosts).toContainEqual({ name: 'c0', originalEnabled: false });
        expect(d.ops?.map((o) => o.key)).toEqual(['sched:c1:0']);
      },
    },
    {
      name: 'START_MAINTENANCE: an empty host goes into maintenance with a maintenance.host event',
      s: snap({
        session: session({ state: 'START_MAINTENANCE', phase: { inventoried: true, computesDisabled: true } }),
        hosts: [host('c0', { disabledByUs: true, originalEnabled: true }), host('c1', { disabledByUs: true, originalEnabled: true })],
        instances: [inst('i0', 'c1'), inst('i1', 'c1')],
        observed: { hosts: [obsHost('c0', 4, 0, false), obsHost('c1', 4, 4, false)], instances: [obsInst('i0', 'c1'), obsInst('i1', 'c1')] },
      }),
      expect: (d) => {
        expect(d.hosts).toEqual([{ name: 'c0', status: 'maintaining' }]);
        expect(d.events?.[0]).toMatchObject({
          eventType: 'maintenance.host',
          payload: { host: 'c0', state: 'IN_MAINTENANCE', session_id: 's1', project_id: 'admin' },
        });
      },
    },
    {
      name: 'START_MAINTENANCE: host plug-ins run before host-type plug-ins, each type in the order listed',
      s: snap({
        session: session({
          state: 'START_MAINTENANCE',
          phase: { inventoried: true, computesDisabled: true },
          actions: [
            { plugin: 'zeta', type: 'compute', metadata: {} },
            { plugin: 'beta', type: 'host', metadata: {} },
            { plugin: 'alpha', type: 'compute', metadata: {} },
          ],
        }),
        hosts: [host('c0', { status: 'maintaining', disabledByUs: true, originalEnabled: true }), host('c1')],
        eventKeys: ['host:a0:c0:IN_MAINTENANCE'],
        ops: [op('plugin:a0:host:beta:c0', { kind: 'plugin', subject: 'beta', status: 'done' })],
        instances: [inst('i0', 'c1'), inst('i1', 'c1')],
        observed: { hosts: [obsHost('c0', 4, 0, false), obsHost('c1', 4, 4, false)], instances: [obsInst('i0', 'c1'), obsInst('i1', 'c1')] },
      }),
      expect: (d) => {
        expect(d.ops?.map((o) => o.key)).toEqual(['plugin:a0:compute:zeta:c0']);
        expect(d.ops?.[0]?.args).toEqual({ type: 'compute', action: 0, host: 'c0' });
      },
    },
    {
      name: 'START_MAINTENANCE: `order` sorts the actions of a type; a plug-in used twice gets a key per action',
      s: snap({
        session: session({
          state: 'START_MAINTENANCE',
          phase: { inventoried: true, computesDisabled: true },
          actions: [
            { plugin: 'shell', type: 'host', metadata: { command: ['/bin/b'] }, order: 2 },
            { plugin: 'shell', type: 'host', metadata: { command: ['/bin/a'] }, order: 1 },
          ],
        }),
        hosts: [host('c0', { status: 'maintaining', disabledByUs: true, originalEnabled: true }), host('c1')],
        eventKeys: ['host:a0:c0:IN_MAINTENANCE'],
        ops: [op('plugin:a0:host:shell:c0', { kind: 'plugin', subject: 'shell', args: { type: 'host', action: 1, host: 'c0' }, status: 'done' })],
      }),
      expect: (d) => expect(d.ops).toEqual([{ key: 'plugin:a0:host:shell#2:c0', kind: 'plugin', subject: 'shell', args: { type: 'host', action: 0, host: 'c0' } }]),
    },
    {
      name: 'START_MAINTENANCE: verify actions run after the host maintenance, before MAINTENANCE_COMPLETE',
      s: snap({
        session: session({ state: 'START_MAINTENANCE', phase: { inventoried: true, computesDisabled: true }, actions: [{ plugin: 'shell', type: 'verify', metadata: {} }] }),
        hosts: [host('c0', { status: 'maintaining', disabledByUs: true, originalEnabled: true }), host('c1')],
        eventKeys: ['host:a0:c0:IN_MAINTENANCE'],
        ops: [op('hm:a0:c0', { kind: 'host_maintenance', subject: 'c0', status: 'done' })],
      }),
      expect: (d) => {
        expect(d.ops?.map((o) => o.key)).toEqual(['plugin:a0:verify:shell:c0']);
        expect(d.events ?? []).toEqual([]);
      },
    },
    {
      name: 'START_MAINTENANCE: a failed verify marks the host failed and keeps it disabled (no MAINTENANCE_COMPLETE, no enable)',
      s: snap({
        session: session({ state: 'START_MAINTENANCE', phase: { inventoried: true, computesDisabled: true }, actions: [{ plugin: 'shell', type: 'verify', metadata: {} }] }),
        hosts: [host('c0', { status: 'maintaining', disabledByUs: true, originalEnabled: true }), host('c1')],
        eventKeys: ['host:a0:c0:IN_MAINTENANCE'],
        ops: [
          op('hm:a0:c0', { kind: 'host_maintenance', subject: 'c0', status: 'done' }),
          op('plugin:a0:verify:shell:c0', { kind: 'plugin', subject: 'shell', status: 'failed', error: 'plug-in shell on c0 failed: unhealthy' }),
        ],
      }),
      expect: (d) => {
        expect(d.hosts).toEqual([{ name: 'c0', status: 'failed' }]);
        expect(d.session?.phase?.failedHosts).toEqual([{ host: 'c0', reason: 'plug-in shell on c0 failed: unhealthy', at: T0 }]);
        expect(d.ops ?? []).toEqual([]);
        expect(d.events ?? []).toEqual([]);
        expect(newState(d)).toBeUndefined();
      },
    },
    {
      name: 'error budget: more failed hosts than max_failed_hosts fail the session, naming them',
      s: snap({
        session: session({
          state: 'START_MAINTENANCE',
          options: { replyWindowS: 40, scaleInReplyWindowS: 60, noSubscription: 'act', ownActionTimeoutS: 600, maxParallelHosts: 0, maxFailedHosts: 0 },
          phase: { inventoried: true, computesDisabled: true, failedHosts: [{ host: 'c0', reason: 'plug-in shell on c0 failed: unhealthy', at: T0 }] },
        }),
        hosts: [host('c0', { status: 'failed', disabledByUs: true, originalEnabled: true }), host('c1')],
      }),
      expect: (d) => {
        expect(newState(d)).toBe('MAINTENANCE_FAILED');
        expect(d.session?.reason).toMatch(/unhealthy \(host c0 stays disabled\); 1 host\(s\) failed .*\(c0\), more than max_failed_hosts 0/);
        expect(d.session?.phase?.failedHosts).toHaveLength(1);
      },
    },
    {
      name: 'error budget: under max_failed_hosts the session goes on with the next host',
      s: snap({
        session: session({
          state: 'START_MAINTENANCE',
          options: { replyWindowS: 40, scaleInReplyWindowS: 60, noSubscription: 'act', ownActionTimeoutS: 600, maxParallelHosts: 0, maxFailedHosts: 1 },
          phase: { inventoried: true, computesDisabled: true, failedHosts: [{ host: 'c0', reason: 'unhealthy', at: T0 }] },
        }),
        hosts: [host('c0', { status: 'failed', disabledByUs: true, originalEnabled: true }), host('c1', { disabledByUs: true, originalEnabled: true })],
        instances: [inst('i0', 'c1'), inst('i1', 'c1')],
        observed: { hosts: [obsHost('c0', 4, 0, false), obsHost('c1', 4, 4, false)], instances: [obsInst('i0', 'c1'), obsInst('i1', 'c1')] },
      }),
      expect: (d) => {
        expect(newState(d)).not.toBe('MAINTENANCE_FAILED');
        expect(d.hosts?.some((h) => h.name === 'c0')).toBeFalsy();
      },
    },
    {
      name: 'MAINTENANCE_COMPLETE: a failed host stays disabled; MAINTENANCE_DONE names it',
      s: snap({
        session: session({
          state: 'MAINTENANCE_COMPLETE',
          options: { replyWindowS: 40, scaleInReplyWindowS: 60, noSubscription: 'act', ownActionTimeoutS: 600, maxParallelHosts: 0, maxFailedHosts: 1 },
          phase: { inventoried: true, failedHosts: [{ host: 'c0', reason: 'unhealthy', at: T0 }] },
        }),
        hosts: [host('c0', { status: 'failed', disabledByUs: true, originalEnabled: true }), host('c1', { status: 'maintained' })],
        projects: [proj('p1', { askKey: 'MAINTENANCE_COMPLETE:a0', reply: 'ACK_MAINTENANCE_COMPLETE' })],
      }),
      expect: (d) => {
        expect(newState(d)).toBe('MAINTENANCE_DONE');
        expect(d.session?.reason).toBe('1 host(s) failed their verify actions and stay disabled: c0');
        expect(d.ops ?? []).toEqual([]);
      },
    },
    {
      name: 'settle: a failed host is not enabled when the session ends; a running plug-in is waited for first',
      s: snap({
        session: session({ state: 'MAINTENANCE_FAILED', phase: { inventoried: true } }),
        hosts: [host('c0', { status: 'failed', disabledByUs: true, originalEnabled: true }), host('c1', { disabledByUs: true, originalEnabled: true })],
        ops: [op('plugin:a0:host:shell:c1', { kind: 'plugin', subject: 'shell', status: 'started' })],
      }),
      expect: (d) => expect(d).toEqual({}),
    },
    {
      name: 'settle: with no plug-in running, only the hosts that did not fail are enabled again',
      s: snap({
        session: session({ state: 'MAINTENANCE_FAILED', phase: { inventoried: true } }),
        hosts: [host('c0', { status: 'failed', disabledByUs: true, originalEnabled: true }), host('c1', { disabledByUs: true, originalEnabled: true })],
      }),
      expect: (d) => expect(d.ops?.map((o) => `${o.subject}:${String(o.args?.enabled)}`)).toEqual(['c1:true']),
    },
    {
      name: 'windows: a host already emptied is maintained outside them (it was taken down in one)',
      s: snap({
        session: session({
          state: 'START_MAINTENANCE',
          phase: { inventoried: true, computesDisabled: true },
          options: {
            replyWindowS: 40,
            scaleInReplyWindowS: 60,
            noSubscription: 'act',
            ownActionTimeoutS: 600,
            maxParallelHosts: 0,
            windows: { timeZone: 'UTC', weekly: [{ days: ['sat'], start: '01:00', end: '05:00' }], exclude: [] },
          },
        }),
        hosts: [host('c0', { status: 'emptying', disabledByUs: true, originalEnabled: true }), host('c1', { disabledByUs: true, originalEnabled: true })],
        instances: [inst('i0', 'c1'), inst('i1', 'c1')],
        observed: { hosts: [obsHost('c0', 4, 0, false), obsHost('c1', 4, 4, false)], instances: [obsInst('i0', 'c1'), obsInst('i1', 'c1')] },
      }),
      expect: (d) => {
        expect(d.hosts).toEqual([{ name: 'c0', status: 'maintaining' }]);
        expect(d.events?.[0]?.payload).toMatchObject({ host: 'c0', state: 'IN_MAINTENANCE' });
      },
    },
    {
      name: 'windows: outside them no host is emptied; the session waits for the next one and says so once',
      // T0 is a Thursday 10:00 UTC; the window is Saturday 01:00-05:00 in Helsinki (UTC+2): Friday 23:00 UTC.
      s: snap({
        session: session({
          options: {
            replyWindowS: 40,
            scaleInReplyWindowS: 60,
            noSubscription: 'act',
            ownActionTimeoutS: 600,
            maxParallelHosts: 0,
            windows: { timeZone: 'Europe/Helsinki', weekly: [{ days: ['sat'], start: '01:00', end: '05:00' }], exclude: [] },
          },
        }),
        projects: [proj('p1', { askKey: 'MAINTENANCE:a0', reply: 'ACK_MAINTENANCE' })],
      }),
      expect: (d) => {
        expect(newState(d)).toBeUndefined();
        expect(d.wakeAt).toBe(Date.UTC(2026, 0, 2, 23, 0));
        expect(d.timeline?.[0]?.message).toMatch(/no new host is taken down until 2026-01-02T23:00:00Z/);
        expect(d.hosts ?? []).toEqual([]);
      },
    },
    {
      name: 'START_MAINTENANCE: a failed plug-in fails the session with its output',
      s: snap({
        session: session({ state: 'START_MAINTENANCE', phase: { inventoried: true, computesDisabled: true }, actions: [{ plugin: 'dummy', type: 'host', metadata: {} }] }),
        hosts: [host('c0', { status: 'maintaining', disabledByUs: true, originalEnabled: true }), host('c1')],
        eventKeys: ['host:a0:c0:IN_MAINTENANCE'],
        ops: [op('plugin:a0:host:dummy:c0', { kind: 'plugin', subject: 'dummy', status: 'failed', error: 'plug-in dummy failed: boom' })],
      }),
      expect: (d) => expect(d.session?.reason).toMatch(/maintenance of c0 failed: plug-in dummy failed: boom/),
    },
    {
      name: 'START_MAINTENANCE: after maintenance, MAINTENANCE_COMPLETE then scheduling back on',
      s: snap({
        session: session({ state: 'START_MAINTENANCE', phase: { inventoried: true, computesDisabled: true } }),
        hosts: [host('c0', { status: 'maintaining', disabledByUs: true, originalEnabled: true }), host('c1')],
        eventKeys: ['host:a0:c0:IN_MAINTENANCE', 'host:a0:c0:MAINTENANCE_COMPLETE'],
        ops: [
          op('sched:c0:0', { kind: 'scheduling', subject: 'c0', args: { enabled: false }, status: 'done' }),
          op('hm:a0:c0', { kind: 'host_maintenance', subject: 'c0', status: 'done' }),
        ],
      }),
      expect: (d) => expect(d.ops).toEqual([{ key: 'sched:c0:1', kind: 'scheduling', subject: 'c0', args: { enabled: true } }]),
    },
    {
      name: 'MAINTENANCE_FAILED: every host disabled by the session is enabled again',
      s: snap({
        session: session({ state: 'MAINTENANCE_FAILED' }),
        hosts: [host('c0', { disabledByUs: true, originalEnabled: true }), host('c1', { originalEnabled: false })],
        ops: [op('sched:c0:0', { kind: 'scheduling', subject: 'c0', args: { enabled: false }, status: 'done' })],
      }),
      expect: (d) => expect(d.ops).toEqual([{ key: 'sched:c0:1', kind: 'scheduling', subject: 'c0', args: { enabled: true } }]),
    },
    {
      name: 'a paused session decides nothing',
      s: snap({ session: session({ paused: true }) }),
      expect: (d) => expect(d).toEqual({}),
    },
    {
      name: 'MAINTENANCE_COMPLETE: asks every project, then MAINTENANCE_DONE at 100 %',
      s: snap({
        session: session({ state: 'MAINTENANCE_COMPLETE' }),
        hosts: [host('c0', { status: 'maintained' }), host('c1', { status: 'maintained' })],
        projects: [proj('p1', { askKey: 'MAINTENANCE_COMPLETE:a0', reply: 'ACK_MAINTENANCE_COMPLETE' })],
      }),
      expect: (d) => {
        expect(newState(d)).toBe('MAINTENANCE_DONE');
        expect(d.session?.percentDone).toBe(100);
      },
    },
  ];

  for (const c of cases) it(c.name, () => c.expect(decide(c.s, c.now ?? T0)));

  it('is idempotent: deciding again on an answered ask adds no new notification', () => {
    const s = snap({ projects: [proj('p1', { awaiting: 'MAINTENANCE', askKey: 'MAINTENANCE:a0', replyAt: T0 + 40 * S })], eventKeys: ['ask:MAINTENANCE:a0:p1'] });
    expect(decide(s, T0 + S).events ?? []).toEqual([]);
  });
});
