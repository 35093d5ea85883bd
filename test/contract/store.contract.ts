// Behaviour every Store must show, written against the port only, so the same suite runs unchanged
// against SQLite and PostgreSQL. Rows are compared with toMatchObject where later migrations may add
// fields with their own defaults. Each test gets an empty store from `makeStore`; after the test the
// suite closes it and calls `cleanup(store, failed)` (which may keep a failed test's database).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Decision } from '../../src/domain/decision.js';
import type { SessionOptions, TimelineEntry } from '../../src/domain/model.js';
import type { EventType } from '../../src/domain/states.js';
import type { NewSession, OpPatch, Store } from '../../src/ports/store.js';
import type { Subscription } from '../../src/ports/transport.js';

const T0 = 1_700_000_000_000;
const TTL = 30_000;

const OPTIONS: SessionOptions = {
  replyWindowS: 300,
  scaleInReplyWindowS: 600,
  noSubscription: 'act',
  ownActionTimeoutS: 900,
  maxParallelHosts: 2,
};

function newSession(id: string, hosts: string[] = ['compute-0', 'compute-1'], createdAt = T0): NewSession {
  return {
    session: {
      id,
      state: 'MAINTENANCE',
      workflow: 'default',
      maintenanceAt: createdAt + 3_600_000,
      metadata: { openstack: 'upgrade', nested: { list: [1, 'two', null], flag: true }, 'ünïcode': '✓' },
      actions: [{ plugin: 'dummy', type: 'host', metadata: { foo: 'bar' } }],
      download: ['http://example.com/patch.tgz'],
      options: OPTIONS,
      phase: { inventoried: false, host: null, transitions: 0 },
      createdAt,
    },
    hosts: hosts.map((name) => ({ name, type: name.startsWith('controller') ? 'controller' : 'compute' })),
    timeline: [{ at: createdAt, kind: 'created', message: `session ${id} created`, data: { hosts } }],
  };
}

function sub(id: string, projectId: string | null, eventTypes: EventType[], createdAt = T0): Subscription {
  return { id, projectId, url: `http://receiver.test/${id}`, eventTypes, format: 'json', secret: null, createdAt, delivered: 0 };
}

const ids = (rows: { id: number }[]) => rows.map((r) => r.id);

const event = (key: string, eventType: EventType, projectId: string | null, payload: Record<string, unknown> = { key }) => ({
  key,
  eventType,
  projectId,
  payload,
});

