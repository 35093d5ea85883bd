// HTTP face of one SimulatedDriver, so several processes (API replicas, engines) share one simulated
// cloud the way they would share a real cloud's API. Wire format: wire.ts; client: remote-driver.ts.
//
// This file holds the driver's own routes and the error mapping. The `/v1/simulator/*` control
// routes are the API's own (api/routes/simulator.ts, same shapes as the in-process ones); drivers/
// may not import api/, so main/simulator.ts (`startSimulatorServer`) puts the two together.
//
// No authentication: like the in-process simulator it is a test and demo cloud; bind it to a
// loopback or private address.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { FenixError } from '../../domain/errors.js';
import { DriverError, type MoveKind } from '../../ports/infra-driver.js';
import type { SimulatedDriver } from './simulated-driver.js';
import {
  NO_DRIVER_CODE,
  WireCreateInstanceBodySchema,
  WireErrorSchema,
  WireFailuresBodySchema,
  WireHostMaintenanceBodySchema,
  WireHostParamsSchema,
  WireHostsSchema,
  WireInstanceParamsSchema,
  WireInstanceSchema,
  WireInstancesQuerySchema,
  WireInstancesSchema,
  WireMoveBodySchema,
  WireOpStatusSchema,
  WireRefParamsSchema,
  WireRefSchema,
  WireSchedulingBodySchema,
  WireWatchQuerySchema,
  WireWorldChangesSchema,
  driverErrorStatus,
  hostToWire,
  instanceToWire,
  opStatusToWire,
  worldChangesToWire,
} from './wire.js';

const errors = { 400: WireErrorSchema, 404: WireErrorSchema, 409: WireErrorSchema, 422: WireErrorSchema, 503: WireErrorSchema };

/** startMove with the optional 4th `opts` argument, whether or not this driver version takes it. */
type StartMove = (instanceId: string, kind: MoveKind, key: string, opts?: { target?: string }) => Promise<string>;

