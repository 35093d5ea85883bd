// An in-memory cloud that behaves like a slow real one: moves and host maintenance take scenario
// time on the injected Clock, a deterministic best-fit scheduler picks targets, failures can be
// injected, and (opened over a SimulatorStateStore, or with statePath) the cloud survives a restart.
//
// Modelling decisions:
// - Operations complete lazily: every call first completes the ops whose finishAt <= clock.now(),
//   in finishAt order. No timers, so a ManualClock drives it completely and a restarted process
//   finds moves that "finished while it was down" done.
// - An instance stays on its source host until its move completes; the target's capacity is
//   reserved from the start. listHosts/hostsView report actual placement only (no reservations).
// - EVICTION removes the instance and re-creates it on the target after evict_s, keeping the same
//   id (a real Kubernetes pod would get a new name/uid; the simulator keeps ids stable for clarity).
// - Injected failures are checked when an op finishes, so failMigrationsOf() also fails moves
//   already in flight, and heal() lets them succeed.
// - Finished ops are kept (getOperation answers for them after a restart). Over a row store only
//   the newest FINISHED_IN_MEMORY stay in memory; older ones are read back by ref when asked
//   (10,000 hosts: 130,000 finished ops would otherwise be ~30 MB of heap nobody reads).
// - No call costs O(cloud) except a whole listing: indexes (per-host instances, usage, reservations,
//   the schedulable hosts in best-fit order, running ops by completion time) are updated by each
//   change, and a change log answers watch() with what changed since a cursor.
//
// Persistence, two ways:
// - `SimulatedDriver.open(…, { state })` (what `fenix serve` uses, in its own database): every
//   mutation marks the rows it changed; the changed rows are written in one transaction, batched
//   (write-behind, queued in the same tick) and always flushed before an InfraDriver call returns.
//   We flush before returning, not only behind, because the engine records what a call returned
//   (startMove's ref) and then relies on it: after a SIGKILL the op and its idempotency key must
//   still be there, or the restarted engine polls an unknown ref ("operation not found") while the
//   cloud has forgotten the capacity it reserved. The synchronous control API (createInstance, …)
//   is written behind; its HTTP routes await flush() before answering.
// - `statePath` (an explicit JSON file): the whole cloud rewritten after each mutation, O(cloud).
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Clock } from '../../ports/clock.js';
import {
  DriverError,
  type HostInfo,
  type InfraDriver,
  type InstanceInfo,
  type MoveKind,
  type MoveOptions,
  type OpStatus,
  TARGET_REFUSED,
  type WorldChanges,
} from '../../ports/infra-driver.js';
import { emptySimulatorRows, SIMULATOR_TABLES, type SimulatorRows, type SimulatorStateStore, type SimulatorTable } from '../../ports/simulator-state.js';
import type { HostType } from '../../domain/states.js';
import { FenixError } from '../../domain/errors.js';
import { Heap } from '../../planner/heap.js';
import { parseScenario, type ScenarioInput, type ScenarioTimings } from './scenario.js';
import { SortedSet } from './sorted-set.js';

export const NO_VALID_HOST = 'No valid host was found. There are not enough hosts available.';
export const HOST_NOT_EMPTY = 'host not empty';

export interface SimHost {
  name: string;
  type: HostType;
  vcpus: number;
  enabled: boolean;
  /** Why scheduling was disabled (last reason given). */
  disabledReason?: string;
}

export type SimInstance = InstanceInfo;

export type SimOpKind = MoveKind | 'HOST_MAINTENANCE';

export interface SimOp {
  ref: string;
  key: string;
  kind: SimOpKind;
  /** Moves only. */
  instanceId?: string;
  /** Moves: the source host; host maintenance: the host. */
  from: string;
  /** Moves: the host chosen at start (absent when none fitted). */
  target?: string;
  startedAt: number;
  finishAt: number;
  status: OpStatus['status'];
  error?: string;
}

/** `GET /v1/simulator/hosts` item. */
export interface SimHostView {
  name: string;
  type: HostType;
  vcpus: number;
  vcpus_used: number;
  enabled: boolean;
}

/** `GET /v1/simulator/instances` item. */
export interface SimInstanceView {
  id: string;
  name: string;
  project_id: string;
  host: string;
  vcpus: number;
}

export interface CreateInstanceRequest {
  name: string;
  projectId: string;
  vcpus: number;
  /** Default: generated (deterministic, uuid-shaped). */
  id?: string;
  /** Force placement on this compute host (bypasses the enabled filter, like Nova's az:host). */
  host?: string;
  floatingIp?: boolean;
  liveMigratable?: boolean;
}

/** The persisted document (statePath). */
export interface SimState {
  version: 1;
  hosts: SimHost[];
  instances: SimInstance[];
  ops: SimOp[];
  failures: { migrations: string[]; hosts: string[] };
  /** Idempotency key → op ref. */
  keys: Record<string, string>;
  timings: ScenarioTimings;
  opSeq: number;
  instanceSeq: number;
}

export interface SimulatedDriverOptions {
  /** Load the cloud from this JSON file when it exists; rewrite the whole file after every mutation. */
  statePath?: string;
  /**
   * How many changes the change feed (watch) remembers; a cursor older than that is answered with
   * the whole world. Default 100,000.
   */
  changeLogLimit?: number;
}

