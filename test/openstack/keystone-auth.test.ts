// --auth keystone against a real Keystone (the real-OpenStack lane): the service validates
// X-Auth-Token with its own service user's token; the admin role reaches admin routes, a
// project-scoped member token only its own project; bad tokens are 401. Also the catalog entry of
// type `maintenance` that openstack-up.sh registers (how clients discover Fenix).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keystoneAuth } from '../../src/api/keystone-auth.js';
import { credentialsFromEnv, KeystoneSession } from '../../src/drivers/openstack/index.js';
import type { Service } from '../../src/main/service.js';
import { api, startTestService } from '../helpers/harness.js';
import { LANE } from './cloud.js';

const user = (username: string, projectName: string) =>
  new KeystoneSession(credentialsFromEnv(process.env, { username, projectName, password: process.env.OS_DEMO_PASSWORD ?? process.env.OS_PASSWORD! }));

describe.skipIf(!LANE)('--auth keystone (real Keystone)', () => {
  let svc: Service;
  let adminTok: string;
  let demoTok: string;
  let demoProject: string;

  beforeAll(async () => {
    // The service authenticates as the `fenix` service user (like a deployed Fenix), flags over OS_*.
    // Its webhooks point at loopback, refused by default outside --auth none: allowed explicitly.
    svc = await startTestService({ config: { auth: 'keystone', osUsername: 'fenix', osProjectName: 'service', webhookAllow: '127.0.0.0/8' } });
    const admin = new KeystoneSession(credentialsFromEnv());
    const demo = user(process.env.OS_DEMO_USERNAME ?? 'demo', process.env.OS_DEMO_PROJECT_NAME ?? 'demo');
    adminTok = await admin.token();
    demoTok = await demo.token();
    demoProject = (await demo.tokenInfo()).projectId!;
  });
  afterAll(async () => {
    await svc?.stop();
  });

  it('an admin token reaches admin routes; a member token only its own project; others are 401', async () => {
    expect((await api(svc.url, 'GET', '/v1/maintenance', undefined, adminTok)).status).toBe(200);
    expect((await api(svc.url, 'GET', '/v1/maintenance', undefined, demoTok)).status).toBe(403);
    expect((await api(svc.url, 'GET', '/v1/maintenance')).status).toBe(401);
    expect((await api(svc.url, 'GET', '/v1/maintenance', undefined, 'gAAAAAB-not-a-token')).status).toBe(401);

    const mine = await api(svc.url, 'POST', '/v1/subscriptions', { project_id: demoProject, url: 'http://127.0.0.1:9/hook', event_types: ['maintenance.scheduled'] }, demoTok);
    expect(mine.status, JSON.stringify(mine.body)).toBeLessThan(300);
    const other = await api(svc.url, 'POST', '/v1/subscriptions', { project_id: 'someone-else', url: 'http://127.0.0.1:9/hook', event_types: ['maintenance.scheduled'] }, demoTok);
    expect(other.status).toBe(403);
    const listed = await api(svc.url, 'GET', '/v1/subscriptions', undefined, demoTok);
    expect(listed.status).toBe(200);
    expect(JSON.stringify(listed.body)).toContain(demoProject);
  });

  it('validates each token once within the cache window, and refuses a revoked one after it', async () => {
    const ks = new KeystoneSession(credentialsFromEnv(process.env, { username: 'fenix', projectName: 'service' }));
    let calls = 0;
    let now = Date.now();
    const auth = keystoneAuth({ validate: (t) => (calls++, ks.validateToken(t)), cacheMs: 30_000, now: () => now });
    const req = (tok: string) => ({ headers: { 'x-auth-token': tok } }) as never;
    const victim = user(process.env.OS_DEMO_USERNAME ?? 'demo', process.env.OS_DEMO_PROJECT_NAME ?? 'demo');
    const tok = await victim.token();
    expect(await auth(req(tok))).toEqual({ role: 'project', projectId: demoProject });
    expect(await auth(req(tok))).toEqual({ role: 'project', projectId: demoProject });
    expect(calls).toBe(1);
    // revoke it in Keystone (DELETE /v3/auth/tokens): refused once the cached answer expires
    await ks.request('identity', '/auth/tokens', { method: 'DELETE', headers: { 'x-subject-token': tok } });
    now += 31_000;
    await expect(auth(req(tok))).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(calls).toBe(2);
    expect(ks.authCount).toBe(1); // the service token itself was reused
  });

  it('Fenix is in the catalog as service type maintenance', async () => {
    const admin = new KeystoneSession(credentialsFromEnv());
    expect(await admin.endpoint('maintenance')).toMatch(/^http:\/\/127\.0\.0\.1:12347$/);
  });
});
