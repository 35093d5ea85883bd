// POST /v1/maintenance validation and the error contract of spec §3 over real HTTP: every refused
// create gives the exact status and stable code, leaves no session behind, and never a 500.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Service } from '../../src/main/service.js';
import { api, startTestService, waitFor } from '../helpers/harness.js';

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
    { id: 'p3-a', name: 'p3-a', project_id: 'p3', host: 'c3', vcpus: 1 },
  ],
  timings: { migrate_s: 0.01, live_migrate_s: 0.01, host_maintenance_s: 0.01 },
};

type Res = Awaited<ReturnType<typeof api>>;

/** Asserts the error contract: status, {error:{code,message}}, a request id header. */
function expectError(r: Res, status: number, code: string): void {
  expect({ status: r.status, body: r.body }).toMatchObject({ status, body: { error: { code } } });
  expect(typeof r.body.error.message).toBe('string');
  expect(r.body.error.message.length).toBeGreaterThan(0);
  expect(r.headers.get('x-request-id')).toBeTruthy();
  expect(r.headers.get('content-type')).toMatch(/application\/json/);
}

const inOneHour = () => new Date(Date.now() + 3_600_000).toISOString();
/** "YYYY-MM-DD HH:MM:SS", the original's format (UTC, no zone). */
const plainUtc = (t: number) => new Date(t).toISOString().slice(0, 19).replace('T', ' ');

let svc: Service;

beforeEach(async () => {
  svc = await startTestService({ scenario: SCENARIO });
});
afterEach(async () => {
  await svc.stop();
});

async function sessions(): Promise<string[]> {
  const r = await api(svc.url, 'GET', '/v1/maintenance');
  expect(r.status).toBe(200);
  return r.body.sessions as string[];
}

/** POST /v1/maintenance with a raw body and content type (for bodies `api` cannot send). */
async function rawPost(body: string, contentType = 'application/json'): Promise<Res> {
  const res = await fetch(`${svc.url}/v1/maintenance`, { method: 'POST', headers: { 'content-type': contentType }, body });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    /* keep text */
  }
  return { status: res.status, body: json as Res['body'], headers: res.headers };
}

