// Plans before action: the dry-run (POST /v1/maintenance/plan) of a vnf session on a test cloud is
// what the real session then does — same host order, same batches, about the planned duration —
// and the session keeps every constraint. Runs on virtual time (src/bench/harness.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/app.js';
import { noAuth } from '../../src/api/auth.js';
import { buildCloud, BENCH_CLOUD } from '../../src/bench/cloud.js';
import { startVirtualCloud, type VirtualCloud } from '../../src/bench/harness.js';
import { verify } from '../../src/planner/verify.js';
import { ConstraintService } from '../../src/services/constraints.js';
import { SubscriptionService } from '../../src/services/subscriptions.js';

const cloud = buildCloud({ ...BENCH_CLOUD, hosts: 16, instances: 150, projects: 4, largeGroup: 8, haGroups: 2, seed: 7 });
let vc: VirtualCloud;
let app: Awaited<ReturnType<typeof buildApp>>;

beforeAll(async () => {
  vc = await startVirtualCloud({ scenario: cloud.scenario, constraints: { instances: cloud.instances, groups: cloud.groups } });
  app = await buildApp({
    store: vc.store,
    clock: vc.clock,
    sessions: vc.sessions,
    projects: vc.projects,
    subscriptions: new SubscriptionService({ store: vc.store, clock: vc.clock }),
    plan: vc.plans,
    constraints: new ConstraintService({ store: vc.store, clock: vc.clock, driver: vc.driver }),
    authenticate: noAuth,
  });
});
afterAll(async () => {
  await app?.close();
  await vc?.close();
});

describe('dry-run plan vs the real session', () => {
  it('the session does what the dry-run planned: same order, same batches, no constraint violated', async () => {
    const body = { workflow: 'vnf', hosts: [] as string[] };
    const dry = await app.inject({ method: 'POST', url: '/v1/maintenance/plan', payload: body });
    expect(dry.statusCode, dry.body).toBe(200);
    const plan = dry.json();
    expect(plan.feasible).toBe(true);
    expect(plan.workflow).toBe('vnf');
    expect(plan.order).toHaveLength(16);
    expect(plan.batches.length).toBeGreaterThan(1);
    expect(plan.moves.length).toBeGreaterThanOrEqual(150);
    expect(plan.expected_duration_s).toBeGreaterThanOrEqual(plan.lower_bound.total_s);
    for (const b of plan.batches) expect(b.headroom).toMatchObject({ free_vcpus: expect.any(Number), hosts_out: expect.any(Number) });
    // Nothing was created.
    expect(await vc.store.listSessions()).toEqual([]);

    const start = vc.clock.now();
    const created = await app.inject({ method: 'POST', url: '/v1/maintenance', payload: body });
    expect(created.statusCode, created.body).toBe(200);
    const id = created.json().session_id as string;
    const done = await vc.run(id);
    expect(done.state, done.reason ?? '').toBe('MAINTENANCE_DONE');
    const took = (vc.clock.now() - start) / 1000;

    const followed = (await app.inject({ method: 'GET', url: `/v1/maintenance/${id}/plan` })).json();
    expect(followed.batches.map((b: { hosts: string[] }) => b.hosts)).toEqual(plan.batches.map((b: { hosts: string[] }) => b.hosts));
    expect(followed.batches.every((b: { started: boolean; done: boolean }) => b.started && b.done)).toBe(true);

    const rec = await vc.record(id);
    // Hosts were started in the planned order, batch by batch.
    expect(rec.hostOrder).toEqual(plan.order);
    const tl = await vc.store.timeline(id);
    const batches = tl.filter((e) => e.kind === 'batch').map((e) => e.message.replace(/^batch \d+\/\d+: /, '').split(', '));
    expect(batches).toEqual(plan.batches.map((b: { hosts: string[] }) => b.hosts));
    // The moves went where planned.
    const planned = new Set(plan.moves.map((m: { instance_id: string; from: string; to: string }) => `${m.instance_id} ${m.from}→${m.to}`));
    const real = rec.moves.map((m) => `${m.instance} ${m.from}→${m.to}`);
    expect(real.filter((m) => !planned.has(m))).toEqual([]);
    expect(real.length).toBe(planned.size);
    // And took about as long as planned (the MAINTENANCE and MAINTENANCE_COMPLETE rounds on top).
    expect(took).toBeGreaterThanOrEqual(plan.lower_bound.total_s);
    expect(Math.abs(took - plan.expected_duration_s)).toBeLessThan(0.05 * plan.expected_duration_s + 10);
    expect(verify(rec)).toEqual([]);
  }, 120_000);

  it('dry-run errors: default workflow, unknown hosts', async () => {
    const d = await app.inject({ method: 'POST', url: '/v1/maintenance/plan', payload: { workflow: 'default' } });
    expect(d.statusCode).toBe(422);
    expect(d.json().error.code).toBe('UNKNOWN_WORKFLOW');
    const u = await app.inject({ method: 'POST', url: '/v1/maintenance/plan', payload: { hosts: ['nope'] } });
    expect(u.statusCode).toBe(422);
    const e = await app.inject({ method: 'POST', url: '/v1/maintenance/plan', payload: { estimates: { warp_s: 1 } } });
    expect(e.statusCode).toBe(400);
    const k = await app.inject({ method: 'POST', url: '/v1/maintenance/plan?moves=false', payload: { workflow: 'k8s', estimates: { evict_s: 5 } } });
    expect(k.statusCode).toBe(200);
    expect(k.json().moves).toBeUndefined();
    expect(k.json().estimates.evict_s).toBe(5);
  });
});
