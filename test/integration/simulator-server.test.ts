// The shared simulator service (startSimulatorServer) and its client (RemoteSimulatorDriver):
// control routes with the in-process shapes, error mapping both ways, failure injection, state
// across a restart, and a Fenix service running on it with --simulator-url.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FenixError } from '../../src/domain/errors.js';
import { RemoteSimulatorDriver, demoScenario } from '../../src/drivers/simulated/index.js';
import type { Service } from '../../src/main/service.js';
import { startSimulatorServer, type SimulatorServer } from '../../src/main/simulator.js';
import { DriverError, type OpStatus } from '../../src/ports/infra-driver.js';
import { api, startTestService, waitFor, waitForSession } from '../helpers/harness.js';

const fast = {
  hosts: [0, 1, 2].map((i) => ({ name: `c${i}`, type: 'compute' as const, vcpus: 4 })),
  instances: [
    { id: 'i-a', name: 'a', project_id: 'p1', host: 'c0', vcpus: 1 },
    { id: 'i-b', name: 'b', project_id: 'p1', host: 'c1', vcpus: 1 },
    { id: 'i-c', name: 'c', project_id: 'p2', host: 'c2', vcpus: 1 },
  ],
  timings: { migrate_s: 0.05, live_migrate_s: 0.05, host_maintenance_s: 0.05 },
};

const closers: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function sim(scenario: unknown = demoScenario(), statePath?: string): Promise<SimulatorServer> {
  const s = await startSimulatorServer({ scenario: scenario as never, ...(statePath && { statePath }) });
  closers.push(() => s.close());
  return s;
}

async function settle(driver: RemoteSimulatorDriver, ref: string): Promise<OpStatus> {
  return waitFor(async () => {
    const st = await driver.getOperation(ref);
    return st.status === 'running' ? undefined : st;
  }, `operation ${ref}`);
}

const errorOf = (p: Promise<unknown>) => p.then(
  () => {
    throw new Error('expected a rejection');
  },
  (e: unknown) => e,
);

describe('simulator service: /v1/simulator control routes', () => {
  it('answer with the same shapes as the in-process routes', async () => {
    const s = await sim();
    const hosts = await api(s.url, 'GET', '/v1/simulator/hosts');
    expect(hosts.status).toBe(200);
    expect(hosts.body.hosts).toHaveLength(5);
    expect(hosts.body.hosts[0]).toEqual({ name: 'compute-0', type: 'compute', vcpus: 8, vcpus_used: 6, enabled: true });
    expect(hosts.body.hosts).toEqual(s.driver.hostsView());

    const b = await api(s.url, 'GET', '/v1/simulator/instances?project_id=demo-b');
    expect(b.status).toBe(200);
    expect(b.body.instances).toHaveLength(5);
    expect(b.body.instances).toEqual(s.driver.instancesView({ projectId: 'demo-b' }));
    expect(Object.keys(b.body.instances[0]).sort()).toEqual(['host', 'id', 'name', 'project_id', 'vcpus']);

    const created = await api(s.url, 'POST', '/v1/simulator/instances', { name: 'extra-0', project_id: 'demo-a', vcpus: 3, flavor: 'ignored' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'extra-0', project_id: 'demo-a', host: 'compute-1', vcpus: 3 });

    expect((await api(s.url, 'POST', '/v1/simulator/instances', { name: 'x', project_id: 'p', vcpus: 0 })).status).toBe(400);

    const full = await api(s.url, 'POST', '/v1/simulator/instances', { name: 'big', project_id: 'demo-a', vcpus: 6 });
    expect(full.status).toBe(409);
    expect(full.body).toEqual({ error: { code: 'NO_CAPACITY', message: expect.any(String) } });

    const del = await api(s.url, 'DELETE', `/v1/simulator/instances/${created.body.id}`);
    expect(del.status).toBe(204);
    const again = await api(s.url, 'DELETE', `/v1/simulator/instances/${created.body.id}`);
    expect(again.status).toBe(404);
    expect(again.body).toEqual({ error: { code: 'INSTANCE_NOT_FOUND', message: `instance ${created.body.id} not found` } });
  });

  it('RemoteSimulatorDriver is the control API too: views, create, delete, NO_CAPACITY as FenixError', async () => {
    const s = await sim();
    const remote = new RemoteSimulatorDriver(s.url);
    expect(await remote.hostsView()).toEqual(s.driver.hostsView());
    expect(await remote.instancesView({ projectId: 'demo-a' })).toEqual(s.driver.instancesView({ projectId: 'demo-a' }));
    const inst = await remote.createInstance({ name: 'x', projectId: 'demo-a', vcpus: 1, host: 'compute-3', liveMigratable: false });
    expect(inst).toMatchObject({ name: 'x', projectId: 'demo-a', host: 'compute-3', vcpus: 1, floatingIp: false, liveMigratable: false });
    expect(s.driver.instancesView().map((i) => i.id)).toContain(inst.id);

    const e = await errorOf(remote.createInstance({ name: 'big', projectId: 'demo-a', vcpus: 6 }));
    expect(e).toBeInstanceOf(FenixError);
    expect((e as FenixError).code).toBe('NO_CAPACITY');
    expect((e as FenixError).status).toBe(409);
    const dup = await errorOf(remote.createInstance({ name: 'y', projectId: 'demo-a', vcpus: 1, id: inst.id }));
    expect((dup as FenixError).code).toBe('STATE_CONFLICT');

    expect(await remote.deleteInstance(inst.id)).toBe(true);
    expect(await remote.deleteInstance(inst.id)).toBe(false);
  });
});

