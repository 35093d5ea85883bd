// Indexes over a session and the observed world, so that a workflow step costs what it looks at,
// not what the session holds: hosts, instances, projects and ops by key; instances by host; the ops
// still in flight; hosts by status; the hosts still to maintain, ranked (open-hosts.ts); the free
// vCPUs of the observed compute hosts, sorted. The engine keeps one per live session and updates it
// as it applies each decision (see engine/live-session.ts); a snapshot built by hand (tests) gets
// one built on first use. Every lookup here is O(1), O(log n) or O(answer).
import type { HostInfo, InstanceInfo } from './infra.js';
import type { HostStatus, Op, SessionHost, SessionInstance, SessionProject } from './model.js';
import { OpenHosts, type OpenHostsView } from './open-hosts.js';
import type { SessionData } from './snapshot.js';
import { SortedList } from './sorted-list.js';

/** Read side, for workflows. */
export interface SessionIndex {
  host(name: string): SessionHost | undefined;
  hostsWith(status: HostStatus): ReadonlySet<SessionHost>;
  instance(id: string): SessionInstance | undefined;
  /** Session records whose last known host is `host` (any status). */
  instancesOn(host: string): ReadonlySet<SessionInstance>;
  /** Records with status `moving`. */
  moving(): ReadonlySet<SessionInstance>;
  project(id: string): SessionProject | undefined;
  op(key: string): Op | undefined;
  /**
   * Ops of a kind on a subject (host, plug-in), oldest first. Moves are not listed: there is one
   * per instance and source host, found by key, and a list per instance would cost memory for
   * nothing (10,000 hosts: 80,000 lists).
   */
  opsOf(kind: IndexedOpKind, subject: string): readonly Op[];
  /** Ops pending or started. */
  active(): ReadonlySet<Op>;
  emitted(key: string): boolean;
  /**
   * The hosts still to maintain, ranked against this observed world: built on first use (O(hosts)),
   * then kept current by the index's updates.
   */
  openHosts(observed: ObservedIndex): OpenHostsView;
}

/** The observed world, indexed. */
export interface ObservedIndex {
  host(name: string): HostInfo | undefined;
  instance(id: string): InstanceInfo | undefined;
  /** Observed instances on `host`. */
  on(host: string): ReadonlySet<InstanceInfo>;
  /** Σ vCPUs of the observed instances on `host`: O(1). */
  vcpusOn(host: string): number;
  /** How many observed instances on `host` have a floating IP: O(1). */
  floatingOn(host: string): number;
  /** Every observed host's name, sorted. */
  hostNames(): readonly string[];
  /** The `k` largest free vCPU counts of enabled compute hosts other than `except`: O(k + log hosts). */
  largestFree(k: number, except: string): number[];
}

/** The op kinds opsOf lists. */
export type IndexedOpKind = Exclude<Op['kind'], 'move'>;

const EMPTY: ReadonlySet<never> = new Set();
const NONE: readonly never[] = [];

/** A compute host's free vCPUs (as planner/capacity.ts counts them). */
interface Slot {
  name: string;
  free: number;
}
const byFree = (a: Slot, b: Slot): number => b.free - a.free || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** Mutable index of a session: the engine applies every change through it. */
export class MutableSessionIndex implements SessionIndex {
  private readonly hosts = new Map<string, SessionHost>();
  private readonly byStatus = new Map<HostStatus, Set<SessionHost>>();
  private readonly instances = new Map<string, SessionInstance>();
  private readonly byHost = new Map<string, Set<SessionInstance>>();
  private readonly movingSet = new Set<SessionInstance>();
  private readonly projects = new Map<string, SessionProject>();
  private readonly ops = new Map<string, Op>();
  private readonly opsBy = new Map<string, Op[]>();
  private readonly activeOps = new Set<Op>();
  private readonly events = new Set<string>();
  private open: OpenHosts | null = null;

  /** O(session), once: when a session is loaded. */
  constructor(d: Pick<SessionData, 'hosts' | 'instances' | 'projects' | 'ops' | 'eventKeys'>) {
    for (const h of d.hosts) this.addHost(h);
    for (const i of d.instances) this.addInstance(i);
    for (const p of d.projects) this.projects.set(p.projectId, p);
    for (const o of d.ops) this.addOp(o);
    for (const k of d.eventKeys) this.events.add(k);
  }

  host = (name: string) => this.hosts.get(name);
  hostsWith = (status: HostStatus): ReadonlySet<SessionHost> => this.byStatus.get(status) ?? EMPTY;
  instance = (id: string) => this.instances.get(id);
  instancesOn = (host: string): ReadonlySet<SessionInstance> => this.byHost.get(host) ?? EMPTY;
  moving = (): ReadonlySet<SessionInstance> => this.movingSet;
  project = (id: string) => this.projects.get(id);
  op = (key: string) => this.ops.get(key);
  opsOf = (kind: IndexedOpKind, subject: string): readonly Op[] => this.opsBy.get(`${kind}\u0000${subject}`) ?? NONE;
  active = (): ReadonlySet<Op> => this.activeOps;
  emitted = (key: string) => this.events.has(key);

  openHosts(observed: ObservedIndex): OpenHostsView {
    if (this.open?.observed !== observed) this.open = new OpenHosts(this.hosts.values(), observed);
    return this.open;
  }

  // ---- updates (the engine's, as it applies a decision) ----

  /** Hosts come only with the session (the open hosts are built from them). */
  private addHost(h: SessionHost): void {
    this.hosts.set(h.name, h);
    this.setOf(this.byStatus, h.status).add(h);
  }

