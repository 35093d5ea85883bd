// The project API of spec §4 over real HTTP, against a session that is really waiting for replies:
// the projects are subscribed, so the engine sends MAINTENANCE and waits (reply_window 600 s).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Service } from '../../src/main/service.js';
import { api, startReceiver, startTestService, waitFor } from '../helpers/harness.js';

const SCENARIO = {
  hosts: [
    { name: 'c1', type: 'compute', vcpus: 8 },
    { name: 'c2', type: 'compute', vcpus: 8 },
    { name: 'c3', type: 'compute', vcpus: 8 },
  ],
  instances: [
    { id: 'p1-a', name: 'p1-a', project_id: 'p1', host: 'c1', vcpus: 1 },
    { id: 'p1-b', name: 'p1-b', project_id: 'p1', host: 'c2', vcpus: 1 },
    { id: 'p2-a', name: 'p2-a', project_id: 'p2', host: 'c1', vcpus: 1 },
    { id: 'p2-b', name: 'p2-b', project_id: 'p2', host: 'c3', vcpus: 1 },
  ],
  timings: { migrate_s: 0.01, live_migrate_s: 0.01, host_maintenance_s: 0.01 },
};

type Res = Awaited<ReturnType<typeof api>>;
type Receiver = Awaited<ReturnType<typeof startReceiver>>;

interface ProjectDetail {
  project_id: string;
  awaiting: string | null;
  reply: string | null;
  last_reply: string | null;
}

function expectError(r: Res, status: number, code: string): void {
  expect({ status: r.status, body: r.body }).toMatchObject({ status, body: { error: { code, message: expect.any(String) } } });
  expect(r.headers.get('x-request-id')).toBeTruthy();
}

let svc: Service;
let receivers: Receiver[];
let sid: string;

interface Detail {
  session: { state: string };
  projects: ProjectDetail[];
  instances: { instance_id: string; action: string | null }[];
  timeline: { message: string }[];
}

async function detail(): Promise<Detail> {
  const r = await api(svc.url, 'GET', `/v1/maintenance/${sid}/detail`);
  expect(r.status).toBe(200);
  return r.body;
}

async function projectDetail(pid: string): Promise<ProjectDetail> {
  return ((await detail()).projects as ProjectDetail[]).find((p) => p.project_id === pid)!;
}

/** Starts the service, subscribes p1 and p2, creates a session and waits until both are asked MAINTENANCE. */
async function setUp(receiverMode: { hang?: boolean } = {}): Promise<void> {
  svc = await startTestService({ scenario: SCENARIO });
  receivers = [];
  for (const pid of ['p1', 'p2']) {
    const rec = await startReceiver(receiverMode);
    receivers.push(rec);
    const s = await api(svc.url, 'POST', '/v1/subscriptions', { project_id: pid, url: rec.url, event_types: ['maintenance.scheduled'], format: 'json' });
    expect(s.status).toBe(201);
  }
  const r = await api(svc.url, 'POST', '/v1/maintenance', { reply_window: 600, metadata: { openstack_version: 'Train' } });
  expect(r.status).toBe(200);
  sid = r.body.session_id;
  await waitFor(async () => {
    const ps = ((await detail()).projects ?? []) as ProjectDetail[];
    return ps.length === 2 && ps.every((p) => p.awaiting === 'MAINTENANCE');
  }, 'both projects asked MAINTENANCE');
}

async function tearDown(): Promise<void> {
  await svc.stop();
  for (const r of receivers) await r.close();
}

