// SimulatedDriver.startMove with an explicit target (the vnf workflow's planned destination).
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock/manual.js';
import { SimulatedDriver, type ScenarioInput } from '../../src/drivers/simulated/index.js';

const scenario: ScenarioInput = {
  hosts: [
    { name: 'c0', type: 'compute', vcpus: 4 },
    { name: 'c1', type: 'compute', vcpus: 4 },
    { name: 'c2', type: 'compute', vcpus: 8 },
    { name: 'ctl', type: 'controller', vcpus: 0 },
  ],
  instances: [
    { id: 'i1', name: 'i1', project_id: 'p', host: 'c0', vcpus: 2 },
    { id: 'i2', name: 'i2', project_id: 'p', host: 'c0', vcpus: 2 },
    { id: 'big', name: 'big', project_id: 'p', host: 'c1', vcpus: 3 },
  ],
  timings: { migrate_s: 10, live_migrate_s: 10, host_maintenance_s: 5 },
};

describe('simulated driver: moves to a requested target', () => {
  it('lands on the target, not where the scheduler would put it', async () => {
    const clock = new ManualClock();
    const sim = new SimulatedDriver(scenario, clock);
    // The scheduler's best fit would choose c1 for a 1-vCPU instance; this one is sent to c2 as asked.
    const ref = await sim.startMove('i1', 'MIGRATE', 'k1', { target: 'c2' });
    clock.advance(10_000);
    expect(await sim.getOperation(ref)).toMatchObject({ status: 'done', host: 'c2' });
  });

  it('fails the operation when the target cannot take the instance', async () => {
    const clock = new ManualClock();
    const sim = new SimulatedDriver(scenario, clock);
    const cases: [string, RegExp][] = [
      ['c1', /1 vCPUs free, 2 needed/],
      ['c0', /already there/],
      ['ctl', /controller host/],
      ['nope', /no such host/],
    ];
    for (const [target, why] of cases) {
      const ref = await sim.startMove('i1', 'MIGRATE', `k-${target}`, { target });
      const st = await sim.getOperation(ref);
      expect(st.status, target).toBe('failed');
      expect(st.error).toMatch(why);
    }
    await sim.setHostScheduling('c2', false, 'test');
    const off = await sim.getOperation(await sim.startMove('i1', 'MIGRATE', 'k-off', { target: 'c2' }));
    expect(off.error).toMatch(/disabled/);
  });

  it('counts moves in flight into the target', async () => {
    const clock = new ManualClock();
    const sim = new SimulatedDriver({ ...scenario, hosts: scenario.hosts.map((h) => (h.name === 'c2' ? { ...h, vcpus: 3 } : h)) }, clock);
    const a = await sim.startMove('i1', 'MIGRATE', 'ka', { target: 'c2' });
    const b = await sim.startMove('i2', 'MIGRATE', 'kb', { target: 'c2' });
    expect((await sim.getOperation(a)).status).toBe('running');
    expect(await sim.getOperation(b)).toMatchObject({ status: 'failed', error: expect.stringMatching(/1 vCPUs free/) });
  });
});
