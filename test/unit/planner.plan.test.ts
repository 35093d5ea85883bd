// The planner as a pure function: batches, targets, times, lower bound and reasons, on small clouds.
import { describe, expect, it } from 'vitest';
import type { Constraints, GroupConstraint, InstanceConstraint, PlanEstimates } from '../../src/domain/constraints.js';
import { lowerBound } from '../../src/planner/lower-bound.js';
import { planMaintenance, type PlanHost, type PlanInput, type PlanInstance, type Plan, persistPlan } from '../../src/planner/plan.js';
import { verify, type RecordedMove } from '../../src/planner/verify.js';
import { buildCloud, BENCH_CLOUD } from '../../src/bench/cloud.js';

const EST: PlanEstimates = { migrateS: 30, liveMigrateS: 30, evictS: 10, hostMaintenanceS: 600, replyS: 1 };
const host = (name: string, vcpus = 8, p: Partial<PlanHost> = {}): PlanHost => ({ name, type: 'compute', vcpus, enabled: true, inSession: true, ...p });
const inst = (id: string, on: string, vcpus = 2, projectId = 'p1'): PlanInstance => ({ id, projectId, host: on, vcpus, liveMigratable: true });
const group = (id: string, p: Partial<GroupConstraint> = {}): GroupConstraint => ({
  groupId: id, projectId: 'p1', groupName: id, antiAffinityGroup: true, maxInstancesPerHost: 1, maxImpactedMembers: 1, recoveryTime: 10,
  resourceMitigation: true, createdAt: 0, updatedAt: 0, ...p,
});
const ic = (id: string, groupId: string | null, p: Partial<InstanceConstraint> = {}): InstanceConstraint => ({
  instanceId: id, projectId: 'p1', groupId, instanceName: id, maxInterruptionTime: null, migrationType: 'MIGRATE', resourceMitigation: true,
  leadTime: 0, createdAt: 0, updatedAt: 0, ...p,
});
const input = (hosts: PlanHost[], instances: PlanInstance[], constraints: Constraints = { instances: [], groups: [] }, p: Partial<PlanInput> = {}): PlanInput => ({
  hosts, instances, constraints, estimates: EST, policy: 'vnf', ...p,
});

/** The plan as a recorded session, for the constraint checker. */
function asRecord(plan: Plan, instances: PlanInstance[], constraints: Constraints) {
  const moves: RecordedMove[] = plan.moves.map((m) => ({ instance: m.instance, from: m.from, to: m.to, startMs: m.startS * 1000, endMs: m.endS * 1000 }));
  return {
    initial: instances.map((i) => ({ id: i.id, host: i.host })),
    moves,
    maintenance: plan.hosts.map((h) => ({ host: h.name, startMs: h.emptyS * 1000, endMs: h.maintainedS * 1000 })),
    notices: plan.moves.map((m) => ({ instance: m.instance, atMs: m.notifyS * 1000 })),
    constraints,
  };
}

