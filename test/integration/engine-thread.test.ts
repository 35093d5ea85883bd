// `fenix serve` with its engine in a worker thread (the default on a database file): the API and
// the engine write one SQLite file through two connections. Replies hammered at the API while the
// engine commits its steps must all be accepted (a deferred SQLite transaction whose snapshot went
// stale failed with SQLITE_BUSY: 126 of ~94,000 reply PUTs answered 500 in the scale benchmark);
// the API serves the worker's simulated cloud; SIGTERM stops both threads.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { api, waitFor, waitForSession } from '../helpers/harness.js';
import { freePort, startFenix, type FenixProcess } from '../helpers/process.js';

const HOSTS = 12;
const scenario = {
  hosts: Array.from({ length: HOSTS }, (_, i) => ({ name: `compute-${String(i).padStart(2, '0')}`, type: 'compute', vcpus: 8 })),
  instances: Array.from({ length: HOSTS * 3 }, (_, k) => ({
    id: `vm-${k}`,
    name: `vm-${k}`,
    project_id: `project-${k % 3}`,
    host: `compute-${String(Math.floor(k / 3)).padStart(2, '0')}`,
    vcpus: 1,
  })),
  timings: { migrate_s: 0.02, live_migrate_s: 0.02, host_maintenance_s: 0.15 },
};

describe('fenix serve, engine in a worker thread (SQLite file)', () => {
  let fenix: FenixProcess | undefined;
  afterEach(async () => {
    await fenix?.kill();
    fenix = undefined;
  });

  it('accepts every reply while the engine writes, serves the cloud, and stops on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fenix-thread-'));
    writeFileSync(join(dir, 'scenario.json'), JSON.stringify(scenario));
    fenix = await startFenix(['--db', join(dir, 'fenix.db'), '--scenario', join(dir, 'scenario.json'), '--log-level', 'warn'], await freePort());
    const base = fenix.url;

    // The worker's cloud, through the API (the simulator's loopback service with its secret).
    const hosts = await api(base, 'GET', '/v1/simulator/hosts');
    expect(hosts.status).toBe(200);
    expect(hosts.body.hosts).toHaveLength(HOSTS);

    const created = await api(base, 'POST', '/v1/maintenance', { hosts: scenario.hosts.map((h) => h.name) });
    expect(created.status).toBe(200);
    const id = created.body.session_id as string;
    await waitFor(async () => (await api(base, 'GET', `/v1/maintenance/${id}/project-0`)).status === 200, 'project-0 in the session');

    // 20 clients replying as fast as they can while the engine maintains host after host.
    const statuses = new Map<number, number>();
    let running = true;
    const client = async () => {
      while (running) {
        const r = await fetch(`${base}/v1/maintenance/${id}/project-0`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ state: 'ACK_MAINTENANCE', instance_actions: {} }),
        });
        await r.arrayBuffer();
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      }
    };
    const clients = Array.from({ length: 20 }, client);
    await waitForSession(base, id, (s) => s.state === 'MAINTENANCE_DONE', 60_000);
    running = false;
    await Promise.all(clients);

    const total = [...statuses.values()].reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(200);
    expect([...statuses.keys()].filter((s) => s >= 500)).toEqual([]);
    expect(fenix.output()).not.toMatch(/SQLITE_BUSY|database is locked/);

    const exited = new Promise<number | null>((r) => fenix!.child.once('exit', (code) => r(code)));
    fenix.child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 90_000);
});
