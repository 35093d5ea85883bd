// A lower bound on the action phase of a maintenance session (from the first notification to the
// last host maintained), from capacity and constraints alone. No schedule can beat it; the vnf
// planner's own schedule is measured against it (docs/bench.md). Pure.
//
// - capacity: while a host is maintained its vCPUs hold nothing, and while an instance moves it
//   holds room on both ends; so the free capacity F of the hosts that may take instances, times the
//   duration, must cover Σ host vCPUs × maintenance time + Σ instance vCPUs × move time.
//   Integrally: only so many whole hosts fit in the free capacity at once, each for the whole
//   maintenance time, and none starts before the first host could be emptied.
// - host: a host is done at the earliest after its slowest instance was notified, moved, and the
//   host maintained.
// - group: members of a group are moved at most `max_impacted_members` at a time, each impact
//   lasting the move plus `recovery_time`; the last member's host is maintained afterwards.
// - serial: non-compute hosts are maintained one at a time; `max_parallel_hosts` caps the rest.

export interface BoundInstance {
  vcpus: number;
  /** Earliest start after the first notification (reply / lead_time), s. */
  readyS: number;
  moveS: number;
  group: string | null;
}

export interface BoundHost {
  compute: boolean;
  vcpus: number;
  /** May take instances after its maintenance (enabled scheduling). */
  enabled: boolean;
  instances: BoundInstance[];
}

export interface BoundGroup {
  id: string;
  maxImpacted: number;
  recoveryS: number;
}

export interface LowerBound {
  /** The bound: the largest of the parts (s). */
  totalS: number;
  /** The larger of the fluid and the integral capacity bounds. */
  capacityS: number;
  /** Fluid capacity bound: free capacity × time covers maintenance and moves. */
  fluidS: number;
  /** Hosts that fit in maintenance at once (integral capacity bound). */
  slots: number;
  hostS: number;
  groupS: number;
  /** The group behind groupS. */
  group: string | null;
  serialS: number;
  binding: 'capacity' | 'host' | 'group' | 'serial';
}

/** O(n + m log m + g) for n instances, m hosts, g groups. */
export function lowerBound(args: {
  /** Hosts of the session (to be maintained). */
  hosts: BoundHost[];
  /** vCPUs that may take instances during the session (enabled compute hosts, in or out of it). */
  capacity: number;
  /** vCPUs used by instances that have to stay somewhere (all instances on compute hosts). */
  used: number;
  groups: BoundGroup[];
  hostMaintenanceS: number;
  maxParallelHosts: number;
}): LowerBound {
  const th = args.hostMaintenanceS;
  let work = 0;
  let firstReady = Infinity;
  let hostS = 0;
  const members = new Map<string, BoundInstance[]>();
  for (const h of args.hosts) {
    let slowest = 0;
    for (const i of h.instances) {
      work += i.vcpus * i.moveS;
      firstReady = Math.min(firstReady, i.readyS);
      slowest = Math.max(slowest, i.readyS + i.moveS);
      if (i.group) {
        const list = members.get(i.group) ?? [];
        list.push(i);
        members.set(i.group, list);
      }
    }
    if (h.compute && h.enabled) work += h.vcpus * th;
    hostS = Math.max(hostS, slowest + th);
  }
  if (!Number.isFinite(firstReady)) firstReady = 0;
  const free = args.capacity - args.used;
  const capacityS = work === 0 ? 0 : free > 0 ? firstReady + work / free : Infinity;

  let groupS = 0;
  let group: string | null = null;
  for (const g of args.groups) {
    const list = members.get(g.id);
    if (!list?.length || g.maxImpacted <= 0) continue;
    const rounds = Math.ceil(list.length / g.maxImpacted);
    let move = Infinity;
    let ready = Infinity;
    for (const i of list) {
      move = Math.min(move, i.moveS);
      ready = Math.min(ready, i.readyS);
    }
    const s = ready + rounds * move + (rounds - 1) * g.recoveryS + th;
    if (s > groupS) {
      groupS = s;
      group = g.id;
    }
  }

  // Integral capacity: at most `slots` hosts can be in maintenance at once (the smallest ones
  // fitting in the free capacity), each for the maintenance time, after the first host emptied.
  const maintained = args.hosts.filter((h) => h.compute && h.enabled);
  let slots = 0;
  let room = free;
  for (const c of maintained.map((h) => h.vcpus).sort((a, b) => a - b)) {
    if (c > room) break;
    room -= c;
    slots++;
  }
  // Loops, not Math.min(...spread): no argument-count limit however many hosts and instances.
  let firstEmpty = Infinity;
  for (const h of maintained) {
    let empty = 0;
    for (const i of h.instances) empty = Math.max(empty, i.readyS + i.moveS);
    firstEmpty = Math.min(firstEmpty, empty);
  }
  const slotS = !maintained.length ? 0 : slots > 0 ? firstEmpty + Math.ceil(maintained.length / slots) * th : Infinity;
  const capacity = Math.max(capacityS, slotS);

  const nonCompute = args.hosts.filter((h) => !h.compute).length;
  const computes = args.hosts.length - nonCompute;
  let serialS = nonCompute * th;
  if (args.maxParallelHosts > 0) serialS = Math.max(serialS, Math.ceil(computes / args.maxParallelHosts) * th);

  const parts = { capacity, host: hostS, group: groupS, serial: serialS } as const;
  const binding = (Object.keys(parts) as (keyof typeof parts)[]).reduce((a, b) => (parts[b] > parts[a] ? b : a));
  return { totalS: parts[binding], capacityS: capacity, fluidS: capacityS, slots, hostS, groupS, group, serialS, binding };
}
