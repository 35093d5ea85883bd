// --auth token over real HTTP: who may call what (spec §3 401/403, §4 "never another project's
// instances", §7 "a project can only register for itself"), and the loopback rule of --auth none.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import type { Service } from '../../src/main/service.js';
import { api, startTestService, waitFor } from '../helpers/harness.js';

const ADMIN = 'admin-token-0123456789';
const P1 = 'p1-token-0123456789';
const P2 = 'p2-token-0123456789';

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

function expectError(r: Res, status: number, code: string): void {
  expect({ status: r.status, body: r.body }).toMatchObject({ status, body: { error: { code, message: expect.any(String) } } });
  expect(r.headers.get('x-request-id')).toBeTruthy();
}

let dir: string;
let svc: Service;
let sid: string;
const hook = 'http://127.0.0.1:9/hook';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fenix-auth-'));
  const tokens = join(dir, 'tokens.json');
  writeFileSync(
    tokens,
    JSON.stringify({
      [ADMIN]: { role: 'admin' },
      [P1]: { role: 'project', project_id: 'p1' },
      [P2]: { role: 'project', project_id: 'p2' },
    }),
  );
  // The receivers here are on loopback, refused by default with --auth token: allow them explicitly.
  svc = await startTestService({ config: { auth: 'token', tokens, webhookAllow: '127.0.0.0/8' }, scenario: SCENARIO });
  // A session far in the future: it stays in MAINTENANCE, the projects are known.
  const r = await api(svc.url, 'POST', '/v1/maintenance', { maintenance_at: new Date(Date.now() + 3_600_000).toISOString() }, ADMIN);
  expect(r.status).toBe(200);
  sid = r.body.session_id;
  await waitFor(async () => {
    const d = await api(svc.url, 'GET', `/v1/maintenance/${sid}/detail`, undefined, ADMIN);
    return (d.body.projects as unknown[] | undefined)?.length === 2;
  }, 'projects discovered');
});

