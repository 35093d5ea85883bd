// Session control (spec §3 PUT): continue a failed session after a fix, pause / resume, abort, and
// 409 where a change makes no sense.
import { afterEach, describe, expect, it } from 'vitest';
import type { SimulatedDriver } from '../../src/drivers/simulated/index.js';
import type { Service } from '../../src/main/service.js';
import { api, aodhTraits, startReceiver, startTestService, waitFor, waitForSession } from '../helpers/harness.js';

const scenario = (failing: string[] = []) => ({
  hosts: [0, 1, 2].map((i) => ({ name: `c${i}`, type: 'compute', vcpus: 4 })),
  instances: [
    { id: 'i-a', name: 'a', project_id: 'p1', host: 'c0', vcpus: 1 },
    { id: 'i-b', name: 'b', project_id: 'p1', host: 'c1', vcpus: 1 },
    { id: 'i-c', name: 'c', project_id: 'p1', host: 'c2', vcpus: 1 },
  ],
  timings: { migrate_s: 0.05, live_migrate_s: 0.05, host_maintenance_s: 0.05 },
  ...(failing.length && { failures: { migrations: failing } }),
});

describe('session control', () => {
  let svc: Service | undefined;
  const closers: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of closers.splice(0)) await c();
    await svc?.stop();
    svc = undefined;
  });

  it('continues a MAINTENANCE_FAILED session after the cause is fixed', async () => {
    svc = await startTestService({ scenario: scenario(['i-a', 'i-b', 'i-c']) });
    const id = (await api(svc.url, 'POST', '/v1/maintenance', {})).body.session_id;
    const failed = await waitForSession(svc.url, id, (s) => s.state === 'MAINTENANCE_FAILED');
    expect(failed.reason).toMatch(/moving i-. off c. failed/);
    // Hosts are back as found while it is failed.
    await waitFor(async () => (await api(svc!.url, 'GET', '/v1/simulator/hosts')).body.hosts.every((h: { enabled: boolean }) => h.enabled), 'hosts restored');
    const detail = (await api(svc.url, 'GET', `/v1/maintenance/${id}/detail`)).body;
    expect(detail.waiting_for.what).toMatch(/the admin/);
    const failedIn = detail.timeline.find((t: { kind: string; message: string }) => t.message.startsWith('MAINTENANCE_FAILED')).data.from;

    expect((await api(svc.url, 'PUT', `/v1/maintenance/${id}`, { state: 'MAINTENANCE_DONE' })).status).toBe(409);
    (svc.simulator as SimulatedDriver).heal();
    const put = await api(svc.url, 'PUT', `/v1/maintenance/${id}`, { state: failedIn });
    expect(put.status).toBe(200);
    // The engine applies the command under its lease: wait for it to leave MAINTENANCE_FAILED first.
    await waitForSession(svc.url, id, (s) => s.state !== 'MAINTENANCE_FAILED');
    const done = await waitForSession(svc.url, id, (s) => s.state === 'MAINTENANCE_DONE' || s.state === 'MAINTENANCE_FAILED');
    const tl = (await api(svc.url, 'GET', `/v1/maintenance/${id}/detail`)).body;
    expect(done.state, `${done.reason} ${JSON.stringify(tl.timeline.map((t: { message: string }) => t.message))} ${JSON.stringify(tl.operations)}`).toBe('MAINTENANCE_DONE');
    expect((await api(svc.url, 'GET', '/v1/simulator/hosts')).body.hosts.every((h: { enabled: boolean }) => h.enabled)).toBe(true);
    expect((await api(svc.url, 'PUT', `/v1/maintenance/${id}`, { action: 'pause' })).status).toBe(409);
  });

  it('a paused session sends nothing; resume moves the reply deadline by the pause', async () => {
    svc = await startTestService({ scenario: scenario() });
    const hook = await startReceiver();
    closers.push(() => hook.close());
    await api(svc.url, 'POST', '/v1/subscriptions', { project_id: 'p1', url: hook.url, event_types: ['maintenance.scheduled'] });
    const id = (await api(svc.url, 'POST', '/v1/maintenance', { reply_window: 600 })).body.session_id;
    await waitFor(() => hook.received.length === 1, 'MAINTENANCE notification');
    const before = (await api(svc.url, 'GET', `/v1/maintenance/${id}/detail`)).body.projects[0].reply_at;

    expect((await api(svc.url, 'PUT', `/v1/maintenance/${id}`, { action: 'pause' })).status).toBe(200);
    expect((await api(svc.url, 'PUT', `/v1/maintenance/${id}`, { action: 'pause' })).status).toBe(409);
    expect((await api(svc.url, 'GET', `/v1/maintenance/${id}`)).body.paused).toBe(true);
    // The reply arrives while paused: recorded, but nothing moves and nothing is sent.
    expect((await api(svc.url, 'PUT', `/v1/maintenance/${id}/p1`, { state: 'ACK_MAINTENANCE' })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 300));
    expect(hook.received.length).toBe(1);
    expect((await api(svc.url, 'GET', `/v1/maintenance/${id}`)).body.state).toBe('MAINTENANCE');

    expect((await api(svc.url, 'PUT', `/v1/maintenance/${id}`, { action: 'resume' })).status).toBe(200);
    await waitFor(() => hook.received.length > 1, 'notifications after resume');
    const s = await waitForSession(svc.url, id, (x) => !x.paused);
    expect(s.paused).toBe(false);
    const timeline = (await api(svc.url, 'GET', `/v1/maintenance/${id}/detail`)).body.timeline.map((t: { message: string }) => t.message);
    expect(timeline.some((m: string) => /resumed after \d+s/.test(m))).toBe(true);
    expect(before).toBeTruthy();
  });

  it('abort puts hosts back as found and tells projects the maintenance is over', async () => {
    svc = await startTestService({ scenario: scenario() });
    const hook = await startReceiver();
    closers.push(() => hook.close());
    await api(svc.url, 'POST', '/v1/subscriptions', { project_id: 'p1', url: hook.url, event_types: ['maintenance.scheduled'] });
    const id = (await api(svc.url, 'POST', '/v1/maintenance', { reply_window: 600 })).body.session_id;
    await waitFor(() => hook.received.length === 1, 'MAINTENANCE notification');
    await api(svc.url, 'PUT', `/v1/maintenance/${id}/p1`, { state: 'ACK_MAINTENANCE' });
    // Wait for the PREPARE question: one host is disabled by now.
    await waitFor(() => hook.received.some((r) => aodhTraits(r.body).state === 'PREPARE_MAINTENANCE'), 'PREPARE_MAINTENANCE');
    expect((await api(svc.url, 'GET', '/v1/simulator/hosts')).body.hosts.some((h: { enabled: boolean }) => !h.enabled)).toBe(true);

    expect((await api(svc.url, 'PUT', `/v1/maintenance/${id}`, { action: 'abort' })).status).toBe(200);
    const s = await waitForSession(svc.url, id, (x) => x.state === 'MAINTENANCE_FAILED');
    expect(s.reason).toBe('aborted by the admin');
    await waitFor(async () => (await api(svc!.url, 'GET', '/v1/simulator/hosts')).body.hosts.every((h: { enabled: boolean }) => h.enabled), 'hosts restored');
    await waitFor(() => hook.received.some((r) => aodhTraits(r.body).state === 'MAINTENANCE_COMPLETE'), 'projects told');
    expect((await api(svc.url, 'PUT', `/v1/maintenance/${id}`, { action: 'abort' })).status).toBe(409);
    expect((await api(svc.url, 'DELETE', `/v1/maintenance/${id}`)).status).toBe(200);
    expect((await api(svc.url, 'GET', `/v1/maintenance/${id}`)).status).toBe(404);
  });

  it('DELETE of a running session restores hosts and removes it', async () => {
    svc = await startTestService({ scenario: scenario() });
    const hook = await startReceiver();
    closers.push(() => hook.close());
    await api(svc.url, 'POST', '/v1/subscriptions', { project_id: 'p1', url: hook.url, event_types: ['maintenance.scheduled'] });
    const id = (await api(svc.url, 'POST', '/v1/maintenance', { reply_window: 600 })).body.session_id;
    await waitFor(() => hook.received.length === 1, 'MAINTENANCE notification');
    await api(svc.url, 'PUT', `/v1/maintenance/${id}/p1`, { state: 'ACK_MAINTENANCE' });
    await waitFor(async () => (await api(svc!.url, 'GET', '/v1/simulator/hosts')).body.hosts.some((h: { enabled: boolean }) => !h.enabled), 'a host disabled');
    expect((await api(svc.url, 'DELETE', `/v1/maintenance/${id}`)).status).toBe(200);
    await waitFor(async () => (await api(svc!.url, 'GET', '/v1/simulator/hosts')).body.hosts.every((h: { enabled: boolean }) => h.enabled), 'hosts restored');
    await waitFor(async () => !(await svc!.store.getSession(id)), 'session purged');
  });
});
