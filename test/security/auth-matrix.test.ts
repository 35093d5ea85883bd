// Issue 8: the auth matrix, generated from the running app's route table. Every registered route
// is called, over real HTTP with --auth token, by every kind of caller: no token, wrong tokens,
// tokens named like Object.prototype's properties, another project, the owner, an admin. A route
// registered without an entry in MATRIX fails the first test: add its entry when you add a route.
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Access } from '../../src/api/access.js';
import type { RouteEntry } from '../../src/api/app.js';
import { waitFor } from '../helpers/harness.js';
import { ADMIN, P1, P2, PROTO_TOKENS, WRONG, call, farFuture, startSecured, storeDigest, type Answer, type SecuredService } from './fixture.js';

/** Resources of p1 (and sessions) made before the matrix runs, named so each route hits a real one. */
interface Fixtures {
  /** Session over c1-c3 in MAINTENANCE: p1 and p2 are in it. */
  sid: string;
  /** Sessions of their own for PUT (pause) and DELETE. */
  sidPut: string;
  sidDel: string;
  /** p1's subscriptions: one to read, one to delete. */
  subKeep: string;
  subDel: string;
}

interface Case {
  access: Access;
  /** The request as its owner (p1 on project routes, the admin on admin routes) would make it. */
  req: (f: Fixtures) => { path: string; body?: unknown };
  /** What the owner may get: success, or a 4xx the route documents for this state (never 401/403). */
  owner: number[];
  /** A listing of the caller's own objects: another project gets 200, with none of p1's data. */
  lists?: true;
}

const hook = 'http://127.0.0.1:9/hook';

/**
 * Keyed `METHOD url` exactly as registered. Params are filled with p1's objects; bodies are valid,
 * so the owner reaches the handler and everything else is the guards' doing.
 */
