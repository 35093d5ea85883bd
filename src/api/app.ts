// buildApp(deps) → a Fastify instance with every /v1 route; no I/O of its own beyond HTTP.
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Clock } from '../ports/clock.js';
import type { Store } from '../ports/store.js';
import type { Principal } from '../services/principal.js';
import type { ProjectService } from '../services/projects.js';
import type { SessionService } from '../services/sessions.js';
import type { SubscriptionService } from '../services/subscriptions.js';
import { FenixError } from '../domain/errors.js';
import type { Authenticator } from './auth.js';
import { authorize, requireAccess, type Access } from './access.js';
import { jsonBody } from './json-body.js';
import { clientError, handleError, notFound, refuseConnect } from './errors.js';
import { metricsRoutes } from './metrics.js';
import { openapiRoutes } from './openapi.js';
import { maintenanceRoutes } from './routes/maintenance.js';
import { simulatorRoutes, type SimulatorControl } from './routes/simulator.js';
import { subscriptionRoutes } from './routes/subscriptions.js';
import type { ConstraintService } from '../services/constraints.js';
import type { PlanService } from '../services/plan.js';
import { constraintRoutes } from './routes/constraints.js';
import { planRoutes } from './routes/plan.js';
import { pluginRoutes } from './routes/plugins.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { eventRoutes } from './routes/events.js';
import type { PluginService } from '../services/plugins.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
  interface FastifyInstance {
    /** Every registered route and its declared access (HEAD twins of GET routes left out). */
    routeTable(): RouteEntry[];
  }
}

/** One registered route; test/security walks them all, so a new route cannot go untested. */
export interface RouteEntry {
  method: string;
  url: string;
  access: Access;
}

export interface AppDeps {
  store: Store;
  clock: Clock;
  /** Constraints API (spec §5). */
  constraints: ConstraintService;
  /** Planner dry-run (`POST /v1/maintenance/plan`); the route exists only when given. */
  plan?: PlanService;
  sessions: SessionService;
  projects: ProjectService;
  subscriptions: SubscriptionService;
  /** GET /v1/plugins and the plug-in callback (absent: neither). */
  plugins?: PluginService;
  authenticate: Authenticator;
  /** Prometheus registry (one per process, shared with a `--metrics-port` listener); built when absent. */
  metrics?: Registry;
  /** Present with the simulated driver only. */
  simulator?: SimulatorControl;
  logger?: Logger | boolean;
}

/** Time a client has to send a whole request, headers and body (docs/security.md, Limits). */
export const REQUEST_TIMEOUT_MS = 30_000;

export { jsonBody, jsonDepthExceeds, MAX_JSON_DEPTH } from './json-body.js';

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: typeof deps.logger === 'object' ? deps.logger : undefined,
    logger: typeof deps.logger === 'boolean' ? deps.logger : undefined,
    // Path ids up to the schemas' 255 characters (find-my-way's default stops at 100: 414).
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 256 },
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    bodyLimit: 1024 * 1024,
    // Fastify's default (0) lets a client trickle a body forever and hold its connection (and a
    // file descriptor) even after a 401: the whole request must arrive within this (Node checks
    // every 30 s, so a slow client is dropped with 408 within a minute). Bodies are at most 1 MiB.
    requestTimeout: REQUEST_TIMEOUT_MS,
    // Requests refused before routing answer in the API's error shape too: by Node's parser, and
    // by the router (a bad escape such as %ZZ, a path param over 100 characters).
    clientErrorHandler: clientError,
    frameworkErrors: (err, req, reply) => handleError(err, req, reply),
    // Fastify's default coerceTypes 'array' wraps a scalar into a list: "hosts": "compute-0" passed
    // as ["compute-0"]. Scalars are still coerced ("40" for an integer; query strings need it).
    ajv: { customOptions: { coerceTypes: true } },
  });
  app.server.on('connect', refuseConnect);
  // Set by the onRequest hook below before any route runs.
  (app.decorateRequest as (name: string, value: unknown) => void)('principal', null);
  app.setErrorHandler(handleError);
  app.setNotFoundHandler(notFound);
  // A DELETE or GET without a body but with a JSON content type must not fail.
  app.addContentTypeParser('application/json', { parseAs: 'string' }, jsonBody);
  const routes: RouteEntry[] = [];
  app.addHook('onRoute', (route) => {
    requireAccess(route);
    for (const method of [route.method].flat()) routes.push({ method, url: route.url, access: (route.config as { access: Access }).access });
  });
  app.decorate('routeTable', () =>
    routes.filter((r) => r.method !== 'HEAD' || !routes.some((g) => g.method === 'GET' && g.url === r.url)).map((r) => ({ ...r })),
  );
  // Authorise before anything reads the body (onRequest runs before content-type parsing).
  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
    reply.header('x-openstack-request-id', `req-${req.id}`);
    const who = await authorize(req, deps.authenticate);
    if (who) req.principal = who;
  });

  // First: it collects every route registered after it.
  await openapiRoutes(app as unknown as FastifyInstance);
  const open = { config: { access: 'public' as const } };
  app.get('/healthz', open, async () => ({ status: 'ok' }));
  // `/`: the version document for API clients, the dashboard for browsers (routes/dashboard.ts).
  await app.register(dashboardRoutes);
  await app.register(eventRoutes, { store: deps.store, clock: deps.clock });

  await app.register(maintenanceRoutes, deps);
  await app.register(subscriptionRoutes, deps);
  await app.register(metricsRoutes, { store: deps.store, ...(deps.metrics && { registry: deps.metrics }) });
  await app.register(constraintRoutes, { constraints: deps.constraints });
  if (deps.plan) await app.register(planRoutes, { plan: deps.plan });
  if (deps.plugins) await app.register(pluginRoutes, { plugins: deps.plugins });
  if (deps.simulator) {
    const sim = deps.simulator;
    await app.register(async (scope) => {
      // A project token sees and changes only its own project's instances (hosts are admin-only by their route's access).
      scope.addHook('preHandler', async (req) => {
        const p = req.principal;
        if (p.role === 'admin') return;
        if (req.method === 'GET') {
          const q = req.query as { project_id?: string };
          if (q.project_id !== undefined && q.project_id !== p.projectId) throw new FenixError('FORBIDDEN', 'not your project');
          (req.query as { project_id?: string }).project_id = p.projectId;
        } else if (req.method === 'POST') {
          const b = req.body as { project_id?: unknown } | undefined;
          if (b?.project_id !== p.projectId) throw new FenixError('FORBIDDEN', `a project token creates instances in ${p.projectId} only`);
        } else if (req.method === 'DELETE') {
          const id = (req.params as { id?: string }).id;
          const own = (await sim.instancesView({ projectId: p.projectId })).some((i) => i.id === id);
          if (!own) throw new FenixError('INSTANCE_NOT_FOUND', `no instance ${id} in project ${p.projectId}`);
        }
      });
      await simulatorRoutes(scope, { sim });
    });
  }
  return app as unknown as FastifyInstance;
}
