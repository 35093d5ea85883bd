// The session detail's reads (ports/detail-reads.ts) over Kysely. Each list is read a page at a
// time by keyset on an index (0001 primary keys, 0005 and 0007 indexes), counted by the same
// index, and the "waiting for" facts are the few rows they name plus a count: a page costs the rows
// it answers (and a count its index entries), never the session's size in rows read and parsed.
import { sql, type Kysely, type Transaction } from 'kysely';
import type { DetailKeys, DetailList, DetailPages, DetailQuery, Page, ReplyKey, SessionDetail, WaitingFacts } from '../ports/detail-reads.js';
import { DETAIL_PAGE } from '../ports/detail-reads.js';
import type { DB } from './schema.js';
import * as row from './rows.js';

type Trx = Transaction<DB>;

/** One snapshot (repeatable read on PostgreSQL; SQLite's read transaction is one anyway). */
export async function readDetail(db: Kysely<DB>, id: string, q: DetailQuery): Promise<SessionDetail | undefined> {
  return db
    .transaction()
    .setIsolationLevel('repeatable read')
    .execute(async (trx) => {
      const s = await trx.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst();
      if (!s) return undefined;
      const pages: Partial<DetailPages> = {};
      // One query at a time: a transaction is one connection.
      for (const list of q.lists) (pages as Record<DetailList, unknown>)[list] = await PAGES[list](trx, id, q.limit, q.after[list] as never);
      return { session: row.session(s), waiting: await waitingFacts(trx, id), pages };
    });
}

/** limit+1 rows read tell whether there is a next page; its key is that of the page's last row. */
function paged<R, T, K>(rows: R[], limit: number, total: number, map: (r: R) => T, key: (r: R) => K): Page<T, K> {
  const more = rows.length > limit;
  const page = more ? rows.slice(0, limit) : rows;
  return { rows: page.map(map), total, next: more ? key(page.at(-1)!) : null };
}

/** A first page that is not full is the whole list: no need to count it. */
const totalOf = async (read: number, limit: number, after: unknown, counted: () => Promise<number>): Promise<number> =>
  after === undefined && read <= limit ? read : counted();

const count = async (q: { executeTakeFirstOrThrow(): Promise<{ n: unknown }> }): Promise<number> => Number((await q.executeTakeFirstOrThrow()).n);

const PAGES: { [L in DetailList]: (trx: Trx, id: string, limit: number, after: DetailKeys[L] | undefined) => Promise<DetailPages[L]> } = {
  async hosts(trx, id, limit, after) {
    const base = trx.selectFrom('session_hosts').where('session_id', '=', id);
    const rows = await base
      .selectAll()
      .$if(after !== undefined, (x) => x.where('position', '>', after!))
      .orderBy('position')
      .limit(limit + 1)
      .execute();
    const total = await totalOf(rows.length, limit, after, () => count(base.select((eb) => eb.fn.countAll().as('n'))));
    return paged(rows, limit, total, row.host, (r) => Number(r.position));
  },

  async projects(trx, id, limit, after) {
    const base = trx.selectFrom('session_projects').where('session_id', '=', id);
    const rows = await base
      .selectAll()
      .$if(after !== undefined, (x) => x.where('project_id', '>', after!))
      .orderBy('project_id')
      .limit(limit + 1)
      .execute();
    const total = await totalOf(rows.length, limit, after, () => count(base.select((eb) => eb.fn.countAll().as('n'))));
    return paged(rows, limit, total, row.project, (r) => r.project_id);
  },

  async instances(trx, id, limit, after) {
    const base = trx.selectFrom('session_instances').where('session_id', '=', id);
    const rows = await base
      .selectAll()
      .$if(after !== undefined, (x) => x.where('instance_id', '>', after!))
      .orderBy('instance_id')
      .limit(limit + 1)
      .execute();
    const total = await totalOf(rows.length, limit, after, () => count(base.select((eb) => eb.fn.countAll().as('n'))));
    const page = paged(rows, limit, total, row.instance, (r) => r.instance_id);
    // The moves of this page's instances only, by the (session_id, subject) index: kind and order
    // are applied here, or SQLite would walk every move of the session by (kind, id).
    const ids = page.rows.map((i) => i.instanceId);
    const ops = ids.length ? await trx.selectFrom('ops').selectAll().where('session_id', '=', id).where('subject', 'in', ids).execute() : [];
    const by = new Map<string, ReturnType<typeof row.op>[]>();
    for (const m of ops.sort((a, b) => Number(a.id) - Number(b.id))) {
      if (m.kind !== 'move') continue;
      const o = row.op(m);
      const list = by.get(o.subject);
      if (list) list.push(o);
      else by.set(o.subject, [o]);
    }
    return { ...page, rows: page.rows.map((i) => Object.assign({}, i, { moveOps: by.get(i.instanceId) ?? [] })) };
  },

  async plugin_runs(trx, id, limit, after) {
    const base = trx.selectFrom('ops').where('session_id', '=', id).where('kind', '=', 'plugin');
    const rows = await base
      .selectAll()
      .$if(after !== undefined, (x) => x.where('id', '>', after!))
      .orderBy('id')
      .limit(limit + 1)
      .execute();
    const total = await totalOf(rows.length, limit, after, () => count(base.select((eb) => eb.fn.countAll().as('n'))));
    return paged(rows, limit, total, row.op, (r) => Number(r.id));
  },

  async operations(trx, id, limit, after) {
    const base = trx.selectFrom('ops').where('session_id', '=', id);
    const rows = await base
      .selectAll()
      .$if(after !== undefined, (x) => x.where('id', '>', after!))
      .orderBy('id')
      .limit(limit + 1)
      .execute();
    const total = await totalOf(rows.length, limit, after, () => count(base.select((eb) => eb.fn.countAll().as('n'))));
    return paged(rows, limit, total, row.op, (r) => Number(r.id));
  },

  async deliveries(trx, id, limit, after) {
    const base = trx.selectFrom('outbox').where('session_id', '=', id);
    const rows = await base
      .selectAll()
      .$if(after !== undefined, (x) => x.where('id', '>', after!))
      .orderBy('id')
      .limit(limit + 1)
      .execute();
    const total = await totalOf(rows.length, limit, after, () => count(base.select((eb) => eb.fn.countAll().as('n'))));
    return paged(rows, limit, total, row.outbox, (r) => Number(r.id));
  },

  /** Newest first: the first page is the latest entries; each page is returned in time order. */
  async timeline(trx, id, limit, after) {
    const base = trx.selectFrom('timeline').where('session_id', '=', id);
    const rows = await base
      .selectAll()
      .$if(after !== undefined, (x) => x.where('id', '<', after!))
      .orderBy('id', 'desc')
      .limit(limit + 1)
      .execute();
    const total = await totalOf(rows.length, limit, after, () => count(base.select((eb) => eb.fn.countAll().as('n'))));
    const page = paged(rows, limit, total, row.timeline, (r) => Number(r.id));
    return { ...page, rows: page.rows.reverse() };
  },

  async replies(trx, id, limit, after) {
    const base = trx.selectFrom('session_replies').where('session_id', '=', id);
    const rows = await base
      .selectAll()
      .$if(after !== undefined, (x) =>
        x.where((eb) => eb(eb.refTuple('project_id', 'instance_id', 'reply', 'accepted', 'digest'), '>', eb.tuple(...(after as ReplyKey)))),
      )
      .orderBy('project_id')
      .orderBy('instance_id')
      .orderBy('reply')
      .orderBy('accepted')
      .orderBy('digest')
      .limit(limit + 1)
      .execute();
    const total = await totalOf(rows.length, limit, after, () => count(base.select((eb) => eb.fn.countAll().as('n'))));
    return paged(
      rows,
      limit,
      total,
      (r) => ({
        projectId: r.project_id,
        instanceId: r.instance_id === '' ? null : r.instance_id,
        reply: r.reply,
        accepted: Number(r.accepted) === 1,
        count: Number(r.count),
        firstAt: Number(r.first_at),
        lastAt: Number(r.last_at),
      }),
      (r): ReplyKey => [r.project_id, r.instance_id, r.reply, Number(r.accepted), r.digest],
    );
  },
};

