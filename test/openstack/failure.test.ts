// A migration failure injected through Nova (the real-OpenStack lane). Three compute hosts with one
// server each (admin's, no application manager: the default behaviour migrates them). After the
// first host is maintained, when the engine starts moving the next host's server, the test
// disables every other compute in Nova (the maintained host, the only enabled target left), so
// Nova accepts the migration (202) and then fails it with NoValidHost. The session must end
// MAINTENANCE_FAILED with Nova's error in the detail and the hosts it had disabled put back as
// found; after the fix (the compute enabled again) PUT {"state": <the state it failed in>}
// continues it to MAINTENANCE_DONE.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Service } from '../../src/main/service.js';
import { api, startTestService, waitFor, waitForSession } from '../helpers/harness.js';
import { computeServices, deleteSession, resetCloud, LANE, openCloud, recording, type Cloud, type Recorder } from './cloud.js';
import { wholeDetail } from '../helpers/detail.js';

const INJECTED = 'fault injected by the failure test';

describe.skipIf(!LANE)('a migration failure injected through Nova', () => {
  const cloud = LANE ? openCloud() : (null as unknown as Cloud);
  let svc: Service;
  const sessions: string[] = [];
  let rec: Recorder;
  const injected: string[] = [];
  const servers: string[] = [];

  const setService = async (host: string, enabled: boolean) => {
    const s = (await cloud.nova<{ services: { id: string; host: string }[] }>('GET', `/os-services?binary=nova-compute&host=${host}`)).body.services[0]!;
    const body = enabled ? { status: 'enabled' } : { status: 'disabled', disabled_reason: INJECTED };
    const r = await cloud.nova('PUT', `/os-services/${s.id}`, body);
    expect(r.status).toBe(200);
  };

  beforeAll(async () => {
    await resetCloud(cloud);
    const hosts = await cloud.computeHosts();
    for (const [i, h] of hosts.entries()) servers.push(await cloud.createServer({ name: `fail-${i}`, vcpus: 1, host: h }));
    rec = recording(cloud, async (instanceId) => {
      // Once a compute host is maintained, the next move off another host fails in Nova.
      if (injected.length) return;
      const maintained = rec.order.map((o) => o.host).filter((h) => hosts.includes(h));
      const src = await cloud.serverHost(instanceId);
      if (!maintained.length || !src || maintained.includes(src)) return;
      for (const h of hosts) {
        if (h === src) continue;
        const svcRow = (await computeServices(cloud)).find((x) => x.host === h)!;
        if (svcRow.status === 'enabled') {
          await setService(h, false);
          injected.push(h);
        }
      }
    });
    svc = await startTestService({ config: { driver: 'openstack' }, driver: rec.driver });
  });

  afterAll(async () => {
    for (const sid of sessions) if (svc) await deleteSession(svc.url, sid);
    await svc?.stop();
    for (const h of injected) await setService(h, true).catch(() => undefined);
    await cloud.deleteServers(servers);
  });

  it('ends MAINTENANCE_FAILED with the Nova error, hosts as found, and a PUT continue finishes it', async () => {
    const hosts = await cloud.computeHosts();
    const created = await api(svc.url, 'POST', '/v1/maintenance', { hosts: [] });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    const sid = created.body.session_id as string;
    sessions.push(sid);
    const failed = await waitForSession(svc.url, sid, (s) => s.state === 'MAINTENANCE_FAILED' || s.state === 'MAINTENANCE_DONE', 300_000);
    expect(injected.length, 'the fault was injected').toBeGreaterThan(0);
    expect(failed.state).toBe('MAINTENANCE_FAILED');

    // Nova's own message is in the detail (the failed move and the session's reason)
    const detail = await wholeDetail(svc.url, sid);
    const text = JSON.stringify(detail);
    expect(text).toMatch(/No valid host was found/);
    const failedMove = (detail.instances as { error: string | null; operations: { status: string; error: string | null }[] }[])
      .flatMap((i) => i.operations)
      .find((o) => o.status === 'failed');
    expect(failedMove?.error).toMatch(/No valid host was found/);

    // Hosts put back as found: what the engine disabled is enabled again; the injected fault stays.
    await waitFor(
      async () => {
        const svcs = await computeServices(cloud);
        return svcs.every((s) => (injected.includes(s.host) ? s.status === 'disabled' && s.disabled_reason === INJECTED : s.status === 'enabled'));
      },
      'hosts back as found',
      60_000,
    );
    const view = (detail.hosts as { name: string; disabled_by_us: boolean }[]).filter((h) => hosts.includes(h.name));
    expect(view.length).toBe(hosts.length);

    // The fix, then continue from the state it failed in.
    for (const h of injected) await setService(h, true);
    const failedIn =
      (detail.session?.failed_in as string | undefined) ?? /PUT \{"state": "([A-Z_]+)"\}/.exec(String(detail.waiting_for?.what ?? ''))?.[1] ?? 'MAINTENANCE';
    const put = await api(svc.url, 'PUT', `/v1/maintenance/${sid}`, { state: failedIn });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    // The PUT answers before the engine moves on: wait for DONE, or for a second failure.
    const failures = (d: { timeline: { kind: string; message: string }[] }) =>
      d.timeline.filter((t) => t.kind === 'state' && t.message.startsWith('MAINTENANCE_FAILED')).length;
    const done = await waitFor(
      async () => {
        const d = (await api(svc.url, 'GET', `/v1/maintenance/${sid}/detail`)).body;
        return d.session.state === 'MAINTENANCE_DONE' || failures(d) > 1 ? d.session : undefined;
      },
      `session ${sid} continued`,
      300_000,
    );
    if (done.state !== 'MAINTENANCE_DONE') console.log(JSON.stringify((await api(svc.url, 'GET', `/v1/maintenance/${sid}/detail`)).body, null, 1));
    expect(done.state).toBe('MAINTENANCE_DONE');
    for (const h of hosts) expect(rec.atMaintenance.get(h), `servers on ${h} at its maintenance`).toEqual([]);
    for (const s of await computeServices(cloud)) expect(s, `service of ${s.host}`).toMatchObject({ status: 'enabled' });
    console.log(`[lane] failure scenario: failed in ${failedIn} with "${failedMove?.error}", continued to MAINTENANCE_DONE`);
  });
});
