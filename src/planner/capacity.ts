// Capacity arithmetic over observed hosts and instances: pure, deterministic.
import type { HostInfo, InstanceInfo } from '../domain/infra.js';

/** Free vCPUs on hosts that can take instances (enabled compute hosts). */
export function freeCapacity(hosts: HostInfo[]): number {
  return hosts.filter((h) => h.type === 'compute' && h.enabled).reduce((n, h) => n + Math.max(0, h.vcpus - h.vcpusUsed), 0);
}

/** First-fit decreasing: can these instance sizes be packed into these free slots? */
export function fitsOn(sizes: number[], free: number[]): boolean {
  const room = [...free].sort((a, b) => b - a);
  for (const size of [...sizes].sort((a, b) => b - a)) {
    const i = room.findIndex((r) => r >= size);
    if (i < 0) return false;
    room[i]! -= size;
  }
  return true;
}

export interface HostChoice {
  host: string | null;
  /** Why no host could be chosen (or why this one). */
  reason: string;
}

/**
 * The next host to empty: one whose instances fit on the other enabled compute hosts, preferring
 * hosts without floating-IP instances, then the least used (most free capacity), then the fewest
 * instances, then the name.
 */
export function chooseHostToEmpty(candidates: string[], hosts: HostInfo[], instances: InstanceInfo[]): HostChoice {
  const byHost = new Map<string, InstanceInfo[]>();
  for (const i of instances) byHost.set(i.host, [...(byHost.get(i.host) ?? []), i]);
  const info = new Map(hosts.map((h) => [h.name, h]));
  const ranked = candidates
    .filter((c) => info.has(c))
    .map((c) => {
      const on = byHost.get(c) ?? [];
      return { name: c, on, floating: on.some((i) => i.floatingIp) ? 1 : 0, used: on.reduce((n, i) => n + i.vcpus, 0) };
    })
    .sort((a, b) => a.floating - b.floating || a.used - b.used || a.on.length - b.on.length || a.name.localeCompare(b.name));
  let worst = '';
  for (const c of ranked) {
    const targets = hosts.filter((h) => h.type === 'compute' && h.enabled && h.name !== c.name);
    const free = targets.map((h) => Math.max(0, h.vcpus - h.vcpusUsed));
    if (fitsOn(c.on.map((i) => i.vcpus), free)) return { host: c.name, reason: `its ${c.used} vCPUs fit elsewhere` };
    worst ||= `${c.name} needs ${c.used} vCPUs but ${free.reduce((a, b) => a + b, 0)} are free elsewhere (largest slot ${Math.max(0, ...free)})`;
  }
  return { host: null, reason: worst || 'no compute host to empty' };
}
