// compiledOnce (src/store/compiled.ts): a query compiled once answers as the same query built per call.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compiledOnce } from '../../src/store/compiled.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import type { KyselyStore } from '../../src/store/kysely-store.js';

describe('compiledOnce', () => {
  let store: KyselyStore;
  beforeAll(async () => {
    store = await openSqliteStore(':memory:');
    await store.db
      .insertInto('subscriptions')
      .values(['a', 'b', 'c'].map((id, i) => ({ id, project_id: i < 2 ? 'p1' : 'p2', url: `http://x/${id}`, event_types: '[]', format: 'aodh', secret: null, created_at: i, delivered: 0 })))
      .execute();
  });
  afterAll(() => store.close());

  it('binds each call\'s values in place of the placeholders, keeping the query\'s own constants', async () => {
    const byProject = compiledOnce(store.db, 2, (d, project: string, after: number) =>
      d.selectFrom('subscriptions').select('id').where('project_id', '=', project).where('created_at', '>=', after).where('format', '=', 'aodh').orderBy('id'),
    );
    expect((await byProject(store.db, 'p1', 0)).rows.map((r) => r.id)).toEqual(['a', 'b']);
    expect((await byProject(store.db, 'p1', 1)).rows.map((r) => r.id)).toEqual(['b']);
    expect((await byProject(store.db, 'p2', 0)).rows.map((r) => r.id)).toEqual(['c']);
    // In a transaction too.
    expect(await store.db.transaction().execute(async (trx) => (await byProject(trx, 'p2', 5)).rows)).toEqual([]);
  });

  it('refuses a builder that does not bind every argument as a value', () => {
    expect(() => compiledOnce(store.db, 2 as never, (d, project: string) => d.selectFrom('subscriptions').select('id').where('project_id', '=', project))).toThrow(/not a bound parameter/);
  });
});
