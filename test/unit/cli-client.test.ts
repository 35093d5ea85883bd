// `fenix session …` / `fenix subscription …` against a scripted fake API.
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Command } from 'commander';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { registerClientCommands, summarizeDetail } from '../../src/cli/client.js';
import { renderFrame, type WatchSnapshot } from '../../src/cli/watch.js';
import { waitFor } from '../helpers/harness.js';

interface Recorded {
  method: string;
  url: string;
  token: string | undefined;
  body: unknown;
}

let server: Server;
let api = '';
const requests: Recorded[] = [];
/** Scripted answers by "METHOD path"; arrays are consumed one per request (last one sticks). */
let routes: Record<string, [number, unknown] | [number, unknown][]> = {};

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const tok = req.headers['x-auth-token'];
      requests.push({
        method: req.method!,
        url: req.url!,
        token: typeof tok === 'string' ? tok : undefined,
        body: text ? JSON.parse(text) : undefined,
      });
      const r = routes[`${req.method} ${req.url}`];
      let answer: [number, unknown] = [404, { error: { code: 'NOT_FOUND', message: `no route ${req.method} ${req.url}` } }];
      if (r && Array.isArray(r[0])) {
        const list = r as [number, unknown][];
        answer = list.length > 1 ? list.shift()! : list[0]!;
      } else if (r) answer = r as [number, unknown];
      res.writeHead(answer[0], { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer[1]));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

/** Servers of single tests, closed at the end. */
const servers: Server[] = [];

afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  for (const s of servers) s.closeAllConnections();
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
});

afterEach(() => {
  requests.length = 0;
  routes = {};
  process.exitCode = 0;
});

async function run(...args: string[]): Promise<{ out: string[]; err: string[]; code: number }> {
  const out: string[] = [];
  const err: string[] = [];
  const program = new Command('fenix').exitOverride();
  registerClientCommands(program, { out: (l) => out.push(l), err: (l) => err.push(l) });
  process.exitCode = 0;
  await program.parseAsync(['node', 'fenix', ...args, '--api', api]);
  const code = Number(process.exitCode ?? 0);
  process.exitCode = 0;
  return { out, err, code };
}

