// GET /metrics: Prometheus metrics, computed from the store at scrape time (so every API replica
// reports the same truth) plus the process's own. Session ids and states are an admin's business:
// on the API port the route needs an admin token; `--metrics-port` serves it on a separate listener
// (for a scraper on a private network) without one.
import Fastify, { type FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { Store } from '../ports/store.js';

export function metricsRegistry(store: Pick<Store, 'listSessions'>): Registry {
  const registry = new Registry();
  // No prefix: process_* and nodejs_* as every Prometheus client names them (dashboards and alerts
  // expect process_resident_memory_bytes); the scrape's job label says which service it is.
  collectDefaultMetrics({ register: registry });
  new Gauge({
    name: 'fenix_sessions',
    help: 'Maintenance sessions by state (paused ones also counted as paused="true").',
    labelNames: ['state', 'paused'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const s of await store.listSessions()) this.inc({ state: s.state, paused: String(s.paused) });
    },
  });
  new Gauge({
    name: 'fenix_session_percent_done',
    help: 'Progress of each running session.',
    labelNames: ['session_id'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const s of await store.listSessions()) if (!s.deleting) this.set({ session_id: s.id }, s.percentDone);
    },
  });
  return registry;
}

export async function metricsRoutes(app: FastifyInstance, deps: { store: Store; registry?: Registry }): Promise<void> {
  const registry = deps.registry ?? metricsRegistry(deps.store);
  app.get('/metrics', { config: { access: 'admin' } }, async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()));
}

/** `--metrics-port`: /metrics alone, without a token, on its own listener. */
export async function startMetricsServer(registry: Registry, host: string, port: number): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  app.get('/metrics', async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()));
  app.setNotFoundHandler((_req, reply) => reply.code(404).send({ error: { code: 'NOT_FOUND', message: 'only /metrics is served here' } }));
  await app.listen({ host, port });
  return app;
}
