// The reconciler (docs/architecture.md): level-triggered, durable. The engine holds each session it
// owns in memory (LiveSession): loaded once when it takes the lease, then kept current by applying
// its own committed decisions and merging what others wrote (the change feed). tick(id) asks the
// session's workflow what to do, persists that in one transaction under the session's lease
// (fencing token), then carries out the new intents and records each outcome as a fact. A step
// costs what it changes, not what the session holds.
import type { Decision } from '../domain/decision.js';
import { hasEffects, minWake } from '../domain/decision.js';
import type { Op } from '../domain/model.js';
import type { Snapshot, WorkflowContext } from '../domain/snapshot.js';
import type { Downloader, PluginRegistry } from '../ports/action-plugin.js';
import type { Clock } from '../ports/clock.js';
import { DriverError, type InfraDriver, type MoveKind } from '../ports/infra-driver.js';
import type { Lease, OpPatch, Store } from '../ports/store.js';
import { applyControl } from '../workflows/control.js';
import { workflowFor } from '../workflows/index.js';
import { LiveSession, rowsOf } from './live-session.js';
import { PluginRuns, PluginStop } from './plugin-runs.js';
import { World } from './world.js';
import { reachesInventory } from '../workflows/common.js';

export interface EngineLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export interface EngineOptions {
  /**
   * Lease time-to-live: long enough to outlast one slow tick (a few driver calls), short enough that
   * another engine takes over a dead engine's sessions within seconds. Renewed by every tick and,
   * while plug-ins run, by a heartbeat every third of it.
   */
  leaseTtlMs: number;
  /** Longest wait between polls of a running migration (the original slept 5 s; Nova needs 2-4 s). */
  pollMs: number;
  /** Shortest wait between polls, so a driver's estimate never turns into a busy loop. */
  minPollMs: number;
  /** Sweep interval when nothing is due: picks up sessions nudged by another process. */
  idleMs: number;
  /** Decide/apply rounds per tick before yielding to other sessions. */
  maxStepsPerTick: number;
  /** Sessions ticked concurrently. */
  concurrency: number;
  /** Moves and host maintenance of one step started at once (driver calls in flight). */
  startConcurrency: number;
  /** Backoff for retryable driver errors. */
  retryMs: number;
  /**
   * Moves in flight at once, over every session of this engine: in all, off one source host, into
   * one target host (planned targets; a scheduler's choice is not known in advance). A move over a
   * cap waits, pending, for one to finish. Absent: the driver's own `moveLimits`, else no cap.
   */
  moveLimits?: MoveLimits;
}

/** Moves in flight at once; 0 or absent: no cap. */
export interface MoveLimits {
  total?: number;
  perSource?: number;
  perTarget?: number;
}

/** Decisions without intents held in memory before they are written anyway. */
const MAX_DEFERRED = 64;
/**
 * Nor decisions of more rows than this: a large one (a 10,000-host session's first inventory, 80,000
 * instances) is written at once, not merged with the next (its round of asks, as many again), so
 * the largest commit's patches and statements are in memory one decision at a time.
 */
const MAX_DEFERRED_ROWS = 5_000;

/** A download that takes longer fails the session (the admin can continue it). */
const DOWNLOAD_TIMEOUT_MS = 10 * 60_000;

export const DEFAULT_ENGINE_OPTIONS: EngineOptions = {
  leaseTtlMs: 10_000,
  pollMs: 1_000,
  minPollMs: 100,
  idleMs: 1_000,
  maxStepsPerTick: 200,
  concurrency: 8,
  startConcurrency: 8,
  retryMs: 2_000,
};

export interface EngineDeps {
  store: Store;
  driver: InfraDriver;
  plugins: PluginRegistry;
  clock: Clock;
  ctx: WorkflowContext;
  log: EngineLog;
  owner: string;
  /** Fetches the sessions' `download` URLs (absent: a session with downloads fails, saying so). */
  download?: Downloader;
  /** The work directory of a session, given to plug-ins. */
  workDir?: (sessionId: string) => string;
  /** Called after notifications were written, so the relay delivers them now. */
  onOutbox?: () => void;
}

