// A driver that learns of progress by events (Nova's notifications, issue 10) tells the engine, and
// the engine polls that operation at once instead of at the time the driver expected it to end.
import { afterEach, describe, expect, it } from 'vitest';
import { SystemClock } from '../../src/clock/system.js';
import { SimulatedDriver } from '../../src/drivers/simulated/index.js';
import { parseScenario } from '../../src/drivers/simulated/scenario.js';
import type { OpStatus } from '../../src/ports/infra-driver.js';
import type { Service } from '../../src/main/service.js';
import { api, startTestService, waitFor, waitForSession } from '../helpers/harness.js';

/** The simulated cloud, but a move looks "running, done in a minute" until its event comes. */
class EventfulDriver extends SimulatedDriver {
  readonly held = new Set<string>();
  private released = false;
  private readonly listeners = new Set<(refs: string[]) => void>();

  override async getOperation(ref: string): Promise<OpStatus> {
    const st = await super.getOperation(ref);
    if (!this.released && this.moveRefs.has(ref) && st.status !== 'failed') {
      this.held.add(ref);
      return { status: 'running', expectedAt: Date.now() + 60_000 };
    }
    return st;
  }

  private readonly moveRefs = new Set<string>();
  override async startMove(...args: Parameters<SimulatedDriver['startMove']>): Promise<string> {
    const ref = await super.startMove(...args);
    this.moveRefs.add(ref);
    return ref;
  }

  onOperationProgress(listener: (refs: string[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The event: every held move has ended. */
  release(): void {
    this.released = true;
    for (const l of this.listeners) l([...this.held]);
  }
}

let svc: Service | undefined;
afterEach(async () => {
  await svc?.stop();
  svc = undefined;
});

describe('engine: operations a driver says have moved on', () => {
  it('are polled at once, not at the time the driver expected (the engine would wait 30 s here)', { timeout: 30_000 }, async () => {
    const scenario = parseScenario({
      hosts: [
        { name: 'compute-0', type: 'compute', vcpus: 8 },
        { name: 'compute-1', type: 'compute', vcpus: 8 },
      ],
      instances: [{ id: 'vm-1', name: 'vm-1', project_id: 'p1', host: 'compute-0', vcpus: 1 }],
      timings: { migrate_s: 0, live_migrate_s: 0, host_maintenance_s: 0 },
    });
    const driver = new EventfulDriver(scenario, new SystemClock());
    svc = await startTestService({ driver, engine: { pollMs: 30_000 } });
    const created = await api(svc.url, 'POST', '/v1/maintenance', { hosts: ['compute-0'], workflow: 'default' });
    expect(created.status).toBe(200);
    const id = created.body.session_id as string;
    // The move was started and polled once: running, expected in a minute; the next poll is 30 s away.
    await waitFor(() => driver.held.size > 0, 'the move polled once');
    expect((await api(svc.url, 'GET', `/v1/maintenance/${id}`)).body.state).not.toBe('MAINTENANCE_DONE');
    driver.release();
    // Well before the 30 s poll: the event moved it on.
    const done = await waitForSession(svc.url, id, (s) => s.state === 'MAINTENANCE_DONE' || s.state === 'MAINTENANCE_FAILED', 15_000);
    expect(done.state).toBe('MAINTENANCE_DONE');
  });
});
