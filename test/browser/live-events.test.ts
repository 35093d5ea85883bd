// The dashboard's live views over HTTP (src/api/routes/events.ts), without a browser: a JSON
// snapshot for plain clients; for `Accept: text/event-stream` a snapshot then patches that, applied
// in order, follow the session to its end; one watch per session whatever the number of viewers,
// gone with the last one; a project token sees only its part; a deleted session says `gone`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Service } from '../../src/main/service.js';
import { ADMIN, P1, P2, call, farFuture, startSecured, type SecuredService } from '../security/fixture.js';
import pg from 'pg';
import { startSimulatorServer } from '../../src/main/simulator.js';
import { MAX_STREAMS } from '../../src/api/routes/events.js';
import { startTestService, waitFor } from '../helpers/harness.js';
import { requirePostgres, TEST_PG_URL } from '../helpers/pg.js';
import { freePort, startFenix } from '../helpers/process.js';

type Row = { key: string } & Record<string, any>;

/** A live view as the page keeps it: the head and keyed lists, from a snapshot and the patches after it. */
class Model {
  head: Record<string, any> = {};
  lists = new Map<string, Map<string, Row>>();
  events: string[] = [];
  apply(event: string, data: any): void {
    this.events.push(event);
    if (event === 'snapshot') {
      const { lists, ...head } = data;
      this.head = head;
      this.lists = new Map(Object.entries(lists as Record<string, Row[]>).map(([n, rows]) => [n, new Map(rows.map((r) => [r.key, r]))]));
    } else if (event === 'patch') {
      if (data.head) this.head = data.head;
      for (const [n, d] of Object.entries(data.lists as Record<string, { upsert: Row[]; remove: string[] }>)) {
        const m = this.lists.get(n) ?? new Map();
        for (const k of d.remove) m.delete(k);
        for (const r of d.upsert) m.set(r.key, r);
        this.lists.set(n, m);
      }
    }
  }
  rows(n: string): Row[] {
    return [...(this.lists.get(n)?.values() ?? [])];
  }
}

/** Read an SSE stream into a Model until stopped (or the server ends it). */
function follow(url: string, token?: string) {
  const model = new Model();
  const ctrl = new AbortController();
  let status = 0;
  let ended = false;
  const done = (async () => {
    const res = await fetch(url, { headers: { accept: 'text/event-stream', ...(token && { 'x-auth-token': token }) }, signal: ctrl.signal });
    status = res.status;
    if (!res.ok || !res.body) return;
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    for (;;) {
      const { value, done: end } = await reader.read();
      if (end) break;
      buf += value;
      for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event && data) model.apply(event, JSON.parse(data));
      }
    }
  })()
    .catch(() => {})
    .finally(() => (ended = true));
  return {
    model,
    status: () => status,
    ended: () => ended,
    async stop() {
      ctrl.abort();
      await done;
    },
  };
}

