// The OpenStack driver's guards against real Nova (the real-OpenStack lane): a restarted engine
// (a new driver object) never migrates twice, a crash between recording and issuing a move is
// healed, a server busy with someone else's move is left alone, live migration works, and an
// asynchronous NoValidHost after a 202 is reported as failed with Nova's message.
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { decodeMoveRef, encodeMoveRef, OpenStackDriver } from '../../src/drivers/openstack/index.js';
import { keyHash, MOVE_METADATA_KEY } from '../../src/drivers/openstack/nova-driver.js';
import { NovaNotifications } from '../../src/drivers/openstack/nova-events.js';
import { DriverError, TARGET_REFUSED, type OpStatus } from '../../src/ports/infra-driver.js';
import { LANE, openCloud, resetCloud, type Cloud } from './cloud.js';

describe.skipIf(!LANE)('OpenStack driver guards (real Nova)', () => {
  const cloud = LANE ? openCloud() : (null as unknown as Cloud);
  let hosts: string[];
  const created: string[] = [];
  const disabled: string[] = [];
  let n = 0;

  const place = async (host: string) => {
    const id = await cloud.createServer({ name: `guard-${n++}`, host });
    created.push(id);
    return id;
  };
  const settle = async (d: OpenStackDriver, ref: string): Promise<OpStatus> => {
    for (const until = Date.now() + 120_000; ; ) {
      const st = await d.getOperation(ref);
      if (st.status !== 'running') return st;
      if (Date.now() > until) throw new Error('still running');
      await delay(200);
    }
  };
  const actions = async (id: string, name: string) =>
    (await cloud.nova<{ instanceActions: { action: string }[] }>('GET', `/servers/${id}/os-instance-actions`)).body.instanceActions.filter(
      (a) => a.action === name,
    ).length;
  const fresh = () => new OpenStackDriver(cloud.keystone); // what a restarted engine builds

  beforeAll(async () => {
    await resetCloud(cloud);
    hosts = await cloud.computeHosts();
  });
  afterEach(async () => {
    for (const h of disabled.splice(0)) await cloud.driver.setHostScheduling(h, true, 'test');
    await cloud.deleteServers(created.splice(0));
  });
  afterAll(async () => {
    await resetCloud(cloud);
  });

  it('a restarted engine with the same key adopts the move instead of migrating again', async () => {
    const id = await place(hosts[0]!);
    const ref = await fresh().startMove(id, 'MIGRATE', 'session-1:move-a');
    expect(decodeMoveRef(ref)).toMatchObject({ kind: 'MIGRATE', instanceId: id, src: hosts[0] });
    const again = await fresh().startMove(id, 'MIGRATE', 'session-1:move-a');
    expect(again).toBe(ref);
    const st = await settle(fresh(), ref);
    expect(st.status, st.error).toBe('done');
    expect(st.host).not.toBe(hosts[0]);
    expect(await fresh().startMove(id, 'MIGRATE', 'session-1:move-a')).toBe(ref); // also after it finished
    expect(await actions(id, 'migrate')).toBe(1);
  });

  it('heals a crash between recording the move and issuing it', async () => {
    const id = await place(hosts[0]!);
    // What startMove writes before it POSTs the migrate action; the "crash" happens right after.
    const date = Date.parse((await cloud.keystone.request('compute', `/servers/${id}`)).headers.date!);
    const ref = encodeMoveRef({ kind: 'MIGRATE', instanceId: id, t: date, keyHash: keyHash('k-crash'), src: hosts[0]! });
    await cloud.nova('PUT', `/servers/${id}/metadata/${MOVE_METADATA_KEY}`, { meta: { [MOVE_METADATA_KEY]: ref } });
    const d = fresh();
    expect(await d.startMove(id, 'MIGRATE', 'k-crash')).toBe(ref); // adopted, not issued a second time
    const st = await settle(d, ref);
    expect(st.status, st.error).toBe('done');
    expect(await actions(id, 'migrate')).toBe(1);
  });

  it('leaves a server busy with another move alone (retryable), and never moves it twice', async () => {
    const id = await place(hosts[0]!);
    // An operator's cold migration waiting in VERIFY_RESIZE.
    expect((await cloud.nova('POST', `/servers/${id}/action`, { migrate: null })).status).toBe(202);
    for (;;) {
      const s = await cloud.nova<{ server: { status: string } }>('GET', `/servers/${id}`);
      if (s.body.server.status === 'VERIFY_RESIZE') break;
      await delay(200);
    }
    const err = await cloud.driver.startMove(id, 'MIGRATE', 'k-busy').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DriverError);
    expect((err as DriverError).retryable).toBe(true);
    expect(await actions(id, 'migrate')).toBe(1);
    await cloud.nova('POST', `/servers/${id}/action`, { confirmResize: null });
    for (;;) {
      const s = await cloud.nova<{ server: { status: string; 'OS-EXT-STS:task_state': string | null } }>('GET', `/servers/${id}`);
      if (s.body.server.status === 'ACTIVE' && !s.body.server['OS-EXT-STS:task_state']) break;
      await delay(200);
    }
  });

  it('live-migrates', async () => {
    const id = await place(hosts[0]!);
    const d = fresh();
    const st = await settle(d, await d.startMove(id, 'LIVE_MIGRATE', 'k-live'));
    expect(st.status, st.error).toBe('done');
    expect(await cloud.serverHost(id)).not.toBe(hosts[0]);
    expect(await actions(id, 'live-migration')).toBe(1);
  });

  for (const kind of ['MIGRATE', 'LIVE_MIGRATE'] as const) {
    it(`reports an asynchronous NoValidHost (${kind}, 202 then failure) with Nova's message`, async () => {
      const id = await place(hosts[0]!);
      for (const h of hosts.slice(1)) {
        disabled.push(h);
        await cloud.driver.setHostScheduling(h, false, 'test: no valid host');
      }
      const d = fresh();
      const ref = await d.startMove(id, kind, `k-novalid-${kind}`);
      const st = await settle(d, ref);
      expect(st.status).toBe('failed');
      expect(st.error).toMatch(/No valid host was found/);
      expect(st.host).toBe(hosts[0]);
      expect(await cloud.serverHost(id)).toBe(hosts[0]);
    });
  }

  it('negotiates the microversion and reads capacity from placement', async () => {
    const v = await cloud.driver.microversion();
    expect(v).toBe('2.87');
    const h = (await cloud.driver.listHosts()).find((x) => x.name === hosts[0])!;
    expect(h).toMatchObject({ type: 'compute', enabled: true });
    expect(h.vcpus).toBeGreaterThan(0);
    const ctl = (await cloud.driver.listHosts()).filter((x) => x.type === 'controller');
    expect(ctl.length).toBeGreaterThanOrEqual(1);
    const tooNew = new OpenStackDriver(cloud.keystone, { microversion: '2.999' });
    expect(await tooNew.microversion()).toMatch(/^2\.\d+$/);
    expect((await tooNew.listHosts()).find((x) => x.name === hosts[0])!.vcpus).toBe(h.vcpus);
  });

  it('a planned target goes to Nova and holds; a target the scheduler refuses fails the move with TARGET_REFUSED', async () => {
    const id = await place(hosts[0]!);
    const d = fresh();
    // The fullest-first scheduler would not pick hosts[2] on its own every time: ask for it.
    const ref = await d.startMove(id, 'MIGRATE', 'session-t:move-planned', { target: hosts[2]! });
    expect(decodeMoveRef(ref)).toMatchObject({ src: hosts[0], target: hosts[2] });
    const st = await settle(d, ref);
    expect(st, st.error).toEqual({ status: 'done', host: hosts[2] });
    expect(await cloud.serverHost(id)).toBe(hosts[2]);
    // A disabled target: Nova's scheduler refuses it (202, then NoValidHost); nothing moved.
    disabled.push(hosts[1]!);
    await cloud.driver.setHostScheduling(hosts[1]!, false, 'test: refused target');
    const r2 = await d.startMove(id, 'MIGRATE', 'session-t:move-refused', { target: hosts[1]! });
    const st2 = await settle(d, r2);
    expect(st2.status).toBe('failed');
    expect(st2.error).toMatch(new RegExp(`^${TARGET_REFUSED}: Nova refused ${hosts[1]}: No valid host was found`));
    expect(await cloud.serverHost(id)).toBe(hosts[2]);
  });

  it("with Nova's notifications: the move is followed by its events, with few reads, and the inventory follows without a listing", async () => {
    const url = process.env.FENIX_NOVA_NOTIFICATIONS;
    expect(url, 'the lane exports FENIX_NOVA_NOTIFICATIONS').toBeTruthy();
    const events = new NovaNotifications({ url: url! });
    await events.start();
    try {
      const id = await place(hosts[0]!);
      const reads: string[] = [];
      const counted = new Proxy(cloud.keystone, {
        get(t, k) {
          if (k === 'request') return (svc: string, path: string, o?: object) => (svc === 'compute' && reads.push(path), t.request(svc, path, o));
          const v = Reflect.get(t, k) as unknown;
          return typeof v === 'function' ? v.bind(t) : v;
        },
      });
      const d = new OpenStackDriver(counted, { events });
      const first = await d.watch(null);
      const ref = await d.startMove(id, 'MIGRATE', 'session-e:move');
      const st = await settle(d, ref);
      expect(st.status, st.error).toBe('done');
      const ch = await d.watch(first.cursor);
      expect(ch.full).toBe(false);
      expect(ch.instances.find((i) => i.id === id)?.host).toBe(st.host);
      // Asked of Nova for the whole move: the read before it, then one read per step-ending event
      // (finish → confirm, confirmed → done) and the safety read if an event was slow; one listing.
      const serverReads = reads.filter((p) => p === `/servers/${id}`).length;
      expect(serverReads).toBeLessThanOrEqual(4);
      expect(reads.filter((p) => p.startsWith('/servers/detail')).length).toBe(1);
      expect(reads.filter((p) => p.endsWith('/action')).length).toBe(2); // migrate, and one confirmResize
    } finally {
      await events.close();
    }
  });
});
