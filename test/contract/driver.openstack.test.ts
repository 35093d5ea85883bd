// The driver contract against a real Nova (the real-OpenStack lane: FENIX_OPENSTACK_LANE=1 and an
// openrc's OS_* variables, see .ci/infra/openstack-lane.sh). Skipped otherwise.
import { setTimeout as delay } from 'node:timers/promises';
import { describe, it } from 'vitest';
import type { OpStatus } from '../../src/ports/infra-driver.js';
import { OpenStackDriver } from '../../src/drivers/openstack/index.js';
import { LANE, openCloud } from '../openstack/cloud.js';
import { describeDriverContract } from './driver.contract.js';

if (!LANE) {
  describe.skip('InfraDriver contract: openstack (needs FENIX_OPENSTACK_LANE=1 and OS_*)', () => {
    it('runs in the real-OpenStack lane', () => undefined);
  });
} else {
  const cloud = openCloud();
  // The feed's content (diffs, cursors, whole answers) against real Nova: listed on every watch here.
  // Between listings the driver answers from what it saw and from Nova's events; that path has its
  // own tests (test/unit/nova-driver.test.ts, and test/openstack/driver-guards.test.ts with events).
  const driver = new OpenStackDriver(cloud.keystone, { inventoryRefreshMs: 0 });
  let n = 0;
  describeDriverContract('openstack', async () => {
    const created: string[] = [];
    const hosts = (await cloud.computeHosts()).slice(0, 3);
    const settle = async (ref: string): Promise<OpStatus> => {
      const until = Date.now() + 120_000;
      for (;;) {
        const st = await driver.getOperation(ref);
        if (st.status !== 'running') return st;
        if (Date.now() > until) throw new Error(`operation ${ref} still running after 120 s`);
        await delay(200);
      }
    };
    return {
      driver,
      settle,
      hosts,
      placeInstance: async (host, vcpus) => {
        const id = await cloud.createServer({ name: `contract-${process.pid}-${n++}`, vcpus, host });
        created.push(id);
        return id;
      },
      cleanup: async () => cloud.deleteServers(created.splice(0)),
    };
  });
}
