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

/**
 * What the routes need from the simulator. api/ may not import drivers/ (eslint layers), so this is
 * structural: `SimulatedDriver` from src/drivers/simulated satisfies it; main/ passes it in.
 */
export interface SimulatorControl {
  hostsView(): SimHostViewBody[];
  instancesView(filter?: { projectId?: string }): SimInstanceViewBody[];
  /** Throws FenixError('NO_CAPACITY') when no enabled compute host has room. */
  createInstance(req: { name: string; projectId: string; vcpus: number }): InstanceInfo;
  deleteInstance(id: string): boolean;
}

export async function simulatorRoutes(app: FastifyInstance, opts: { sim: SimulatorControl }): Promise<void> {
  const { sim } = opts;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get('/v1/simulator/hosts', { schema: { response: { 200: SimHostsResponseSchema } } }, async () => ({
    hosts: sim.hostsView(),
  }));

  r.get(
    '/v1/simulator/instances',
    { schema: { querystring: SimInstancesQuerySchema, response: { 200: SimInstancesResponseSchema } } },
    async (req) => ({
      instances: sim.instancesView(req.query.project_id === undefined ? {} : { projectId: req.query.project_id }),
    }),
  );

  r.post(
    '/v1/simulator/instances',
    { schema: { body: SimCreateInstanceBodySchema, response: { 201: SimInstanceViewSchema, 409: SimErrorSchema } } },
    async (req, reply) => {
      const i = sim.createInstance({ name: req.body.name, projectId: req.body.project_id, vcpus: req.body.vcpus });
      return reply.code(201).send({ id: i.id, name: i.name, project_id: i.projectId, host: i.host, vcpus: i.vcpus });
    },
  );

  r.delete(
    '/v1/simulator/instances/:id',
    { schema: { params: SimInstanceIdParamsSchema, response: { 204: Type.Null(), 404: SimErrorSchema } } },
    async (req, reply) => {
      if (!sim.deleteInstance(req.params.id)) {
        throw new FenixError('INSTANCE_NOT_FOUND', `instance ${req.params.id} not found`);
      }
      return reply.code(204).send(null);
    },
  );
}
