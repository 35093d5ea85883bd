// /v1/subscriptions over real HTTP (spec §7): create, validate, list, delete.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Service } from '../../src/main/service.js';
import { api, startTestService } from '../helpers/harness.js';

const SCENARIO = {
  hosts: [
    { name: 'c1', type: 'compute', vcpus: 8 },
    { name: 'c2', type: 'compute', vcpus: 8 },
    { name: 'c3', type: 'compute', vcpus: 8 },
  ],
  instances: [{ id: 'p1-a', name: 'p1-a', project_id: 'p1', host: 'c1', vcpus: 1 }],
  timings: { migrate_s: 0.01, live_migrate_s: 0.01, host_maintenance_s: 0.01 },
};

type Res = Awaited<ReturnType<typeof api>>;

function expectError(r: Res, status: number, code: string): void {
  expect({ status: r.status, body: r.body }).toMatchObject({ status, body: { error: { code, message: expect.any(String) } } });
  expect(r.headers.get('x-request-id')).toBeTruthy();
}

const HOOK = 'http://127.0.0.1:9/hook';
let svc: Service;

beforeEach(async () => {
  svc = await startTestService({ scenario: SCENARIO });
});
afterEach(async () => {
  await svc.stop();
});

interface SubView {
  subscription_id: string;
  project_id: string | null;
  [k: string]: unknown;
}

async function list(): Promise<SubView[]> {
  const r = await api(svc.url, 'GET', '/v1/subscriptions');
  expect(r.status).toBe(200);
  return r.body.subscriptions;
}

