// The HTTP wire format of the shared simulator service (server.ts) and its client
// (remote-driver.ts): the InfraDriver port in snake_case JSON, plus a few control routes the
// /v1/simulator API does not have (placement on a host, failure injection, operations).
//
// Errors are `{"error": {"code", "message", "retryable"}}`; the client rebuilds a DriverError from
// code + retryable (DriverError.code undefined travels as DRIVER_ERROR), or a FenixError when the
// code is one of the domain's error codes (the control routes throw those).
import { Type, type Static } from 'typebox';
import type { HostInfo, InstanceInfo, OpStatus, WorldChanges } from '../../ports/infra-driver.js';

/** Wire code for a DriverError without a code. */
export const NO_DRIVER_CODE = 'DRIVER_ERROR';

const HostType = Type.Union([Type.Literal('compute'), Type.Literal('controller'), Type.Literal('other')]);
const MoveKindSchema = Type.Union([Type.Literal('MIGRATE'), Type.Literal('LIVE_MIGRATE'), Type.Literal('EVICTION')]);

export const WireErrorSchema = Type.Object({
  error: Type.Object({ code: Type.String(), message: Type.String(), retryable: Type.Optional(Type.Boolean()) }),
});

export const WireHostSchema = Type.Object({
  name: Type.String(),
  type: HostType,
  vcpus: Type.Integer(),
  vcpus_used: Type.Integer(),
  enabled: Type.Boolean(),
});
export const WireHostsSchema = Type.Object({ hosts: Type.Array(WireHostSchema) });

export const WireInstanceSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  project_id: Type.String(),
  host: Type.String(),
  vcpus: Type.Integer(),
  floating_ip: Type.Boolean(),
  live_migratable: Type.Boolean(),
});
export const WireInstancesSchema = Type.Object({ instances: Type.Array(WireInstanceSchema) });

/** `hosts` is a comma-separated list; `hosts=` (empty) matches no instance, absent matches all. */
export const WireInstancesQuerySchema = Type.Object({
  hosts: Type.Optional(Type.String()),
  project_id: Type.Optional(Type.String()),
});

/** `GET /watch?cursor=`: absent cursor = the whole world. */
export const WireWatchQuerySchema = Type.Object({ cursor: Type.Optional(Type.String({ maxLength: 200 })) });

/** WorldChanges: `full` = hosts and instances are the whole world; `removed` = ids of instances gone. */
export const WireWorldChangesSchema = Type.Object({
  cursor: Type.String(),
  full: Type.Boolean(),
  hosts: Type.Array(WireHostSchema),
  instances: Type.Array(WireInstanceSchema),
  removed: Type.Array(Type.String()),
});

export const WireHostParamsSchema = Type.Object({ name: Type.String({ minLength: 1 }) });
export const WireInstanceParamsSchema = Type.Object({ id: Type.String({ minLength: 1 }) });
export const WireRefParamsSchema = Type.Object({ ref: Type.String({ minLength: 1 }) });

export const WireSchedulingBodySchema = Type.Object({ enabled: Type.Boolean(), reason: Type.String() });

export const WireMoveBodySchema = Type.Object({
  instance_id: Type.String({ minLength: 1 }),
  kind: MoveKindSchema,
  key: Type.String({ minLength: 1 }),
  /** Passed to the driver's startMove as `{ target }` when it takes options. */
  target: Type.Optional(Type.String({ minLength: 1 })),
});

export const WireHostMaintenanceBodySchema = Type.Object({ host: Type.String({ minLength: 1 }), key: Type.String({ minLength: 1 }) });

export const WireRefSchema = Type.Object({ ref: Type.String() });

export const WireOpStatusSchema = Type.Object({
  status: Type.Union([Type.Literal('running'), Type.Literal('done'), Type.Literal('failed')]),
  error: Type.Optional(Type.String()),
  host: Type.Optional(Type.String()),
  expected_at: Type.Optional(Type.Number()),
});

/** `POST /instances`: the full SimulatedDriver.createInstance request (placement on a host, fixed id). */
export const WireCreateInstanceBodySchema = Type.Object({
  name: Type.String(),
  project_id: Type.String(),
  vcpus: Type.Integer(),
  id: Type.Optional(Type.String({ minLength: 1 })),
  host: Type.Optional(Type.String({ minLength: 1 })),
  floating_ip: Type.Optional(Type.Boolean()),
  live_migratable: Type.Optional(Type.Boolean()),
});

/** `POST /failures`: inject failures (moves of these instances, maintenance of these hosts). */
export const WireFailuresBodySchema = Type.Object({
  migrations: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
  hosts: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
});

export type WireHost = Static<typeof WireHostSchema>;
export type WireInstance = Static<typeof WireInstanceSchema>;
export type WireOpStatus = Static<typeof WireOpStatusSchema>;
export type WireCreateInstanceBody = Static<typeof WireCreateInstanceBodySchema>;
export type WireWorldChanges = Static<typeof WireWorldChangesSchema>;
export type WireError = Static<typeof WireErrorSchema>;

export const hostToWire = (h: HostInfo): WireHost => ({ name: h.name, type: h.type, vcpus: h.vcpus, vcpus_used: h.vcpusUsed, enabled: h.enabled });
export const hostFromWire = (h: WireHost): HostInfo => ({ name: h.name, type: h.type, vcpus: h.vcpus, vcpusUsed: h.vcpus_used, enabled: h.enabled });

export const instanceToWire = (i: InstanceInfo): WireInstance => ({
  id: i.id,
  name: i.name,
  project_id: i.projectId,
  host: i.host,
  vcpus: i.vcpus,
  floating_ip: i.floatingIp,
  live_migratable: i.liveMigratable,
});
export const instanceFromWire = (i: WireInstance): InstanceInfo => ({
  id: i.id,
  name: i.name,
  projectId: i.project_id,
  host: i.host,
  vcpus: i.vcpus,
  floatingIp: i.floating_ip,
  liveMigratable: i.live_migratable,
});

export const worldChangesToWire = (c: WorldChanges): WireWorldChanges => ({
  cursor: c.cursor,
  full: c.full,
  hosts: c.hosts.map(hostToWire),
  instances: c.instances.map(instanceToWire),
  removed: c.removed,
});
export const worldChangesFromWire = (c: WireWorldChanges): WorldChanges => ({
  cursor: c.cursor,
  full: c.full,
  hosts: c.hosts.map(hostFromWire),
  instances: c.instances.map(instanceFromWire),
  removed: c.removed,
});

export function opStatusToWire(s: OpStatus): WireOpStatus {
  const out: WireOpStatus = { status: s.status };
  if (s.error !== undefined) out.error = s.error;
  if (s.host !== undefined) out.host = s.host;
  if (s.expectedAt !== undefined) out.expected_at = s.expectedAt;
  return out;
}
export function opStatusFromWire(s: WireOpStatus): OpStatus {
  const out: OpStatus = { status: s.status };
  if (s.error !== undefined) out.error = s.error;
  if (s.host !== undefined) out.host = s.host;
  if (s.expected_at !== undefined) out.expectedAt = s.expected_at;
  return out;
}

/** HTTP status of a DriverError: by code, else 503 when worth retrying, else 422. */
export function driverErrorStatus(code: string | undefined, retryable: boolean): number {
  if (code === 'NOT_FOUND') return 404;
  if (code === 'KEY_CONFLICT') return 409;
  return retryable ? 503 : 422;
}