export interface OpenSimulatedDriverOptions {
  /** Load the cloud from here when it holds one (else the scenario); write each change's rows. */
  state: SimulatorStateStore;
  /** As SimulatedDriverOptions.changeLogLimit. */
  changeLogLimit?: number;
  /** How many finished ops stay in memory (the newest); older ones are read from `state` when asked. Default 4,096. */
  finishedInMemory?: number;
  /**
   * A JSON state file of the old default (`<db>.simulator.json`): when `state` is empty and the file
   * exists, the cloud is taken from it, saved to `state`, and the file renamed to `<file>.imported`.
   */
  importFrom?: string;
}

/** Rows changed since the last write, by table and key (the current value is read when writing). */
type Changed = Record<SimulatorTable, Set<string>>;
const noChanges = (): Changed => ({ hosts: new Set(), instances: new Set(), ops: new Set(), keys: new Set(), meta: new Set() });

/** Meta rows: the format version, timings, id sequences, injected failures. */
const META_VERSION = 'version';
const META_TIMINGS = 'timings';
const META_SEQ = 'seq';
const META_FAILURES = 'failures';

/** Module-private: open() hands the saved rows to the constructor through this option. */
const RESTORE = Symbol('restore');
type InternalOptions = SimulatedDriverOptions & { [RESTORE]?: SimulatorRows; finishedInMemory?: number };

/** Ops in start order: the number at the end of a ref is one sequence over every kind. */
const refSeq = (ref: string): number => Number(ref.slice(ref.lastIndexOf('-') + 1)) || 0;

const cmpStr = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const byName = (a: { name: string }, b: { name: string }) => cmpStr(a.name, b.name);
const byId = (a: { id: string }, b: { id: string }) => cmpStr(a.id, b.id);

/** A schedulable host in the scheduler's order: least room first (best fit), then by name. */
interface Fit {
  free: number;
  name: string;
}
const byFit = (a: Fit, b: Fit) => a.free - b.free || cmpStr(a.name, b.name);

/** Running ops in the order they complete: finishAt, then ref. */
const completesFirst = (a: SimOp, b: SimOp) => a.finishAt < b.finishAt || (a.finishAt === b.finishAt && a.ref < b.ref);

/** The change feed's entries: a host (its enabled flag or placement changed) or an instance. */
const HOST_ENTRY = 'h';
const INSTANCE_ENTRY = 'i';
const DEFAULT_CHANGE_LOG_LIMIT = 100_000;
/** Finished ops kept in memory over a row store (the newest): enough for the engine's last polls. */
const FINISHED_IN_MEMORY = 4096;
/** runningBy key prefix of a host's maintenance (an instance's moves use INSTANCE_ENTRY). */
const MAINTENANCE_KEY = 'm';

export class SimulatedDriver implements InfraDriver {
  readonly name = 'simulated';
  private readonly hosts = new Map<string, SimHost>();
  private readonly instances = new Map<string, SimInstance>();
  private readonly ops = new Map<string, SimOp>();
  /** The subset of `ops` still running (kept apart so scheduling does not scan finished ops). */
  private readonly running = new Map<string, SimOp>();

  // Indexes over the maps above, kept current by every change, so that no call scans the cloud
  // (issue 9: a placement costs O(log hosts), a look at what changed O(changes)).
  /** Every host, by name (the set of hosts never changes). */
  private hostOrder: SimHost[] = [];
  /** Every instance by id, rebuilt after a create or delete (a move changes no id). */
  private idOrder: SimInstance[] | null = null;
  /** Instances per host, by id. */
  private readonly onHost = new Map<string, Map<string, SimInstance>>();
  /** vCPUs of the instances placed on each host. */
  private readonly placed = new Map<string, number>();
  /** vCPUs reserved on each host by moves in flight into it. */
  private readonly reserved = new Map<string, number>();
  /** Running moves into each host. */
  private readonly incoming = new Map<string, number>();
  /** Running ops per instance (`i` + id) and host maintenance per host (`m` + name), oldest first. */
  private readonly runningBy = new Map<string, SimOp[]>();
  /** Running ops by completion time (finished ones are dropped lazily, when they reach the top). */
  private readonly due = new Heap<SimOp>(completesFirst);
  /** Enabled compute hosts not under maintenance, in the scheduler's order; `fits` holds each one's key. */
  private readonly schedulable = new SortedSet<Fit>(byFit);
  private readonly fits = new Map<string, Fit>();

  // The change feed (watch): entry k of `log` is change number `logBase + k + 1`.
  /** Distinguishes this driver's cursors from another's, and from an earlier process's. */
  private readonly epoch = randomUUID().slice(0, 8);
  private log: string[] = [];
  private logBase = 0;
  private readonly logLimit: number;

  private readonly keys = new Map<string, string>();
  /** Finished ops in memory, oldest first from evictHead (row store only: see evictFinished). */
  private evictable: string[] = [];
  private readonly finishedInMemory: number;
  private evictHead = 0;
  private failMigrations = new Set<string>();
  private failHosts = new Set<string>();
  private timings: ScenarioTimings;
  private opSeq = 0;
  private instanceSeq = 0;
  private statePath: string | undefined;
  /** Row-wise persistence (open()); `changed` is tracked only then. */
  private state: SimulatorStateStore | undefined;
  private changed: Changed | null = null;
  /** The tail of the serialized writes: one batch at a time, in order. */
  private writing: Promise<void> = Promise.resolve();
  private flushQueued = false;

