// Issue 8: property-based fuzzing of every route (fast-check) over real HTTP, with --auth token.
// For every route in the app's route table: generated bodies (arbitrary JSON, nesting up to 5,000
// levels as raw text, huge strings, __proto__ / constructor keys, wrong types, unicode, not JSON
// at all), query strings and path params (.., %00, bad escapes, very long, raw latin-1, property
// names), each with no token, p1, p2, the admin and `constructor`. The service never answers 5xx,
// a refused request leaves the database byte-for-byte unchanged, and afterwards the process still
// serves with bounded memory. Raw sockets: CONNECT, a 100 KB URL, slow clients (finding 8).
//
// FENIX_FUZZ_RUNS sets the runs per route (default 25: a few seconds in `npm test`); .ci/run sets
// a longer one, which (at 200 runs or more) also waits for the service to drop slow clients itself.
// A failure prints fast-check's seed: FENIX_FUZZ_SEED=<seed> replays it.
import { request, Agent } from 'node:http';
import { connect, type Socket } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RouteEntry } from '../../src/api/app.js';
import { waitFor } from '../helpers/harness.js';
import { ADMIN, P1, P2, call, farFuture, startSecured, storeDigest, type SecuredService } from './fixture.js';

const RUNS = Math.max(1, Number(process.env.FENIX_FUZZ_RUNS ?? 25));
const LONG = RUNS >= 200;
/** A failure prints its seed; FENIX_FUZZ_SEED=<seed> replays the same run. */
const SEED = process.env.FENIX_FUZZ_SEED === undefined ? undefined : Number(process.env.FENIX_FUZZ_SEED);
const runs = (numRuns: number) => ({ numRuns, endOnFailure: true, ...(SEED !== undefined && { seed: SEED }) });
/** Resident memory the whole run may add (no --expose-gc here, so garbage counts too). */
const MAX_RSS_GROWTH = 200 * 1024 * 1024;

let sec: SecuredService;
let host: string;
let port: number;
let routes: RouteEntry[];
/** Real ids, so that generated requests also reach handlers with objects behind them. */
let realIds: string[];
// One connection per request: a keep-alive socket the server has just closed would fail the next
// request on the client side ("socket hang up") and hide which request was answered how.
const agent = new Agent({ keepAlive: false });
let rssAtStart = 0;

// ---------- a raw HTTP client: no URL normalisation (`..` reaches the server as sent) ----------

interface Raw {
  status: number;
  text: string;
}

function send(method: string, path: string, token: string | undefined, body: { text: string; type: string } | undefined, timeoutMs = 15_000): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = {};
    if (token !== undefined) headers['x-auth-token'] = token;
    if (body) {
      headers['content-type'] = body.type;
      headers['content-length'] = Buffer.byteLength(body.text);
    }
    const req = request({ host, port, method, path, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer to ${method} ${path.slice(0, 80)} within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body?.text);
  });
}

// ---------- arbitraries ----------