describe('live views (no auth)', () => {
  let svc: Service;
  beforeAll(async () => {
    svc = await startTestService({
      scenario: {
        hosts: ['h1', 'h2', 'h3'].map((name) => ({ name, type: 'compute', vcpus: 8 })),
        instances: [
          { id: 'i1', name: 'i1', project_id: 'pa', host: 'h1', vcpus: 2 },
          { id: 'i2', name: 'i2', project_id: 'pb', host: 'h2', vcpus: 2 },
        ],
        timings: { migrate_s: 0.3, live_migrate_s: 0.3, host_maintenance_s: 0.3 },
      },
    });
  });
  afterAll(async () => svc?.stop());

  it('a JSON snapshot for plain clients, and a stream whose patches follow the session to MAINTENANCE_DONE', async () => {
    const created = await call(svc.url, 'POST', '/v1/maintenance', { maintenance_at: farFuture() });
    expect(created.status, created.text).toBe(200);
    const id = created.json.session_id as string;

    const plain = await call(svc.url, 'GET', `/v1/maintenance/${id}/events`);
    expect(plain.status, plain.text).toBe(200);
    expect(plain.json.session.session_id).toBe(id);
    expect(plain.json.lists.hosts.map((h: Row) => h.key)).toEqual(['h1', 'h2', 'h3']);
    expect(plain.json.waiting_for.what).toBe('maintenance_at');

    // A HEAD asking for a stream gets the JSON answer's headers, not a stream left open.
    const head = await fetch(`${svc.url}/v1/maintenance/${id}/events`, { method: 'HEAD', headers: { accept: 'text/event-stream' } });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toMatch(/^application\/json/);
    expect(svc.app!.liveWatches()).toBe(0);

    const a = follow(`${svc.url}/v1/maintenance/${id}/events`);
    const b = follow(`${svc.url}/v1/maintenance/${id}/events`);
    await waitFor(() => a.model.events.includes('snapshot') && b.model.events.includes('snapshot'), 'both snapshots');
    // Two viewers, one watch (plus none for the list).
    expect(svc.app!.liveWatches()).toBe(1);

    // One viewer leaves: the watch stays for the other; the session deleted: the stream says so and ends.
    await b.stop();
    await waitFor(() => svc.app!.liveWatches() === 1 && a.model.events.length >= 1, 'one viewer left');
    await call(svc.url, 'DELETE', `/v1/maintenance/${id}`);
    await waitFor(() => a.model.events.includes('gone') && a.ended(), 'gone, and the stream closed');
    await waitFor(() => svc.app!.liveWatches() === 0, 'the watch stopped with its last viewer');

    const run = (await call(svc.url, 'POST', '/v1/maintenance', {})).json.session_id as string;
    const live = follow(`${svc.url}/v1/maintenance/${run}/events`);
    const seen = new Map<string, string[]>();
    await waitFor(() => {
      for (const h of live.model.rows('hosts')) {
        const l = seen.get(h.key) ?? [];
        if (l.at(-1) !== h.status) l.push(h.status);
        seen.set(h.key, l);
      }
      return live.model.head.session?.state === 'MAINTENANCE_DONE';
    }, 'the stream to show MAINTENANCE_DONE', 60_000);
    expect(live.model.events[0]).toBe('snapshot');
    expect(live.model.events.filter((e) => e === 'patch').length).toBeGreaterThan(3);
    expect(live.model.head.percent_done).toBe(100);
    const ORDER = ['pending', 'emptying', 'maintaining', 'maintained'];
    for (const h of live.model.rows('hosts')) {
      expect(h.status).toBe('maintained');
      // Statuses only go forward (a phase shorter than the watch's look may be skipped: its time still comes from the operations).
      const s = seen.get(h.key)!.map((x) => ORDER.indexOf(x));
      expect(s, `${h.key}: ${seen.get(h.key)!.join(' → ')}`).toEqual([...s].sort((x, y) => x - y));
      // Actual times for the chart: emptied, then in maintenance, then done.
      if (h.since.emptying) expect(Date.parse(h.since.emptying)).toBeLessThanOrEqual(Date.parse(h.since.maintaining));
      expect(Date.parse(h.since.maintaining)).toBeLessThanOrEqual(Date.parse(h.since.maintained));
    }
    // The same as a fresh snapshot: patches lost or misapplied nothing.
    const fresh = (await call(svc.url, 'GET', `/v1/maintenance/${run}/events`)).json;
    for (const list of ['hosts', 'projects', 'instances', 'timeline'])
      expect(live.model.rows(list).map((r) => r.key).sort(), list).toEqual(fresh.lists[list].map((r: Row) => r.key).sort());
    expect(live.model.rows('instances').map((i) => i.status).sort()).toEqual(fresh.lists.instances.map((i: Row) => i.status).sort());
    await live.stop();
    await waitFor(() => svc.app!.liveWatches() === 0, 'no watch left');
  });

  it('the sessions list streams too', async () => {
    const list = follow(`${svc.url}/v1/events`);
    await waitFor(() => list.model.events.includes('snapshot'), 'list snapshot');
    const before = list.model.rows('sessions').length;
    const id = (await call(svc.url, 'POST', '/v1/maintenance', { hosts: ['h3'], maintenance_at: farFuture() })).json.session_id as string;
    await waitFor(() => list.model.rows('sessions').some((s) => s.key === id), 'the new session in the list');
    expect(list.model.rows('sessions').length).toBe(before + 1);
    expect(list.model.events).toContain('patch');
    await call(svc.url, 'DELETE', `/v1/maintenance/${id}`);
    await waitFor(() => !list.model.rows('sessions').some((s) => s.key === id), 'the deleted session gone from the list');
    await list.stop();
  });

  it(`past ${MAX_STREAMS} open streams a new one is refused 503 TOO_MANY_STREAMS with retry-after; one closing lets the next in`, async () => {
    const open = Array.from({ length: MAX_STREAMS }, () => follow(`${svc.url}/v1/events`));
    await waitFor(() => open.every((s) => s.model.events.includes('snapshot')), 'every stream open');
    const refused = await fetch(`${svc.url}/v1/events`, { headers: { accept: 'text/event-stream' } });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('10');
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('TOO_MANY_STREAMS');
    // A plain JSON view is not a stream: still answered.
    expect((await call(svc.url, 'GET', '/v1/events')).status).toBe(200);
    await open.pop()!.stop();
    // The service sees the close a moment later: a client retries, as retry-after says.
    const next = await waitFor(async () => {
      const s = follow(`${svc.url}/v1/events`);
      await waitFor(() => s.model.events.includes('snapshot') || s.ended(), 'an answer');
      if (s.status() === 200) return s;
      await s.stop();
      return undefined;
    }, 'a stream again after one closed');
    expect(next.model.events).toContain('snapshot');
    await Promise.all([...open, next].map((s) => s.stop()));
  });

  it('unknown sessions are 404 SESSION_NOT_FOUND, as JSON and as a stream', async () => {
    const r = await call(svc.url, 'GET', '/v1/maintenance/nope/events');
    expect(r.status).toBe(404);
    expect(r.json.error.code).toBe('SESSION_NOT_FOUND');
    const s = follow(`${svc.url}/v1/maintenance/nope/events`);
    await waitFor(() => s.ended(), 'refused');
    expect(s.status()).toBe(404);
  });
});