  /**
   * A cloud in memory, or in a JSON file (statePath). The scenario is validated (parseScenario)
   * unless a saved state is loaded instead. For the row-wise store use `SimulatedDriver.open`.
   */
  constructor(
    scenario: ScenarioInput,
    private readonly clock: Clock,
    opts: SimulatedDriverOptions = {},
  ) {
    this.logLimit = Math.max(1, opts.changeLogLimit ?? DEFAULT_CHANGE_LOG_LIMIT);
    this.finishedInMemory = Math.max(0, (opts as InternalOptions).finishedInMemory ?? FINISHED_IN_MEMORY);
    const restore = (opts as InternalOptions)[RESTORE];
    this.statePath = restore ? undefined : opts.statePath;
    const saved = restore !== undefined || (this.statePath !== undefined && existsSync(this.statePath));
    if (restore) this.timings = this.loadRows(restore);
    else if (saved) this.timings = this.load(this.statePath!);
    else this.timings = this.fromScenario(scenario);
    this.buildIndexes();
    if (!saved) this.persist();
  }

  /** The scenario's cloud (validated); returns its timings. */
  private fromScenario(scenario: ScenarioInput): ScenarioTimings {
    const s = parseScenario(scenario);
    for (const h of s.hosts) this.hosts.set(h.name, { ...h });
    const projects = new Map<string, string>();
    for (const i of s.instances) {
      this.instances.set(i.id, {
        id: i.id,
        name: i.name === i.id ? i.id : i.name,
        // One string per host and project, not one per instance (JSON gives each value its own),
        // and a name that repeats the id is the id's string.
        projectId: projects.get(i.project_id) ?? (projects.set(i.project_id, i.project_id), i.project_id),
        host: this.hosts.get(i.host)?.name ?? i.host,
        vcpus: i.vcpus,
        floatingIp: i.floating_ip,
        liveMigratable: i.live_migratable,
      });
    }
    this.failMigrations = new Set(s.failures.migrations);
    this.failHosts = new Set(s.failures.hosts);
    return { ...s.timings };
  }

  /**
   * A cloud kept row by row in `state`: the saved one when there is one (the scenario is then
   * ignored), else the scenario (or `importFrom`), saved at once.
   */
  static async open(scenario: ScenarioInput, clock: Clock, opts: OpenSimulatedDriverOptions): Promise<SimulatedDriver> {
    const rows = await opts.state.load();
    const saved = rows.meta.has(META_VERSION);
    const importing = !saved && opts.importFrom !== undefined && existsSync(opts.importFrom);
    const limit = {
      ...(opts.changeLogLimit !== undefined && { changeLogLimit: opts.changeLogLimit }),
      ...(opts.finishedInMemory !== undefined && { finishedInMemory: opts.finishedInMemory }),
    };
    const d = new SimulatedDriver(scenario, clock, saved ? ({ [RESTORE]: rows, ...limit } as InternalOptions) : importing ? { statePath: opts.importFrom!, ...limit } : limit);
    d.statePath = undefined;
    d.state = opts.state;
    d.changed = noChanges();
    if (!saved) {
      for (const h of d.hosts.keys()) d.changed.hosts.add(h);
      for (const i of d.instances.keys()) d.changed.instances.add(i);
      for (const o of d.ops.keys()) d.changed.ops.add(o);
      for (const k of d.keys.keys()) d.changed.keys.add(k);
      for (const m of [META_VERSION, META_TIMINGS, META_SEQ, META_FAILURES]) d.changed.meta.add(m);
      await d.flush();
      if (importing) renameSync(opts.importFrom!, `${opts.importFrom}.imported`);
    }
    return d;
  }

  // ---------------------------------------------------------------- InfraDriver

  async listHosts(): Promise<HostInfo[]> {
    this.tick();
    return this.flushed(this.hostOrder.map((h) => this.hostInfo(h)));
  }

  /**
   * `hosts: []` matches no instance; an absent filter field matches all. Sorted by id. With
   * `hosts`, O(instances on those hosts).
   */
  async listInstances(filter: { hosts?: string[]; projectId?: string } = {}): Promise<InstanceInfo[]> {
    this.tick();
    const project = (i: SimInstance) => filter.projectId === undefined || i.projectId === filter.projectId;
    let out: SimInstance[];
    if (filter.hosts) {
      out = [];
      for (const h of new Set(filter.hosts)) for (const i of this.onHost.get(h)?.values() ?? []) if (project(i)) out.push(i);
      out.sort(byId);
    } else {
      out = this.sortedInstances().filter(project);
    }
    return this.flushed(out.map((i) => ({ ...i })));
  }

  /** One instance by id, undefined when there is none. */
  async getInstance(id: string): Promise<InstanceInfo | undefined> {
    this.tick();
    const i = this.instances.get(id);
    return this.flushed(i && { ...i });
  }

  /**
   * What changed since `cursor`: the hosts and instances as they are now, and the ids of instances
   * gone, in O(changes). The whole world (`full`) for a null cursor, one from another driver or
   * process (the epoch differs), or one older than the change log remembers.
   */
  async watch(cursor: string | null): Promise<WorldChanges> {
    this.tick();
    const version = this.logBase + this.log.length;
    const next = `${this.epoch}:${version}`;
    const since = this.cursorVersion(cursor);
    if (since === null) {
      return this.flushed({
        cursor: next,
        full: true,
        hosts: this.hostOrder.map((h) => this.hostInfo(h)),
        instances: this.sortedInstances().map((i) => ({ ...i })),
        removed: [],
      });
    }
    const hostNames = new Set<string>();
    const instanceIds = new Set<string>();
    for (let k = since - this.logBase; k < this.log.length; k++) {
      const e = this.log[k]!;
      (e[0] === HOST_ENTRY ? hostNames : instanceIds).add(e.slice(1));
    }
    const hosts: HostInfo[] = [];
    for (const name of [...hostNames].sort()) {
      const h = this.hosts.get(name);
      if (h) hosts.push(this.hostInfo(h));
    }
    const instances: InstanceInfo[] = [];
    const removed: string[] = [];
    for (const id of [...instanceIds].sort()) {
      const i = this.instances.get(id);
      if (i) instances.push({ ...i });
      else removed.push(id);
    }
    return this.flushed({ cursor: next, full: false, hosts, instances, removed });
  }