describe('simulator service: the InfraDriver port and its errors', () => {
  it('maps unknown instances / operations / hosts to 404 and a non-retryable DriverError NOT_FOUND', async () => {
    const s = await sim(fast);
    const remote = new RemoteSimulatorDriver(s.url);

    const raw = await api(s.url, 'POST', '/moves', { instance_id: 'nope', kind: 'MIGRATE', key: 'k1' });
    expect(raw.status).toBe(404);
    expect(raw.body).toEqual({ error: { code: 'NOT_FOUND', message: 'instance not found: nope', retryable: false } });

    for (const p of [remote.startMove('nope', 'MIGRATE', 'k1'), remote.getOperation('no-op'), remote.setHostScheduling('no-host', false, 'x')]) {
      const e = await errorOf(p);
      expect(e).toBeInstanceOf(DriverError);
      expect(e).toMatchObject({ retryable: false, code: 'NOT_FOUND' });
    }
    expect((await api(s.url, 'GET', '/operations/no-op')).status).toBe(404);
  });

  it('maps a reused idempotency key to 409 KEY_CONFLICT and a bad body to 400', async () => {
    const s = await sim(fast);
    const remote = new RemoteSimulatorDriver(s.url);
    await remote.startMove('i-a', 'MIGRATE', 'key-1');
    const e = await errorOf(remote.startMove('i-b', 'MIGRATE', 'key-1'));
    expect(e).toBeInstanceOf(DriverError);
    expect(e).toMatchObject({ retryable: false, code: 'KEY_CONFLICT' });
    expect((await api(s.url, 'POST', '/moves', { instance_id: 'i-b', kind: 'MIGRATE', key: 'key-1' })).status).toBe(409);

    const bad = await api(s.url, 'POST', '/moves', { instance_id: 'i-b', kind: 'TELEPORT', key: 'k' });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'VALIDATION_FAILED', retryable: false });
    expect((await api(s.url, 'GET', '/no-such-route')).status).toBe(404);
  });

  it('speaks the port in snake_case JSON', async () => {
    const s = await sim(fast);
    const hosts = await api(s.url, 'GET', '/hosts');
    expect(hosts.body.hosts[0]).toEqual({ name: 'c0', type: 'compute', vcpus: 4, vcpus_used: 1, enabled: true });
    const onC0 = await api(s.url, 'GET', '/instances?hosts=c0,c1&project_id=p1');
    expect(onC0.body.instances.map((i: { id: string }) => i.id)).toEqual(['i-a', 'i-b']);
    expect(onC0.body.instances[0]).toEqual({ id: 'i-a', name: 'a', project_id: 'p1', host: 'c0', vcpus: 1, floating_ip: false, live_migratable: true });
    expect((await api(s.url, 'GET', '/instances?hosts=')).body.instances).toEqual([]);
    expect((await api(s.url, 'PUT', '/hosts/c1/scheduling', { enabled: false, reason: 'test' })).status).toBe(204);
    const moved = await api(s.url, 'POST', '/moves', { instance_id: 'i-a', kind: 'MIGRATE', key: 'm1' });
    expect(moved.status).toBe(200);
    const op = await api(s.url, 'GET', `/operations/${moved.body.ref}`);
    expect(op.body).toMatchObject({ status: 'running', host: 'c0', expected_at: expect.any(Number) });
    const remote = new RemoteSimulatorDriver(s.url);
    expect(await remote.listInstances({ hosts: [] })).toEqual([]);
    expect((await settle(remote, moved.body.ref)).host).toBe('c2');
  });

  it('an unreachable or silent server is a retryable DriverError', async () => {
    const s = await startSimulatorServer({ scenario: fast });
    const url = s.url;
    await s.close();
    const gone = new RemoteSimulatorDriver(url);
    for (const p of [gone.listHosts(), gone.startMove('i-a', 'MIGRATE', 'k'), gone.getOperation('x')]) {
      const e = await errorOf(p);
      expect(e).toBeInstanceOf(DriverError);
      expect(e).toMatchObject({ retryable: true, code: 'UNAVAILABLE' });
    }

    const silent: Server = createServer(() => {
      /* never answers */
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise<void>((r) => silent.close(() => r())));
    closers.push(() => silent.closeAllConnections());
    const slow = new RemoteSimulatorDriver(`http://127.0.0.1:${(silent.address() as AddressInfo).port}`, { timeoutMs: 100 });
    const e = await errorOf(slow.listHosts());
    expect(e).toBeInstanceOf(DriverError);
    expect(e).toMatchObject({ retryable: true, code: 'UNAVAILABLE' });
    expect((e as Error).message).toMatch(/timed out/);
  });

  it('injects failures and heals over HTTP; two clients see one cloud', async () => {
    const s = await sim(fast);
    const a = new RemoteSimulatorDriver(s.url);
    const b = new RemoteSimulatorDriver(s.url);
    await a.failMigrationsOf(['i-a']);
    const r1 = await b.startMove('i-a', 'MIGRATE', 'f1');
    const failed = await settle(a, r1);
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatch(/injected failure/);
    await b.heal();
    const r2 = await a.startMove('i-a', 'MIGRATE', 'f2');
    expect((await settle(b, r2)).status).toBe('done');
    expect((await a.operations()).map((o) => o.ref)).toEqual([r1, r2]);
    await a.failHost('c2');
    expect((await b.snapshot()).failures.hosts).toEqual(['c2']);
    const m = await b.startHostMaintenance('c2', 'hm1');
    expect((await settle(a, m)).status).toBe('failed');
  });

  it('keeps the cloud across a restart of the service (statePath)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fenix-sim-'));
    closers.push(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'sim.json');
    const first = await startSimulatorServer({ scenario: fast, statePath: path });
    const inst = await new RemoteSimulatorDriver(first.url).createInstance({ name: 'kept', projectId: 'p9', vcpus: 1 });
    await first.close();
    const second = await sim({ hosts: [{ name: 'other', type: 'compute', vcpus: 1 }], instances: [] }, path);
    expect((await new RemoteSimulatorDriver(second.url).listInstances({ projectId: 'p9' })).map((i) => i.id)).toEqual([inst.id]);
  });
});

