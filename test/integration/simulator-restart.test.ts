// The in-process simulated cloud lives in the service's own database (issue 9): `fenix serve`
// SIGKILLed while a move or a host maintenance is running in the simulator, then started again on
// the same database, finds the operation (no "operation not found"), its reserved capacity and its
// idempotency keys, and finishes the session. On PostgreSQL this failed 3 runs of 3 before.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startSampleVnfm } from '../../src/cli/vnfm.js';
import { RemoteSimulatorDriver } from '../../src/drivers/simulated/index.js';
import { startSimulatorServer } from '../../src/main/simulator.js';
import { api, pgAdmin, waitFor, waitForSession } from '../helpers/harness.js';
import { requirePostgres, TEST_PG_URL } from '../helpers/pg.js';
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
  // Long enough that the kill lands while the simulator's operation is still running.
  timings: { migrate_s: 1.5, live_migrate_s: 1.5, host_maintenance_s: 1.5 },
};

describe.each(['sqlite', 'postgres'] as const)('simulated cloud kept in the database (%s)', (dialect) => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => {});
    cleanup.length = 0;
  });

  it('finishes a session after SIGKILL with a simulator operation in flight', { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), `fenix-simdb-${dialect}-`));
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
    const scenarioPath = join(dir, 'scenario.json');
    writeFileSync(scenarioPath, JSON.stringify(scenario));
    let db = join(dir, 'fenix.db');
    if (dialect === 'postgres') {
      await requirePostgres();
      const name = `fenix_simdb_${process.pid}`;
      await pgAdmin(`drop database if exists ${name} with (force)`);
      await pgAdmin(`create database ${name}`);
      cleanup.push(() => pgAdmin(`drop database if exists ${name} with (force)`));
      db = TEST_PG_URL.replace(/\/[^/]*$/, `/${name}`);
    }
    const port = await freePort();
    // No --simulator-state: the database is where the simulated cloud lives.
    const args = ['--db', db, '--scenario', scenarioPath, '--reply-window', '60'];
    let fenix: FenixProcess = await startFenix(args, port);
    cleanup.push(() => fenix.kill());
    // Its replies outlast a slow restart on a loaded machine (the real client's 5 retries may not).
    const vnfm = await startSampleVnfm({ projectId: 'tenant', api: fenix.url, retryDelayMs: 1000, attempts: 60, log: () => {} });
    cleanup.push(() => vnfm.close());

    const id = (await api(fenix.url, 'POST', '/v1/maintenance', { hosts: [] })).body.session_id as string;
    // Kill once the engine has recorded a driver ref (a move or host maintenance running in the cloud).
    const inFlight = await waitFor(async () => {
      const d = (await api(fenix.url, 'GET', `/v1/maintenance/${id}/detail`)).body;
      return (d.operations ?? []).find((o: { kind: string; status: string }) => (o.kind === 'move' || o.kind === 'host_maintenance') && o.status === 'started');
    }, 'a driver operation in flight', 60_000).catch(async (e: Error) => {
      const d = (await api(fenix.url, 'GET', `/v1/maintenance/${id}/detail`)).body;
      throw new Error(`${e.message}; waiting for ${JSON.stringify(d.waiting_for)}; timeline tail ${JSON.stringify((d.timeline ?? []).slice(-5))}\n${fenix.output().slice(-2000)}`);
    });
    await fenix.kill('SIGKILL');
    fenix = await startFenix(args, port);

    const end = await waitForSession(fenix.url, id, (s) => s.state === 'MAINTENANCE_DONE' || s.state === 'MAINTENANCE_FAILED', 60_000);
    const detail = (await api(fenix.url, 'GET', `/v1/maintenance/${id}/detail`)).body;
    const failed = detail.operations.filter((o: { status: string }) => o.status === 'failed');
    expect(end.state, `killed during ${JSON.stringify(inFlight)}; failed ops ${JSON.stringify(failed)}\n${fenix.output().slice(-2000)}`).toBe('MAINTENANCE_DONE');
    expect(failed).toEqual([]);
    expect(detail.hosts.every((h: { maintained: boolean }) => h.maintained)).toBe(true);
    // One host starts empty: every instance moves at most once, and the cloud agrees.
    for (const i of detail.instances) expect(i.moves, i.instance_id).toBeLessThanOrEqual(1);
    const cloud = (await api(fenix.url, 'GET', '/v1/simulator/instances')).body.instances;
    expect(cloud).toHaveLength(scenario.instances.length);
    expect((await api(fenix.url, 'GET', '/v1/simulator/hosts')).body.hosts.every((h: { enabled: boolean }) => h.enabled)).toBe(true);
    // No state file beside a SQLite database any more.
    expect(existsSync(`${db}.simulator.json`)).toBe(false);
  });
});

describe('fenix simulator --db', () => {
  it('keeps the shared cloud in its database across a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fenix-simsvc-'));
    try {
      const db = join(dir, 'sim.db');
      const first = await startSimulatorServer({ scenario: scenario as never, db });
      const remote = new RemoteSimulatorDriver(first.url);
      const inst = await remote.createInstance({ name: 'kept', projectId: 'p9', vcpus: 1 });
      const ref = await remote.startMove(scenario.instances[0]!.id, 'MIGRATE', 'k1');
      await first.close();
      const second = await startSimulatorServer({ scenario: { ...scenario, instances: [] } as never, db });
      try {
        const again = new RemoteSimulatorDriver(second.url);
        expect((await again.listInstances({ projectId: 'p9' })).map((i) => i.id)).toEqual([inst.id]);
        expect(await again.startMove(scenario.instances[0]!.id, 'MIGRATE', 'k1')).toBe(ref);
        expect((await again.getOperation(ref)).status).toMatch(/running|done/);
      } finally {
        await second.close();
      }
      await expect(startSimulatorServer({ scenario: scenario as never, db, statePath: join(dir, 's.json') })).rejects.toThrow(/not both/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