describe('project API while MAINTENANCE is awaited', () => {
  beforeEach(() => setUp());
  afterEach(() => tearDown());

  it('GET instance_ids returns only that project\'s ids', async () => {
    const p1 = await api(svc.url, 'GET', `/v1/maintenance/${sid}/p1`);
    expect(p1.status).toBe(200);
    expect([...p1.body.instance_ids].sort()).toEqual(['p1-a', 'p1-b']);
    const p2 = await api(svc.url, 'GET', `/v1/maintenance/${sid}/p2/`);
    expect(p2.status).toBe(200);
    expect([...p2.body.instance_ids].sort()).toEqual(['p2-a', 'p2-b']);
  });

  it('the notification points at the project URL, which lists the project\'s instances', async () => {
    const rec = receivers[0]!;
    await waitFor(() => rec.received.length > 0, 'p1 notified');
    const payload = rec.received[0]!.body.payload;
    expect(payload).toMatchObject({ project_id: 'p1', session_id: sid, state: 'MAINTENANCE' });
    expect(payload.reply_url).toBe(`${svc.url}/v1/maintenance/${sid}/p1`);
    const res = await fetch(payload.instance_ids as string);
    expect(res.status).toBe(200);
    expect((((await res.json()) as { instance_ids: string[] }).instance_ids).sort()).toEqual(['p1-a', 'p1-b']);
  });

  it('400 INVALID_REPLY_STATE for a missing or malformed state; nothing is recorded', async () => {
    const bad: unknown[] = [
      {},
      { instance_actions: { 'p1-a': 'MIGRATE' } },
      { state: null },
      { state: 5 },
      { state: '' },
      { state: 'MAINTENANCE' },
      { state: 'ack_maintenance' },
      { state: 'ACK_' },
      { state: 'YES_MAINTENANCE' },
      { state: ['ACK_MAINTENANCE'] },
    ];
    for (const body of bad) {
      const r = await api(svc.url, 'PUT', `/v1/maintenance/${sid}/p1`, body);
      expectError(r, 400, 'INVALID_REPLY_STATE');
    }
    const p = await projectDetail('p1');
    expect(p).toMatchObject({ awaiting: 'MAINTENANCE', reply: null, last_reply: null });
  });

  it('400 UNKNOWN_INSTANCE_ACTION for an unknown action name; nothing is recorded', async () => {
    expectError(
      await api(svc.url, 'PUT', `/v1/maintenance/${sid}/p1`, { state: 'ACK_MAINTENANCE', instance_actions: { 'p1-a': 'TELEPORT' } }),
      400,
      'UNKNOWN_INSTANCE_ACTION',
    );
    expectError(
      await api(svc.url, 'PUT', `/v1/maintenance/${sid}/p1`, { state: 'ACK_MAINTENANCE', instance_actions: { 'p1-a': 'migrate' } }),
      400,
      'UNKNOWN_INSTANCE_ACTION',
    );
    expectError(await api(svc.url, 'PUT', `/v1/maintenance/${sid}/p1`, { state: 'ACK_MAINTENANCE', instance_action: 'TELEPORT' }), 400, 'UNKNOWN_INSTANCE_ACTION');
    expectError(
      await api(svc.url, 'PUT', `/v1/maintenance/${sid}/p1/p1-a`, { state: 'ACK_MAINTENANCE', instance_action: 'TELEPORT' }),
      400,
      'UNKNOWN_INSTANCE_ACTION',
    );
    expect(await projectDetail('p1')).toMatchObject({ awaiting: 'MAINTENANCE', reply: null, last_reply: null });
  });

  it('accepts instance_action (singular) with session_id, instance_ids and unknown keys', async () => {
    const r = await api(svc.url, 'PUT', `/v1/maintenance/${sid}/p1`, {
      state: 'ACK_MAINTENANCE',
      instance_action: 'MIGRATE',
      instance_ids: ['p1-a', 'p1-b'],
      session_id: sid,
      project_id: 'p1',
      something_new: { nested: [1, 2, 3] },
    });
    expect(r.status).toBe(200);
    expect(r.body.accepted).toBe(true);
    const d = await detail();
    expect(d.projects.find((p: ProjectDetail) => p.project_id === 'p1')).toMatchObject({ reply: 'ACK_MAINTENANCE', last_reply: 'ACK_MAINTENANCE' });
    const actions = Object.fromEntries((d.instances as { instance_id: string; action: string | null }[]).map((i) => [i.instance_id, i.action]));
    expect(actions['p1-a']).toBe('MIGRATE');
    expect(actions['p1-b']).toBe('MIGRATE');
    // p2 is still awaited; its instances are untouched.
    expect(actions['p2-a']).not.toBe('MIGRATE');
    expect(d.projects.find((p: ProjectDetail) => p.project_id === 'p2')).toMatchObject({ awaiting: 'MAINTENANCE', reply: null });
  });

  it('instance_action without instance_ids applies to the project\'s own instances only', async () => {
    const r = await api(svc.url, 'PUT', `/v1/maintenance/${sid}/p1`, { state: 'ACK_MAINTENANCE', instance_action: 'LIVE_MIGRATE' });
    expect(r.status).toBe(200);
    const d = await detail();
    const actions = Object.fromEntries((d.instances as { instance_id: string; action: string | null }[]).map((i) => [i.instance_id, i.action]));
    expect(actions['p1-a']).toBe('LIVE_MIGRATE');
    expect(actions['p1-b']).toBe('LIVE_MIGRATE');
    expect(actions['p2-a']).not.toBe('LIVE_MIGRATE');
    expect(actions['p2-b']).not.toBe('LIVE_MIGRATE');
  });

  it('instance_ids that is not a list (the notification\'s project URL, echoed) is ignored, not refused (spec §4)', async () => {
    // Unlike the session's lists (hosts: "c1" is 400), a reply's instance_ids is the client's echo.
    const r = await api(svc.url, 'PUT', `/v1/maintenance/${sid}/p1`, { state: 'ACK_MAINTENANCE', instance_action: 'MIGRATE', instance_ids: `${svc.url}/v1/maintenance/${sid}/p1` });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ accepted: true });
    const d = await detail();
    expect(d.instances.filter((i) => i.instance_id.startsWith('p1-')).map((i) => i.action)).toEqual(['MIGRATE', 'MIGRATE']);
  });

  it('a reply cannot set actions on another project\'s instances', async () => {
    const r = await api(svc.url, 'PUT', `/v1/maintenance/${sid}/p1`, {
      state: 'ACK_MAINTENANCE',
      instance_actions: { 'p1-a': 'MIGRATE', 'p2-a': 'OWN_ACTION' },
    });
    expect(r.status).toBe(200);
    const d = await detail();
    const p2a = (d.instances as { instance_id: string; action: string | null }[]).find((i) => i.instance_id === 'p2-a')!;
    expect(p2a.action).not.toBe('OWN_ACTION');
  });

  it('ACK_INSTANCE_ACTION_DONE unasked → 200, accepted false, no effect', async () => {
    const r = await api(svc.url, 'PUT', `/v1/maintenance/${sid}/p1`, { state: 'ACK_INSTANCE_ACTION_DONE', instance_ids: ['p1-a'] });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ accepted: false, reason_code: 'NO_REPLY_EXPECTED', expected: 'ACK_MAINTENANCE' });
    expect(r.body.reason).toMatch(/INSTANCE_ACTION_DONE is informational.*p1 is asked MAINTENANCE/);
    // Another well-formed reply to a state that is not awaited: same, and it says what is.
    const other = await api(svc.url, 'PUT', `/v1/maintenance/${sid}/p1`, { state: 'NACK_PLANNED_MAINTENANCE' });
    expect(other.status).toBe(200);
    expect(other.body).toMatchObject({ accepted: false, reason_code: 'NOT_AWAITED', expected: 'ACK_MAINTENANCE' });
    expect(other.body.reason).toMatch(/PLANNED_MAINTENANCE is not the state awaited.*ACK_MAINTENANCE or NACK_MAINTENANCE/);

    const p = await projectDetail('p1');
    expect(p).toMatchObject({ awaiting: 'MAINTENANCE', reply: null, last_reply: 'NACK_PLANNED_MAINTENANCE' });
    const s = await api(svc.url, 'GET', `/v1/maintenance/${sid}`);
    expect(s.body.state).toBe('MAINTENANCE');
    // The proper answer is still accepted afterwards.
    const ack = await api(svc.url, 'PUT', `/v1/maintenance/${sid}/p1`, { state: 'ACK_MAINTENANCE' });
    expect(ack.body.accepted).toBe(true);
  });

  it('a state no project is asked (ACK_FOO) → 200 (spec §4: any well-formed ACK_/NACK_), accepted false with the reason and the state expected', async () => {
    for (const state of ['ACK_FOO', 'NACK_START_MAINTENANCE']) {
      const r = await api(svc.url, 'PUT', `/v1/maintenance/${sid}/p1`, { state });
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ accepted: false, reason_code: 'UNKNOWN_STATE', expected: 'ACK_MAINTENANCE' });
      expect(r.body.reason).toContain(`${state.replace(/^N?ACK_/, '')} is not a state a project is asked to answer`);
    }
    // Per-instance URL: the instance has no ask of its own, so the project's ask is the one expected.
    const inst = await api(svc.url, 'PUT', `/v1/maintenance/${sid}/p1/p1-a`, { state: 'ACK_SCALE_IN', instance_action: 'MIGRATE' });
    expect(inst.status).toBe(200);
    expect(inst.body).toMatchObject({ accepted: false, reason_code: 'NOT_AWAITED', expected: 'ACK_MAINTENANCE' });
    expect(inst.body.reason).toMatch(/instance p1-a of project p1 is asked MAINTENANCE/);
    expect(await projectDetail('p1')).toMatchObject({ awaiting: 'MAINTENANCE', reply: null });
    // An accepted reply carries no reason.
    const ack = await api(svc.url, 'PUT', `/v1/maintenance/${sid}/p1`, { state: 'ACK_MAINTENANCE' });
    expect(ack.body).toEqual({ accepted: true });
  });

  it('the same reply twice → 200 both, same outcome as once', async () => {
    const body = { state: 'ACK_MAINTENANCE', instance_actions: { 'p1-a': 'MIGRATE', 'p1-b': 'LIVE_MIGRATE' } };
    const first = await api(svc.url, 'PUT', `/v1/maintenance/${sid}/p1`, body);
    expect(first.status).toBe(200);
    expect(first.body.accepted).toBe(true);
    const after1 = await detail();
    const second = await api(svc.url, 'PUT', `/v1/maintenance/${sid}/p1`, body);
    expect(second.status).toBe(200);
    const after2 = await detail();
    const view = (d: Detail) => ({
      p1: (d.projects as ProjectDetail[]).find((p) => p.project_id === 'p1')!.reply,
      actions: (d.instances as { instance_id: string; action: string | null }[]).map((i) => [i.instance_id, i.action]),
      state: d.session.state,
    });
    expect(view(after2)).toEqual(view(after1));
    expect(view(after2).p1).toBe('ACK_MAINTENANCE');
  });

  it('a NACK fails the session; replies afterwards are still 200', async () => {
    const r = await api(svc.url, 'PUT', `/v1/maintenance/${sid}/p2`, { state: 'NACK_MAINTENANCE' });
    expect(r.status).toBe(200);
    expect(r.body.accepted).toBe(true);
    const s = await waitFor(async () => {
      const g = await api(svc.url, 'GET', `/v1/maintenance/${sid}`);
      return g.body.state === 'MAINTENANCE_FAILED' ? g.body : undefined;
    }, 'session failed');
    expect(s.reason).toMatch(/p2/);
    // p1 never answered the ask the session failed in: the ended session shows no open ask nor deadline.
    expect(((await detail()).projects as (ProjectDetail & { reply_at: string | null })[]).map((p) => [p.project_id, p.awaiting, p.reply_at])).toEqual([
      ['p1', null, null],
      ['p2', null, null],
    ]);
    const late = await api(svc.url, 'PUT', `/v1/maintenance/${sid}/p1`, { state: 'ACK_MAINTENANCE' });
    expect(late.status).toBe(200);
    expect(late.body).toMatchObject({ accepted: false, reason_code: 'SESSION_ENDED', expected: null });
    expect(late.body.reason).toMatch(/MAINTENANCE_FAILED: nothing is awaited/);
    // Recorded, with no effect: it is not the project's answer to the ask the session failed in.
    expect(await projectDetail('p1')).toMatchObject({ reply: null, last_reply: 'ACK_MAINTENANCE' });
    expect((await detail()).timeline.map((t) => t.message)).toContain('p1 replied ACK_MAINTENANCE while the session had ended; recorded, no effect');
  });

  it('per-instance replies: 404 INSTANCE_NOT_FOUND for another project\'s instance', async () => {
    const own = await api(svc.url, 'PUT', `/v1/maintenance/${sid}/p1/p1-a`, { state: 'ACK_MAINTENANCE', instance_action: 'MIGRATE' });
    expect(own.status).toBe(200);
    expectError(
      await api(svc.url, 'PUT', `/v1/maintenance/${sid}/p1/p2-a`, { state: 'ACK_MAINTENANCE', instance_action: 'MIGRATE' }),
      404,
      'INSTANCE_NOT_FOUND',
    );
    const d = await detail();
    const p2a = (d.instances as { instance_id: string; action: string | null }[]).find((i) => i.instance_id === 'p2-a')!;
    expect(p2a.action).not.toBe('MIGRATE');
  });
});

describe('replies while the engine\'s webhook POST is still open', () => {
  beforeEach(() => setUp({ hang: true }));
  afterEach(() => tearDown());

  it('the reply is served and accepted while the receivers hang', async () => {
    await waitFor(() => receivers.every((r) => r.received.length > 0), 'both receivers called');
    for (const pid of ['p1', 'p2']) {
      const r = await api(svc.url, 'PUT', `/v1/maintenance/${sid}/${pid}`, { state: 'ACK_MAINTENANCE' });
      expect(r.status).toBe(200);
      expect(r.body.accepted).toBe(true);
    }
    await waitFor(async () => {
      const g = await api(svc.url, 'GET', `/v1/maintenance/${sid}`);
      return g.body.state !== 'MAINTENANCE';
    }, 'session moved past MAINTENANCE');
  });
});
