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

/** Instances of a host: a list to scan, or an index's answer. */
export type InstancesOn = (host: string) => Iterable<InstanceInfo>;

/** O(instances): group by host, for callers without an index. */
export function byHostOf(instances: readonly InstanceInfo[]): InstancesOn {
  const m = new Map<string, InstanceInfo[]>();
  for (const i of instances) {
    const l = m.get(i.host);
    if (l) l.push(i);
    else m.set(i.host, [i]);
  }
  return (h) => m.get(h) ?? [];
}

interface Candidate {
  name: string;
  on: InstanceInfo[];
  floating: number;
  used: number;
}

const better = (a: Candidate, b: Candidate): number =>
  a.floating - b.floating || a.used - b.used || a.on.length - b.on.length || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/**
 * The next host to empty: one whose instances fit on the other enabled compute hosts, preferring
 * hosts without floating-IP instances, then the least used (most free capacity), then the fewest
 * instances, then the name.
 *
 * Cost: O(hosts + instances on the candidates) when the best candidate fits (the usual case): the
 * best is found by one scan, and it is tried against the few largest free slots before all of them.
 * Only when it does not fit are the candidates sorted and tried in turn.
 */
export function chooseHostToEmpty(candidates: string[], hosts: HostInfo[], instances: InstanceInfo[] | InstancesOn): HostChoice {
  const on = typeof instances === 'function' ? instances : byHostOf(instances);
  const info = new Map(hosts.map((h) => [h.name, h]));
  const ranked: Candidate[] = [];
  for (const c of candidates) {
    if (!info.has(c)) continue;
    const list = [...on(c)];
    let used = 0;
    let floating = 0;
    for (const i of list) {
      used += i.vcpus;
      if (i.floatingIp) floating = 1;
    }
    ranked.push({ name: c, on: list, floating, used });
  }
  if (!ranked.length) return { host: null, reason: 'no compute host to empty' };
  const targets = hosts.filter((h) => h.type === 'compute' && h.enabled);
  const freeOf = (name: string) => targets.filter((h) => h.name !== name).map((h) => Math.max(0, h.vcpus - h.vcpusUsed));
  const fits = (c: Candidate): boolean => {
    const sizes = c.on.map((i) => i.vcpus);
    // Fast path: first-fit into the largest few slots only (enough whenever it succeeds).
    return fitsOn(sizes, largest(freeOf(c.name), sizes.length)) || fitsOn(sizes, freeOf(c.name));
  };
  let best = ranked[0]!;
  for (const c of ranked) if (better(c, best) < 0) best = c;
  if (fits(best)) return { host: best.name, reason: `its ${best.used} vCPUs fit elsewhere` };
  let worst = '';
  for (const c of ranked.sort(better)) {
    if (c !== best && fits(c)) return { host: c.name, reason: `its ${c.used} vCPUs fit elsewhere` };
    if (!worst) {
      const free = freeOf(c.name);
      worst = `${c.name} needs ${c.used} vCPUs but ${free.reduce((a, b) => a + b, 0)} are free elsewhere (largest slot ${Math.max(0, ...free)})`;
    }
  }
  return { host: null, reason: worst || 'no compute host to empty' };
}

/** The k largest values, O(n·k) for the small k of one host's instances. */
function largest(xs: number[], k: number): number[] {
  const top: number[] = [];
  for (const x of xs) {
    if (top.length < k) top.push(x);
    else {
      let m = 0;
      for (let i = 1; i < top.length; i++) if (top[i]! < top[m]!) m = i;
      if (x > top[m]!) top[m] = x;
    }
  }
  return top;
}
