// The OpenStack driver's manners toward Nova (issue 10), against a scripted fake Nova: what it asks,
// how often, and what it concludes. The real Nova runs these paths in the lane (test/openstack/).
import { describe, expect, it } from 'vitest';
import { OpenStackDriver } from '../../src/drivers/openstack/nova-driver.js';
import type { KeystoneSession } from '../../src/drivers/openstack/keystone.js';
import { parseNovaNotification, type NovaEvent, type NovaEventSource } from '../../src/drivers/openstack/nova-events.js';
import { TARGET_REFUSED } from '../../src/ports/infra-driver.js';
import { HttpError } from '../../src/drivers/openstack/http.js';

const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);
const SERVER = '5e1f0000-0000-4000-8000-000000000001';

interface FakeServer {
  id: string;
  name: string;
  status: string;
  tenant_id: string;
  'OS-EXT-SRV-ATTR:host': string;
  'OS-EXT-STS:task_state': string | null;
  flavor: { vcpus: number };
  metadata: Record<string, string>;
}

/** A Nova that answers what the test sets, and records every request. */
class FakeNova {
  now = T0;
  requests: { method: string; path: string; body?: unknown }[] = [];
  server: FakeServer = {
    id: SERVER, name: 'vm1', status: 'ACTIVE', tenant_id: 'p1', 'OS-EXT-SRV-ATTR:host': 'c1', 'OS-EXT-STS:task_state': null, flavor: { vcpus: 2 }, metadata: {},
  };
  actions: { action: string; request_id: string; start_time: string; message: string | null; events: { event: string; result: string | null; details?: string }[] }[] = [];
  services = [
    { id: 1, binary: 'nova-compute', host: 'c1', status: 'enabled' },
    { id: 2, binary: 'nova-compute', host: 'c2', status: 'enabled' },
    { id: 3, binary: 'nova-compute', host: 'c3', status: 'enabled' },
  ];
  confirmAnswers: number[] = [];
  /** Placement: each provider's traits (provider uuid = `rp-<host>`). */
  traits = new Map(this.services.map((s) => [`rp-${s.host}`, ['COMPUTE_NODE']]));
  /** Enables after which nova-compute fails to remove COMPUTE_STATUS_DISABLED (placement's 409). */
  stuckEnables = 0;
  /** Placement: the consumers holding allocations on each provider. */
  allocations = new Map<string, string[]>();
  /** Hypervisor ids are resource provider uuids (2.53+ with placement). */
  placementIds = false;