it('a vnf session: the view carries its plan (waves of hosts) and each host\'s times', async () => {
  const svc = await startTestService({
    scenario: {
      hosts: ['h1', 'h2', 'h3'].map((name) => ({ name, type: 'compute', vcpus: 8 })),
      instances: [{ id: 'i1', name: 'i1', project_id: 'pa', host: 'h1', vcpus: 2 }],
      timings: { migrate_s: 0.2, live_migrate_s: 0.2, host_maintenance_s: 0.2 },
    },
  });
  try {
    const id = (await call(svc.url, 'POST', '/v1/maintenance', { workflow: 'vnf' })).json.session_id as string;
    const live = follow(`${svc.url}/v1/maintenance/${id}/events`);
    await waitFor(() => live.model.head.session?.state === 'MAINTENANCE_DONE', 'done', 60_000);
    const plan = live.model.head.plan;
    expect(plan.batches.length).toBeGreaterThan(0);
    expect(plan.batches.flatMap((b: { hosts: string[] }) => b.hosts).sort()).toEqual(['h1', 'h2', 'h3']);
    expect(plan.expected_duration_s).toBeGreaterThan(0);
    for (const h of live.model.rows('hosts')) expect(h.since.maintained, h.key).toBeTruthy();
    await live.stop();
  } finally {
    await svc.stop();
  }
});

it('the api role on PostgreSQL (the engine in another process): the stream follows the session to its end', { timeout: 120_000 }, async () => {
  await requirePostgres();
  const admin = async (text: string) => {
    const c = new pg.Client({ connectionString: TEST_PG_URL });
    await c.connect();
    await c.query(text).finally(() => c.end());
  };
  const name = `fenix_live_${process.pid}`;
  await admin(`drop database if exists ${name}`);
  await admin(`create database ${name}`);
  const db = TEST_PG_URL.replace(/\/[^/]*$/, `/${name}`);
  const sim = await startSimulatorServer({
    scenario: {
      hosts: ['h1', 'h2'].map((n) => ({ name: n, type: 'compute', vcpus: 4 })),
      instances: [{ id: 'v1', name: 'v1', project_id: 'pa', host: 'h1', vcpus: 1 }],
      timings: { migrate_s: 0.3, live_migrate_s: 0.3, host_maintenance_s: 0.5 },
    },
  });
  const common = ['--db', db, '--simulator-url', sim.url];
  const apiPort = await freePort();
  const apiProc = await startFenix(common, apiPort, {}, 'api');
  const engine = await startFenix([...common, '--public-url', apiProc.url], await freePort(), {}, 'engine');
  try {
    const id = (await call(apiProc.url, 'POST', '/v1/maintenance', {})).json.session_id as string;
    const live = follow(`${apiProc.url}/v1/maintenance/${id}/events`);
    await waitFor(() => live.model.head.session?.state === 'MAINTENANCE_DONE', 'MAINTENANCE_DONE through the api process', 60_000);
    expect(live.model.events.filter((e) => e === 'patch').length).toBeGreaterThan(1);
    expect(live.model.rows('hosts').map((h) => h.status)).toEqual(['maintained', 'maintained']);
    await live.stop();
  } finally {
    await engine.kill();
    await apiProc.kill();
    await sim.close();
    await admin(`drop database if exists ${name} with (force)`);
  }
});