/**
 * Order by a column's value without letting SQLite walk the column's index in order: SQLite keeps no
 * statistics here and would rather scan a whole session's rows in key order than sort the few rows
 * the filter's index finds (PostgreSQL sorts them either way). Same order as the column.
 */
const unindexed = (column: string) => sql`${sql.ref(column)} || ''`;

const until = (v: unknown): number | null => (v == null ? null : Number(v));

/** The few rows "waiting for" names, their count and earliest deadline; each by its index (0007). */
async function waitingFacts(trx: Trx, id: string): Promise<WaitingFacts> {
  const n = DETAIL_PAGE.waitingNames;
  const projects = trx.selectFrom('session_projects').where('session_id', '=', id).where('awaiting', 'is not', null).where('reply', 'is', null);
  const pFirst = await projects.select(['project_id', 'awaiting']).orderBy(unindexed('project_id')).limit(n).execute();
  const pAgg = await projects.select((eb) => [eb.fn.countAll().as('n'), eb.fn.min('reply_at').as('until')]).executeTakeFirstOrThrow();

  const instances = trx
    .selectFrom('session_instances')
    .where('session_id', '=', id)
    .where('ask_state', 'is not', null)
    .where('reply', 'is', null)
    .where('status', '!=', 'gone');
  const iFirst = await instances.select(['project_id', 'instance_id', 'ask_state']).orderBy(unindexed('instance_id')).limit(n).execute();
  const iAgg = await instances.select((eb) => [eb.fn.countAll().as('n'), eb.fn.min('reply_at').as('until')]).executeTakeFirstOrThrow();

  const ops = trx.selectFrom('ops').where('session_id', '=', id).where('status', 'in', ['started', 'pending']);
  const oFirst = await ops
    .select(['kind', 'subject', 'status', 'error'])
    .orderBy(sql`case when ${sql.ref('status')} = 'pending' and ${sql.ref('error')} is not null then 0 else 1 end`)
    .orderBy(sql`${sql.ref('id')} + 0`)
    .limit(n)
    .execute();
  const oCount = await count(ops.select((eb) => eb.fn.countAll().as('n')));

  return {
    silentProjects: { first: pFirst.map((p) => ({ projectId: p.project_id, awaiting: p.awaiting! })), count: Number(pAgg.n), until: until(pAgg.until) },
    silentInstances: {
      first: iFirst.map((i) => ({ projectId: i.project_id, instanceId: i.instance_id, askState: i.ask_state! })),
      count: Number(iAgg.n),
      until: until(iAgg.until),
    },
    inFlight: { first: oFirst.map((o) => ({ kind: o.kind, subject: o.subject, status: o.status, error: o.error })), count: oCount },
  };
}