export class Engine {
  private readonly opts: EngineOptions;
  /** Plug-in runs going on in this process. */
  private readonly runs: PluginRuns;
  private wake: AbortController | null = null;
  private readonly nudged = new Set<string>();
  private readonly ticking = new Map<string, Promise<void>>();
  /** Sessions this engine owns, in memory. Dropped when the lease is lost or the session is gone. */
  private readonly live = new Map<string, LiveSession>();
  /** The infrastructure as last observed, shared by every session. */
  private readonly world: World;

  constructor(
    private readonly deps: EngineDeps,
    opts: Partial<EngineOptions> = {},
  ) {
    this.opts = { ...DEFAULT_ENGINE_OPTIONS, ...opts };
    this.world = new World(deps.driver);
    this.runs = new PluginRuns({
      store: deps.store,
      plugins: deps.plugins,
      clock: deps.clock,
      log: deps.log,
      publicUrl: deps.ctx.publicUrl,
      ...(deps.workDir && { workDir: deps.workDir }),
      record: (op, lease, patch) => this.record(op, lease, patch),
      nudge: (id) => this.nudge(id),
    });
    deps.driver.onOperationProgress?.((refs) => this.progressed(refs));
  }

  /**
   * The driver says these operations may have moved on (an event): they are polled in the next tick
   * of their sessions instead of at their expected time. O(ops in flight of the sessions held).
   */
  private progressed(refs: string[]): void {
    const now = this.deps.clock.now();
    const which = new Set(refs);
    for (const ls of this.live.values()) {
      let hit = false;
      for (const op of ls.index.active())
        if (op.status === 'started' && op.ref !== null && which.has(op.ref) && (op.pollAt === null || op.pollAt > now)) {
          ls.patchOp(op, { pollAt: now }); // in memory only: a poll time lost to a crash is harmless
          hit = true;
        }
      if (hit) this.nudge(ls.id);
    }
  }

  /** Ask for a session to be looked at soon (after an API change or a finished plug-in). */
  nudge(sessionId?: string): void {
    if (sessionId) this.nudged.add(sessionId);
    this.runs.wake(sessionId); // a plug-in callback may have come
    this.wake?.abort();
  }

  /**
   * Keep the leases of sessions with plug-ins running in this process: without ticks their lease
   * would lapse and another engine would start the same plug-in again. A lost lease aborts the run.
   */
  private async heartbeat(): Promise<void> {
    const { store, clock, owner, log } = this.deps;
    for (const id of this.runs.sessions()) {
      const lease = await store.acquireLease(id, owner, clock.now(), this.opts.leaseTtlMs).catch(() => undefined);
      if (lease) continue;
      log.warn({ session: id }, 'lease lost while a plug-in runs; aborting it');
      this.runs.stop(id, new PluginStop('lease', 'stopped: another engine holds the session now'));
    }
  }

  /** Tick every due or nudged session once. Returns the number of sessions ticked. */
  async runOnce(): Promise<number> {
    const { store, clock, owner } = this.deps;
    const due = new Set([...this.nudged, ...(await store.dueSessions(clock.now(), 500, owner))]);
    this.nudged.clear();
    const ids = [...due];
    for (let i = 0; i < ids.length; i += this.opts.concurrency)
      await Promise.all(ids.slice(i, i + this.opts.concurrency).map((id) => this.tick(id)));
    return ids.length;
  }

  async run(signal: AbortSignal): Promise<void> {
    const { store, clock, log } = this.deps;
    while (!signal.aborted) {
      try {
        await this.runOnce();
      } catch (err) {
        log.error({ err }, 'engine round failed');
      }
      await this.heartbeat();
      // Whatever happens, let I/O (the API in one process) run before the next round.
      await yieldToEventLoop();
      if (signal.aborted || this.nudged.size) continue;
      const next = await store.nextWakeAt().catch(() => null);
      const now = clock.now();
      const ms = Math.max(0, Math.min(this.opts.idleMs, this.opts.leaseTtlMs / 3, next === null ? this.opts.idleMs : next - now));
      this.wake = new AbortController();
      const stop = () => this.wake?.abort();
      signal.addEventListener('abort', stop, { once: true });
      await clock.sleep(ms, this.wake.signal);
      signal.removeEventListener('abort', stop);
      this.wake = null;
    }
    await Promise.allSettled([...this.runs.all(), ...this.ticking.values()]);
  }