describe('planner: planMaintenance', () => {
  it('maintains an empty host first and moves instances onto maintained hosts', () => {
    const p = planMaintenance(input([host('a'), host('b'), host('c')], [inst('i1', 'b'), inst('i2', 'c')]));
    expect(p.feasible).toBe(true);
    expect(p.batches[0]!.hosts[0]).toBe('a');
    expect(p.hosts.find((h) => h.name === 'a')).toMatchObject({ emptyS: 0, maintainedS: 600 });
    // A move lands on a maintained host, or on a host emptied later (and moves again from there).
    for (const m of p.moves) {
      const to = p.hosts.find((h) => h.name === m.to)!;
      expect(to.maintainedS <= m.startS || to.startS >= m.endS).toBe(true);
    }
    expect(p.order.sort()).toEqual(['a', 'b', 'c']);
    expect(p.durationS).toBeGreaterThanOrEqual(p.lowerBound.totalS);
    expect(verify(asRecord(p, [inst('i1', 'b'), inst('i2', 'c')], { instances: [], groups: [] }))).toEqual([]);
  });

  it('is deterministic: the same input gives the same plan', () => {
    const cloud = buildCloud({ ...BENCH_CLOUD, hosts: 30, instances: 300, projects: 6, largeGroup: 8 });
    const mk = () =>
      planMaintenance(
        input(
          cloud.scenario.hosts.map((h) => host(h.name, h.vcpus)),
          cloud.scenario.instances.map((i) => inst(i.id, i.host, i.vcpus, i.project_id)),
          { instances: cloud.instances, groups: cloud.groups },
        ),
      );
    const a = mk();
    expect(JSON.stringify(mk())).toBe(JSON.stringify(a));
    expect(a.feasible).toBe(true);
    expect(a.stats.hosts).toBe(30);
    expect(new Set(a.order).size).toBe(30);
  });

  it('a full cloud starts by moving instances onto hosts maintained later (they move twice)', () => {
    const hosts = [host('a', 4), host('b', 4), host('c', 4)];
    const instances = [inst('i1', 'a', 1), inst('i2', 'b', 3), inst('i3', 'c', 3)];
    const p = planMaintenance(input(hosts, instances));
    expect(p.feasible).toBe(true);
    expect(p.batches[0]!.hosts).toEqual(['a']);
    expect(p.stats.doubleMoves).toBe(1);
    const first = p.moves.find((m) => m.instance === 'i1' && !m.second)!;
    expect(['b', 'c']).toContain(first.to);
    expect(p.moves.find((m) => m.instance === 'i1' && m.second)!.from).toBe(first.to);
    expect(persistPlan(p, 0).moves.a).toEqual([['i1', first.to]]);
  });

  it('without double moves a full cloud cannot start, and says how much capacity is missing', () => {
    const hosts = [host('a', 4), host('b', 4)];
    const instances = [inst('i1', 'a', 3), inst('i2', 'b', 3)];
    const p = planMaintenance(input(hosts, instances, undefined, { allowDoubleMoves: false }));
    expect(p.feasible).toBe(false);
    expect(p.durationS).toBe(Infinity);
    expect(p.missingVcpus).toBe(3);
    expect(p.reasons.find((r) => r.severity === 'error')).toMatchObject({ kind: 'capacity', host: 'a', instance: 'i1', missingVcpus: 3 });
  });

  it('names the group when anti-affinity leaves nowhere to go', () => {
    // Three hosts, a 3-member anti-affinity group on all of them: no member can leave its host.
    const hosts = [host('a'), host('b'), host('c')];
    const instances = [inst('g0', 'a'), inst('g1', 'b'), inst('g2', 'c')];
    const constraints = { groups: [group('g')], instances: ['g0', 'g1', 'g2'].map((i) => ic(i, 'g')) };
    const p = planMaintenance(input(hosts, instances, constraints));
    expect(p.feasible).toBe(false);
    const err = p.reasons.find((r) => r.severity === 'error')!;
    expect(err).toMatchObject({ kind: 'group', group: 'g', constraint: 'anti_affinity' });
    expect(err.message).toMatch(/anti-affinity group g/);
  });

  it('keeps groups within max_impacted_members with recovery_time, anti-affinity on targets, and lead_time', () => {
    const hosts = ['h0', 'h1', 'h2', 'h3', 'h4', 'h5', 'spare'].map((n) => host(n, 8));
    const members = ['m0', 'm1', 'm2', 'm3', 'm4', 'm5'].map((id, k) => inst(id, `h${k}`));
    const others = ['x0', 'x1', 'x2'].map((id, k) => inst(id, `h${k}`, 1, 'p2'));
    const constraints = {
      groups: [group('g', { maxImpactedMembers: 2, recoveryTime: 20 })],
      instances: members.map((m) => ic(m.id, 'g', { leadTime: 45 })),
    };
    const p = planMaintenance(input(hosts, [...members, ...others], constraints));
    expect(p.feasible).toBe(true);
    expect(verify(asRecord(p, [...members, ...others], constraints))).toEqual([]);
    for (const m of p.moves.filter((x) => x.instance.startsWith('m'))) expect(m.startS - m.notifyS).toBeGreaterThanOrEqual(45);
    // No two members ever on one host.
    expect(p.lowerBound.totalS).toBeLessThanOrEqual(p.durationS);
  });

  it('honours max_parallel_hosts', () => {
    const hosts = ['a', 'b', 'c', 'd', 'e', 'f'].map((n) => host(n, 8));
    const instances = [inst('i1', 'b', 1), inst('i2', 'c', 1), inst('i3', 'd', 1)];
    const p = planMaintenance(input(hosts, instances, undefined, { maxParallelHosts: 2 }));
    expect(p.feasible).toBe(true);
    expect(p.stats.maxHostsOut).toBeLessThanOrEqual(2);
    const free = planMaintenance(input(hosts, instances));
    expect(free.stats.maxHostsOut).toBeGreaterThan(2);
    expect(free.durationS).toBeLessThan(p.durationS);
  });

  it('maintains non-compute hosts one at a time, each after the previous', () => {
    const hosts = [host('ctl-0', 0, { type: 'controller' }), host('ctl-1', 0, { type: 'controller' }), host('c0'), host('c1')];
    const p = planMaintenance(input(hosts, [inst('i', 'c0')]));
    const c0 = p.hosts.find((h) => h.name === 'ctl-0')!;
    const c1 = p.hosts.find((h) => h.name === 'ctl-1')!;
    expect(c1.startS).toBeGreaterThanOrEqual(c0.maintainedS);
    const b1 = p.batches[c1.batch]!;
    expect(b1.hosts).toEqual(['ctl-1']);
    expect(b1.waitFor).toEqual(['ctl-0']);
    expect(p.moves.every((m) => m.to === 'c0' || m.to === 'c1')).toBe(true);
  });

  it('uses migration_type, the policy default, and live migration when the interruption would be too long', () => {
    const hosts = [host('a'), host('b')];
    const instances = [inst('cold', 'a'), inst('free', 'a'), { ...inst('nolive', 'a'), liveMigratable: false }, inst('short', 'a')];
    const constraints = {
      groups: [],
      instances: [
        ic('cold', null, { migrationType: 'MIGRATE' }),
        ic('nolive', null, { migrationType: null, maxInterruptionTime: 5 }),
        ic('short', null, { migrationType: null, maxInterruptionTime: 5 }),
      ],
    };
    const p = planMaintenance(input(hosts, instances, constraints));
    const action = (id: string) => p.moves.find((m) => m.instance === id)!.action;
    expect(action('cold')).toBe('MIGRATE');
    expect(action('free')).toBe('LIVE_MIGRATE');
    expect(action('short')).toBe('LIVE_MIGRATE');
    expect(action('nolive')).toBe('MIGRATE');
    expect(p.reasons).toContainEqual(expect.objectContaining({ severity: 'warning', instance: 'nolive', constraint: 'max_interruption_time' }));
    const k8s = planMaintenance(input(hosts, instances, { groups: [], instances: [] }, { policy: 'k8s' }));
    expect(new Set(k8s.moves.map((m) => m.action))).toEqual(new Set(['EVICTION']));
  });

  it('plans a 1000-host cloud in seconds', () => {
    const cloud = buildCloud({ ...BENCH_CLOUD, hosts: 1000, instances: 10_000, projects: 250 });
    const t0 = performance.now();
    const p = planMaintenance(
      input(
        cloud.scenario.hosts.map((h) => host(h.name, h.vcpus)),
        cloud.scenario.instances.map((i) => inst(i.id, i.host, i.vcpus, i.project_id)),
        { instances: cloud.instances, groups: cloud.groups },
        { estimates: { ...EST, migrateS: 30, hostMaintenanceS: 600 } },
      ),
    );
    expect(p.feasible).toBe(true);
    expect(performance.now() - t0).toBeLessThan(20_000);
    expect(p.durationS).toBeLessThan(1.25 * p.lowerBound.totalS);
  });
});

