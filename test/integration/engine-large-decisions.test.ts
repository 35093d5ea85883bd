// The engine holds decisions without intents to write them with the next one (one transaction per
// intent batch), but not a large one: a big session's first inventory is written on its own, so its
// rows and statements are not in memory together with the next decision's (its round of asks, as
// many again): issue 9, peak memory at 10,000 hosts.
import { afterEach, describe, expect, it } from 'vitest';
import type { Decision } from '../../src/domain/decision.js';
import type { Service } from '../../src/main/service.js';
import { openStore } from '../../src/store/index.js';
import { api, startTestService, waitForSession } from '../helpers/harness.js';

let svc: Service | undefined;
afterEach(async () => {
  await svc?.stop();
  svc = undefined;
});

/** An in-memory store that records every decision the engine commits. */
async function recordingStore() {
  const store = await openStore(':memory:');
  const commits: Decision[] = [];
  const commit = store.commitDecision.bind(store);
  store.commitDecision = (...args: Parameters<typeof commit>) => {
    commits.push(args[2]);
    return commit(...args);
  };
  return { store, commits };
}

const cloud = (instances: number) => ({
  hosts: ['compute-0', 'compute-1', 'compute-2'].map((name) => ({ name, type: 'compute', vcpus: instances })),
  instances: Array.from({ length: instances }, (_, k) => ({ id: `vm-${k}`, name: `vm-${k}`, project_id: `p${k % 3}`, host: `compute-${k % 2}`, vcpus: 1 })),
  timings: { migrate_s: 0, live_migrate_s: 0, host_maintenance_s: 0 },
});

/** Commits that create instance records (the inventory's patches name project and host). */
const inventories = (commits: Decision[]) => commits.filter((d) => d.instances?.some((i) => i.projectId !== undefined && i.host !== undefined));

describe('engine: deferred decisions', () => {
  it('writes a first inventory of more than 5,000 rows in its own commit, and merges small steps as before', { timeout: 60_000 }, async () => {
    const big = await recordingStore();
    svc = await startTestService({ scenario: cloud(6_000), store: big.store });
    const hosts = ['compute-0', 'compute-1', 'compute-2'];
    let created = await api(svc.url, 'POST', '/v1/maintenance', { hosts, workflow: 'vnf' });
    expect(created.status).toBe(200);
    let done = await waitForSession(svc.url, created.body.session_id as string, (s) => s.state === 'MAINTENANCE_DONE' || s.state === 'MAINTENANCE_FAILED', 50_000);
    expect(done.state).toBe('MAINTENANCE_DONE');
    const [inventory, ...others] = inventories(big.commits);
    expect(others).toEqual([]);
    // The inventory alone: every instance created, nothing of a later step merged into it.
    expect(inventory!.instances).toHaveLength(6_000);
    expect(inventory!.instances!.every((i) => i.askKey === undefined && i.action === undefined)).toBe(true);
    expect(inventory!.ops ?? []).toEqual([]);
    await svc.stop();

    // A small session: its inventory still goes with the next step's write.
    const small = await recordingStore();
    svc = await startTestService({ scenario: cloud(30), store: small.store });
    created = await api(svc.url, 'POST', '/v1/maintenance', { hosts, workflow: 'vnf' });
    done = await waitForSession(svc.url, created.body.session_id as string, (s) => s.state === 'MAINTENANCE_DONE' || s.state === 'MAINTENANCE_FAILED', 50_000);
    expect(done.state).toBe('MAINTENANCE_DONE');
    const [merged] = inventories(small.commits);
    expect(merged!.instances!.filter((i) => i.projectId !== undefined)).toHaveLength(30);
    expect(merged!.instances!.filter((i) => i.askKey !== undefined).length).toBeGreaterThan(0);
  });
});
