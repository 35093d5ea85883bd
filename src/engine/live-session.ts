// A session the engine owns, held in memory between steps (issue 9): loaded once when the engine
// takes the lease, then kept in step with the database by applying each committed decision to it
// (what the engine wrote) and merging what others wrote (the change feed). A step never reads the
// whole session again. The database stays the truth: losing this object (a crash, a lost lease)
// costs one reload, nothing else.
import { ownedConstraints, type Constraints } from '../domain/constraints.js';
import { merge, type Decision, type InstancePatch, type ProjectPatch } from '../domain/decision.js';
import type { Op, SessionInstance, SessionProject } from '../domain/model.js';
import { MutableSessionIndex } from '../domain/session-index.js';
import type { SessionData } from '../domain/snapshot.js';
import type { Applied, LoadedSnapshot, OpPatch, SessionChanges } from '../ports/store.js';
import type { WorldChanges } from './world.js';

/** Own defined fields only: a patch's `undefined` means "not changed". */
const defined = <T extends object>(p: T): Partial<T> => {
  const out: Partial<T> = {};
  for (const k of Object.keys(p) as (keyof T)[]) if (p[k] !== undefined) out[k] = p[k];
  return out;
};

/** A project row as the store creates it (rows.newProject), before its patch. */
const newProject = (sessionId: string, p: ProjectPatch): SessionProject => ({
  sessionId,
  projectId: p.projectId,
  interacting: false,
  awaiting: null,
  askKey: null,
  notifiedAt: null,
  replyAt: null,
  reply: null,
  repliedAt: null,
  lastReply: null,
  lastReplyAt: null,
  unreachable: false,
  ...defined(p),
});

/** An instance row as the store creates it (rows.newInstance). */
const newInstance = (sessionId: string, i: InstancePatch): SessionInstance => ({
  sessionId,
  instanceId: i.instanceId,
  projectId: i.projectId!,
  name: i.name ?? i.instanceId,
  host: i.host!,
  originHost: i.originHost ?? i.host!,
  vcpus: i.vcpus ?? 0,
  floatingIp: i.floatingIp ?? false,
  liveMigratable: i.liveMigratable ?? false,
  action: i.action ?? null,
  status: i.status ?? 'present',
  moves: i.moves ?? 0,
  error: i.error ?? null,
  askState: i.askState ?? null,
  askKey: i.askKey ?? null,
  notifiedAt: i.notifiedAt ?? null,
  replyAt: i.replyAt ?? null,
  reply: i.reply ?? null,
  repliedAt: i.repliedAt ?? null,
});

/** The rows a decision writes, about: what holding it until the next write costs. */
export const rowsOf = (d: Decision): number =>
  (d.hosts?.length ?? 0) + (d.projects?.length ?? 0) + (d.instances?.length ?? 0) + (d.ops?.length ?? 0) + (d.events?.length ?? 0) + (d.timeline?.length ?? 0);

export class LiveSession {
  readonly data: SessionData;
  readonly index: MutableSessionIndex;
  /** Change feeds read up to here. */
  changeSeq: number;
  globalSeq: number;
  /** Change rows up to here are known to be dropped from the store. */
  trimmedSeq: number;
  /** Instances to look at in the next inventory step (undefined: all of them). */
  private inventory: Set<string> | undefined = undefined;
  /** Op outcomes noted in memory, written with the next commit. */
  readonly pendingOps = new Map<number, OpPatch>();

  /** O(session), once per lease. */
  constructor(
    snap: LoadedSnapshot,
    readonly fence: number,
  ) {
    const { changeSeq, globalSeq, ...data } = snap;
    this.data = data;
    this.index = new MutableSessionIndex(data);
    this.changeSeq = changeSeq;
    this.globalSeq = globalSeq;
    this.trimmedSeq = 0;
  }

  get id(): string {
    return this.data.session.id;
  }

  /** Mirror a committed decision: O(size of the decision). Answers the projects it added. */
  apply(d: Decision, applied: Applied, now: number): string[] {
    const added: string[] = [];
    const { data, index } = this;
    const s = data.session;
    if (d.session) {
      const { control, percentDone, ...rest } = d.session;
      Object.assign(s, defined(rest));
      if (percentDone !== undefined) s.percentDone = Math.round(percentDone);
      if (control !== undefined) s.control = null;
    }
    if (d.wakeAt !== undefined) s.wakeAt = d.wakeAt;
    s.updatedAt = now;
    for (const h of d.hosts ?? []) {
      const known = index.host(h.name);
      if (known) index.patchHost(known, defined(h));
    }
    for (const p of d.projects ?? []) {
      const known = index.project(p.projectId);
      if (known) Object.assign(known, defined(p));
      else {
        this.addProject(newProject(s.id, p));
        added.push(p.projectId);
      }
    }
    for (const i of d.instances ?? []) {
      this.inventory?.add(i.instanceId);
      const known = index.instance(i.instanceId);
      if (known) index.patchInstance(known, defined(i));
      else if (i.projectId !== undefined && i.host !== undefined) {
        const row = newInstance(s.id, i);
        data.instances.push(row);
        index.addInstance(row);
      }
    }
    for (const o of applied.ops) {
      data.ops.push(o);
      index.addOp(o);
    }
    for (const e of d.events ?? []) {
      if (index.emitted(e.key)) continue; // decided before
      index.addEvent(e.key);
      data.eventKeys.push(e.key);
    }
    this.delivered(d, applied.fanout);
    return added;
  }