afterAll(async () => {
  await svc?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('authentication', () => {
  it('no token → 401 UNAUTHENTICATED on every resource', async () => {
    for (const [method, path, body] of [
      ['GET', '/v1/maintenance', undefined],
      ['POST', '/v1/maintenance', {}],
      ['GET', `/v1/maintenance/${sid}`, undefined],
      ['GET', `/v1/maintenance/${sid}/p1`, undefined],
      ['PUT', `/v1/maintenance/${sid}/p1`, { state: 'ACK_MAINTENANCE' }],
      ['GET', '/v1/subscriptions', undefined],
      ['GET', '/v1/simulator/instances', undefined],
      ['GET', '/v1/no-such-route', undefined],
    ] as const) {
      expectError(await api(svc.url, method, path, body), 401, 'UNAUTHENTICATED');
    }
  });

  it('an unknown or empty token → 401 UNAUTHENTICATED', async () => {
    expectError(await api(svc.url, 'GET', '/v1/maintenance', undefined, 'not-a-known-token'), 401, 'UNAUTHENTICATED');
    expectError(await api(svc.url, 'GET', `/v1/maintenance/${sid}/p1`, undefined, P1.toUpperCase()), 401, 'UNAUTHENTICATED');
    const res = await fetch(`${svc.url}/v1/maintenance`, { headers: { 'x-auth-token': '' } });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('UNAUTHENTICATED');
  });

  it('health and version need no token', async () => {
    expect((await api(svc.url, 'GET', '/healthz')).status).toBe(200);
    expect((await api(svc.url, 'GET', '/')).status).toBe(200);
  });

  it('the admin token reaches everything', async () => {
    expect((await api(svc.url, 'GET', '/v1/maintenance', undefined, ADMIN)).body).toEqual({ sessions: [sid] });
    expect((await api(svc.url, 'GET', `/v1/maintenance/${sid}/p2`, undefined, ADMIN)).status).toBe(200);
    expect((await api(svc.url, 'GET', '/v1/simulator/hosts', undefined, ADMIN)).status).toBe(200);
  });
});

describe('a project token on admin routes → 403 FORBIDDEN', () => {
  it('POST/GET /v1/maintenance, session, detail, PUT, DELETE', async () => {
    for (const tok of [P1, P2]) {
      expectError(await api(svc.url, 'POST', '/v1/maintenance', { hosts: ['c3'] }, tok), 403, 'FORBIDDEN');
      expectError(await api(svc.url, 'GET', '/v1/maintenance', undefined, tok), 403, 'FORBIDDEN');
      expectError(await api(svc.url, 'GET', `/v1/maintenance/${sid}`, undefined, tok), 403, 'FORBIDDEN');
      expectError(await api(svc.url, 'GET', `/v1/maintenance/${sid}/detail`, undefined, tok), 403, 'FORBIDDEN');
      expectError(await api(svc.url, 'PUT', `/v1/maintenance/${sid}`, { action: 'pause' }, tok), 403, 'FORBIDDEN');
      expectError(await api(svc.url, 'DELETE', `/v1/maintenance/${sid}`, undefined, tok), 403, 'FORBIDDEN');
    }
    // Nothing was created or deleted.
    expect((await api(svc.url, 'GET', '/v1/maintenance', undefined, ADMIN)).body).toEqual({ sessions: [sid] });
    expect((await api(svc.url, 'GET', `/v1/maintenance/${sid}`, undefined, ADMIN)).status).toBe(200);
  });

  it('a project token does not learn whether a session exists', async () => {
    const missing = '6f1b2c3d-0000-4000-8000-000000000000';
    expectError(await api(svc.url, 'GET', `/v1/maintenance/${missing}`, undefined, P1), 403, 'FORBIDDEN');
    expectError(await api(svc.url, 'GET', `/v1/maintenance/${missing}/detail`, undefined, P1), 403, 'FORBIDDEN');
    expectError(await api(svc.url, 'DELETE', `/v1/maintenance/${missing}`, undefined, P1), 403, 'FORBIDDEN');
  });
});

describe('the project API with project tokens', () => {
  it('p1 can GET and PUT its own project path', async () => {
    const g = await api(svc.url, 'GET', `/v1/maintenance/${sid}/p1`, undefined, P1);
    expect(g.status).toBe(200);
    expect([...g.body.instance_ids].sort()).toEqual(['p1-a', 'p1-b']);
    const p = await api(svc.url, 'PUT', `/v1/maintenance/${sid}/p1`, { state: 'ACK_MAINTENANCE' }, P1);
    expect(p.status).toBe(200);
    const pi = await api(svc.url, 'PUT', `/v1/maintenance/${sid}/p1/p1-a`, { state: 'ACK_MAINTENANCE', instance_action: 'MIGRATE' }, P1);
    expect(pi.status).toBe(200);
  });

  it('p1 gets 403 on p2\'s project path, and p2\'s reply is not recorded', async () => {
    expectError(await api(svc.url, 'GET', `/v1/maintenance/${sid}/p2`, undefined, P1), 403, 'FORBIDDEN');
    expectError(await api(svc.url, 'PUT', `/v1/maintenance/${sid}/p2`, { state: 'NACK_MAINTENANCE' }, P1), 403, 'FORBIDDEN');
    expectError(
      await api(svc.url, 'PUT', `/v1/maintenance/${sid}/p2/p2-a`, { state: 'NACK_MAINTENANCE', instance_action: 'MIGRATE' }, P1),
      403,
      'FORBIDDEN',
    );
    const d = await api(svc.url, 'GET', `/v1/maintenance/${sid}/detail`, undefined, ADMIN);
    const p2 = (d.body.projects as { project_id: string; last_reply: string | null }[]).find((p) => p.project_id === 'p2')!;
    expect(p2.last_reply).toBeNull();
    // A project token's own instance path cannot be used to reach another project's instance either.
    expectError(
      await api(svc.url, 'PUT', `/v1/maintenance/${sid}/p1/p2-a`, { state: 'ACK_MAINTENANCE', instance_action: 'MIGRATE' }, P1),
      404,
      'INSTANCE_NOT_FOUND',
    );
  });
});

describe('subscriptions with project tokens', () => {
  it('p1 creates maintenance.scheduled for p1 only', async () => {
    const ok = await api(svc.url, 'POST', '/v1/subscriptions', { project_id: 'p1', url: hook, event_types: ['maintenance.scheduled'] }, P1);
    expect(ok.status).toBe(201);
    expect(ok.body.project_id).toBe('p1');
    expectError(
      await api(svc.url, 'POST', '/v1/subscriptions', { project_id: 'p2', url: hook, event_types: ['maintenance.scheduled'] }, P1),
      403,
      'FORBIDDEN',
    );
  });

  it('p1 cannot create maintenance.host or maintenance.session subscriptions', async () => {
    for (const ev of ['maintenance.host', 'maintenance.session']) {
      expectError(await api(svc.url, 'POST', '/v1/subscriptions', { url: hook, event_types: [ev] }, P1), 403, 'FORBIDDEN');
      expectError(await api(svc.url, 'POST', '/v1/subscriptions', { project_id: 'p1', url: hook, event_types: [ev] }, P1), 403, 'FORBIDDEN');
      expectError(
        await api(svc.url, 'POST', '/v1/subscriptions', { project_id: 'p1', url: hook, event_types: ['maintenance.scheduled', ev] }, P1),
        403,
        'FORBIDDEN',
      );
    }
  });

  it('GET lists only p1\'s subscriptions; p1 cannot delete p2\'s (404)', async () => {
    const mine = await api(svc.url, 'POST', '/v1/subscriptions', { project_id: 'p1', url: `${hook}/mine`, event_types: ['maintenance.scheduled'] }, P1);
    const theirs = await api(svc.url, 'POST', '/v1/subscriptions', { project_id: 'p2', url: `${hook}/p2`, event_types: ['maintenance.scheduled'] }, P2);
    const admin = await api(svc.url, 'POST', '/v1/subscriptions', { url: `${hook}/admin`, event_types: ['maintenance.host', 'maintenance.session'] }, ADMIN);
    expect([mine.status, theirs.status, admin.status]).toEqual([201, 201, 201]);

    const l1 = await api(svc.url, 'GET', '/v1/subscriptions', undefined, P1);
    expect(l1.status).toBe(200);
    expect(l1.body.subscriptions.length).toBeGreaterThan(0);
    for (const s of l1.body.subscriptions) expect(s.project_id).toBe('p1');
    expect(l1.body.subscriptions.map((s: { subscription_id: string }) => s.subscription_id)).toContain(mine.body.subscription_id);

    const l2 = await api(svc.url, 'GET', '/v1/subscriptions/', undefined, P2);
    expect(l2.body.subscriptions.map((s: { subscription_id: string }) => s.subscription_id)).toEqual([theirs.body.subscription_id]);

    const all = await api(svc.url, 'GET', '/v1/subscriptions', undefined, ADMIN);
    const allIds = all.body.subscriptions.map((s: { subscription_id: string }) => s.subscription_id);
    expect(allIds).toEqual(expect.arrayContaining([mine.body.subscription_id, theirs.body.subscription_id, admin.body.subscription_id]));

    expectError(await api(svc.url, 'DELETE', `/v1/subscriptions/${theirs.body.subscription_id}`, undefined, P1), 404, 'SUBSCRIPTION_NOT_FOUND');
    expectError(await api(svc.url, 'DELETE', `/v1/subscriptions/${admin.body.subscription_id}`, undefined, P1), 404, 'SUBSCRIPTION_NOT_FOUND');
    const still = await api(svc.url, 'GET', '/v1/subscriptions', undefined, ADMIN);
    expect(still.body.subscriptions.map((s: { subscription_id: string }) => s.subscription_id)).toEqual(allIds);

    expect((await api(svc.url, 'DELETE', `/v1/subscriptions/${mine.body.subscription_id}`, undefined, P1)).status).toBe(204);
    expect((await api(svc.url, 'DELETE', `/v1/subscriptions/${theirs.body.subscription_id}`, undefined, ADMIN)).status).toBe(204);
  });
});

describe('the simulator API with project tokens', () => {
  it('p1 sees only its instances', async () => {
    const r = await api(svc.url, 'GET', '/v1/simulator/instances', undefined, P1);
    expect(r.status).toBe(200);
    expect(r.body.instances.length).toBeGreaterThan(0);
    for (const i of r.body.instances) expect(i.project_id).toBe('p1');
    expect(r.body.instances.map((i: { id: string }) => i.id)).toEqual(expect.arrayContaining(['p1-a', 'p1-b']));
    expectError(await api(svc.url, 'GET', '/v1/simulator/instances?project_id=p2', undefined, P1), 403, 'FORBIDDEN');
    const own = await api(svc.url, 'GET', '/v1/simulator/instances?project_id=p1', undefined, P1);
    expect(own.status).toBe(200);
    for (const i of own.body.instances) expect(i.project_id).toBe('p1');
  });

  it('p1 creates instances in p1 only', async () => {
    const ok = await api(svc.url, 'POST', '/v1/simulator/instances', { name: 'p1-new', project_id: 'p1', vcpus: 1 }, P1);
    expect(ok.status).toBe(201);
    expect(ok.body.project_id).toBe('p1');
    expectError(await api(svc.url, 'POST', '/v1/simulator/instances', { name: 'p2-new', project_id: 'p2', vcpus: 1 }, P1), 403, 'FORBIDDEN');
    const p2s = await api(svc.url, 'GET', '/v1/simulator/instances?project_id=p2', undefined, ADMIN);
    expect(p2s.body.instances.map((i: { name: string }) => i.name)).not.toContain('p2-new');
    // Cleaning up its own instance is allowed.
    expect((await api(svc.url, 'DELETE', `/v1/simulator/instances/${ok.body.id}`, undefined, P1)).status).toBe(204);
  });

  it('p1 cannot delete p2\'s instance', async () => {
    expectError(await api(svc.url, 'DELETE', '/v1/simulator/instances/p2-a', undefined, P1), 404, 'INSTANCE_NOT_FOUND');
    const all = await api(svc.url, 'GET', '/v1/simulator/instances', undefined, ADMIN);
    expect(all.body.instances.map((i: { id: string }) => i.id)).toContain('p2-a');
  });

  it('p1 cannot list hosts', async () => {
    expectError(await api(svc.url, 'GET', '/v1/simulator/hosts', undefined, P1), 403, 'FORBIDDEN');
    expectError(await api(svc.url, 'GET', '/v1/simulator/hosts/', undefined, P1), 403, 'FORBIDDEN');
    expectError(await api(svc.url, 'GET', '/v1/simulator/hosts?x=1', undefined, P1), 403, 'FORBIDDEN');
  });
});

describe('config validation', () => {
  it('--auth none only on a loopback address', () => {
    expect(() => loadConfig({ auth: 'none', host: '0.0.0.0' }, {})).toThrow(/loopback/);
    expect(() => loadConfig({ auth: 'none', host: '10.1.2.3' }, {})).toThrow(/loopback/);
    expect(() => loadConfig({ host: '0.0.0.0' }, {})).toThrow(/loopback/);
    expect(() => loadConfig({}, { FENIX_HOST: '0.0.0.0' })).toThrow(/loopback/);
    expect(loadConfig({ auth: 'none', host: '127.0.0.1' }, {}).auth).toBe('none');
    expect(loadConfig({ auth: 'none', host: '::1' }, {}).host).toBe('::1');
    expect(loadConfig({ auth: 'token', tokens: '/tmp/t.json', host: '0.0.0.0' }, {}).auth).toBe('token');
  });

  it('--auth token needs a tokens file', () => {
    expect(() => loadConfig({ auth: 'token' }, {})).toThrow(/tokens/);
  });
});
