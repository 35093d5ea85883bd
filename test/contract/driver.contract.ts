// Behaviour every InfraDriver must show (spec §8), written against the port only, so the same suite
// runs against the simulator, a real Nova and a real Kubernetes. Each test gets a fresh env and the
// suite restores the scheduling it changed, so it is safe on a shared test cloud.
//
// An infrastructure may move an instance by replacing it (Kubernetes: the evicted pod is deleted and
// its controller starts a new one, with a new id, where the scheduler puts it): such an env says
// which instance now does the work (`successor`), and the suite disables a source host before it
// empties it, as a drain does, since such a scheduler may otherwise choose the source again.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DriverError, type HostInfo, type InfraDriver, type InstanceInfo, type MoveKind, type OpStatus, type WorldChanges } from '../../src/ports/infra-driver.js';

export interface DriverContractEnv {
  driver: InfraDriver;
  /** Wait (advance a manual clock, or poll) until the op is no longer running; returns its final status. */
  settle: (ref: string) => Promise<OpStatus>;
  /** At least 3 compute hosts, enabled and with room for a few small instances, that the suite may use. */
  hosts: string[];
  /** Create an instance of `vcpus` on `host` (bypassing the scheduler); returns its id. */
  placeInstance: (host: string, vcpus: number) => Promise<string>;
  /** The move the infrastructure supports for these instances (default MIGRATE). */
  moveKind?: MoveKind;
  /** Delete what placeInstance created and undo anything else; called after every test. */
  cleanup: () => Promise<void>;
  /** Delete one instance (placeInstance's) now; the watch tests check that it is reported gone. */
  deleteInstance?: (id: string) => Promise<void>;
  /** Moves replace instances: the id of the instance that took over from `id` after its move. */
  successor?: (id: string) => Promise<string | undefined>;
}

