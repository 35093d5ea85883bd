// The engine's observed world over a driver with a change feed (the simulated driver): it never
// lists the cloud, tells which instances and hosts changed, and stays equal to what the listings show.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock/manual.js';
import { SimulatedDriver, type ScenarioInput } from '../../src/drivers/simulated/index.js';
import { World } from '../../src/engine/world.js';
import type { InfraDriver } from '../../src/ports/infra-driver.js';

const scenario: ScenarioInput = {
  hosts: ['compute-0', 'compute-1', 'compute-2'].map((name) => ({ name, type: 'compute' as const, vcpus: 8 })),
  instances: [
    { id: 'i-1', name: 'a', project_id: 'p1', host: 'compute-0', vcpus: 2 },
    { id: 'i-2', name: 'b', project_id: 'p2', host: 'compute-0', vcpus: 2 },
    { id: 'i-3', name: 'c', project_id: 'p1', host: 'compute-1', vcpus: 3 },
  ],
  timings: { migrate_s: 10, live_migrate_s: 10, host_maintenance_s: 10 },
};

/** The driver as the engine sees it, counting whole listings. */
function counted(d: SimulatedDriver): { driver: InfraDriver; lists: () => number } {
  let lists = 0;
  const driver: InfraDriver = {
    name: d.name,
    listHosts: () => (lists++, d.listHosts()),
    listInstances: (f) => (lists++, d.listInstances(f)),
    watch: (c) => d.watch(c),
    setHostScheduling: (h, e, r) => d.setHostScheduling(h, e, r),
    startMove: (i, k, key, o) => d.startMove(i, k, key, o),
    startHostMaintenance: (h, k) => d.startHostMaintenance(h, k),
    getOperation: (r) => d.getOperation(r),
  };
  return { driver, lists: () => lists };
}

describe('World over a change feed', () => {
  it('looks at everything once, then only at what changed, and never lists', async () => {
    const clock = new ManualClock(0);
    const sim = new SimulatedDriver(scenario, clock);
    const { driver, lists } = counted(sim);
    const world = new World(driver);
    const none = { instances: new Set(), hosts: new Set() };
    expect(await world.refresh()).toBe('all');
    expect(await world.refresh()).toEqual(none);

    await sim.startMove('i-1', 'MIGRATE', 'k1');
    expect(await world.refresh()).toEqual(none); // in flight: nothing visible changed yet
    clock.advance(10_000);
    const created = sim.createInstance({ name: 'x', projectId: 'p3', vcpus: 1 });
    sim.deleteInstance('i-2');
    const landed = sim.snapshot().instances.find((i) => i.id === 'i-1')!.host;
    // The hosts whose instances changed: where i-1 and i-2 were, and where i-1 and the new one are.
    expect(await world.refresh()).toEqual({ instances: new Set(['i-1', 'i-2', created.id]), hosts: new Set(['compute-0', landed, created.host]) });

    const view = world.view(undefined);
    expect(view.hosts).toEqual(await sim.listHosts());
    expect(view.instances).toEqual(await sim.listInstances());
    expect(view.index?.instance('i-2')).toBeUndefined();
    expect(view.index?.instance('i-1')?.host).toBe(sim.snapshot().instances.find((i) => i.id === 'i-1')?.host);
    expect(lists()).toBe(0);
  });

  it('looks one after another: concurrent refreshes each see their changes, in order', async () => {
    const clock = new ManualClock(0);
    const sim = new SimulatedDriver({ ...scenario, timings: { migrate_s: 0, live_migrate_s: 0, host_maintenance_s: 0 } }, clock);
    const world = new World(counted(sim).driver);
    await world.refresh();
    await sim.startMove('i-1', 'MIGRATE', 'k1');
    const [a, b] = await Promise.all([world.refresh(), world.refresh()]);
    expect(a).toEqual({ instances: new Set(['i-1']), hosts: new Set(['compute-0', (await sim.getInstance('i-1'))!.host]) });
    expect(b).toEqual({ instances: new Set(), hosts: new Set() });
    expect(world.view(undefined).instances).toEqual(await sim.listInstances());
  });

  it('takes the whole world again from a restarted driver (its cursor is unknown there)', async () => {
    const clock = new ManualClock(0);
    let sim = new SimulatedDriver(scenario, clock);
    const driver: InfraDriver = { ...counted(sim).driver, watch: (c) => sim.watch(c) };
    const world = new World(driver);
    await world.refresh();
    sim = new SimulatedDriver({ ...scenario, instances: scenario.instances.slice(1) }, clock);
    expect(await world.refresh()).toBe('all');
    expect(world.view(undefined).instances.map((i) => i.id)).toEqual(['i-2', 'i-3']);
  });
});