  session(): KeystoneSession {
    const ok = <T>(body: T, headers: Record<string, string> = {}) => ({ status: 200, headers: { date: new Date(this.now).toUTCString(), ...headers }, body });
    return {
      hasService: async () => false,
      request: async (service: string, path: string, o: { method?: string; body?: unknown } = {}) => {
        const method = o.method ?? 'GET';
        this.requests.push({ method, path, ...(o.body !== undefined && { body: o.body }) });
        if (service === 'placement') {
          const uuid = path.split('/')[2]!;
          if (path.endsWith('/traits')) return ok({ traits: this.traits.get(uuid) });
          if (path.endsWith('/inventories')) return ok({ inventories: { VCPU: { total: 8, reserved: 0, allocation_ratio: 1 } } });
          if (path.endsWith('/usages')) return ok({ usages: { VCPU: 0 } });
          if (path.endsWith('/allocations')) return ok({ allocations: Object.fromEntries((this.allocations.get(uuid) ?? []).map((c) => [c, { resources: { VCPU: 2 } }])) });
        }
        if (service !== 'compute') throw new Error(`unexpected service ${service}`);
        if (path === '') return ok({ version: { version: '2.95', min_version: '2.1' } });
        if (path.startsWith('/os-services') && method === 'GET') {
          const host = /host=([^&]+)/.exec(path)?.[1];
          return ok({ services: this.services.filter((s) => !host || s.host === host) });
        }
        if (path.startsWith('/os-services/') && method === 'PUT') {
          const id = Number(path.split('/')[2]);
          const svc = this.services.find((s) => s.id === id)!;
          svc.status = (o.body as { status: string }).status;
          // nova-compute syncs the trait during the PUT (an RPC call), best effort.
          const rp = `rp-${svc.host}`;
          const others = this.traits.get(rp)!.filter((t) => t !== 'COMPUTE_STATUS_DISABLED');
          if (svc.status === 'disabled') this.traits.set(rp, [...others, 'COMPUTE_STATUS_DISABLED']);
          else if (this.stuckEnables > 0) this.stuckEnables--;
          else this.traits.set(rp, others);
          return ok({ service: svc });
        }
        if (path.startsWith('/os-hypervisors'))
          return ok({ hypervisors: this.services.map((s) => ({ id: this.placementIds ? `rp-${s.host}` : s.id, hypervisor_hostname: s.host, service: { host: s.host }, vcpus: 8, vcpus_used: 0 })) });
        if (path.startsWith('/servers/detail')) return ok({ servers: [this.server] });
        if (path === `/servers/${SERVER}` && method === 'GET') return ok({ server: structuredClone(this.server) });
        if (path === `/servers/${SERVER}/metadata/fenix_move` && method === 'PUT') {
          Object.assign(this.server.metadata, (o.body as { meta: Record<string, string> }).meta);
          return ok({});
        }
        if (path === `/servers/${SERVER}/action` && method === 'POST') {
          const body = o.body as Record<string, unknown>;
          if ('confirmResize' in body) {
            const status = this.confirmAnswers.shift() ?? 204;
            if (status >= 400) throw new HttpError(`POST ${path}: ${status}`, status === 409, status, {});
            return { status, headers: {}, body: null };
          }
          this.server['OS-EXT-STS:task_state'] = 'resize_prep';
          return { status: 202, headers: {}, body: null };
        }
        if (path === `/servers/${SERVER}/os-instance-actions`) return ok({ instanceActions: this.actions });
        if (path.startsWith(`/servers/${SERVER}/os-instance-actions/`)) return ok({ instanceAction: this.actions[0] });
        if (path.startsWith('/os-migrations')) return ok({ migrations: [] });
        throw new Error(`fake Nova: no route for ${method} ${path}`);
      },
    } as unknown as KeystoneSession;
  }

  count(method: string, re: RegExp): number {
    return this.requests.filter((r) => r.method === method && re.test(r.path)).length;
  }
}

class FakeEvents implements NovaEventSource {
  live = true;
  private readonly ls = new Set<(e: NovaEvent) => void>();
  subscribe(l: (e: NovaEvent) => void) {
    this.ls.add(l);
    return () => this.ls.delete(l);
  }
  emit(eventType: string, p: { host?: string; state?: string; taskState?: string | null; metadata?: Record<string, string> } = {}) {
    const e: NovaEvent = {
      kind: 'instance', eventType, uuid: SERVER, host: p.host ?? null, state: p.state ?? 'active', taskState: p.taskState ?? null, tenantId: 'p1', name: 'vm1', vcpus: 2, metadata: p.metadata ?? null,
    };
    for (const l of this.ls) l(e);
  }
}

function setup(opts: { events?: FakeEvents; placement?: boolean } = {}) {
  const nova = new FakeNova();
  nova.placementIds = opts.placement === true;
  const driver = new OpenStackDriver(nova.session(), { now: () => nova.now, capacity: opts.placement ? 'placement' : 'hypervisors', ...(opts.events && { events: opts.events }) });
  return { nova, driver };
}

