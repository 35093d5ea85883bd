// Scheduling changes of distinct hosts decided together start together (at most startConcurrency
// driver calls at once): the default workflow's first round disables every compute host, which one
// call at a time costs a thousand round trips to Nova on a thousand-host cloud before the first move.
// Nothing that must wait for them starts early: the first host goes down once every host is disabled.
import { afterEach, describe, expect, it } from 'vitest';
import { SystemClock } from '../../src/clock/system.js';
import { SimulatedDriver } from '../../src/drivers/simulated/index.js';
import { parseScenario } from '../../src/drivers/simulated/scenario.js';
import type { Service } from '../../src/main/service.js';
import { api, startTestService, waitForSession } from '../helpers/harness.js';

/** The simulated cloud, each scheduling change taking 50 ms; records what ran at once. */
class SlowSchedulingDriver extends SimulatedDriver {
  inFlight = 0;
  most = 0;
  readonly calls: string[] = [];
  override async setHostScheduling(...args: Parameters<SimulatedDriver['setHostScheduling']>): Promise<void> {
    this.most = Math.max(this.most, ++this.inFlight);
    try {
      await new Promise((r) => setTimeout(r, 50));
      await super.setHostScheduling(...args);
      this.calls.push(`${args[1] ? 'enable' : 'disable'} ${args[0]}`);
    } finally {
      this.inFlight--;
    }
  }
  override async startHostMaintenance(...args: Parameters<SimulatedDriver['startHostMaintenance']>): Promise<string> {
    this.calls.push(`maintain ${args[0]}`);
    return super.startHostMaintenance(...args);
  }
}

let svc: Service | undefined;
afterEach(async () => {
  await svc?.stop();
  svc = undefined;
});

describe('engine: scheduling changes', () => {
  it('of distinct hosts start together, at most startConcurrency at once, all done before what they guard', async () => {
    const hosts = Array.from({ length: 12 }, (_, i) => `compute-${String(i).padStart(2, '0')}`);
    const scenario = parseScenario({
      hosts: hosts.map((name) => ({ name, type: 'compute', vcpus: 8 })),
      instances: hosts.map((h, i) => ({ id: `vm-${i}`, name: `vm-${i}`, project_id: 'p1', host: h, vcpus: 1 })),
      timings: { migrate_s: 0, live_migrate_s: 0, host_maintenance_s: 0 },
    });
    const driver = new SlowSchedulingDriver(scenario, new SystemClock());
    svc = await startTestService({ driver, engine: { startConcurrency: 4 } });
    const created = await api(svc.url, 'POST', '/v1/maintenance', { hosts, workflow: 'default' });
    expect(created.status).toBe(200);
    const done = await waitForSession(svc.url, created.body.session_id, (s) => s.state === 'MAINTENANCE_DONE' || s.state === 'MAINTENANCE_FAILED', 30_000);
    expect(done.state).toBe('MAINTENANCE_DONE');
    expect(driver.most).toBe(4);
    // The first START_MAINTENANCE disables every compute host, and only then is a host taken down.
    const firstMaintained = driver.calls.findIndex((l) => l.startsWith('maintain'));
    expect(driver.calls.slice(0, firstMaintained).filter((l) => l.startsWith('disable')).sort()).toEqual(hosts.map((h) => `disable ${h}`));
    // Every host is enabled again at the end, as it was found.
    expect(driver.calls.filter((l) => l.startsWith('enable')).sort()).toEqual(hosts.map((h) => `enable ${h}`));
    for (const h of hosts) expect((await driver.listHosts()).find((x) => x.name === h)?.enabled).toBe(true);
  });
});
