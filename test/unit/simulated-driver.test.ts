import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock/manual.js';
import { FenixError } from '../../src/domain/errors.js';
import {
  HOST_NOT_EMPTY,
  NO_VALID_HOST,
  SimulatedDriver,
  demoScenario,
  parseScenario,
  type ScenarioInput,
} from '../../src/drivers/simulated/index.js';
import { DriverError } from '../../src/ports/infra-driver.js';

const T0 = Date.UTC(2026, 0, 1, 9, 0, 0);

/** compute-0..2 (8, 8, 4 vCPUs), controller-0; i-1 (2) and i-2 (4) on compute-0, i-3 (3) on compute-1. */
function scenario(extra: Partial<ScenarioInput> = {}): ScenarioInput {
  return {
    hosts: [
      { name: 'compute-0', type: 'compute', vcpus: 8 },
      { name: 'compute-1', type: 'compute', vcpus: 8 },
      { name: 'compute-2', type: 'compute', vcpus: 4 },
      { name: 'controller-0', type: 'controller', vcpus: 0 },
    ],
    instances: [
      { id: 'i-1', name: 'a', project_id: 'p1', host: 'compute-0', vcpus: 2 },
      { id: 'i-2', name: 'b', project_id: 'p2', host: 'compute-0', vcpus: 4, live_migratable: false },
      { id: 'i-3', name: 'c', project_id: 'p1', host: 'compute-1', vcpus: 3 },
    ],
    timings: { migrate_s: 10, live_migrate_s: 5, host_maintenance_s: 30 },
    ...extra,
  };
}

const setup = (extra: Partial<ScenarioInput> = {}) => {
  const clock = new ManualClock(T0);
  return { clock, sim: new SimulatedDriver(scenario(extra), clock) };
};

const hostOf = async (sim: SimulatedDriver, id: string) => (await sim.listInstances()).find((i) => i.id === id)?.host;