it('an open stream does not hold up the service stopping: it is ended', async () => {
  const svc = await startTestService();
  const s = follow(`${svc.url}/v1/events`);
  await waitFor(() => s.model.events.includes('snapshot'), 'snapshot');
  await svc.stop();
  await waitFor(() => s.ended(), 'the stream ended by the server');
});

describe('live views with --auth token', () => {
  let sec: SecuredService;
  let sid: string;
  beforeAll(async () => {
    sec = await startSecured();
    sid = (await call(sec.svc.url, 'POST', '/v1/maintenance', { hosts: ['c1', 'c2', 'c3'], maintenance_at: farFuture() }, ADMIN)).json.session_id;
    await waitFor(async () => (await call(sec.svc.url, 'GET', `/v1/maintenance/${sid}/detail`, undefined, ADMIN)).json?.projects?.length === 2, 'projects discovered');
  });
  afterAll(async () => sec?.stop());

  it('a project token sees its own part: its project, its instances, the hosts they are on; no names of others', async () => {
    const url = sec.svc.url;
    const p1 = follow(`${url}/v1/maintenance/${sid}/events`, P1);
    const admin = follow(`${url}/v1/maintenance/${sid}/events`, ADMIN);
    await waitFor(() => p1.model.events.includes('snapshot') && admin.model.events.includes('snapshot'), 'snapshots');
    expect(sec.svc.app!.liveWatches()).toBe(1);
    expect(p1.model.head.scope).toBe('project');
    expect(p1.model.rows('projects').map((p) => p.key)).toEqual(['p1']);
    expect(new Set(p1.model.rows('instances').map((i) => i.project_id))).toEqual(new Set(['p1']));
    expect(p1.model.rows('hosts').map((h) => h.key).sort()).toEqual(['c1', 'c2', 'c3']);
    expect(admin.model.rows('projects').map((p) => p.key)).toEqual(['p1', 'p2']);
    expect(Date.parse(p1.model.rows('projects')[0]!.notified_at)).toBeGreaterThan(0);
    expect(admin.model.rows('projects').every((p) => Date.parse(p.notified_at) > 0)).toBe(true);
    const p2 = (await call(url, 'GET', `/v1/maintenance/${sid}/events`, undefined, P2)).json;
    expect(JSON.stringify(p2)).not.toMatch(/\bp1(-[a-z]+)?\b/);
    expect(p2.lists.hosts.map((h: Row) => h.key).sort()).toEqual(['c1', 'c3']);
    await p1.stop();
    await admin.stop();

    // A session the project takes no part in does not exist for it; the list leaves it out.
    const other = (await call(url, 'POST', '/v1/maintenance', { hosts: ['c4'], maintenance_at: farFuture() }, ADMIN)).json.session_id;
    expect((await call(url, 'GET', `/v1/maintenance/${other}/events`, undefined, P1)).status).toBe(404);
    const list = (await call(url, 'GET', '/v1/events', undefined, P1)).json;
    expect(list.lists.sessions.map((s: Row) => s.key)).toEqual([sid]);
    expect((await call(url, 'GET', '/v1/events', undefined, ADMIN)).json.lists.sessions.map((s: Row) => s.key).sort()).toEqual([sid, other].sort());
    // No token: 401 for the stream too.
    const anon = follow(`${url}/v1/events`);
    await waitFor(() => anon.ended(), 'refused');
    expect(anon.status()).toBe(401);
  });
});