  /** Reconcile one session. Safe to call at any time, any number of times. */
  tick(id: string): Promise<void> {
    const running = this.ticking.get(id);
    if (running) {
      // Coalesce: one more pass after the running one, so nothing nudged meanwhile is missed.
      this.nudged.add(id);
      return running;
    }
    const p = this.reconcile(id).finally(() => this.ticking.delete(id));
    this.ticking.set(id, p);
    return p;
  }

  /** The session in memory under this lease: kept, or (new lease, new fence) loaded afresh. */
  private async liveSession(id: string, lease: Lease): Promise<LiveSession | undefined> {
    const { store } = this.deps;
    let ls = this.live.get(id);
    if (!ls || ls.fence !== lease.fence) {
      const snap = await store.loadSnapshot(id);
      if (!snap) {
        this.live.delete(id);
        return undefined;
      }
      ls = new LiveSession(snap, lease.fence);
      this.live.set(id, ls);
      return ls;
    }
    await this.refresh(ls);
    return this.live.get(id);
  }

  /** Merge what others wrote since the engine last looked (O(changes); two key lookups when none). */
  private async refresh(ls: LiveSession): Promise<void> {
    const ch = await this.deps.store.changesSince(ls.id, ls.changeSeq, ls.globalSeq);
    if (!ch) this.live.delete(ls.id);
    else ls.merge(ch);
  }

  /**
   * Commit a decision under the lease and mirror it in memory. False: the lease is lost.
   * `defer`: a decision without intents is applied in memory now and written with the next write
   * (at the latest when the tick ends), so a session's steps cost one transaction per intent batch,
   * not one per step.
   */
  private async commit(ls: LiveSession, d: Decision, now: number, defer = false): Promise<boolean> {
    if (defer && !d.ops?.length && ls.bufferedCount < MAX_DEFERRED && ls.bufferedRows + rowsOf(d) <= MAX_DEFERRED_ROWS) {
      await this.joined(ls, ls.defer(d, now));
      return true;
    }
    const { all, earlier } = ls.withBuffered(d);
    const trim = ls.changeSeq > ls.trimmedSeq ? ls.changeSeq : undefined;
    const opPatches = ls.pendingOps.size ? new Map(ls.pendingOps) : undefined;
    const applied = await this.deps.store.commitDecision(ls.id, ls.fence, all, now, trim, opPatches);
    if (!applied) {
      this.live.delete(ls.id);
      return false;
    }
    for (const id of opPatches?.keys() ?? []) ls.pendingOps.delete(id);
    if (trim !== undefined) ls.trimmedSeq = trim;
    for (const e of earlier) ls.delivered(e, applied.fanout);
    await this.joined(ls, ls.apply(d, applied, now));
    // Deliver now, not at the end of the tick (only when something went to a subscriber).
    if ([...applied.fanout.values()].some((n) => n > 0)) this.deps.onOutbox?.();
    if (applied.changeSeq > ls.changeSeq) await this.refresh(ls); // someone wrote meanwhile
    return true;
  }

  /** Projects new to the session bring their constraints (the constraint workflows plan with them). */
  private async joined(ls: LiveSession, projects: string[]): Promise<void> {
    if (projects.length && ls.data.session.workflow !== 'default') ls.addConstraints(await this.deps.store.constraintsFor(projects));
  }

