// Which instances on the hosts being emptied a vnf step needs to look at (issue 9). Most of them
// are waiting: for a reply, for their lead_time, for their planned target's maintenance to end.
// Judging every one of them on every step made a step cost the whole batch; the agenda parks a
// waiting instance until its time comes or something it depends on changes:
//  - its record or its observation changed (the engine's `observed.changed`, noted by decide on
//    every step it takes, since the engine starts noting afresh after each inventory step);
//  - its planned target's status or maintenance op changed (checked per target, each step);
//  - the plan, the constraints, the subscriptions or the session's timings changed (a new agenda).
// Everything else (instances ready to move, acting, or whose wait moves with the clock) is looked
// at on every step, as before. Kept per session index (the engine's lives as long as its lease; a
// snapshot built by hand gets a fresh one, and without `observed.changed` every step starts anew).
import type { SessionInstance } from '../../domain/model.js';
import type { SessionIndex } from '../../domain/session-index.js';

/** Ids the engine said changed, per session index, until an agenda takes them. */
interface Noted {
  ids: Set<string>;
  /** Changes happened that were not itemised: look at everything. */
  full: boolean;
}
const noted = new WeakMap<SessionIndex, Noted>();

/** Called by decide on every step that reaches the inventory step (the engine then forgets what it noted). */
export function noteChanges(index: SessionIndex, changed: ReadonlySet<string> | undefined): void {
  let n = noted.get(index);
  if (!n) noted.set(index, (n = { ids: new Set(), full: true }));
  if (!changed) {
    n.full = true;
    n.ids.clear();
  } else if (!n.full) for (const id of changed) n.ids.add(id);
}

/** A small binary min-heap of (time, instance). */
class Heap {
  private readonly xs: { at: number; rec: SessionInstance }[] = [];

  get size(): number {
    return this.xs.length;
  }

  clear(): void {
    this.xs.length = 0;
  }

  peek(): { at: number; rec: SessionInstance } | undefined {
    return this.xs[0];
  }

  push(at: number, rec: SessionInstance): void {
    const xs = this.xs;
    xs.push({ at, rec });
    let k = xs.length - 1;
    while (k > 0) {
      const p = (k - 1) >> 1;
      if (xs[p]!.at <= xs[k]!.at) break;
      [xs[p], xs[k]] = [xs[k]!, xs[p]!];
      k = p;
    }
  }

  pop(): void {
    const xs = this.xs;
    const last = xs.pop();
    if (!xs.length || !last) return;
    xs[0] = last;
    let k = 0;
    for (;;) {
      const l = 2 * k + 1;
      const r = l + 1;
      let m = k;
      if (l < xs.length && xs[l]!.at < xs[m]!.at) m = l;
      if (r < xs.length && xs[r]!.at < xs[m]!.at) m = r;
      if (m === k) return;
      [xs[m], xs[k]] = [xs[k]!, xs[m]!];
      k = m;
    }
  }
}

export interface AgendaKey {
  /** Plan, attempt, policy and timings, as one string. */
  fingerprint: string;
  constraints: object | undefined;
  subscribed: readonly string[];
}

export class Agenda {
  /** The emptied hosts of the last look. */
  emptying: ReadonlySet<string> = new Set();
  /** Looked at on every step. */
  readonly active = new Set<SessionInstance>();
  /** Waiting, until the time given (null: until something changes). */
  readonly parked = new Map<SessionInstance, number | null>();
  private readonly heap = new Heap();
  /** Instances waiting for a target's maintenance to end, and what the target looked like then. */
  private readonly byTarget = new Map<string, { mark: string; recs: Set<SessionInstance> }>();
  at: number;

  constructor(
    readonly key: AgendaKey,
    now: number,
  ) {
    this.at = now;
  }

  park(rec: SessionInstance, until: number | null, target?: { name: string; mark: string }): void {
    this.active.delete(rec);
    this.parked.set(rec, until);
    if (until !== null) this.heap.push(until, rec);
    if (target) {
      let t = this.byTarget.get(target.name);
      if (!t) this.byTarget.set(target.name, (t = { mark: target.mark, recs: new Set() }));
      t.recs.add(rec);
    }
    // Entries of earlier waits are dropped lazily; rebuild when they are most of the heap.
    if (this.heap.size > 2 * this.parked.size + 1024) this.rebuildHeap();
  }

  activate(rec: SessionInstance): void {
    this.parked.delete(rec);
    this.active.add(rec);
  }

  forget(rec: SessionInstance): void {
    this.parked.delete(rec);
    this.active.delete(rec);
  }

  /** Parked instances whose time has come (each once). */
  due(now: number, out: Set<SessionInstance>): void {
    for (let top = this.heap.peek(); top && top.at <= now; top = this.heap.peek()) {
      this.heap.pop();
      if (this.parked.get(top.rec) === top.at) out.add(top.rec);
    }
  }

  /** Instances waiting on a target that no longer looks the same; `mark` tells how it looks now. */
  targetsChanged(mark: (target: string) => string, out: Set<SessionInstance>): void {
    for (const [name, t] of this.byTarget) {
      if (mark(name) === t.mark) continue;
      for (const rec of t.recs) out.add(rec);
      this.byTarget.delete(name);
    }
  }

  /** The earliest time a parked instance that is still `eligible` waits for. */
  nextWake(eligible: (rec: SessionInstance) => boolean): number | null {
    for (let top = this.heap.peek(); top; top = this.heap.peek()) {
      if (this.parked.get(top.rec) === top.at && eligible(top.rec)) return top.at;
      this.heap.pop();
      if (this.parked.get(top.rec) === top.at) this.parked.delete(top.rec); // no longer on a host being emptied
    }
    return null;
  }

  private rebuildHeap(): void {
    this.heap.clear();
    for (const [rec, at] of this.parked) if (at !== null) this.heap.push(at, rec);
  }
}

const agendas = new WeakMap<SessionIndex, Agenda>();

const sameKey = (a: AgendaKey, b: AgendaKey) => a.fingerprint === b.fingerprint && a.constraints === b.constraints && a.subscribed === b.subscribed;

/**
 * The session's agenda and the ids changed since it last looked; `fresh` when it starts anew
 * (first look, something it cannot follow changed, or the clock went back): then look at every
 * instance on the hosts being emptied.
 */
export function agendaFor(index: SessionIndex, key: AgendaKey, now: number): { agenda: Agenda; fresh: boolean; changed: ReadonlySet<string> } {
  const n = noted.get(index);
  noted.set(index, { ids: new Set(), full: false });
  let a = agendas.get(index);
  const fresh = !n || n.full || !a || !sameKey(a.key, key) || now < a.at;
  if (fresh) agendas.set(index, (a = new Agenda(key, now)));
  a!.at = now;
  return { agenda: a!, fresh, changed: n?.ids ?? new Set() };
}

/** No host is being emptied: nothing to follow; the next look starts anew. */
export function dropAgenda(index: SessionIndex): void {
  agendas.delete(index);
  noted.set(index, { ids: new Set(), full: true });
}