describe('fenix service with --simulator-url', () => {
  let svc: Service | undefined;
  afterEach(async () => {
    await svc?.stop();
    svc = undefined;
  });

  it('serves /v1/simulator/* from the shared simulator and runs a session on it', async () => {
    const s = await sim(fast);
    svc = await startTestService({ config: { simulatorUrl: s.url } });
    expect(svc.simulator).toBeInstanceOf(RemoteSimulatorDriver);
    expect((await api(svc.url, 'GET', '/v1/simulator/hosts')).body.hosts).toEqual(s.driver.hostsView());
    const full = await api(svc.url, 'POST', '/v1/simulator/instances', { name: 'big', project_id: 'p1', vcpus: 4 });
    expect(full.status).toBe(409);
    expect(full.body.error.code).toBe('NO_CAPACITY');

    const id = (await api(svc.url, 'POST', '/v1/maintenance', {})).body.session_id;
    const done = await waitForSession(svc.url, id, (x) => x.state === 'MAINTENANCE_DONE' || x.state === 'MAINTENANCE_FAILED');
    expect(done.state).toBe('MAINTENANCE_DONE');
    const ops = s.driver.operations();
    expect(ops.filter((o) => o.kind === 'HOST_MAINTENANCE' && o.status === 'done').map((o) => o.from).sort()).toEqual(['c0', 'c1', 'c2']);
  });

  it('checks a project token against the remote instance list before a DELETE', async () => {
    const s = await sim(fast);
    const dir = mkdtempSync(join(tmpdir(), 'fenix-sim-'));
    closers.push(() => rmSync(dir, { recursive: true, force: true }));
    const tokens = join(dir, 'tokens.json');
    writeFileSync(tokens, JSON.stringify({ 'p1-token-0123456789': { role: 'project', project_id: 'p1' } }));
    svc = await startTestService({ config: { simulatorUrl: s.url, auth: 'token', tokens } });
    const notMine = await api(svc.url, 'DELETE', '/v1/simulator/instances/i-c', undefined, 'p1-token-0123456789');
    expect(notMine.status).toBe(404);
    expect(s.driver.instancesView().map((i) => i.id)).toContain('i-c');
    const mine = await api(svc.url, 'DELETE', '/v1/simulator/instances/i-a', undefined, 'p1-token-0123456789');
    expect(mine.status).toBe(204);
    expect(s.driver.instancesView().map((i) => i.id)).not.toContain('i-a');
  });
});