const MATRIX: Record<string, Case> = {
  'GET /healthz': { access: 'public', req: () => ({ path: '/healthz' }), owner: [200] },
  'GET /': { access: 'public', req: () => ({ path: '/' }), owner: [200] },
  // The dashboard's page (HTML for a browser, the version document for API clients) and its live views.
  'GET /sessions/:session_id': { access: 'public', req: (f) => ({ path: `/sessions/${f.sid}` }), owner: [200] },
  'GET /v1/events': { access: 'project', req: () => ({ path: '/v1/events' }), owner: [200], lists: true },
  // p2 takes part in this session too: it gets its own part (no p1 names), as a listing does.
  'GET /v1/maintenance/:session_id/events': { access: 'project', req: (f) => ({ path: `/v1/maintenance/${f.sid}/events` }), owner: [200], lists: true },
  'GET /metrics': { access: 'admin', req: () => ({ path: '/metrics' }), owner: [200] },
  // The API's shape, no data (checked below): public, like docs/api.md.
  'GET /v1/openapi.json': { access: 'public', req: () => ({ path: '/v1/openapi.json' }), owner: [200] },
  'GET /v1/docs': { access: 'public', req: () => ({ path: '/v1/docs' }), owner: [200] },

  'POST /v1/maintenance': { access: 'admin', req: () => ({ path: '/v1/maintenance', body: { hosts: ['c6'], maintenance_at: farFuture() } }), owner: [200] },
  'GET /v1/maintenance': { access: 'admin', req: () => ({ path: '/v1/maintenance' }), owner: [200] },
  'GET /v1/maintenance/:session_id': { access: 'admin', req: (f) => ({ path: `/v1/maintenance/${f.sid}` }), owner: [200] },
  'GET /v1/maintenance/:session_id/detail': { access: 'admin', req: (f) => ({ path: `/v1/maintenance/${f.sid}/detail` }), owner: [200] },
  'PUT /v1/maintenance/:session_id': { access: 'admin', req: (f) => ({ path: `/v1/maintenance/${f.sidPut}`, body: { action: 'pause' } }), owner: [200] },
  'DELETE /v1/maintenance/:session_id': { access: 'admin', req: (f) => ({ path: `/v1/maintenance/${f.sidDel}` }), owner: [200] },
  'POST /v1/maintenance/plan': { access: 'admin', req: () => ({ path: '/v1/maintenance/plan', body: { hosts: ['c1', 'c2', 'c3'], workflow: 'vnf' } }), owner: [200] },
  // The default workflow has no plan: 404 NOT_FOUND is this route's documented answer for it.
  'GET /v1/maintenance/:session_id/plan': { access: 'admin', req: (f) => ({ path: `/v1/maintenance/${f.sid}/plan` }), owner: [200, 404] },

  'GET /v1/plugins': { access: 'admin', req: () => ({ path: '/v1/plugins' }), owner: [200] },

  'GET /v1/maintenance/:session_id/:project_id': { access: 'project', req: (f) => ({ path: `/v1/maintenance/${f.sid}/p1` }), owner: [200] },
  'PUT /v1/maintenance/:session_id/:project_id': {
    access: 'project',
    req: (f) => ({ path: `/v1/maintenance/${f.sid}/p1`, body: { state: 'ACK_MAINTENANCE' } }),
    owner: [200],
  },
  'PUT /v1/maintenance/:session_id/:project_id/:instance_id': {
    access: 'project',
    req: (f) => ({ path: `/v1/maintenance/${f.sid}/p1/p1-a`, body: { state: 'ACK_MAINTENANCE', instance_action: 'MIGRATE' } }),
    owner: [200],
  },

  'POST /v1/subscriptions': {
    access: 'project',
    req: () => ({ path: '/v1/subscriptions', body: { project_id: 'p1', url: `${hook}/new`, event_types: ['maintenance.scheduled'] } }),
    owner: [201],
  },
  'GET /v1/subscriptions': { access: 'project', req: () => ({ path: '/v1/subscriptions' }), owner: [200], lists: true },
  'DELETE /v1/subscriptions/:subscription_id': { access: 'project', req: (f) => ({ path: `/v1/subscriptions/${f.subDel}` }), owner: [204] },

  'GET /v1/instance': { access: 'project', req: () => ({ path: '/v1/instance' }), owner: [200], lists: true },
  'GET /v1/instance/:instance_id': { access: 'project', req: () => ({ path: '/v1/instance/p1-a' }), owner: [200] },
  'PUT /v1/instance/:instance_id': { access: 'project', req: () => ({ path: '/v1/instance/p1-a', body: { max_interruption_time: 60 } }), owner: [200] },
  'DELETE /v1/instance/:instance_id': { access: 'project', req: () => ({ path: '/v1/instance/p1-victim' }), owner: [200] },

  'GET /v1/instance_group': { access: 'project', req: () => ({ path: '/v1/instance_group' }), owner: [200], lists: true },
  'GET /v1/instance_group/:group_id': { access: 'project', req: () => ({ path: '/v1/instance_group/g-p1' }), owner: [200] },
  'PUT /v1/instance_group/:group_id': { access: 'project', req: () => ({ path: '/v1/instance_group/g-p1', body: { max_impacted_members: 1 } }), owner: [200] },
  'DELETE /v1/instance_group/:group_id': { access: 'project', req: () => ({ path: '/v1/instance_group/g-p1-victim' }), owner: [200] },

  'GET /v1/simulator/hosts': { access: 'admin', req: () => ({ path: '/v1/simulator/hosts' }), owner: [200] },
  'GET /v1/simulator/instances': { access: 'project', req: () => ({ path: '/v1/simulator/instances' }), owner: [200], lists: true },
  'POST /v1/simulator/instances': {
    access: 'project',
    req: () => ({ path: '/v1/simulator/instances', body: { name: 'p1-new', project_id: 'p1', vcpus: 1 } }),
    owner: [201],
  },
  'DELETE /v1/simulator/instances/:id': { access: 'project', req: () => ({ path: '/v1/simulator/instances/p1-gone' }), owner: [204] },
};


/** Tokens that must all be strangers: near misses, an over-long one, an empty header. */
const WRONG_TOKENS = [WRONG, `${P1}x`, P1.slice(0, -1), ADMIN.toUpperCase(), 'x'.repeat(5000), ''];

const keyOf = (r: Pick<RouteEntry, 'method' | 'url'>) => `${r.method} ${r.url}`;

let sec: SecuredService;
let base: string;
let metricsPort: number;
const f = {} as Fixtures;
/** Every identifier of p1's: none may show up in an answer to p2 unless p2's own request named it. */
let p1Ids: string[];

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function ok(a: Promise<Answer>, status: number): Promise<Answer> {
  const r = await a;
  expect(r.status, r.text).toBe(status);
  return r;
}