/** UTF-8 percent-encoding of everything but unreserved characters (lone surrogates become U+FFFD). */
const pct = (s: string): string => [...Buffer.from(s, 'utf8')].map((b) => (/[A-Za-z0-9\-._~]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`)).join('');

const PROPERTY_NAMES = [...Object.getOwnPropertyNames(Object.prototype), '__proto__', 'prototype', 'toJSON', 'then', 'length'];
const KNOWN_KEYS = [
  'state', 'instance_action', 'instance_actions', 'instance_ids', 'session_id', 'hosts', 'maintenance_at', 'metadata', 'workflow', 'actions',
  'download', 'reply_window', 'max_parallel_hosts', 'estimates', 'action', 'url', 'event_types', 'project_id', 'format', 'secret', 'instance_id',
  'group_id', 'instance_name', 'max_interruption_time', 'migration_type', 'resource_mitigation', 'lead_time', 'group_name', 'anti_affinity_group',
  'max_instances_per_host', 'max_impacted_members', 'recovery_time', 'name', 'vcpus', 'plugin', 'type', 'role', 'projectId',
];
const PLAUSIBLE_STRINGS = [
  'ACK_MAINTENANCE', 'NACK_MAINTENANCE', 'MAINTENANCE', 'MIGRATE', 'LIVE_MIGRATE', 'EVICTION', 'OWN_ACTION', 'MIGRATION', 'pause', 'resume',
  'abort', 'continue', 'default', 'vnf', 'k8s', 'maintenance.scheduled', 'maintenance.host', 'maintenance.session', 'aodh', 'json', 'admin',
  'p1', 'p2', 'p1-a', 'p2-a', 'c1', 'c6', 'g-p1', 'http://127.0.0.1:9/hook', 'http://169.254.169.254/latest/meta-data/', 'file:///etc/passwd',
  'http://user:pass@127.0.0.1:9/', '2030-01-01T00:00:00Z', 'not-a-date', '', ' ', '\u0000', '\u202e', '\ud800', 'é', '🦄', '../../etc/passwd',
];

const str = fc.oneof(fc.string({ maxLength: 30 }), fc.string({ unit: 'binary', maxLength: 30 }), fc.constantFrom(...PLAUSIBLE_STRINGS));
const scalar = fc.oneof(
  str,
  fc.integer(),
  fc.double(),
  fc.constantFrom(0, -1, 1e308, -1e308, 2 ** 53, 1.5, 31_536_001),
  fc.boolean(),
  fc.constant(null),
);
const key = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...KNOWN_KEYS) }, fc.constantFrom(...PROPERTY_NAMES), fc.string({ unit: 'binary', maxLength: 12 }));
const { value } = fc.letrec((tie) => ({
  value: fc.oneof({ maxDepth: 4, depthSize: 'small' }, scalar, fc.array(tie('value'), { maxLength: 4 }), fc.dictionary(key, tie('value'), { maxKeys: 5 })),
}));

/** Bodies as raw text and a content type. */
const body = fc.oneof(
  // Shaped like the API's bodies, with wrong types and foreign keys mixed in.
  { weight: 6, arbitrary: fc.dictionary(key, value, { maxKeys: 8 }).map((o) => JSON.stringify(o)) },
  { weight: 2, arbitrary: value.map((v) => JSON.stringify(v) ?? 'null') },
  // Deep nesting, balanced or not, arrays or objects.
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.integer({ min: 20, max: 5000 }), fc.constantFrom('[', '{"a":', '{"metadata":', '[{"x":'), fc.boolean())
      .map(([n, open, closed]) => {
        const close = open === '[' ? ']' : open === '[{"x":' ? '}]' : '}';
        return open.repeat(n) + '1' + (closed ? close.repeat(n) : '');
      }),
  },
  // Prototype pollution attempts and JSON edge cases.
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '{"__proto__":{"role":"admin","projectId":"p1"}}',
      '{"constructor":{"prototype":{"role":"admin"}}}',
      '{"project_id":"p2","project_id":"p1"}',
      '{"state":"ACK_MAINTENANCE","__proto__":{"state":"NACK_MAINTENANCE"}}',
      '\ufeff{"state":"ACK_MAINTENANCE"}',
      '{"a":"\\ud800"}',
      '[]', 'null', '0', '"x"', 'true', '{', '}', '{"a":1,}', '\u0000', ' ', '{"a":"' + '\\\\'.repeat(50) + '"}',
    ),
  },
  // Huge: a string field of up to just over the 1 MiB body limit.
  { weight: 1, arbitrary: fc.constantFrom(1_000, 100_000, 1_040_000, 1_100_000).map((n) => JSON.stringify({ state: 'ACK_MAINTENANCE', metadata: { x: 'a'.repeat(n) } })) },
  // Not JSON at all.
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
);
const contentType = fc.oneof(
  { weight: 8, arbitrary: fc.constant('application/json') },
  fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=utf-16', 'multipart/form-data; boundary=x', 'application/json;;;', 'APPLICATION/JSON'),
);
const bodyArb = fc.option(fc.record({ text: body, type: contentType }), { freq: 4, nil: undefined });

const LONG_PARAMS = [256, 5_000, 20_000].map((n) => 'a'.repeat(n));
const param = (): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...realIds).map(pct) },
    { weight: 2, arbitrary: fc.constantFrom(...PROPERTY_NAMES).map(pct) },
    // Sent as is: traversal, NULs, bad escapes, over-long UTF-8, encoded slashes.
    { weight: 2, arbitrary: fc.constantFrom('..', '.', '%2e%2e', '..%2f..%2fmetrics', '..%5c..', '%00', 'a%00b', '%2F', '%', '%ZZ', '%C0%AE', '%ff%fe', '%20', '*', ';', 'a;b=c', '@', '~') },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }).map(pct) },
    // Raw latin-1 bytes in the request line (invalid UTF-8 on the wire).
    { weight: 1, arbitrary: fc.string({ unit: fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 8 }) },
    { weight: 1, arbitrary: fc.constantFrom(...LONG_PARAMS) },
  );
// The session detail's paging parameters too (limit, lists, a cursor per list; cursors are base64url JSON).
const qKey = fc.oneof(
  fc.constantFrom('project_id', 'moves', 'project_id[]', '__proto__', '__proto__[role]', 'constructor[prototype][x]', 'toString'),
  fc.constantFrom('limit', 'lists', 'hosts_after', 'instances_after', 'timeline_after', 'replies_after'),
  fc.string({ maxLength: 8 }),
);
const cursorOf = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
const qVal = fc.oneof(
  fc.constantFrom('p1', 'p2', 'true', 'false', '', '..', '\u0000', 'a'.repeat(3000)),
  fc.constantFrom('0', '1', '1000', '1001', '-1', '1e3', 'hosts,timeline', 'hosts,,x', cursorOf(['hosts', 0]), cursorOf(['timeline', 1e300]), cursorOf(['replies', ['p1', '', 'x', 1, 'd']]), cursorOf(['instances', { a: 1 }])),
  fc.string({ unit: 'binary', maxLength: 20 }),
);
const query = fc.oneof(
  { weight: 3, arbitrary: fc.constant('') },
  { weight: 3, arbitrary: fc.array(fc.tuple(qKey, qVal), { maxLength: 5 }).map((ps) => (ps.length ? '?' + ps.map(([k, v]) => `${pct(k)}=${pct(v)}`).join('&') : '')) },
  { weight: 1, arbitrary: fc.constantFrom('?', '?&&==&', '?a=%ZZ', '?project_id=p1&project_id=p2', '?project_id', '?%00=%00', '?' + 'x=1&'.repeat(2000)) },
);
const tokenArb = fc.constantFrom<string | undefined>(undefined, P1, P2, ADMIN, 'constructor');

// ---------- the property ----------

const PUBLIC_ANSWERS = new Set<string>();
/** Paths the app's public routes match (a trailing slash allowed), all of them and those with params. */
let PUBLIC_PATHS: RegExp[] = [];
let PUBLIC_PARAM_PATHS: RegExp[] = [];
const pathPattern = (url: string): RegExp =>
  new RegExp(`^${url.replace(/\/+$/, '').split(/:[A-Za-z_]+/).map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[^/]+')}/?$`);
/** The store's digest as the last request left it. */
let digest = '';
const failures: string[] = [];

/** One generated request against one route, with the invariants checked. */
async function probe(method: string, path: string, token: string | undefined, b: { text: string; type: string } | undefined): Promise<void> {
  const before = digest;
  const r = await send(method, path, token, b);
  const what = `${method} ${path.slice(0, 120)}${path.length > 120 ? '…' : ''} token=${token?.slice(0, 8) ?? '-'} body=${b ? `${b.type} ${b.text.slice(0, 80)}${b.text.length > 80 ? `… (${b.text.length} chars)` : ''}` : '-'} → ${r.status} ${r.text.slice(0, 200)}`;
  expect(r.status, what).toBeGreaterThanOrEqual(200);
  expect(r.status, what).toBeLessThan(500);
  // Nothing else writes the store here (no engine loop), so one digest per request tells both
  // "unchanged after a refusal" and the starting point of the next request.
  digest = await storeDigest(sec.svc);
  if (r.status >= 400) {
    expect(digest, `refused, yet the store changed: ${what}`).toBe(before);
    // Every refusal, whoever makes it (Node's parser, the router, a hook, a service), has the API's shape.
    if (method !== 'HEAD') expect(typeof errorOf(r.text)?.code, `not the API's error shape: ${what}`).toBe('string');
  }
  // A caller without a valid token gets nothing but the public documents: the answer of a public
  // route without params as it was read at the start, or a path a public route with params matches.
  if ((token === undefined || token === 'constructor') && r.status < 400) {
    const bare = path.split('?')[0]!;
    const publicPath = PUBLIC_PATHS.some((re) => re.test(bare));
    expect(method === 'HEAD' ? publicPath : PUBLIC_ANSWERS.has(r.text) || (publicPath && PUBLIC_PARAM_PATHS.some((re) => re.test(bare))), `a stranger got an answer: ${what}`).toBe(
      true,
    );
  }
}

function errorOf(text: string): { code?: unknown } | undefined {
  try {
    return (JSON.parse(text) as { error?: { code?: unknown } }).error;
  } catch {
    return undefined;
  }
}

function fill(url: string, params: string[]): string {
  let i = 0;
  return url.replace(/:[A-Za-z_]+/g, () => params[i++] ?? 'x');
}

beforeAll(async () => {
  // manual: no engine or relay loops, so between requests nothing but the requests writes the store.
  sec = await startSecured({ manual: true });
  const u = new URL(sec.svc.url);
  host = u.hostname;
  port = Number(u.port);
  routes = sec.svc.app!.routeTable();
  const base = sec.svc.url;
  const sid = (await call(base, 'POST', '/v1/maintenance', { hosts: ['c1', 'c2', 'c3'], maintenance_at: farFuture() }, ADMIN)).json.session_id as string;
  // Let the engine discover the projects (ticked by hand), so that project routes have a session to act on.
  await waitFor(async () => {
    await sec.svc.engine.runOnce();
    return (await call(base, 'GET', `/v1/maintenance/${sid}/detail`, undefined, ADMIN)).json?.projects?.length === 2;
  }, 'projects discovered');
  const sub = (await call(base, 'POST', '/v1/subscriptions', { project_id: 'p1', url: 'http://127.0.0.1:9/h', event_types: ['maintenance.scheduled'] }, P1)).json.subscription_id as string;
  await call(base, 'PUT', '/v1/instance_group/g-p1', {}, P1);
  await call(base, 'PUT', '/v1/instance/p1-a', { group_id: 'g-p1' }, P1);
  realIds = [sid, sub, 'p1', 'p2', 'p1-a', 'p1-b', 'p2-a', 'g-p1', 'c1'];
  const publicRoutes = routes.filter((r) => r.access === 'public');
  PUBLIC_PATHS = publicRoutes.map((r) => pathPattern(r.url));
  PUBLIC_PARAM_PATHS = publicRoutes.filter((r) => r.url.includes(':')).map((r) => pathPattern(r.url));
  for (const r of publicRoutes) if (r.method === 'GET' && !r.url.includes(':')) PUBLIC_ANSWERS.add((await send('GET', r.url, undefined, undefined)).text);
  rssAtStart = process.memoryUsage().rss;
  digest = await storeDigest(sec.svc);
});

afterAll(async () => {
  agent.destroy();
  await sec?.stop();
});

describe(`fuzzing every route (${RUNS} runs each)`, () => {
  it('covers every route of the app, and the digest sees a write and a delete', async () => {
    expect(routes.length).toBeGreaterThan(20);
    const d0 = await storeDigest(sec.svc);
    expect((await send('PUT', '/v1/instance/p1-b', P1, { text: '{"lead_time":5}', type: 'application/json' })).status).toBe(200);
    const d1 = await storeDigest(sec.svc);
    expect(d1).not.toBe(d0);
    expect((await send('DELETE', '/v1/instance/p1-b', P1, undefined)).status).toBe(200);
    digest = await storeDigest(sec.svc);
    expect(digest).not.toBe(d1);
  });

  it('bodies, queries and path params: never a 5xx, a refused request changes nothing', async () => {
    for (const route of routes) {
      const names = route.url.match(/:[A-Za-z_]+/g) ?? [];
      await fc.assert(
        fc.asyncProperty(tokenArb, fc.tuple(...names.map(() => param())), query, bodyArb, async (token, params, q, b) => {
          await probe(route.method, fill(route.url, params as string[]) + q, token, b);
        }),
        runs(RUNS),
      ).catch((e: Error) => failures.push(`${route.method} ${route.url}: ${String((e.cause as Error | undefined)?.message ?? "").slice(0, 1500)}\n${e.message.slice(0, 1500)}`));
    }
    expect(failures, failures.join('\n\n')).toEqual([]);
  }, Math.max(60_000, RUNS * 2_000));

  it('any method on any path', async () => {
    const methods = fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'PROPFIND', 'SEARCH', 'M-SEARCH');
    const path = fc.oneof(
      fc.constantFrom(...routes.map((r) => r.url)).chain((u) => fc.tuple(...(u.match(/:[A-Za-z_]+/g) ?? []).map(() => param())).map((ps) => fill(u, ps as string[]))),
      fc.array(param(), { minLength: 1, maxLength: 6 }).map((segs) => '/' + segs.join('/')),
      fc.constantFrom('/v1/../metrics', '//v1//maintenance', '/v1/maintenance/../../healthz', '/V1/MAINTENANCE', '/v1/maintenance%2f..%2fmetrics', '/%2e%2e/metrics'),
    );
    await fc.assert(
      fc.asyncProperty(methods, path, query, tokenArb, bodyArb, async (m, p, q, t, b) => probe(m, p + q, t, m === 'HEAD' || m === 'TRACE' ? undefined : b)),
      runs(RUNS * 4),
    );
  }, Math.max(60_000, RUNS * 400));

  it('afterwards the service is alive and its memory bounded', async () => {
    const t0 = Date.now();
    expect((await send('GET', '/healthz', undefined, undefined)).status).toBe(200);
    expect((await send('GET', '/v1/maintenance', ADMIN, undefined)).status).toBe(200);
    expect(Date.now() - t0).toBeLessThan(2_000);
    const grown = process.memoryUsage().rss - rssAtStart;
    expect(grown, `RSS grew by ${Math.round(grown / 1048576)} MB`).toBeLessThan(MAX_RSS_GROWTH);
  });
});

// ---------- raw sockets (finding 8): odd methods, huge request lines, slow clients ----------

interface RawOutcome {
  /** What the server wrote before closing (or before we gave up). */
  got: string;
  closed: boolean;
  ms: number;
}

/** Write `text`, then wait until the server answers and closes, or `limitMs` passes. */
function rawExchange(text: string | Buffer, limitMs: number): Promise<RawOutcome> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const sock = connect(port, host);
    let got = '';
    const done = (closed: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ got, closed, ms: Date.now() - t0 });
    };
    const timer = setTimeout(() => done(false), limitMs);
    sock.on('data', (d) => {
      got += d.toString('latin1');
    });
    sock.on('close', () => done(true));
    sock.on('error', () => done(true));
    sock.write(text);
  });
}