describe('scenario validation', () => {
  it('fills defaults', () => {
    const s = parseScenario(scenario());
    expect(s.hosts[0]).toEqual({ name: 'compute-0', type: 'compute', vcpus: 8, enabled: true });
    expect(s.instances[0]).toMatchObject({ floating_ip: false, live_migratable: true });
    expect(s.timings.evict_s).toBe(10);
    expect(s.failures).toEqual({ migrations: [], hosts: [] });
    expect(parseScenario(s)).toEqual(s);
  });

  it('lists every schema problem', () => {
    const bad = { hosts: [{ name: 'h', type: 'gpu', vcpus: 1.5 }], instances: 'x', timings: { migrate_s: -1 } };
    const msg = (() => {
      try {
        parseScenario(bad);
        return '';
      } catch (e) {
        return (e as Error).message;
      }
    })();
    expect(msg).toMatch(/^Invalid scenario/);
    expect(msg).toContain('/hosts/0/vcpus');
    expect(msg).toContain('/instances');
    expect(msg).toContain('/timings');
  });

  it('lists every cross-field problem', () => {
    const s = scenario({
      instances: [
        { id: 'i-1', name: 'a', project_id: 'p', host: 'compute-2', vcpus: 3 },
        { id: 'i-1', name: 'b', project_id: 'p', host: 'compute-2', vcpus: 2 },
        { id: 'i-3', name: 'c', project_id: 'p', host: 'nowhere', vcpus: 1 },
        { id: 'i-4', name: 'd', project_id: 'p', host: 'controller-0', vcpus: 1 },
      ],
      failures: { migrations: ['i-9'], hosts: ['compute-9'] },
    });
    s.hosts.push({ name: 'compute-0', type: 'compute', vcpus: 1 }, { name: 'compute-5', type: 'compute', vcpus: 0 });
    expect(() => parseScenario(s)).toThrow(
      new Error(
        [
          'Invalid scenario:',
          '- duplicate host name "compute-0"',
          '- compute host "compute-5" needs vcpus >= 1',
          '- duplicate instance id "i-1"',
          '- instance "i-3" is on unknown host "nowhere"',
          '- instance "i-4" is on controller host "controller-0" (must be compute)',
          '- host "compute-2" is overcommitted: instances use 5 vCPUs of 4',
          '- failures.migrations names unknown instance "i-9"',
          '- failures.hosts names unknown host "compute-9"',
        ].join('\n'),
      ),
    );
  });

  it('rejects unknown keys', () => {
    expect(() => parseScenario({ ...scenario(), timing: {} })).toThrow(/Invalid scenario/);
  });

  it('the constructor validates too', () => {
    expect(() => new SimulatedDriver({ ...scenario(), instances: [] , hosts: [] }, new ManualClock())).toThrow(/hosts/);
  });

  it('demo scenario: 4 compute hosts of 8 + a controller, 60-70 % full, no empty compute host', () => {
    const s = demoScenario();
    const compute = s.hosts.filter((h) => h.type === 'compute');
    expect(compute.map((h) => h.name)).toEqual(['compute-0', 'compute-1', 'compute-2', 'compute-3']);
    expect(compute.every((h) => h.vcpus === 8)).toBe(true);
    expect(s.hosts.find((h) => h.name === 'controller-0')?.type).toBe('controller');
    const used = s.instances.reduce((n, i) => n + i.vcpus, 0);
    expect(used / 32).toBeGreaterThanOrEqual(0.6);
    expect(used / 32).toBeLessThanOrEqual(0.7);
    for (const h of compute) expect(s.instances.some((i) => i.host === h.name)).toBe(true);
    expect(new Set(s.instances.map((i) => i.project_id))).toEqual(new Set(['demo-a', 'demo-b']));
    for (const i of s.instances) expect(i.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(demoScenario()).toEqual(s);
    expect(s.timings).toEqual({ migrate_s: 2, live_migrate_s: 2, host_maintenance_s: 3, evict_s: 2 });
  });
});

describe('SimulatedDriver', () => {
  it('reports hosts with actual placement', async () => {
    const { sim } = setup();
    expect(await sim.listHosts()).toEqual([
      { name: 'compute-0', type: 'compute', vcpus: 8, vcpusUsed: 6, enabled: true },
      { name: 'compute-1', type: 'compute', vcpus: 8, vcpusUsed: 3, enabled: true },
      { name: 'compute-2', type: 'compute', vcpus: 4, vcpusUsed: 0, enabled: true },
      { name: 'controller-0', type: 'controller', vcpus: 0, vcpusUsed: 0, enabled: true },
    ]);
    expect(sim.hostsView()[0]).toEqual({ name: 'compute-0', type: 'compute', vcpus: 8, vcpus_used: 6, enabled: true });
  });

  it('lists instances sorted by id with host and project filters', async () => {
    const { sim } = setup();
    expect((await sim.listInstances()).map((i) => i.id)).toEqual(['i-1', 'i-2', 'i-3']);
    expect((await sim.listInstances({ projectId: 'p1' })).map((i) => i.id)).toEqual(['i-1', 'i-3']);
    expect((await sim.listInstances({ hosts: ['compute-1'] })).map((i) => i.id)).toEqual(['i-3']);
    expect(await sim.listInstances({ hosts: [] })).toEqual([]);
    expect(sim.instancesView({ projectId: 'p2' })).toEqual([
      { id: 'i-2', name: 'b', project_id: 'p2', host: 'compute-0', vcpus: 4 },
    ]);
  });

  it('best fit: the fullest host that still fits, ties by name', async () => {
    const { sim, clock } = setup();
    // i-1 (2): compute-1 has 5 free, compute-2 has 4 free -> compute-2
    const r1 = await sim.startMove('i-1', 'MIGRATE', 'k1');
    expect(sim.operations()[0]).toMatchObject({ target: 'compute-2', from: 'compute-0', startedAt: T0, finishAt: T0 + 10_000 });
    // i-2 (4): compute-2 has 2 left after the reservation, compute-1 has 5 -> compute-1
    const r2 = await sim.startMove('i-2', 'MIGRATE', 'k2');
    expect(await sim.getOperation(r2)).toEqual({ status: 'running', host: 'compute-0', expectedAt: T0 + 10_000 });
    clock.advance(10_000);
    expect(await sim.getOperation(r1)).toEqual({ status: 'done', host: 'compute-2', expectedAt: T0 + 10_000 });
    expect(await hostOf(sim, 'i-2')).toBe('compute-1');
    // ties: two empty 8-vCPU hosts -> the first by name
    const tie = new SimulatedDriver(
      {
        hosts: ['c-b', 'c-a', 'c-src'].map((name) => ({ name, type: 'compute' as const, vcpus: 8 })),
        instances: [{ id: 'x', name: 'x', project_id: 'p', host: 'c-src', vcpus: 1 }],
        timings: { migrate_s: 0, live_migrate_s: 0, host_maintenance_s: 0 },
      },
      clock,
    );
    const r = await tie.startMove('x', 'MIGRATE', 'k');
    expect(await tie.getOperation(r)).toMatchObject({ status: 'done', host: 'c-a' });
  });

  it('never schedules onto disabled or non-compute hosts; setHostScheduling is idempotent', async () => {
    const { sim } = setup();
    await sim.setHostScheduling('compute-2', false, 'maintenance');
    await sim.setHostScheduling('compute-2', false, 'maintenance');
    expect(sim.hostsView().find((h) => h.name === 'compute-2')?.enabled).toBe(false);
    const ref = await sim.startMove('i-1', 'MIGRATE', 'k');
    expect(sim.operations().find((o) => o.ref === ref)?.target).toBe('compute-1');
    await expect(sim.setHostScheduling('nope', true, '')).rejects.toMatchObject({ code: 'NOT_FOUND', retryable: false });
  });

  it('fails at once when no host fits', async () => {
    const { sim } = setup();
    await sim.setHostScheduling('compute-1', false, 'm');
    const ref = await sim.startMove('i-2', 'MIGRATE', 'k'); // 4 vCPUs, compute-2 has 4 -> fits
    expect((await sim.getOperation(ref)).status).toBe('running');
    const ref2 = await sim.startMove('i-3', 'MIGRATE', 'k2'); // 3 vCPUs; compute-0 has 2 free, compute-2 reserved
    expect(await sim.getOperation(ref2)).toEqual({ status: 'failed', error: NO_VALID_HOST, host: 'compute-1', expectedAt: T0 });
    expect(await hostOf(sim, 'i-3')).toBe('compute-1');
  });

  it('uses the timing of each move kind and refuses live migration of a non-migratable instance', async () => {
    const { sim, clock } = setup({ timings: { migrate_s: 10, live_migrate_s: 5, host_maintenance_s: 30, evict_s: 7 } });
    const evict = await sim.startMove('i-3', 'EVICTION', 'k3'); // -> compute-2
    expect((await sim.getOperation(evict)).expectedAt).toBe(T0 + 7_000);
    const live = await sim.startMove('i-1', 'LIVE_MIGRATE', 'k1'); // -> compute-1
    expect((await sim.getOperation(live)).expectedAt).toBe(T0 + 5_000);
    const bad = await sim.startMove('i-2', 'LIVE_MIGRATE', 'k2');
    expect(await sim.getOperation(bad)).toMatchObject({ status: 'failed', error: expect.stringMatching(/live-migrated/) });
    clock.advance(7_000);
    expect(await sim.getOperation(evict)).toMatchObject({ status: 'done', host: 'compute-2' });
    // eviction keeps the id
    expect((await sim.listInstances({ hosts: ['compute-2'] })).map((i) => i.id)).toContain('i-3');
  });

  it('is idempotent per key and joins a move already in flight', async () => {
    const { sim, clock } = setup();
    const r1 = await sim.startMove('i-1', 'MIGRATE', 'k1');
    expect(await sim.startMove('i-1', 'MIGRATE', 'k1')).toBe(r1);
    expect(await sim.startMove('i-1', 'LIVE_MIGRATE', 'other-key')).toBe(r1);
    expect(sim.operations()).toHaveLength(1);
    clock.advance(10_000);
    expect(await sim.startMove('i-1', 'MIGRATE', 'other-key')).toBe(r1);
    expect(sim.operations()).toHaveLength(1);
    // a key reused for a different instance is a caller bug
    await expect(sim.startMove('i-3', 'MIGRATE', 'k1')).rejects.toMatchObject({ code: 'KEY_CONFLICT', retryable: false });
  });

  it('throws DriverError for unknown instances, hosts and refs', async () => {
    const { sim } = setup();
    const e = await sim.startMove('nope', 'MIGRATE', 'k').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DriverError);
    expect(e).toMatchObject({ message: 'instance not found: nope', retryable: false, code: 'NOT_FOUND' });
    await expect(sim.getOperation('nope')).rejects.toMatchObject({ retryable: false, code: 'NOT_FOUND' });
    await expect(sim.startHostMaintenance('nope', 'k')).rejects.toMatchObject({ retryable: false, code: 'NOT_FOUND' });
  });

  it('injects migration failures (also for moves in flight) and heals', async () => {
    const { sim, clock } = setup({ failures: { migrations: ['i-1'] } });
    const r1 = await sim.startMove('i-1', 'MIGRATE', 'k1');
    const r3 = await sim.startMove('i-3', 'MIGRATE', 'k3');
    sim.failMigrationsOf(['i-3']);
    clock.advance(10_000);
    expect(await sim.getOperation(r1)).toEqual({
      status: 'failed',
      error: 'MIGRATE of instance i-1 failed (injected failure).',
      host: 'compute-0',
      expectedAt: T0 + 10_000,
    });
    expect((await sim.getOperation(r3)).status).toBe('failed');
    expect(await hostOf(sim, 'i-3')).toBe('compute-1');
    sim.heal();
    const again = await sim.startMove('i-1', 'MIGRATE', 'k1-retry');
    clock.advance(10_000);
    expect(await sim.getOperation(again)).toMatchObject({ status: 'done' });
  });

  it('applies failures only to ops finishing after the injection', async () => {
    const { sim, clock } = setup();
    const r = await sim.startMove('i-1', 'MIGRATE', 'k');
    clock.advance(10_000);
    sim.failMigrationsOf(['i-1']); // the move finished before this call, nobody had asked yet
    expect((await sim.getOperation(r)).status).toBe('done');
  });

  it('host maintenance: done after its time, fails on a busy host or by injection', async () => {
    const { sim, clock } = setup({ failures: { hosts: ['compute-2'] } });
    const busy = await sim.startHostMaintenance('compute-0', 'm0');
    expect(await sim.getOperation(busy)).toEqual({ status: 'failed', error: HOST_NOT_EMPTY, expectedAt: T0 });
    const ctl = await sim.startHostMaintenance('controller-0', 'mc');
    expect(await sim.startHostMaintenance('controller-0', 'mc')).toBe(ctl);
    const bad = await sim.startHostMaintenance('compute-2', 'm2');
    expect(await sim.getOperation(ctl)).toEqual({ status: 'running', expectedAt: T0 + 30_000 });
    clock.advance(30_000);
    expect((await sim.getOperation(ctl)).status).toBe('done');
    expect(await sim.getOperation(bad)).toMatchObject({ status: 'failed', error: expect.stringMatching(/compute-2/) });
    sim.heal();
    const ok = await sim.startHostMaintenance('compute-2', 'm2-retry');
    clock.advance(30_000);
    expect((await sim.getOperation(ok)).status).toBe('done');
  });

  it('counts a move into a host as making it busy, and does not schedule onto a host in maintenance', async () => {
    const { sim } = setup();
    await sim.startMove('i-1', 'MIGRATE', 'k'); // -> compute-2
    const m = await sim.startHostMaintenance('compute-2', 'm');
    expect((await sim.getOperation(m)).error).toBe(HOST_NOT_EMPTY);
    const { sim: sim2 } = setup();
    await sim2.startHostMaintenance('compute-2', 'm');
    const r = await sim2.startMove('i-1', 'MIGRATE', 'k');
    expect(sim2.operations().find((o) => o.ref === r)?.target).toBe('compute-1');
  });

  it('createInstance places by best fit and reports NO_CAPACITY', async () => {
    const { sim } = setup();
    const a = sim.createInstance({ name: 'n', projectId: 'p', vcpus: 4 });
    expect(a.host).toBe('compute-2');
    expect(a.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(sim.createInstance({ name: 'n', projectId: 'p', vcpus: 2, id: 'mine' })).toMatchObject({ id: 'mine', host: 'compute-0' });
    const err = (() => {
      try {
        sim.createInstance({ name: 'big', projectId: 'p', vcpus: 6 });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(FenixError);
    expect(err).toMatchObject({ code: 'NO_CAPACITY', status: 409 });
    expect(() => sim.createInstance({ name: 'n', projectId: 'p', vcpus: 1, id: 'mine' })).toThrow(/already exists/);
    expect(() => sim.createInstance({ name: 'n', projectId: 'p', vcpus: 0 })).toThrow(/vcpus/);
    expect(() => sim.createInstance({ name: 'n', projectId: 'p', vcpus: 1, host: 'controller-0' })).toThrow(/not a compute host/);
  });

  it('deleteInstance removes it and fails its running move', async () => {
    const { sim } = setup();
    const r = await sim.startMove('i-1', 'MIGRATE', 'k');
    expect(sim.deleteInstance('i-1')).toBe(true);
    expect(sim.deleteInstance('i-1')).toBe(false);
    expect(await sim.getOperation(r)).toMatchObject({ status: 'failed', error: 'Instance i-1 was deleted.' });
    expect(sim.hostsView().find((h) => h.name === 'compute-0')?.vcpus_used).toBe(4);
    expect(sim.nextEventAt()).toBeNull();
  });

  it('nextEventAt is the earliest finish of a running op', async () => {
    const { sim } = setup();
    await sim.startMove('i-3', 'LIVE_MIGRATE', 'k3');
    await sim.startMove('i-1', 'MIGRATE', 'k1');
    expect(sim.operations().map((o) => o.status)).toEqual(['running', 'running']);
    expect(sim.nextEventAt()).toBe(T0 + 5_000);
  });
});

describe('SimulatedDriver persistence', () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('continues the same cloud in a new process, completing a move that finished while it was down', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sim-'));
    const statePath = join(dir, 'nested', 'sim.json');
    const clock = new ManualClock(T0);
    const a = new SimulatedDriver(scenario(), clock, { statePath });
    const ref = await a.startMove('i-1', 'MIGRATE', 'k1');
    await a.setHostScheduling('compute-1', false, 'maintenance');
    const created = a.createInstance({ name: 'new', projectId: 'p9', vcpus: 1 });
    a.failHost('compute-1');
    const saved = JSON.parse(readFileSync(statePath, 'utf8'));
    expect(saved.version).toBe(1);
    expect(saved.ops[0]).toMatchObject({ ref, status: 'running', finishAt: T0 + 10_000 });

    // "crash": a new driver with a different scenario ignores it and loads the file
    clock.advance(60_000);
    const b = new SimulatedDriver(demoScenario(), clock, { statePath });
    expect(await b.getOperation(ref)).toEqual({ status: 'done', host: 'compute-2', expectedAt: T0 + 10_000 });
    expect(await b.startMove('i-1', 'MIGRATE', 'k1')).toBe(ref);
    expect((await b.listHosts()).find((h) => h.name === 'compute-1')?.enabled).toBe(false);
    expect((await b.listInstances({ projectId: 'p9' })).map((i) => i.id)).toEqual([created.id]);
    expect(b.snapshot().failures.hosts).toEqual(['compute-1']);
    // sequences continue: no reused refs or ids
    const ref2 = await b.startMove('i-3', 'MIGRATE', 'k3');
    expect(ref2).not.toBe(ref);
    expect(b.createInstance({ name: 'n2', projectId: 'p9', vcpus: 1 }).id).not.toBe(created.id);
    // and the completion was written back
    const c = new SimulatedDriver(scenario(), clock, { statePath });
    expect(c.snapshot()).toEqual(b.snapshot());
  });

  it('starts from the scenario when the file does not exist and writes it at once', () => {
    dir = mkdtempSync(join(tmpdir(), 'sim-'));
    const statePath = join(dir, 'sim.json');
    new SimulatedDriver(scenario(), new ManualClock(T0), { statePath });
    expect(JSON.parse(readFileSync(statePath, 'utf8')).instances).toHaveLength(3);
  });

  it('refuses a corrupt state file with a clear error', () => {
    dir = mkdtempSync(join(tmpdir(), 'sim-'));
    const statePath = join(dir, 'sim.json');
    writeFileSync(statePath, '{"version": 7}');
    expect(() => new SimulatedDriver(scenario(), new ManualClock(T0), { statePath })).toThrow(/not a version 1 simulator state/);
    writeFileSync(statePath, '{oops');
    expect(() => new SimulatedDriver(scenario(), new ManualClock(T0), { statePath })).toThrow(/cannot load simulator state/);
  });
});