describe('OpenStack driver: asking Nova little and exactly', () => {
  it('passes the planned target as host (2.56+), backs off between looks, confirms once, and checks where the server landed', async () => {
    const { nova, driver } = setup();
    const ref = await driver.startMove(SERVER, 'MIGRATE', 's1:move:a0:vm1:c1', { target: 'c2' });
    expect(nova.requests.find((r) => r.path.endsWith('/action'))?.body).toEqual({ migrate: { host: 'c2' } });
    const gets = () => nova.count('GET', new RegExp(`^/servers/${SERVER}$`));
    const before = gets(); // the read before the move
    // Looks wait 500 ms, then 750, 1125, …: asking in between costs Nova nothing.
    const st = await driver.getOperation(ref);
    expect(st).toMatchObject({ status: 'running', expectedAt: T0 + 500 });
    expect(gets()).toBe(before);
    nova.now += 500;
    await driver.getOperation(ref);
    expect(gets()).toBe(before + 1);
    nova.now += 600;
    await driver.getOperation(ref);
    expect(gets()).toBe(before + 1); // 750 ms not over yet
    nova.now += 200;
    await driver.getOperation(ref);
    expect(gets()).toBe(before + 2);
    // VERIFY_RESIZE: one confirmResize, however often it is seen before Nova moves on.
    Object.assign(nova.server, { status: 'VERIFY_RESIZE', 'OS-EXT-STS:task_state': null, 'OS-EXT-SRV-ATTR:host': 'c2' });
    for (let k = 0; k < 6; k++) {
      nova.now += 2_000;
      expect(await driver.getOperation(ref)).toMatchObject({ status: 'running' });
    }
    expect(nova.requests.filter((r) => r.path.endsWith('/action') && JSON.stringify(r.body).includes('confirmResize'))).toHaveLength(1);
    Object.assign(nova.server, { status: 'ACTIVE' });
    nova.now += 2_000;
    expect(await driver.getOperation(ref)).toEqual({ status: 'done', host: 'c2' });
  });

  it('a server that lands elsewhere than the planned target fails the move, saying where it is', async () => {
    const { nova, driver } = setup();
    const ref = await driver.startMove(SERVER, 'LIVE_MIGRATE', 's1:k', { target: 'c2' });
    expect(nova.requests.find((r) => r.path.endsWith('/action'))?.body).toMatchObject({ 'os-migrateLive': { host: 'c2', block_migration: 'auto' } });
    Object.assign(nova.server, { 'OS-EXT-STS:task_state': null, 'OS-EXT-SRV-ATTR:host': 'c3' });
    nova.now += 1_000;
    expect(await driver.getOperation(ref)).toEqual({ status: 'failed', error: 'landed on c3, not on the planned c2', host: 'c3' });
  });

  it("a target Nova's scheduler refuses fails the move with TARGET_REFUSED and Nova's words", async () => {
    const { nova, driver } = setup();
    const ref = await driver.startMove(SERVER, 'MIGRATE', 's1:k', { target: 'c2' });
    nova.server['OS-EXT-STS:task_state'] = null; // back to ACTIVE on c1
    nova.actions = [
      { action: 'migrate', request_id: 'req-1', start_time: new Date(T0).toISOString().replace('Z', ''), message: 'Error', events: [{ event: 'conductor_migrate_server', result: 'Error', details: 'No valid host was found. ' }] },
    ];
    nova.now += 1_000;
    const st = await driver.getOperation(ref);
    expect(st.status).toBe('failed');
    expect(st.error).toMatch(new RegExp(`^${TARGET_REFUSED}: Nova refused c2: No valid host was found`));
  });

  it('a confirmResize lost to the network is sent again; Nova saying it is under way is not an error', async () => {
    const { nova, driver } = setup();
    const ref = await driver.startMove(SERVER, 'MIGRATE', 's1:k');
    Object.assign(nova.server, { status: 'VERIFY_RESIZE', 'OS-EXT-STS:task_state': null, 'OS-EXT-SRV-ATTR:host': 'c3' });
    nova.confirmAnswers = [503, 409];
    nova.now += 1_000;
    await expect(driver.getOperation(ref)).rejects.toThrow(/503/);
    nova.now += 1_000;
    expect(await driver.getOperation(ref)).toMatchObject({ status: 'running' });
    nova.now += 5_000;
    await driver.getOperation(ref);
    expect(nova.requests.filter((r) => JSON.stringify(r.body ?? '').includes('confirmResize'))).toHaveLength(2);
  });

  it('with live events: asks Nova only when an event says a step ended (or after the safety interval), and the inventory follows the events', async () => {
    const events = new FakeEvents();
    const { nova, driver } = setup({ events });
    const first = await driver.watch(null);
    expect(first.full).toBe(true);
    const listings = () => nova.count('GET', /^\/servers\/detail/);
    expect(listings()).toBe(1);
    const told: string[][] = [];
    driver.onOperationProgress((refs) => told.push(refs));
    events.emit('instance.resize_finish.end', { host: 'c3', state: 'resized' }); // no move of ours yet
    const ref = await driver.startMove(SERVER, 'MIGRATE', 's1:k');
    const gets = () => nova.count('GET', new RegExp(`^/servers/${SERVER}$`));
    const base = gets();
    nova.now += 600;
    await driver.getOperation(ref);
    expect(gets()).toBe(base); // no first look: the event that ends a step brings it
    for (let k = 0; k < 20; k++) {
      nova.now += 300;
      events.emit('instance.resize_migrate.start', { host: 'c1', taskState: 'resize_migrating' }); // not a milestone
      expect(await driver.getOperation(ref)).toMatchObject({ status: 'running', expectedAt: nova.now + 300 });
    }
    expect(gets()).toBe(base);
    expect(told).toEqual([]); // neither before the move nor for a step that is not a milestone
    // resize_finish.end: the server waits for its confirmation; one look, one confirm
    Object.assign(nova.server, { status: 'VERIFY_RESIZE', 'OS-EXT-STS:task_state': null, 'OS-EXT-SRV-ATTR:host': 'c3' });
    events.emit('instance.resize_finish.end', { host: 'c3', state: 'resized' });
    expect(told).toEqual([[ref]]); // the engine is told, and polls the move now
    await driver.getOperation(ref);
    expect(gets()).toBe(base + 1);
    Object.assign(nova.server, { status: 'ACTIVE' });
    events.emit('instance.resize_confirm.end', { host: 'c3' });
    nova.now += 300;
    expect(await driver.getOperation(ref)).toEqual({ status: 'done', host: 'c3' });
    // The world learned the move from the events: no second listing, the server is on c3.
    const ch = await driver.watch(first.cursor);
    expect(listings()).toBe(1);
    expect(ch.full).toBe(false);
    expect(ch.instances.map((i) => [i.id, i.host])).toEqual([[SERVER, 'c3']]);
    // Scheduling uses the service the inventory knows: one PUT, no GET.
    const svcGets = nova.count('GET', /^\/os-services/);
    await driver.setHostScheduling('c1', false, 'maintenance');
    expect(nova.count('GET', /^\/os-services/)).toBe(svcGets);
    expect(nova.count('PUT', /^\/os-services\/1$/)).toBe(1);
    const hostCh = await driver.watch(ch.cursor);
    expect(hostCh.hosts.find((h) => h.name === 'c1')?.enabled).toBe(false);
    // Without an event for 10 s, Nova is asked anyway.
    const ref2 = await driver.startMove(SERVER, 'MIGRATE', 's1:k2');
    const after = gets();
    nova.now += 600;
    await driver.getOperation(ref2);
    nova.now += 9_000;
    await driver.getOperation(ref2);
    expect(gets()).toBe(after);
    nova.now += 1_100;
    await driver.getOperation(ref2);
    expect(gets()).toBe(after + 1);
    // A server deleted long ago, re-announced by nova-compute's periodic task, is gone, not back.
    events.emit('instance.update', { host: 'c1', state: 'deleted' });
    const gone = await driver.watch(hostCh.cursor);
    expect(gone.removed).toEqual([SERVER]);
    expect(gone.instances).toEqual([]);
  });
});

