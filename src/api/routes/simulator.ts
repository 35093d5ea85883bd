// Simulator control API: inspect the simulated cloud and create / delete instances in it
// (used by the sample application manager and demos). Only registered with the simulated driver.
//
// AUTHORIZATION is applied by the app around these routes (admin, or the instance's own project);
// nothing here checks credentials.
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { FenixError } from '../../domain/errors.js';
import type { InstanceInfo } from '../../ports/infra-driver.js';
import {
  SimCreateInstanceBodySchema,
  SimErrorSchema,
  SimHostsResponseSchema,
  SimInstanceIdParamsSchema,
  SimInstanceViewSchema,
  SimInstancesQuerySchema,
  SimInstancesResponseSchema,
  type SimHostViewBody,
  type SimInstanceViewBody,
} from '../schemas/simulator.js';

const PROJECT = { access: 'project' as const };

type MaybePromise<T> = T | Promise<T>;

/**
 * What the routes need from the simulator. api/ may not import drivers/ (eslint layers), so this is
 * structural: `SimulatedDriver` (in-process, synchronous) and `RemoteSimulatorDriver` (a shared
 * simulator service, asynchronous) from src/drivers/simulated satisfy it; main/ passes one in.
 */
export interface SimulatorControl {
  hostsView(): MaybePromise<SimHostViewBody[]>;
  instancesView(filter?: { projectId?: string }): MaybePromise<SimInstanceViewBody[]>;
  /** Throws (or rejects with) FenixError('NO_CAPACITY') when no enabled compute host has room. */
  createInstance(req: { name: string; projectId: string; vcpus: number }): MaybePromise<InstanceInfo>;
  deleteInstance(id: string): MaybePromise<boolean>;
  /** The in-process simulator writes its state behind; a change is answered once it is saved. */
  flush?(): Promise<void>;
}

export async function simulatorRoutes(app: FastifyInstance, opts: { sim: SimulatorControl }): Promise<void> {
  const { sim } = opts;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get('/v1/simulator/hosts', { config: { access: 'admin' }, schema: { response: { 200: SimHostsResponseSchema } } }, async () => ({
    hosts: await sim.hostsView(),
  }));

  r.get(
    '/v1/simulator/instances',
    { config: PROJECT, schema: { querystring: SimInstancesQuerySchema, response: { 200: SimInstancesResponseSchema } } },
    async (req) => ({
      instances: await sim.instancesView(req.query.project_id === undefined ? {} : { projectId: req.query.project_id }),
    }),
  );

  r.post(
    '/v1/simulator/instances',
    { config: PROJECT, schema: { body: SimCreateInstanceBodySchema, response: { 201: SimInstanceViewSchema, 409: SimErrorSchema } } },
    async (req, reply) => {
      const i = await sim.createInstance({ name: req.body.name, projectId: req.body.project_id, vcpus: req.body.vcpus });
      await sim.flush?.();
      return reply.code(201).send({ id: i.id, name: i.name, project_id: i.projectId, host: i.host, vcpus: i.vcpus });
    },
  );

  r.delete(
    '/v1/simulator/instances/:id',
    { config: PROJECT, schema: { params: SimInstanceIdParamsSchema, response: { 204: Type.Null(), 404: SimErrorSchema } } },
    async (req, reply) => {
      if (!(await sim.deleteInstance(req.params.id))) {
        throw new FenixError('INSTANCE_NOT_FOUND', `instance ${req.params.id} not found`);
      }
      await sim.flush?.();
      return reply.code(204).send(null);
    },
  );
}
