import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { simulatorRoutes } from '../../src/api/routes/simulator.js';
import { ManualClock } from '../../src/clock/manual.js';
import { FenixError } from '../../src/domain/errors.js';
import { SimulatedDriver, demoScenario } from '../../src/drivers/simulated/index.js';

describe('simulator routes', () => {
  let app: FastifyInstance;
  let sim: SimulatedDriver;

  beforeEach(async () => {
    sim = new SimulatedDriver(demoScenario(), new ManualClock());
    app = Fastify();
    // stand-in for the app's shared error handler
    app.setErrorHandler((err, _req, reply) => {
      if (err instanceof FenixError) return reply.code(err.status).send({ error: { code: err.code, message: err.message } });
      const e = err as { validation?: unknown; message: string; statusCode?: number };
      if (e.validation) return reply.code(400).send({ error: { code: 'VALIDATION_FAILED', message: e.message } });
      return reply.code(e.statusCode ?? 500).send({ error: { code: 'INTERNAL', message: e.message } });
    });
    await app.register(simulatorRoutes, { sim });
    await app.ready();
  });
  afterEach(() => app.close());

  it('GET /v1/simulator/hosts', async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/simulator/hosts' });
    expect(res.statusCode).toBe(200);
    const { hosts } = res.json();
    expect(hosts).toHaveLength(5);
    expect(hosts[0]).toEqual({ name: 'compute-0', type: 'compute', vcpus: 8, vcpus_used: 6, enabled: true });
    expect(hosts[4]).toEqual({ name: 'controller-0', type: 'controller', vcpus: 0, vcpus_used: 0, enabled: true });
  });

  it('GET /v1/simulator/instances with and without project_id', async () => {
    const all = (await app.inject({ method: 'GET', url: '/v1/simulator/instances' })).json().instances;
    expect(all).toHaveLength(10);
    expect(Object.keys(all[0]).sort()).toEqual(['host', 'id', 'name', 'project_id', 'vcpus']);
    const res = await app.inject({ method: 'GET', url: '/v1/simulator/instances?project_id=demo-b' });
    expect(res.statusCode).toBe(200);
    const b = res.json().instances as { project_id: string; id: string }[];
    expect(b).toHaveLength(5);
    expect(b.every((i) => i.project_id === 'demo-b')).toBe(true);
    expect(b.map((i) => i.id)).toEqual([...b.map((i) => i.id)].sort());
  });

  it('POST /v1/simulator/instances creates (201), ignoring unknown keys', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/simulator/instances',
      payload: { name: 'extra-0', project_id: 'demo-a', vcpus: 3, flavor: 'ignored' },
    });
    expect(res.statusCode).toBe(201);
    const body = res.json();
    // best fit: compute-3 has 5 free, compute-1 has 3 free -> compute-1
    expect(body).toMatchObject({ name: 'extra-0', project_id: 'demo-a', host: 'compute-1', vcpus: 3 });
    expect(sim.instancesView({ projectId: 'demo-a' }).map((i) => i.id)).toContain(body.id);
  });

  it('POST rejects a bad body with 400', async () => {
    for (const payload of [{ name: 'x', project_id: 'p', vcpus: 0 }, { name: 'x', vcpus: 1 }, { name: '', project_id: 'p', vcpus: 1 }]) {
      const res = await app.inject({ method: 'POST', url: '/v1/simulator/instances', payload });
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
    }
  });

  it('POST answers 409 NO_CAPACITY when no enabled host has room', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/simulator/instances', payload: { name: 'big', project_id: 'demo-a', vcpus: 6 } });
    expect(res.statusCode).toBe(409);
    expect(res.json().error.code).toBe('NO_CAPACITY');
    expect(typeof res.json().error.message).toBe('string');
  });

  it('DELETE /v1/simulator/instances/:id answers 204, then 404', async () => {
    const id = sim.instancesView()[0]!.id;
    const res = await app.inject({ method: 'DELETE', url: `/v1/simulator/instances/${id}` });
    expect(res.statusCode).toBe(204);
    expect(res.body).toBe('');
    const again = await app.inject({ method: 'DELETE', url: `/v1/simulator/instances/${id}` });
    expect(again.statusCode).toBe(404);
    expect(again.json()).toEqual({ error: { code: 'INSTANCE_NOT_FOUND', message: `instance ${id} not found` } });
  });
});
