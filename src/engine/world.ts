// The observed world, held by the engine for every session it owns: refreshed from the driver's
// change feed when it has one (O(changes)), else by listing everything and comparing (O(world)).
// Each refresh tells which instances changed, so a session's inventory step looks only at those.
import type { HostInfo, InstanceInfo } from '../domain/infra.js';
import { MutableObservedIndex } from '../domain/session-index.js';
import type { ObservedWorld } from '../domain/snapshot.js';
import type { InfraDriver } from '../ports/infra-driver.js';

const sameInstance = (a: InstanceInfo, b: InstanceInfo): boolean =>
  a.host === b.host && a.projectId === b.projectId && a.vcpus === b.vcpus && a.name === b.name && a.floatingIp === b.floatingIp && a.liveMigratable === b.liveMigratable;

/** What a look changed: instances (ids) and the hosts whose instances changed; 'all': a new world. */
export type WorldChanges = { instances: Set<string>; hosts: Set<string> } | 'all';

export class World {
  private index: MutableObservedIndex | null = null;
  private cursor: string | null = null;
  /** The look under way: looks run one after another, so an older answer never lands on a newer one. */
  private looking: Promise<unknown> = Promise.resolve();

  constructor(private readonly driver: InfraDriver) {}

  /** Look again. Answers what changed, or 'all' when everything is new. */
  refresh(): Promise<WorldChanges> {
    const look = this.looking.then(() => this.look());
    this.looking = look.catch(() => {}); // a failed look fails its caller only
    return look;
  }

  private async look(): Promise<WorldChanges> {
    if (this.driver.watch) {
      const ch = await this.driver.watch(this.cursor);
      this.cursor = ch.cursor;
      if (ch.full || !this.index) {
        this.index = new MutableObservedIndex(ch);
        return 'all';
      }
      const index = this.index;
      for (const h of ch.hosts) index.putHost(h);
      const instances = new Set<string>();
      const hosts = new Set<string>();
      const left = (id: string) => {
        const old = index.instance(id);
        if (old) hosts.add(old.host);
        instances.add(id);
      };
      for (const i of ch.instances) {
        left(i.id);
        hosts.add(i.host);
        index.putInstance(i);
      }
      for (const id of ch.removed) {
        left(id);
        index.removeInstance(id);
      }
      return { instances, hosts };
    }
    const [hosts, instances] = await Promise.all([this.driver.listHosts(), this.driver.listInstances()]);
    const old = this.index;
    this.index = new MutableObservedIndex({ hosts, instances });
    if (!old) return 'all';
    // A new index: what is ranked against the old one is built afresh (hosts: none to retally).
    const changed = new Set<string>();
    for (const i of instances) {
      const before = old.instance(i.id);
      if (!before || !sameInstance(before, i)) changed.add(i.id);
    }
    for (const i of old.instanceList()) if (!this.index.instance(i.id)) changed.add(i.id);
    return { instances: changed, hosts: new Set() };
  }

  /** The world for one session's decide; `changed` as ObservedWorld.changed. */
  view(changed: ReadonlySet<string> | undefined): ObservedWorld {
    const index = this.index ?? new MutableObservedIndex({ hosts: [], instances: [] });
    return {
      get hosts(): HostInfo[] {
        return index.hostList();
      },
      get instances(): InstanceInfo[] {
        return index.instanceList();
      },
      index,
      ...(changed && { changed }),
    };
  }
}
