// Constraints use cases (spec §5): upsert, read, delete (idempotent) and list instance and group
// constraints. A project token only ever sees and touches its own project's objects; an admin all.
// Who owns an instance is the cloud's word (the driver), never whoever wrote first: a project can
// put constraints only on instances it owns, and a stored row of another project does not lock the
// real owner out. A group belongs to the project that created it.
import type { GroupConstraint, InstanceConstraint } from '../domain/constraints.js';
import { FenixError } from '../domain/errors.js';
import { INSTANCE_ACTIONS, isInstanceAction } from '../domain/states.js';
import type { Clock } from '../ports/clock.js';
import { instanceById, type InfraDriver } from '../ports/infra-driver.js';
import type { Store } from '../ports/store.js';
import { isAdmin, requireProject, type Principal } from './principal.js';

/** PUT /v1/instance/{id} body as the wire has it (types checked by the route's schema). */
export interface InstanceConstraintInput {
  instance_id?: string;
  project_id?: string;
  group_id?: string | null;
  instance_name?: string | null;
  max_interruption_time?: number | null;
  migration_type?: unknown;
  resource_mitigation?: boolean | null;
  lead_time?: number | null;
}

export interface GroupConstraintInput {
  group_id?: string;
  project_id?: string;
  group_name?: string | null;
  anti_affinity_group?: boolean | null;
  max_instances_per_host?: number | null;
  max_impacted_members?: number | null;
  recovery_time?: number | null;
  resource_mitigation?: boolean | null;
}

export interface ConstraintDeps {
  store: Store;
  clock: Clock;
  /** Asked who owns an instance. */
  driver: InfraDriver;
}

/** The project an upsert belongs to: the body's, else the caller's; a project token only its own. */
function owner(who: Principal, bodyProject: string | undefined, what: string): string {
  if (bodyProject !== undefined) {
    requireProject(who, bodyProject);
    return bodyProject;
  }
  if (who.role === 'project') return who.projectId;
  throw new FenixError('VALIDATION_FAILED', `project_id is required to store ${what} with an admin token`);
}

function sameId(path: string, body: string | undefined, field: string): void {
  if (body !== undefined && body !== path)
    throw new FenixError('VALIDATION_FAILED', `${field} ${JSON.stringify(body)} in the body differs from ${JSON.stringify(path)} in the path`);
}

/** A stored object of another project: hidden from reads (404), refused for writes (403). */
function visible<T extends { projectId: string }>(who: Principal, obj: T | undefined): T | undefined {
  if (!obj || isAdmin(who) || (who.role === 'project' && who.projectId === obj.projectId)) return obj;
  return undefined;
}

function requireOwner(who: Principal, obj: { projectId: string } | undefined, what: string): void {
  if (obj && who.role === 'project' && who.projectId !== obj.projectId)
    // Says the object is not the caller's, never whose it is.
    throw new FenixError('FORBIDDEN', `${what} is not project ${who.projectId}'s`);
}

export class ConstraintService {
  constructor(private readonly deps: ConstraintDeps) {}

  async putInstance(who: Principal, instanceId: string, body: InstanceConstraintInput): Promise<InstanceConstraint> {
    sameId(instanceId, body.instance_id, 'instance_id');
    const mt = body.migration_type;
    if (mt !== undefined && mt !== null && !isInstanceAction(mt)) {
      const hint = mt === 'MIGRATION' ? ' (did you mean MIGRATE, a cold migration?)' : '';
      throw new FenixError(
        'UNKNOWN_INSTANCE_ACTION',
        `migration_type ${JSON.stringify(mt)} is not an instance action${hint}; use one of ${INSTANCE_ACTIONS.join(', ')}`,
      );
    }
    const projectId = await this.cloudOwner(who, instanceId, body.project_id);
    const { store, clock } = this.deps;
    // A row stored for another project before (e.g. squatted before ownership was checked) is
    // replaced: the cloud says whose instance this is.
    const existing = await store.getInstanceConstraint(instanceId);
    const groupId = body.group_id ?? null;
    if (groupId !== null) {
      const g = await store.getGroupConstraint(groupId);
      if (g && g.projectId !== projectId)
        throw new FenixError('FORBIDDEN', `group ${groupId} is not project ${projectId}'s: an instance joins only its own project's groups`);
    }
    const now = clock.now();
    return store.putInstanceConstraint({
      instanceId,
      projectId,
      groupId,
      instanceName: body.instance_name ?? null,
      maxInterruptionTime: body.max_interruption_time ?? null,
      migrationType: mt === undefined || mt === null ? null : (mt as InstanceConstraint['migrationType']),
      resourceMitigation: body.resource_mitigation ?? null,
      leadTime: body.lead_time ?? null,
      createdAt: existing?.projectId === projectId ? existing.createdAt : now,
      updatedAt: now,
    });
  }