  private async reconcile(id: string): Promise<void> {
    const { store, clock, ctx, log, owner } = this.deps;
    const lease = await store.acquireLease(id, owner, clock.now(), this.opts.leaseTtlMs);
    if (!lease) {
      this.live.delete(id);
      return;
    }
    let ls: LiveSession | undefined;
    let observed = false; // looked at the world since it last changed
    try {
      ls = await this.liveSession(id, lease);
      if (!ls) return;
      const data = ls.data;
      for (let step = 0; step < this.opts.maxStepsPerTick; step++) {
        // Let the API (and other sessions) run between steps: in one process they share this thread.
        if (step > 0) await yieldToEventLoop();
        this.runs.cancelIfStopping(data.session); // aborted or deleted: its plug-ins' programs are killed
        if (data.session.deleting && data.session.phase.restored) {
          await store.purgeSession(id);
          this.live.delete(id);
          log.info({ session: id }, 'session deleted');
          return;
        }
        if (data.session.control) {
          if (!observed) await this.observe();
          observed = true;
          const d = applyControl({ ...data, index: ls.index, observed: this.world.view(ls.inventoryChanges()), ctx }, clock.now(), data.session.control);
          if (!(await this.commit(ls, d, clock.now()))) return;
          logDecision(log, id, d);
          continue;
        }
        // Pending intents are started (also those whose engine died right after writing them), then
        // due driver operations polled. Both record outcomes on the live session's ops.
        const started = await this.startOps(ls, lease);
        const polled = await this.pollOps(ls);
        if (polled || started) observed = false; // the world changed: observe it afresh
        const decide = workflowFor(data.session.workflow);
        if (!decide) {
          await this.commit(ls, { wakeAt: null }, clock.now());
          return;
        }
        if (!observed) await this.observe();
        observed = true;
        const now = clock.now();
        const snapshot: Snapshot = { ...data, index: ls.index, observed: this.world.view(ls.inventoryChanges()), ctx };
        const d = decide(snapshot, now);
        // The inventory step has seen every change noted so far (it runs first, unless the session is over or paused).
        if (reachesInventory(snapshot)) ls.inventoryTaken();
        if (!hasEffects(d)) {
          // Ops due now (a fast driver): poll them in this tick rather than in a new one. No spin:
          // each pass polls a due op, which then finishes or is given a later poll time.
          const opWake = this.nextOpWake(ls);
          if (opWake !== null && opWake <= clock.now()) continue;
          const wakeAt = minWake(d.wakeAt ?? null, opWake);
          // The tick ends here: write what is deferred, the op outcomes and when to look again.
          if (wakeAt !== data.session.wakeAt || ls.pendingOps.size || ls.bufferedCount) await this.commit(ls, { wakeAt }, now);
          return;
        }
        if (!(await this.commit(ls, { ...d, wakeAt: d.wakeAt ?? now }, now, true))) {
          log.warn({ session: id }, 'lease lost; another engine owns the session now');
          return;
        }
        logDecision(log, id, d);
        if (d.ops?.length) observed = false; // the next round starts them, then observes afresh
      }
      // Still busy after many steps: yield to other sessions and come straight back.
      await this.commit(ls, { wakeAt: clock.now() }, clock.now());
    } catch (err) {
      // What is in memory may be ahead of or behind the store: read it afresh next time.
      this.live.delete(id);
      const retry = err instanceof DriverError && err.retryable;
      log.error({ err, session: id }, retry ? 'tick failed; will retry' : 'tick failed');
      await store.applyDecision(id, lease.fence, { wakeAt: clock.now() + this.opts.retryMs }, clock.now()).catch(() => {});
    }
  }

  /** Look at the world again; every session this engine holds learns which instances changed. */
  private async observe(): Promise<void> {
    const changed = await this.world.refresh();
    for (const ls of this.live.values()) ls.observedChanges(changed);
  }

  /** Earliest poll or start time of the ops in flight: O(ops in flight). */
  private nextOpWake(ls: LiveSession): number | null {
    let w: number | null = null;
    for (const o of ls.index.active()) {
      if (o.status === 'started' && o.pollAt !== null) w = minWake(w, o.pollAt);
      if (o.status === 'pending') w = minWake(w, o.pollAt ?? this.deps.clock.now());
      // A plug-in run ends with a nudge; the session stays due anyway, so that if this engine dies,
      // the next one (a sweep only finds due sessions) picks the run up within a lease's time.
      if (o.status === 'started' && o.kind === 'plugin') w = minWake(w, this.deps.clock.now() + Math.ceil(this.opts.leaseTtlMs / 3));
    }
    return w;
  }

  // ---- intents ------------------------------------------------------------------------------

  /**
   * Record an op's outcome under the lease and mirror it in memory: on the op given and on the
   * session this engine holds now (a plug-in may finish after the session was reloaded). Used for
   * what happens outside a step (plug-in runs); outcomes inside a step are `note`d instead.
   */
  private async record(op: Op, lease: Lease, patch: OpPatch): Promise<boolean> {
    const ok = await this.deps.store.updateOp(op.id, lease.fence, patch);
    if (!ok) return false;
    Object.assign(op, patch);
    const ls = this.live.get(op.sessionId);
    const mine = ls?.index.op(op.key);
    if (ls && mine) ls.patchOp(mine, patch);
    return true;
  }