describe('OpenStack driver: events that name the move answer for it', () => {
  it('confirms and finishes a move from its events alone: no look at the server after the read before the move', async () => {
    const events = new FakeEvents();
    const { nova, driver } = setup({ events });
    const ref = await driver.startMove(SERVER, 'MIGRATE', 's1:k', { target: 'c3' });
    const meta = { fenix_move: ref };
    const gets = () => nova.count('GET', new RegExp(`^/servers/${SERVER}$`));
    const confirms = () => nova.requests.filter((r) => JSON.stringify(r.body ?? '').includes('confirmResize')).length;
    const base = gets();
    Object.assign(nova.server, { status: 'VERIFY_RESIZE', 'OS-EXT-STS:task_state': null, 'OS-EXT-SRV-ATTR:host': 'c3' });
    events.emit('instance.resize_finish.end', { host: 'c3', state: 'resized', metadata: meta });
    nova.now += 100;
    expect(await driver.getOperation(ref)).toMatchObject({ status: 'running', host: 'c3' });
    expect(confirms()).toBe(1);
    // The same state told again (instance.update after resize_finish.end): no second confirmation.
    events.emit('instance.update', { host: 'c3', state: 'resized', metadata: meta });
    nova.now += 100;
    await driver.getOperation(ref);
    expect(confirms()).toBe(1);
    // While the confirmation runs, nothing is asked (its end comes as an event).
    nova.now += 2_000;
    await driver.getOperation(ref);
    Object.assign(nova.server, { status: 'ACTIVE' });
    events.emit('instance.resize_confirm.end', { host: 'c3', state: 'active', metadata: meta });
    nova.now += 100;
    expect(await driver.getOperation(ref)).toEqual({ status: 'done', host: 'c3' });
    expect(gets()).toBe(base);
  });

  it('a late event of an earlier move, one still on the source, or one that carries no metadata is checked with a look', async () => {
    const events = new FakeEvents();
    const { nova, driver } = setup({ events });
    const ref = await driver.startMove(SERVER, 'MIGRATE', 's1:k2');
    const gets = () => nova.count('GET', new RegExp(`^/servers/${SERVER}$`));
    const confirms = () => nova.requests.filter((r) => JSON.stringify(r.body ?? '').includes('confirmResize')).length;
    const base = gets();
    // An earlier move's confirmation, told late: it names another ref. The server is still migrating.
    nova.server['OS-EXT-STS:task_state'] = 'resize_migrating';
    events.emit('instance.resize_finish.end', { host: 'c2', state: 'resized', metadata: { fenix_move: 'nova-move:m:other:1:000000000000:c9' } });
    nova.now += 100;
    expect(await driver.getOperation(ref)).toMatchObject({ status: 'running' });
    expect([gets(), confirms()]).toEqual([base + 1, 0]);
    // An event on the source host, even naming this move, is no proof that it landed.
    events.emit('instance.update', { host: 'c1', state: 'active', metadata: { fenix_move: ref } });
    nova.now += 100;
    expect(await driver.getOperation(ref)).toMatchObject({ status: 'running' });
    expect(gets()).toBe(base + 2);
    // No metadata in the payload (an older Nova): a look, which confirms.
    Object.assign(nova.server, { status: 'VERIFY_RESIZE', 'OS-EXT-STS:task_state': null, 'OS-EXT-SRV-ATTR:host': 'c2' });
    events.emit('instance.resize_finish.end', { host: 'c2', state: 'resized' });
    nova.now += 100;
    await driver.getOperation(ref);
    expect([gets(), confirms()]).toEqual([base + 3, 1]);
  });

  it('a move that an event says settled elsewhere than the planned target fails, saying where', async () => {
    const events = new FakeEvents();
    const { nova, driver } = setup({ events });
    const ref = await driver.startMove(SERVER, 'LIVE_MIGRATE', 's1:k3', { target: 'c2' });
    events.emit('instance.live_migration_post_dest.end', { host: 'c3', state: 'active', metadata: { fenix_move: ref } });
    nova.now += 100;
    expect(await driver.getOperation(ref)).toEqual({ status: 'failed', error: 'landed on c3, not on the planned c2', host: 'c3' });
  });
});

