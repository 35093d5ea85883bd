// Authentication: resolves the caller of every request to a Principal.
// `none` (loopback only, enforced by config) makes every caller an admin; `token` reads X-Auth-Token.
import type { FastifyRequest } from 'fastify';
import { FenixError } from '../domain/errors.js';
import type { Principal } from '../services/principal.js';

export type Authenticator = (req: FastifyRequest) => Promise<Principal>;

export const noAuth: Authenticator = async () => ({ role: 'admin' });

export type TokenTable = Record<string, { role: 'admin' } | { role: 'project'; project_id: string }>;

export function validateTokenTable(raw: unknown): TokenTable {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new Error('tokens file must be a JSON object of token → {role, project_id}');
  for (const [tok, v] of Object.entries(raw as Record<string, unknown>)) {
    const e = v as { role?: unknown; project_id?: unknown };
    if (tok.length < 8) throw new Error('tokens must be at least 8 characters');
    if (e?.role === 'admin') continue;
    if (e?.role === 'project' && typeof e.project_id === 'string' && e.project_id) continue;
    throw new Error(`token ${tok.slice(0, 4)}…: role must be "admin", or "project" with a project_id`);
  }
  return raw as TokenTable;
}

export function tokenAuth(table: TokenTable): Authenticator {
  return async (req) => {
    const tok = req.headers['x-auth-token'];
    if (typeof tok !== 'string' || !tok) throw new FenixError('UNAUTHENTICATED', 'X-Auth-Token header is required');
    const e = table[tok];
    if (!e) throw new FenixError('UNAUTHENTICATED', 'unknown token');
    return e.role === 'admin' ? { role: 'admin' } : { role: 'project', projectId: e.project_id };
  };
}