describe('fenix session', () => {
  it('create sends the body and prints the id', async () => {
    routes['POST /v1/maintenance'] = [200, { session_id: 'S1' }];
    const r = await run(
      'session',
      'create',
      '--hosts',
      'c1, c2',
      '--at',
      '2026-01-01 10:00:00',
      '--metadata',
      '{"openstack_version":"Train"}',
      '--token',
      'tok',
    );
    expect(r).toEqual({ out: ['S1'], err: [], code: 0 });
    expect(requests).toEqual([
      {
        method: 'POST',
        url: '/v1/maintenance',
        token: 'tok',
        body: {
          state: 'MAINTENANCE',
          workflow: 'default',
          hosts: ['c1', 'c2'],
          maintenance_at: '2026-01-01 10:00:00',
          metadata: { openstack_version: 'Train' },
        },
      },
    ]);
  });

  it('create --wait prints state changes and exits 1 on MAINTENANCE_FAILED', async () => {
    routes['POST /v1/maintenance'] = [200, { session_id: 'S1' }];
    routes['GET /v1/maintenance/S1'] = [
      [200, { session_id: 'S1', state: 'MAINTENANCE', percent_done: 0 }],
      [200, { session_id: 'S1', state: 'MAINTENANCE', percent_done: 0 }],
      [200, { session_id: 'S1', state: 'PREPARE_MAINTENANCE', percent_done: 10 }],
      [200, { session_id: 'S1', state: 'MAINTENANCE_FAILED', percent_done: 10, reason: 'NACK from p1' }],
    ];
    const r = await run('session', 'create', '--wait', '--interval', '5');
    expect(r.out[0]).toBe('S1');
    expect(r.out.slice(1).map((l) => l.replace(/^\S+ /, ''))).toEqual([
      'MAINTENANCE 0%',
      'PREPARE_MAINTENANCE 10%',
      'MAINTENANCE_FAILED 10%',
    ]);
    expect(r.err).toEqual(['session S1 failed: NACK from p1']);
    expect(r.code).toBe(1);
  });

  it('create --wait exits 0 on MAINTENANCE_DONE', async () => {
    routes['POST /v1/maintenance'] = [200, { session_id: 'S1' }];
    routes['GET /v1/maintenance/S1'] = [200, { session_id: 'S1', state: 'MAINTENANCE_DONE', percent_done: 100 }];
    const r = await run('session', 'create', '--wait');
    expect(r.code).toBe(0);
    expect(r.out[1]).toMatch(/MAINTENANCE_DONE 100%$/);
  });

  it('prints API errors as `error CODE: message` with exit code 1', async () => {
    const r = await run('session', 'show', 'nope');
    expect(r).toEqual({ out: [], err: ['error NOT_FOUND: no route GET /v1/maintenance/nope'], code: 1 });
    routes['PUT /v1/maintenance/S1'] = [409, { error: { code: 'STATE_CONFLICT', message: 'not paused' } }];
    const r2 = await run('session', 'resume', 'S1');
    expect(r2.err).toEqual(['error STATE_CONFLICT: not paused']);
    expect(r2.code).toBe(1);
    expect(requests.at(-1)!.body).toEqual({ action: 'resume' });
  });

  it('reports an unreachable API', async () => {
    const program = new Command('fenix').exitOverride();
    const err: string[] = [];
    registerClientCommands(program, { out: () => undefined, err: (l) => err.push(l) });
    await program.parseAsync(['node', 'fenix', 'session', 'list', '--api', 'http://127.0.0.1:1']);
    expect(err[0]).toMatch(/^error CONNECTION_FAILED: GET http:\/\/127\.0\.0\.1:1\/v1\/maintenance: .*ECONNREFUSED/);
    expect(process.exitCode).toBe(1);
  });

  it('takes --api / --token from a program-wide option too', async () => {
    routes['GET /v1/maintenance'] = [200, { sessions: ['S9'] }];
    const program = new Command('fenix').exitOverride().option('--api <url>').option('--token <t>');
    const out: string[] = [];
    registerClientCommands(program, { out: (l) => out.push(l), err: (l) => out.push(l) });
    await program.parseAsync(['node', 'fenix', '--api', api, 'session', 'list', '-q', '--token', 'T']);
    expect(out).toEqual(['S9']);
    expect(requests.at(-1)!.token).toBe('T');
  });

  it('list, delete, continue, pause', async () => {
    routes['GET /v1/maintenance'] = [200, { sessions: ['S1', 'S2'] }];
    expect((await run('session', 'list', '-q')).out).toEqual(['S1', 'S2']);
    routes['DELETE /v1/maintenance/S1'] = [200, {}];
    expect((await run('session', 'delete', 'S1')).out).toEqual(['deleted S1']);
    routes['PUT /v1/maintenance/S1'] = [200, { session_id: 'S1', state: 'PLANNED_MAINTENANCE' }];
    expect((await run('session', 'continue', 'S1', '--state', 'PLANNED_MAINTENANCE')).out).toEqual([
      'S1 PLANNED_MAINTENANCE',
    ]);
    expect(requests.at(-1)!.body).toEqual({ state: 'PLANNED_MAINTENANCE' });
    routes['PUT /v1/maintenance/S1'] = [200, { session_id: 'S1', state: 'PLANNED_MAINTENANCE', paused: true }];
    expect((await run('session', 'pause', 'S1')).out).toEqual(['S1 paused (state PLANNED_MAINTENANCE, paused)']);
    expect(requests.at(-1)!.body).toEqual({ action: 'pause' });
  });

  /** Two sessions as GET /v1/maintenance/{id} answers them, and the table lines they make. */
  const S1 = { session_id: 'S1', state: 'MAINTENANCE_DONE', workflow: 'default', percent_done: 100, paused: false, created_at: '2026-01-01T10:00:00.000Z' };
  const S2 = { session_id: 'S2', state: 'PREPARE_MAINTENANCE', workflow: 'vnf', percent_done: 40, paused: true, created_at: '2026-01-01T11:00:00.000Z' };
  const TABLE = [
    'SESSION  STATE                         WORKFLOW  PROGRESS  CREATED',
    'S1       MAINTENANCE_DONE              default   100%      2026-01-01T10:00:00.000Z',
    'S2       PREPARE_MAINTENANCE (paused)  vnf       40%       2026-01-01T11:00:00.000Z',
  ];

  it('list prints a table (oldest first), or says there are none; --json the raw answer', async () => {
    routes['GET /v1/maintenance'] = [200, { sessions: ['S2', 'S1'] }];
    routes['GET /v1/maintenance/S1'] = [200, S1];
    routes['GET /v1/maintenance/S2'] = [200, S2];
    const r = await run('session', 'list');
    expect(r.out).toEqual(TABLE);
    expect(JSON.parse((await run('session', 'list', '--json')).out.join('\n'))).toEqual({ sessions: ['S2', 'S1'] });
    routes['GET /v1/maintenance'] = [200, { sessions: [] }];
    const none = await run('session', 'list');
    expect(none.out).toEqual([]);
    expect(none.err).toEqual([`no maintenance sessions at ${api}`]);
    expect(none.code).toBe(0);
  });

  it('list reads every row from the live view in one request; a session it does not show, by its own GET', async () => {
    routes['GET /v1/maintenance'] = [200, { sessions: ['S2', 'S1', 'S3'] }];
    routes['GET /v1/events'] = [200, { scope: 'admin', now: '2026-01-01T12:00:00.000Z', lists: { sessions: [
      { key: 'S1', ...S1 },
      { key: 'S2', ...S2 },
    ] } }];
    routes['GET /v1/maintenance/S3'] = [200, { session_id: 'S3', state: 'MAINTENANCE', workflow: 'k8s', percent_done: 0, paused: false, created_at: '2026-01-01T11:30:00.000Z' }];
    const r = await run('session', 'list');
    expect(r.out).toEqual([...TABLE, 'S3       MAINTENANCE                   k8s       0%        2026-01-01T11:30:00.000Z']);
    expect(requests.map((q) => `${q.method} ${q.url}`)).toEqual(['GET /v1/maintenance', 'GET /v1/events', 'GET /v1/maintenance/S3']);
  });

  it('--json on the commands that act: the API answer as it is', async () => {
    routes['POST /v1/maintenance'] = [200, { session_id: 'S1', state: 'MAINTENANCE' }];
    expect(JSON.parse((await run('session', 'create', '--json')).out.join('\n'))).toEqual({ session_id: 'S1', state: 'MAINTENANCE' });
    routes['PUT /v1/maintenance/S1'] = [200, { session_id: 'S1', state: 'MAINTENANCE', paused: true }];
    expect(JSON.parse((await run('session', 'pause', 'S1', '--json')).out.join('\n'))).toEqual({ session_id: 'S1', state: 'MAINTENANCE', paused: true });
    routes['DELETE /v1/maintenance/S1'] = [200, null];
    expect(JSON.parse((await run('session', 'delete', 'S1', '--json')).out.join('\n'))).toEqual({});
    routes['POST /v1/subscriptions'] = [200, { subscription_id: 'sub', url: 'http://x' }];
    expect(JSON.parse((await run('subscription', 'add', '--url', 'http://x', '--json')).out.join('\n'))).toEqual({ subscription_id: 'sub', url: 'http://x' });
  });

  it('watch (not a terminal): a line per change, ends 0 when the session is done', async () => {
    const detail = (state: string, pct: number, hosts: [string, string][], timeline: [string, string][], waiting = 'replies to MAINTENANCE from p1') => ({
      session: { session_id: 'S1', state, workflow: 'default', paused: false, reason: null },
      percent_done: pct,
      waiting_for: { what: waiting, until: null },
      hosts: hosts.map(([name, status]) => ({ name, status, current: status === 'emptying' })),
      timeline: timeline.map(([at, message]) => ({ at, kind: 'state', message })),
      page: { hosts: { total: hosts.length, next: null }, timeline: { total: timeline.length, next: null } },
    });
    const t1: [string, string] = ['2026-01-01T10:00:00.000Z', 'MAINTENANCE: asking projects'];
    const t2: [string, string] = ['2026-01-01T10:00:01.000Z', 'PREPARE_MAINTENANCE: emptying a'];
    routes['GET /v1/maintenance/S1/detail?lists=hosts,timeline'] = [
      [200, detail('MAINTENANCE', 0, [['a', 'pending'], ['b', 'pending']], [t1])],
      [503, { error: { code: 'INTERNAL', message: 'database is busy' } }],
      [503, { error: { code: 'INTERNAL', message: 'database is busy' } }],
      [200, detail('MAINTENANCE', 0, [['a', 'pending'], ['b', 'pending']], [t1])],
      [200, detail('PREPARE_MAINTENANCE', 20, [['a', 'emptying'], ['b', 'pending']], [t1, t2], 'the engine (working)')],
      [200, detail('MAINTENANCE_DONE', 100, [['a', 'maintained'], ['b', 'maintained']], [t1, t2], 'nothing: the session is done')],
    ];
    const r = await run('session', 'watch', 'S1', '--interval', '1');
    const lines = r.out.map((l) => l.replace(/^\S+ /, '')); // each line starts with its time
    expect(lines).toEqual([
      'session S1 MAINTENANCE 0%',
      'waiting for: replies to MAINTENANCE from p1',
      'hosts: pending 2',
      'event 2026-01-01T10:00:00.000Z state: MAINTENANCE: asking projects',
      'session S1 PREPARE_MAINTENANCE 20%',
      'waiting for: the engine (working)',
      'host a: pending → emptying',
      'event 2026-01-01T10:00:01.000Z state: PREPARE_MAINTENANCE: emptying a',
      'session S1 MAINTENANCE_DONE 100%',
      'waiting for: nothing: the session is done',
      'host a: emptying → maintained',
      'host b: pending → maintained',
    ]);
    // A failing read is said once, not once a poll.
    expect(r.err.map((l) => l.replace(/^\S+ /, ''))).toEqual(['cannot read session S1 (database is busy); retrying']);
    expect(r.code).toBe(0);
  });

  it('watch: a failed session ends with exit code 1 and its reason; an unknown one is an error', async () => {
    routes['GET /v1/maintenance/S1/detail?lists=hosts,timeline'] = [200, { session: { session_id: 'S1', state: 'MAINTENANCE_FAILED', reason: 'compute-1 did not come back' }, percent_done: 40, waiting_for: { what: 'the admin', until: null }, hosts: [], timeline: [] }];
    const r = await run('session', 'watch', 'S1');
    expect(r.out[0]).toMatch(/ session S1 MAINTENANCE_FAILED 40%: compute-1 did not come back$/);
    expect(r.code).toBe(1);
    const gone = await run('session', 'watch', 'nope');
    expect(gone.err).toEqual(['error NOT_FOUND: no route GET /v1/maintenance/nope/detail?lists=hosts,timeline']);
    expect(gone.code).toBe(1);
  });

  it('watch on a terminal: draws on the alternate screen and leaves the last frame on the normal one', async () => {
    routes['GET /v1/maintenance/S1/detail?lists=hosts,timeline'] = [
      [200, { session: { session_id: 'S1', state: 'START_MAINTENANCE', workflow: 'default' }, percent_done: 50, waiting_for: { what: 'the engine (working)', until: null }, hosts: [{ name: 'compute-0', status: 'maintaining' }, { name: 'compute-1', status: 'pending' }], timeline: [] }],
      [200, { session: { session_id: 'S1', state: 'MAINTENANCE_DONE', workflow: 'default' }, percent_done: 100, waiting_for: { what: 'nothing', until: null }, hosts: [{ name: 'compute-0', status: 'maintained' }, { name: 'compute-1', status: 'maintained' }], timeline: [] }],
    ];
    let screen = '';
    const out: string[] = [];
    const program = new Command('fenix').exitOverride();
    registerClientCommands(program, { out: (l) => out.push(l), err: (l) => out.push(l), screen: { write: (s) => void (screen += s), columns: 60, rows: 20 } });
    process.exitCode = 0;
    await program.parseAsync(['node', 'fenix', 'session', 'watch', 'S1', '--interval', '1', '--api', api]);
    expect(process.exitCode ?? 0).toBe(0);
    expect(out).toEqual([]);
    expect(screen.startsWith('\x1b[?1049h\x1b[?25l\x1b[H')).toBe(true); // alternate screen, cursor hidden, home
    const leave = '\x1b[?25h\x1b[?1049l';
    expect(screen).toContain('\x1b[32m✓ compute-0'); // done hosts in green
    const plain = (t: string) => t.split('\x1b[').map((part, i) => (i === 0 ? part : part.replace(/^[0-9;]*m/, ''))).join('');
    const last = plain(screen.slice(screen.lastIndexOf(leave) + leave.length));
    expect(last.startsWith('session S1  MAINTENANCE_DONE  workflow default\n')).toBe(true);
    expect(last).toContain('✓ compute-0  ✓ compute-1');
    expect(plain(screen)).toContain('● compute-0  ○ compute-1'); // the frame before: one in maintenance, one waiting
    expect(screen.split('\x1b[?25h').length).toBe(2); // the cursor is given back once
  });

  it('detail prints a summary, --json the raw object', async () => {
    const detail = {
      session: { session_id: 'S1', state: 'PREPARE_MAINTENANCE', workflow: 'default', maintenance_at: 1767261600000 },
      percent_done: 25,
      hosts: [
        { name: 'c1', type: 'compute', status: 'emptying', disabled_by_us: true, maintained_at: null },
        { name: 'c2', type: 'compute', status: 'pending', disabled_by_us: false, maintained_at: null },
      ],
      projects: [{ project_id: 'p1', awaiting: 'PREPARE_MAINTENANCE', reply: null, reply_at: 1767261660000, interacting: true }],
      timeline: [{ at: 1767261600000, kind: 'state', message: 'MAINTENANCE -> PREPARE_MAINTENANCE' }],
    };
    routes['GET /v1/maintenance/S1/detail'] = [200, detail];
    const r = await run('session', 'detail', 'S1');
    expect(r.code).toBe(0);
    expect(r.out[0]).toBe('session S1  state PREPARE_MAINTENANCE  workflow default  25% done');
    expect(r.out).toContain('maintenance at 2026-01-01T10:00:00.000Z');
    expect(r.out).toContain('waiting for: project p1 to answer PREPARE_MAINTENANCE by 2026-01-01T10:01:00.000Z');
    expect(r.out.join('\n')).toMatch(/c1 +compute +emptying/);
    expect(r.out.at(-1)).toBe('  2026-01-01T10:00:00.000Z  state  MAINTENANCE -> PREPARE_MAINTENANCE');
    const j = await run('session', 'detail', 'S1', '--json');
    expect(JSON.parse(j.out.join('\n'))).toEqual(detail);
  });

  it('summarizeDetail prefers an explicit waiting_for and survives odd shapes', () => {
    expect(summarizeDetail({ state: 'MAINTENANCE', waiting_for: ['project p1 (MAINTENANCE)'] })).toContain(
      'waiting for: project p1 (MAINTENANCE)',
    );
    expect(summarizeDetail(null)[0]).toBe('session -  state -  workflow -  -% done');
  });

  it('detail of a paged answer: totals shown, --timeline reads older pages, --all every page of every list', async () => {
    const tl = (n: number) => ({ at: 1767261600000 + n * 1000, kind: 'state', message: `entry ${n}` });
    const first = () => ({
      session: { session_id: 'S1', state: 'PLANNED_MAINTENANCE', workflow: 'default' },
      percent_done: 50,
      waiting_for: { what: 'the engine (working)', until: null },
      hosts: [{ name: 'c1', status: 'maintained' }],
      instances: [{ instance_id: 'i1', status: 'moved' }],
      timeline: [tl(3), tl(4)],
      page: { hosts: { total: 1, next: null }, instances: { total: 3, next: 'I1' }, timeline: { total: 5, next: 'T3' } },
    });
    routes['GET /v1/maintenance/S1/detail'] = [200, first()];
    routes['GET /v1/maintenance/S1/detail?lists=instances&limit=1000&instances_after=I1'] = [
      200,
      { instances: [{ instance_id: 'i2', status: 'present' }, { instance_id: 'i3', status: 'present' }], page: { instances: { total: 3, next: null } } },
    ];
    routes['GET /v1/maintenance/S1/detail?lists=timeline&limit=1000&timeline_after=T3'] = [200, { timeline: [tl(1), tl(2)], page: { timeline: { total: 5, next: 'T1' } } }];
    routes['GET /v1/maintenance/S1/detail?lists=timeline&limit=1000&timeline_after=T1'] = [200, { timeline: [tl(0)], page: { timeline: { total: 5, next: null } } }];

    const r = await run('session', 'detail', 'S1', '--timeline', '2');
    expect(r.out).toContain('instances: 3 (of the 1 shown: 1 moved)');
    expect(r.out).toContain('timeline (last 2 of 5):');
    expect(requests.map((x) => x.url)).toEqual(['/v1/maintenance/S1/detail']);

    requests.length = 0;
    routes['GET /v1/maintenance/S1/detail'] = [200, first()];
    const t = await run('session', 'detail', 'S1', '--timeline', '3');
    expect(t.out.slice(-3)).toEqual(['  2026-01-01T10:00:02.000Z  state  entry 2', '  2026-01-01T10:00:03.000Z  state  entry 3', '  2026-01-01T10:00:04.000Z  state  entry 4']);
    expect(requests).toHaveLength(2);

    routes['GET /v1/maintenance/S1/detail'] = [200, first()];
    const all = JSON.parse((await run('session', 'detail', 'S1', '--json', '--all')).out.join('\n'));
    expect(all.instances.map((i: { instance_id: string }) => i.instance_id)).toEqual(['i1', 'i2', 'i3']);
    expect(all.timeline.map((e: { message: string }) => e.message)).toEqual([0, 1, 2, 3, 4].map((n) => `entry ${n}`));
    expect(all.page).toEqual({ hosts: { total: 1, next: null }, instances: { total: 3, next: null }, timeline: { total: 5, next: null } });

    // --json alone prints the answer as it came.
    routes['GET /v1/maintenance/S1/detail'] = [200, first()];
    expect(JSON.parse((await run('session', 'detail', 'S1', '--json')).out.join('\n'))).toEqual(first());
  });
});

