// The benchmark cloud (docs/bench.md): compute hosts, projects with anti-affinity groups large and
// small, instances of mixed sizes spread over the hosts, and their constraints — generated from a
// seed, so every run (and the test cloud of the plan-vs-session test) is the same.
import type { GroupConstraint, InstanceConstraint } from '../domain/constraints.js';
import type { ScenarioInput } from '../drivers/simulated/index.js';
import { planInput } from '../planner/input.js';
import type { PlanInput } from '../planner/plan.js';

export interface CloudSpec {
  hosts: number;
  /** vCPUs per compute host. */
  hostVcpus: number;
  projects: number;
  instances: number;
  /** Members of each project's large group. */
  largeGroup: number;
  /** Small HA groups (pairs / triples) per project. */
  haGroups: number;
  seed: number;
  timings: { migrate_s: number; live_migrate_s: number; host_maintenance_s: number; evict_s?: number };
}

export const BENCH_CLOUD: CloudSpec = {
  hosts: 200,
  hostVcpus: 32,
  projects: 50,
  instances: 2000,
  largeGroup: 20,
  haGroups: 3,
  seed: 42,
  timings: { migrate_s: 30, live_migrate_s: 30, host_maintenance_s: 600, evict_s: 10 },
};

export interface Cloud {
  scenario: ScenarioInput;
  instances: InstanceConstraint[];
  groups: GroupConstraint[];
  projects: string[];
}

/** mulberry32: a small deterministic PRNG. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const hex = (n: number, w = 12) => n.toString(16).padStart(w, '0');

export function buildCloud(spec: CloudSpec): Cloud {
  const rnd = prng(spec.seed);
  const hosts = Array.from({ length: spec.hosts }, (_, i) => ({ name: `compute-${String(i).padStart(4, '0')}`, type: 'compute' as const, vcpus: spec.hostVcpus }));
  const free = new Map(hosts.map((h) => [h.name, h.vcpus]));
  const groupOn = new Map<string, Set<string>>(); // group -> hosts holding a member
  const projects = Array.from({ length: spec.projects }, (_, p) => `project-${String(p).padStart(3, '0')}`);
  const perProject = Math.floor(spec.instances / spec.projects);
  const extra = spec.instances - perProject * spec.projects;
  const instances: ScenarioInput['instances'] = [];
  const ic: InstanceConstraint[] = [];
  const gc: GroupConstraint[] = [];
  const sizes = [1, 1, 2, 2, 2, 4];
  let n = 0;
  const pickHost = (vcpus: number, group: string | null): string => {
    // Random spread over hosts with room; anti-affinity groups get a host without a member.
    for (let tries = 0; tries < 10_000; tries++) {
      const h = hosts[Math.floor(rnd() * hosts.length)]!.name;
      if (free.get(h)! < vcpus) continue;
      if (group && groupOn.get(group)?.has(h)) continue;
      return h;
    }
    throw new Error('benchmark cloud does not fit its hosts');
  };
  projects.forEach((pid, p) => {
    const count = perProject + (p < extra ? 1 : 0);
    const groups: { id: string; size: number; anti: boolean; maxImpacted: number; recovery: number; lead: number; mt: 'MIGRATE' | 'LIVE_MIGRATE' }[] = [];
    groups.push({ id: `g-${hex(p, 4)}-large`, size: Math.min(spec.largeGroup, count), anti: true, maxImpacted: 3 + (p % 4), recovery: 30, lead: 30 + 10 * (p % 4), mt: 'MIGRATE' });
    for (let k = 0; k < spec.haGroups; k++) groups.push({ id: `g-${hex(p, 4)}-ha${k}`, size: 2 + (k % 2), anti: true, maxImpacted: 1, recovery: 10, lead: 20, mt: 'LIVE_MIGRATE' });
    let made = 0;
    const now = 0;
    for (const g of groups) {
      gc.push({
        groupId: g.id,
        projectId: pid,
        groupName: g.id,
        antiAffinityGroup: g.anti,
        maxInstancesPerHost: g.anti ? 1 : 0,
        maxImpactedMembers: g.maxImpacted,
        recoveryTime: g.recovery,
        resourceMitigation: true,
        createdAt: now,
        updatedAt: now,
      });
      groupOn.set(g.id, new Set());
      for (let k = 0; k < g.size && made < count; k++, made++) {
        const vcpus = sizes[Math.floor(rnd() * sizes.length)]!;
        const id = `b0000000-${hex(p, 4)}-4000-8000-${hex(n++)}`;
        const host = pickHost(vcpus, g.id);
        free.set(host, free.get(host)! - vcpus);
        groupOn.get(g.id)!.add(host);
        instances.push({ id, name: `${g.id}-${k}`, project_id: pid, host, vcpus });
        ic.push({
          instanceId: id,
          projectId: pid,
          groupId: g.id,
          instanceName: `${g.id}-${k}`,
          maxInterruptionTime: 120,
          migrationType: g.mt,
          resourceMitigation: true,
          leadTime: g.lead,
          createdAt: now,
          updatedAt: now,
        });
      }
    }
    for (let k = 0; made < count; k++, made++) {
      // Instances without constraints: the workflow's defaults apply.
      const vcpus = sizes[Math.floor(rnd() * sizes.length)]!;
      const id = `b0000000-${hex(p, 4)}-4000-8000-${hex(n++)}`;
      const host = pickHost(vcpus, null);
      free.set(host, free.get(host)! - vcpus);
      instances.push({ id, name: `${pid}-app-${k}`, project_id: pid, host, vcpus });
    }
  });
  return {
    scenario: { description: `benchmark cloud (seed ${spec.seed})`, hosts, instances, timings: spec.timings },
    instances: ic,
    groups: gc,
    projects,
  };
}

/** The planner's input for a generated cloud: every host in the session (run.ts and planner.ts). */
export function plannerInput(spec: CloudSpec): { input: PlanInput; groups: number } {
  const cloud = buildCloud(spec);
  const t = spec.timings;
  const input = planInput({
    observed: {
      hosts: cloud.scenario.hosts.map((h) => ({ name: h.name, type: h.type, vcpus: h.vcpus, vcpusUsed: 0, enabled: true })),
      instances: cloud.scenario.instances.map((i) => ({ id: i.id, name: i.name, projectId: i.project_id, host: i.host, vcpus: i.vcpus, floatingIp: false, liveMigratable: true })),
    },
    session: cloud.scenario.hosts.map((h) => ({ name: h.name })),
    constraints: { instances: cloud.instances, groups: cloud.groups },
    estimates: { migrateS: t.migrate_s, liveMigrateS: t.live_migrate_s, evictS: t.evict_s ?? t.migrate_s, hostMaintenanceS: t.host_maintenance_s, replyS: 1 },
    policy: 'vnf',
  });
  return { input, groups: cloud.groups.length };
}