/** The InfraDriver port and the extra control routes over one SimulatedDriver. */
export async function simulatedDriverRoutes(app: FastifyInstance, opts: { driver: SimulatedDriver }): Promise<void> {
  const { driver } = opts;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const startMove: StartMove = driver.startMove.bind(driver);

  r.get('/healthz', async () => ({ status: 'ok' }));

  // ------------------------------------------------------------ the InfraDriver port

  r.get('/hosts', { schema: { response: { 200: WireHostsSchema } } }, async () => ({ hosts: (await driver.listHosts()).map(hostToWire) }));

  r.get('/instances', { schema: { querystring: WireInstancesQuerySchema, response: { 200: WireInstancesSchema, ...errors } } }, async (req) => {
    const filter: { hosts?: string[]; projectId?: string } = {};
    if (req.query.hosts !== undefined) filter.hosts = req.query.hosts === '' ? [] : req.query.hosts.split(',');
    if (req.query.project_id !== undefined) filter.projectId = req.query.project_id;
    return { instances: (await driver.listInstances(filter)).map(instanceToWire) };
  });

  r.get('/instances/:id', { schema: { params: WireInstanceParamsSchema, response: { 200: WireInstanceSchema, ...errors } } }, async (req) => {
    const inst = await driver.getInstance(req.params.id);
    if (!inst) throw new DriverError(`instance not found: ${req.params.id}`, false, 'NOT_FOUND');
    return instanceToWire(inst);
  });

  /** The change feed: what changed since `cursor` (the whole world without one, or for one it cannot answer). */
  r.get('/watch', { schema: { querystring: WireWatchQuerySchema, response: { 200: WireWorldChangesSchema, ...errors } } }, async (req) =>
    worldChangesToWire(await driver.watch(req.query.cursor ?? null)),
  );

  r.put(
    '/hosts/:name/scheduling',
    { schema: { params: WireHostParamsSchema, body: WireSchedulingBodySchema, response: { 204: Type.Null(), ...errors } } },
    async (req, reply) => {
      await driver.setHostScheduling(req.params.name, req.body.enabled, req.body.reason);
      return reply.code(204).send(null);
    },
  );

  r.post('/moves', { schema: { body: WireMoveBodySchema, response: { 200: WireRefSchema, ...errors } } }, async (req) => {
    const { instance_id, kind, key, target } = req.body;
    const ref = target === undefined ? await startMove(instance_id, kind, key) : await startMove(instance_id, kind, key, { target });
    return { ref };
  });

  r.post('/host-maintenance', { schema: { body: WireHostMaintenanceBodySchema, response: { 200: WireRefSchema, ...errors } } }, async (req) => ({
    ref: await driver.startHostMaintenance(req.body.host, req.body.key),
  }));

  r.get('/operations/:ref', { schema: { params: WireRefParamsSchema, response: { 200: WireOpStatusSchema, ...errors } } }, async (req) =>
    opStatusToWire(await driver.getOperation(req.params.ref)),
  );

  // ------------------------------------------------------------ control beyond /v1/simulator/*

  /** Every op, oldest first (SimOp as is, for debugging and tests). */
  r.get('/operations', async () => ({ operations: driver.operations() }));

  /** The simulated operations' durations (ScenarioTimings). */
  r.get('/timings', async () => driver.timingsView());

  /** The full state document (SimState), as persisted. */
  r.get('/state', async () => driver.snapshot());

  /** createInstance with everything it takes (host placement, fixed id); FenixError on refusal. */
  r.post('/instances', { schema: { body: WireCreateInstanceBodySchema, response: { 201: WireInstanceSchema, ...errors } } }, async (req, reply) => {
    const b = req.body;
    const inst = driver.createInstance({
      name: b.name,
      projectId: b.project_id,
      vcpus: b.vcpus,
      ...(b.id !== undefined && { id: b.id }),
      ...(b.host !== undefined && { host: b.host }),
      ...(b.floating_ip !== undefined && { floatingIp: b.floating_ip }),
      ...(b.live_migratable !== undefined && { liveMigratable: b.live_migratable }),
    });
    await driver.flush(); // answered = saved (the control API itself is synchronous, written behind)
    return reply.code(201).send(instanceToWire(inst));
  });

  r.post('/failures', { schema: { body: WireFailuresBodySchema, response: { 204: Type.Null(), ...errors } } }, async (req, reply) => {
    if (req.body.migrations?.length) driver.failMigrationsOf(req.body.migrations);
    for (const h of req.body.hosts ?? []) driver.failHost(h);
    await driver.flush();
    return reply.code(204).send(null);
  });

  r.delete('/failures', { schema: { response: { 204: Type.Null() } } }, async (_req, reply) => {
    driver.heal();
    await driver.flush();
    return reply.code(204).send(null);
  });
}

const body = (code: string, message: string, retryable: boolean) => ({ error: { code, message, retryable } });

/** Errors as `{"error": {"code", "message", "retryable"}}`: DriverError, FenixError, validation, the rest. */
export function simulatorErrorHandler(err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply) {
  if (err instanceof DriverError) {
    return reply.code(driverErrorStatus(err.code, err.retryable)).send(body(err.code ?? NO_DRIVER_CODE, err.message, err.retryable));
  }
  if (err instanceof FenixError) return reply.code(err.status).send(body(err.code, err.message, false));
  const fe = err as FastifyError;
  if (fe.validation) {
    const where = fe.validationContext ?? 'request';
    const msg = fe.validation.map((v) => `${where}${v.instancePath || ''} ${v.message ?? 'is invalid'}`).join('; ');
    return reply.code(400).send(body('VALIDATION_FAILED', msg, false));
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return reply.code(fe.statusCode).send(body('BAD_REQUEST', fe.message, false));
  }
  req.log.error({ err }, 'unhandled error');
  return reply.code(500).send(body('INTERNAL', `simulator: ${err.message}`, true));
}

export function simulatorNotFound(req: FastifyRequest, reply: FastifyReply) {
  return reply.code(404).send(body('NO_ROUTE', `no route ${req.method} ${req.url.split('?')[0]}`, false));
}
