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
// - Finished ops are kept (getOperation answers for them after a restart); they are small.
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
} from '../../ports/infra-driver.js';
import { emptySimulatorRows, SIMULATOR_TABLES, type SimulatorRows, type SimulatorStateStore, type SimulatorTable } from '../../ports/simulator-state.js';
import type { HostType } from '../../domain/states.js';
import { FenixError } from '../../domain/errors.js';
import { parseScenario, type ScenarioInput, type ScenarioTimings } from './scenario.js';

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
}

export interface OpenSimulatedDriverOptions {
  /** Load the cloud from here when it holds one (else the scenario); write each change's rows. */
  state: SimulatorStateStore;
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
type InternalOptions = SimulatedDriverOptions & { [RESTORE]?: SimulatorRows };

/** Ops in start order: the number at the end of a ref is one sequence over every kind. */
const refSeq = (ref: string): number => Number(ref.slice(ref.lastIndexOf('-') + 1)) || 0;

const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

export class SimulatedDriver implements InfraDriver {
  readonly name = 'simulated';
  private readonly hosts = new Map<string, SimHost>();
  private readonly instances = new Map<string, SimInstance>();
  private readonly ops = new Map<string, SimOp>();
  /** The subset of `ops` still running (kept apart so scheduling does not scan finished ops). */
  private readonly running = new Map<string, SimOp>();
  private readonly keys = new Map<string, string>();
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
    const restore = (opts as InternalOptions)[RESTORE];
    if (restore) {
      this.timings = this.loadRows(restore);
      return;
    }
    this.statePath = opts.statePath;
    if (this.statePath && existsSync(this.statePath)) {
      this.timings = this.load(this.statePath);
      return;
    }
    const s = parseScenario(scenario);
    for (const h of s.hosts) this.hosts.set(h.name, { ...h });
    for (const i of s.instances) {
      this.instances.set(i.id, {
        id: i.id,
        name: i.name,
        projectId: i.project_id,
        host: i.host,
        vcpus: i.vcpus,
        floatingIp: i.floating_ip,
        liveMigratable: i.live_migratable,
      });
    }
    this.timings = { ...s.timings };
    this.failMigrations = new Set(s.failures.migrations);
    this.failHosts = new Set(s.failures.hosts);
    this.persist();
  }

  /**
   * A cloud kept row by row in `state`: the saved one when there is one (the scenario is then
   * ignored), else the scenario (or `importFrom`), saved at once.
   */
  static async open(scenario: ScenarioInput, clock: Clock, opts: OpenSimulatedDriverOptions): Promise<SimulatedDriver> {
    const rows = await opts.state.load();
    const saved = rows.meta.has(META_VERSION);
    const importing = !saved && opts.importFrom !== undefined && existsSync(opts.importFrom);
    const d = new SimulatedDriver(scenario, clock, saved ? ({ [RESTORE]: rows } as InternalOptions) : importing ? { statePath: opts.importFrom! } : {});
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
    const placed = this.placement();
    const out = this.sortedHosts().map((h) => ({
      name: h.name,
      type: h.type,
      vcpus: h.vcpus,
      vcpusUsed: placed.get(h.name) ?? 0,
      enabled: h.enabled,
    }));
    await this.flush();
    return out;
  }

  /** `hosts: []` matches no instance; an absent filter field matches all. Sorted by id. */
  async listInstances(filter: { hosts?: string[]; projectId?: string } = {}): Promise<InstanceInfo[]> {
    this.tick();
    const hosts = filter.hosts ? new Set(filter.hosts) : null;
    const out = [...this.instances.values()]
      .filter((i) => (!hosts || hosts.has(i.host)) && (filter.projectId === undefined || i.projectId === filter.projectId))
      .sort(byId)
      .map((i) => ({ ...i }));
    await this.flush();
    return out;
  }

