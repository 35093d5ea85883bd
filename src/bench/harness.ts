// A whole engine in one process on virtual time: SQLite in memory, the simulated cloud, the engine,
// the outbox relay with an in-process transport, and application managers that answer every
// notification after a fixed (virtual) delay, the way the Doctor / Tacker clients do. Time only
// moves when nothing is due: then the clock jumps to the next wake-up, driver event, delivery or
// reply. Used by `npm run bench` and by tests that compare a plan with what a session did.
import { FenixError } from '../domain/errors.js';
import type { Constraints, GroupConstraint, InstanceConstraint, PlanEstimates } from '../domain/constraints.js';
import type { SessionRow } from '../domain/model.js';
import { isTerminal, type WorkflowName } from '../domain/states.js';
import { ManualClock } from '../clock/manual.js';
import { SimulatedDriver, type ScenarioInput } from '../drivers/simulated/index.js';
import { Engine, type EngineLog } from '../engine/engine.js';
import { Relay } from '../notifier/relay.js';
import { dummyPlugin } from '../plugins/dummy.js';
import { MapPluginRegistry } from '../plugins/registry.js';
import type { Store } from '../ports/store.js';
import type { DeliveryResult, Notification, Subscription, Transport } from '../ports/transport.js';
import type { RecordedMove, VerifyInput } from '../planner/verify.js';
import { PlanService } from '../services/plan.js';
import { ProjectService } from '../services/projects.js';
import { SessionService, type CreateSessionInput } from '../services/sessions.js';
import { openSqliteStore } from '../store/sqlite/index.js';
import { WORKFLOW_IMPLS } from '../workflows/index.js';

export interface VirtualCloudOptions {
  scenario: ScenarioInput;
  constraints?: { instances: InstanceConstraint[]; groups: GroupConstraint[] };
  /** Projects with an application manager that answers (default: every project of the scenario). */
  projects?: string[];
  /** Virtual seconds an application manager takes to answer. Default 1. */
  replyDelayS?: number;
  /** Durations the vnf / k8s planner assumes; default: the scenario's timings and replyDelayS. */
  estimates?: Partial<PlanEstimates>;
  /** Start of virtual time (ms). */
  startAt?: number;
}

const SILENT: EngineLog = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };

/** Answers notifications like the Doctor / Tacker application managers, after `delayMs` of virtual time. */
class AutoReplier implements Transport {
  private queue: { at: number; seq: number; run: () => Promise<unknown> }[] = [];
  private seq = 0;
  replies = 0;

  constructor(
    private readonly clock: ManualClock,
    private readonly projects: ProjectService,
    private readonly migrationType: (instanceId: string) => string | null,
    private readonly delayMs: number,
  ) {}

  async deliver(sub: Subscription, n: Notification): Promise<DeliveryResult> {
    const pid = sub.projectId;
    if (!pid || n.eventType !== 'maintenance.scheduled') return { ok: true, status: 200 };
    const p = n.payload;
    const state = String(p.state);
    const sid = String(p.session_id);
    const who = { role: 'project' as const, projectId: pid };
    const later = (run: () => Promise<unknown>) => this.queue.push({ at: this.clock.now() + this.delayMs, seq: this.seq++, run });
    switch (state) {
      case 'MAINTENANCE':
      case 'SCALE_IN':
      case 'MAINTENANCE_COMPLETE':
        later(() => this.projects.reply(who, sid, pid, { state: `ACK_${state}` }));
        break;
      case 'PREPARE_MAINTENANCE':
      case 'PLANNED_MAINTENANCE':
        if (Array.isArray(p.instance_ids)) {
          // Per instance (vnf / k8s): the instance's own migration_type, else the engine's default.
          for (const iid of p.instance_ids.map(String)) {
            const action = this.migrationType(iid);
            later(() => this.projects.reply(who, sid, pid, { state: `ACK_${state}`, ...(action && { instance_action: action }) }, iid));
          }
        } else {
          // Per project (default): every listed instance migrates, like the Doctor sample VNFM.
          later(async () => {
            const ids = await this.projects.instances(who, sid, pid);
            return this.projects.reply(who, sid, pid, { state: `ACK_${state}`, instance_actions: Object.fromEntries(ids.map((i) => [i, 'MIGRATE'])) });
          });
        }
        break;
      default:
        break; // INSTANCE_ACTION_DONE: informational
    }
    return { ok: true, status: 200 };
  }

