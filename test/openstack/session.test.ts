// A full `default` session over a real Nova (the real-OpenStack lane): three fake compute hosts,
// the sample application manager (Doctor "sample" VNFM) of the `demo` project replying and scaling
// in and out through Nova, the engine with --driver openstack. Checks: MAINTENANCE_DONE, every
// server off each host when its maintenance starts (checked against Nova at that moment), every
// nova-compute enabled again, the project scaled back out. Prints the timings of the run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSampleVnfm, type SampleVnfm } from '../../src/cli/vnfm.js';
import type { Service } from '../../src/main/service.js';
import { api, startTestService, waitFor, waitForSession } from '../helpers/harness.js';
import { computeServices, deleteSession, resetCloud, demoScaler, LANE, openCloud, recording, type Cloud, type Recorder } from './cloud.js';
import { wholeDetail } from '../helpers/detail.js';

describe.skipIf(!LANE)('a default session over real Nova', () => {
  const cloud = LANE ? openCloud() : (null as unknown as Cloud);
  const scaler = LANE ? demoScaler() : (null as unknown as ReturnType<typeof demoScaler>);
  let svc: Service;
  const sessions: string[] = [];
  let vnfm: SampleVnfm;
  let rec: Recorder;
  const lines: string[] = [];

  beforeAll(async () => {
    // A clean cloud: no servers of an earlier run, every compute enabled.
    await resetCloud(cloud);
    rec = recording(cloud);
    svc = await startTestService({ config: { driver: 'openstack' }, driver: rec.driver });
  });

  afterAll(async () => {
    for (const sid of sessions) if (svc) await deleteSession(svc.url, sid);
    await vnfm?.close();
    await svc?.stop();
    if (process.env.FENIX_LANE_KEEP !== '1') {
      const left = (await cloud.nova<{ servers: { id: string }[] }>('GET', '/servers/detail?all_tenants=1')).body.servers.map((s) => s.id);
      await cloud.deleteServers(left);
    }
  });

  it('ends MAINTENANCE_DONE with every server moved off each host before its maintenance and every nova-compute enabled', async () => {
    const hosts = await cloud.computeHosts();
    expect(hosts.length).toBeGreaterThanOrEqual(3);
    const cap = (await cloud.driver.listHosts()).filter((h) => h.type === 'compute');
    const perHost = Math.min(...cap.map((h) => h.vcpus));
    // Two 4-vCPU servers per host (8 of 10 vCPUs): no host is empty and no host's servers fit
    // elsewhere, so the engine first asks the application manager to scale in.
    const n = perHost >= 8 && perHost < 12 ? 2 * hosts.length : hosts.length;
    const t0 = Date.now();
    for (let i = 0; i < n; i++) await scaler.create({ name: `app_${i}`, vcpus: 4 });
    const layout = await cloud.driver.listInstances();
    console.log(`[lane] ${n} servers in ${Date.now() - t0} ms: ${hosts.map((h) => `${h}=${layout.filter((i) => i.host === h).length}`).join(' ')}`);

    const projectId = await scaler.projectId();
    vnfm = await startSampleVnfm({ projectId, api: svc.url, scaler, scaleIn: 2, retryDelayMs: 200, log: (l) => lines.push(`${new Date().toISOString()} ${l}`) });

    const start = Date.now();
    const created = await api(svc.url, 'POST', '/v1/maintenance', { hosts: [], metadata: { openstack_version: 'Zed' } });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    const sid = created.body.session_id as string;
    sessions.push(sid);
    const end = await waitForSession(svc.url, sid, (s) => s.state === 'MAINTENANCE_DONE' || s.state === 'MAINTENANCE_FAILED', 600_000);
    const took = Date.now() - start;
    const detail = await wholeDetail(svc.url, sid);
    if (end.state !== 'MAINTENANCE_DONE') console.log(JSON.stringify(detail, null, 1), lines.join('\n'));
    if (process.env.FENIX_LANE_VERBOSE === '1')
      console.log((detail.timeline as { at: string; message: string }[]).map((t) => `${t.at.slice(11, 23)} ${t.message}`).join('\n'), '\n' + lines.join('\n'));
    expect(end.state).toBe('MAINTENANCE_DONE');

    // every compute host was maintained, and was empty (per Nova) when its maintenance started
    for (const h of hosts) expect(rec.atMaintenance.get(h), `servers on ${h} at its maintenance`).toEqual([]);
    // every nova-compute enabled again, no reason left behind
    for (const s of await computeServices(cloud)) expect(s, `service of ${s.host}`).toMatchObject({ status: 'enabled' });
    // the application manager scaled in (through Nova) and back out
    const states = vnfm.received.map((e) => e.state);
    expect(states).toContain('MAINTENANCE');
    expect(states).toContain('MAINTENANCE_COMPLETE');
    await vnfm.idle();
    expect(vnfm.replies.every((r) => r.ok)).toBe(true);
    expect(vnfm.scaledIn).toEqual([]);
    await waitFor(async () => (await scaler.list()).length === n, `${n} servers after scale-out`, 60_000);

    const moves = (detail.instances as { moves: number }[]).map((i) => i.moves);
    const maintained = rec.order.map((o, i) => `${o.host} +${((o.at - (i ? rec.order[i - 1]!.at : start)) / 1000).toFixed(1)}s`);
    console.log(
      `[lane] session ${sid}: ${end.state} in ${(took / 1000).toFixed(1)} s over ${hosts.length} compute hosts ` +
        `(${(took / 1000 / hosts.length).toFixed(1)} s per host); states ${[...new Set(states)].join(' ')}; ` +
        `moves per instance ${JSON.stringify(moves)}; maintenance order ${maintained.join(', ')}`,
    );
  });
});