  async setHostScheduling(host: string, enabled: boolean, reason: string): Promise<void> {
    this.tick();
    const h = this.hostOrThrow(host);
    if (h.enabled !== enabled || (!enabled && h.disabledReason !== reason)) {
      h.enabled = enabled;
      if (enabled) delete h.disabledReason;
      else h.disabledReason = reason;
      this.touch('hosts', h.name);
      this.persist();
    }
    await this.flush();
  }

  async startMove(instanceId: string, kind: MoveKind, key: string, opts: MoveOptions = {}): Promise<string> {
    this.tick();
    const existing = this.refForKey(key, (op) => op.instanceId === instanceId, `move of instance ${instanceId}`);
    if (existing) return this.flushed(existing);
    const inst = this.instances.get(instanceId);
    if (!inst) throw new DriverError(`instance not found: ${instanceId}`, false, 'NOT_FOUND');

    const inFlight = this.runningOps().find((op) => op.instanceId === instanceId);
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
        op.error = refused ? `${NO_VALID_HOST} Requested host ${opts.target}: ${refused}.` : NO_VALID_HOST;
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
    const existing = this.refForKey(key, (op) => op.kind === 'HOST_MAINTENANCE' && op.from === host, `maintenance of host ${host}`);
    if (existing) return this.flushed(existing);
    this.hostOrThrow(host);
    const inFlight = this.runningOps().find((op) => op.kind === 'HOST_MAINTENANCE' && op.from === host);
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
    const busy = this.used(host) > 0 || this.runningOps().some((o) => o.target === host);
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
    const op = this.ops.get(ref);
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
    this.touch('instances', inst.id);
    this.persist();
    return { ...inst };
  }

  /** Delete an instance; its running move (if any) fails. False when unknown. */
  deleteInstance(id: string): boolean {
    this.tick();
    if (!this.instances.delete(id)) return false;
    this.touch('instances', id);
    for (const op of this.runningOps()) {
      if (op.instanceId === id) this.finish(op, 'failed', `Instance ${id} was deleted.`);
    }
    this.persist();
    return true;
  }

  hostsView(): SimHostView[] {
    this.tick();
    const placed = this.placement();
    return this.sortedHosts().map((h) => ({
      name: h.name,
      type: h.type,
      vcpus: h.vcpus,
      vcpus_used: placed.get(h.name) ?? 0,
      enabled: h.enabled,
    }));
  }