  /**
   * An op's outcome inside a step: mirrored in memory now, written with the step's decision, in the
   * same transaction (no transaction per outcome). Losing it to a crash is safe: the op looks
   * pending or started again, and the driver answers a repeated start with the same operation (the
   * op's key is its idempotency key) and a repeated poll with the same result.
   */
  private note(ls: LiveSession, op: Op, patch: OpPatch): void {
    ls.patchOp(op, patch);
    ls.pendingOps.set(op.id, Object.assign({}, ls.pendingOps.get(op.id), patch));
  }

  /**
   * Start every pending intent. Returns whether any was started or finished (the world changed).
   * Scheduling changes, plug-ins and downloads go in the order they were decided, consecutive
   * scheduling changes of distinct hosts together, each group finished before the next starts (a
   * host is disabled before moves that must not land on it start); then moves and host maintenance
   * start together. At most `startConcurrency` driver calls at once: each has its own idempotency
   * key, and a simulated cloud writes the state of calls made together in one statement.
   */
  private async startOps(ls: LiveSession, lease: Lease): Promise<boolean> {
    const now = this.deps.clock.now();
    const sequential: Op[] = [];
    const together: Op[] = [];
    // O(ops in flight): done and failed ops are never looked at again.
    for (const op of [...ls.index.active()]) {
      if (op.status === 'started' && op.kind === 'plugin' && !this.runs.has(op.id)) {
        await this.runs.resume(ls.data, op, lease); // interrupted by a crash or a takeover
        continue;
      }
      if (op.status !== 'pending' || (op.pollAt !== null && op.pollAt > now)) continue;
      (op.kind === 'move' || op.kind === 'host_maintenance' ? together : sequential).push(op);
    }
    let changed = false;
    const width = this.opts.startConcurrency;
    for (let i = 0; i < sequential.length; ) {
      // Scheduling changes of distinct hosts, next to each other, start together (the first round
      // of the default workflow disables every compute host); anything else starts alone.
      const batch = [sequential[i]!];
      const hosts = new Set([batch[0]!.subject]);
      for (let j = i + 1; batch[0]!.kind === 'scheduling' && j < sequential.length && batch.length < width; j++) {
        const op = sequential[j]!;
        if (op.kind !== 'scheduling' || hosts.has(op.subject)) break;
        batch.push(op);
        hosts.add(op.subject);
      }
      i += batch.length;
      if ((await Promise.all(batch.map((op) => this.startOp(ls, op, lease)))).includes(true)) changed = true;
    }
    const admit = this.moveAdmission();
    if (admit) {
      // Over a cap: wait until a move in flight is next polled (it may have freed a slot by then).
      const held = together.filter((op) => op.kind === 'move' && !admit.admit(op));
      for (const op of held) this.note(ls, op, { pollAt: Math.max(now + this.opts.minPollMs, admit.nextSlot ?? now + this.opts.pollMs) });
      if (held.length) together.splice(0, together.length, ...together.filter((op) => !held.includes(op)));
    }
    for (let i = 0; i < together.length; i += width) {
      const results = await Promise.all(together.slice(i, i + width).map((op) => this.startOp(ls, op, lease)));
      if (results.includes(true)) changed = true;
    }
    return changed;
  }

  /**
   * Which pending moves may start now under the move caps (null: no caps). Counts the moves in
   * flight of every session this engine holds: O(ops in flight). A move let in counts at once.
   */
  private moveAdmission(): { admit: (op: Op) => boolean; nextSlot: number | null } | null {
    const lim = this.opts.moveLimits ?? this.deps.driver.moveLimits;
    const cap = (n: number | undefined) => (n && n > 0 ? n : Infinity);
    const total = cap(lim?.total);
    const perSource = cap(lim?.perSource);
    const perTarget = cap(lim?.perTarget);
    if (total === Infinity && perSource === Infinity && perTarget === Infinity) return null;
    const from = new Map<string, number>();
    const into = new Map<string, number>();
    let all = 0;
    const count = (op: Op) => {
      all++;
      from.set(String(op.args.from), (from.get(String(op.args.from)) ?? 0) + 1);
      if (typeof op.args.target === 'string') into.set(op.args.target, (into.get(op.args.target) ?? 0) + 1);
    };
    let nextSlot: number | null = null;
    for (const ls of this.live.values())
      for (const op of ls.index.active())
        if (op.kind === 'move' && op.status === 'started') {
          count(op);
          if (op.pollAt !== null) nextSlot = minWake(nextSlot, op.pollAt);
        }
    const admit = (op: Op) => {
      const target = typeof op.args.target === 'string' ? op.args.target : null;
      if (all >= total || (from.get(String(op.args.from)) ?? 0) >= perSource || (target !== null && (into.get(target) ?? 0) >= perTarget)) return false;
      count(op);
      return true;
    };
    return { admit, nextSlot };
  }