describe('OpenStack driver: an enabled host is schedulable again', () => {
  it("reads the provider's traits back after an enable, and enables again when Nova left COMPUTE_STATUS_DISABLED", async () => {
    const { nova, driver } = setup({ placement: true });
    await driver.watch(null); // the inventory: services, hypervisors (provider uuids), placement
    const puts = () => nova.requests.filter((r) => r.method === 'PUT' && r.path === '/os-services/2').map((r) => (r.body as { status: string }).status);
    await driver.setHostScheduling('c2', false, 'maintenance');
    expect(nova.traits.get('rp-c2')).toContain('COMPUTE_STATUS_DISABLED');
    // Nova's sync works: one PUT, one read of the traits.
    await driver.setHostScheduling('c2', true, 'maintenance');
    expect(puts()).toEqual(['disabled', 'enabled']);
    expect(nova.count('GET', /^\/resource_providers\/rp-c2\/traits$/)).toBe(1);
    // Nova's sync fails once (placement's 409): disabled and enabled again, then the trait is gone.
    await driver.setHostScheduling('c2', false, 'maintenance');
    nova.stuckEnables = 1;
    await driver.setHostScheduling('c2', true, 'maintenance');
    expect(puts()).toEqual(['disabled', 'enabled', 'disabled', 'enabled', 'disabled', 'enabled']);
    expect(nova.traits.get('rp-c2')).toEqual(['COMPUTE_NODE']);
    // It keeps failing: three more tries, then Nova's periodic task is left to fix it (no error).
    await driver.setHostScheduling('c2', false, 'maintenance');
    nova.stuckEnables = 10;
    await driver.setHostScheduling('c2', true, 'maintenance');
    expect(puts().length).toBe(6 + 2 + 2 * 3);
  });

  it('waits for the moves off a host to release their allocations before it enables the host', async () => {
    const { nova, driver } = setup({ placement: true });
    await driver.watch(null); // the server vm1 is on c1
    await driver.setHostScheduling('c1', false, 'maintenance');
    // The migration of a move off c1 still holds its allocation there; the server itself stays.
    nova.allocations.set('rp-c1', [SERVER, 'migration-1']);
    let releasedAt = 0;
    setTimeout(() => {
      nova.allocations.set('rp-c1', [SERVER]);
      releasedAt = nova.requests.length;
    }, 450);
    await driver.setHostScheduling('c1', true, 'maintenance');
    const enable = nova.requests.findIndex((r) => r.method === 'PUT' && r.path === '/os-services/1' && (r.body as { status: string }).status === 'enabled');
    expect(releasedAt).toBeGreaterThan(0);
    expect(enable).toBeGreaterThanOrEqual(releasedAt);
    expect(nova.count('GET', /^\/resource_providers\/rp-c1\/allocations$/)).toBeGreaterThanOrEqual(2);
  });
});