  instancesView(filter: { projectId?: string } = {}): SimInstanceView[] {
    this.tick();
    return [...this.instances.values()]
      .filter((i) => filter.projectId === undefined || i.projectId === filter.projectId)
      .sort(byId)
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

  /** Every op, oldest first (for debugging and tests). */
  operations(): SimOp[] {
    this.tick();
    return [...this.ops.values()].map((o) => ({ ...o }));
  }

  /** Earliest finishAt of a running op, or null: lets virtual-time loops jump straight to it. */
  nextEventAt(): number | null {
    this.tick();
    const running = this.runningOps();
    return running.length ? Math.min(...running.map((o) => o.finishAt)) : null;
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
    const due = this.runningOps()
      .filter((o) => o.finishAt <= now)
      .sort((a, b) => a.finishAt - b.finishAt || (a.ref < b.ref ? -1 : 1));
    if (due.length === 0) return;
    for (const op of due) this.complete(op);
    this.persist();
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
    inst.host = op.target!;
    this.touch('instances', inst.id);
    this.finish(op, 'done');
  }

  private finish(op: SimOp, status: 'done' | 'failed', error?: string): void {
    this.running.delete(op.ref);
    op.status = status;
    if (error !== undefined) op.error = error;
    this.touch('ops', op.ref);
  }

  /**
   * Best fit: enabled compute hosts (not `exclude`, not under infrastructure maintenance) with room
   * for `vcpus` counting capacity reserved by in-flight moves; least room left wins, ties by name.
   */
  private schedule(vcpus: number, exclude?: string): string | null {
    const inMaintenance = new Set(this.runningOps().filter((o) => o.kind === 'HOST_MAINTENANCE').map((o) => o.from));
    const used = this.usage();
    let best: { name: string; left: number } | null = null;
    for (const h of this.sortedHosts()) {
      if (h.type !== 'compute' || !h.enabled || h.name === exclude || inMaintenance.has(h.name)) continue;
      const left = h.vcpus - (used.get(h.name) ?? 0) - vcpus;
      if (left < 0) continue;
      if (!best || left < best.left) best = { name: h.name, left };
    }
    return best?.name ?? null;
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
    if (this.runningOps().some((o) => o.kind === 'HOST_MAINTENANCE' && o.from === name)) return 'under maintenance';
    const free = this.free(h);
    if (free < inst.vcpus) return `${free} vCPUs free, ${inst.vcpus} needed`;
    return null;
  }

  /** vCPUs taken per host: placed instances plus moves in flight into it. */
  private usage(): Map<string, number> {
    const m = new Map<string, number>();
    const add = (host: string, n: number) => m.set(host, (m.get(host) ?? 0) + n);
    for (const i of this.instances.values()) add(i.host, i.vcpus);
    for (const op of this.running.values()) {
      const inst = op.target !== undefined && op.instanceId !== undefined ? this.instances.get(op.instanceId) : undefined;
      if (inst) add(op.target!, inst.vcpus);
    }
    return m;
  }

  /** vCPUs left on a host after placed instances and moves reserved into it. */
  private free(h: SimHost): number {
    return h.vcpus - (this.usage().get(h.name) ?? 0);
  }

  /** vCPUs of the instances actually placed on each host. */
  private placement(): Map<string, number> {
    const m = new Map<string, number>();
    for (const i of this.instances.values()) m.set(i.host, (m.get(i.host) ?? 0) + i.vcpus);
    return m;
  }

  private used(host: string): number {
    let n = 0;
    for (const i of this.instances.values()) if (i.host === host) n += i.vcpus;
    return n;
  }

  private runningOps(): SimOp[] {
    return [...this.running.values()];
  }

  private sortedHosts(): SimHost[] {
    return [...this.hosts.values()].sort(byName);
  }

  private hostOrThrow(name: string): SimHost {
    const h = this.hosts.get(name);
    if (!h) throw new DriverError(`host not found: ${name}`, false, 'NOT_FOUND');
    return h;
  }

  /** The op already started under `key`; a key reused for something else is a caller bug. */
  private refForKey(key: string, matches: (op: SimOp) => boolean, what: string): string | null {
    const ref = this.keys.get(key);
    if (ref === undefined) return null;
    const op = this.ops.get(ref);
    if (op && matches(op)) return ref;
    throw new DriverError(`idempotency key ${key} was already used for ${op?.ref ?? ref}, not for ${what}`, false, 'KEY_CONFLICT');
  }

  private durationS(kind: MoveKind): number {
    if (kind === 'LIVE_MIGRATE') return this.timings.live_migrate_s;
    if (kind === 'EVICTION') return this.timings.evict_s;
    return this.timings.migrate_s;
  }

  private record(op: SimOp): void {
    this.ops.set(op.ref, op);
    if (op.status === 'running') this.running.set(op.ref, op);
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
      hosts: this.sortedHosts().map((h) => ({ ...h })),
      instances: [...this.instances.values()].sort(byId).map((i) => ({ ...i })),
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
      if (op.status === 'running') this.running.set(op.ref, op);
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
    for (const [id, i] of rows.instances) this.instances.set(id, i as SimInstance);
    for (const o of [...rows.ops.values()].map((x) => x as SimOp).sort((a, b) => refSeq(a.ref) - refSeq(b.ref) || (a.ref < b.ref ? -1 : 1))) {
      this.ops.set(o.ref, o);
      if (o.status === 'running') this.running.set(o.ref, o);
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
