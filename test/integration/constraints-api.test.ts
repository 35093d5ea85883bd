// The constraints API (spec §5) over real HTTP with token auth: upsert answers the stored object,
// MIGRATION is refused with a message naming the right actions, ownership by project token,
// idempotent DELETE (200 also when gone), and the per-project listing.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Service } from '../../src/main/service.js';
import { api, startTestService } from '../helpers/harness.js';

const ADMIN = 'admin-token-0123456789';
const P1 = 'p1-token-0123456789';
const P2 = 'p2-token-0123456789';

const SCENARIO = {
  hosts: [
    { name: 'c1', type: 'compute', vcpus: 8 },
    { name: 'c2', type: 'compute', vcpus: 8 },
  ],
  instances: [
    { id: 'p1-a', name: 'p1-a', project_id: 'p1', host: 'c1', vcpus: 1 },
    { id: 'p1-b', name: 'p1-b', project_id: 'p1', host: 'c2', vcpus: 1 },
    { id: 'p2-x', name: 'p2-x', project_id: 'p2', host: 'c2', vcpus: 1 },
  ],
  timings: { migrate_s: 0.01, live_migrate_s: 0.01, host_maintenance_s: 0.01 },
};

const GROUP = {
  group_id: 'g-1',
  project_id: 'p1',
  group_name: 'doctor_ha_app_group',
  anti_affinity_group: true,
  max_instances_per_host: 1,
  max_impacted_members: 1,
  recovery_time: 4,
  resource_mitigation: true,
};
const INSTANCE = {
  instance_id: 'p1-a',
  project_id: 'p1',
  group_id: 'g-1',
  instance_name: 'doctor_ha_app_0',
  max_interruption_time: 120,
  migration_type: 'MIGRATE',
  resource_mitigation: true,
  lead_time: 40,
};

let dir: string;
let svc: Service;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fenix-constraints-'));
  const tokens = join(dir, 'tokens.json');
  writeFileSync(
    tokens,
    JSON.stringify({ [ADMIN]: { role: 'admin' }, [P1]: { role: 'project', project_id: 'p1' }, [P2]: { role: 'project', project_id: 'p2' } }),
  );
  svc = await startTestService({ config: { auth: 'token', tokens }, scenario: SCENARIO });
});