describe('planner: lower bound', () => {
  it('is the largest of capacity, host, group and serial parts', () => {
    const lb = lowerBound({
      hosts: [
        { compute: true, vcpus: 10, enabled: true, instances: [{ vcpus: 5, readyS: 10, moveS: 30, group: 'g' }] },
        { compute: true, vcpus: 10, enabled: true, instances: [{ vcpus: 5, readyS: 10, moveS: 30, group: 'g' }] },
      ],
      capacity: 20,
      used: 10,
      groups: [{ id: 'g', maxImpacted: 1, recoveryS: 100 }],
      hostMaintenanceS: 60,
      maxParallelHosts: 0,
    });
    // Group: ready 10 + 2 moves of 30 + one recovery of 100 + maintenance 60.
    expect(lb.groupS).toBe(230);
    expect(lb.binding).toBe('group');
    expect(lb.totalS).toBe(230);
    // Fluid capacity: (2×5×30 + 2×10×60) / 10 free + 10.
    expect(lb.fluidS).toBe(10 + (300 + 1200) / 10);
    expect(lb.slots).toBe(1);
    expect(lb.capacityS).toBe(Math.max(lb.fluidS, 40 + 2 * 60));
  });
});

describe('planner: verify', () => {
  const constraints = { groups: [group('g', { maxImpactedMembers: 1, recoveryTime: 10 })], instances: [ic('a', 'g', { leadTime: 30 }), ic('b', 'g', { leadTime: 30 })] };
  const initial = [{ id: 'a', host: 'h1' }, { id: 'b', host: 'h2' }];
  it('finds anti-affinity, impact and lead-time violations', () => {
    const v = verify({
      initial,
      moves: [
        { instance: 'a', from: 'h1', to: 'h2', startMs: 40_000, endMs: 70_000 },
        { instance: 'b', from: 'h2', to: 'h3', startMs: 75_000, endMs: 90_000 },
      ],
      maintenance: [],
      notices: [{ instance: 'a', atMs: 0 }, { instance: 'b', atMs: 60_000 }],
      constraints,
    });
    expect(v.map((x) => x.kind).sort()).toEqual(['anti_affinity', 'lead_time', 'max_impacted_members']);
  });
  it('accepts a clean record', () => {
    const v = verify({
      initial,
      moves: [
        { instance: 'a', from: 'h1', to: 'h3', startMs: 40_000, endMs: 70_000 },
        { instance: 'b', from: 'h2', to: 'h4', startMs: 80_000, endMs: 90_000 },
      ],
      maintenance: [{ host: 'h1', startMs: 70_000, endMs: 100_000 }],
      notices: [{ instance: 'a', atMs: 0 }, { instance: 'b', atMs: 10_000 }],
      constraints,
    });
    expect(v).toEqual([]);
  });
});
