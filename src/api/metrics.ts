// GET /metrics: Prometheus metrics, computed from the store at scrape time (so every API replica
// reports the same truth) plus the process's own.
import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { Store } from '../ports/store.js';

export async function metricsRoutes(app: FastifyInstance, deps: { store: Store }): Promise<void> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'fenix_process_' });
  new Gauge({
    name: 'fenix_sessions',
    help: 'Maintenance sessions by state (paused ones also counted as paused="true").',
    labelNames: ['state', 'paused'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const s of await deps.store.listSessions()) this.inc({ state: s.state, paused: String(s.paused) });
    },
  });
  new Gauge({
    name: 'fenix_session_percent_done',
    help: 'Progress of each running session.',
    labelNames: ['session_id'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const s of await deps.store.listSessions()) if (!s.deleting) this.set({ session_id: s.id }, s.percentDone);
    },
  });
  app.get('/metrics', async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()));
}