  nextAt(): number | null {
    return this.queue.length ? Math.min(...this.queue.map((q) => q.at)) : null;
  }

  /** Send the replies that are due. Returns how many. */
  async flush(): Promise<number> {
    const now = this.clock.now();
    const due = this.queue.filter((q) => q.at <= now).sort((a, b) => a.at - b.at || a.seq - b.seq);
    if (!due.length) return 0;
    this.queue = this.queue.filter((q) => q.at > now);
    for (const q of due) {
      await q.run().catch((e: unknown) => {
        if (!(e instanceof FenixError)) throw e;
      });
      this.replies++;
    }
    return due.length;
  }
}

export interface VirtualCloud {
  clock: ManualClock;
  store: Store;
  driver: SimulatedDriver;
  engine: Engine;
  sessions: SessionService;
  projects: ProjectService;
  plans: PlanService;
  estimates: Partial<PlanEstimates>;
  createSession(body: CreateSessionInput): Promise<string>;
  /** Run virtual time until the session is over (or `until` says so). */
  run(id: string, opts?: { until?: (s: SessionRow) => boolean; maxVirtualS?: number }): Promise<SessionRow>;
  /** What the session did, for planner/verify.ts. */
  record(id: string): Promise<VerifyInput & { hostOrder: string[]; hostStarts: Record<string, number> }>;
  close(): Promise<void>;
}

