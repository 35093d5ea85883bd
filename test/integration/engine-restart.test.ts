// A server killed (SIGKILL) in the middle of a session and started again on the same database
// finishes the session: nothing lost, no host event sent twice, no instance moved twice by mistake.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startSampleVnfm, type SampleVnfm } from '../../src/cli/vnfm.js';
import { api, aodhTraits, startReceiver, waitFor, waitForSession } from '../helpers/harness.js';
import { freePort, startFenix, type FenixProcess } from '../helpers/process.js';

const scenario = {
  hosts: [0, 1, 2, 3].map((i) => ({ name: `compute-${i}`, type: 'compute', vcpus: 4 })),
  instances: [0, 1, 2, 3, 4, 5].map((i) => ({
    id: `00000000-0000-4000-8000-00000000000${i}`,
    name: `app-${i}`,
    project_id: 'tenant',
    host: `compute-${i % 3}`,
    vcpus: 1,
  })),
  timings: { migrate_s: 0.3, live_migrate_s: 0.3, host_maintenance_s: 0.5 },
};

describe('engine restart', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => {});
    cleanup.length = 0;
  });

  it('continues a session after SIGKILL and sends each host event once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fenix-restart-'));
    const scenarioPath = join(dir, 'scenario.json');
    writeFileSync(scenarioPath, JSON.stringify(scenario));
    const port = await freePort();
    const args = ['--db', join(dir, 'fenix.db'), '--scenario', scenarioPath];
    let fenix: FenixProcess = await startFenix(args, port);
    cleanup.push(() => fenix.kill());

    const inspector = await startReceiver();
    cleanup.push(() => inspector.close());
    expect((await api(fenix.url, 'POST', '/v1/subscriptions', { url: inspector.url, event_types: ['maintenance.host', 'maintenance.session'] })).status).toBe(201);
    const vnfm: SampleVnfm = await startSampleVnfm({ projectId: 'tenant', api: fenix.url, log: () => {} });
    cleanup.push(() => vnfm.close());

    const created = await api(fenix.url, 'POST', '/v1/maintenance', { hosts: [] });
    expect(created.status).toBe(200);
    const id = created.body.session_id as string;

    // Kill it hard once the first host is in maintenance (mid-work, with intents in flight).
    const hostEvents = () => inspector.received.filter((r) => r.body.reason_data.event.event_type === 'maintenance.host');
    await waitFor(() => hostEvents().length >= 1, 'first host event');
    await fenix.kill('SIGKILL');
    fenix = await startFenix(args, port);

    const done = await waitForSession(fenix.url, id, (s) => s.state === 'MAINTENANCE_DONE' || s.state === 'MAINTENANCE_FAILED', 60_000);
    expect(done.state, fenix.output()).toBe('MAINTENANCE_DONE');

    // Every host went into maintenance exactly once (dedupe by message_id: at-least-once delivery).
    await waitFor(() => hostEvents().filter((r) => aodhTraits(r.body).state === 'MAINTENANCE_COMPLETE').length >= 4, 'host events');
    const unique = new Map(hostEvents().map((r) => [r.body.reason_data.event.message_id, aodhTraits(r.body)]));
    const starts = [...unique.values()].filter((t) => t.state === 'IN_MAINTENANCE').map((t) => t.host).sort();
    expect(starts).toEqual(['compute-0', 'compute-1', 'compute-2', 'compute-3']);

    const detail = await api(fenix.url, 'GET', `/v1/maintenance/${id}/detail`);
    expect(detail.body.hosts.every((h: { maintained: boolean }) => h.maintained)).toBe(true);
    // One host starts empty: every instance moves at most once (onto maintained hosts only).
    for (const i of detail.body.instances) expect(i.moves, i.instance_id).toBeLessThanOrEqual(1);
    // Nothing stuck in the outbox.
    await waitFor(async () => {
      const d = await api(fenix.url, 'GET', `/v1/maintenance/${id}/detail`);
      return d.body.deliveries.every((x: { status: string }) => x.status === 'delivered');
    }, 'outbox drained');
    const hosts = await api(fenix.url, 'GET', '/v1/simulator/hosts');
    expect(hosts.body.hosts.every((h: { enabled: boolean }) => h.enabled)).toBe(true);
    expect((await api(fenix.url, 'DELETE', `/v1/maintenance/${id}`)).status).toBe(200);
  });
});
