// Instance and instance-group constraints (spec §5, ETSI NFV FEAT03), as stored, and the defaults
// the `vnf` / `k8s` workflows apply where a value (or a whole constraint) is missing (docs/vnf.md).
import type { InstanceAction } from './states.js';

export interface InstanceConstraint {
  instanceId: string;
  projectId: string;
  groupId: string | null;
  instanceName: string | null;
  /** Seconds; null = no limit. */
  maxInterruptionTime: number | null;
  /** null = the workflow's default action. */
  migrationType: InstanceAction | null;
  /** null = not said (treated as false). */
  resourceMitigation: boolean | null;
  /** Seconds between the notification and the action; null = DEFAULT_LEAD_TIME_S. */
  leadTime: number | null;
  createdAt: number;
  updatedAt: number;
}

export interface GroupConstraint {
  groupId: string;
  projectId: string;
  groupName: string | null;
  /** null = false. */
  antiAffinityGroup: boolean | null;
  /** 0 or null = no placement limit. */
  maxInstancesPerHost: number | null;
  /** Members impacted at once; null = DEFAULT_MAX_IMPACTED_MEMBERS, 0 = no limit. */
  maxImpactedMembers: number | null;
  /** Seconds after a member's move before the next one may be impacted; null = 0. */
  recoveryTime: number | null;
  resourceMitigation: boolean | null;
  createdAt: number;
  updatedAt: number;
}

export interface Constraints {
  instances: InstanceConstraint[];
  groups: GroupConstraint[];
}

export const NO_CONSTRAINTS: Constraints = { instances: [], groups: [] };

/**
 * The constraints that may act on the instances at hand: an instance's constraints count only when
 * stored by the project that owns the instance (the cloud's word, `ownerOf`), and its group
 * membership only when the group belongs to that same project. A constraint written by someone else
 * (before ownership was checked at write, or for a group named before its owner created it) is
 * ignored rather than trusted. O(instances + groups).
 */
export function ownedConstraints(c: Constraints, ownerOf: (instanceId: string) => string | undefined): Constraints {
  const groupOwner = new Map(c.groups.map((g) => [g.groupId, g.projectId]));
  const instances: InstanceConstraint[] = [];
  for (const i of c.instances) {
    const owner = ownerOf(i.instanceId);
    if (owner !== undefined && owner !== i.projectId) continue;
    const go = i.groupId === null ? undefined : groupOwner.get(i.groupId);
    instances.push(go !== undefined && go !== i.projectId ? { ...i, groupId: null } : i);
  }
  return { instances, groups: c.groups };
}

/** Notice an instance gets when it has no lead_time: none beyond the reply. */
export const DEFAULT_LEAD_TIME_S = 0;
/** A declared group that does not say how many members may be impacted: one at a time (safe side). */
export const DEFAULT_MAX_IMPACTED_MEMBERS = 1;

/** A group's effective rules, defaults applied. */
export interface GroupRules {
  groupId: string;
  antiAffinity: boolean;
  /** 0 = no limit. */
  maxPerHost: number;
  /** 0 = no limit. */
  maxImpacted: number;
  recoveryS: number;
}

export function groupRules(g: GroupConstraint): GroupRules {
  return {
    groupId: g.groupId,
    antiAffinity: g.antiAffinityGroup === true,
    maxPerHost: Math.max(0, Math.floor(g.maxInstancesPerHost ?? 0)),
    maxImpacted: Math.max(0, Math.floor(g.maxImpactedMembers ?? DEFAULT_MAX_IMPACTED_MEMBERS)),
    recoveryS: Math.max(0, g.recoveryTime ?? 0),
  };
}

/** An instance's effective rules, defaults applied (its group resolved separately). */
export interface InstanceRules {
  groupId: string | null;
  leadS: number;
  maxInterruptionS: number | null;
  migrationType: InstanceAction | null;
  resourceMitigation: boolean;
}

export function instanceRules(c: InstanceConstraint | undefined): InstanceRules {
  return {
    groupId: c?.groupId ?? null,
    leadS: Math.max(0, c?.leadTime ?? DEFAULT_LEAD_TIME_S),
    maxInterruptionS: c?.maxInterruptionTime ?? null,
    migrationType: c?.migrationType ?? null,
    resourceMitigation: c?.resourceMitigation === true,
  };
}

/** Durations the planner assumes (seconds). Sessions and the dry-run use the same ones. */
export interface PlanEstimates {
  migrateS: number;
  liveMigrateS: number;
  evictS: number;
  /** The infrastructure's maintenance of one empty host (plug-ins included). */
  hostMaintenanceS: number;
  /** A project's time to answer a notification. */
  replyS: number;
}

/** Defaults: a cold migration of a small VM on Nova, a host upgrade with a reboot, a fast VNFM. */
export const DEFAULT_ESTIMATES: PlanEstimates = {
  migrateS: 30,
  liveMigrateS: 30,
  evictS: 10,
  hostMaintenanceS: 300,
  replyS: 1,
};

/**
 * The part of a plan a session persists and follows (docs/vnf.md): batches of hosts in order, each
 * started once the previous batch started and the hosts in its `waitFor` are maintained, and the
 * target of every planned move.
 */
export interface PersistedPlan {
  v: 1;
  /** The session's continue attempt the plan was made for (a continued session plans again). */
  attempt?: number;
  /** When the plan was made (ms). */
  at: number;
  /** Expected duration of the action phase (s). */
  durationS: number;
  lowerBoundS: number;
  /** `waitFor`: compute hosts that must be empty (in or past maintenance), other hosts maintained. */
  batches: { hosts: string[]; waitFor: string[] }[];
  /** Planned moves by source host: [instance id, target host]. An instance moved twice is listed under both sources. */
  moves: Record<string, [string, string][]>;
}
