// The session's hosts still to maintain (status neither maintained nor failed), in the orders the
// default workflow chooses from (issue 9): compute hosts cheapest to empty first, by the observed
// tallies of their instances; compute hosts holding nothing, and hosts of other types, in session
// order. The session index keeps it current as hosts change status and the observed world changes
// (retally), so choosing the next host costs O(log hosts + answer), not a scan of every host of the
// session on every step (at 10,000 hosts those scans were most of the default workflow's time).
import type { HostInfo, InstanceInfo } from './infra.js';
import type { SessionHost } from './model.js';
import { SortedList } from './sorted-list.js';

/** O(1) facts about a host's observed instances (an ObservedIndex keeps them). */
export interface HostTallies {
  host(name: string): HostInfo | undefined;
  on(host: string): Iterable<InstanceInfo> & { readonly size: number };
  vcpusOn(host: string): number;
  floatingOn(host: string): number;
}

/** Read side, for workflows. */
export interface OpenHostsView {
  /** The observed world the ranking is current with. */
  readonly observed: HostTallies;
  /** Open hosts, of every type. */
  readonly size: number;
  readonly computeCount: number;
  /** Open compute hosts, cheapest to empty first (lazily: O(1) per host walked; walk it as often as needed). */
  cheapest(): Iterable<string>;
  /** Open compute hosts holding no observed instance, in session order. O(answer). */
  emptyComputes(): string[];
  /** Open hosts of other types, in session order. O(answer). */
  others(): string[];
  /** The first host, in session order, that can be maintained without moving anything: of another type, or an empty compute host. */
  firstReady(): string | undefined;
}

/** A host as ranked for emptying, from its tallies. */
export interface Ranked {
  name: string;
  /** 1 when any of its instances has a floating IP. */
  floating: number;
  used: number;
  count: number;
}

/**
 * Cheapest to empty first: no floating-IP instance, fewest vCPUs used, fewest instances, name. The
 * one order of planner/capacity.ts's choice and of this ranking (the ranked choice relies on it).
 */
export const cheaper = (a: Ranked, b: Ranked): number =>
  a.floating - b.floating || a.used - b.used || a.count - b.count || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
const byNumber = (a: number, b: number): number => a - b;

const isOpen = (h: SessionHost): boolean => h.status !== 'maintained' && h.status !== 'failed';

export class OpenHosts implements OpenHostsView {
  private readonly ranked = new SortedList<Ranked>(cheaper);
  private readonly computes = new Map<string, Ranked>();
  /** Positions of the open compute hosts that hold nothing. */
  private readonly empty = new SortedList<number>(byNumber);
  /** Positions of the open hosts of other types. */
  private readonly rest = new SortedList<number>(byNumber);
  private readonly restSet = new Set<string>();
  private readonly position = new Map<string, number>();
  private readonly names: string[] = [];

  /** O(hosts · log hosts), once per session index and observed world. `hosts` in session order. */
  constructor(
    hosts: Iterable<SessionHost>,
    readonly observed: HostTallies,
  ) {
    for (const h of hosts) {
      this.position.set(h.name, this.names.length);
      this.names.push(h.name);
      this.update(h);
    }
  }

  get size(): number {
    return this.computes.size + this.restSet.size;
  }

  get computeCount(): number {
    return this.computes.size;
  }

  cheapest(): Iterable<string> {
    const ranked = this.ranked;
    // An iterable, not an iterator: it can be walked more than once.
    return {
      *[Symbol.iterator]() {
        for (const r of ranked) yield r.name;
      },
    };
  }

  emptyComputes(): string[] {
    return [...this.empty].map((p) => this.names[p]!);
  }

  others(): string[] {
    return [...this.rest].map((p) => this.names[p]!);
  }

  firstReady(): string | undefined {
    const a = this.empty.first();
    const b = this.rest.first();
    const p = a === undefined ? b : b === undefined ? a : Math.min(a, b);
    return p === undefined ? undefined : this.names[p];
  }

  /** A host's status changed: O(log hosts). */
  update(h: SessionHost): void {
    const pos = this.position.get(h.name);
    if (pos === undefined) return;
    if (h.type !== 'compute') {
      if (isOpen(h) && !this.restSet.has(h.name)) {
        this.restSet.add(h.name);
        this.rest.insert(pos);
      } else if (!isOpen(h) && this.restSet.delete(h.name)) this.rest.delete(pos);
      return;
    }
    const known = this.computes.get(h.name);
    if (isOpen(h) && !known) {
      const r = this.tally(h.name);
      this.computes.set(h.name, r);
      this.ranked.insert(r);
      if (r.count === 0) this.empty.insert(pos);
    } else if (!isOpen(h) && known) {
      this.computes.delete(h.name);
      this.ranked.delete(known);
      if (known.count === 0) this.empty.delete(pos);
    }
  }

  /** These hosts' observed instances changed: O(log hosts) each; hosts not open here are skipped. */
  retally(hosts: Iterable<string>): void {
    for (const name of hosts) {
      const r = this.computes.get(name);
      if (!r) continue;
      const t = this.tally(name);
      if (cheaper(r, t) === 0) continue;
      this.ranked.delete(r); // found by its old key
      const pos = this.position.get(name)!;
      if (r.count === 0 && t.count !== 0) this.empty.delete(pos);
      if (r.count !== 0 && t.count === 0) this.empty.insert(pos);
      Object.assign(r, t);
      this.ranked.insert(r);
    }
  }

  private tally(name: string): Ranked {
    const o = this.observed;
    return { name, floating: o.floatingOn(name) > 0 ? 1 : 0, used: o.vcpusOn(name), count: o.on(name).size };
  }
}
