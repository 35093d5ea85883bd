// The simulated cloud's saved state, against a real database: the row store itself
// (SimulatorStateStore) and the simulated driver over it surviving a "crash" (the driver object
// dropped without close(), a new one opened over the same database), so that what a driver call
// returned (a move's ref, an idempotency key, reserved capacity) is still true afterwards. The same
// suite runs against a SQLite file and a PostgreSQL schema.
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock/manual.js';
import { FenixError } from '../../src/domain/errors.js';
import { SimulatedDriver, type ScenarioInput } from '../../src/drivers/simulated/index.js';
import { emptySimulatorRows, SIMULATOR_TABLES, type SimulatorRows, type SimulatorStateStore, type SimulatorTable } from '../../src/ports/simulator-state.js';

export interface SimulatorStateEnv {
  /** A store over the test's database; each call opens a new connection to the same one. */
  open(): Promise<SimulatorStateStore>;
  /** Close every connection opened; drop the database unless the test failed. */
  cleanup(failed: boolean): Promise<void>;
}

const T0 = Date.UTC(2026, 0, 1, 9, 0, 0);

/** compute-0 (4 vCPUs) full with i-1 (4); compute-1 (4) and compute-2 (2) empty. */
const scenario: ScenarioInput = {
  hosts: [
    { name: 'compute-0', type: 'compute', vcpus: 4 },
    { name: 'compute-1', type: 'compute', vcpus: 4 },
    { name: 'compute-2', type: 'compute', vcpus: 2 },
  ],
  instances: [{ id: 'i-1', name: 'big', project_id: 'p1', host: 'compute-0', vcpus: 4 }],
  timings: { migrate_s: 60, live_migrate_s: 60, host_maintenance_s: 30 },
};

/** A different cloud: a driver that loads the saved one must ignore it. */
const other: ScenarioInput = { hosts: [{ name: 'elsewhere', type: 'compute', vcpus: 1 }], instances: [], timings: { migrate_s: 1, live_migrate_s: 1, host_maintenance_s: 1 } };

/** Counts the rows each apply() writes (the cost of one change). */
class Counting implements SimulatorStateStore {
  batches: number[] = [];
  constructor(private readonly inner: SimulatorStateStore) {}
  load() {
    return this.inner.load();
  }
  get(t: SimulatorTable, k: string) {
    return this.inner.get(t, k);
  }
  apply(c: SimulatorRows) {
    this.batches.push(SIMULATOR_TABLES.reduce((n, t) => n + c[t].size, 0));
    return this.inner.apply(c);
  }
}

const rows = (fill: Partial<Record<keyof SimulatorRows, [string, unknown][]>>): SimulatorRows => {
  const r = emptySimulatorRows();
  for (const [t, entries] of Object.entries(fill)) for (const [k, v] of entries!) r[t as keyof SimulatorRows].set(k, v);
  return r;
};