  async setHostScheduling(host: string, enabled: boolean, reason: string): Promise<void> {
    this.tick();
    const h = this.hostOrThrow(host);
    if (h.enabled !== enabled || (!enabled && h.disabledReason !== reason)) {
      if (h.enabled !== enabled) this.note(HOST_ENTRY, h.name);
      h.enabled = enabled;
      if (enabled) delete h.disabledReason;
      else h.disabledReason = reason;
      this.touch('hosts', h.name);
      this.refit(h.name);
      this.persist();
    }
    await this.flush();
  }

  async startMove(instanceId: string, kind: MoveKind, key: string, opts: MoveOptions = {}): Promise<string> {
    this.tick();
    if (this.keys.has(key)) return this.flushed(await this.refForKey(key, (op) => op.instanceId === instanceId, `move of instance ${instanceId}`));
    const inst = this.instances.get(instanceId);
    if (!inst) throw new DriverError(`instance not found: ${instanceId}`, false, 'NOT_FOUND');

    const inFlight = this.runningBy.get(INSTANCE_ENTRY + instanceId)?.[0];
    if (inFlight) {
      this.setKey(key, inFlight.ref);
      this.persist();
      return this.flushed(inFlight.ref);
    }

    const now = this.clock.now();
    const op: SimOp = {
      ref: this.nextRef('move'),
      key,
      kind,
      instanceId,
      from: inst.host,
      startedAt: now,
      finishAt: now,
      status: 'running',
    };
    if (kind === 'LIVE_MIGRATE' && !inst.liveMigratable) {
      op.status = 'failed';
      op.error = `Instance ${instanceId} cannot be live-migrated.`;
    } else {
      const refused = opts.target !== undefined ? this.refuseTarget(opts.target, inst) : null;
      const target = opts.target !== undefined ? (refused ? null : opts.target) : this.schedule(inst.vcpus, inst.host);
      if (!target) {
        op.status = 'failed';
        op.error = refused ? `${TARGET_REFUSED}: ${NO_VALID_HOST} Requested host ${opts.target}: ${refused}.` : NO_VALID_HOST;
      } else {
        op.target = target;
        op.finishAt = now + this.durationS(kind) * 1000;
      }
    }
    this.record(op);
    this.tick(); // a zero-length move is done at once
    return this.flushed(op.ref);
  }

  async startHostMaintenance(host: string, key: string): Promise<string> {
    this.tick();
    if (this.keys.has(key)) return this.flushed(await this.refForKey(key, (op) => op.kind === 'HOST_MAINTENANCE' && op.from === host, `maintenance of host ${host}`));
    this.hostOrThrow(host);
    const inFlight = this.runningBy.get(MAINTENANCE_KEY + host)?.[0];
    if (inFlight) {
      this.setKey(key, inFlight.ref);
      this.persist();
      return this.flushed(inFlight.ref);
    }
    const now = this.clock.now();
    const op: SimOp = {
      ref: this.nextRef('maint'),
      key,
      kind: 'HOST_MAINTENANCE',
      from: host,
      startedAt: now,
      finishAt: now + this.timings.host_maintenance_s * 1000,
      status: 'running',
    };
    const busy = (this.placed.get(host) ?? 0) > 0 || (this.incoming.get(host) ?? 0) > 0;
    if (busy) {
      op.status = 'failed';
      op.error = HOST_NOT_EMPTY;
      op.finishAt = now;
    }
    this.record(op);
    this.tick();
    return this.flushed(op.ref);
  }

  async getOperation(ref: string): Promise<OpStatus> {
    this.tick();
    const op = this.ops.get(ref) ?? (await this.savedOp(ref));
    if (!op) throw new DriverError(`operation not found: ${ref}`, false, 'NOT_FOUND');
    const out: OpStatus = { status: op.status, expectedAt: op.finishAt };
    if (op.error !== undefined) out.error = op.error;
    if (op.instanceId !== undefined) out.host = this.instances.get(op.instanceId)?.host ?? (op.status === 'done' ? op.target : op.from);
    return this.flushed(out);
  }

  /** Writes what is still queued (the database stays open: its owner closes it). */
  async close(): Promise<void> {
    await this.flush();
  }

  /**
   * Write the rows changed so far (and wait for writes already under way), in one transaction.
   * A failed write keeps its rows queued for the next flush and rejects with a retryable
   * DriverError UNAVAILABLE, so a caller retries with the same key. Without a row store: nothing.
   */
  flush(): Promise<void> {
    if (!this.state) return Promise.resolve();
    const run = this.writing.then(() => this.writeChanged());
    this.writing = run.catch(() => {});
    return run;
  }

  // ---------------------------------------------------------------- simulator control API

