// Where an instance may go: capacity, anti-affinity and max_instances_per_host over a mutable view
// of hosts (placed instances plus reservations of moves in flight). Shared by the planner's
// simulation and the vnf workflow's live checks, so both judge a target the same way. Pure.
import type { GroupRules } from '../domain/constraints.js';
import { SortedList } from '../domain/sorted-list.js';

export interface PlacementHost {
  name: string;
  /** vCPUs. */
  capacity: number;
}

export interface Placeable {
  id: string;
  vcpus: number;
  group: GroupRules | null;
}

export type Refusal =
  | { kind: 'capacity'; free: number }
  | { kind: 'anti_affinity'; group: string }
  | { kind: 'max_instances_per_host'; group: string; limit: number };

export class Placement {
  private readonly cap = new Map<string, number>();
  private readonly taken = new Map<string, number>();
  /** group id → host → members placed there or on their way. */
  private readonly members = new Map<string, Map<string, number>>();
  /** Pools to keep current when a host's free vCPUs change. */
  private readonly pools: HostPool[] = [];

  constructor(hosts: PlacementHost[]) {
    for (const h of hosts) {
      this.cap.set(h.name, h.capacity);
      this.taken.set(h.name, 0);
    }
  }

  has(host: string): boolean {
    return this.cap.has(host);
  }

  free(host: string): number {
    return (this.cap.get(host) ?? 0) - (this.taken.get(host) ?? 0);
  }

  membersOn(group: string, host: string): number {
    return this.members.get(group)?.get(host) ?? 0;
  }

  /** Hosts holding members of `group` (placed or on their way), with how many; O(those hosts). */
  hostsOf(group: string): [string, number][] {
    return [...(this.members.get(group) ?? [])];
  }

  /** A pool of hosts indexed by free vCPUs that this placement keeps current (see HostPool). */
  pool(hosts: Iterable<string> = []): HostPool {
    const p = new HostPool(this);
    for (const h of hosts) p.add(h);
    this.pools.push(p);
    return p;
  }

  private setTaken(host: string, taken: number): void {
    const before = this.free(host);
    this.taken.set(host, taken);
    for (const p of this.pools) if (p.has(host)) p.moved(host, before, this.free(host));
  }

  /** Count an instance on a host (placed, or a move's reservation on its target). O(1), O(log) per pool holding the host. */
  add(inst: Placeable, host: string): void {
    this.setTaken(host, (this.taken.get(host) ?? 0) + inst.vcpus);
    if (inst.group) {
      let m = this.members.get(inst.group.groupId);
      if (!m) this.members.set(inst.group.groupId, (m = new Map()));
      m.set(host, (m.get(host) ?? 0) + 1);
    }
  }

  remove(inst: Placeable, host: string): void {
    this.setTaken(host, (this.taken.get(host) ?? 0) - inst.vcpus);
    const m = inst.group && this.members.get(inst.group.groupId);
    if (m) {
      const n = (m.get(host) ?? 0) - 1;
      if (n > 0) m.set(host, n);
      else m.delete(host);
    }
  }

  /** Why `host` cannot take `inst` now, or null when it can. */
  refusal(inst: Placeable, host: string): Refusal | null {
    const free = this.free(host);
    if (free < inst.vcpus) return { kind: 'capacity', free };
    const g = inst.group;
    if (g) {
      const n = this.membersOn(g.groupId, host);
      if (g.antiAffinity && n > 0) return { kind: 'anti_affinity', group: g.groupId };
      if (g.maxPerHost > 0 && n >= g.maxPerHost) return { kind: 'max_instances_per_host', group: g.groupId, limit: g.maxPerHost };
    }
    return null;
  }

  /** Best fit among `hosts` (least room left, then the given order); null when none fits. O(hosts): for many calls over a large set, use a HostPool. */
  bestFit(inst: Placeable, hosts: Iterable<string>, exclude?: (host: string) => boolean): string | null {
    let best: string | null = null;
    let bestLeft = Infinity;
    for (const h of hosts) {
      if (exclude?.(h)) continue;
      const left = this.free(h) - inst.vcpus;
      if (left < 0 || left >= bestLeft) continue;
      if (this.refusal(inst, h)) continue;
      best = h;
      bestLeft = left;
      if (left === 0) break;
    }
    return best;
  }
}