describe('fenix subscription', () => {
  it('add, list, delete', async () => {
    routes['POST /v1/subscriptions'] = [201, { subscription_id: 'sub-1' }];
    const a = await run('subscription', 'add', '--project', 'p1', '--url', 'http://h/hook', '--format', 'json');
    expect(a.out).toEqual(['sub-1']);
    expect(requests.at(-1)!.body).toEqual({
      url: 'http://h/hook',
      event_types: ['maintenance.scheduled'],
      format: 'json',
      project_id: 'p1',
    });
    routes['GET /v1/subscriptions'] = [
      200,
      { subscriptions: [{ subscription_id: 'sub-1', project_id: 'p1', format: 'json', event_types: ['maintenance.scheduled'], url: 'http://h/hook' }] },
    ];
    const l = await run('subscription', 'list');
    expect(l.out[0]).toMatch(/^ID +PROJECT +FORMAT +EVENTS +URL$/);
    expect(l.out[1]).toMatch(/^sub-1 +p1 +json +maintenance\.scheduled +http:\/\/h\/hook$/);
    routes['DELETE /v1/subscriptions/sub-1'] = [204, null];
    expect((await run('subscription', 'delete', 'sub-1')).out).toEqual(['deleted sub-1']);
  });
});

describe('the watch view', () => {
  const snap = (hosts: number): WatchSnapshot => ({
    id: 'S1',
    state: 'PREPARE_MAINTENANCE',
    workflow: 'vnf',
    paused: false,
    percent: 30,
    reason: '',
    waiting: 'replies to PREPARE_MAINTENANCE from p1',
    waitingUntil: '2026-01-01T10:00:40.000Z',
    hosts: Array.from({ length: hosts }, (_, i) => ({ name: `compute-${String(i).padStart(3, '0')}`, status: i < 10 ? 'maintained' : i === 10 ? 'emptying' : 'pending', current: i === 10 })),
    hostTotal: hosts,
    timeline: Array.from({ length: 30 }, (_, i) => ({ at: `2026-01-01T10:00:${String(i).padStart(2, '0')}.000Z`, kind: 'host', message: `event ${i}` })),
  });

  it('fits the terminal: no line wider, no more lines than it has; the grid leaves room for events', () => {
    const frame = renderFrame(snap(400), { width: 80, height: 24, colour: false, now: Date.parse('2026-01-01T10:00:10.000Z') });
    expect(frame.length).toBeLessThanOrEqual(24);
    for (const l of frame) expect([...l].length).toBeLessThanOrEqual(80);
    expect(frame[0]).toBe('session S1  PREPARE_MAINTENANCE  workflow vnf');
    expect(frame[2]).toBe('waiting for: replies to PREPARE_MAINTENANCE from p1  (until 10:00:40 UTC, in 30…'); // cut at 80
    const wide = renderFrame(snap(400), { width: 120, height: 24, colour: false, now: Date.parse('2026-01-01T10:00:10.000Z') });
    expect(wide[2]).toBe('waiting for: replies to PREPARE_MAINTENANCE from p1  (until 10:00:40 UTC, in 30s)');
    expect(frame.some((l) => /^… \d+ more hosts \(a taller terminal shows them\)$/.test(l))).toBe(true);
    expect(frame.some((l) => l.includes('◐ compute-010*'))).toBe(true);
    expect(frame.at(-2)).toMatch(/event 29$/); // the newest event, just above the footer
  });
});