  /** Patch a host in place, keeping the status index right. */
  patchHost(h: SessionHost, patch: Partial<SessionHost>): void {
    const moved = patch.status !== undefined && patch.status !== h.status;
    if (moved) {
      this.byStatus.get(h.status)?.delete(h);
      this.setOf(this.byStatus, patch.status!).add(h);
    }
    Object.assign(h, patch);
    if (moved) this.open?.update(h);
  }

  /** These hosts' observed instances changed (in the observed index the open hosts are ranked against). */
  retally(hosts: Iterable<string>): void {
    this.open?.retally(hosts);
  }

  addInstance(i: SessionInstance): void {
    this.instances.set(i.instanceId, i);
    this.setOf(this.byHost, i.host).add(i);
    if (i.status === 'moving') this.movingSet.add(i);
  }

  patchInstance(i: SessionInstance, patch: Partial<SessionInstance>): void {
    if (patch.host !== undefined && patch.host !== i.host) {
      this.byHost.get(i.host)?.delete(i);
      this.setOf(this.byHost, patch.host).add(i);
    }
    Object.assign(i, patch);
    if (i.status === 'moving') this.movingSet.add(i);
    else this.movingSet.delete(i);
  }

  addProject(p: SessionProject): void {
    this.projects.set(p.projectId, p);
  }

  addOp(o: Op): void {
    this.ops.set(o.key, o);
    if (o.kind === 'move') return this.trackOp(o);
    const k = `${o.kind}\u0000${o.subject}`;
    const list = this.opsBy.get(k);
    if (list) list.push(o);
    else this.opsBy.set(k, [o]);
    this.trackOp(o);
  }

  /** After an op's status changed in place. */
  trackOp(o: Op): void {
    if (o.status === 'pending' || o.status === 'started') this.activeOps.add(o);
    else this.activeOps.delete(o);
  }

  addEvent(key: string): void {
    this.events.add(key);
  }

  private setOf<K, V>(m: Map<K, Set<V>>, k: K): Set<V> {
    let s = m.get(k);
    if (!s) m.set(k, (s = new Set()));
    return s;
  }
}

/** Mutable index of the observed world: rebuilt from a full listing, or patched from a driver's changes. */
export class MutableObservedIndex implements ObservedIndex {
  private readonly hosts = new Map<string, HostInfo>();
  private readonly instances = new Map<string, InstanceInfo>();
  private readonly byHost = new Map<string, Set<InstanceInfo>>();
  private readonly used = new Map<string, number>();
  private readonly floating = new Map<string, number>();
  /** Host names sorted; a new host is inserted in place (hosts come and go rarely). */
  private readonly names: string[];
  /** Enabled compute hosts by free vCPUs, most first (then name). */
  private readonly free = new SortedList<Slot>(byFree);
  private readonly slots = new Map<string, Slot>();

  constructor(o: { hosts: readonly HostInfo[]; instances: readonly InstanceInfo[] }) {
    for (const h of o.hosts) {
      this.hosts.set(h.name, h);
      this.slot(h);
    }
    this.names = [...this.hosts.keys()].sort();
    for (const i of o.instances) this.putInstance(i);
  }

  host = (name: string) => this.hosts.get(name);
  instance = (id: string) => this.instances.get(id);
  on = (host: string): ReadonlySet<InstanceInfo> => this.byHost.get(host) ?? EMPTY;
  vcpusOn = (host: string): number => this.used.get(host) ?? 0;
  floatingOn = (host: string): number => this.floating.get(host) ?? 0;
  hostNames = (): readonly string[] => this.names;

  largestFree(k: number, except: string): number[] {
    const out: number[] = [];
    if (k <= 0) return out;
    for (const s of this.free) {
      if (s.name === except) continue;
      out.push(s.free);
      if (out.length === k) break;
    }
    return out;
  }

  private hostsCache: HostInfo[] | null = null;
  private instancesCache: InstanceInfo[] | null = null;

  /** As lists (sorted like a driver's listing), rebuilt only after a change. */
  hostList(): HostInfo[] {
    return (this.hostsCache ??= [...this.hosts.values()]);
  }

  instanceList(): InstanceInfo[] {
    return (this.instancesCache ??= [...this.instances.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)));
  }

  putHost(h: HostInfo): void {
    if (!this.hosts.has(h.name)) {
      let at = this.names.length;
      while (at > 0 && this.names[at - 1]! > h.name) at--;
      this.names.splice(at, 0, h.name);
    }
    this.hosts.set(h.name, h);
    this.hostsCache = null;
    this.slot(h);
  }

  /** Keep the host's free slot current: O(log hosts). */
  private slot(h: HostInfo): void {
    const old = this.slots.get(h.name);
    if (old) {
      this.free.delete(old);
      this.slots.delete(h.name);
    }
    if (h.type === 'compute' && h.enabled) {
      const slot = { name: h.name, free: Math.max(0, h.vcpus - h.vcpusUsed) };
      this.slots.set(h.name, slot);
      this.free.insert(slot);
    }
  }

  putInstance(i: InstanceInfo): void {
    this.removeInstance(i.id);
    this.instances.set(i.id, i);
    let s = this.byHost.get(i.host);
    if (!s) this.byHost.set(i.host, (s = new Set()));
    s.add(i);
    this.used.set(i.host, (this.used.get(i.host) ?? 0) + i.vcpus);
    if (i.floatingIp) this.floating.set(i.host, (this.floating.get(i.host) ?? 0) + 1);
  }

  removeInstance(id: string): void {
    this.instancesCache = null;
    const old = this.instances.get(id);
    if (!old) return;
    this.instances.delete(id);
    this.byHost.get(old.host)?.delete(old);
    this.used.set(old.host, (this.used.get(old.host) ?? 0) - old.vcpus);
    if (old.floatingIp) this.floating.set(old.host, (this.floating.get(old.host) ?? 0) - 1);
  }
}