describe('POST /v1/maintenance refuses bad requests and leaves no session behind', () => {
  const cases: { name: string; body: unknown; status: number; code: string; message?: RegExp }[] = [
    { name: 'unknown host', body: { hosts: ['c1', 'nope-42'] }, status: 422, code: 'UNKNOWN_HOSTS', message: /nope-42/ },
    { name: 'duplicated host', body: { hosts: ['c1', 'c2', 'c1'] }, status: 400, code: 'VALIDATION_FAILED', message: /c1/ },
    { name: 'state other than MAINTENANCE', body: { hosts: ['c1'], state: 'PLANNED_MAINTENANCE' }, status: 400, code: 'VALIDATION_FAILED' },
    { name: 'lower-case state', body: { state: 'maintenance' }, status: 400, code: 'VALIDATION_FAILED' },
    { name: 'unparseable maintenance_at', body: { maintenance_at: 'next tuesday' }, status: 400, code: 'VALIDATION_FAILED' },
    { name: 'impossible date in maintenance_at', body: { maintenance_at: '2099-02-31 10:00:00' }, status: 400, code: 'VALIDATION_FAILED' },
    { name: 'maintenance_at far in the past', body: { maintenance_at: '2000-01-01 00:00:00' }, status: 422, code: 'MAINTENANCE_AT_TOO_SOON' },
    { name: 'unknown workflow', body: { workflow: 'teleport' }, status: 422, code: 'UNKNOWN_WORKFLOW', message: /teleport/ },
    {
      name: 'unknown plug-in',
      body: { actions: [{ plugin: 'no-such-plugin', type: 'host' }] },
      status: 422,
      code: 'UNKNOWN_PLUGIN',
      message: /no-such-plugin/,
    },
    { name: 'bad plug-in type', body: { actions: [{ plugin: 'dummy', type: 'sideways' }] }, status: 400, code: 'VALIDATION_FAILED' },
    { name: 'plug-in without a name', body: { actions: [{ type: 'host' }] }, status: 400, code: 'VALIDATION_FAILED' },
    { name: 'hosts not a list of strings', body: { hosts: [1, { a: 2 }] }, status: 400, code: 'VALIDATION_FAILED' },
    // Fastify's default coerceTypes 'array' turned these into one-element lists (issue 13).
    { name: 'hosts a string, not a list', body: { hosts: 'c1' }, status: 400, code: 'VALIDATION_FAILED', message: /body\/hosts must be array/ },
    { name: 'hosts a number, not a list', body: { hosts: 1 }, status: 400, code: 'VALIDATION_FAILED', message: /body\/hosts must be array/ },
    { name: 'download a string, not a list', body: { download: 'https://example.com/a.tgz' }, status: 400, code: 'VALIDATION_FAILED', message: /body\/download must be array/ },
    { name: 'actions one object, not a list', body: { actions: { plugin: 'dummy', type: 'host' } }, status: 400, code: 'VALIDATION_FAILED', message: /body\/actions must be array/ },
    { name: 'metadata not an object', body: { metadata: ['x'] }, status: 400, code: 'VALIDATION_FAILED' },
    { name: 'reply_window out of range', body: { reply_window: 0 }, status: 400, code: 'VALIDATION_FAILED' },
    { name: 'body is a list', body: [{ hosts: ['c1'] }], status: 400, code: 'VALIDATION_FAILED' },
    { name: 'body is a string', body: 'MAINTENANCE', status: 400, code: 'VALIDATION_FAILED' },
    { name: 'body is a number', body: 42, status: 400, code: 'VALIDATION_FAILED' },
    { name: 'body is null', body: null, status: 400, code: 'VALIDATION_FAILED' },
  ];

  for (const c of cases) {
    it(`${c.name} → ${c.status} ${c.code}`, async () => {
      const r = await api(svc.url, 'POST', '/v1/maintenance', c.body);
      expectError(r, c.status, c.code);
      if (c.message) expect(r.body.error.message).toMatch(c.message);
      expect(await sessions()).toEqual([]);
    });
  }

  it('the other list fields refuse a bare string too: plan hosts, subscription event_types; nothing is created', async () => {
    const plan = await api(svc.url, 'POST', '/v1/maintenance/plan', { hosts: 'c1', workflow: 'vnf' });
    expectError(plan, 400, 'VALIDATION_FAILED');
    expect(plan.body.error.message).toMatch(/body\/hosts must be array/);
    const sub = await api(svc.url, 'POST', '/v1/subscriptions', { project_id: 'p1', url: 'https://example.com/hook', event_types: 'maintenance.scheduled' });
    expectError(sub, 400, 'VALIDATION_FAILED');
    expect(sub.body.error.message).toMatch(/body\/event_types must be array/);
    expect((await api(svc.url, 'GET', '/v1/subscriptions')).body.subscriptions).toEqual([]);
    // Scalars are still coerced where they were (an integer sent as text), and a list is a list.
    const ok = await api(svc.url, 'POST', '/v1/maintenance', { hosts: ['c1'], reply_window: '30', maintenance_at: inOneHour() });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect((await api(svc.url, 'GET', `/v1/maintenance/${ok.body.session_id}/detail?lists=`)).body.session.options).toMatchObject({ replyWindowS: 30 });
  });

  it('malformed JSON → 400', async () => {
    const r = await rawPost('{"hosts": ["c1",');
    expectError(r, 400, 'BAD_REQUEST');
    expect(await sessions()).toEqual([]);
  });

  it('a body that is not JSON at all → 4xx, never 500', async () => {
    const r = await rawPost('hosts=c1', 'application/x-www-form-urlencoded');
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    expect(r.body.error.code).toBeTruthy();
    expect(r.headers.get('x-request-id')).toBeTruthy();
    expect(await sessions()).toEqual([]);
  });

  it('hosts busy in another running session → 409 HOSTS_BUSY naming the session', async () => {
    const first = await api(svc.url, 'POST', '/v1/maintenance', { hosts: ['c1'], maintenance_at: inOneHour() });
    expect(first.status).toBe(200);
    const sid = first.body.session_id as string;

    const r = await api(svc.url, 'POST', '/v1/maintenance', { hosts: ['c2', 'c1'] });
    expectError(r, 409, 'HOSTS_BUSY');
    expect(r.body.error.message).toContain(sid);
    expect(r.body.error.message).toContain('c1');
    // "all hosts" overlaps too
    expectError(await api(svc.url, 'POST', '/v1/maintenance', {}), 409, 'HOSTS_BUSY');
    expect(await sessions()).toEqual([sid]);

    // Disjoint hosts are fine.
    const other = await api(svc.url, 'POST', '/v1/maintenance', { hosts: ['c3'], maintenance_at: inOneHour() });
    expect(other.status).toBe(200);
    expect((await sessions()).sort()).toEqual([sid, other.body.session_id].sort());
  });

  it('concurrent creates over the same hosts: exactly one wins, the others get 409 HOSTS_BUSY', async () => {
    const rs = await Promise.all(
      Array.from({ length: 12 }, () => api(svc.url, 'POST', '/v1/maintenance', { hosts: ['c2'], maintenance_at: inOneHour() })),
    );
    const ok = rs.filter((r) => r.status === 200);
    expect(ok).toHaveLength(1);
    for (const r of rs.filter((x) => x.status !== 200)) expectError(r, 409, 'HOSTS_BUSY');
    expect(await sessions()).toEqual([ok[0]!.body.session_id]);
  });
});