describe('POST /v1/subscriptions', () => {
  it('creates a project subscription: 201 and the documented shape', async () => {
    const r = await api(svc.url, 'POST', '/v1/subscriptions', { project_id: 'p1', url: HOOK, event_types: ['maintenance.scheduled'] });
    expect(r.status).toBe(201);
    expect(r.body).toEqual({
      subscription_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      project_id: 'p1',
      url: HOOK,
      event_types: ['maintenance.scheduled'],
      format: 'aodh',
      has_secret: false,
      created_at: expect.any(String),
      delivered: 0,
    });
    expect(Number.isNaN(Date.parse(r.body.created_at))).toBe(false);
    expect(r.headers.get('x-request-id')).toBeTruthy();
  });

  it('creates an admin subscription with a secret, which is never echoed', async () => {
    const r = await api(svc.url, 'POST', '/v1/subscriptions/', {
      url: 'https://fm.example.org/events',
      event_types: ['maintenance.host', 'maintenance.session', 'maintenance.host'],
      format: 'json',
      secret: 's3cr3t-value',
    });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ project_id: null, format: 'json', has_secret: true, url: 'https://fm.example.org/events' });
    expect([...r.body.event_types].sort()).toEqual(['maintenance.host', 'maintenance.session']);
    expect(JSON.stringify(r.body)).not.toContain('s3cr3t-value');
    expect(JSON.stringify(await list())).not.toContain('s3cr3t-value');
  });

  const bad: { name: string; body: unknown }[] = [
    { name: 'url that is not a URL', body: { project_id: 'p1', url: 'not a url', event_types: ['maintenance.scheduled'] } },
    { name: 'url with a non-HTTP scheme', body: { project_id: 'p1', url: 'ftp://127.0.0.1/x', event_types: ['maintenance.scheduled'] } },
    { name: 'javascript: url', body: { project_id: 'p1', url: 'javascript:alert(1)', event_types: ['maintenance.scheduled'] } },
    { name: 'missing url', body: { project_id: 'p1', event_types: ['maintenance.scheduled'] } },
    { name: 'empty url', body: { project_id: 'p1', url: '', event_types: ['maintenance.scheduled'] } },
    { name: 'maintenance.scheduled without project_id', body: { url: HOOK, event_types: ['maintenance.scheduled'] } },
    { name: 'maintenance.scheduled with project_id null', body: { project_id: null, url: HOOK, event_types: ['maintenance.scheduled'] } },
    { name: 'maintenance.scheduled with an empty project_id', body: { project_id: '', url: HOOK, event_types: ['maintenance.scheduled'] } },
    { name: 'maintenance.host with project_id', body: { project_id: 'p1', url: HOOK, event_types: ['maintenance.host'] } },
    { name: 'maintenance.session with project_id', body: { project_id: 'p1', url: HOOK, event_types: ['maintenance.session'] } },
    { name: 'project and admin events mixed, with project_id', body: { project_id: 'p1', url: HOOK, event_types: ['maintenance.scheduled', 'maintenance.host'] } },
    { name: 'project and admin events mixed, without project_id', body: { url: HOOK, event_types: ['maintenance.scheduled', 'maintenance.session'] } },
    { name: 'unknown event type', body: { project_id: 'p1', url: HOOK, event_types: ['maintenance.exploded'] } },
    { name: 'no event types', body: { project_id: 'p1', url: HOOK, event_types: [] } },
    { name: 'missing event_types', body: { project_id: 'p1', url: HOOK } },
    { name: 'unknown format', body: { project_id: 'p1', url: HOOK, event_types: ['maintenance.scheduled'], format: 'xml' } },
    { name: 'body is a list', body: [{ project_id: 'p1', url: HOOK, event_types: ['maintenance.scheduled'] }] },
  ];
  for (const c of bad) {
    it(`${c.name} → 400, nothing stored`, async () => {
      const r = await api(svc.url, 'POST', '/v1/subscriptions', c.body);
      expect(r.status).toBe(400);
      expect(['VALIDATION_FAILED', 'BAD_REQUEST']).toContain(r.body.error.code);
      expectError(r, 400, r.body.error.code);
      expect(await list()).toEqual([]);
    });
  }

  it('malformed JSON → 400', async () => {
    const res = await fetch(`${svc.url}/v1/subscriptions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"url": ' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('BAD_REQUEST');
    expect(await list()).toEqual([]);
  });
});

describe('GET and DELETE /v1/subscriptions', () => {
  it('lists what was created, in creation order', async () => {
    expect(await list()).toEqual([]);
    const a = await api(svc.url, 'POST', '/v1/subscriptions', { project_id: 'p1', url: `${HOOK}/a`, event_types: ['maintenance.scheduled'] });
    const b = await api(svc.url, 'POST', '/v1/subscriptions', { project_id: 'p2', url: `${HOOK}/b`, event_types: ['maintenance.scheduled'], format: 'json' });
    const c = await api(svc.url, 'POST', '/v1/subscriptions', { url: `${HOOK}/c`, event_types: ['maintenance.session'] });
    expect([a.status, b.status, c.status]).toEqual([201, 201, 201]);
    const ls = await list();
    expect(ls).toEqual([a.body, b.body, c.body]);
  });

  it('delete → 204, then 404 SUBSCRIPTION_NOT_FOUND; the others stay', async () => {
    const a = await api(svc.url, 'POST', '/v1/subscriptions', { project_id: 'p1', url: `${HOOK}/a`, event_types: ['maintenance.scheduled'] });
    const b = await api(svc.url, 'POST', '/v1/subscriptions', { project_id: 'p1', url: `${HOOK}/b`, event_types: ['maintenance.scheduled'] });
    const id = a.body.subscription_id as string;

    const del = await api(svc.url, 'DELETE', `/v1/subscriptions/${id}`);
    expect(del.status).toBe(204);
    expect(del.body).toBeUndefined();
    expect((await list()).map((s) => s.subscription_id)).toEqual([b.body.subscription_id]);

    expectError(await api(svc.url, 'DELETE', `/v1/subscriptions/${id}`), 404, 'SUBSCRIPTION_NOT_FOUND');
    expectError(await api(svc.url, 'DELETE', '/v1/subscriptions/6f1b2c3d-0000-4000-8000-000000000000/'), 404, 'SUBSCRIPTION_NOT_FOUND');

    // Trailing slash on delete.
    expect((await api(svc.url, 'DELETE', `/v1/subscriptions/${b.body.subscription_id}/`)).status).toBe(204);
    expect(await list()).toEqual([]);
  });
});
