// GET /v1/maintenance/{id}/detail a page at a time, over real HTTP on the real store: default page
// sizes, totals, every list walked with its cursor gives every row once and in order, bad limits
// and cursors are 400 VALIDATION_FAILED, "waiting for" reads as it did when the whole session was
// loaded, and a 2,000-host session's detail stays small.
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionData } from '../../src/domain/snapshot.js';
import { isTerminal } from '../../src/domain/states.js';
import type { Service } from '../../src/main/service.js';
import { encodeCursor } from '../../src/services/detail.js';
import type { DB } from '../../src/store/schema.js';
import { seedBigSession, type BigSession } from '../helpers/big-session.js';
import { wholeDetail } from '../helpers/detail.js';
import { api, startTestService } from '../helpers/harness.js';

const LISTS = ['hosts', 'projects', 'instances', 'plugin_runs', 'operations', 'deliveries', 'timeline', 'replies'] as const;
type List = (typeof LISTS)[number];

let svc: Service;
let big: BigSession;
const SID = 'paged';
const db = (): Kysely<DB> => (svc.store as unknown as { db: Kysely<DB> }).db;
const get = (q = '', sid = SID) => api(svc.url, 'GET', `/v1/maintenance/${sid}/detail${q}`);

beforeAll(async () => {
  svc = await startTestService({ manual: true });
  // 60 hosts x 4 instances: every long list is longer than a page of 50.
  big = await seedBigSession(svc.store, { id: SID, hosts: 60, instancesPerHost: 4, projects: 7, timelinePerHost: 6 });
});

afterAll(async () => {
  await svc?.stop();
});

