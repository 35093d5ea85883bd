// The planner over HTTP (docs/vnf.md): POST /v1/maintenance/plan takes a session create body and
// answers the plan the vnf / k8s workflow would follow on the cloud as it is now (nothing is
// created); GET /v1/maintenance/{id}/plan shows the plan a session persisted and how far it got.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { FenixError } from '../../domain/errors.js';
import type { Plan } from '../../planner/plan.js';
import type { PlanService } from '../../services/plan.js';
import { ErrorSchema, SessionIdParams } from '../schemas/common.js';
import { PlanBody, PlanQuery } from '../schemas/plan.js';
import { Type } from 'typebox';

const iso = (t: number) => new Date(t).toISOString();
const seconds = (s: number) => (Number.isFinite(s) ? Math.round(s * 1000) / 1000 : null);

export function planView(plan: Plan, startsAt: number, withMoves = true) {
  return {
    feasible: plan.feasible,
    starts_at: iso(startsAt),
    expected_duration_s: seconds(plan.durationS),
    expected_end: Number.isFinite(plan.durationS) ? iso(startsAt + plan.durationS * 1000) : null,
    lower_bound: {
      total_s: seconds(plan.lowerBound.totalS),
      binding: plan.lowerBound.binding,
      capacity_s: seconds(plan.lowerBound.capacityS),
      fluid_capacity_s: seconds(plan.lowerBound.fluidS),
      hosts_in_maintenance_at_once: plan.lowerBound.slots,
      host_s: seconds(plan.lowerBound.hostS),
      group_s: seconds(plan.lowerBound.groupS),
      group: plan.lowerBound.group,
      serial_s: seconds(plan.lowerBound.serialS),
    },
    missing_vcpus: plan.missingVcpus,
    reasons: plan.reasons.map((r) => ({
      kind: r.kind,
      severity: r.severity,
      message: r.message,
      ...(r.host !== undefined && { host: r.host }),
      ...(r.instance !== undefined && { instance_id: r.instance }),
      ...(r.group !== undefined && { group_id: r.group }),
      ...(r.constraint !== undefined && { constraint: r.constraint }),
      ...(r.missingVcpus !== undefined && { missing_vcpus: r.missingVcpus }),
    })),
    order: plan.order,
    batches: plan.batches.map((b) => ({
      index: b.index,
      hosts: b.hosts,
      wait_for: b.waitFor,
      start_s: seconds(b.startS),
      done_s: seconds(b.doneS),
      headroom: {
        free_vcpus: b.headroom.freeVcpus,
        free_maintained_vcpus: b.headroom.freeMaintainedVcpus,
        reserved_vcpus: b.headroom.reservedVcpus,
        hosts_out: b.headroom.hostsOut,
      },
    })),
    hosts: plan.hosts.map((h) => ({
      host: h.name,
      type: h.type,
      batch: h.batch,
      instances: h.instances,
      start_s: seconds(h.startS),
      empty_s: seconds(h.emptyS),
      maintained_s: seconds(h.maintainedS),
    })),
    ...(withMoves && {
      moves: plan.moves.map((m) => ({
        instance_id: m.instance,
        project_id: m.project,
        from: m.from,
        to: m.to,
        action: m.action,
        batch: m.batch,
        second_move: m.second,
        notify_s: seconds(m.notifyS),
        start_s: seconds(m.startS),
        end_s: seconds(m.endS),
      })),
    }),
    stats: {
      hosts: plan.stats.hosts,
      instances: plan.stats.instances,
      moves: plan.stats.moves,
      second_moves: plan.stats.doubleMoves,
      batches: plan.stats.batches,
      max_hosts_out: plan.stats.maxHostsOut,
    },
    estimates: {
      migrate_s: plan.estimates.migrateS,
      live_migrate_s: plan.estimates.liveMigrateS,
      evict_s: plan.estimates.evictS,
      host_maintenance_s: plan.estimates.hostMaintenanceS,
      reply_s: plan.estimates.replyS,
    },
  };
}

const ADMIN = { access: 'admin' as const };
const errors = { 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 422: ErrorSchema };
/** The plan is the planner's to grow: serialized as built (planView), not filtered by a schema. */
const Any = Type.Object({}, { additionalProperties: true });

export async function planRoutes(app: FastifyInstance, deps: { plan: PlanService }): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.post('/v1/maintenance/plan', { config: ADMIN, schema: { body: PlanBody, querystring: PlanQuery, response: { 200: Any, ...errors } } }, async (req) => {
    const run = await deps.plan.dryRun(req.principal, req.body ?? {});
    return {
      workflow: run.workflow,
      host_count: run.hosts.length,
      ...planView(run.plan, run.startsAt, req.query.moves !== 'false'),
      // With maintenance windows: the times above wait for them, by this much in all.
      ...(run.windowWaitS !== undefined && { window_wait_s: seconds(run.windowWaitS) }),
    };
  });

  r.get('/v1/maintenance/:session_id/plan', { config: ADMIN, schema: { params: SessionIdParams, response: { 200: Any, ...errors } } }, async (req) => {
    const { session, plan, hostStatus } = await deps.plan.ofSession(req.principal, req.params.session_id);
    if (!plan) {
      if (session.workflow === 'default') throw new FenixError('NOT_FOUND', `session ${session.id} runs the default workflow, which has no plan`);
      return { session_id: session.id, workflow: session.workflow, state: session.state, planned: false, batches: [] };
    }
    return {
      session_id: session.id,
      workflow: session.workflow,
      state: session.state,
      planned: true,
      planned_at: iso(plan.at),
      expected_duration_s: seconds(plan.durationS),
      lower_bound_s: seconds(plan.lowerBoundS),
      order: plan.batches.flatMap((b) => b.hosts),
      batches: plan.batches.map((b, index) => ({
        index,
        hosts: b.hosts,
        wait_for: b.waitFor,
        started: b.hosts.some((h) => hostStatus[h] !== undefined && hostStatus[h] !== 'pending'),
        done: b.hosts.every((h) => hostStatus[h] === undefined || hostStatus[h] === 'maintained'),
      })),
      moves: Object.values(plan.moves).reduce((n, l) => n + l.length, 0),
    };
  });
}
