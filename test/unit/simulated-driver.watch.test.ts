// The simulated driver's change feed and indexes (issue 9): what the shared driver contract cannot
// say (a bounded log, a restarted driver, moves in flight across a reload), and the scheduler's
// choice against a plain best-fit computed from the whole state, on random clouds and operations.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock/manual.js';
import { SimulatedDriver, type ScenarioInput, type SimState } from '../../src/drivers/simulated/index.js';
import { emptySimulatorRows, SIMULATOR_TABLES, type SimulatorRows, type SimulatorStateStore, type SimulatorTable } from '../../src/ports/simulator-state.js';

const T0 = Date.UTC(2026, 0, 1, 9, 0, 0);

const scenario: ScenarioInput = {
  hosts: [
    { name: 'compute-0', type: 'compute', vcpus: 8 },
    { name: 'compute-1', type: 'compute', vcpus: 8 },
    { name: 'compute-2', type: 'compute', vcpus: 4 },
  ],
  instances: [
    { id: 'i-1', name: 'a', project_id: 'p1', host: 'compute-0', vcpus: 2 },
    { id: 'i-2', name: 'b', project_id: 'p2', host: 'compute-0', vcpus: 4 },
    { id: 'i-3', name: 'c', project_id: 'p1', host: 'compute-1', vcpus: 3 },
  ],
  timings: { migrate_s: 10, live_migrate_s: 5, host_maintenance_s: 30 },
};

class MemoryState implements SimulatorStateStore {
  rows = emptySimulatorRows();
  async load() {
    const out = emptySimulatorRows();
    for (const t of SIMULATOR_TABLES) for (const [k, v] of this.rows[t]) out[t].set(k, structuredClone(v));
    return out;
  }
  async get(t: SimulatorTable, k: string) {
    return structuredClone(this.rows[t].get(k));
  }
  async apply(c: SimulatorRows) {
    for (const t of SIMULATOR_TABLES)
      for (const [k, v] of c[t]) {
        if (v === null) this.rows[t].delete(k);
        else this.rows[t].set(k, structuredClone(v));
      }
  }
}

describe('SimulatedDriver.watch', () => {
  it('answers an empty delta when nothing changed, and each change once with its current value', async () => {
    const clock = new ManualClock(T0);
    const d = new SimulatedDriver(scenario, clock);
    const first = await d.watch(null);
    expect(first).toMatchObject({ full: true, removed: [] });
    expect(first.hosts).toEqual(await d.listHosts());
    expect(first.instances).toEqual(await d.listInstances());
    expect(await d.watch(first.cursor)).toEqual({ cursor: first.cursor, full: false, hosts: [], instances: [], removed: [] });

    // a reservation alone is not a change (listHosts shows placement only); its completion is
    const ref = await d.startMove('i-1', 'MIGRATE', 'k1');
    const running = await d.watch(first.cursor);
    expect(running).toMatchObject({ full: false, hosts: [], instances: [], removed: [] });
    clock.advance(10_000);
    const done = await d.watch(running.cursor);
    expect(await d.getOperation(ref)).toMatchObject({ status: 'done', host: 'compute-2' });
    expect(done.instances).toEqual([{ id: 'i-1', name: 'a', projectId: 'p1', host: 'compute-2', vcpus: 2, floatingIp: false, liveMigratable: true }]);
    expect(done.hosts.map((h) => [h.name, h.vcpusUsed])).toEqual([
      ['compute-0', 4],
      ['compute-2', 2],
    ]);

    // created, moved and deleted since the cursor: reported removed, once
    const x = d.createInstance({ name: 'x', projectId: 'p', vcpus: 1 });
    await d.startMove(x.id, 'MIGRATE', 'kx');
    clock.advance(10_000);
    await d.listHosts();
    d.deleteInstance(x.id);
    const gone = await d.watch(done.cursor);
    expect(gone.removed).toEqual([x.id]);
    expect(gone.instances).toEqual([]);
  });

  it('a cursor older than the log remembers, or from another driver, gets the whole world', async () => {
    const clock = new ManualClock(T0);
    const d = new SimulatedDriver(scenario, clock, { changeLogLimit: 4 });
    const c0 = (await d.watch(null)).cursor;
    await d.setHostScheduling('compute-2', false, 'm');
    const c1 = (await d.watch(c0)).cursor;
    expect((await d.watch(c0)).full).toBe(false);
    for (let k = 0; k < 3; k++) {
      await d.setHostScheduling('compute-2', true, 'm');
      await d.setHostScheduling('compute-2', false, 'm');
    }
    const old = await d.watch(c0);
    expect(old.full).toBe(true);
    expect(old.hosts.find((h) => h.name === 'compute-2')?.enabled).toBe(false);
    const recent = await d.watch((await d.watch(c1)).cursor);
    expect(recent.full).toBe(false);

    const other = new SimulatedDriver(scenario, clock);
    expect((await other.watch(c1)).full).toBe(true);
    const [epoch] = c1.split(':');
    for (const bad of [`${epoch}:-1`, `${epoch}:99`, `${epoch}:1.5`, `${epoch}:`, `${epoch}:1e3`]) expect((await d.watch(bad)).full, bad).toBe(true);
  });

  it('a reopened driver answers an old cursor with the whole world, and finishes moves in flight', async () => {
    const clock = new ManualClock(T0);
    const state = new MemoryState();
    const d = await SimulatedDriver.open(scenario, clock, { state });
    const c = (await d.watch(null)).cursor;
    const ref = await d.startMove('i-3', 'MIGRATE', 'k3'); // 3 vCPUs: compute-2 (4 free)
    await d.close();

    const again = await SimulatedDriver.open(scenario, clock, { state });
    const w = await again.watch(c);
    expect(w.full).toBe(true);
    // the reservation survived: i-1 (2) no longer fits compute-2, so it goes to compute-1
    const r1 = await again.startMove('i-1', 'MIGRATE', 'k1');
    expect(again.operations().find((o) => o.ref === r1)?.target).toBe('compute-1');
    clock.advance(10_000);
    const after = await again.watch(w.cursor);
    expect(after.full).toBe(false);
    expect(after.instances.map((i) => [i.id, i.host])).toEqual([
      ['i-1', 'compute-1'],
      ['i-3', 'compute-2'],
    ]);
    expect(await again.getOperation(ref)).toMatchObject({ status: 'done', host: 'compute-2' });
    expect(await again.listInstances({ hosts: ['compute-2', 'compute-1', 'compute-2'] })).toEqual(
      (await again.listInstances()).filter((i) => i.host === 'compute-2' || i.host === 'compute-1'),
    );
  });
});