/** Every row of one list, walking its cursor `limit` rows at a time (only that list is read). */
async function walk(list: List, limit: number): Promise<{ rows: any[]; pages: number }> {
  const rows: any[] = [];
  let next: string | null = null;
  let pages = 0;
  do {
    const r = await get(`?lists=${list}&limit=${limit}${next ? `&${list}_after=${next}` : ''}`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(Object.keys(r.body.page)).toEqual([list]);
    expect(r.body[list].length).toBeLessThanOrEqual(limit);
    // The timeline's pages go back in time: older pages in front.
    if (list === 'timeline') rows.unshift(...r.body[list]);
    else rows.push(...r.body[list]);
    next = r.body.page[list].next;
    pages++;
  } while (next !== null && pages < 1000);
  return { rows, pages };
}

describe('GET /v1/maintenance/{id}/detail pages its long lists', () => {
  it('answers the first 100 rows of each list, with totals and a cursor where there are more', async () => {
    const r = await get();
    expect(r.status).toBe(200);
    const d = r.body;
    expect(Object.keys(d)).toEqual(['session', 'percent_done', 'waiting_for', ...LISTS, 'page']);
    for (const list of LISTS) {
      const total = big.counts[list];
      expect(d.page[list].total, list).toBe(total);
      expect(d[list].length, list).toBe(Math.min(100, total));
      expect(d.page[list].next === null, list).toBe(total <= 100);
    }
    // The timeline's first page is its newest 100 entries, in time order.
    const all = await svc.store.timeline(SID);
    expect(d.timeline.map((t: { message: string }) => t.message)).toEqual(all.slice(-100).map((t) => t.message));
    // Instances carry their own moves only.
    const moved = d.instances.find((i: { status: string }) => i.status === 'moved');
    expect(moved.operations).toEqual([expect.objectContaining({ action: 'MIGRATE', from: moved.origin_host, status: 'done' })]);
    const last = (await get(`?lists=instances&instances_after=${encodeCursor('instances', 'i-h00059-0')}`)).body.instances;
    expect(last.map((i: { instance_id: string; status: string; operations: unknown[] }) => [i.instance_id, i.status, i.operations])).toEqual(
      [1, 2, 3].map((k) => [`i-h00059-${k}`, 'present', []]),
    );
    expect(d.replies[0]).toEqual({
      project_id: 'p0000',
      instance_id: null,
      reply: 'ACK_MAINTENANCE',
      accepted: true,
      count: 1,
      first_at: expect.any(String),
      last_at: expect.any(String),
    });
  });

  it('limit sets the page size of every list; lists= reads only the named ones', async () => {
    const d = (await get('?limit=50')).body;
    for (const list of LISTS) expect(d[list].length, list).toBe(Math.min(50, big.counts[list]));
    const none = (await get('?lists=')).body;
    expect(Object.keys(none)).toEqual(['session', 'percent_done', 'waiting_for', 'page']);
    const only = (await get('?lists=timeline,hosts&limit=3')).body;
    expect(Object.keys(only)).toEqual(['session', 'percent_done', 'waiting_for', 'hosts', 'timeline', 'page']);
    expect(only.hosts.map((h: { name: string }) => h.name)).toEqual(big.hosts.slice(0, 3));
  });

  it('walking each list with its cursor gives every row exactly once, in order', async () => {
    const snap = (await svc.store.loadSnapshot(SID))!;
    const outbox = await svc.store.outboxFor(SID);
    const timeline = await svc.store.timeline(SID);
    const expected: Record<List, string[]> = {
      hosts: snap.hosts.map((h) => h.name),
      projects: snap.projects.map((p) => p.projectId),
      instances: snap.instances.map((i) => i.instanceId),
      plugin_runs: snap.ops.filter((o) => o.kind === 'plugin').map((o) => o.args.host as string),
      operations: snap.ops.map((o) => o.key),
      deliveries: outbox.map((o) => o.messageId),
      timeline: timeline.map((t) => `${t.at} ${t.message}`),
      replies: (await db().selectFrom('session_replies').select(['project_id', 'reply']).where('session_id', '=', SID).orderBy('project_id').orderBy('reply').execute()).map(
        (r) => `${r.project_id} ${r.reply}`,
      ),
    };
    const keyOf: Record<List, (r: any) => string> = {
      hosts: (r) => r.name,
      projects: (r) => r.project_id,
      instances: (r) => r.instance_id,
      plugin_runs: (r) => r.host,
      operations: (r) => r.key,
      deliveries: (r) => r.message_id,
      timeline: (r) => `${Date.parse(r.at)} ${r.message}`,
      replies: (r) => `${r.project_id} ${r.reply}`,
    };
    for (const limit of [50, 7, 1]) {
      for (const list of LISTS) {
        if (limit === 1 && big.counts[list] > 100) continue; // one row a page: the short lists are enough
        const { rows, pages } = await walk(list, limit);
        expect(rows.map(keyOf[list]), `${list} limit ${limit}`).toEqual(expected[list]);
        expect(pages, `${list} limit ${limit}`).toBe(Math.max(1, Math.ceil(big.counts[list] / limit)));
      }
    }
    // What the CLI's --all does gives the same whole lists.
    const whole = await wholeDetail(svc.url, SID);
    for (const list of LISTS) expect(whole[list].map(keyOf[list]), list).toEqual(expected[list]);
  });

  it('a cursor continues where its page ended even when rows are added meanwhile', async () => {
    const first = (await get('?lists=timeline,operations&limit=10')).body;
    await svc.store.appendTimeline(SID, { at: Date.UTC(2030, 0, 1), kind: 'note', message: 'written after the first page' });
    const second = (await get(`?lists=timeline,operations&limit=10&timeline_after=${first.page.timeline.next}&operations_after=${first.page.operations.next}`)).body;
    // The timeline goes back from the first page's oldest entry: the new entry is on no later page.
    expect(Date.parse(second.timeline.at(-1).at)).toBeLessThanOrEqual(Date.parse(first.timeline[0].at));
    const ops = (await svc.store.loadSnapshot(SID))!.ops.map((o) => o.key);
    expect(second.operations.map((o: { key: string }) => o.key)).toEqual(ops.slice(10, 20));
    expect(second.page.timeline.total).toBe(first.page.timeline.total + 1);
  });

  it('bad limits, lists and cursors are 400 VALIDATION_FAILED, never 500', async () => {
    const hostCursor = encodeCursor('hosts', 3);
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const bad = [
      '?limit=0',
      '?limit=1001',
      '?limit=-5',
      '?limit=abc',
      '?limit=1.5',
      '?limit=',
      '?limit=5&limit=6',
      '?lists=hosts,nope',
      '?lists=hosts,,timeline',
      '?instances_after=',
      '?instances_after=%%%',
      '?instances_after=not-a-cursor',
      `?instances_after=${hostCursor}`, // another list's cursor
      `?instances_after=${hostCursor}&instances_after=${hostCursor}`,
      `?hosts_after=${b64(['hosts', -1])}`,
      `?hosts_after=${b64(['hosts', 1.5])}`,
      `?hosts_after=${b64(['hosts', '3'])}`,
      `?hosts_after=${b64(['hosts', 3, 4])}`,
      `?hosts_after=${b64({ hosts: 3 })}`,
      `?timeline_after=${b64(['timeline', 2 ** 60])}`,
      `?projects_after=${b64(['projects', 'x'.repeat(256)])}`,
      `?replies_after=${b64(['replies', ['p', '', 'ACK_MAINTENANCE', 2, 'd']])}`,
      `?replies_after=${b64(['replies', ['p', '', 'ACK_MAINTENANCE', 1]])}`,
      `?hosts_after=${hostCursor}=`, // padding: not the text this API writes
      `?hosts_after=${'A'.repeat(3000)}`,
      `?operations_after=${Buffer.from('["operations", 3').toString('base64url')}`,
    ];
    for (const q of bad) {
      const r = await get(q);
      expect({ q, status: r.status, code: r.body?.error?.code }).toEqual({ q, status: 400, code: 'VALIDATION_FAILED' });
    }
    // A well-formed cursor is fine on any session (it only says where to start).
    expect((await get(`?hosts_after=${hostCursor}`)).status).toBe(200);
    expect((await get(`?hosts_after=${hostCursor}`, 'no-such-session')).body.error.code).toBe('SESSION_NOT_FOUND');
    // Unknown parameters are ignored, as elsewhere in the API.
    expect((await get('?whatever=1')).status).toBe(200);
  });
});

describe('waiting_for reads as it did from the whole session', () => {
  /** The text as computed before paging, from the whole loaded session (the previous implementation). */
  function waitingBefore(d: SessionData, now: number): { what: string; until: string | null } {
    const iso = (t: number | null | undefined): string | null => (t == null ? null : new Date(t).toISOString());
    const s = d.session;
    if (s.deleting) return { what: 'restoring hosts before the session is removed', until: null };
    if (s.state === 'MAINTENANCE_DONE') return { what: 'nothing: the session is done', until: null };
    if (s.state === 'MAINTENANCE_FAILED')
      return { what: `the admin: the session failed (${s.reason ?? 'unknown reason'}); fix the cause and PUT {"state": "${s.phase.failedIn ?? 'MAINTENANCE'}"} to continue, or DELETE`, until: null };
    if (s.paused) return { what: 'the admin: the session is paused', until: null };
    const silent = d.projects.filter((p) => p.awaiting && !p.reply);
    if (silent.length) {
      const until = Math.min(...silent.map((p) => p.replyAt ?? Infinity));
      return { what: `replies to ${silent[0]!.awaiting} from ${silent.map((p) => p.projectId).join(', ')}`, until: Number.isFinite(until) ? iso(until) : null };
    }
    const si = d.instances.filter((i) => i.askState && !i.reply && i.status !== 'gone');
    if (si.length) {
      const until = Math.min(...si.map((i) => i.replyAt ?? Infinity));
      const names = si.slice(0, 5).map((i) => `${i.projectId}/${i.instanceId}`);
      return { what: `replies to ${si[0]!.askState} for ${names.join(', ')}${si.length > 5 ? ` and ${si.length - 5} more` : ''}`, until: Number.isFinite(until) ? iso(until) : null };
    }
    const running = d.ops.filter((o) => o.status === 'started' || o.status === 'pending');
    if (running.length) {
      const names = running.map((o) => `${o.kind} ${o.subject}`).slice(0, 5);
      return { what: `${names.join(', ')}${running.length > 5 ? ` and ${running.length - 5} more` : ''} to finish`, until: null };
    }
    if (now < s.maintenanceAt) return { what: 'maintenance_at', until: iso(s.maintenanceAt) };
    if (s.wakeAt !== null && s.wakeAt > now) return { what: 'its next check', until: iso(s.wakeAt) };
    return { what: isTerminal(s.state) ? 'nothing' : 'the engine (working)', until: null };
  }

  const FAR = Date.UTC(2100, 0, 1);
  const sid = 'waiting';

  async function same(label: string): Promise<string> {
    const got = (await get('?lists=', sid)).body.waiting_for;
    const want = waitingBefore((await svc.store.loadSnapshot(sid))!, svc.clock.now());
    expect(got, label).toEqual(want);
    return want.what;
  }

  it('for each situation the old computation told apart', async () => {
    await seedBigSession(svc.store, { id: sid, hosts: 12, instancesPerHost: 3, projects: 9 });
    const s = () => db().updateTable('sessions').where('id', '=', sid);
    const p = () => db().updateTable('session_projects').where('session_id', '=', sid);
    const i = () => db().updateTable('session_instances').where('session_id', '=', sid);
    const o = () => db().updateTable('ops').where('session_id', '=', sid);

    expect(await same('projects awaiting')).toMatch(/^replies to PLANNED_MAINTENANCE from p0000, p0002, p0004, p0006, p0008$/);
    await p().set({ reply_at: null }).where('project_id', '=', 'p0000').execute();
    await same('one deadline unknown');
    await p().set({ reply_at: null }).execute();
    await same('no deadline known');
    await p().set({ reply: 'ACK_PLANNED_MAINTENANCE' }).where('project_id', 'in', ['p0000', 'p0004']).execute();
    expect(await same('some replied')).toMatch(/from p0002, p0006, p0008$/);
    await p().set({ awaiting: 'SCALE_IN' }).where('project_id', '=', 'p0001').execute();
    expect(await same('another state asked of another project')).toMatch(/^replies to SCALE_IN from p0001, p0002/);
    await p().set({ reply: 'ACK' }).execute();

    // vnf: per-instance asks.
    const ids = (await db().selectFrom('session_instances').select('instance_id').where('session_id', '=', sid).orderBy('instance_id').execute()).map((r) => r.instance_id);
    await i().set({ ask_state: 'PREPARE_MAINTENANCE', reply_at: FAR }).where('instance_id', 'in', ids.slice(3, 11)).execute();
    expect(await same('instances asked')).toMatch(/ and 3 more$/);
    await i().set({ status: 'gone' }).where('instance_id', '=', ids[3]!).execute();
    await i().set({ reply: 'ACK_PREPARE_MAINTENANCE' }).where('instance_id', '=', ids[4]!).execute();
    await i().set({ ask_state: 'PLANNED_MAINTENANCE', reply_at: FAR - 5 }).where('instance_id', '=', ids[5]!).execute();
    expect(await same('gone, answered, another state')).toMatch(/^replies to PLANNED_MAINTENANCE for /);
    await i().set({ ask_state: null }).execute();

    expect(await same('moves in flight')).toBe('move i-h00006-0, move i-h00006-1 to finish');
    await o().set({ status: 'pending' }).where('kind', '=', 'plugin').execute();
    expect(await same('many in flight')).toMatch(/ and \d+ more to finish$/);
    await o().set({ status: 'done' }).execute();

    await s().set({ maintenance_at: FAR }).execute();
    expect(await same('before maintenance_at')).toBe('maintenance_at');
    await s().set({ maintenance_at: 0, wake_at: FAR }).execute();
    expect(await same('next check')).toBe('its next check');
    await s().set({ wake_at: null }).execute();
    expect(await same('working')).toBe('the engine (working)');
    await s().set({ paused: 1 }).execute();
    await same('paused');
    await s().set({ state: 'MAINTENANCE_FAILED', reason: 'boom' }).execute();
    await same('failed');
    await s().set({ state: 'MAINTENANCE_DONE' }).execute();
    await same('done');
  });
});

describe('a 2,000-host session', () => {
  it('has a detail of a few pages, not of its size', async () => {
    const huge = await seedBigSession(svc.store, { id: 'huge', hosts: 2000, instancesPerHost: 8, projects: 200 });
    const r = await get('', 'huge');
    expect(r.status).toBe(200);
    const bytes = Buffer.byteLength(JSON.stringify(r.body));
    expect(bytes).toBeLessThan(200 * 1024);
    for (const list of LISTS) expect(r.body.page[list].total, list).toBe(huge.counts[list]);
    expect(r.body.instances).toHaveLength(100);
    // 100 projects are silent: 20 named, the rest counted.
    expect(r.body.waiting_for.what).toMatch(/^replies to PLANNED_MAINTENANCE from p0000, p0002, .*, p0038 and 80 more$/);
    expect(r.body.waiting_for.until).toBe(new Date(Date.UTC(2026, 0, 1, 10) + 3_600_000).toISOString());
    // The largest page stays bounded too.
    const max = await get('?limit=1000', 'huge');
    expect(max.status).toBe(200);
    expect(max.body.instances).toHaveLength(1000);
    expect(Buffer.byteLength(JSON.stringify(max.body))).toBeLessThan(2 * 1024 * 1024);
  }, 60_000);
});
