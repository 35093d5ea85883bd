// Caps on moves in flight (issue 10): a move over a cap waits, pending, for one to finish; the
// session still ends, and never more moves ran at once than allowed (checked on the cloud's record).
import { afterEach, describe, expect, it } from 'vitest';
import type { SimulatedDriver } from '../../src/drivers/simulated/index.js';
import type { Service } from '../../src/main/service.js';
import { api, startTestService, waitForSession } from '../helpers/harness.js';

const scenario = {
  hosts: [0, 1, 2].map((i) => ({ name: `compute-${i}`, type: 'compute', vcpus: 8 })),
  // compute-0 holds 4 instances, compute-1 2: emptying compute-0 wants 4 moves at once.
  instances: [0, 1, 2, 3, 4, 5].map((i) => ({ id: `vm-${i}`, name: `vm-${i}`, project_id: 'p1', host: `compute-${i < 4 ? 0 : 1}`, vcpus: 1 })),
  timings: { migrate_s: 0.4, live_migrate_s: 0.4, host_maintenance_s: 0.1 },
};

/** Most moves running at one moment, from the cloud's own start and finish times. */
function mostAtOnce(sim: SimulatedDriver): number {
  const moves = sim.operations().filter((o) => o.kind !== 'HOST_MAINTENANCE' && o.status === 'done');
  let most = 0;
  for (const m of moves) most = Math.max(most, moves.filter((o) => o.startedAt <= m.startedAt && o.finishAt > m.startedAt).length);
  return most;
}

describe('move caps', () => {
  let svc: Service | undefined;
  afterEach(async () => {
    await svc?.stop();
    svc = undefined;
  });

  it('runs at most perSource moves off one host at once, and the session still completes', async () => {
    svc = await startTestService({ scenario, engine: { moveLimits: { total: 3, perSource: 2 } } });
    const created = await api(svc.url, 'POST', '/v1/maintenance', { hosts: [] });
    expect(created.status).toBe(200);
    await waitForSession(svc.url, created.body.session_id, (s) => s.state === 'MAINTENANCE_DONE');
    const sim = svc.simulator as SimulatedDriver;
    expect(sim.operations().filter((o) => o.kind !== 'HOST_MAINTENANCE').length).toBeGreaterThanOrEqual(6);
    expect(mostAtOnce(sim)).toBe(2);
  });

  it('without caps, a host is emptied with every move at once', async () => {
    svc = await startTestService({ scenario });
    const created = await api(svc.url, 'POST', '/v1/maintenance', { hosts: [] });
    await waitForSession(svc.url, created.body.session_id, (s) => s.state === 'MAINTENANCE_DONE');
    expect(mostAtOnce(svc.simulator as SimulatedDriver)).toBe(4);
  });
});
