// The vnf workflow's live placement check over only the hosts a step asks about (issue 9). A
// step used to count every observed instance into one Placement before checking a few targets;
// here each host is counted when first asked about (its observed instances plus the reservations
// of moves in flight to it), so a step costs the hosts it considers; a search over many hosts
// reads their free vCPUs from the world's index and counts in full only the few that would fit.
// Each host is a one-host Placement, so a target is judged exactly as the planner judges it. Pure.
import { Placement, type Placeable } from '../../planner/placement.js';

export interface HostLoad {
  /** vCPUs (0 for a host the infrastructure does not report, as Placement counts it). */
  capacity: number;
  /** What is on it or on its way to it. */
  on: Iterable<Placeable>;
}

export class HostLoads {
  private readonly hosts = new Map<string, Placement>();

  /**
   * `load` counts a host in full (for group rules); `quickFree`, when given, tells a host's free
   * vCPUs without that (it must agree with `load`), so a search over many hosts counts in full
   * only those that would fit.
   */
  constructor(
    private readonly load: (host: string) => HostLoad,
    private readonly quickFree?: (host: string) => number,
  ) {}

  private at(host: string): Placement {
    let p = this.hosts.get(host);
    if (!p) {
      const l = this.load(host);
      p = new Placement([{ name: host, capacity: l.capacity }]);
      for (const i of l.on) p.add(i, host);
      this.hosts.set(host, p);
    }
    return p;
  }

  free(host: string): number {
    const p = this.hosts.get(host);
    if (p) return p.free(host);
    return this.quickFree ? this.quickFree(host) : this.at(host).free(host);
  }

  refusal(inst: Placeable, host: string) {
    return this.at(host).refusal(inst, host);
  }

  add(inst: Placeable, host: string): void {
    this.at(host).add(inst, host);
  }

  /** Placement.bestFit over `hosts`: least room left, then the given order; null when none fits. Counts every host it passes. */
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