/** A normal request still answers promptly. */
async function stillServes(): Promise<void> {
  const t0 = Date.now();
  const r = await send('GET', '/v1/maintenance', ADMIN, undefined, 5_000);
  expect(r.status).toBe(200);
  expect(Date.now() - t0).toBeLessThan(2_000);
}

describe('raw sockets', () => {
  it('CONNECT is answered 405 and closed at once; a reset after it harms nothing', async () => {
    const r = await rawExchange('CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n', 5_000);
    expect(r.closed, JSON.stringify(r)).toBe(true);
    expect(r.got).toMatch(/^HTTP\/1\.1 405 /);
    expect(errorOf(r.got.slice(r.got.indexOf('\r\n\r\n') + 4))?.code).toBe('BAD_REQUEST');
    // Node hands a CONNECT socket over without its error listener: a reset must not crash the process.
    const s = connect(port, host);
    s.on('error', () => {});
    s.write('CONNECT a:1 HTTP/1.1\r\nHost: a:1\r\n\r\n', () => s.resetAndDestroy());
    await new Promise((r) => setTimeout(r, 200));
    await stillServes();
  });

  it('an Upgrade request is served as a plain request', async () => {
    const r = await rawExchange(`GET /v1/maintenance HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n`, 500);
    expect(r.got).toMatch(/^HTTP\/1\.1 401 /);
  });

  it("a 100 KB URL, a 100 KB header, garbage and TLS get a 4xx in the API's shape and a close at once", async () => {
    for (const text of [
      `GET /${'a'.repeat(100_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
      `GET /v1/maintenance HTTP/1.1\r\nHost: x\r\nX-Auth-Token: ${'t'.repeat(100_000)}\r\n\r\n`,
      'GARBAGE\r\n\r\n',
      'GET / HTTP/9.9\r\n\r\n',
      Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00]), // a TLS ClientHello on the plain port
    ]) {
      const r = await rawExchange(text, 5_000);
      expect(r.closed, `not closed: ${r.got.slice(0, 100)}`).toBe(true);
      expect(r.got, r.got.slice(0, 200)).toMatch(/^HTTP\/1\.1 4\d\d /);
      expect(errorOf(r.got.slice(r.got.indexOf('\r\n\r\n') + 4))?.code, r.got.slice(0, 300)).toBe('BAD_REQUEST');
    }
    await stillServes();
  });

  it('slow clients (headers or body trickled) do not stop others from being served, and are bounded in time', async () => {
    const socks: Socket[] = [];
    const closedAt: (number | null)[] = [];
    const t0 = Date.now();
    const open = (first: string, drip: string) => {
      const i = socks.length;
      const s = connect(port, host);
      closedAt.push(null);
      s.on('error', () => {});
      s.on('close', () => (closedAt[i] = Date.now() - t0));
      s.write(first);
      socks.push(s);
      return setInterval(() => s.writable && s.write(drip), 1_000);
    };
    const timers: NodeJS.Timeout[] = [];
    for (let i = 0; i < 40; i++) timers.push(open('GET /v1/maintenance HTTP/1.1\r\nHost: x\r\n', 'X-Slow: 1\r\n'));
    for (let i = 0; i < 40; i++)
      timers.push(open(`PUT /v1/instance/p1-a HTTP/1.1\r\nHost: x\r\nX-Auth-Token: ${P1}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"a":"`, 'a'));
    try {
      for (let i = 0; i < 10; i++) await stillServes();
      // Node drops a request whose headers or whole body take longer than these (checked every 30 s).
      const server = sec.svc.app!.server;
      expect(server.headersTimeout).toBeGreaterThan(0);
      expect(server.headersTimeout).toBeLessThanOrEqual(60_000);
      expect(server.requestTimeout, 'requestTimeout 0 lets a slow body hold its connection forever').toBeGreaterThan(0);
      expect(server.requestTimeout).toBeLessThanOrEqual(60_000);
      if (LONG) {
        // The long run waits for it: every slow connection is closed by the service itself.
        const limit = Math.max(server.headersTimeout, server.requestTimeout) + 30_000 + 10_000;
        await waitFor(() => closedAt.every((c) => c !== null), 'the service closing every slow connection', limit);
        await stillServes();
      }
    } finally {
      for (const t of timers) clearInterval(t);
      for (const s of socks) s.destroy();
    }
  }, 180_000);
});
