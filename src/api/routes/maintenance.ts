// /v1/maintenance: sessions (admin, spec §3) and the project API (spec §4).
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { ProjectService } from '../../services/projects.js';
import type { SessionService } from '../../services/sessions.js';
import type { PluginService } from '../../services/plugins.js';
import { detailQuery, detailView, sessionView } from '../../services/detail.js';
import { requireAdmin } from '../../services/principal.js';
import { FenixError } from '../../domain/errors.js';
import type { Store } from '../../ports/store.js';
import type { Clock } from '../../ports/clock.js';
import { ErrorSchema, InstanceParams, ProjectParams, SessionIdParams } from '../schemas/common.js';
import {
  CreateSessionBody,
  DetailQuery,
  InstanceIdsView,
  ReplyAccepted,
  ReplyBody,
  SessionList,
  SessionView,
  UpdateSessionBody,
} from '../schemas/maintenance.js';

export interface MaintenanceRouteDeps {
  sessions: SessionService;
  projects: ProjectService;
  store: Store;
  clock: Clock;
  /** Plug-in callbacks share the per-instance reply's path (absent: every such PUT is a reply). */
  plugins?: PluginService;
}

const ADMIN = { access: 'admin' as const };
const PROJECT = { access: 'project' as const };
const errors = { 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema, 422: ErrorSchema };

export async function maintenanceRoutes(app: FastifyInstance, deps: MaintenanceRouteDeps): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const { sessions, projects } = deps;

  r.post('/v1/maintenance', { config: ADMIN, schema: { body: CreateSessionBody, response: { 200: SessionView, ...errors } } }, async (req) =>
    sessionView(await sessions.create(req.principal, req.body)),
  );

  r.get('/v1/maintenance', { config: ADMIN, schema: { response: { 200: SessionList, ...errors } } }, async (req) => {
    const list = await sessions.list(req.principal);
    return { sessions: list.map((s) => s.id) };
  });

  r.get('/v1/maintenance/:session_id', { config: ADMIN, schema: { params: SessionIdParams, response: { 200: SessionView, ...errors } } }, async (req) =>
    sessionView(await sessions.getForAdmin(req.principal, req.params.session_id)),
  );

  // Each long list a page at a time (limit, per-list cursors); cost and size do not grow with the session.
  r.get('/v1/maintenance/:session_id/detail', { config: ADMIN, schema: { params: SessionIdParams, querystring: DetailQuery } }, async (req) => {
    requireAdmin(req.principal);
    const id = req.params.session_id;
    const q = detailQuery(req.query);
    await sessions.get(id);
    const d = await deps.store.readDetail(id, q);
    if (!d) throw new FenixError('SESSION_NOT_FOUND', `no maintenance session ${id}`);
    return detailView(d, deps.clock.now());
  });

  r.put(
    '/v1/maintenance/:session_id',
    { config: ADMIN, schema: { params: SessionIdParams, body: UpdateSessionBody, response: { 200: SessionView, ...errors } } },
    async (req) => sessionView(await sessions.update(req.principal, req.params.session_id, req.body)),
  );

  r.delete('/v1/maintenance/:session_id', { config: ADMIN, schema: { params: SessionIdParams, response: { 200: SessionView, ...errors } } }, async (req) =>
    sessionView(await sessions.delete(req.principal, req.params.session_id)),
  );

  // ---- project API ----

  r.get('/v1/maintenance/:session_id/:project_id', { config: PROJECT, schema: { params: ProjectParams, response: { 200: InstanceIdsView, ...errors } } }, async (req) => ({
    instance_ids: await projects.instances(req.principal, req.params.session_id, req.params.project_id),
  }));

  r.put(
    '/v1/maintenance/:session_id/:project_id',
    { config: PROJECT, schema: { params: ProjectParams, body: ReplyBody, response: { 200: ReplyAccepted, ...errors } } },
    async (req) => projects.reply(req.principal, req.params.session_id, req.params.project_id, req.body ?? {}),
  );

  // Also Fenix 2020's plug-in callback, PUT /v1/maintenance/{session_id}/{host}/{plugin}, when the
  // last segment names a plug-in (instance ids are UUIDs): that needs an admin token, checked
  // before the body is read, as every route's access is.
  const callback = (p: { instance_id?: string }) => deps.plugins !== undefined && p.instance_id !== undefined && deps.plugins.isPlugin(p.instance_id);
  r.put(
    '/v1/maintenance/:session_id/:project_id/:instance_id',
    {
      config: PROJECT,
      onRequest: async (req) => {
        if (callback(req.params as { instance_id?: string })) requireAdmin(req.principal);
      },
      schema: { params: InstanceParams, body: ReplyBody, response: { 200: ReplyAccepted, ...errors } },
    },
    async (req) =>
      callback(req.params)
        ? deps.plugins!.callback(req.principal, req.params.session_id, req.params.project_id, req.params.instance_id, req.body ?? {})
        : projects.reply(req.principal, req.params.session_id, req.params.project_id, req.body ?? {}, req.params.instance_id),
  );
}