describe('POST /v1/maintenance accepts the documented forms', () => {
  const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

  it('maintenance_at as "YYYY-MM-DD HH:MM:SS" (UTC)', async () => {
    const at = Math.ceil((Date.now() + 3_600_000) / 1000) * 1000;
    const r = await api(svc.url, 'POST', '/v1/maintenance', { hosts: ['c1'], state: 'MAINTENANCE', maintenance_at: plainUtc(at) });
    expect(r.status).toBe(200);
    expect(r.body.session_id).toMatch(UUID);
    expect(Date.parse(r.body.maintenance_at)).toBe(at);
    expect(await sessions()).toEqual([r.body.session_id]);
  });

  it('maintenance_at as ISO 8601 with Z and with an offset', async () => {
    const at = Math.ceil((Date.now() + 3_600_000) / 1000) * 1000;
    const z = await api(svc.url, 'POST', '/v1/maintenance', { hosts: ['c1'], maintenance_at: new Date(at).toISOString() });
    expect(z.status).toBe(200);
    expect(z.body.session_id).toMatch(UUID);
    expect(Date.parse(z.body.maintenance_at)).toBe(at);

    // The same instant written at +02:00.
    const local = new Date(at + 2 * 3_600_000).toISOString().slice(0, 19) + '+02:00';
    const off = await api(svc.url, 'POST', '/v1/maintenance', { hosts: ['c2'], maintenance_at: local });
    expect(off.status).toBe(200);
    expect(Date.parse(off.body.maintenance_at)).toBe(at);
  });

  it('a trailing slash on /v1/maintenance/ and /v1/maintenance/{id}/', async () => {
    const r = await api(svc.url, 'POST', '/v1/maintenance/', { hosts: ['c1'], maintenance_at: inOneHour(), metadata: { openstack_version: 'Train' } });
    expect(r.status).toBe(200);
    const sid = r.body.session_id as string;
    expect(sid).toMatch(UUID);

    const list = await api(svc.url, 'GET', '/v1/maintenance/');
    expect(list.status).toBe(200);
    expect(list.body).toEqual({ sessions: [sid] });

    const one = await api(svc.url, 'GET', `/v1/maintenance/${sid}/`);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ session_id: sid, state: 'MAINTENANCE', metadata: { openstack_version: 'Train' } });

    const detail = await api(svc.url, 'GET', `/v1/maintenance/${sid}/detail/`);
    expect(detail.status).toBe(200);
    expect(detail.body.session.session_id).toBe(sid);

    const del = await api(svc.url, 'DELETE', `/v1/maintenance/${sid}/`);
    expect(del.status).toBe(200);
    expectError(await api(svc.url, 'GET', `/v1/maintenance/${sid}`), 404, 'SESSION_NOT_FOUND');
  });
});