beforeAll(async () => {
  metricsPort = await freePort();
  sec = await startSecured({ config: { metricsPort } });
  base = sec.svc.url;
  const session = async (hosts: string[]) => (await ok(call(base, 'POST', '/v1/maintenance', { hosts, maintenance_at: farFuture() }, ADMIN), 200)).json.session_id as string;
  f.sid = await session(['c1', 'c2', 'c3']);
  f.sidPut = await session(['c4']);
  f.sidDel = await session(['c5']);
  await waitFor(async () => (await call(base, 'GET', `/v1/maintenance/${f.sid}/detail`, undefined, ADMIN)).json?.projects?.length === 2, 'projects discovered');
  const sub = async () =>
    (await ok(call(base, 'POST', '/v1/subscriptions', { project_id: 'p1', url: hook, event_types: ['maintenance.scheduled'] }, P1), 201)).json.subscription_id as string;
  f.subKeep = await sub();
  f.subDel = await sub();
  await ok(call(base, 'PUT', '/v1/instance_group/g-p1', { anti_affinity_group: true }, P1), 200);
  await ok(call(base, 'PUT', '/v1/instance_group/g-p1-victim', {}, P1), 200);
  await ok(call(base, 'PUT', '/v1/instance/p1-a', { group_id: 'g-p1' }, P1), 200);
  await ok(call(base, 'PUT', '/v1/instance/p1-victim', {}, P1), 200);
  // p2 owns things too, so that a listing by p2 is not trivially empty.
  await ok(call(base, 'PUT', '/v1/instance/p2-a', {}, P2), 200);
  await ok(call(base, 'PUT', '/v1/instance_group/g-p2', {}, P2), 200);
  await ok(call(base, 'POST', '/v1/subscriptions', { project_id: 'p2', url: `${hook}/p2`, event_types: ['maintenance.scheduled'] }, P2), 201);
  p1Ids = ['p1', ...['a', 'b', 'c', 'd', 'victim', 'gone', 'new'].map((s) => `p1-${s}`), 'g-p1', 'g-p1-victim', f.subKeep, f.subDel];
});

afterAll(async () => {
  await sec?.stop();
});

/** p1's identifiers in `answer` that `asked` did not contain (whole words: `g-p1` does not contain `p1`). */
function leaked(answer: string, asked: string): string[] {
  const word = (id: string) => new RegExp(`(?<![\\w-])${id.replace(/[-]/g, '\\-')}(?![\\w-])`);
  return p1Ids.filter((id) => word(id).test(answer) && !word(id).test(asked));
}

describe('the route table', () => {
  it('every registered route has an entry in MATRIX, with the access it declares', () => {
    const routes = sec.svc.app!.routeTable();
    expect(routes.length).toBeGreaterThan(20);
    const missing = routes.filter((r) => !MATRIX[keyOf(r)]).map(keyOf);
    expect(missing, `routes without an entry in MATRIX (test/security/auth-matrix.test.ts): add one for each, with its access and how to call it as its owner`).toEqual([]);
    const wrongAccess = routes.filter((r) => MATRIX[keyOf(r)]!.access !== r.access).map((r) => `${keyOf(r)} declares ${r.access}, MATRIX says ${MATRIX[keyOf(r)]!.access}`);
    expect(wrongAccess, 'a route changed its access: check that this is intended, then update MATRIX').toEqual([]);
    const stale = Object.keys(MATRIX).filter((k) => !routes.some((r) => keyOf(r) === k));
    expect(stale, 'MATRIX entries for routes the app no longer has').toEqual([]);
  });

  it('an unknown path needs a valid token before it says 404', async () => {
    for (const tok of [undefined, WRONG, ...PROTO_TOKENS]) expect((await call(base, 'GET', '/v1/no-such-route', undefined, tok)).status).toBe(401);
    expect((await call(base, 'GET', '/v1/no-such-route', undefined, P1)).status).toBe(404);
  });
});

describe('every route × every caller', () => {
  for (const [key, c] of Object.entries(MATRIX)) {
    it(key, async () => {
      const method = key.slice(0, key.indexOf(' '));
      const { path, body } = c.req(f);
      const asked = `${path} ${JSON.stringify(body ?? null)}`;
      const fail = (who: string, r: Answer) => `${key} as ${who} → ${r.status} ${r.text.slice(0, 300)}`;
      const strangers: [string, string | undefined][] = [['no token', undefined], ...WRONG_TOKENS.map((t): [string, string] => [`wrong token ${t.slice(0, 12)}`, t]), ...PROTO_TOKENS.map((t): [string, string] => [`token ${t}`, t])];

      for (const [who, tok] of strangers) {
        const r = await call(base, method, path, body, tok);
        if (c.access === 'public') expect(r.status, fail(who, r)).toBeLessThan(300);
        else {
          expect(r.status, fail(who, r)).toBe(401);
          expect(r.json?.error?.code, fail(who, r)).toBe('UNAUTHENTICATED');
        }
      }

      // Other callers: both projects on admin routes, p2 on p1's objects.
      const others: [string, string][] = c.access === 'admin' ? [['p1', P1], ['p2', P2]] : c.access === 'project' ? [['p2', P2]] : [];
      for (const [who, tok] of others) {
        const before = await storeDigest(sec.svc);
        const r = await call(base, method, path, body, tok);
        if (c.access === 'admin') expect(r.status, fail(who, r)).toBe(403);
        else if (c.lists) expect(r.status, fail(who, r)).toBe(200);
        else expect([403, 404], fail(who, r)).toContain(r.status);
        if (c.access === 'project') expect(leaked(r.text, asked), fail(who, r)).toEqual([]);
        if (r.status >= 400) expect(await storeDigest(sec.svc), `${key} as ${who}: refused, yet the store changed`).toBe(before);
      }

      const owner = await call(base, method, path, body, c.access === 'admin' ? ADMIN : P1);
      expect(c.owner, fail('owner', owner)).toContain(owner.status);

      if (c.access === 'project') {
        const r = await call(base, method, path, body, ADMIN);
        expect(r.status, fail('admin', r)).toBeLessThan(500);
        expect([401, 403], fail('admin', r)).not.toContain(r.status);
      }
    });
  }
});