describe('simulator service with a secret (the engine thread of fenix serve serves its cloud this way)', () => {
  it('refuses a request without the secret, with a wrong one, and answers its own client', async () => {
    const s = await startSimulatorServer({ scenario: fast as never, secret: 's3cret-value' });
    closers.push(() => s.close());
    expect((await api(s.url, 'GET', '/hosts')).status).toBe(401);
    expect((await api(s.url, 'GET', '/v1/simulator/instances')).status).toBe(401);
    const wrong = await fetch(`${s.url}/hosts`, { headers: { authorization: 'Bearer s3cret-valuf' } });
    expect(wrong.status).toBe(401);
    expect((await new RemoteSimulatorDriver(s.url).listHosts().catch((e: unknown) => e)) instanceof DriverError).toBe(true);
    const own = new RemoteSimulatorDriver(s.url, { secret: 's3cret-value' });
    expect((await own.listHosts()).map((h) => h.name)).toEqual(['c0', 'c1', 'c2']);
    expect((await own.instancesView({ projectId: 'p2' })).map((i) => i.id)).toEqual(['i-c']);
  });

  it('serves a driver it was given and leaves it open when it closes', async () => {
    const first = await startSimulatorServer({ scenario: fast as never });
    closers.push(() => first.close());
    const s = await startSimulatorServer({ scenario: fast as never, driver: first.driver, secret: 'x'.repeat(20) });
    await s.close();
    expect(first.driver.hostsView()).toHaveLength(3); // still usable
  });
});
