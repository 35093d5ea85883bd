// GET /v1/plugins: the action plug-ins this service knows (built in, and loaded from --plugins-dir).
// The plug-in callback shares its path with the per-instance reply (routes/maintenance.ts).
import type { FastifyInstance } from 'fastify';
import type { PluginService } from '../../services/plugins.js';
import { PluginList } from '../schemas/plugins.js';
import { ErrorSchema } from '../schemas/common.js';

export async function pluginRoutes(app: FastifyInstance, deps: { plugins: PluginService }): Promise<void> {
  app.get('/v1/plugins', { config: { access: 'admin' }, schema: { response: { 200: PluginList, 401: ErrorSchema, 403: ErrorSchema } } }, async (req) => ({
    plugins: deps.plugins.list(req.principal),
  }));
}