  /** Create an instance placed by the scheduler (or on `req.host`). Throws FenixError NO_CAPACITY. */
  createInstance(req: CreateInstanceRequest): InstanceInfo {
    this.tick();
    if (!req.name) throw new FenixError('VALIDATION_FAILED', 'name must not be empty');
    if (!req.projectId) throw new FenixError('VALIDATION_FAILED', 'project id must not be empty');
    if (!Number.isInteger(req.vcpus) || req.vcpus < 1) throw new FenixError('VALIDATION_FAILED', 'vcpus must be an integer >= 1');
    if (req.id !== undefined && this.instances.has(req.id)) throw new FenixError('STATE_CONFLICT', `instance ${req.id} already exists`);
    let host: string | null;
    if (req.host !== undefined) {
      const h = this.hosts.get(req.host);
      if (!h || h.type !== 'compute') throw new FenixError('VALIDATION_FAILED', `${req.host} is not a compute host`);
      host = this.free(h) >= req.vcpus ? h.name : null;
      if (!host) throw new FenixError('NO_CAPACITY', `host ${req.host} has no room for ${req.vcpus} vCPUs`);
    } else {
      host = this.schedule(req.vcpus);
      if (!host) throw new FenixError('NO_CAPACITY', `${NO_VALID_HOST} (${req.vcpus} vCPUs requested)`);
    }
    const inst: SimInstance = {
      id: req.id ?? this.nextInstanceId(),
      name: req.name,
      projectId: req.projectId,
      host,
      vcpus: req.vcpus,
      floatingIp: req.floatingIp ?? false,
      liveMigratable: req.liveMigratable ?? true,
    };
    this.instances.set(inst.id, inst);
    this.idOrder = null;
    this.place(inst);
    this.note(INSTANCE_ENTRY, inst.id);
    this.touch('instances', inst.id);
    this.persist();
    return { ...inst };
  }

  /** Delete an instance; its running move (if any) fails. False when unknown. */
  deleteInstance(id: string): boolean {
    this.tick();
    const inst = this.instances.get(id);
    if (!inst) return false;
    // Its moves first, while the instance still tells how much they reserved.
    for (const op of [...(this.runningBy.get(INSTANCE_ENTRY + id) ?? [])]) this.finish(op, 'failed', `Instance ${id} was deleted.`);
    this.unplace(inst);
    this.instances.delete(id);
    this.idOrder = null;
    this.note(INSTANCE_ENTRY, id);
    this.touch('instances', id);
    this.persist();
    return true;
  }

  hostsView(): SimHostView[] {
    this.tick();
    return this.hostOrder.map((h) => ({
      name: h.name,
      type: h.type,
      vcpus: h.vcpus,
      vcpus_used: this.placed.get(h.name) ?? 0,
      enabled: h.enabled,
    }));
  }

  instancesView(filter: { projectId?: string } = {}): SimInstanceView[] {
    this.tick();
    return this.sortedInstances()
      .filter((i) => filter.projectId === undefined || i.projectId === filter.projectId)
      .map((i) => ({ id: i.id, name: i.name, project_id: i.projectId, host: i.host, vcpus: i.vcpus }));
  }

  /** Moves of these instances fail from now on (also moves already in flight). */
  failMigrationsOf(ids: string[]): void {
    this.tick();
    for (const id of ids) this.failMigrations.add(id);
    this.touch('meta', META_FAILURES);
    this.persist();
  }

  /** Infrastructure maintenance of this host fails from now on (also one already running). */
  failHost(name: string): void {
    this.tick();
    this.hostOrThrow(name);
    this.failHosts.add(name);
    this.touch('meta', META_FAILURES);
    this.persist();
  }

  /** Clear every injected failure. */
  heal(): void {
    this.tick();
    this.failMigrations.clear();
    this.failHosts.clear();
    this.touch('meta', META_FAILURES);
    this.persist();
  }

  /** Every op in memory, oldest first (for debugging and tests): over a row store, the running ones and the newest FINISHED_IN_MEMORY finished. */
  operations(): SimOp[] {
    this.tick();
    return [...this.ops.values()].map((o) => ({ ...o }));
  }

  /** Earliest finishAt of a running op, or null: lets virtual-time loops jump straight to it. */
  nextEventAt(): number | null {
    this.tick();
    return this.nextDue()?.finishAt ?? null;
  }

  /** How long the simulated operations take (what the planner should assume). */
  timingsView(): ScenarioTimings {
    return { ...this.timings };
  }

  /** The full state as persisted. */
  snapshot(): SimState {
    this.tick();
    return this.toState();
  }

  // ---------------------------------------------------------------- internals

  /** Complete every running op whose time has come, in finishAt order; persist if anything changed. */
  private tick(): void {
    const now = this.clock.now();
    let any = false;
    for (let op = this.nextDue(); op && op.finishAt <= now; op = this.nextDue()) {
      this.due.pop();
      this.complete(op);
      any = true;
    }
    if (any) this.persist();
  }

  /** The running op that completes first (dropping finished ones from the top of the heap). */
  private nextDue(): SimOp | undefined {
    for (let op = this.due.peek(); op; op = this.due.peek()) {
      if (this.running.get(op.ref) === op) return op;
      this.due.pop();
    }
    return undefined;
  }

  private complete(op: SimOp): void {
    if (op.kind === 'HOST_MAINTENANCE') {
      if (this.failHosts.has(op.from)) this.finish(op, 'failed', `Maintenance of host ${op.from} failed (injected failure).`);
      else this.finish(op, 'done');
      return;
    }
    const inst = op.instanceId !== undefined ? this.instances.get(op.instanceId) : undefined;
    if (!inst) return this.finish(op, 'failed', `Instance ${op.instanceId} was deleted.`);
    if (this.failMigrations.has(inst.id)) {
      return this.finish(op, 'failed', `${op.kind} of instance ${inst.id} failed (injected failure).`);
    }
    this.finish(op, 'done'); // releases the reservation on the target, which the instance now takes
    this.unplace(inst);
    inst.host = op.target!;
    this.place(inst);
    this.note(INSTANCE_ENTRY, inst.id);
    this.touch('instances', inst.id);
  }

