// Capacity arithmetic over observed hosts and instances: pure, deterministic.
import type { HostInfo, InstanceInfo } from '../domain/infra.js';
import { cheaper, type HostTallies, type Ranked } from '../domain/open-hosts.js';

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

/** A candidate, ranked in the one order of the session's open hosts (domain/open-hosts.ts). */
interface Candidate extends Ranked {
  /** Its instances (with tallies: listed only for the candidates tried). */
  on: InstanceInfo[];
}


/**
 * The next host to empty: one whose instances fit on the other enabled compute hosts, preferring
 * hosts without floating-IP instances, then the least used (most free capacity), then the fewest
 * instances, then the name.
 *
 * Cost: with `tallies` (an index), O(hosts) with O(1) work per candidate and no allocation per
 * candidate when the best candidate fits (the usual case): the best is found by one scan of the
 * tallies, and its instances are tried against the few largest free slots before all of them. Only
 * when it does not fit are the candidates' instances listed, sorted and tried in turn.
 */
export function chooseHostToEmpty(candidates: string[], hosts: HostInfo[], instances: InstanceInfo[] | InstancesOn, tallies?: HostTallies): HostChoice {
  const on = typeof instances === 'function' ? instances : byHostOf(instances);
  const info = tallies ? null : new Map(hosts.map((h) => [h.name, h]));
  const known = (c: string) => (tallies ? tallies.host(c) !== undefined : info!.has(c));
  const tally = (c: string): Candidate => {
    if (tallies) return { name: c, on: [], floating: tallies.floatingOn(c) > 0 ? 1 : 0, used: tallies.vcpusOn(c), count: tallies.on(c).size };
    const list = [...on(c)];
    let used = 0;
    let floating = 0;
    for (const i of list) {
      used += i.vcpus;
      if (i.floatingIp) floating = 1;
    }
    return { name: c, on: list, floating, used, count: list.length };
  };
  const listed = (c: Candidate): Candidate => (tallies && c.on.length < c.count ? { ...c, on: [...on(c.name)] } : c);
  let best: Candidate | undefined;
  for (const c of candidates) {
    if (!known(c)) continue;
    const t = tally(c);
    if (!best || cheaper(t, best) < 0) best = t;
  }
  if (!best) return { host: null, reason: 'no compute host to empty' };
  const targets = hosts.filter((h) => h.type === 'compute' && h.enabled);
  const freeOf = (name: string) => targets.filter((h) => h.name !== name).map((h) => Math.max(0, h.vcpus - h.vcpusUsed));
  const fits = (c: Candidate): boolean => {
    const sizes = c.on.map((i) => i.vcpus);
    // Fast path: first-fit into the largest few slots only (enough whenever it succeeds).
    return fitsOn(sizes, largest(freeOf(c.name), sizes.length)) || fitsOn(sizes, freeOf(c.name));
  };
  best = listed(best);
  if (fits(best)) return { host: best.name, reason: `its ${best.used} vCPUs fit elsewhere` };
  const ranked = candidates.filter(known).map((c) => listed(tally(c)));
  let worst = '';
  for (const c of ranked.sort(cheaper)) {
    if (c.name !== best.name && fits(c)) return { host: c.name, reason: `its ${c.used} vCPUs fit elsewhere` };
    if (!worst) {
      const free = freeOf(c.name);
      worst = `${c.name} needs ${c.used} vCPUs but ${free.reduce((a, b) => a + b, 0)} are free elsewhere (largest slot ${Math.max(0, ...free)})`;
    }
  }
  return { host: null, reason: worst || 'no compute host to empty' };
}

/** Free vCPUs of enabled compute hosts, largest first (an observed index keeps them sorted). */
export interface FreeSlots {
  largestFree(k: number, except: string): number[];
}

/**
 * chooseHostToEmpty over candidates already ranked as it ranks them (the session's open hosts,
 * domain/open-hosts.ts): the first one the world knows is its best. O(k + log hosts) for a best of k
 * instances that fits into the k largest free slots elsewhere (the usual case); otherwise the
 * answer of chooseHostToEmpty over every candidate, O(hosts), which is the same by construction.
 */
export function chooseRankedHostToEmpty(ranked: Iterable<string>, tallies: HostTallies & FreeSlots, hosts: () => HostInfo[]): HostChoice {
  for (const c of ranked) {
    if (tallies.host(c) === undefined) continue;
    const sizes: number[] = [];
    for (const i of tallies.on(c)) sizes.push(i.vcpus);
    if (fitsOn(sizes, tallies.largestFree(sizes.length, c))) return { host: c, reason: `its ${tallies.vcpusOn(c)} vCPUs fit elsewhere` };
    break;
  }
  return chooseHostToEmpty([...ranked], hosts(), (h) => tallies.on(h), tallies);
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
