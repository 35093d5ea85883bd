// Split processes on one PostgreSQL: an API replica and two engines share one simulated cloud.
// Killing the engine that owns the session (SIGKILL) hands it to the other engine through the
// lease; the session finishes with each host maintained once.
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { startSampleVnfm } from '../../src/cli/vnfm.js';
import { startSimulatorServer } from '../../src/main/simulator.js';
import { api, aodhTraits, startReceiver, waitFor, waitForSession } from '../helpers/harness.js';
import { requirePostgres, TEST_PG_URL } from '../helpers/pg.js';
import { freePort, startFenix, type FenixProcess } from '../helpers/process.js';

const scenario = {
  hosts: [0, 1, 2, 3].map((i) => ({ name: `compute-${i}`, type: 'compute' as const, vcpus: 4 })),
  instances: [0, 1, 2, 3, 4, 5].map((i) => ({ id: `vm-${i}`, name: `vm-${i}`, project_id: 'tenant', host: `compute-${i % 3}`, vcpus: 1 })),
  timings: { migrate_s: 0.3, live_migrate_s: 0.3, host_maintenance_s: 1 },
};

async function sql<T = unknown>(url: string, text: string): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(text)).rows as T[];
  } finally {
    await c.end();
  }
}

describe('fenix api + two fenix engine processes on PostgreSQL', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => {});
  });

  it('a second engine takes over a session when the first is killed', { timeout: 120_000 }, async () => {
    await requirePostgres();
    const name = `fenix_split_${process.pid}`;
    await sql(TEST_PG_URL, `drop database if exists ${name}`);
    await sql(TEST_PG_URL, `create database ${name}`);
    const db = TEST_PG_URL.replace(/\/[^/]*$/, `/${name}`);
    cleanup.push(() => sql(TEST_PG_URL, `drop database if exists ${name} with (force)`));

    const sim = await startSimulatorServer({ scenario });
    cleanup.push(() => sim.close());
    const apiPort = await freePort();
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    const common = ['--db', db, '--simulator-url', sim.url, '--lease-ttl', '3'];
    const apiProc = await startFenix(common, apiPort, {}, 'api');
    cleanup.push(() => apiProc.kill());
    const engines: FenixProcess[] = [];
    for (let i = 0; i < 2; i++) {
      const e = await startFenix([...common, '--public-url', apiUrl], await freePort(), {}, 'engine');
      engines.push(e);
      cleanup.push(() => e.kill());
    }

    const inspector = await startReceiver();
    cleanup.push(() => inspector.close());
    await api(apiUrl, 'POST', '/v1/subscriptions', { url: inspector.url, event_types: ['maintenance.host'] });
    const vnfm = await startSampleVnfm({ projectId: 'tenant', api: apiUrl, log: () => {} });
    cleanup.push(() => vnfm.close());

    const id = (await api(apiUrl, 'POST', '/v1/maintenance', {})).body.session_id as string;
    await waitFor(() => inspector.received.length >= 1, 'first host in maintenance');
    const owner = (await sql<{ lease_owner: string }>(db, `select lease_owner from sessions where id = '${id}'`))[0]!.lease_owner;
    const victim = engines.find((e) => owner.includes(`:${e.child.pid}:`))!;
    expect(victim, `owner ${owner}`).toBeTruthy();
    const killedAt = Date.now();
    await victim.kill('SIGKILL');
    await waitFor(async () => {
      const [r] = await sql<{ lease_owner: string }>(db, `select lease_owner from sessions where id = '${id}'`);
      return r!.lease_owner !== owner;
    }, 'takeover', 30_000);
    const takeoverMs = Date.now() - killedAt;

    const s = await waitForSession(apiUrl, id, (x) => x.state === 'MAINTENANCE_DONE' || x.state === 'MAINTENANCE_FAILED', 60_000).catch(async (e) => {
      const d = (await api(apiUrl, 'GET', `/v1/maintenance/${id}/detail`)).body;
      throw new Error(`${e.message}: waiting for ${JSON.stringify(d.waiting_for)}; timeline ${JSON.stringify(d.timeline.slice(-8))}; ops ${JSON.stringify(d.operations.filter((o: { status: string }) => o.status !== 'done'))}\n${engines.map((x) => x.output().slice(-3000)).join('\n---\n')}`);
    });
    expect(s.state).toBe('MAINTENANCE_DONE');
    expect(takeoverMs).toBeLessThan(15_000);
    await waitFor(() => inspector.received.filter((r) => aodhTraits(r.body).state === 'MAINTENANCE_COMPLETE').length >= 4, 'host events');
    const unique = new Map(inspector.received.map((r) => [r.body.reason_data.event.message_id, aodhTraits(r.body)]));
    const starts = [...unique.values()].filter((t) => t.state === 'IN_MAINTENANCE').map((t) => t.host).sort();
    expect(starts).toEqual(['compute-0', 'compute-1', 'compute-2', 'compute-3']);
    expect((await api(apiUrl, 'GET', '/v1/simulator/hosts')).body.hosts.every((h: { enabled: boolean }) => h.enabled)).toBe(true);
  });
});