  private finish(op: SimOp, status: 'done' | 'failed', error?: string): void {
    this.stopRunning(op);
    op.status = status;
    if (error !== undefined) op.error = error;
    this.touch('ops', op.ref);
    if (this.state) this.evictable.push(op.ref);
  }

  /**
   * Best fit: enabled compute hosts (not `exclude`, not under infrastructure maintenance) with room
   * for `vcpus` counting capacity reserved by in-flight moves; least room left wins, ties by name.
   * O(log hosts): the first host in `schedulable` with that much room, skipping `exclude`.
   */
  private schedule(vcpus: number, exclude?: string): string | null {
    for (const f of this.schedulable.ascending({ free: vcpus, name: '' })) if (f.name !== exclude) return f.name;
    return null;
  }

  /**
   * Why an explicitly requested destination cannot take the instance (like Nova's scheduler
   * checking a requested host): unknown, not a compute host, its own host, disabled, under
   * maintenance, or without room counting moves in flight. Null when it can.
   */
  private refuseTarget(name: string, inst: SimInstance): string | null {
    const h = this.hosts.get(name);
    if (!h) return 'no such host';
    if (h.type !== 'compute') return `a ${h.type} host`;
    if (h.name === inst.host) return 'the instance is already there';
    if (!h.enabled) return 'scheduling is disabled';
    if (this.runningBy.has(MAINTENANCE_KEY + name)) return 'under maintenance';
    const free = this.free(h);
    if (free < inst.vcpus) return `${free} vCPUs free, ${inst.vcpus} needed`;
    return null;
  }

  /** vCPUs left on a host after placed instances and moves reserved into it. */
  private free(h: SimHost): number {
    return h.vcpus - (this.placed.get(h.name) ?? 0) - (this.reserved.get(h.name) ?? 0);
  }

  private hostInfo(h: SimHost): HostInfo {
    return { name: h.name, type: h.type, vcpus: h.vcpus, vcpusUsed: this.placed.get(h.name) ?? 0, enabled: h.enabled };
  }

  private sortedInstances(): SimInstance[] {
    return (this.idOrder ??= [...this.instances.values()].sort(byId));
  }

  /** The indexes over what was just loaded (hosts, instances, running ops). */
  private buildIndexes(): void {
    this.hostOrder = [...this.hosts.values()].sort(byName);
    for (const i of this.instances.values()) this.place(i);
    for (const op of this.running.values()) this.startRunning(op);
    for (const h of this.hostOrder) this.refit(h.name);
    this.log = []; // a first watch answers with the whole world anyway
  }

  /** Count an instance on its host. */
  private place(i: SimInstance): void {
    let on = this.onHost.get(i.host);
    if (!on) this.onHost.set(i.host, (on = new Map()));
    on.set(i.id, i);
    this.addTo(this.placed, i.host, i.vcpus);
    this.note(HOST_ENTRY, i.host);
    this.refit(i.host);
  }

  private unplace(i: SimInstance): void {
    this.onHost.get(i.host)?.delete(i.id);
    this.addTo(this.placed, i.host, -i.vcpus);
    this.note(HOST_ENTRY, i.host);
    this.refit(i.host);
  }

  /** A running op: reserve its target, index it by instance or host, queue its completion. */
  private startRunning(op: SimOp): void {
    this.running.set(op.ref, op);
    this.due.push(op);
    const key = op.kind === 'HOST_MAINTENANCE' ? MAINTENANCE_KEY + op.from : INSTANCE_ENTRY + (op.instanceId ?? '');
    const list = this.runningBy.get(key);
    if (list) list.push(op);
    else this.runningBy.set(key, [op]);
    if (op.kind === 'HOST_MAINTENANCE') this.refit(op.from);
    if (op.target !== undefined) {
      this.addTo(this.incoming, op.target, 1);
      const inst = op.instanceId !== undefined ? this.instances.get(op.instanceId) : undefined;
      if (inst) this.addTo(this.reserved, op.target, inst.vcpus);
      this.refit(op.target);
    }
  }

  /** The reverse of startRunning (the op leaves the heap lazily). */
  private stopRunning(op: SimOp): void {
    if (this.running.get(op.ref) !== op) return;
    this.running.delete(op.ref);
    const key = op.kind === 'HOST_MAINTENANCE' ? MAINTENANCE_KEY + op.from : INSTANCE_ENTRY + (op.instanceId ?? '');
    const list = this.runningBy.get(key)?.filter((o) => o !== op);
    if (list?.length) this.runningBy.set(key, list);
    else this.runningBy.delete(key);
    if (op.kind === 'HOST_MAINTENANCE') this.refit(op.from);
    if (op.target !== undefined) {
      this.addTo(this.incoming, op.target, -1);
      const inst = op.instanceId !== undefined ? this.instances.get(op.instanceId) : undefined;
      if (inst) this.addTo(this.reserved, op.target, -inst.vcpus);
      this.refit(op.target);
    }
  }

  private addTo(m: Map<string, number>, host: string, n: number): void {
    const v = (m.get(host) ?? 0) + n;
    if (v === 0) m.delete(host);
    else m.set(host, v);
  }

