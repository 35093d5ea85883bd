// The driver contract against RemoteSimulatorDriver talking HTTP to a simulator service
// (startSimulatorServer) on the system clock, with short scenario timings.
import { afterEach } from 'vitest';
import { RemoteSimulatorDriver } from '../../src/drivers/simulated/index.js';
import { startSimulatorServer, type SimulatorServer } from '../../src/main/simulator.js';
import type { OpStatus } from '../../src/ports/infra-driver.js';
import { describeDriverContract } from './driver.contract.js';

const servers: SimulatorServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

describeDriverContract('simulated over HTTP', async () => {
  const hosts = ['compute-0', 'compute-1', 'compute-2'];
  const server = await startSimulatorServer({
    scenario: {
      hosts: [
        { name: 'controller-0', type: 'controller', vcpus: 0 },
        ...hosts.map((name) => ({ name, type: 'compute' as const, vcpus: 8 })),
      ],
      instances: [],
      timings: { migrate_s: 0.05, live_migrate_s: 0.05, host_maintenance_s: 0.05 },
    },
  });
  servers.push(server);
  const driver = new RemoteSimulatorDriver(server.url, { timeoutMs: 5_000 });
  let n = 0;
  const settle = async (ref: string): Promise<OpStatus> => {
    const until = Date.now() + 10_000;
    for (;;) {
      const st = await driver.getOperation(ref);
      if (st.status !== 'running') return st;
      if (Date.now() > until) throw new Error(`operation ${ref} still running`);
      await new Promise((r) => setTimeout(r, Math.min(100, Math.max(5, (st.expectedAt ?? 0) - Date.now()))));
    }
  };
  return {
    driver,
    settle,
    hosts,
    placeInstance: async (host, vcpus) =>
      (await driver.createInstance({ name: `contract-${n++}`, projectId: n % 2 ? 'p-odd' : 'p-even', vcpus, host })).id,
    cleanup: async () => {},
    deleteInstance: async (id) => {
      await driver.deleteInstance(id);
    },
  };
});