describe('unknown resources', () => {
  const missing = '6f1b2c3d-0000-4000-8000-000000000000';

  it('404 SESSION_NOT_FOUND for an unknown session on every session path', async () => {
    expectError(await api(svc.url, 'GET', `/v1/maintenance/${missing}`), 404, 'SESSION_NOT_FOUND');
    expectError(await api(svc.url, 'GET', `/v1/maintenance/${missing}/detail`), 404, 'SESSION_NOT_FOUND');
    expectError(await api(svc.url, 'DELETE', `/v1/maintenance/${missing}`), 404, 'SESSION_NOT_FOUND');
    expectError(await api(svc.url, 'PUT', `/v1/maintenance/${missing}`, { state: 'MAINTENANCE' }), 404, 'SESSION_NOT_FOUND');
    expectError(await api(svc.url, 'GET', `/v1/maintenance/${missing}/p1`), 404, 'SESSION_NOT_FOUND');
    expectError(await api(svc.url, 'PUT', `/v1/maintenance/${missing}/p1`, { state: 'ACK_MAINTENANCE' }), 404, 'SESSION_NOT_FOUND');
    expectError(
      await api(svc.url, 'PUT', `/v1/maintenance/${missing}/p1/p1-a`, { state: 'ACK_PLANNED_MAINTENANCE', instance_action: 'MIGRATE' }),
      404,
      'SESSION_NOT_FOUND',
    );
    // A DELETE that carries a JSON content type but no body is still just a 404.
    const res = await fetch(`${svc.url}/v1/maintenance/${missing}`, { method: 'DELETE', headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('SESSION_NOT_FOUND');
  });

  it('404 PROJECT_NOT_IN_SESSION for a project with no instances in the session', async () => {
    const r = await api(svc.url, 'POST', '/v1/maintenance', { hosts: ['c1'], maintenance_at: inOneHour() });
    expect(r.status).toBe(200);
    const sid = r.body.session_id as string;
    // The engine discovers the session's projects (p1, p2 on c1).
    await waitFor(async () => {
      const d = await api(svc.url, 'GET', `/v1/maintenance/${sid}/detail`);
      return (d.body.projects as { project_id: string }[] | undefined)?.some((p) => p.project_id === 'p1');
    }, 'projects discovered');

    expect((await api(svc.url, 'GET', `/v1/maintenance/${sid}/p1`)).status).toBe(200);
    // p3 exists in the cloud, but only on c3, which is not in the session; p-nobody exists nowhere.
    for (const pid of ['p3', 'p-nobody']) {
      const g = await api(svc.url, 'GET', `/v1/maintenance/${sid}/${pid}`);
      expectError(g, 404, 'PROJECT_NOT_IN_SESSION');
      expect(g.body.error.message).toContain(pid);
      expectError(await api(svc.url, 'PUT', `/v1/maintenance/${sid}/${pid}`, { state: 'ACK_MAINTENANCE' }), 404, 'PROJECT_NOT_IN_SESSION');
    }
  });

  it('unknown routes → 404 NOT_FOUND JSON', async () => {
    for (const [method, path] of [
      ['GET', '/v2/maintenance'],
      ['GET', '/v1/nothing-here'],
      ['POST', '/v1/maintenance/abc/p1/i1/extra'],
      ['PATCH', '/v1/maintenance'],
      ['GET', '/v1/maintenance/abc/p1/i1'],
    ] as const) {
      const r = await api(svc.url, method, path);
      expectError(r, 404, 'NOT_FOUND');
    }
  });
});

describe('never a 500 for anything a client sends', () => {
  it('a spread of hostile requests all answer 4xx with the error shape', async () => {
    const r = await api(svc.url, 'POST', '/v1/maintenance', { hosts: ['c1'], maintenance_at: inOneHour() });
    const sid = r.body.session_id as string;
    const requests: [string, string, unknown][] = [
      ['POST', '/v1/maintenance', { hosts: 'c1,c2', state: 5 }],
      ['POST', '/v1/maintenance', { maintenance_at: 1234567890 }],
      ['POST', '/v1/maintenance', { maintenance_at: '' }],
      ['POST', '/v1/maintenance', { maintenance_at: '9999-99-99 99:99:99' }],
      ['POST', '/v1/maintenance', { hosts: [''] }],
      ['POST', '/v1/maintenance', { hosts: ['x'.repeat(300)] }],
      ['POST', '/v1/maintenance', { actions: 'dummy' }],
      ['POST', '/v1/maintenance', { actions: [null] }],
      ['POST', '/v1/maintenance', { download: [''] }],
      ['POST', '/v1/maintenance', { workflow: null }],
      ['POST', '/v1/maintenance', { no_subscription: 'maybe' }],
      ['PUT', `/v1/maintenance/${sid}`, {}],
      ['PUT', `/v1/maintenance/${sid}`, []],
      ['PUT', `/v1/maintenance/${sid}`, { state: 'MAINTENANCE_DONE' }],
      ['PUT', `/v1/maintenance/${sid}/p1`, []],
      ['PUT', `/v1/maintenance/${sid}/p1`, 'ACK_MAINTENANCE'],
      ['PUT', `/v1/maintenance/${sid}/p1`, { state: 'ACK_MAINTENANCE', instance_actions: ['MIGRATE'] }],
      ['PUT', `/v1/maintenance/${sid}/p1`, { state: 'ACK_MAINTENANCE', instance_actions: { 'p1-a': { x: 1 } } }],
      ['GET', `/v1/maintenance/${'x'.repeat(100)}`, undefined],
      ['GET', `/v1/maintenance/${sid}/${encodeURIComponent('p1/../p2')}`, undefined],
      ['DELETE', '/v1/maintenance', undefined],
      ['POST', '/v1/subscriptions', { url: 'http://127.0.0.1:1/x', event_types: 'maintenance.scheduled' }],
    ];
    for (const [method, path, body] of requests) {
      const res = await api(svc.url, method, path, body);
      expect({ method, path, body, status: res.status < 500 && res.status >= 400 }).toEqual({ method, path, body, status: true });
      expect(res.body?.error?.code, `${method} ${path}`).toEqual(expect.any(String));
      expect(res.body?.error?.message, `${method} ${path}`).toEqual(expect.any(String));
      expect(res.headers.get('x-request-id')).toBeTruthy();
    }
    expect(await sessions()).toEqual([sid]);
  });
});