export async function startVirtualCloud(o: VirtualCloudOptions): Promise<VirtualCloud> {
  const clock = new ManualClock(o.startAt ?? Date.UTC(2026, 0, 1, 9, 0, 0));
  const driver = new SimulatedDriver(o.scenario, clock);
  const store = await openSqliteStore(':memory:');
  const constraints: Constraints = o.constraints ?? { instances: [], groups: [] };
  for (const g of constraints.groups) await store.putGroupConstraint(g);
  for (const c of constraints.instances) await store.putInstanceConstraint(c);
  const plugins = new MapPluginRegistry([dummyPlugin]);
  const t = o.scenario.timings;
  const replyDelayS = o.replyDelayS ?? 1;
  const estimates: Partial<PlanEstimates> = {
    migrateS: t.migrate_s,
    liveMigrateS: t.live_migrate_s,
    evictS: t.evict_s ?? t.migrate_s,
    hostMaintenanceS: t.host_maintenance_s,
    replyS: replyDelayS,
    ...o.estimates,
  };

  const late: { engine?: Engine } = {};
  const nudge = (id: string) => late.engine?.nudge(id);
  const sessions = new SessionService({
    store,
    driver,
    clock,
    plugins,
    nudge,
    defaults: {
      replyWindowS: 300,
      scaleInReplyWindowS: 300,
      ownActionTimeoutS: 3600,
      noSubscription: 'act',
      minNoticeS: 0,
      workflows: Object.keys(WORKFLOW_IMPLS) as WorkflowName[],
    },
  });
  const projects = new ProjectService({ store, clock, nudge });
  const mt = new Map(constraints.instances.map((c) => [c.instanceId, c.migrationType]));
  const replier = new AutoReplier(clock, projects, (iid) => mt.get(iid) ?? null, replyDelayS * 1000);
  const projectIds = o.projects ?? [...new Set(o.scenario.instances.map((i) => i.project_id))].sort();
  for (const pid of projectIds)
    await store.createSubscription({
      id: `sub-${pid}`,
      projectId: pid,
      url: `inproc://${pid}`,
      eventTypes: ['maintenance.scheduled'],
      format: 'json',
      secret: null,
      createdAt: clock.now(),
      delivered: 0,
    });
  const relay = new Relay({ store, transport: replier, clock }, { concurrency: 64, random: () => 0.5 });
  const engine = new Engine(
    {
      store,
      driver,
      plugins,
      clock,
      ctx: { publicUrl: 'http://fenix.bench:12347', adminProject: 'admin', plugins: plugins.names(), estimates },
      log: SILENT,
      owner: 'bench',
    },
    // Polls land exactly when the simulated operation ends (its expectedAt), not every second.
    { pollMs: 24 * 3600_000, minPollMs: 1, maxStepsPerTick: 1000, leaseTtlMs: 24 * 3600_000 },
  );
  late.engine = engine;
  const plans = new PlanService({ store, driver, clock, estimates });

  /** Everything due now, until nothing is. */
  const settle = async () => {
    for (let i = 0; i < 10_000; i++) {
      const a = await engine.runOnce();
      const b = await relay.runOnce();
      const c = await replier.flush();
      if (!a && !b && !c) return;
      if (i > 200 && !b && !c) return; // a session that keeps waking itself at `now`: let time move
    }
  };

  return {
    clock,
    store,
    driver,
    engine,
    sessions,
    projects,
    plans,
    estimates,
    async createSession(body) {
      return (await sessions.create({ role: 'admin' }, body)).id;
    },
    async run(id, opts = {}) {
      const limit = clock.now() + (opts.maxVirtualS ?? 30 * 86_400) * 1000;
      for (;;) {
        await settle();
        const s = (await store.getSession(id))!;
        if (isTerminal(s.state)) {
          const plan = await store.sessionPlan(id);
          return plan ? { ...s, phase: { ...s.phase, plan } } : s;
        }
        if (opts.until?.(s)) return s;
        const candidates = [await store.nextWakeAt(), driver.nextEventAt(), await store.nextDeliveryAt(), replier.nextAt()].filter((x): x is number => x !== null);
        if (!candidates.length) throw new Error(`session ${id} is stuck in ${s.state}: nothing is due`);
        const next = Math.max(Math.min(...candidates), clock.now() + 1);
        if (next > limit) throw new Error(`session ${id} still in ${s.state} after the virtual time limit`);
        clock.set(next);
      }
    },
    async record(id) {
      const data = (await store.loadSnapshot(id))!;
      const outbox = await store.outboxFor(id);
      const moves: RecordedMove[] = data.ops
        .filter((op) => op.kind === 'move' && op.status === 'done' && op.startedAt !== null && op.finishedAt !== null)
        .map((op) => ({
          instance: op.subject,
          from: String(op.args.from),
          to: String(op.result?.host ?? op.args.target),
          startMs: op.startedAt!,
          endMs: op.finishedAt!,
        }));
      const maintenance = data.ops
        .filter((op) => op.kind === 'host_maintenance' && op.startedAt !== null)
        .map((op) => ({ host: op.subject, startMs: op.startedAt!, endMs: op.finishedAt ?? clock.now() }));
      const seen = new Set<string>();
      const notices: VerifyInput['notices'] = [];
      for (const r of outbox) {
        const st = r.payload.state;
        if (r.eventType !== 'maintenance.scheduled' || (st !== 'PREPARE_MAINTENANCE' && st !== 'PLANNED_MAINTENANCE')) continue;
        const key = `${r.payload.project_id}|${JSON.stringify(r.payload.instance_ids)}|${r.createdAt}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const ids = r.payload.instance_ids;
        if (Array.isArray(ids)) for (const iid of ids) notices.push({ instance: String(iid), atMs: r.createdAt });
        else notices.push({ project: String(r.payload.project_id), atMs: r.createdAt });
      }
      const hostStarts: Record<string, number> = {};
      const hostOrder: string[] = [];
      for (const e of await store.timeline(id)) {
        if (e.kind !== 'batch') continue;
        const names = e.message.replace(/^batch \d+\/\d+: /, '').split(', ');
        for (const h of names)
          if (!(h in hostStarts)) {
            hostStarts[h] = e.at;
            hostOrder.push(h);
          }
      }
      return {
        initial: data.instances.map((i) => ({ id: i.instanceId, host: i.originHost })),
        projectOf: Object.fromEntries(data.instances.map((i) => [i.instanceId, i.projectId])),
        moves,
        maintenance,
        notices,
        constraints,
        hostOrder,
        hostStarts,
      };
    },
    async close() {
      await store.close();
    },
  };
}