  /** Delivery counts of the asks just written (the store's fan-out per new event key). */
  delivered(d: Decision, fanout: ReadonlyMap<string, number>): void {
    for (const e of d.events ?? []) {
      const n = fanout.get(e.key);
      if (n !== undefined && n > 0 && e.eventType === 'maintenance.scheduled') this.data.deliveries[e.key] = { delivered: 0, pending: n, dead: 0 };
    }
  }

  /**
   * Decisions without intents, already applied here, not yet written: they go with the next write
   * (one transaction instead of one per step). Losing them to a crash is harmless: nothing outside
   * was done on their strength, and the next engine decides them again from the rows.
   */
  private buffered: Decision[] = [];
  /** Rows the buffered decisions write (rowsOf). */
  private bufferedRowCount = 0;

  get bufferedCount(): number {
    return this.buffered.length;
  }

  get bufferedRows(): number {
    return this.bufferedRowCount;
  }

  /** Apply a decision without intents in memory and keep it for the next write. */
  defer(d: Decision, now: number): string[] {
    this.buffered.push(d);
    this.bufferedRowCount += rowsOf(d);
    return this.apply(d, { ops: [], fanout: new Map(), changeSeq: this.changeSeq }, now);
  }

  /** The buffered decisions followed by `d`, as one decision (later patches win; the last wake-up wins). */
  withBuffered(d: Decision): { all: Decision; earlier: Decision[] } {
    const earlier = this.buffered;
    this.buffered = [];
    this.bufferedRowCount = 0;
    if (!earlier.length) return { all: d, earlier };
    const all = merge(...earlier, d);
    let wake: number | null | undefined;
    for (const x of [...earlier, d]) if (x.wakeAt !== undefined) wake = x.wakeAt;
    if (wake === undefined) delete all.wakeAt;
    else all.wakeAt = wake;
    return { all, earlier };
  }

  /** Constraints of projects that joined the session, merged with those held. */
  addConstraints(c: Constraints): void {
    const held = this.data.constraints ?? { instances: [], groups: [] };
    const merged = { instances: [...held.instances, ...c.instances], groups: [...held.groups, ...c.groups] };
    this.data.constraints = ownedConstraints(merged, (id) => this.index.instance(id)?.projectId);
  }

  /** The world was observed again: these instances and hosts changed ('all': a new world). */
  observedChanges(changed: WorldChanges): void {
    if (changed === 'all') {
      this.inventory = undefined;
      return;
    }
    if (this.inventory) for (const id of changed.instances) this.inventory.add(id);
    this.index.retally(changed.hosts);
  }

  inventoryChanges(): ReadonlySet<string> | undefined {
    return this.inventory;
  }

  /** The inventory step ran over what was noted: start noting afresh. */
  inventoryTaken(): void {
    if (this.inventory) this.inventory.clear();
    else this.inventory = new Set();
  }

  /** Projects stay sorted by id, as loaded (few; O(projects) per new one). */
  private addProject(p: SessionProject): void {
    const list = this.data.projects;
    let at = list.length;
    while (at > 0 && list[at - 1]!.projectId > p.projectId) at--;
    list.splice(at, 0, p);
    this.index.addProject(p);
  }

  /** An op's outcome, recorded in the store, mirrored here. */
  patchOp(op: Op, patch: Partial<Op>): void {
    Object.assign(op, patch);
    this.index.trackOp(op);
  }

  /** Merge what others wrote: O(rows changed). */
  merge(ch: SessionChanges): void {
    const { data, index } = this;
    if (ch.session) {
      // The session row holds no plan (store: session_plans). Plans are made by the lease holder
      // alone, so the one held here is current.
      const plan = data.session.phase.plan;
      Object.assign(data.session, ch.session);
      if (plan !== undefined && !('plan' in data.session.phase)) data.session.phase = { ...data.session.phase, plan };
    }
    for (const p of ch.projects) {
      const known = index.project(p.projectId);
      if (known) Object.assign(known, p);
      else this.addProject(p);
    }
    for (const i of ch.instances) {
      this.inventory?.add(i.instanceId);
      const known = index.instance(i.instanceId);
      if (known) index.patchInstance(known, i);
      else {
        data.instances.push(i);
        index.addInstance(i);
      }
    }
    Object.assign(data.deliveries, ch.deliveries);
    if (ch.subscribedProjects) data.subscribedProjects = ch.subscribedProjects;
    if (ch.constraints) data.constraints = ownedConstraints(ch.constraints, (id) => index.instance(id)?.projectId);
    this.changeSeq = Math.max(this.changeSeq, ch.changeSeq);
    this.globalSeq = Math.max(this.globalSeq, ch.globalSeq);
  }
}
