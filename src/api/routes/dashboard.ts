// The dashboard's pages (docs/dashboard.md): `/` and `/sessions/{id}` answer one HTML page (its
// style and script inlined, allowed by their hashes in the Content-Security-Policy) to a client that
// prefers text/html, a browser. Every other client gets the API's version document, as `/` always
// answered (API discovery). The page holds no data: it reads the API with the token the user gives.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { FenixError } from '../../domain/errors.js';
import { selfContainedPageCsp } from '../page-csp.js';

export const VERSIONS = { versions: [{ id: 'v1', status: 'CURRENT', links: [{ rel: 'self', href: '/v1' }] }] };

/** The q value `accept` gives `type` (its most specific matching range wins), 0 when none matches. */
export function acceptQ(accept: string, type: string): number {
  const [major] = type.split('/');
  let best = { specificity: -1, q: 0 };
  for (const part of accept.split(',')) {
    const [range, ...params] = part.trim().toLowerCase().split(';');
    const specificity = range === type ? 2 : range === `${major}/*` ? 1 : range === '*/*' ? 0 : -1;
    if (specificity < 0 || specificity < best.specificity) continue;
    const qp = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const q = qp === undefined ? 1 : Number(qp.slice(2));
    best = { specificity, q: Number.isFinite(q) ? Math.min(Math.max(q, 0), 1) : 0 };
  }
  return best.q;
}

/** A browser navigating: text/html is preferred over JSON (curl's and fetch()'s `*\/*` is not). */
export const prefersHtml = (req: FastifyRequest): boolean => {
  const accept = req.headers.accept;
  return typeof accept === 'string' && acceptQ(accept, 'text/html') > acceptQ(accept, 'application/json');
};

interface Page {
  html: string;
  csp: string;
}

/** dist/dashboard/ (built by `npm run build`): beside dist/api/ when built, under the checkout's dist/ when run from src/. */
function dashboardDir(): string | undefined {
  for (const rel of ['../../dashboard/', '../../../dist/dashboard/']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(`${dir}app.js`) && existsSync(`${dir}index.html`)) return dir;
  }
  return undefined;
}

let cached: Page | undefined;

function page(): Page {
  if (cached) return cached;
  const dir = dashboardDir();
  if (!dir) throw new FenixError('NOT_FOUND', 'the dashboard is not built (npm run build writes dist/dashboard/)');
  const css = readFileSync(`${dir}style.css`, 'utf8');
  // The compiled module, without its source-map comment (no map is served).
  const js = readFileSync(`${dir}app.js`, 'utf8').replace(/\n\/\/# sourceMappingURL=.*\s*$/, '\n');
  const html = readFileSync(`${dir}index.html`, 'utf8')
    .replace('<!--STYLE-->', () => `<style>${css}</style>`)
    .replace('<!--SCRIPT-->', () => `<script type="module">${js}</script>`);
  const csp = selfContainedPageCsp(js, css, ["img-src 'self' data:"]);
  cached = { html, csp };
  return cached;
}

function answer(req: FastifyRequest, reply: FastifyReply) {
  reply.header('vary', 'Accept');
  if (!prefersHtml(req)) return VERSIONS;
  const p = page();
  return reply
    .header('content-type', 'text/html; charset=utf-8')
    .header('content-security-policy', p.csp)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('cache-control', 'no-cache')
    .send(p.html);
}

export async function dashboardRoutes(app: FastifyInstance): Promise<void> {
  const open = { config: { access: 'public' as const } };
  app.get('/', open, async (req, reply) => answer(req, reply));
  // The session id is read by the page's script from its own URL: the server does nothing with it.
  app.get('/sessions/:session_id', open, async (req, reply) => answer(req, reply));
}