export function describeSimulatorStateContract(name: string, makeEnv: () => SimulatorStateEnv): void {
  describe(`simulator state: ${name}`, () => {
    let env: SimulatorStateEnv;
    let failed = false;
    const start = () => {
      env = makeEnv();
      return env;
    };
    afterEach(async (ctx) => {
      failed = ctx.task.result?.state === 'fail';
      await env?.cleanup(failed);
    });

    it('is empty at first, then keeps upserts and deletes, JSON as given', async () => {
      const s = await start().open();
      const empty = await s.load();
      for (const t of SIMULATOR_TABLES) expect(empty[t].size, t).toBe(0);

      await s.apply(rows({ hosts: [['h1', { name: 'h1', vcpus: 2, disabledReason: 'ünïcode ✓' }], ['h2', { name: 'h2' }]], keys: [['s:k', 'sim-move-000001']], meta: [['version', 1]] }));
      await s.apply(rows({ hosts: [['h1', { name: 'h1', vcpus: 3 }], ['h2', null]], ops: [['sim-move-000001', { ref: 'sim-move-000001', status: 'running', finishAt: T0 }]] }));
      const got = await (await env.open()).load(); // another connection sees it committed
      expect([...got.hosts]).toEqual([['h1', { name: 'h1', vcpus: 3 }]]);
      expect(got.keys.get('s:k')).toBe('sim-move-000001');
      expect(got.ops.get('sim-move-000001')).toEqual({ ref: 'sim-move-000001', status: 'running', finishAt: T0 });
      expect(got.meta.get('version')).toBe(1);
      expect(got.instances.size).toBe(0);
      // one row by key, as the driver reads back a finished op it no longer keeps in memory
      expect(await s.get('ops', 'sim-move-000001')).toEqual({ ref: 'sim-move-000001', status: 'running', finishAt: T0 });
      expect(await s.get('keys', 's:k')).toBe('sim-move-000001');
      expect(await s.get('hosts', 'h2')).toBeUndefined();
      expect(await s.get('ops', 'sim-move-000002')).toBeUndefined();
    });

    it('writes a large change in one go and deletes many rows (chunked statements)', async () => {
      const s = await start().open();
      const many = Array.from({ length: 1234 }, (_, i) => [`i-${i}`, { id: `i-${i}`, host: `h-${i % 7}` }] as [string, unknown]);
      // a long key (session id + op key) fits
      const longKey = `${'s'.repeat(36)}:${'k'.repeat(400)}`;
      await s.apply(rows({ instances: many, keys: [[longKey, 'sim-move-000009']] }));
      expect((await s.load()).instances.size).toBe(1234);
      expect((await s.load()).keys.get(longKey)).toBe('sim-move-000009');
      await s.apply(rows({ instances: many.slice(0, 1000).map(([k]) => [k, null]) }));
      const left = await s.load();
      expect(left.instances.size).toBe(234);
      expect(left.instances.get('i-1233')).toEqual({ id: 'i-1233', host: 'h-1' });
    });

    it('a move started before a crash is found, keeps its key and its reserved capacity, and finishes', async () => {
      start();
      const clock = new ManualClock(T0);
      const a = await SimulatedDriver.open(scenario, clock, { state: await env.open() });
      const ref = await a.startMove('i-1', 'MIGRATE', 'session-1:move-i-1');
      const maint = await a.startHostMaintenance('compute-2', 'session-1:maint-compute-2');
      await a.setHostScheduling('compute-2', false, 'maintenance');
      const created = a.createInstance({ name: 'small', projectId: 'p2', vcpus: 1, host: 'compute-2' });
      await a.flush(); // what the control API's routes do before answering
      const before = a.snapshot();
      // "crash": `a` is dropped without close(); a new driver opens the same database
      clock.advance(1_000);
      const b = await SimulatedDriver.open(other, clock, { state: await env.open() });
      expect(await b.getOperation(ref)).toEqual({ status: 'running', host: 'compute-0', expectedAt: T0 + 60_000 });
      expect(await b.startMove('i-1', 'MIGRATE', 'session-1:move-i-1')).toBe(ref);
      expect(await b.startHostMaintenance('compute-2', 'session-1:maint-compute-2')).toBe(maint);
      expect((await b.listHosts()).map((h) => [h.name, h.enabled])).toEqual([['compute-0', true], ['compute-1', true], ['compute-2', false]]);
      expect(b.snapshot()).toEqual(before);
      // compute-1's 4 vCPUs are still reserved for the move: nothing else fits there
      expect(() => b.createInstance({ name: 'x', projectId: 'p2', vcpus: 1, host: 'compute-1' })).toThrow(FenixError);

      clock.set(T0 + 60_000);
      expect(await b.getOperation(ref)).toEqual({ status: 'done', host: 'compute-1', expectedAt: T0 + 60_000 });
      // sequences continue: no ref or instance id is handed out twice
      const ref2 = await b.startMove(created.id, 'MIGRATE', 'session-1:move-small');
      expect([ref, maint]).not.toContain(ref2);
      const c2 = b.createInstance({ name: 'n2', projectId: 'p2', vcpus: 1 });
      expect(c2.id).not.toBe(created.id);
      await b.close();
      const c = await SimulatedDriver.open(scenario, clock, { state: await env.open() });
      expect(c.snapshot()).toEqual(b.snapshot());
    });

    it('writes only the rows a change touches', async () => {
      start();
      const clock = new ManualClock(T0);
      const big: ScenarioInput = {
        hosts: Array.from({ length: 50 }, (_, i) => ({ name: `c-${String(i).padStart(2, '0')}`, type: 'compute' as const, vcpus: 16 })),
        instances: Array.from({ length: 400 }, (_, i) => ({ id: `i-${i}`, name: `n${i}`, project_id: 'p', host: `c-${String(i % 50).padStart(2, '0')}`, vcpus: 1 })),
        timings: { migrate_s: 10, live_migrate_s: 10, host_maintenance_s: 10 },
      };
      const counting = new Counting(await env.open());
      const d = await SimulatedDriver.open(big, clock, { state: counting });
      expect(counting.batches).toEqual([50 + 400 + 4]); // the first save: everything once
      counting.batches = [];
      const ref = await d.startMove('i-7', 'MIGRATE', 'k-7');
      expect(counting.batches).toEqual([3]); // op, key, sequence
      await d.setHostScheduling('c-03', false, 'maintenance');
      clock.advance(10_000);
      await d.getOperation(ref);
      expect(counting.batches).toEqual([3, 1, 2]); // host; then op and instance when the move completes
      await d.listHosts();
      expect(counting.batches).toHaveLength(3); // nothing changed, nothing written
    });
  });
}