  /** Carry out one pending intent; true when it finished (done or failed) at once. */
  private async startOp(ls: LiveSession, op: Op, lease: Lease): Promise<boolean> {
    const { clock, driver, log } = this.deps;
    const now = clock.now();
    const key = `${op.sessionId}:${op.key}`;
    try {
      switch (op.kind) {
        case 'scheduling':
          await driver.setHostScheduling(op.subject, op.args.enabled === true, 'maintenance');
          this.note(ls, op, { status: 'done', startedAt: now, finishedAt: clock.now(), attempts: op.attempts + 1 });
          return true;
        case 'move': {
          const ref = await driver.startMove(op.subject, op.args.kind as MoveKind, key, typeof op.args.target === 'string' ? { target: op.args.target } : {});
          this.note(ls, op, { status: 'started', ref, startedAt: now, pollAt: now, attempts: op.attempts + 1, ...(op.error !== null && { error: null }) });
          return false;
        }
        case 'host_maintenance': {
          const ref = await driver.startHostMaintenance(op.subject, key);
          this.note(ls, op, { status: 'started', ref, startedAt: now, pollAt: now, attempts: op.attempts + 1, ...(op.error !== null && { error: null }) });
          return false;
        }
        case 'plugin':
          await this.runs.start(ls.data, op, lease); // written as started (durable) before it runs
          return op.status === 'failed';
        case 'download': {
          if (!this.deps.download) throw new Error('this engine cannot download (no downloader configured)');
          const ac = new AbortController();
          const t = setTimeout(() => ac.abort(), DOWNLOAD_TIMEOUT_MS);
          try {
            const path = await this.deps.download(String(op.args.url), op.sessionId, ac.signal);
            this.note(ls, op, { status: 'done', startedAt: now, finishedAt: clock.now(), result: { path }, attempts: op.attempts + 1 });
          } finally {
            clearTimeout(t);
          }
          return true;
        }
      }
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      if (err instanceof DriverError && err.retryable) {
        log.warn({ session: op.sessionId, op: op.key, err: msg }, 'driver call failed; will retry');
        this.note(ls, op, { attempts: op.attempts + 1, error: msg, pollAt: now + this.opts.retryMs });
        return false;
      }
      this.note(ls, op, { status: 'failed', error: msg, finishedAt: now, attempts: op.attempts + 1 });
      return true;
    }
    return false;
  }

  /** Poll started driver operations that are due. Returns whether any finished. */
  private async pollOps(ls: LiveSession): Promise<boolean> {
    const { clock, driver } = this.deps;
    let changed = false;
    for (const op of [...ls.index.active()]) {
      if (op.status !== 'started' || op.ref === null || (op.kind !== 'move' && op.kind !== 'host_maintenance')) continue;
      const now = clock.now();
      if (op.pollAt !== null && op.pollAt > now) continue;
      try {
        const st = await driver.getOperation(op.ref);
        if (st.status === 'running') {
          const hint = st.expectedAt ?? now + this.opts.pollMs;
          const pollAt = Math.max(now + this.opts.minPollMs, Math.min(hint, now + this.opts.pollMs));
          this.note(ls, op, { pollAt, ...(op.error !== null && { error: null }) }); // a retried poll that worked: the old error is no longer true
        } else {
          this.note(ls, op, {
            status: st.status,
            finishedAt: now,
            result: st.host ? { host: st.host } : {},
            error: st.error ?? null,
            pollAt: null,
          });
          changed = true;
        }
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        if (err instanceof DriverError && !err.retryable) {
          this.note(ls, op, { status: 'failed', error: msg, finishedAt: now });
          changed = true;
        } else this.note(ls, op, { pollAt: now + this.opts.retryMs, error: msg });
      }
    }
    return changed;
  }
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function logDecision(log: EngineLog, id: string, d: Decision): void {
  for (const t of d.timeline ?? []) log.info({ session: id, kind: t.kind }, t.message);
}