describe("Nova's versioned notifications", () => {
  it('reads instance.* and service.update from the oslo envelope, and ignores anything else', () => {
    const envelope = (m: object) => JSON.stringify({ 'oslo.version': '2.0', 'oslo.message': JSON.stringify(m) });
    const inst = parseNovaNotification(
      envelope({
        event_type: 'instance.resize_finish.end',
        priority: 'INFO',
        publisher_id: 'nova-compute:compute2',
        payload: {
          'nova_object.name': 'InstanceActionResizePrepPayload',
          'nova_object.data': { uuid: SERVER, host: 'compute2', state: 'resized', task_state: null, tenant_id: 'p1', display_name: 'vm1', flavor: { 'nova_object.data': { vcpus: 2 } }, metadata: { fenix_move: 'r1', n: 3 } },
        },
      }),
    );
    expect(inst).toEqual({ kind: 'instance', eventType: 'instance.resize_finish.end', uuid: SERVER, host: 'compute2', state: 'resized', taskState: null, tenantId: 'p1', name: 'vm1', vcpus: 2, metadata: { fenix_move: 'r1' } });
    const svc = parseNovaNotification(
      envelope({ event_type: 'service.update', payload: { 'nova_object.data': { host: 'compute1', binary: 'nova-compute', disabled: true, disabled_reason: 'maintenance' } } }),
    );
    expect(svc).toEqual({ kind: 'service', eventType: 'service.update', host: 'compute1', binary: 'nova-compute', disabled: true, disabledReason: 'maintenance' });
    const task = parseNovaNotification(
      envelope({ event_type: 'compute_task.migrate_server.error', payload: { 'nova_object.data': { instance_uuid: SERVER, state: 'active', reason: {} } } }),
    );
    expect(task).toMatchObject({ kind: 'instance', eventType: 'compute_task.migrate_server.error', uuid: SERVER, host: null });
    expect(parseNovaNotification('not json')).toBeNull();
    expect(parseNovaNotification(envelope({ event_type: 'aggregate.create.end', payload: { 'nova_object.data': {} } }))).toBeNull();
    expect(parseNovaNotification(envelope({ event_type: 'instance.update', payload: {} }))).toBeNull();
  });
});