  /** Put a host at its place in `schedulable` (or out of it) after its room or state changed. */
  private refit(name: string): void {
    const h = this.hosts.get(name);
    const old = this.fits.get(name);
    const eligible = h !== undefined && h.type === 'compute' && h.enabled && !this.runningBy.has(MAINTENANCE_KEY + name);
    const free = eligible ? this.free(h) : 0;
    if (old && eligible && old.free === free) return;
    if (old) {
      this.schedulable.delete(old);
      this.fits.delete(name);
    }
    if (eligible) {
      const fit = { free, name };
      this.schedulable.add(fit);
      this.fits.set(name, fit);
    }
  }

  /** Record a change for the feed; the oldest half is forgotten when the log is full. */
  private note(kind: typeof HOST_ENTRY | typeof INSTANCE_ENTRY, key: string): void {
    this.log.push(kind + key);
    if (this.log.length > this.logLimit) {
      const drop = Math.ceil(this.log.length / 2);
      this.log = this.log.slice(drop);
      this.logBase += drop;
    }
  }

  /** The change number a cursor of this driver stands for, or null when the log cannot answer it. */
  private cursorVersion(cursor: string | null): number | null {
    if (cursor === null) return null;
    const sep = cursor.indexOf(':');
    if (sep < 0 || cursor.slice(0, sep) !== this.epoch) return null;
    const text = cursor.slice(sep + 1);
    if (!/^\d{1,15}$/.test(text)) return null;
    const v = Number(text);
    return v >= this.logBase && v <= this.logBase + this.log.length ? v : null;
  }

  private hostOrThrow(name: string): SimHost {
    const h = this.hosts.get(name);
    if (!h) throw new DriverError(`host not found: ${name}`, false, 'NOT_FOUND');
    return h;
  }

  /** The op already started under a known `key`; a key reused for something else is a caller bug. */
  private async refForKey(key: string, matches: (op: SimOp) => boolean, what: string): Promise<string> {
    const ref = this.keys.get(key)!;
    const op = this.ops.get(ref) ?? (await this.savedOp(ref));
    if (op && matches(op)) return ref;
    throw new DriverError(`idempotency key ${key} was already used for ${op?.ref ?? ref}, not for ${what}`, false, 'KEY_CONFLICT');
  }

  /** A finished op no longer kept in memory, read back from the row store (undefined: no such op). */
  private async savedOp(ref: string): Promise<SimOp | undefined> {
    // An op leaves memory only once its final state is written (evictFinished).
    return this.state ? ((await this.state.get('ops', ref)) as SimOp | undefined) : undefined;
  }

  /**
   * Forget the oldest finished ops beyond FINISHED_IN_MEMORY (row store only), once their final
   * state is written: `evictable` holds finished refs in finish order. O(ops evicted).
   */
  private evictFinished(): void {
    while (this.evictable.length - this.evictHead > this.finishedInMemory) {
      const ref = this.evictable[this.evictHead++]!;
      if (this.changed?.ops.has(ref)) {
        this.evictable.push(ref); // not written yet: later
        continue;
      }
      this.ops.delete(ref);
    }
    if (this.evictHead > 4096 && this.evictHead * 2 > this.evictable.length) {
      this.evictable = this.evictable.slice(this.evictHead);
      this.evictHead = 0;
    }
  }

  private durationS(kind: MoveKind): number {
    if (kind === 'LIVE_MIGRATE') return this.timings.live_migrate_s;
    if (kind === 'EVICTION') return this.timings.evict_s;
    return this.timings.migrate_s;
  }

  private record(op: SimOp): void {
    this.ops.set(op.ref, op);
    if (op.status === 'running') this.startRunning(op);
    else if (this.state) this.evictable.push(op.ref); // refused at start: finished already
    this.touch('ops', op.ref);
    this.setKey(op.key, op.ref);
    this.persist();
  }

  private setKey(key: string, ref: string): void {
    this.keys.set(key, ref);
    this.touch('keys', key);
  }

  private nextRef(prefix: string): string {
    this.opSeq += 1;
    this.touch('meta', META_SEQ);
    return `sim-${prefix}-${String(this.opSeq).padStart(6, '0')}`;
  }

  private nextInstanceId(): string {
    let id: string;
    this.touch('meta', META_SEQ);
    do {
      this.instanceSeq += 1;
      id = `5140b000-0000-4000-8000-${this.instanceSeq.toString(16).padStart(12, '0')}`;
    } while (this.instances.has(id));
    return id;
  }

  private toState(): SimState {
    return {
      version: 1,
      hosts: this.hostOrder.map((h) => ({ ...h })),
      instances: this.sortedInstances().map((i) => ({ ...i })),
      ops: [...this.ops.values()].map((o) => ({ ...o })),
      failures: { migrations: [...this.failMigrations].sort(), hosts: [...this.failHosts].sort() },
      keys: Object.fromEntries(this.keys),
      timings: { ...this.timings },
      opSeq: this.opSeq,
      instanceSeq: this.instanceSeq,
    };
  }

  /** Mark a row as changed (deleted when its key is gone from memory). */
  private touch(table: SimulatorTable, key: string): void {
    this.changed?.[table].add(key);
  }

  /** `value` once every change so far is written (InfraDriver answers wait for this). */
  private async flushed<T>(value: T): Promise<T> {
    await this.flush();
    return value;
  }