describe('/v1/openapi.json and /v1/docs', () => {
  it('are public and hold no data: no session, project, instance or subscription of the running service', async () => {
    for (const path of ['/v1/openapi.json', '/v1/docs']) {
      const r = await call(base, 'GET', path);
      expect(r.status, path).toBe(200);
      expect(leaked(r.text, ''), path).toEqual([]);
      for (const sid of [f.sid, f.sidPut, f.sidDel]) expect(r.text, path).not.toContain(sid);
      for (const token of [ADMIN, P1, P2]) expect(r.text, path).not.toContain(token);
    }
  });
});

describe('/metrics', () => {
  it('needs an admin token on the API port', async () => {
    expect((await call(base, 'GET', '/metrics')).status).toBe(401);
    expect((await call(base, 'GET', '/metrics', undefined, P1)).status).toBe(403);
    const r = await call(base, 'GET', '/metrics', undefined, ADMIN);
    expect(r.status).toBe(200);
    expect(r.text).toContain('fenix_sessions');
  });

  it('--metrics-port serves it without a token, and nothing else', async () => {
    const m = `http://127.0.0.1:${metricsPort}`;
    const r = await call(m, 'GET', '/metrics');
    expect(r.status).toBe(200);
    expect(r.text).toContain('fenix_sessions');
    expect((await call(m, 'GET', '/v1/maintenance')).status).toBe(404);
    expect((await call(m, 'GET', '/v1/simulator/instances', undefined, ADMIN)).status).toBe(404);
  });
});

// ---- the findings, each as a named regression (a fresh service: the matrix above changed its own) ----

