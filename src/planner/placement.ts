// Where an instance may go: capacity, anti-affinity and max_instances_per_host over a mutable view
// of hosts (placed instances plus reservations of moves in flight). Shared by the planner's
// simulation and the vnf workflow's live checks, so both judge a target the same way. Pure.
import type { GroupRules } from '../domain/constraints.js';

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

  /** Count an instance on a host (placed, or a move's reservation on its target). */
  add(inst: Placeable, host: string): void {
    this.taken.set(host, (this.taken.get(host) ?? 0) + inst.vcpus);
    if (inst.group) {
      let m = this.members.get(inst.group.groupId);
      if (!m) this.members.set(inst.group.groupId, (m = new Map()));
      m.set(host, (m.get(host) ?? 0) + 1);
    }
  }

  remove(inst: Placeable, host: string): void {
    this.taken.set(host, (this.taken.get(host) ?? 0) - inst.vcpus);
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

  /** Best fit among `hosts` (least room left, then the given order); null when none fits. */
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