/** The scheduler's rule over the whole state: enabled compute hosts not under maintenance, not `exclude`, least room left, ties by name. */
function bestFit(s: SimState, vcpus: number, exclude?: string): string | undefined {
  const used = new Map<string, number>();
  const add = (h: string, n: number) => used.set(h, (used.get(h) ?? 0) + n);
  for (const i of s.instances) add(i.host, i.vcpus);
  const running = s.ops.filter((o) => o.status === 'running');
  for (const o of running) {
    const inst = s.instances.find((i) => i.id === o.instanceId);
    if (o.target !== undefined && inst) add(o.target, inst.vcpus);
  }
  const maint = new Set(running.filter((o) => o.kind === 'HOST_MAINTENANCE').map((o) => o.from));
  const fits = s.hosts
    .filter((h) => h.type === 'compute' && h.enabled && h.name !== exclude && !maint.has(h.name))
    .map((h) => ({ name: h.name, left: h.vcpus - (used.get(h.name) ?? 0) - vcpus }))
    .filter((h) => h.left >= 0)
    .sort((a, b) => a.left - b.left || (a.name < b.name ? -1 : 1));
  return fits[0]?.name;
}

describe('SimulatedDriver scheduler', () => {
  const op = fc.oneof(
    fc.record({ t: fc.constant('move' as const), i: fc.nat(11), kind: fc.constantFrom('MIGRATE' as const, 'LIVE_MIGRATE' as const, 'EVICTION' as const) }),
    fc.record({ t: fc.constant('sched' as const), h: fc.nat(5), on: fc.boolean() }),
    fc.record({ t: fc.constant('maint' as const), h: fc.nat(5) }),
    fc.record({ t: fc.constant('create' as const), v: fc.integer({ min: 1, max: 4 }) }),
    fc.record({ t: fc.constant('delete' as const), i: fc.nat(11) }),
    fc.record({ t: fc.constant('fail' as const), i: fc.nat(11) }),
    fc.record({ t: fc.constant('wait' as const), s: fc.nat(3) }),
  );

  it('places every move and creation where a best fit over the whole state would', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 4, max: 12 }), { minLength: 3, maxLength: 6 }), fc.array(op, { maxLength: 60 }), async (sizes, ops) => {
        const clock = new ManualClock(T0);
        const hosts = sizes.map((vcpus, k) => ({ name: `c-${(k * 7) % 10}${k}`, type: 'compute' as const, vcpus }));
        const instances = hosts.map((h, k) => ({ id: `i-${k}`, name: `i-${k}`, project_id: 'p', host: h.name, vcpus: 1 + (k % 3) }));
        const d = new SimulatedDriver({ hosts, instances, timings: { migrate_s: 2, live_migrate_s: 1, evict_s: 0, host_maintenance_s: 3 } }, clock);
        let n = 0;
        for (const o of ops) {
          const ids = d.snapshot().instances.map((i) => i.id);
          if (o.t === 'move' && ids.length) {
            const id = ids[o.i % ids.length]!;
            const before = d.snapshot();
            const inst = before.instances.find((i) => i.id === id)!;
            const busy = before.ops.some((x) => x.status === 'running' && x.instanceId === id);
            const ref = await d.startMove(id, o.kind, `k${n++}`);
            const started = d.operations().find((x) => x.ref === ref)!;
            if (!busy && (o.kind !== 'LIVE_MIGRATE' || inst.liveMigratable)) expect(started.target).toBe(bestFit(before, inst.vcpus, inst.host));
          } else if (o.t === 'sched') await d.setHostScheduling(hosts[o.h % hosts.length]!.name, o.on, 'r');
          else if (o.t === 'maint') await d.startHostMaintenance(hosts[o.h % hosts.length]!.name, `m${n++}`);
          else if (o.t === 'create') {
            const want = bestFit(d.snapshot(), o.v);
            const got = (() => {
              try {
                return d.createInstance({ name: 'x', projectId: 'p', vcpus: o.v }).host;
              } catch {
                return undefined;
              }
            })();
            expect(got).toBe(want);
          } else if (o.t === 'delete' && ids.length) d.deleteInstance(ids[o.i % ids.length]!);
          else if (o.t === 'fail' && ids.length) d.failMigrationsOf([ids[o.i % ids.length]!]);
          else if (o.t === 'wait') clock.advance(o.s * 1000);
          // the per-host index answers like a scan
          const all = await d.listInstances();
          for (const h of hosts) expect(await d.listInstances({ hosts: [h.name] })).toEqual(all.filter((i) => i.host === h.name));
          expect((await d.listHosts()).map((h) => h.vcpusUsed)).toEqual(
            (await d.listHosts()).map((h) => all.filter((i) => i.host === h.name).reduce((s, i) => s + i.vcpus, 0)),
          );
        }
      }),
      { numRuns: 150 },
    );
  });
});