describe('watch and the event stream', () => {
  it('reads the session again as soon as its event stream says it changed, not only every --interval', async () => {
    let reads = 0;
    let stream: ServerResponse | undefined;
    const streamOpen = new Promise<void>((resolve) => {
      const srv = createServer((req, res) => {
        if (req.url === '/v1/maintenance/S1/events') {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.write('event: snapshot\ndata: {}\n\n');
          stream = res;
          resolve();
          return;
        }
        reads++;
        const state = reads >= 2 ? 'MAINTENANCE_DONE' : 'MAINTENANCE';
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ session: { session_id: 'S1', state }, percent_done: reads >= 2 ? 100 : 0, waiting_for: { what: 'x', until: null }, hosts: [], timeline: [] }));
      });
      servers.push(srv);
      srv.listen(0, '127.0.0.1');
    });
    await new Promise<void>((r) => servers.at(-1)!.once('listening', () => r()));
    const base = `http://127.0.0.1:${(servers.at(-1)!.address() as AddressInfo).port}`;
    const out: string[] = [];
    const program = new Command('fenix').exitOverride();
    registerClientCommands(program, { out: (l) => out.push(l), err: (l) => out.push(l) });
    process.exitCode = 0;
    // An hour between reads: only the stream's patch can bring the second read.
    const watching = program.parseAsync(['node', 'fenix', 'session', 'watch', 'S1', '--interval', '3600000', '--api', base]);
    await streamOpen;
    await waitFor(() => reads === 1);
    stream!.write('event: patch\ndata: {"head": {}}\n\n');
    await watching;
    expect(reads).toBe(2);
    expect(out.at(-1)).toMatch(/ session S1 MAINTENANCE_DONE 100%$/);
    expect(process.exitCode ?? 0).toBe(0);
  });
});
