// Checks a recorded session against the constraints (spec §5): anti-affinity and
// max_instances_per_host at every moment, max_impacted_members with recovery_time, and lead_time
// before every move. Used by the benchmark and the conformance tests on what a session recorded.
// An instance counts on both hosts while it moves (its target is reserved, its source still holds
// it); a member is impacted from its move's start to its end plus recovery_time, and while it sits
// on a host in maintenance. Pure.
import { groupRules, instanceRules, type Constraints } from '../domain/constraints.js';

export interface RecordedMove {
  instance: string;
  from: string;
  to: string;
  startMs: number;
  endMs: number;
}

export interface VerifyInput {
  /** Where every instance was when the session began (or, with `fromMs`, when it appeared; `untilMs`: when it was deleted). */
  initial: { id: string; host: string; fromMs?: number; untilMs?: number }[];
  moves: RecordedMove[];
  /** Infrastructure maintenance of hosts. */
  maintenance: { host: string; startMs: number; endMs: number }[];
  /** Notifications that announced an instance's move (per instance, or per project: `project`). */
  notices: { instance?: string; project?: string; atMs: number }[];
  /** Project of each instance (for project-wide notices). */
  projectOf?: Record<string, string>;
  constraints: Constraints;
}

export type ViolationKind = 'anti_affinity' | 'max_instances_per_host' | 'max_impacted_members' | 'lead_time';

export interface Violation {
  kind: ViolationKind;
  atMs: number;
  group?: string;
  host?: string;
  instance?: string;
  message: string;
}

interface Interval {
  start: number;
  end: number;
}

/** Most intervals open at once, and when that was first reached. */
function peak(list: Interval[]): { n: number; at: number } {
  const ev: [number, number][] = [];
  for (const i of list) {
    if (i.end <= i.start) continue;
    ev.push([i.start, 1], [i.end, -1]);
  }
  ev.sort((a, b) => a[0] - b[0] || a[1] - b[1]); // ends before starts at the same instant
  let n = 0;
  let best = { n: 0, at: 0 };
  for (const [t, d] of ev) {
    n += d;
    if (n > best.n) best = { n, at: t };
  }
  return best;
}

/** The last of the ascending `times` at or before `at` (binary search), or null. */
function lastAtOrBefore(times: number[] | undefined, at: number): number | null {
  if (!times) return null;
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (times[mid]! <= at) lo = mid + 1;
    else hi = mid;
  }
  return lo > 0 ? times[lo - 1]! : null;
}

/** Append to the list under `key` (in place: building lists by copying is quadratic in their length). */
function append<K, V>(m: Map<K, V[]>, key: K, v: V): void {
  const list = m.get(key);
  if (list) list.push(v);
  else m.set(key, [v]);
}

// Cost: O(n + k log k) for n instances, k moves, notices and maintenance windows (sorts); the
// impact check also walks each member's stays against its hosts' maintenance windows.
export function verify(input: VerifyInput): Violation[] {
  const out: Violation[] = [];
  const groups = new Map(input.constraints.groups.map((g) => [g.groupId, groupRules(g)]));
  const rules = new Map(input.constraints.instances.map((c) => [c.instanceId, instanceRules(c)]));
  const moves = [...input.moves].sort((a, b) => a.startMs - b.startMs);
  const byInst = new Map<string, RecordedMove[]>();
  for (const m of moves) append(byInst, m.instance, m);

  // Where each instance is, over time.
  const stays = new Map<string, { host: string; start: number; end: number }[]>();
  for (const { id, host, fromMs, untilMs } of input.initial) {
    const list: { host: string; start: number; end: number }[] = [];
    let at = fromMs ?? -Infinity;
    let on = host;
    for (const m of byInst.get(id) ?? []) {
      list.push({ host: on, start: at, end: m.endMs });
      at = m.startMs;
      on = m.to;
    }
    list.push({ host: on, start: at, end: untilMs ?? Infinity });
    stays.set(id, list);
  }

  const members = new Map<string, string[]>();
  for (const { id } of input.initial) {
    const g = rules.get(id)?.groupId;
    if (g && groups.has(g)) append(members, g, id);
  }
  const maint = new Map<string, Interval[]>();
  for (const m of input.maintenance) append(maint, m.host, { start: m.startMs, end: m.endMs });

  for (const [gid, ids] of members) {
    const g = groups.get(gid)!;
    // Placement limits, host by host.
    const perHost = new Map<string, Interval[]>();
    for (const id of ids) for (const s of stays.get(id) ?? []) append(perHost, s.host, s);
    const limit = g.antiAffinity ? 1 : g.maxPerHost;
    if (limit > 0)
      for (const [host, list] of perHost) {
        const p = peak(list);
        if (p.n > limit)
          out.push({
            kind: g.antiAffinity ? 'anti_affinity' : 'max_instances_per_host',
            atMs: p.at,
            group: gid,
            host,
            message: `${p.n} members of group ${gid} on ${host} at once (limit ${limit})`,
          });
      }
    // Impact.
    if (g.maxImpacted > 0) {
      const impacts: Interval[] = [];
      for (const id of ids) {
        for (const m of byInst.get(id) ?? []) impacts.push({ start: m.startMs, end: m.endMs + g.recoveryS * 1000 });
        for (const s of stays.get(id) ?? [])
          for (const w of maint.get(s.host) ?? []) {
            const start = Math.max(s.start, w.start);
            const end = Math.min(s.end, w.end);
            if (end > start) impacts.push({ start, end });
          }
      }
      const p = peak(impacts);
      if (p.n > g.maxImpacted)
        out.push({ kind: 'max_impacted_members', atMs: p.at, group: gid, message: `${p.n} members of group ${gid} impacted at once (limit ${g.maxImpacted}, recovery ${g.recoveryS}s)` });
    }
  }

  // Lead time: the last notice before each move.
  const perInstance = new Map<string, number[]>();
  const perProject = new Map<string, number[]>();
  for (const n of input.notices) {
    if (n.instance) append(perInstance, n.instance, n.atMs);
    else if (n.project) append(perProject, n.project, n.atMs);
  }
  for (const list of perInstance.values()) list.sort((x, y) => x - y);
  for (const list of perProject.values()) list.sort((x, y) => x - y);
  for (const m of moves) {
    const lead = rules.get(m.instance)?.leadS ?? 0;
    if (lead <= 0) continue;
    const project = input.projectOf?.[m.instance];
    const a = lastAtOrBefore(perInstance.get(m.instance), m.startMs);
    const b = project ? lastAtOrBefore(perProject.get(project), m.startMs) : null;
    const last = a === null ? b : b === null ? a : Math.max(a, b);
    if (last === null || m.startMs - last < lead * 1000)
      out.push({
        kind: 'lead_time',
        atMs: m.startMs,
        instance: m.instance,
        message: `${m.instance} moved ${last === null ? 'without notice' : `${((m.startMs - last) / 1000).toFixed(1)}s after its notice`} (lead_time ${lead}s)`,
      });
  }
  return out;
}
