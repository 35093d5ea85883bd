// The planner's input from what a session (or a dry-run of one) sees: the infrastructure's hosts and
// instances, which hosts are maintained, the constraints and the durations. Shared by the vnf
// workflow and the dry-run service, so both plan from the same picture. Pure.
import { DEFAULT_ESTIMATES, type Constraints, type PlanEstimates } from '../domain/constraints.js';
import type { HostInfo, InstanceInfo } from '../domain/infra.js';
import type { ActionPolicy, PlanInput } from './plan.js';

export interface PlanSource {
  observed: { hosts: HostInfo[]; instances: InstanceInfo[] };
  /** The session's hosts, with what the session knows of them (absent: a dry-run). */
  session: { name: string; maintained?: boolean; disabledByUs?: boolean; originalEnabled?: boolean | null }[];
  constraints: Constraints;
  estimates: PlanEstimates;
  policy: ActionPolicy;
  maxParallelHosts?: number;
  replyingProjects?: string[];
}

/** Durations: the defaults, overridden by the engine's (driver) and then the session's own. */
export function estimatesOf(...layers: (Partial<PlanEstimates> | undefined)[]): PlanEstimates {
  const out = { ...DEFAULT_ESTIMATES };
  for (const l of layers)
    for (const [k, v] of Object.entries(l ?? {})) if (typeof v === 'number' && Number.isFinite(v) && v >= 0) out[k as keyof PlanEstimates] = v;
  return out;
}

export function planInput(src: PlanSource): PlanInput {
  const inSession = new Map(src.session.map((h) => [h.name, h]));
  return {
    hosts: src.observed.hosts.map((h) => {
      const sh = inSession.get(h.name);
      // A host this session disabled counts as it was found (it is put back after its maintenance).
      const enabled = sh?.disabledByUs ? sh.originalEnabled !== false : h.enabled;
      return { name: h.name, type: h.type, vcpus: h.vcpus, enabled, inSession: Boolean(sh), maintained: sh?.maintained === true };
    }),
    instances: src.observed.instances.map((i) => ({ id: i.id, projectId: i.projectId, host: i.host, vcpus: i.vcpus, liveMigratable: i.liveMigratable })),
    constraints: src.constraints,
    estimates: src.estimates,
    policy: src.policy,
    ...(src.maxParallelHosts !== undefined && { maxParallelHosts: src.maxParallelHosts }),
    ...(src.replyingProjects !== undefined && { replyingProjects: src.replyingProjects }),
  };
}
