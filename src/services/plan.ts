// Plans before action: the dry-run of a session create body (what the vnf / k8s workflow would do
// on the cloud as it is now: host order, batches, moves with times, duration, headroom, lower bound,
// and why it cannot succeed when it cannot), and the plan a running session follows. Nothing is
// created or changed.
import { ownedConstraints, type PersistedPlan, type PlanEstimates } from '../domain/constraints.js';
import { FenixError } from '../domain/errors.js';
import type { SessionRow } from '../domain/model.js';
import type { WorkflowName } from '../domain/states.js';
import type { Clock } from '../ports/clock.js';
import type { InfraDriver } from '../ports/infra-driver.js';
import type { Store } from '../ports/store.js';
import { estimatesOf, planInput } from '../planner/input.js';
import { planMaintenance, type ActionPolicy, type Plan } from '../planner/plan.js';
import { requireAdmin, type Principal } from './principal.js';
import { parseMaintenanceAt } from './time.js';
import { parseWindows } from '../domain/windows.js';
import { withWindows } from '../planner/windows.js';

export interface PlanRequest {
  hosts?: string[];
  maintenance_at?: string;
  workflow?: string;
  max_parallel_hosts?: number;
  /** Durations to assume instead of the engine's (seconds): migrate_s, live_migrate_s, evict_s, host_maintenance_s, reply_s. */
  estimates?: Record<string, unknown>;
  /** Maintenance windows: the plan's times wait for them. */
  windows?: unknown;
  [k: string]: unknown;
}

export interface PlanDeps {
  store: Store;
  driver: InfraDriver;
  clock: Clock;
  /** Durations the engine's workflows assume (e.g. the simulated driver's timings). */
  estimates?: Partial<PlanEstimates>;
}

export interface DryRun {
  workflow: ActionPolicy;
  startsAt: number;
  plan: Plan;
  hosts: string[];
  /** Seconds the plan waits for maintenance windows (absent: no windows given). */
  windowWaitS?: number;
}

const WIRE_ESTIMATES: Record<string, keyof PlanEstimates> = {
  migrate_s: 'migrateS',
  live_migrate_s: 'liveMigrateS',
  evict_s: 'evictS',
  host_maintenance_s: 'hostMaintenanceS',
  reply_s: 'replyS',
};

/** `estimates` of a request body (wire names) as PlanEstimates fields; unknown or bad values refused. */
export function parseEstimates(raw: unknown): Partial<PlanEstimates> {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new FenixError('VALIDATION_FAILED', 'estimates must be an object of seconds');
  const out: Partial<PlanEstimates> = {};
  for (const [k, v] of Object.entries(raw)) {
    // Own keys only: a caller's key must never reach Object.prototype (`constructor`, `__proto__`…).
    const field = Object.hasOwn(WIRE_ESTIMATES, k) ? WIRE_ESTIMATES[k] : undefined;
    if (!field) throw new FenixError('VALIDATION_FAILED', `unknown estimate ${k}; use ${Object.keys(WIRE_ESTIMATES).join(', ')}`);
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new FenixError('VALIDATION_FAILED', `estimates.${k} must be a number of seconds >= 0`);
    out[field] = v;
  }
  return out;
}

export class PlanService {
  constructor(private readonly deps: PlanDeps) {}

  async dryRun(who: Principal, body: PlanRequest): Promise<DryRun> {
    requireAdmin(who);
    const { store, driver, clock } = this.deps;
    const workflow = (body.workflow ?? 'vnf') as WorkflowName;
    if (workflow !== 'vnf' && workflow !== 'k8s')
      throw new FenixError('UNKNOWN_WORKFLOW', `the planner plans vnf and k8s sessions; ${JSON.stringify(body.workflow)} has no plan (default maintains one host at a time)`);
    let startsAt = clock.now();
    if (body.maintenance_at !== undefined) {
      const t = parseMaintenanceAt(body.maintenance_at);
      if (t === null) throw new FenixError('VALIDATION_FAILED', `maintenance_at ${JSON.stringify(body.maintenance_at)} is not "YYYY-MM-DD HH:MM:SS" (UTC) or ISO 8601`);
      startsAt = Math.max(t, startsAt);
    }
    const windows = body.windows === undefined ? undefined : parseWindows(body.windows);
    if (typeof windows === 'string') throw new FenixError('VALIDATION_FAILED', windows);
    const mp = body.max_parallel_hosts;
    if (mp !== undefined && (!Number.isInteger(mp) || mp < 0)) throw new FenixError('VALIDATION_FAILED', 'max_parallel_hosts must be an integer >= 0');
    const [hosts, instances, ic, gc, subs] = await Promise.all([
      driver.listHosts(),
      driver.listInstances(),
      store.listInstanceConstraints(),
      store.listGroupConstraints(),
      store.listSubscriptions(),
    ]);
    const owners = new Map(instances.map((i) => [i.id, i.projectId]));
    const asked = body.hosts ?? [];
    const unknown = asked.filter((h) => !hosts.some((k) => k.name === h));
    if (unknown.length) throw new FenixError('UNKNOWN_HOSTS', `unknown hosts: ${unknown.join(', ')}`, { unknown });
    const session = asked.length ? asked : hosts.map((h) => h.name);
    if (!session.length) throw new FenixError('NO_HOSTS', 'the infrastructure reports no hosts to maintain');
    const replying = [...new Set(subs.filter((s) => s.projectId && s.eventTypes.includes('maintenance.scheduled')).map((s) => s.projectId!))];
    const plan = planMaintenance(
      planInput({
        observed: { hosts, instances },
        session: session.map((name) => ({ name })),
        constraints: ownedConstraints({ instances: ic, groups: gc }, (id) => owners.get(id)),
        estimates: estimatesOf(this.deps.estimates, parseEstimates(body.estimates)),
        policy: workflow,
        maxParallelHosts: mp ?? 0,
        replyingProjects: replying,
      }),
    );
    if (!windows) return { workflow, startsAt, plan, hosts: session };
    const w = withWindows(plan, startsAt, windows);
    return { workflow, startsAt, plan: w.plan, hosts: session, windowWaitS: w.waitS };
  }

  /** The plan a session persisted (vnf / k8s), with where it stands: O(plan + hosts), no instance read. */
  async ofSession(who: Principal, id: string): Promise<{ session: SessionRow; plan: PersistedPlan | null; hostStatus: Record<string, string> }> {
    requireAdmin(who);
    const session = await this.deps.store.getSession(id);
    if (!session || session.deleting) throw new FenixError('SESSION_NOT_FOUND', `no maintenance session ${id}`);
    const [plan, hosts] = [await this.deps.store.sessionPlan(id), await this.deps.store.sessionHostStatuses(id)];
    return { session, plan, hostStatus: Object.fromEntries(hosts.map((h) => [h.name, h.status])) };
  }
}