export function describeDriverContract(name: string, makeEnv: () => Promise<DriverContractEnv>): void {
  describe(`InfraDriver contract: ${name}`, () => {
    let env: DriverContractEnv;
    let driver: InfraDriver;
    const disabled = new Set<string>();

    const disable = async (host: string) => {
      disabled.add(host);
      await driver.setHostScheduling(host, false, 'contract test');
    };
    const hostOf = async (id: string) => (await driver.listInstances()).find((i) => i.id === id)?.host;
    const hostInfo = async (host: string) => (await driver.listHosts()).find((h) => h.name === host);
    /** Where an instance's work runs after its move: the instance itself, or its successor. */
    const whereIs = async (id: string) => {
      const now = env.successor ? await env.successor(id) : id;
      return now === undefined ? undefined : { id: now, host: await hostOf(now) };
    };
    /** Before emptying `host` of an infrastructure that replaces instances: disable it, as a drain does. */
    const drain = async (host: string) => {
      if (env.successor) await disable(host);
    };

    beforeEach(async () => {
      env = await makeEnv();
      driver = env.driver;
      disabled.clear();
      expect(env.hosts.length).toBeGreaterThanOrEqual(3);
    });

    afterEach(async () => {
      for (const h of disabled) await driver.setHostScheduling(h, true, 'contract test done');
      await env.cleanup();
    });

    it('has a name', () => {
      expect(typeof driver.name).toBe('string');
      expect(driver.name.length).toBeGreaterThan(0);
    });

    it('lists the compute hosts with their type and capacity', async () => {
      const hosts = await driver.listHosts();
      const names = hosts.map((h) => h.name);
      expect(new Set(names).size).toBe(names.length);
      for (const name of env.hosts) {
        const h = hosts.find((x) => x.name === name);
        expect(h, `host ${name} listed`).toBeDefined();
        expect(h!.type).toBe('compute');
        expect(h!.vcpus).toBeGreaterThan(0);
        expect(h!.vcpusUsed).toBeGreaterThanOrEqual(0);
        expect(h!.vcpusUsed).toBeLessThanOrEqual(h!.vcpus);
        expect(typeof h!.enabled).toBe('boolean');
      }
      for (const h of hosts) expect(['compute', 'controller', 'other']).toContain(h.type);
    });

    it('disables and enables scheduling idempotently, visible in listHosts', async () => {
      const host = env.hosts[0]!;
      await disable(host);
      await driver.setHostScheduling(host, false, 'contract test');
      expect((await hostInfo(host))?.enabled).toBe(false);
      await driver.setHostScheduling(host, true, 'contract test');
      await driver.setHostScheduling(host, true, 'contract test');
      expect((await hostInfo(host))?.enabled).toBe(true);
      disabled.delete(host);
    });

    it('lists placed instances with their host, and counts them in vcpusUsed', async () => {
      const host = env.hosts[0]!;
      const before = (await hostInfo(host))!.vcpusUsed;
      const id = await env.placeInstance(host, 1);
      const inst = (await driver.listInstances()).find((i) => i.id === id);
      expect(inst).toMatchObject({ id, host, vcpus: 1 });
      expect(typeof inst!.projectId).toBe('string');
      expect(typeof inst!.name).toBe('string');
      expect((await hostInfo(host))!.vcpusUsed).toBe(before + 1);
    });

    it('filters instances by hosts and by project', async () => {
      const [h0, h1, h2] = env.hosts as [string, string, string];
      const a = await env.placeInstance(h0, 1);
      const b = await env.placeInstance(h1, 1);

      const onH0 = await driver.listInstances({ hosts: [h0] });
      expect(onH0.map((i) => i.id)).toContain(a);
      expect(onH0.map((i) => i.id)).not.toContain(b);
      for (const i of onH0) expect(i.host).toBe(h0);

      const onBoth = (await driver.listInstances({ hosts: [h0, h1] })).map((i) => i.id);
      expect(onBoth).toEqual(expect.arrayContaining([a, b]));
      const onH2 = (await driver.listInstances({ hosts: [h2] })).map((i) => i.id);
      expect(onH2).not.toContain(a);
      expect(onH2).not.toContain(b);

      const project = (await driver.listInstances()).find((i) => i.id === a)!.projectId;
      const mine = await driver.listInstances({ projectId: project });
      expect(mine.map((i) => i.id)).toContain(a);
      for (const i of mine) expect(i.projectId).toBe(project);
      const none = await driver.listInstances({ projectId: `no-such-project-${Date.now()}` });
      expect(none).toEqual([]);

      const both = await driver.listInstances({ hosts: [h0], projectId: project });
      expect(both.map((i) => i.id)).toContain(a);
      for (const i of both) expect(i).toMatchObject({ host: h0, projectId: project });
    });

    it('moves an instance to another enabled host, never onto a disabled one', async () => {
      const [src, off] = env.hosts as [string, string];
      const id = await env.placeInstance(src, 1);
      await env.placeInstance(off, 1); // the fullest host: a packing scheduler's first choice if it ignored the flag
      await disable(off);
      await drain(src);
      const ref = await driver.startMove(id, env.moveKind ?? 'MIGRATE', `contract-move-${id}`);
      expect(typeof ref).toBe('string');
      const st = await env.settle(ref);
      expect(st.status, st.error).toBe('done');
      const now = (await whereIs(id))?.host;
      expect(now).toBeDefined();
      expect(now).not.toBe(src);
      expect(now).not.toBe(off);
      if (st.host !== undefined) expect(st.host).toBe(now);
      expect((await hostInfo(now!))?.enabled).toBe(true);
      // a finished op keeps answering
      expect((await driver.getOperation(ref)).status).toBe('done');
    });

    it('reports a running op with an expected finish time', async () => {
      const id = await env.placeInstance(env.hosts[0]!, 1);
      const ref = await driver.startMove(id, env.moveKind ?? 'MIGRATE', `contract-running-${id}`);
      const st = await driver.getOperation(ref);
      expect(['running', 'done']).toContain(st.status);
      if (st.expectedAt !== undefined) expect(Number.isFinite(st.expectedAt)).toBe(true);
      expect((await env.settle(ref)).status).toBe('done');
    });

    it('starts one move for the same key, even when called twice at once', async () => {
      const src = env.hosts[0]!;
      const id = await env.placeInstance(src, 1);
      await drain(src);
      const key = `contract-idem-${id}`;
      const kind = env.moveKind ?? 'MIGRATE';
      const [r1, r2] = await Promise.all([driver.startMove(id, kind, key), driver.startMove(id, kind, key)]);
      expect(r2).toBe(r1);
      expect(await driver.startMove(id, kind, key)).toBe(r1);
      const st = await env.settle(r1);
      expect(st.status, st.error).toBe('done');
      const landed = await whereIs(id);
      expect(landed?.host).toBeDefined();
      expect(landed?.host).not.toBe(src);
      // after completion the same key still names the same op and moves nothing (nor a successor)
      expect(await driver.startMove(id, kind, key)).toBe(r1);
      expect((await env.settle(r1)).status).toBe('done');
      expect(await whereIs(id)).toEqual(landed);
    });

    it('rejects unknown instances and operations with a non-retryable DriverError', async () => {
      const e1 = await driver.startMove('no-such-instance-0000', env.moveKind ?? 'MIGRATE', 'contract-unknown').catch((e: unknown) => e);
      expect(e1).toBeInstanceOf(DriverError);
      expect((e1 as DriverError).retryable).toBe(false);
      expect((e1 as DriverError).code).toBe('NOT_FOUND');
      const e2 = await driver.getOperation('no-such-operation-0000').catch((e: unknown) => e);
      expect(e2).toBeInstanceOf(DriverError);
      expect((e2 as DriverError).retryable).toBe(false);
    });

    it('getInstance (optional) answers one instance like the listing, undefined for an unknown id', async () => {
      if (!driver.getInstance) return;
      const id = await env.placeInstance(env.hosts[1]!, 1);
      expect(await driver.getInstance(id)).toEqual((await driver.listInstances()).find((i) => i.id === id));
      expect(await driver.getInstance('00000000-0000-4000-8000-00000000dead')).toBeUndefined();
    });

    // ---- the change feed (optional: a driver without watch() is listed instead) ----

    /** The world as a consumer of the feed sees it: the first answer, then each delta applied. */
    class Mirror {
      cursor: string | null = null;
      hosts = new Map<string, HostInfo>();
      instances = new Map<string, InstanceInfo>();
      async look(): Promise<WorldChanges> {
        const ch = await driver.watch!(this.cursor);
        expect(typeof ch.cursor).toBe('string');
        if (ch.full) {
          this.hosts.clear();
          this.instances.clear();
          expect(ch.removed).toEqual([]);
        }
        for (const h of ch.hosts) this.hosts.set(h.name, h);
        for (const i of ch.instances) this.instances.set(i.id, i);
        for (const id of ch.removed) this.instances.delete(id);
        this.cursor = ch.cursor;
        return ch;
      }
    }
    const names = (xs: { name: string }[]) => xs.map((x) => x.name);
    const ids = (xs: { id: string }[]) => xs.map((x) => x.id);
    const itWatch = (title: string, fn: () => Promise<void>) => it(title, async () => (driver.watch ? fn() : undefined));

    itWatch('watch(null) answers the whole world, like the listings', async () => {
      await env.placeInstance(env.hosts[0]!, 1);
      const ch = await driver.watch!(null);
      expect(ch.full).toBe(true);
      expect(ch.removed).toEqual([]);
      expect(new Set(names(ch.hosts))).toEqual(new Set(names(await driver.listHosts())));
      expect(new Set(ids(ch.instances))).toEqual(new Set(ids(await driver.listInstances())));
      for (const h of env.hosts) expect(ch.hosts.find((x) => x.name === h)).toEqual(await hostInfo(h));
    });

    itWatch('then answers only what changed: created instances and the hosts they use', async () => {
      const [h0] = env.hosts as [string];
      const m = new Mirror();
      await m.look();
      const id = await env.placeInstance(h0, 1);
      const ch = await m.look();
      expect(ch.full).toBe(false);
      expect(ch.instances.find((i) => i.id === id)).toMatchObject({ id, host: h0, vcpus: 1 });
      expect(ch.hosts.find((h) => h.name === h0)).toEqual(await hostInfo(h0));
      expect(ch.removed).not.toContain(id);
      // each id once, the current value
      expect(new Set(ids(ch.instances)).size).toBe(ch.instances.length);
      expect(new Set(names(ch.hosts)).size).toBe(ch.hosts.length);
      // nothing new: the instance is not reported again
      const again = await m.look();
      expect(again.full).toBe(false);
      expect(ids(again.instances)).not.toContain(id);
    });

    itWatch('reports a finished move (the instance and both hosts) and a scheduling change', async () => {
      const [src, , other] = env.hosts as [string, string, string];
      const id = await env.placeInstance(src, 1);
      await drain(src);
      const m = new Mirror();
      await m.look();
      const ref = await driver.startMove(id, env.moveKind ?? 'MIGRATE', `contract-watch-move-${id}`);
      const st = await env.settle(ref);
      expect(st.status, st.error).toBe('done');
      const at = (await whereIs(id))!;
      const dst = at.host!;
      const ch = await m.look();
      expect(ch.full).toBe(false);
      expect(ch.instances.find((i) => i.id === at.id)?.host).toBe(dst);
      if (at.id !== id) expect(ch.removed).toContain(id);
      expect(ch.hosts.find((h) => h.name === src)).toEqual(await hostInfo(src));
      expect(ch.hosts.find((h) => h.name === dst)).toEqual(await hostInfo(dst));

      // (the source of a replacing infrastructure is disabled already: another host then)
      const flip = env.successor ? other : src;
      await disable(flip);
      const off = await m.look();
      expect(off.full).toBe(false);
      expect(off.hosts.find((h) => h.name === flip)?.enabled).toBe(false);
      await driver.setHostScheduling(flip, true, 'contract test');
      disabled.delete(flip);
      expect((await m.look()).hosts.find((h) => h.name === flip)?.enabled).toBe(true);
    });

    itWatch('reports deleted instances as removed', async () => {
      if (!env.deleteInstance) return;
      const [h0, h1] = env.hosts as [string, string];
      const gone = await env.placeInstance(h0, 1);
      const m = new Mirror();
      await m.look();
      const born = await env.placeInstance(h1, 1);
      await env.deleteInstance(gone);
      const ch = await m.look();
      expect(ch.full).toBe(false);
      expect(ch.removed).toContain(gone);
      expect(ids(ch.instances)).not.toContain(gone);
      expect(ids(ch.instances)).toContain(born);
      expect(ch.hosts.find((h) => h.name === h0)).toEqual(await hostInfo(h0));
      expect(m.instances.has(gone)).toBe(false);
    });

    itWatch('answers an unknown cursor with the whole world', async () => {
      await env.placeInstance(env.hosts[0]!, 1);
      for (const cursor of ['no-such-cursor', '0', 'x:1', '']) {
        const ch = await driver.watch!(cursor);
        expect(ch.full, `cursor ${JSON.stringify(cursor)}`).toBe(true);
        expect(new Set(ids(ch.instances))).toEqual(new Set(ids(await driver.listInstances())));
      }
    });

    itWatch('a consumer of the feed sees what the listings show', async () => {
      const [h0, h1, h2] = env.hosts as [string, string, string];
      const m = new Mirror();
      await m.look();
      const a = await env.placeInstance(h0, 1);
      const b = await env.placeInstance(h1, 2);
      await m.look();
      await drain(h0);
      const r1 = await driver.startMove(a, env.moveKind ?? 'MIGRATE', `contract-watch-a-${a}`);
      await disable(h2);
      await drain(h1);
      const r2 = await driver.startMove(b, env.moveKind ?? 'MIGRATE', `contract-watch-b-${b}`);
      await env.settle(r1);
      await env.settle(r2);
      const watched = [a, b];
      for (const id of [a, b]) {
        const next = env.successor ? await env.successor(id) : id;
        if (next !== undefined && next !== id) watched.push(next);
      }
      if (env.deleteInstance) await env.deleteInstance((await whereIs(a))?.id ?? a);
      await m.look();
      const hosts = await driver.listHosts();
      const instances = await driver.listInstances();
      expect(new Map([...m.hosts].filter(([n]) => env.hosts.includes(n)))).toEqual(new Map(hosts.filter((h) => env.hosts.includes(h.name)).map((h) => [h.name, h])));
      for (const id of watched) expect(m.instances.get(id)).toEqual(instances.find((i) => i.id === id));
    });
  });
}
