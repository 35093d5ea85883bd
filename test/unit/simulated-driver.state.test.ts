// SimulatedDriver over a row store (SimulatorStateStore), with an in-memory fake: what is written
// when, a failed write, the import of an old JSON state file. The real stores: test/contract/simulator-state.*.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock/manual.js';
import { SimulatedDriver, type ScenarioInput } from '../../src/drivers/simulated/index.js';
import { DriverError } from '../../src/ports/infra-driver.js';
import { emptySimulatorRows, SIMULATOR_TABLES, type SimulatorRows, type SimulatorStateStore, type SimulatorTable } from '../../src/ports/simulator-state.js';

const T0 = Date.UTC(2026, 0, 1, 9, 0, 0);

const scenario: ScenarioInput = {
  hosts: [
    { name: 'compute-0', type: 'compute', vcpus: 8 },
    { name: 'compute-1', type: 'compute', vcpus: 8 },
  ],
  instances: [{ id: 'i-1', name: 'a', project_id: 'p1', host: 'compute-0', vcpus: 2 }],
  timings: { migrate_s: 10, live_migrate_s: 5, host_maintenance_s: 30 },
};

/** Rows in memory, copied through JSON like a database; `failNext` makes the next apply() fail. */
class MemoryState implements SimulatorStateStore {
  rows = emptySimulatorRows();
  applied: SimulatorRows[] = [];
  failNext = 0;
  async load() {
    const out = emptySimulatorRows();
    for (const t of SIMULATOR_TABLES) for (const [k, v] of this.rows[t]) out[t].set(k, JSON.parse(JSON.stringify(v)));
    return out;
  }
  reads = 0;
  async get(t: SimulatorTable, k: string) {
    this.reads++;
    const v = this.rows[t].get(k);
    return v === undefined ? undefined : JSON.parse(JSON.stringify(v));
  }
  async apply(c: SimulatorRows) {
    await Promise.resolve();
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('connection lost');
    }
    this.applied.push(c);
    for (const t of SIMULATOR_TABLES)
      for (const [k, v] of c[t]) {
        if (v === null) this.rows[t].delete(k);
        else this.rows[t].set(k, JSON.parse(JSON.stringify(v)));
      }
  }
}

describe('SimulatedDriver over a row store', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('has written a started move, its key and the sequence when startMove returns', async () => {
    const state = new MemoryState();
    const d = await SimulatedDriver.open(scenario, new ManualClock(T0), { state });
    const ref = await d.startMove('i-1', 'MIGRATE', 's:k1');
    expect(state.rows.ops.get(ref)).toMatchObject({ ref, status: 'running', target: 'compute-1' });
    expect(state.rows.keys.get('s:k1')).toBe(ref);
    expect(state.rows.meta.get('seq')).toEqual({ opSeq: 1, instanceSeq: 0 });
  });

  it('writes synchronous control calls behind, batched per tick, and deletes a deleted instance', async () => {
    const state = new MemoryState();
    const d = await SimulatedDriver.open(scenario, new ManualClock(T0), { state });
    state.applied = [];
    const a = d.createInstance({ name: 'x', projectId: 'p', vcpus: 1 });
    const b = d.createInstance({ name: 'y', projectId: 'p', vcpus: 1 });
    d.failHost('compute-1');
    expect(state.rows.instances.has(a.id)).toBe(false); // not yet: same tick
    await d.flush();
    expect(state.applied).toHaveLength(1);
    expect([...state.applied[0]!.instances.keys()].sort()).toEqual([a.id, b.id].sort());
    expect(state.rows.meta.get('failures')).toEqual({ migrations: [], hosts: ['compute-1'] });
    expect(d.deleteInstance(a.id)).toBe(true);
    await d.flush();
    expect(state.rows.instances.has(a.id)).toBe(false);
    expect(state.rows.instances.has(b.id)).toBe(true);
  });

  it('a failed write rejects as retryable and is written by the retry under the same key', async () => {
    const state = new MemoryState();
    const d = await SimulatedDriver.open(scenario, new ManualClock(T0), { state });
    state.failNext = 1;
    const err = await d.startMove('i-1', 'MIGRATE', 's:k1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DriverError);
    expect(err).toMatchObject({ retryable: true, code: 'UNAVAILABLE' });
    const ref = await d.startMove('i-1', 'MIGRATE', 's:k1');
    expect(state.rows.keys.get('s:k1')).toBe(ref);
    expect(state.rows.ops.get(ref)).toMatchObject({ status: 'running' });
    expect(state.rows.ops.size).toBe(1);
  });

  it('imports an old JSON state file once, then renames it', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sim-state-'));
    const file = join(dir, 'fenix.db.simulator.json');
    const clock = new ManualClock(T0);
    const old = new SimulatedDriver(scenario, clock, { statePath: file });
    const ref = await old.startMove('i-1', 'MIGRATE', 's:k1');
    const state = new MemoryState();
    const other: ScenarioInput = { ...scenario, hosts: [{ name: 'x', type: 'compute', vcpus: 1 }], instances: [] };
    const d = await SimulatedDriver.open(other, clock, { state, importFrom: file });
    expect(d.snapshot()).toEqual(old.snapshot());
    expect(state.rows.keys.get('s:k1')).toBe(ref);
    expect(existsSync(file)).toBe(false);
    expect(existsSync(`${file}.imported`)).toBe(true);
    // the database wins from now on; a file that reappears is not imported again
    const again = await SimulatedDriver.open(other, clock, { state, importFrom: `${file}.imported` });
    expect(again.snapshot()).toEqual(old.snapshot());
    expect(existsSync(`${file}.imported`)).toBe(true);
  });

  it('keeps only the newest finished ops in memory and reads older ones back by ref, before and after a restart', async () => {
    const state = new MemoryState();
    const clock = new ManualClock(T0);
    const d = await SimulatedDriver.open(scenario, clock, { state, finishedInMemory: 2 });
    const refs: string[] = [];
    for (let n = 0; n < 5; n++) {
      refs.push(await d.startMove('i-1', 'MIGRATE', `s:k${n}`)); // back and forth between the two hosts
      clock.advance(10_000);
      await d.getOperation(refs[n]!);
    }
    await d.flush();
    // running: none; finished: 5, of which the newest 2 stay in memory
    expect(d.operations().map((o) => o.ref)).toEqual(refs.slice(3));
    state.reads = 0;
    expect(await d.getOperation(refs[0]!)).toMatchObject({ status: 'done' });
    expect(state.reads).toBe(1);
    // an evicted op's key is still answered with its ref, and a key reused for another instance is still refused
    expect(await d.startMove('i-1', 'MIGRATE', 's:k0')).toBe(refs[0]);
    await expect(d.startMove('i-2', 'MIGRATE', 's:k0')).rejects.toMatchObject({ code: 'KEY_CONFLICT' });
    await expect(d.getOperation('sim-move-999999')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    // a restart loads the newest finished ops only; the others are still there on demand
    const again = await SimulatedDriver.open(scenario, clock, { state, finishedInMemory: 2 });
    expect(again.operations().map((o) => o.ref)).toEqual(refs.slice(3));
    expect(await again.getOperation(refs[1]!)).toMatchObject({ status: 'done' });
    expect(state.rows.ops.size).toBe(5);
  });

  it('refuses saved rows of another format with a clear error', async () => {
    const state = new MemoryState();
    state.rows.meta.set('version', 7);
    await expect(SimulatedDriver.open(scenario, new ManualClock(T0), { state })).rejects.toThrow(/not a version 1 simulator state/);
  });
});