  async getInstance(who: Principal, instanceId: string): Promise<InstanceConstraint> {
    const c = visible(who, await this.deps.store.getInstanceConstraint(instanceId));
    if (!c) throw new FenixError('CONSTRAINT_NOT_FOUND', `no constraints stored for instance ${instanceId}`);
    return c;
  }

  /** Idempotent: true when a row was removed, false when there was none. */
  async deleteInstance(who: Principal, instanceId: string): Promise<boolean> {
    const existing = await this.deps.store.getInstanceConstraint(instanceId);
    if (!existing) return false;
    // The row's project may delete it; so may the instance's owner in the cloud (a foreign row).
    if (who.role === 'project' && who.projectId !== existing.projectId) {
      const inst = await instanceById(this.deps.driver, instanceId);
      if (inst?.projectId !== who.projectId) requireOwner(who, existing, `instance ${instanceId}`);
    }
    return this.deps.store.deleteInstanceConstraint(instanceId);
  }

  /**
   * The project whose constraints these are: the instance's owner in the cloud. A project token may
   * write only its own instances; an admin may name the project of an instance the cloud does not
   * (yet) report, never contradict the cloud about one it does.
   */
  private async cloudOwner(who: Principal, instanceId: string, bodyProject: string | undefined): Promise<string> {
    if (bodyProject !== undefined) requireProject(who, bodyProject);
    const inst = await instanceById(this.deps.driver, instanceId);
    if (who.role === 'project') {
      if (!inst || inst.projectId !== who.projectId)
        throw new FenixError('INSTANCE_NOT_FOUND', `project ${who.projectId} has no instance ${instanceId}`);
      return inst.projectId;
    }
    if (inst) {
      if (bodyProject !== undefined && bodyProject !== inst.projectId)
        throw new FenixError('VALIDATION_FAILED', `instance ${instanceId} belongs to project ${inst.projectId}, not ${bodyProject}`);
      return inst.projectId;
    }
    return owner(who, bodyProject, `instance ${instanceId}'s constraints`);
  }

  async listInstances(who: Principal, projectId: string | undefined): Promise<InstanceConstraint[]> {
    return this.deps.store.listInstanceConstraints(scope(who, projectId));
  }

  async putGroup(who: Principal, groupId: string, body: GroupConstraintInput): Promise<GroupConstraint> {
    sameId(groupId, body.group_id, 'group_id');
    const projectId = owner(who, body.project_id, `group ${groupId}'s constraints`);
    const { store, clock } = this.deps;
    const existing = await store.getGroupConstraint(groupId);
    requireOwner(who, existing, `group ${groupId}`);
    if (existing && existing.projectId !== projectId)
      throw new FenixError('STATE_CONFLICT', `group ${groupId} is registered for project ${existing.projectId}; delete it first to move it`);
    const now = clock.now();
    return store.putGroupConstraint({
      groupId,
      projectId,
      groupName: body.group_name ?? null,
      antiAffinityGroup: body.anti_affinity_group ?? null,
      maxInstancesPerHost: body.max_instances_per_host ?? null,
      maxImpactedMembers: body.max_impacted_members ?? null,
      recoveryTime: body.recovery_time ?? null,
      resourceMitigation: body.resource_mitigation ?? null,
      createdAt: existing?.createdAt ?? now,
      updatedAt: now,
    });
  }

  async getGroup(who: Principal, groupId: string): Promise<GroupConstraint> {
    const g = visible(who, await this.deps.store.getGroupConstraint(groupId));
    if (!g) throw new FenixError('CONSTRAINT_NOT_FOUND', `no constraints stored for instance group ${groupId}`);
    return g;
  }

  async deleteGroup(who: Principal, groupId: string): Promise<boolean> {
    const existing = await this.deps.store.getGroupConstraint(groupId);
    requireOwner(who, existing, `group ${groupId}`);
    return existing ? this.deps.store.deleteGroupConstraint(groupId) : false;
  }

  async listGroups(who: Principal, projectId: string | undefined): Promise<GroupConstraint[]> {
    return this.deps.store.listGroupConstraints(scope(who, projectId));
  }
}

/** Listing scope: an admin any project (or all); a project token its own only. */
function scope(who: Principal, projectId: string | undefined): { projectId?: string } {
  if (who.role === 'project') {
    if (projectId !== undefined) requireProject(who, projectId);
    return { projectId: who.projectId };
  }
  return projectId === undefined ? {} : { projectId };
}
