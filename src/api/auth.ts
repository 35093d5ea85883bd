// Authentication: resolves the caller of every request to a Principal.
// `none` (loopback only, enforced by config) makes every caller an admin; `token` reads X-Auth-Token.
//
// The token table is a Map of SHA-256 digests, never a plain object: a caller's token must not be
// able to name a property of Object.prototype (`constructor`, `__proto__`…) and be taken for an
// entry. Digests are compared with timingSafeEqual against every entry, so the time an answer takes
// says nothing about how close a guess was.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { FenixError } from '../domain/errors.js';
import type { Principal } from '../services/principal.js';

export type Authenticator = (req: FastifyRequest) => Promise<Principal>;

export const noAuth: Authenticator = async () => ({ role: 'admin' });

/** Tokens of `--auth token`: digest → principal. Build with parseTokenTable. */
export type TokenTable = ReadonlyArray<{ digest: Buffer; principal: Principal }>;

/** Shortest token the tokens file may hold: guessing must be hopeless. */
const MIN_TOKEN_LENGTH = 16;
/** Longest token looked at: the header is hashed, so bound the work an attacker can ask for. */
const MAX_TOKEN_LENGTH = 4096;

const digest = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

/**
 * The tokens file: a JSON object of token → {"role": "admin"} | {"role": "project", "project_id": …}.
 * Any other shape is refused at start, so no principal without its role and ids ever exists.
 */
export function parseTokenTable(raw: unknown): TokenTable {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new Error('tokens file must be a JSON object of token → {role, project_id}');
  const out: { digest: Buffer; principal: Principal }[] = [];
  for (const [tok, v] of Object.entries(raw as Record<string, unknown>)) {
    const shown = `${tok.slice(0, 4)}…`;
    if (tok.length < MIN_TOKEN_LENGTH || tok.length > MAX_TOKEN_LENGTH)
      throw new Error(`token ${shown}: tokens must be ${MIN_TOKEN_LENGTH} to ${MAX_TOKEN_LENGTH} characters`);
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error(`token ${shown}: the entry must be an object {role, project_id}`);
    const e = v as { role?: unknown; project_id?: unknown };
    let principal: Principal;
    if (e.role === 'admin' && e.project_id === undefined) principal = { role: 'admin' };
    else if (e.role === 'project' && typeof e.project_id === 'string' && e.project_id.trim() !== '' && e.project_id.length <= 255)
      principal = { role: 'project', projectId: e.project_id };
    else throw new Error(`token ${shown}: role must be "admin" (no project_id), or "project" with a non-empty project_id`);
    out.push({ digest: digest(tok), principal });
  }
  if (!out.length) throw new Error('tokens file holds no token');
  return out;
}

export function tokenAuth(table: TokenTable): Authenticator {
  return async (req) => {
    const tok = req.headers['x-auth-token'];
    if (typeof tok !== 'string' || !tok) throw new FenixError('UNAUTHENTICATED', 'X-Auth-Token header is required');
    if (tok.length > MAX_TOKEN_LENGTH) throw new FenixError('UNAUTHENTICATED', 'unknown token');
    const d = digest(tok);
    let found: Principal | undefined;
    // No early exit: every entry is compared, whatever matched.
    for (const e of table) if (timingSafeEqual(d, e.digest) && !found) found = e.principal;
    if (!found) throw new FenixError('UNAUTHENTICATED', 'unknown token');
    return checkedPrincipal(found);
  };
}

/** A principal must carry its role and the ids that role needs; anything else is refused (defence in depth). */
export function checkedPrincipal(p: Principal | null | undefined): Principal {
  if (p && p.role === 'admin') return { role: 'admin' };
  if (p && p.role === 'project' && typeof p.projectId === 'string' && p.projectId !== '') return { role: 'project', projectId: p.projectId };
  throw new FenixError('UNAUTHENTICATED', 'the token does not name a role and project');
}