export function describeStoreContract(
  name: string,
  makeStore: () => Promise<Store>,
  cleanup: (store: Store, failed: boolean) => Promise<void> = async () => {},
): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    let opened: Store | undefined;

    beforeEach(async () => {
      opened = undefined;
      store = await makeStore();
      opened = store;
    });

    afterEach(async (ctx) => {
      if (!opened) return; // makeStore failed: the test has failed with its error
      await opened.close();
      await cleanup(opened, ctx.task.result?.state === 'fail');
    });

    /** Create a session and take its lease; returns the fence. */
    const started = async (id: string, hosts?: string[], owner = 'engine-a', now = T0): Promise<number> => {
      await store.createSession(newSession(id, hosts));
      const lease = await store.acquireLease(id, owner, now, TTL);
      expect(lease).toBeDefined();
      return lease!.fence;
    };

    it('names its dialect', () => {
      expect(['sqlite', 'postgres']).toContain(store.dialect);
    });

    it('migrating again is a no-op', async () => {
      await store.migrate();
      await store.createSession(newSession('s1'));
      await store.migrate();
      expect(await store.getSession('s1')).toBeDefined();
    });

    describe('sessions', () => {
      it('round-trips a created session with every field, JSON documents included', async () => {
        const n = newSession('s1', ['compute-0', 'controller-0', 'compute-1']);
        await store.createSession(n);
        const expected = {
          ...n.session,
          reason: null,
          paused: false,
          deleting: false,
          wakeAt: T0,
          updatedAt: T0,
          percentDone: 0,
        };
        // toMatchObject: later migrations may add session columns with their own defaults.
        expect(await store.getSession('s1')).toMatchObject(expected);
        expect(await store.listSessions()).toMatchObject([expected]);
        expect(await store.getSession('nope')).toBeUndefined();

        const snap = await store.loadSnapshot('s1');
        expect(snap!.session).toStrictEqual(await store.getSession('s1'));
        expect(snap!.hosts).toMatchObject(
          ['compute-0', 'controller-0', 'compute-1'].map((name) => ({
            sessionId: 's1',
            name,
            type: name.startsWith('controller') ? 'controller' : 'compute',
            status: 'pending',
            originalEnabled: null,
            disabledByUs: false,
            maintainedAt: null,
          })),
        );
        expect(snap!.projects).toEqual([]);
        expect(snap!.instances).toEqual([]);
        expect(snap!.ops).toEqual([]);
        expect(snap!.subscribedProjects).toEqual([]);
        expect(snap!.deliveries).toEqual({});
        expect(snap!.eventKeys).toEqual([]);
        expect(await store.timeline('s1')).toStrictEqual(n.timeline);
        expect(await store.loadSnapshot('nope')).toBeUndefined();
      });

      it('lists sessions by creation time, then id', async () => {
        await store.createSession(newSession('b', ['h1'], T0 + 1));
        await store.createSession(newSession('c', ['h2'], T0));
        await store.createSession(newSession('a', ['h3'], T0 + 1));
        expect((await store.listSessions()).map((s) => s.id)).toEqual(['c', 'a', 'b']);
      });

      it('finds active sessions on given hosts, skipping finished and deleting ones', async () => {
        const fDone = await started('done', ['compute-0']);
        await store.applyDecision('done', fDone, { session: { state: 'MAINTENANCE_DONE' } }, T0);
        const fFailed = await started('failed', ['compute-2']);
        await store.applyDecision('failed', fFailed, { session: { state: 'MAINTENANCE_FAILED' } }, T0);
        await store.createSession(newSession('deleting', ['compute-1']));
        await store.setSessionFlags('deleting', { deleting: true }, T0);
        // Finished and deleted sessions free their hosts for new ones; running ones keep them.
        expect(await store.createSession(newSession('active', ['compute-0', 'compute-1']))).toEqual({ busy: [] });
        expect(await store.createSession(newSession('other', ['compute-2']))).toEqual({ busy: [] });
        const refused = await store.createSession(newSession('late', ['compute-1', 'compute-7']));
        expect(refused).toEqual({ busy: [{ id: 'active', hosts: ['compute-1'] }] });
        expect(await store.getSession('late')).toBeUndefined();

        const found = await store.activeSessionsOnHosts(['compute-0', 'compute-2', 'compute-9']);
        expect(found.sort((x, y) => x.id.localeCompare(y.id))).toEqual([
          { id: 'active', hosts: ['compute-0'] },
          { id: 'other', hosts: ['compute-2'] },
        ]);
        const both = await store.activeSessionsOnHosts(['compute-0', 'compute-1']);
        expect(both).toHaveLength(1);
        expect(both[0]!.hosts.sort()).toEqual(['compute-0', 'compute-1']);
        expect(await store.activeSessionsOnHosts([])).toEqual([]);
      });

      it('sets the paused, deleting and wake-up flags', async () => {
        await store.createSession(newSession('s1'));
        await store.setSessionFlags('s1', { paused: true, wakeAt: null }, T0 + 5);
        expect(await store.getSession('s1')).toMatchObject({ paused: true, deleting: false, wakeAt: null, updatedAt: T0 + 5 });
        await store.setSessionFlags('s1', { paused: false, deleting: true, wakeAt: T0 + 99 }, T0 + 6);
        expect(await store.getSession('s1')).toMatchObject({ paused: false, deleting: true, wakeAt: T0 + 99, updatedAt: T0 + 6 });
        await store.setSessionFlags('s1', {}, T0 + 7);
        expect(await store.getSession('s1')).toMatchObject({ paused: false, deleting: true, wakeAt: T0 + 99 });
      });

      it('appends to the timeline in order', async () => {
        await store.createSession(newSession('s1'));
        const extra: TimelineEntry[] = [
          { at: T0 + 2, kind: 'b', message: 'second' },
          { at: T0 + 1, kind: 'c', message: 'third, with an earlier time', data: { n: 3 } },
        ];
        for (const e of extra) await store.appendTimeline('s1', e);
        expect((await store.timeline('s1')).map((e) => e.message)).toEqual([`session s1 created`, 'second', 'third, with an earlier time']);
        expect((await store.timeline('s1'))[2]).toStrictEqual(extra[1]);
        expect('data' in (await store.timeline('s1'))[1]!).toBe(false);
      });
    });

    describe('applyDecision', () => {
      it('commits a decision of any size (rows chunked under the statement parameter limits)', async () => {
        const hosts = Array.from({ length: 12_000 }, (_, i) => `h-${i}`);
        const fence = await started('big', hosts);
        const n = 9_000;
        const d: Decision = {
          hosts: hosts.map((name) => ({ name, status: 'emptying' as const })),
          projects: Array.from({ length: 3_000 }, (_, i) => ({ projectId: `p-${i}`, interacting: false })),
          instances: Array.from({ length: n }, (_, i) => ({ instanceId: `i-${i}`, projectId: `p-${i % 3_000}`, host: hosts[i % hosts.length]! })),
          ops: Array.from({ length: n }, (_, i) => ({ key: `move:${i}`, kind: 'move' as const, subject: `i-${i}` })),
          events: Array.from({ length: n }, (_, i) => ({ key: `ev:${i}`, eventType: 'maintenance.host' as const, projectId: null, payload: { i } })),
          timeline: Array.from({ length: n }, (_, i) => ({ at: T0, kind: 'instance', message: `m ${i}` })),
        };
        const applied = await store.commitDecision('big', fence, d, T0 + 1);
        expect(applied?.ops).toHaveLength(n);
        const snap = (await store.loadSnapshot('big'))!;
        expect(snap.hosts.filter((h) => h.status === 'emptying')).toHaveLength(hosts.length);
        expect(snap.instances).toHaveLength(n);
        expect(snap.eventKeys).toHaveLength(n);
        expect(await store.activeSessionsOnHosts(hosts)).toEqual([{ id: 'big', hosts: expect.arrayContaining(hosts.slice(0, 3)) }]);
      });

      it('writes instance patches: each instance its own values (a round of asks), different columns, nulls, more rows than a statement takes', async () => {
        const fence = await started('s1', ['compute-0', 'compute-1']);
        const n = 1_234;
        const instances = Array.from({ length: n }, (_, i) => ({ instanceId: `i-${i}`, projectId: `p-${i % 7}`, host: `compute-${i % 2}`, vcpus: 2 }));
        expect(await store.commitDecision('s1', fence, { instances }, T0 + 1)).not.toBeNull();
        const asked = Array.from({ length: n - 4 }, (_, i): NonNullable<Decision['instances']>[number] => ({ instanceId: `i-${i}`, askState: 'MAINTENANCE', askKey: `a1:i-${i}:compute-${i % 2}`, reply: null, notifiedAt: T0 + 2 + i }));
        const patches: NonNullable<Decision['instances']> = [
          ...asked,
          { instanceId: 'i-0', status: 'moving', action: 'MIGRATE', moves: 1 },
          { instanceId: 'i-1', error: "it's broken; \"quoted\" ünïcode", reply: 'ACK_MAINTENANCE', repliedAt: T0 + 9 },
          { instanceId: 'i-2', askKey: null, askState: null },
          { instanceId: `i-${n - 3}`, host: 'compute-1', status: 'present' },
          { instanceId: `i-${n - 2}` },
        ];
        expect(await store.commitDecision('s1', fence, { instances: patches }, T0 + 3)).not.toBeNull();
        const byId = new Map((await store.loadSnapshot('s1'))!.instances.map((i) => [i.instanceId, i]));
        expect(byId.size).toBe(n);
        expect(byId.get('i-0')).toMatchObject({ askState: 'MAINTENANCE', askKey: 'a1:i-0:compute-0', notifiedAt: T0 + 2, status: 'moving', action: 'MIGRATE', moves: 1, projectId: 'p-0', vcpus: 2 });
        expect(byId.get('i-1')).toMatchObject({ askKey: 'a1:i-1:compute-1', reply: 'ACK_MAINTENANCE', repliedAt: T0 + 9, error: 'it\'s broken; "quoted" ünïcode' });
        expect(byId.get('i-2')).toMatchObject({ askKey: null, askState: null, notifiedAt: T0 + 4 });
        for (const i of [3, 500, n - 5]) expect(byId.get(`i-${i}`)).toMatchObject({ askState: 'MAINTENANCE', askKey: `a1:i-${i}:compute-${i % 2}`, notifiedAt: T0 + 2 + i, reply: null, status: 'present' });
        expect(byId.get(`i-${n - 3}`)).toMatchObject({ host: 'compute-1', originHost: `compute-${(n - 3) % 2}`, askState: null, askKey: null });
        for (const i of [n - 2, n - 1]) expect(byId.get(`i-${i}`)).toMatchObject({ askState: null, askKey: null, notifiedAt: null, status: 'present', moves: 0 });
      });

      it('writes op outcomes with a commit: each op its own values, patches of different columns, nulls, other ops untouched', async () => {
        const fence = await started('s1', ['compute-0']);
        const ops = Array.from({ length: 7 }, (_, i) => ({ key: `move:${i}`, kind: 'move' as const, subject: `i-${i}`, args: { kind: 'MIGRATE' } }));
        const created = (await store.commitDecision('s1', fence, { ops }, T0 + 1))!.ops;
        const [a, b, c, d, e, f] = created.map((o) => o.id);
        const patches = new Map<number, OpPatch>([
          [a!, { status: 'started', ref: 'ref-a', startedAt: T0 + 2, pollAt: T0 + 3, attempts: 1 }],
          [b!, { status: 'started', ref: 'ref-b', startedAt: T0 + 4, pollAt: T0 + 5, attempts: 2 }],
          [c!, { status: 'done', finishedAt: T0 + 6, result: { host: 'compute-9' }, error: null, pollAt: null }],
          [d!, { status: 'failed', finishedAt: T0 + 7, result: {}, error: "it's broken; \"quoted\" ünïcode", pollAt: null }],
          [e!, { pollAt: T0 + 8 }],
          [f!, {}],
        ]);
        expect(await store.commitDecision('s1', fence, {}, T0 + 9, undefined, patches)).not.toBeNull();
        const byKey = new Map((await store.loadSnapshot('s1'))!.ops.map((o) => [o.key, o]));
        expect(byKey.get('move:0')).toMatchObject({ status: 'started', ref: 'ref-a', startedAt: T0 + 2, pollAt: T0 + 3, attempts: 1, finishedAt: null });
        expect(byKey.get('move:1')).toMatchObject({ status: 'started', ref: 'ref-b', startedAt: T0 + 4, pollAt: T0 + 5, attempts: 2 });
        expect(byKey.get('move:2')).toMatchObject({ status: 'done', ref: null, finishedAt: T0 + 6, result: { host: 'compute-9' }, error: null, pollAt: null });
        expect(byKey.get('move:3')).toMatchObject({ status: 'failed', finishedAt: T0 + 7, result: {}, error: 'it\'s broken; "quoted" ünïcode' });
        expect(byKey.get('move:4')).toMatchObject({ status: 'pending', pollAt: T0 + 8, attempts: 0 });
        for (const k of ['move:5', 'move:6']) expect(byKey.get(k)).toMatchObject({ status: 'pending', ref: null, pollAt: null, attempts: 0 });
        // A stale fence writes nothing, outcomes included.
        expect(await store.commitDecision('s1', fence - 1, {}, T0 + 10, undefined, new Map([[e!, { status: 'done' }]]))).toBeNull();
        expect((await store.loadSnapshot('s1'))!.ops.find((o) => o.key === 'move:4')!.status).toBe('pending');
      });

      it('keeps a plan apart from the session row: written once per plan, loaded with the snapshot, replaced, dropped', async () => {
        const fence = await started('s1', ['compute-0', 'compute-1']);
        const plan = (at: number, attempt = 0) => ({
          v: 1 as const, at, attempt, durationS: 60, lowerBoundS: 50,
          batches: [{ hosts: ['compute-0'], waitFor: [] }, { hosts: ['compute-1'], waitFor: ['compute-0'] }],
          moves: { 'compute-0': [['i1', 'compute-1']] as [string, string][] },
        });
        const first = plan(T0 + 1);
        await store.commitDecision('s1', fence, { session: { phase: { inventoried: true, plan: first } } }, T0 + 1);
        expect((await store.getSession('s1'))!.phase).toEqual({ inventoried: true });
        expect(await store.sessionPlan('s1')).toEqual(first);
        expect((await store.loadSnapshot('s1'))!.session.phase).toEqual({ inventoried: true, plan: first });
        // Later phase patches carry the same plan (or none): the plan stays as it is.
        await store.commitDecision('s1', fence, { session: { phase: { inventoried: true, plan: first, scaleInRounds: 1 } } }, T0 + 2);
        await store.commitDecision('s1', fence, { session: { phase: { inventoried: true, scaleInRounds: 2 } } }, T0 + 3);
        expect((await store.loadSnapshot('s1'))!.session.phase).toEqual({ inventoried: true, scaleInRounds: 2, plan: first });
        // Another plan (a continued session's next attempt) replaces it; null drops it.
        const second = plan(T0 + 4, 1);
        await store.commitDecision('s1', fence, { session: { phase: { attempt: 1, plan: second } } }, T0 + 4);
        expect(await store.sessionPlan('s1')).toEqual(second);
        await store.commitDecision('s1', fence, { session: { phase: { attempt: 1, plan: null } } }, T0 + 5);
        expect(await store.sessionPlan('s1')).toBeNull();
        expect((await store.loadSnapshot('s1'))!.session.phase).toEqual({ attempt: 1 });
        // A stale fence writes no plan.
        await store.commitDecision('s1', fence - 1, { session: { phase: { plan: first } } }, T0 + 6);
        expect(await store.sessionPlan('s1')).toBeNull();
        // Host statuses (what GET …/plan shows beside the plan), in the session's order.
        expect(await store.sessionHostStatuses('s1')).toEqual([{ name: 'compute-0', status: 'pending' }, { name: 'compute-1', status: 'pending' }]);
        await store.commitDecision('s1', fence, { hosts: [{ name: 'compute-1', status: 'maintained' }] }, T0 + 7);
        expect(await store.sessionHostStatuses('s1')).toEqual([{ name: 'compute-0', status: 'pending' }, { name: 'compute-1', status: 'maintained' }]);
        expect(await store.sessionHostStatuses('nope')).toEqual([]);
      });

      it('persists session, host, project and instance patches, timeline and wake_at', async () => {
        const fence = await started('s1', ['compute-0', 'compute-1']);
        const d: Decision = {
          session: { state: 'SCALE_IN', phase: { inventoried: true, host: 'compute-0', scaleInRounds: 1 }, reason: 'why not', percentDone: 33.4 },
          hosts: [{ name: 'compute-0', status: 'emptying', originalEnabled: true, disabledByUs: true, maintainedAt: T0 + 7 }],
          projects: [
            { projectId: 'p1', interacting: true, awaiting: 'SCALE_IN', askKey: 'SCALE_IN:1', notifiedAt: T0 + 1, replyAt: T0 + 301 },
            { projectId: 'p2' },
          ],
          instances: [
            { instanceId: 'i1', projectId: 'p1', name: 'vm-1', host: 'compute-0', vcpus: 2, floatingIp: true, liveMigratable: true },
            { instanceId: 'i2', projectId: 'p2', host: 'compute-1' },
            { instanceId: 'ghost', status: 'gone' }, // a patch of an unknown instance without a full row: ignored
          ],
          timeline: [{ at: T0 + 1, kind: 'state', message: 'to SCALE_IN', data: { from: 'MAINTENANCE' } }],
          wakeAt: T0 + 301,
        };
        expect(await store.applyDecision('s1', fence, d, T0 + 1)).toBe(true);

        const snap = (await store.loadSnapshot('s1'))!;
        expect(snap.session).toMatchObject({
          state: 'SCALE_IN',
          phase: { inventoried: true, host: 'compute-0', scaleInRounds: 1 },
          reason: 'why not',
          percentDone: 33,
          wakeAt: T0 + 301,
          updatedAt: T0 + 1,
        });
        expect(snap.hosts).toMatchObject([
          { sessionId: 's1', name: 'compute-0', type: 'compute', status: 'emptying', originalEnabled: true, disabledByUs: true, maintainedAt: T0 + 7 },
          { sessionId: 's1', name: 'compute-1', type: 'compute', status: 'pending', originalEnabled: null, disabledByUs: false, maintainedAt: null },
        ]);
        expect(snap.projects).toMatchObject([
          {
            sessionId: 's1', projectId: 'p1', interacting: true, awaiting: 'SCALE_IN', askKey: 'SCALE_IN:1', notifiedAt: T0 + 1,
            replyAt: T0 + 301, reply: null, repliedAt: null, lastReply: null, lastReplyAt: null, unreachable: false,
          },
          {
            sessionId: 's1', projectId: 'p2', interacting: false, awaiting: null, askKey: null, notifiedAt: null,
            replyAt: null, reply: null, repliedAt: null, lastReply: null, lastReplyAt: null, unreachable: false,
          },
        ]);
        expect(snap.instances).toMatchObject([
          {
            sessionId: 's1', instanceId: 'i1', projectId: 'p1', name: 'vm-1', host: 'compute-0', originHost: 'compute-0', vcpus: 2,
            floatingIp: true, liveMigratable: true, action: null, status: 'present', moves: 0, error: null,
          },
          {
            sessionId: 's1', instanceId: 'i2', projectId: 'p2', name: 'i2', host: 'compute-1', originHost: 'compute-1', vcpus: 0,
            floatingIp: false, liveMigratable: false, action: null, status: 'present', moves: 0, error: null,
          },
        ]);
        expect((await store.timeline('s1')).at(-1)).toStrictEqual(d.timeline![0]);

        // Patches of known rows: only the given fields change.
        expect(
          await store.applyDecision(
            's1',
            fence,
            {
              hosts: [{ name: 'compute-0', originalEnabled: null, maintainedAt: null }],
              projects: [{ projectId: 'p1', awaiting: null, unreachable: true, reply: 'ACK_SCALE_IN' }],
              instances: [{ instanceId: 'i1', host: 'compute-1', status: 'moved', moves: 1, action: 'LIVE_MIGRATE', error: 'none' }],
              session: { reason: null },
              wakeAt: null,
            },
            T0 + 2,
          ),
        ).toBe(true);
        const after = (await store.loadSnapshot('s1'))!;
        expect(after.session).toMatchObject({ state: 'SCALE_IN', reason: null, wakeAt: null, percentDone: 33, updatedAt: T0 + 2 });
        expect(after.hosts[0]).toMatchObject({ status: 'emptying', originalEnabled: null, disabledByUs: true, maintainedAt: null });
        expect(after.projects[0]).toMatchObject({ interacting: true, awaiting: null, askKey: 'SCALE_IN:1', unreachable: true, reply: 'ACK_SCALE_IN' });
        expect(after.instances[0]).toMatchObject({ host: 'compute-1', originHost: 'compute-0', status: 'moved', moves: 1, action: 'LIVE_MIGRATE', error: 'none', vcpus: 2 });
      });

      it('writes an op once per key and leaves wake_at alone when the decision does not set it', async () => {
        const fence = await started('s1');
        const op = { key: 'move:i1:1', kind: 'move' as const, subject: 'i1', args: { action: 'MIGRATE', nested: { n: 1 } } };
        expect(await store.applyDecision('s1', fence, { ops: [op, op], wakeAt: T0 + 50 }, T0 + 1)).toBe(true);
        expect(await store.applyDecision('s1', fence, { ops: [{ ...op, subject: 'changed' }, { key: 'sched:compute-0', kind: 'scheduling', subject: 'compute-0' }] }, T0 + 2)).toBe(true);
        const snap = (await store.loadSnapshot('s1'))!;
        expect(snap.session.wakeAt).toBe(T0 + 50);
        expect(snap.ops).toHaveLength(2);
        expect(snap.ops[0]).toMatchObject({
          id: snap.ops[0]!.id,
          sessionId: 's1',
          key: 'move:i1:1',
          kind: 'move',
          subject: 'i1',
          args: { action: 'MIGRATE', nested: { n: 1 } },
          status: 'pending',
          ref: null,
          result: null,
          error: null,
          attempts: 0,
          createdAt: T0 + 1,
          startedAt: null,
          finishedAt: null,
          pollAt: null,
        });
        expect(typeof snap.ops[0]!.id).toBe('number');
        expect(snap.ops[1]).toMatchObject({ key: 'sched:compute-0', kind: 'scheduling', args: {}, createdAt: T0 + 2 });
        expect(snap.ops[1]!.id).toBeGreaterThan(snap.ops[0]!.id);

        // The same key in another session is another op.
        const f2 = await started('s2', ['compute-8']);
        await store.applyDecision('s2', f2, { ops: [op] }, T0 + 3);
        expect((await store.loadSnapshot('s2'))!.ops).toHaveLength(1);
      });

      it('fans events out to the matching subscriptions only, once per event key', async () => {
        await store.createSubscription(sub('sub-p1', 'p1', ['maintenance.scheduled']));
        await store.createSubscription(sub('sub-p1-host', 'p1', ['maintenance.host'], T0 + 1));
        await store.createSubscription(sub('sub-p2', 'p2', ['maintenance.scheduled'], T0 + 2));
        await store.createSubscription(sub('sub-admin-all', null, ['maintenance.host', 'maintenance.session'], T0 + 3));
        await store.createSubscription(sub('sub-admin-session', null, ['maintenance.session'], T0 + 4));
        await store.createSubscription(sub('sub-admin-scheduled', null, ['maintenance.scheduled'], T0 + 5));
        const fence = await started('s1');

        const d: Decision = {
          events: [
            event('ask:p1', 'maintenance.scheduled', 'p1', { state: 'MAINTENANCE', project_id: 'p1' }),
            event('ask:p3', 'maintenance.scheduled', 'p3'), // nobody subscribed: recorded, no outbox row
            event('host:compute-0', 'maintenance.host', null),
            event('session:1', 'maintenance.session', null),
          ],
        };
        expect(await store.applyDecision('s1', fence, d, T0 + 10)).toBe(true);
        // Deciding the same events again (and again in one decision) adds nothing.
        expect(await store.applyDecision('s1', fence, { events: [...d.events!, d.events![0]!] }, T0 + 11)).toBe(true);

        const rows = await store.outboxFor('s1');
        expect(rows.map((r) => `${r.eventType}>${r.subscriptionId}`).sort()).toEqual([
          'maintenance.host>sub-admin-all',
          'maintenance.scheduled>sub-p1',
          'maintenance.session>sub-admin-all',
          'maintenance.session>sub-admin-session',
        ]);
        const ask = rows.find((r) => r.subscriptionId === 'sub-p1')!;
        expect(ask).toMatchObject({
          id: ask.id,
          messageId: ask.messageId,
          sessionId: 's1',
          subscriptionId: 'sub-p1',
          eventType: 'maintenance.scheduled',
          payload: { state: 'MAINTENANCE', project_id: 'p1' },
          status: 'pending',
          attempts: 0,
          nextAttemptAt: T0 + 10,
          lastError: null,
          lastStatus: null,
          createdAt: T0 + 10,
          deliveredAt: null,
        });
        expect(typeof ask.id).toBe('number');
        expect(new Set(rows.map((r) => r.messageId)).size).toBe(rows.length);
        expect(rows.map((r) => r.id)).toEqual([...rows.map((r) => r.id)].sort((a, b) => a - b));

        const snap = (await store.loadSnapshot('s1'))!;
        expect(snap.eventKeys.sort()).toEqual(['ask:p1', 'ask:p3', 'host:compute-0', 'session:1']);
        expect(snap.subscribedProjects).toEqual(['p1', 'p2']);
        expect(snap.deliveries).toEqual({ 'ask:p1': { delivered: 0, pending: 1, dead: 0 } });

        // A subscription made later gets later events, not the ones already decided.
        await store.createSubscription(sub('sub-p3', 'p3', ['maintenance.scheduled'], T0 + 6));
        await store.applyDecision('s1', fence, { events: [event('ask:p3', 'maintenance.scheduled', 'p3'), event('ask:p3:2', 'maintenance.scheduled', 'p3')] }, T0 + 12);
        expect((await store.outboxFor('s1')).filter((r) => r.subscriptionId === 'sub-p3').map((r) => r.payload)).toEqual([{ key: 'ask:p3:2' }]);
      });

      it('counts deliveries of maintenance.scheduled rows per event key and status', async () => {
        await store.createSubscription(sub('a', 'p1', ['maintenance.scheduled']));
        await store.createSubscription(sub('b', 'p1', ['maintenance.scheduled'], T0 + 1));
        await store.createSubscription(sub('c', 'p1', ['maintenance.scheduled'], T0 + 2));
        const fence = await started('s1');
        await store.applyDecision('s1', fence, { events: [event('ask', 'maintenance.scheduled', 'p1'), event('ask2', 'maintenance.scheduled', 'p1')] }, T0);
        const rows = (await store.outboxFor('s1')).filter((r) => r.payload.key === 'ask');
        await store.markDelivered(rows[0]!.id, rows[0]!.subscriptionId, T0 + 1, 200);
        await store.markFailed(rows[1]!.id, T0 + 1, 'gone', 410, null);
        expect((await store.loadSnapshot('s1'))!.deliveries).toEqual({
          ask: { delivered: 1, pending: 1, dead: 1 },
          ask2: { delivered: 0, pending: 3, dead: 0 },
        });
      });

      it('writes nothing and returns false with a stale fence', async () => {
        await store.createSubscription(sub('admin', null, ['maintenance.session']));
        const fence = await started('s1');
        const before = (await store.loadSnapshot('s1'))!;
        const timelineBefore = await store.timeline('s1');
        const d: Decision = {
          session: { state: 'MAINTENANCE_FAILED', reason: 'stale' },
          hosts: [{ name: 'compute-0', status: 'maintained' }],
          projects: [{ projectId: 'p1', interacting: true }],
          instances: [{ instanceId: 'i1', projectId: 'p1', host: 'compute-0' }],
          ops: [{ key: 'k', kind: 'host_maintenance', subject: 'compute-0' }],
          events: [event('e', 'maintenance.session', null)],
          timeline: [{ at: T0, kind: 'x', message: 'stale' }],
          wakeAt: T0 + 1000,
        };
        expect(await store.applyDecision('s1', fence + 1, d, T0 + 5)).toBe(false);
        expect(await store.applyDecision('s1', fence - 1, d, T0 + 5)).toBe(false);
        expect(await store.applyDecision('nope', fence, d, T0 + 5)).toBe(false);
        expect(await store.loadSnapshot('s1')).toStrictEqual(before);
        expect(await store.timeline('s1')).toStrictEqual(timelineBefore);
        expect(await store.outboxFor('s1')).toEqual([]);
      });
    });

    describe('leases', () => {
      it('grants, renews, refuses, expires and fences', async () => {
        await store.createSession(newSession('s1'));
        const a1 = await store.acquireLease('s1', 'a', T0, TTL);
        expect(a1).toStrictEqual({ sessionId: 's1', owner: 'a', fence: 1, expiresAt: T0 + TTL, changeSeq: 0 });

        // The owner renews: same fence, later expiry.
        const a2 = await store.acquireLease('s1', 'a', T0 + 10_000, TTL);
        expect(a2).toStrictEqual({ sessionId: 's1', owner: 'a', fence: 1, expiresAt: T0 + 10_000 + TTL, changeSeq: 0 });

        // Another owner is refused while the lease is valid (up to and including its expiry).
        expect(await store.acquireLease('s1', 'b', T0 + 20_000, TTL)).toBeUndefined();
        expect(await store.acquireLease('s1', 'b', a2!.expiresAt, TTL)).toBeUndefined();

        // ...and takes over once it has expired, with a higher fence.
        const b = await store.acquireLease('s1', 'b', a2!.expiresAt + 1, TTL);
        expect(b).toStrictEqual({ sessionId: 's1', owner: 'b', fence: 2, expiresAt: a2!.expiresAt + 1 + TTL, changeSeq: 0 });

        // The old owner can no longer write, nor win the lease back while b holds it.
        expect(await store.applyDecision('s1', a1!.fence, { session: { state: 'SCALE_IN' } }, b!.expiresAt - 1)).toBe(false);
        expect(await store.acquireLease('s1', 'a', b!.expiresAt - 1, TTL)).toBeUndefined();
        expect((await store.getSession('s1'))!.state).toBe('MAINTENANCE');
        expect(await store.applyDecision('s1', b!.fence, { session: { state: 'SCALE_IN' } }, b!.expiresAt - 1)).toBe(true);
        expect((await store.getSession('s1'))!.state).toBe('SCALE_IN');

        // An owner coming back after its own lease lapsed gets a new fence too.
        const b2 = await store.acquireLease('s1', 'b', b!.expiresAt + 5, TTL);
        expect(b2!.fence).toBe(3);
        expect(await store.acquireLease('s1', 'a', T0, TTL)).toBeUndefined();
        expect(await store.acquireLease('nope', 'a', T0, TTL)).toBeUndefined();
      });

      it("refuses the old owner's op updates after a takeover", async () => {
        const fA = await started('s1', undefined, 'a', T0);
        await store.applyDecision('s1', fA, { ops: [{ key: 'k1', kind: 'move', subject: 'i1' }] }, T0);
        const opId = (await store.loadSnapshot('s1'))!.ops[0]!.id;

        expect(await store.updateOp(opId, fA, { status: 'started', ref: 'r-1', attempts: 1, startedAt: T0 + 1, pollAt: T0 + 2 })).toBe(true);
        expect((await store.loadSnapshot('s1'))!.ops[0]).toMatchObject({ status: 'started', ref: 'r-1', attempts: 1, startedAt: T0 + 1, pollAt: T0 + 2 });

        const b = await store.acquireLease('s1', 'b', T0 + TTL + 1, TTL);
        expect(b!.fence).toBeGreaterThan(fA);
        expect(await store.updateOp(opId, fA, { status: 'done' })).toBe(false);
        expect((await store.loadSnapshot('s1'))!.ops[0]!.status).toBe('started');

        expect(await store.updateOp(opId, b!.fence, { status: 'done', result: { moved_to: 'compute-1' }, finishedAt: T0 + 9, pollAt: null, error: null })).toBe(true);
        expect((await store.loadSnapshot('s1'))!.ops[0]).toMatchObject({
          status: 'done',
          ref: 'r-1',
          result: { moved_to: 'compute-1' },
          finishedAt: T0 + 9,
          pollAt: null,
        });
        expect(await store.updateOp(opId + 1000, b!.fence, { status: 'done' })).toBe(false);
      });

      it('releases one lease (owner only) or all of them', async () => {
        await store.createSession(newSession('s1'));
        await store.createSession(newSession('s2', ['compute-8']));
        const a = await store.acquireLease('s1', 'a', T0, TTL);
        await store.acquireLease('s2', 'a', T0, TTL);

        await store.releaseLease('s1', 'b'); // not b's to release
        expect(await store.acquireLease('s1', 'b', T0 + 1, TTL)).toBeUndefined();
        await store.releaseLease('s1', 'a');
        const b = await store.acquireLease('s1', 'b', T0 + 1, TTL);
        expect(b!.fence).toBe(a!.fence + 1);

        await store.releaseAllLeases();
        expect((await store.acquireLease('s1', 'c', T0 + 2, TTL))!.fence).toBe(b!.fence + 1);
        expect((await store.acquireLease('s2', 'c', T0 + 2, TTL))!.fence).toBe(2);
      });
    });

    describe('replies', () => {
      const ask = async (): Promise<number> => {
        const fence = await started('s1');
        await store.applyDecision(
          's1',
          fence,
          {
            projects: [
              { projectId: 'p1', interacting: true, awaiting: 'PLANNED_MAINTENANCE', askKey: 'PLANNED_MAINTENANCE:compute-0' },
              { projectId: 'p2', interacting: true, awaiting: null },
            ],
            instances: [
              { instanceId: 'i1', projectId: 'p1', host: 'compute-0' },
              { instanceId: 'i2', projectId: 'p2', host: 'compute-0' },
              { instanceId: 'i3', projectId: 'p1', host: 'compute-0', status: 'gone' },
              { instanceId: 'i4', projectId: 'p1', host: 'compute-1', status: 'moved', action: 'MIGRATE' },
            ],
            wakeAt: null,
          },
          T0,
        );
        return fence;
      };

      it('reads a project\'s instances by index, whole or ids only, with the same filters', async () => {
        await ask();
        const both = async (f: Parameters<Store['projectInstances']>[2]) => {
          const ids = await store.projectInstanceIds('s1', 'p1', f);
          expect((await store.projectInstances('s1', 'p1', f)).map((i) => i.instanceId)).toEqual(ids);
          return ids;
        };
        expect(await both({})).toEqual(['i1', 'i3', 'i4']);
        expect(await both({ present: true })).toEqual(['i1', 'i4']);
        expect(await both({ host: 'compute-0', present: true })).toEqual(['i1']);
        expect(await both({ ids: ['i4', 'i2', 'i1', 'i4', 'nope'] })).toEqual(['i1', 'i4']);
        expect(await store.projectInstanceIds('s1', 'p2', { host: 'compute-1' })).toEqual([]);
      });

      it('accepts a reply to the awaited state and records instance actions for own instances only', async () => {
        await ask();
        const out = await store.recordReply(
          {
            sessionId: 's1',
            projectId: 'p1',
            reply: 'ACK_PLANNED_MAINTENANCE',
            answers: 'PLANNED_MAINTENANCE',
            // The service passes the project's own instances only (i2 is p2's).
            instanceActions: new Map([['i1', 'LIVE_MIGRATE'], ['i3', 'MIGRATE'], ['i4', 'OWN_ACTION']]),
            at: T0 + 100,
          },
        );
        expect(out).toMatchObject({ accepted: true });
        const snap = (await store.loadSnapshot('s1'))!;
        expect(snap.projects[0]).toMatchObject({
          projectId: 'p1',
          awaiting: 'PLANNED_MAINTENANCE',
          reply: 'ACK_PLANNED_MAINTENANCE',
          repliedAt: T0 + 100,
          lastReply: 'ACK_PLANNED_MAINTENANCE',
          lastReplyAt: T0 + 100,
        });
        expect(Object.fromEntries(snap.instances.map((i) => [i.instanceId, i.action]))).toEqual({
          i1: 'LIVE_MIGRATE', // own and present
          i2: null, // another project's instance
          i3: null, // gone
          i4: 'OWN_ACTION', // own and moved
        });
        expect(snap.session.wakeAt).toBe(T0 + 100); // the engine looks at it now
        const last = (await store.timeline('s1')).at(-1)!;
        expect(last).toMatchObject({ at: T0 + 100, kind: 'reply' });
        expect(last.data).toEqual({ instance_actions: { i1: 'LIVE_MIGRATE', i3: 'MIGRATE', i4: 'OWN_ACTION' } });
      });

      it('stores a repeated reply once: only its count goes up, nothing else is written', async () => {
        await ask();
        const r = { sessionId: 's1', projectId: 'p1', reply: 'ACK_MAINTENANCE', answers: 'MAINTENANCE', instanceActions: new Map([['i1', 'EVICTION']]), at: T0 + 5 };
        expect(await store.recordReply(r)).toEqual({ accepted: false, duplicate: false, awaiting: 'PLANNED_MAINTENANCE' });
        const before = (await store.timeline('s1')).length;
        const seq = (await store.loadSnapshot('s1'))!.changeSeq;
        for (let i = 0; i < 50; i++) expect(await store.recordReply({ ...r, at: T0 + 6 + i })).toEqual({ accepted: false, duplicate: true, changed: false, awaiting: 'PLANNED_MAINTENANCE' });
        expect((await store.timeline('s1')).length).toBe(before);
        expect((await store.loadSnapshot('s1'))!.changeSeq).toBe(seq);
      });

      it('a repeat of the recorded answer (a manager retrying) moves only its count and the last reply time: no change for the engine', async () => {
        await ask();
        const r = { sessionId: 's1', projectId: 'p1', reply: 'ACK_PLANNED_MAINTENANCE', answers: 'PLANNED_MAINTENANCE', instanceActions: new Map(), at: T0 + 5 };
        expect(await store.recordReply(r)).toEqual({ accepted: true, duplicate: false, awaiting: 'PLANNED_MAINTENANCE' });
        const seq = (await store.loadSnapshot('s1'))!.changeSeq;
        const before = (await store.timeline('s1')).length;
        for (let i = 0; i < 20; i++) expect(await store.recordReply({ ...r, at: T0 + 6 + i })).toEqual({ accepted: true, duplicate: true, changed: false, awaiting: 'PLANNED_MAINTENANCE' });
        const snap = (await store.loadSnapshot('s1'))!;
        expect(snap.changeSeq).toBe(seq);
        expect((await store.timeline('s1')).length).toBe(before);
        expect(snap.projects.find((p) => p.projectId === 'p1')).toMatchObject({ reply: 'ACK_PLANNED_MAINTENANCE', repliedAt: T0 + 5 });
        // Repeats are counted in memory and written before a read that shows counts (or within a second).
        const d = (await store.readDetail('s1', { lists: ['projects', 'replies'], limit: 50, after: {} }))!;
        expect(d.pages.projects!.rows.find((p) => p.projectId === 'p1')).toMatchObject({ reply: 'ACK_PLANNED_MAINTENANCE', repliedAt: T0 + 5, lastReplyAt: T0 + 25 });
        expect(d.pages.replies!.rows).toEqual([expect.objectContaining({ reply: 'ACK_PLANNED_MAINTENANCE', accepted: true, count: 21, firstAt: T0 + 5, lastAt: T0 + 25 })]);
        expect((await store.loadSnapshot('s1'))!.changeSeq).toBe(seq);
        // A different answer is news again.
        expect(await store.recordReply({ ...r, reply: 'NACK_PLANNED_MAINTENANCE', at: T0 + 30 })).toMatchObject({ accepted: true, duplicate: false });
        expect((await store.loadSnapshot('s1'))!.changeSeq).toBeGreaterThan(seq);
      });

      it('tells the engine what others changed, by change number (O(changes))', async () => {
        const fence = await ask();
        const snap = (await store.loadSnapshot('s1'))!;
        expect(await store.changesSince('s1', snap.changeSeq, snap.globalSeq)).toMatchObject({ changeSeq: snap.changeSeq, projects: [], instances: [] });
        await store.recordReply({ sessionId: 's1', projectId: 'p1', reply: 'ACK_PLANNED_MAINTENANCE', answers: 'PLANNED_MAINTENANCE', instanceActions: new Map([['i1', 'MIGRATE']]), at: T0 + 7 });
        await store.setSessionFlags('s1', { paused: true }, T0 + 8);
        const ch = (await store.changesSince('s1', snap.changeSeq, snap.globalSeq))!;
        expect(ch.changeSeq).toBeGreaterThan(snap.changeSeq);
        expect(ch.projects.map((p) => [p.projectId, p.reply])).toEqual([['p1', 'ACK_PLANNED_MAINTENANCE']]);
        expect(ch.instances.map((i) => [i.instanceId, i.action])).toEqual([['i1', 'MIGRATE']]);
        expect(ch.session?.paused).toBe(true);
        // Read once, the engine says so with its next write; the rows are dropped, the number stays.
        const applied = (await store.commitDecision('s1', fence, { wakeAt: T0 + 9 }, T0 + 9, ch.changeSeq))!;
        expect(applied.changeSeq).toBe(ch.changeSeq);
        expect(await store.changesSince('s1', ch.changeSeq, ch.globalSeq)).toMatchObject({ projects: [], instances: [] });
        // Subscriptions are everyone's: a new one re-reads the subscribed projects.
        await store.createSubscription({ id: 'sub-x', projectId: 'p9', url: 'http://10.0.0.1/x', eventTypes: ['maintenance.scheduled'], format: 'json', secret: null, createdAt: T0, delivered: 0 });
        const g = (await store.changesSince('s1', ch.changeSeq, ch.globalSeq))!;
        expect(g.globalSeq).toBeGreaterThan(ch.globalSeq);
        expect(g.subscribedProjects).toContain('p9');
      });

      it('records, without effect, a reply to a state not awaited', async () => {
        await ask();
        for (const [projectId, answers] of [
          ['p1', 'MAINTENANCE'],
          ['p2', 'PLANNED_MAINTENANCE'],
        ] as const) {
          const out = await store.recordReply({ sessionId: 's1', projectId, reply: `ACK_${answers}`, answers, instanceActions: new Map([['i1', 'EVICTION']]), at: T0 + 5 });
          expect(out).toMatchObject({ accepted: false });
        }
        const snap = (await store.loadSnapshot('s1'))!;
        expect(snap.projects.map((p) => [p.reply, p.repliedAt, p.lastReply, p.lastReplyAt])).toEqual([
          [null, null, 'ACK_MAINTENANCE', T0 + 5],
          [null, null, 'ACK_PLANNED_MAINTENANCE', T0 + 5],
        ]);
        expect(snap.instances.find((i) => i.instanceId === 'i1')!.action).toBeNull();
        expect(snap.session.wakeAt).toBeNull();
        const kinds = (await store.timeline('s1')).slice(-2).map((e) => e.kind);
        expect(kinds).toEqual(['reply_ignored', 'reply_ignored']);

        expect(
          await store.recordReply({ sessionId: 's1', projectId: 'p9', reply: 'ACK_MAINTENANCE', answers: 'MAINTENANCE', instanceActions: new Map(), at: T0 }),
        ).toEqual({ accepted: false, missing: true });
        expect(
          await store.recordReply({ sessionId: 'nope', projectId: 'p1', reply: 'ACK_MAINTENANCE', answers: 'MAINTENANCE', instanceActions: new Map(), at: T0 }),
        ).toEqual({ accepted: false, missing: true });
      });
    });

    describe('wake-ups', () => {
      it('returns due sessions in wake order, skipping those another live owner holds', async () => {
        for (const id of ['a', 'b', 'c', 'd', 'e', 'f', 'g']) await store.createSession(newSession(id, [id]));
        const wake = { a: T0 + 10, b: T0 + 5, c: null, d: T0 + 1, e: T0 + 2, f: T0 + 3, g: T0 + 16 };
        for (const [id, w] of Object.entries(wake)) await store.setSessionFlags(id, { wakeAt: w }, T0);
        await store.acquireLease('d', 'other', T0, 60_000); // held by a live engine
        await store.acquireLease('e', 'other', T0 - 100_000, 1_000); // its owner is gone
        await store.acquireLease('f', 'me', T0, 60_000); // mine

        expect(await store.dueSessions(T0 + 15, 10, 'me')).toEqual(['e', 'f', 'b', 'a']);
        expect(await store.dueSessions(T0 + 15, 2, 'me')).toEqual(['e', 'f']);
        expect(await store.dueSessions(T0 + 15, 10, 'other')).toEqual(['d', 'e', 'b', 'a']);
        expect(await store.dueSessions(T0, 10, 'me')).toEqual([]);
        expect(await store.nextWakeAt()).toBe(T0 + 1);
      });

      it('has no next wake-up without waking sessions', async () => {
        expect(await store.nextWakeAt()).toBeNull();
        await store.createSession(newSession('s1'));
        expect(await store.nextWakeAt()).toBe(T0);
        await store.setSessionFlags('s1', { wakeAt: null }, T0);
        expect(await store.nextWakeAt()).toBeNull();
      });
    });

    describe('subscriptions', () => {
      it('creates, lists, filters, finds by event type and deletes', async () => {
        const admin = { ...sub('s-admin', null, ['maintenance.host', 'maintenance.session']), format: 'aodh' as const, secret: 's3cr3t' };
        const p1 = sub('s-p1', 'p1', ['maintenance.scheduled'], T0 + 1);
        const p2 = sub('s-p2', 'p2', ['maintenance.scheduled', 'maintenance.host'], T0 + 2);
        for (const s of [p2, admin, p1]) await store.createSubscription(s);

        expect(await store.getSubscription('s-admin')).toStrictEqual(admin);
        expect(await store.getSubscription('nope')).toBeUndefined();
        expect(await store.listSubscriptions()).toStrictEqual([admin, p1, p2]);
        expect(await store.listSubscriptions({ projectId: null })).toStrictEqual([admin]);
        expect(await store.listSubscriptions({ projectId: 'p2' })).toStrictEqual([p2]);
        expect(await store.listSubscriptions({})).toHaveLength(3);
        expect(await store.subscriptionsFor('maintenance.scheduled', 'p1')).toStrictEqual([p1]);
        expect(await store.subscriptionsFor('maintenance.host', 'p1')).toStrictEqual([]);
        expect(await store.subscriptionsFor('maintenance.host', null)).toStrictEqual([admin]);

        expect(await store.deleteSubscription('s-p1')).toBe(true);
        expect(await store.deleteSubscription('s-p1')).toBe(false);
        expect(await store.listSubscriptions()).toStrictEqual([admin, p2]);
      });
    });

    describe('outbox', () => {
      /** Two admin receivers, three events each: rows 1..6 interleaved e1>x, e1>y, e2>x, ... */
      const fill = async () => {
        await store.createSubscription(sub('x', null, ['maintenance.session']));
        await store.createSubscription(sub('y', null, ['maintenance.session'], T0 + 1));
        const fence = await started('s1');
        for (const k of ['e1', 'e2', 'e3']) await store.applyDecision('s1', fence, { events: [event(k, 'maintenance.session', null)] }, T0);
        const rows = await store.outboxFor('s1');
        expect(rows).toHaveLength(6);
        const of = (key: string, subscription: string) => rows.find((r) => r.payload.key === key && r.subscriptionId === subscription)!;
        return { of };
      };
      it('hands out only the head row of each receiver, when it is due', async () => {
        const { of } = await fill();
        expect(ids(await store.dueDeliveries(T0, 10, []))).toEqual([of('e1', 'x').id, of('e1', 'y').id]);
        expect(await store.dueDeliveries(T0 - 1, 10, [])).toEqual([]);
        expect(ids(await store.dueDeliveries(T0, 1, []))).toEqual([of('e1', 'x').id]);
        expect(ids(await store.dueDeliveries(T0, 10, ['x']))).toEqual([of('e1', 'y').id]);
        expect(await store.dueDeliveries(T0, 10, ['x', 'y'])).toEqual([]);

        // x's head waits for a retry: x's later rows wait behind it, y goes on.
        await store.markFailed(of('e1', 'x').id, T0, 'connection refused', null, T0 + 1000);
        expect(ids(await store.dueDeliveries(T0 + 999, 10, []))).toEqual([of('e1', 'y').id]);
        expect(ids(await store.dueDeliveries(T0 + 1000, 10, []))).toEqual([of('e1', 'x').id, of('e1', 'y').id]);

        // Delivered rows leave the line; the next one is the head.
        await store.markDelivered(of('e1', 'y').id, 'y', T0 + 1, 200);
        expect(ids(await store.dueDeliveries(T0 + 1, 10, []))).toEqual([of('e2', 'y').id]);
        // Dead rows too.
        await store.markFailed(of('e1', 'x').id, T0 + 1000, 'gave up', 500, null);
        expect(ids(await store.dueDeliveries(T0 + 1000, 10, []))).toEqual([of('e2', 'x').id, of('e2', 'y').id]);
        const full = await store.dueDeliveries(T0 + 1000, 10, []);
        expect(full[0]).toStrictEqual((await store.outboxFor('s1')).find((r) => r.id === of('e2', 'x').id));
      });

      it('marks deliveries and failures', async () => {
        const { of } = await fill();
        const row = of('e1', 'x');
        await store.markDelivered(row.id, 'x', T0 + 7, 204);
        expect((await store.outboxFor('s1')).find((r) => r.id === row.id)).toMatchObject({
          status: 'delivered',
          attempts: 1,
          deliveredAt: T0 + 7,
          lastStatus: 204,
          lastError: null,
        });
        expect((await store.getSubscription('x'))!.delivered).toBe(1);
        await store.markDelivered(of('e2', 'x').id, 'x', T0 + 8, 200);
        expect((await store.getSubscription('x'))!.delivered).toBe(2);
        expect((await store.getSubscription('y'))!.delivered).toBe(0);

        const failing = of('e1', 'y');
        await store.markFailed(failing.id, T0 + 1, 'HTTP 503', 503, T0 + 2_000);
        await store.markFailed(failing.id, T0 + 2_000, 'x'.repeat(5_000), null, T0 + 6_000);
        expect((await store.outboxFor('s1')).find((r) => r.id === failing.id)).toMatchObject({
          status: 'pending',
          attempts: 2,
          nextAttemptAt: T0 + 6_000,
          lastStatus: null,
          deliveredAt: null,
        });
        expect((await store.outboxFor('s1')).find((r) => r.id === failing.id)!.lastError).toBe('x'.repeat(1000));
        await store.markFailed(failing.id, T0 + 6_000, 'HTTP 410', 410, null);
        expect((await store.outboxFor('s1')).find((r) => r.id === failing.id)).toMatchObject({
          status: 'dead',
          attempts: 3,
          lastError: 'HTTP 410',
          lastStatus: 410,
        });
      });

      it('reports the next delivery time of the head rows, leaving out receivers in flight', async () => {
        expect(await store.nextDeliveryAt()).toBeNull();
        const { of } = await fill();
        expect(await store.nextDeliveryAt()).toBe(T0);
        await store.markFailed(of('e1', 'x').id, T0, 'down', null, T0 + 100);
        expect(await store.nextDeliveryAt()).toBe(T0);
        expect(await store.nextDeliveryAt(['y'])).toBe(T0 + 100);
        expect(await store.nextDeliveryAt(['x', 'y'])).toBeNull();

        for (const k of ['e1', 'e2', 'e3']) await store.markDelivered(of(k, 'x').id, 'x', T0, 200);
        await store.markFailed(of('e1', 'y').id, T0, 'down', null, T0 + 500);
        await store.markFailed(of('e2', 'y').id, T0, 'down', null, T0 + 300);
        await store.markFailed(of('e3', 'y').id, T0, 'down', null, null);
        // e2 waits behind the head e1: it is not due before e1.
        expect(await store.nextDeliveryAt()).toBe(T0 + 500);
        await store.markDelivered(of('e1', 'y').id, 'y', T0, 200);
        expect(await store.nextDeliveryAt()).toBe(T0 + 300);
        await store.markFailed(of('e2', 'y').id, T0, 'down', null, null);
        expect(await store.nextDeliveryAt()).toBeNull();
      });
    });

    describe('plug-in callbacks', () => {
      it('a report goes to the running run of that plug-in on that host; the first one counts; gone with the session', async () => {
        const fence = await started('s1');
        await store.applyDecision(
          's1',
          fence,
          {
            ops: [
              { key: 'plugin:a0:pre:http', kind: 'plugin', subject: 'http', args: { type: 'pre', action: 0 } },
              { key: 'plugin:a0:host:http:compute-0', kind: 'plugin', subject: 'http', args: { type: 'host', action: 1, host: 'compute-0' } },
              { key: 'plugin:a0:host:http:compute-1', kind: 'plugin', subject: 'http', args: { type: 'host', action: 1, host: 'compute-1' } },
            ],
          },
          T0,
        );
        const ops = new Map((await store.loadSnapshot('s1'))!.ops.map((o) => [o.key, o.id]));
        const run = ops.get('plugin:a0:host:http:compute-0')!;
        const report = (host: string | null, state: 'DONE' | 'FAILED' = 'DONE', at = T0 + 1) =>
          store.recordPluginCallback({ sessionId: 's1', host, plugin: 'http', state, output: `job on ${host}`, at });
        // Nothing started yet: no run waits.
        expect(await report('compute-0')).toEqual({ result: 'no_run' });
        expect(await store.updateOp(run, fence, { status: 'started', startedAt: T0, attempts: 1 })).toBe(true);
        expect(await report('compute-0')).toEqual({ result: 'accepted', opId: run });
        expect(await store.pluginCallback(run)).toEqual({ state: 'DONE', output: 'job on compute-0', at: T0 + 1 });
        expect(await report('compute-0', 'DONE', T0 + 2)).toEqual({ result: 'duplicate', opId: run });
        expect(await report('compute-0', 'FAILED', T0 + 3)).toEqual({ result: 'conflict', opId: run, state: 'DONE' });
        expect((await store.pluginCallback(run))?.at).toBe(T0 + 1);
        // Other hosts, pre/post (no host), other plug-ins and sessions are told apart.
        expect(await report('compute-1')).toEqual({ result: 'no_run' });
        expect(await report(null)).toEqual({ result: 'no_run' });
        const pre = ops.get('plugin:a0:pre:http')!;
        await store.updateOp(pre, fence, { status: 'started', attempts: 1 });
        expect(await report(null, 'FAILED')).toEqual({ result: 'accepted', opId: pre });
        expect(await store.recordPluginCallback({ sessionId: 's1', host: 'compute-0', plugin: 'shell', state: 'DONE', output: null, at: T0 })).toEqual({ result: 'no_run' });
        expect(await store.recordPluginCallback({ sessionId: 'nope', host: 'compute-0', plugin: 'http', state: 'DONE', output: null, at: T0 })).toEqual({ result: 'no_session' });
        // Once the run is over, the same report is still answered as before, another is refused.
        await store.updateOp(run, fence, { status: 'done', finishedAt: T0 + 5 });
        expect(await report('compute-0', 'DONE', T0 + 6)).toEqual({ result: 'duplicate', opId: run });
        expect(await report('compute-0', 'FAILED', T0 + 6)).toEqual({ result: 'conflict', opId: run, state: 'DONE' });
        expect(await store.pluginCallback(ops.get('plugin:a0:host:http:compute-1')!)).toBeUndefined();

        await store.setSessionFlags('s1', { deleting: true }, T0 + 7);
        expect(await report('compute-0')).toEqual({ result: 'no_session' });
        await store.purgeSession('s1');
        expect(await store.pluginCallback(run)).toBeUndefined();
      });
    });

    describe('purgeSession', () => {
      it('removes everything of the session but keeps its outbox rows', async () => {
        await store.createSubscription(sub('admin', null, ['maintenance.session']));
        const fence = await started('s1', ['compute-5']);
        await started('s2');
        await store.applyDecision(
          's1',
          fence,
          {
            projects: [{ projectId: 'p1', interacting: true }],
            instances: [{ instanceId: 'i1', projectId: 'p1', host: 'compute-0' }],
            ops: [{ key: 'k', kind: 'move', subject: 'i1' }],
            events: [event('end', 'maintenance.session', null)],
            timeline: [{ at: T0, kind: 'x', message: 'y' }],
          },
          T0,
        );
        await store.purgeSession('s1');

        expect(await store.getSession('s1')).toBeUndefined();
        expect(await store.loadSnapshot('s1')).toBeUndefined();
        expect(await store.timeline('s1')).toEqual([]);
        expect((await store.listSessions()).map((s) => s.id)).toEqual(['s2']);
        expect(await store.activeSessionsOnHosts(['compute-0'])).toEqual([{ id: 's2', hosts: ['compute-0'] }]);
        const kept = await store.outboxFor('s1');
        expect(kept).toHaveLength(1);
        expect(kept[0]).toMatchObject({ sessionId: 's1', subscriptionId: 'admin', status: 'pending' });
        expect(ids(await store.dueDeliveries(T0, 10, []))).toEqual([kept[0]!.id]);

        // The id can be used again, from scratch.
        await store.createSession(newSession('s1', ['compute-5']));
        const again = (await store.loadSnapshot('s1'))!;
        expect([again.projects, again.instances, again.ops, again.eventKeys]).toEqual([[], [], [], []]);
        expect(await store.purgeSession('nope')).toBeUndefined();
      });
    });
  });
}