afterAll(async () => {
  await svc?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('constraints API (spec §5)', () => {
  it('PUT answers 200 with the stored object; GET returns it; a second PUT updates it', async () => {
    const g = await api(svc.url, 'PUT', '/v1/instance_group/g-1', GROUP, P1);
    expect(g.status, JSON.stringify(g.body)).toBe(200);
    expect(g.body).toMatchObject(GROUP);
    expect(g.body.created_at).toMatch(/Z$/);
    const i = await api(svc.url, 'PUT', '/v1/instance/p1-a', INSTANCE, P1);
    expect(i.status, JSON.stringify(i.body)).toBe(200);
    expect(i.body).toMatchObject(INSTANCE);
    expect((await api(svc.url, 'GET', '/v1/instance/p1-a', undefined, P1)).body).toMatchObject(INSTANCE);
    expect((await api(svc.url, 'GET', '/v1/instance_group/g-1/', undefined, ADMIN)).body).toMatchObject(GROUP);

    const again = await api(svc.url, 'PUT', '/v1/instance/p1-a', { ...INSTANCE, lead_time: 10, unknown_key: 'ignored' }, P1);
    expect(again.status).toBe(200);
    expect(again.body.lead_time).toBe(10);
    expect(again.body.created_at).toBe(i.body.created_at);
  });

  it('a project token may leave project_id out; an admin must give it', async () => {
    const r = await api(svc.url, 'PUT', '/v1/instance/p1-b', { instance_id: 'p1-b' }, P1);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ instance_id: 'p1-b', project_id: 'p1', group_id: null, lead_time: null, migration_type: null });
    const a = await api(svc.url, 'PUT', '/v1/instance/x-1', { instance_id: 'x-1' }, ADMIN);
    expect(a.status).toBe(400);
    expect(a.body.error.message).toMatch(/project_id is required/);
    expect((await api(svc.url, 'DELETE', '/v1/instance/p1-b', undefined, P1)).status).toBe(200);
  });

  it('migration_type MIGRATION is refused with 400 and a message naming the instance actions', async () => {
    const r = await api(svc.url, 'PUT', '/v1/instance/p1-a', { ...INSTANCE, migration_type: 'MIGRATION' }, P1);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('UNKNOWN_INSTANCE_ACTION');
    expect(r.body.error.message).toMatch(/MIGRATION/);
    expect(r.body.error.message).toMatch(/MIGRATE, LIVE_MIGRATE, OWN_ACTION, EVICTION/);
    // Nothing changed.
    expect((await api(svc.url, 'GET', '/v1/instance/p1-a', undefined, P1)).body.migration_type).toBe('MIGRATE');
    for (const bad of ['migrate', 'MOVE', 3]) expect((await api(svc.url, 'PUT', '/v1/instance/p1-a', { ...INSTANCE, migration_type: bad }, P1)).status).toBe(400);
    for (const ok of ['LIVE_MIGRATE', 'OWN_ACTION', 'EVICTION', 'MIGRATE'])
      expect((await api(svc.url, 'PUT', '/v1/instance/p1-a', { ...INSTANCE, migration_type: ok }, P1)).status).toBe(200);
  });

  it('other bad bodies are 400 with a clear message', async () => {
    const cases: [string, unknown][] = [
      ['/v1/instance/p1-a', { ...INSTANCE, lead_time: -1 }],
      ['/v1/instance/p1-a', { ...INSTANCE, lead_time: 'soon' }],
      ['/v1/instance/p1-a', { ...INSTANCE, instance_id: 'other' }],
      ['/v1/instance_group/g-1', { ...GROUP, max_impacted_members: 1.5 }],
      ['/v1/instance_group/g-1', { ...GROUP, anti_affinity_group: 'yes' }],
    ];
    for (const [path, body] of cases) {
      const r = await api(svc.url, 'PUT', path, body, P1);
      expect(r.status, `${path} ${JSON.stringify(body)}`).toBe(400);
      expect(r.body.error.message.length).toBeGreaterThan(5);
    }
  });

  it("a project token only touches its own project's objects", async () => {
    // Another project's objects: hidden from reads, refused for writes and deletes.
    expect((await api(svc.url, 'GET', '/v1/instance/p1-a', undefined, P2)).status).toBe(404);
    expect((await api(svc.url, 'GET', '/v1/instance_group/g-1', undefined, P2)).status).toBe(404);
    // The cloud says p1-a is p1's: to p2 it does not exist.
    expect((await api(svc.url, 'PUT', '/v1/instance/p1-a', { ...INSTANCE, project_id: 'p2' }, P2)).status).toBe(404);
    expect((await api(svc.url, 'PUT', '/v1/instance/p1-a', { instance_id: 'p1-a' }, P2)).status).toBe(404);
    expect((await api(svc.url, 'PUT', '/v1/instance/new-1', { ...INSTANCE, instance_id: 'new-1', project_id: 'p1' }, P2)).status).toBe(403);
    expect((await api(svc.url, 'DELETE', '/v1/instance/p1-a', undefined, P2)).status).toBe(403);
    expect((await api(svc.url, 'DELETE', '/v1/instance_group/g-1', undefined, P2)).status).toBe(403);
    // Its own instance may not join a group of another project.
    const r = await api(svc.url, 'PUT', '/v1/instance/p2-x', { instance_id: 'p2-x', group_id: 'g-1' }, P2);
    expect(r.status).toBe(403);
    expect(r.body.error.message).toMatch(/g-1 is not project p2's/);
    expect(r.body.error.message).not.toMatch(/p1/);
    // Listing: its own only; asking for another project is refused.
    expect((await api(svc.url, 'GET', '/v1/instance', undefined, P2)).body).toEqual({ instances: [] });
    expect((await api(svc.url, 'GET', '/v1/instance?project_id=p1', undefined, P2)).status).toBe(403);
    expect((await api(svc.url, 'GET', '/v1/instance', undefined)).status).toBe(401);
  });

  it('lists a project\'s constraints', async () => {
    const mine = await api(svc.url, 'GET', '/v1/instance', undefined, P1);
    expect(mine.status).toBe(200);
    expect(mine.body.instances.map((i: { instance_id: string }) => i.instance_id)).toEqual(['p1-a']);
    const groups = await api(svc.url, 'GET', '/v1/instance_group?project_id=p1', undefined, ADMIN);
    expect(groups.body.instance_groups.map((g: { group_id: string }) => g.group_id)).toEqual(['g-1']);
    expect((await api(svc.url, 'GET', '/v1/instance_group', undefined, ADMIN)).body.instance_groups).toHaveLength(1);
  });

  it('DELETE is idempotent: 200 when removed, 200 again when already gone, also for unknown ids', async () => {
    const first = await api(svc.url, 'DELETE', '/v1/instance/p1-a', undefined, P1);
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ deleted: true });
    const second = await api(svc.url, 'DELETE', '/v1/instance/p1-a', undefined, P1);
    expect(second.status).toBe(200);
    expect(second.body).toEqual({ deleted: false });
    expect((await api(svc.url, 'DELETE', '/v1/instance/never-existed', undefined, P2)).status).toBe(200);
    expect((await api(svc.url, 'GET', '/v1/instance/p1-a', undefined, P1)).status).toBe(404);
    expect((await api(svc.url, 'GET', '/v1/instance/p1-a', undefined, P1)).body.error.code).toBe('CONSTRAINT_NOT_FOUND');
    expect((await api(svc.url, 'DELETE', '/v1/instance_group/g-1', undefined, P1)).status).toBe(200);
    expect((await api(svc.url, 'DELETE', '/v1/instance_group/g-1/', undefined, P1)).status).toBe(200);
  });
});
