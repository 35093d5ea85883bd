// Who may call a route, declared by the route itself and enforced before its body is read.
//
// Every route states `config: { access }`; registering one without it fails at start (see
// requireAccess), so a route cannot be added unguarded. The check runs in the onRequest hook, before
// Fastify parses the body: an unauthorised caller never gets the parser (or a handler) to work for it.
import type { FastifyRequest, RouteOptions } from 'fastify';
import { FenixError } from '../domain/errors.js';
import type { Principal } from '../services/principal.js';
import type { Authenticator } from './auth.js';

/**
 * - `public`: no token (health, version document).
 * - `admin`: an admin token.
 * - `project`: an admin or a project token. A `:project_id` in the path must be the caller's own
 *   project; finer checks (ownership of an instance, a subscription) are the services' job.
 */
export type Access = 'public' | 'admin' | 'project';

export const ACCESS_LEVELS: readonly Access[] = ['public', 'admin', 'project'];

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
  }
}

/** onRoute hook: refuse to register a route that does not declare its access. */
export function requireAccess(route: RouteOptions): void {
  const access = (route.config as { access?: unknown } | undefined)?.access;
  if (!ACCESS_LEVELS.includes(access as Access))
    throw new Error(`route ${String(route.method)} ${route.url} declares no access (config.access: ${ACCESS_LEVELS.join(' | ')})`);
}

/** The access of the matched route; an unmatched URL (404) still needs a valid token. */
export const accessOf = (req: FastifyRequest): Access => req.routeOptions.config?.access ?? 'project';

/** Authenticate (unless public) and authorise the caller for the route. */
export async function authorize(req: FastifyRequest, authenticate: Authenticator): Promise<Principal | null> {
  const access = accessOf(req);
  if (access === 'public') return null;
  const who = await authenticate(req);
  if (access === 'admin' && who.role !== 'admin') throw new FenixError('FORBIDDEN', 'this needs an admin token');
  if (who.role === 'project') {
    const params = req.params as Record<string, unknown> | undefined;
    const pid = params && Object.hasOwn(params, 'project_id') ? params.project_id : undefined;
    if (pid !== undefined && pid !== who.projectId)
      throw new FenixError('FORBIDDEN', `this token belongs to project ${who.projectId}, not ${String(pid)}`);
  }
  return who;
}