describe('regressions of issue 8', () => {
  let reg: SecuredService;
  let url: string;
  beforeAll(async () => {
    reg = await startSecured();
    url = reg.svc.url;
  });
  afterAll(async () => {
    await reg?.stop();
  });

  /** The vnf dry-run plan over c1-c3, without what depends on the clock. */
  async function dryRun(): Promise<{ batches: unknown; order: unknown; group_s: unknown; moves: { instance_id: string; action: string; batch: number }[] }> {
    const r = await ok(call(url, 'POST', '/v1/maintenance/plan', { hosts: ['c1', 'c2', 'c3'], workflow: 'vnf' }, ADMIN), 200);
    const b = r.json;
    return {
      batches: b.batches.map((x: { hosts: string[]; wait_for: string[] }) => ({ hosts: x.hosts, wait_for: x.wait_for })),
      order: b.order,
      group_s: b.lower_bound.group_s,
      moves: b.moves.map((m: { instance_id: string; action: string; batch: number }) => ({ instance_id: m.instance_id, action: m.action, batch: m.batch })),
    };
  }

  it('finding 1: X-Auth-Token: constructor is a stranger everywhere', async () => {
    const before = await storeDigest(reg.svc);
    for (const [method, path, body] of [
      ['GET', '/v1/simulator/instances', undefined],
      ['GET', '/v1/subscriptions', undefined],
      ['GET', '/v1/instance', undefined],
      ['DELETE', '/v1/simulator/instances/p2-a', undefined],
      ['PUT', '/v1/instance/x', {}],
    ] as const) {
      const r = await call(url, method, path, body, 'constructor');
      expect(r.status, `${method} ${path}: ${r.text}`).toBe(401);
      expect(r.json.error.code).toBe('UNAUTHENTICATED');
    }
    expect(await storeDigest(reg.svc)).toBe(before);
    const all = await ok(call(url, 'GET', '/v1/simulator/instances', undefined, ADMIN), 200);
    expect(all.json.instances.map((i: { id: string }) => i.id)).toContain('p2-a');
  });

  it('finding 2: p2 cannot put constraints on p1\'s instance; p1 then can', async () => {
    const before = await storeDigest(reg.svc);
    const squat = await call(url, 'PUT', '/v1/instance/p1-b', { migration_type: 'EVICTION', max_interruption_time: 0 }, P2);
    expect(squat.status, squat.text).toBe(404);
    expect(squat.json.error.code).toBe('INSTANCE_NOT_FOUND');
    // Naming p1 in the body does not help either.
    expect((await call(url, 'PUT', '/v1/instance/p1-b', { project_id: 'p1', migration_type: 'EVICTION' }, P2)).status).toBe(403);
    expect(await storeDigest(reg.svc)).toBe(before);
    expect((await call(url, 'GET', '/v1/instance/p1-b', undefined, ADMIN)).status).toBe(404);
    const mine = await ok(call(url, 'PUT', '/v1/instance/p1-b', { max_interruption_time: 30 }, P1), 200);
    expect(mine.json).toMatchObject({ instance_id: 'p1-b', project_id: 'p1', max_interruption_time: 30 });
    await ok(call(url, 'DELETE', '/v1/instance/p1-b', undefined, P1), 200);
  });

  it('finding 2: a squatted row already in the store is ignored by the planner and replaced by the owner\'s PUT', async () => {
    const clean = await dryRun();
    expect(clean.moves.filter((m) => m.instance_id === 'p1-b').map((m) => m.action)).toContain('LIVE_MIGRATE');
    // What a squatter could write before ownership was checked: p1's instance, p2's row, EVICTION.
    const t = Date.now();
    await reg.svc.store.putInstanceConstraint({
      instanceId: 'p1-b',
      projectId: 'p2',
      groupId: null,
      instanceName: null,
      maxInterruptionTime: 0,
      migrationType: 'EVICTION',
      resourceMitigation: null,
      leadTime: null,
      createdAt: t,
      updatedAt: t,
    });
    expect(await dryRun(), 'a foreign row changed the plan').toEqual(clean);
    // The same constraint by its owner does change it: the row above was ignored, not lost in the noise.
    await ok(call(url, 'PUT', '/v1/instance/p1-c', { migration_type: 'EVICTION', max_interruption_time: 0 }, P1), 200);
    expect((await dryRun()).moves.filter((m) => m.instance_id === 'p1-c').map((m) => m.action)).toContain('EVICTION');
    await ok(call(url, 'DELETE', '/v1/instance/p1-c', undefined, P1), 200);

    const put = await ok(call(url, 'PUT', '/v1/instance/p1-b', { max_interruption_time: 120 }, P1), 200);
    expect(put.json).toMatchObject({ instance_id: 'p1-b', project_id: 'p1', migration_type: null, max_interruption_time: 120 });
    const row = await reg.svc.store.getInstanceConstraint('p1-b');
    expect(row).toMatchObject({ projectId: 'p1', migrationType: null });
    await ok(call(url, 'DELETE', '/v1/instance/p1-b', undefined, P1), 200);
  });

  it('finding 2: a group joined by p2 before p1 created it counts only p1\'s members', async () => {
    // p2-b (on c3) claims membership of g-p1 while it does not exist yet: accepted, nothing to check against.
    await ok(call(url, 'PUT', '/v1/instance/p2-b', { group_id: 'g-p1' }, P2), 200);
    await ok(call(url, 'PUT', '/v1/instance_group/g-p1', { max_impacted_members: 1, anti_affinity_group: true }, P1), 200);
    // Once the group is p1's, p2 can no longer join it.
    expect((await call(url, 'PUT', '/v1/instance/p2-a', { group_id: 'g-p1' }, P2)).status).toBe(403);
    await ok(call(url, 'PUT', '/v1/instance/p1-a', { group_id: 'g-p1' }, P1), 200);
    await ok(call(url, 'PUT', '/v1/instance/p1-b', { group_id: 'g-p1' }, P1), 200);
    const withRace = await dryRun();
    // The same plan as if p2-b had never joined …
    await ok(call(url, 'DELETE', '/v1/instance/p2-b', undefined, P2), 200);
    const without = await dryRun();
    expect(withRace).toEqual(without);
    // … and different from one where a member of p1's on the same host (c3) really joins.
    await ok(call(url, 'PUT', '/v1/instance/p1-d', { group_id: 'g-p1' }, P1), 200);
    expect(await dryRun()).not.toEqual(without);
  });
});
