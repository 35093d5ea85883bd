// /v1/instance and /v1/instance_group: constraints (spec §5). PUT upserts and answers the stored
// object; DELETE is idempotent (200 also when already gone: clients delete constraints of
// instances they scaled away); GET ?project_id= lists a project's objects (project extension).
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { GroupConstraint, InstanceConstraint } from '../../domain/constraints.js';
import type { ConstraintService } from '../../services/constraints.js';
import { ErrorSchema } from '../schemas/common.js';
import {
  Deleted,
  GroupConstraintList,
  GroupConstraintView,
  GroupIdParams,
  InstanceConstraintList,
  InstanceConstraintView,
  InstanceIdParams,
  ProjectQuery,
  PutGroupBody,
  PutInstanceBody,
} from '../schemas/constraints.js';

const iso = (t: number) => new Date(t).toISOString();

export const instanceView = (c: InstanceConstraint) => ({
  instance_id: c.instanceId,
  project_id: c.projectId,
  group_id: c.groupId,
  instance_name: c.instanceName,
  max_interruption_time: c.maxInterruptionTime,
  migration_type: c.migrationType,
  resource_mitigation: c.resourceMitigation,
  lead_time: c.leadTime,
  created_at: iso(c.createdAt),
  updated_at: iso(c.updatedAt),
});

export const groupView = (g: GroupConstraint) => ({
  group_id: g.groupId,
  project_id: g.projectId,
  group_name: g.groupName,
  anti_affinity_group: g.antiAffinityGroup,
  max_instances_per_host: g.maxInstancesPerHost,
  max_impacted_members: g.maxImpactedMembers,
  recovery_time: g.recoveryTime,
  resource_mitigation: g.resourceMitigation,
  created_at: iso(g.createdAt),
  updated_at: iso(g.updatedAt),
});

const PROJECT = { access: 'project' as const };
const errors = { 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema };

export async function constraintRoutes(app: FastifyInstance, deps: { constraints: ConstraintService }): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const svc = deps.constraints;

  r.get('/v1/instance', { config: PROJECT, schema: { querystring: ProjectQuery, response: { 200: InstanceConstraintList, ...errors } } }, async (req) => ({
    instances: (await svc.listInstances(req.principal, req.query.project_id)).map(instanceView),
  }));
  r.get('/v1/instance/:instance_id', { config: PROJECT, schema: { params: InstanceIdParams, response: { 200: InstanceConstraintView, ...errors } } }, async (req) =>
    instanceView(await svc.getInstance(req.principal, req.params.instance_id)),
  );
  r.put(
    '/v1/instance/:instance_id',
    { config: PROJECT, schema: { params: InstanceIdParams, body: PutInstanceBody, response: { 200: InstanceConstraintView, ...errors } } },
    async (req) => instanceView(await svc.putInstance(req.principal, req.params.instance_id, req.body ?? {})),
  );
  r.delete('/v1/instance/:instance_id', { config: PROJECT, schema: { params: InstanceIdParams, response: { 200: Deleted, ...errors } } }, async (req) => ({
    deleted: await svc.deleteInstance(req.principal, req.params.instance_id),
  }));

  r.get('/v1/instance_group', { config: PROJECT, schema: { querystring: ProjectQuery, response: { 200: GroupConstraintList, ...errors } } }, async (req) => ({
    instance_groups: (await svc.listGroups(req.principal, req.query.project_id)).map(groupView),
  }));
  r.get('/v1/instance_group/:group_id', { config: PROJECT, schema: { params: GroupIdParams, response: { 200: GroupConstraintView, ...errors } } }, async (req) =>
    groupView(await svc.getGroup(req.principal, req.params.group_id)),
  );
  r.put(
    '/v1/instance_group/:group_id',
    { config: PROJECT, schema: { params: GroupIdParams, body: PutGroupBody, response: { 200: GroupConstraintView, ...errors } } },
    async (req) => groupView(await svc.putGroup(req.principal, req.params.group_id, req.body ?? {})),
  );
  r.delete('/v1/instance_group/:group_id', { config: PROJECT, schema: { params: GroupIdParams, response: { 200: Deleted, ...errors } } }, async (req) => ({
    deleted: await svc.deleteGroup(req.principal, req.params.group_id),
  }));
}