interface PoolEntry {
  seq: number;
  host: string;
}

/** First index in the ascending `xs` holding a value >= `x`. */
function lowerIndex(xs: number[], x: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const bySeq = (a: PoolEntry, b: PoolEntry) => a.seq - b.seq;

/**
 * An ordered set of hosts (insertion order) indexed by their free vCPUs, which the Placement it
 * belongs to keeps current as instances are counted on and off them. bestFit answers what
 * Placement.bestFit would over the same hosts in the same order — least room left, then the
 * earliest inserted — without scanning every host: it walks the free values from the instance's
 * size up and stops at the first host that takes it, so it only passes hosts its group refuses or
 * `exclude` names. The planner's target tiers are pools.
 */
export class HostPool implements Iterable<string> {
  private readonly order = new Set<string>();
  private readonly entries = new Map<string, PoolEntry>();
  private next = 0;
  /** free vCPUs → the pool's hosts with that much free, by insertion order. */
  private readonly buckets = new Map<number, SortedList<PoolEntry>>();
  /** The free values that have hosts, ascending (few: a host's vCPUs bound them). */
  private readonly keys: number[] = [];
  private positive = 0;

  constructor(private readonly placement: Placement) {}

  get size(): number {
    return this.order.size;
  }

  has(host: string): boolean {
    return this.order.has(host);
  }

  [Symbol.iterator](): Iterator<string> {
    return this.order[Symbol.iterator]();
  }

  /** Σ max(0, free vCPUs) over the pool; O(1). */
  get freeVcpus(): number {
    return this.positive;
  }

  /** Add a host at the end of the order (no-op when present). O(log n) (SortedList). */
  add(host: string): void {
    if (this.order.has(host)) return;
    const e = { seq: this.next++, host };
    this.order.add(host);
    this.entries.set(host, e);
    this.insert(e, this.placement.free(host));
  }

  delete(host: string): void {
    const e = this.entries.get(host);
    if (!e) return;
    this.order.delete(host);
    this.entries.delete(host);
    this.take(e, this.placement.free(host));
  }

  /** The placement changed the host's free vCPUs. O(log n) (SortedList). */
  moved(host: string, before: number, after: number): void {
    if (before === after) return;
    const e = this.entries.get(host)!;
    this.take(e, before);
    this.insert(e, after);
  }

  /** Placement.bestFit over this pool. O(log k + k + skipped), k distinct free values, skipped = hosts refused or excluded. */
  bestFit(inst: Placeable, exclude?: (host: string) => boolean): string | null {
    const takes = (e: PoolEntry) => !exclude?.(e.host) && !this.placement.refusal(inst, e.host);
    for (let k = lowerIndex(this.keys, inst.vcpus); k < this.keys.length; k++) {
      const e = this.buckets.get(this.keys[k]!)!.find(takes);
      if (e) return e.host;
    }
    return null;
  }

  private insert(e: PoolEntry, free: number): void {
    let b = this.buckets.get(free);
    if (!b) {
      this.buckets.set(free, (b = new SortedList(bySeq)));
      this.keys.splice(lowerIndex(this.keys, free), 0, free);
    }
    b.insert(e);
    this.positive += Math.max(0, free);
  }

  private take(e: PoolEntry, free: number): void {
    const b = this.buckets.get(free)!;
    b.delete(e);
    if (!b.size) {
      this.buckets.delete(free);
      this.keys.splice(lowerIndex(this.keys, free), 1);
    }
    this.positive -= Math.max(0, free);
  }
}

export function describeRefusal(r: Refusal, host: string): string {
  switch (r.kind) {
    case 'capacity':
      return `${host} has ${r.free} vCPUs free`;
    case 'anti_affinity':
      return `${host} already holds a member of anti-affinity group ${r.group}`;
    case 'max_instances_per_host':
      return `${host} already holds ${r.limit} members of group ${r.group} (max_instances_per_host)`;
  }
}
