// `--auth keystone`: X-Auth-Token is validated by Keystone (GET /v3/auth/tokens with the service's
// own token, done by the injected `validate`), with a short cache. A token with the admin role is
// an admin; any other project-scoped token reaches only its own project; unscoped tokens are refused.
import type { FastifyRequest } from 'fastify';
import { FenixError } from '../domain/errors.js';
import type { Principal } from '../services/principal.js';
import type { Authenticator } from './auth.js';

export interface ValidatedToken {
  projectId: string | null;
  roles: string[];
  /** ms epoch */
  expiresAt: number;
}

export interface KeystoneAuthOptions {
  /** Keystone's answer for a token, null when invalid or expired. Throws when Keystone cannot be asked. */
  validate: (token: string) => Promise<ValidatedToken | null>;
  /** How long an answer is reused, ms. Default 30 s (never past the token's expiry). */
  cacheMs?: number;
  /** Roles that make an admin. Default ["admin"]. */
  adminRoles?: string[];
  /** Most cached tokens. Default 10000. */
  maxEntries?: number;
  now?: () => number;
}

interface Entry {
  principal: Principal | null;
  reason: string;
  until: number;
}

export function keystoneAuth(opts: KeystoneAuthOptions): Authenticator & { cacheSize(): number } {
  const cacheMs = opts.cacheMs ?? 30_000;
  const adminRoles = new Set((opts.adminRoles ?? ['admin']).map((r) => r.toLowerCase()));
  const max = opts.maxEntries ?? 10_000;
  const now = opts.now ?? Date.now;
  const cache = new Map<string, Entry>();
  const pending = new Map<string, Promise<Entry>>();

  const lookup = async (token: string): Promise<Entry> => {
    let info: ValidatedToken | null;
    try {
      info = await opts.validate(token);
    } catch (err) {
      throw new FenixError('INFRASTRUCTURE_UNAVAILABLE', `cannot validate the token with Keystone: ${err instanceof Error ? err.message : String(err)}`);
    }
    const t = now();
    if (!info) return { principal: null, reason: 'invalid or expired token', until: t + Math.min(cacheMs, 5_000) };
    const until = Math.min(t + cacheMs, info.expiresAt);
    if (info.roles.some((r) => adminRoles.has(r.toLowerCase()))) return { principal: { role: 'admin' }, reason: '', until };
    if (!info.projectId) return { principal: null, reason: 'the token is not scoped to a project', until };
    return { principal: { role: 'project', projectId: info.projectId }, reason: '', until };
  };

  const authenticate = async (req: FastifyRequest): Promise<Principal> => {
    const tok = req.headers['x-auth-token'];
    if (typeof tok !== 'string' || !tok) throw new FenixError('UNAUTHENTICATED', 'X-Auth-Token header is required');
    let e = cache.get(tok);
    if (!e || e.until <= now()) {
      let p = pending.get(tok);
      if (!p) {
        p = lookup(tok).finally(() => pending.delete(tok));
        pending.set(tok, p);
      }
      e = await p;
      if (cache.size >= max) cache.delete(cache.keys().next().value!);
      cache.set(tok, e);
    }
    if (!e.principal) throw new FenixError('UNAUTHENTICATED', e.reason);
    return e.principal;
  };
  return Object.assign(authenticate, { cacheSize: () => cache.size });
}
