// The driver contract against the simulated driver, driven by a ManualClock.
import { ManualClock } from '../../src/clock/manual.js';
import { SimulatedDriver } from '../../src/drivers/simulated/index.js';
import type { OpStatus } from '../../src/ports/infra-driver.js';
import { describeDriverContract } from './driver.contract.js';

describeDriverContract('simulated', async () => {
  const clock = new ManualClock();
  const hosts = ['compute-0', 'compute-1', 'compute-2'];
  const driver = new SimulatedDriver(
    {
      hosts: [
        { name: 'controller-0', type: 'controller', vcpus: 0 },
        ...hosts.map((name) => ({ name, type: 'compute' as const, vcpus: 8 })),
      ],
      instances: [],
      timings: { migrate_s: 2, live_migrate_s: 2, host_maintenance_s: 3 },
    },
    clock,
  );
  let n = 0;
  const settle = async (ref: string): Promise<OpStatus> => {
    for (;;) {
      const st = await driver.getOperation(ref);
      if (st.status !== 'running') return st;
      clock.set(Math.max(st.expectedAt ?? 0, clock.now() + 1));
    }
  };
  return {
    driver,
    settle,
    hosts,
    placeInstance: async (host, vcpus) =>
      driver.createInstance({ name: `contract-${n++}`, projectId: n % 2 ? 'p-odd' : 'p-even', vcpus, host }).id,
    cleanup: async () => {},
    deleteInstance: async (id) => {
      driver.deleteInstance(id);
    },
  };
});