  /** The current value of a changed row, or null when it is gone. */
  private rowOf(table: SimulatorTable, key: string): unknown {
    switch (table) {
      case 'hosts':
        return this.hosts.has(key) ? { ...this.hosts.get(key)! } : null;
      case 'instances':
        return this.instances.has(key) ? { ...this.instances.get(key)! } : null;
      case 'ops':
        return this.ops.has(key) ? { ...this.ops.get(key)! } : null;
      case 'keys':
        return this.keys.get(key) ?? null;
      case 'meta':
        if (key === META_VERSION) return 1;
        if (key === META_TIMINGS) return { ...this.timings };
        if (key === META_SEQ) return { opSeq: this.opSeq, instanceSeq: this.instanceSeq };
        if (key === META_FAILURES) return { migrations: [...this.failMigrations].sort(), hosts: [...this.failHosts].sort() };
        return null;
    }
  }

  /** One batch: the rows changed since the last one, as they are now. */
  private async writeChanged(): Promise<void> {
    const batch = this.changed!;
    if (SIMULATOR_TABLES.every((t) => batch[t].size === 0)) return;
    this.changed = noChanges();
    const rows = emptySimulatorRows();
    for (const t of SIMULATOR_TABLES) for (const k of batch[t]) rows[t].set(k, this.rowOf(t, k));
    try {
      await this.state!.apply(rows);
    } catch (e) {
      for (const t of SIMULATOR_TABLES) for (const k of batch[t]) this.changed![t].add(k);
      throw new DriverError(`simulator state not saved: ${(e as Error).message}`, true, 'UNAVAILABLE');
    }
    this.evictFinished();
  }

  /**
   * After a mutation. Row store: queue one write-behind flush for this tick (callers that must know
   * it is written await flush()); a failure there leaves the rows queued for the next flush, which
   * reports it. JSON file: an atomic rewrite (tmp + rename). No fsync: survives a process crash,
   * not necessarily a power cut.
   */
  private persist(): void {
    if (this.state) {
      if (this.flushQueued) return;
      this.flushQueued = true;
      queueMicrotask(() => {
        this.flushQueued = false;
        this.flush().catch(() => {});
      });
      return;
    }
    if (!this.statePath) return;
    mkdirSync(dirname(this.statePath), { recursive: true });
    const tmp = `${this.statePath}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.toState(), null, 1));
    renameSync(tmp, this.statePath);
  }

  private load(path: string): ScenarioTimings {
    let s: SimState;
    try {
      s = JSON.parse(readFileSync(path, 'utf8')) as SimState;
    } catch (e) {
      throw new Error(`cannot load simulator state from ${path}: ${(e as Error).message}`);
    }
    if (
      !s ||
      s.version !== 1 ||
      !Array.isArray(s.hosts) ||
      !Array.isArray(s.instances) ||
      !Array.isArray(s.ops) ||
      typeof s.keys !== 'object' ||
      typeof s.timings !== 'object'
    ) {
      throw new Error(`cannot load simulator state from ${path}: not a version 1 simulator state`);
    }
    for (const h of s.hosts) this.hosts.set(h.name, { ...h });
    for (const i of s.instances) this.instances.set(i.id, { ...i });
    for (const o of s.ops) {
      const op = { ...o };
      this.ops.set(op.ref, op);
      if (op.status === 'running') this.running.set(op.ref, op); // indexed by buildIndexes
    }
    for (const [k, v] of Object.entries(s.keys)) this.keys.set(k, v);
    this.failMigrations = new Set(s.failures?.migrations ?? []);
    this.failHosts = new Set(s.failures?.hosts ?? []);
    this.opSeq = s.opSeq ?? 0;
    this.instanceSeq = s.instanceSeq ?? 0;
    return { ...s.timings };
  }

  /** The cloud from a row store's rows (open()). */
  private loadRows(rows: SimulatorRows): ScenarioTimings {
    const bad = (why: string) => new Error(`cannot load simulator state from the database: ${why}`);
    if (rows.meta.get(META_VERSION) !== 1) throw bad('not a version 1 simulator state');
    const timings = rows.meta.get(META_TIMINGS) as ScenarioTimings | undefined;
    if (!timings || typeof timings !== 'object') throw bad('no timings');
    for (const [name, h] of rows.hosts) this.hosts.set(name, h as SimHost);
    const projects = new Map<string, string>();
    for (const [id, row] of rows.instances) {
      const i = row as SimInstance;
      i.host = this.hosts.get(i.host)?.name ?? i.host; // shared strings, as fromScenario
      i.projectId = projects.get(i.projectId) ?? (projects.set(i.projectId, i.projectId), i.projectId);
      this.instances.set(id, i);
    }
    const ops = [...rows.ops.values()].map((x) => x as SimOp).sort((a, b) => refSeq(a.ref) - refSeq(b.ref) || (a.ref < b.ref ? -1 : 1));
    let finished = ops.reduce((n, o) => (o.status === 'running' ? n : n + 1), 0);
    for (const o of ops) {
      if (o.status === 'running') this.running.set(o.ref, o); // indexed by buildIndexes
      else if (finished-- > this.finishedInMemory) continue; // read back by ref when asked (savedOp)
      else this.evictable.push(o.ref);
      this.ops.set(o.ref, o);
    }
    for (const [k, ref] of rows.keys) this.keys.set(k, ref as string);
    const seq = rows.meta.get(META_SEQ) as { opSeq?: number; instanceSeq?: number } | undefined;
    this.opSeq = seq?.opSeq ?? 0;
    this.instanceSeq = seq?.instanceSeq ?? 0;
    const f = rows.meta.get(META_FAILURES) as { migrations?: string[]; hosts?: string[] } | undefined;
    this.failMigrations = new Set(f?.migrations ?? []);
    this.failHosts = new Set(f?.hosts ?? []);
    return { ...timings };
  }
}
