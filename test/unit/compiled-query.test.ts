// compiledOnce (src/store/compiled.ts): a query compiled once answers as the same query built per call.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compiledOnce, Shapes } from '../../src/store/compiled.js';
import { insertRows, updateWhere } from '../../src/store/shaped-writes.js';
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

describe('Shapes: statements compiled once per shape', () => {
  let store: KyselyStore;
  beforeAll(async () => {
    store = await openSqliteStore(':memory:');
  });
  afterAll(() => store.close());

  it('answers as the statements built per call: inserts of any row count, updates of any column set, constants kept', async () => {
    const shapes = new Shapes(store.db);
    const sub = (id: string, i: number) => ({ id, project_id: 'p1', url: `http://x/${id}`, event_types: '[]', format: 'aodh', secret: null, created_at: i, delivered: 0 });
    const ins = (rows: ReturnType<typeof sub>[]) => insertRows<{ id: string }>(shapes, 'subscriptions', rows, { conflict: { cols: ['id'], update: ['url'] }, returning: ['id'] });
    expect((await store.db.executeQuery(ins([sub('a', 0), sub('b', 1)]))).rows.map((r) => r.id)).toEqual(['a', 'b']);
    expect((await store.db.executeQuery(ins([sub('c', 2)]))).rows.map((r) => r.id)).toEqual(['c']);
    // The same shape again, other values: an upsert of a known row updates the column named.
    await store.db.executeQuery(ins([{ ...sub('a', 0), url: 'http://y/a' }, sub('d', 3)]));
    const upd = (set: Record<string, unknown>, ids: string[]) => updateWhere(shapes, 'subscriptions', set, { project_id: 'p1' }, { in: { col: 'id', values: ids } });
    await store.db.executeQuery(upd({ format: 'json' }, ['b', 'c']));
    await store.db.executeQuery(upd({ format: 'oslo', delivered: 1 }, ['d']));
    await store.db.executeQuery(upd({ format: 'json' }, ['a'])); // the first shape, one id: another shape
    const rows = await store.db.selectFrom('subscriptions').select(['id', 'url', 'format', 'delivered']).orderBy('id').execute();
    expect(rows).toEqual([
      { id: 'a', url: 'http://y/a', format: 'json', delivered: 0 },
      { id: 'b', url: 'http://x/b', format: 'json', delivered: 0 },
      { id: 'c', url: 'http://x/c', format: 'json', delivered: 0 },
      { id: 'd', url: 'http://x/d', format: 'oslo', delivered: 1 },
    ]);
    // The SQL of a shape is Kysely's, and the same as built per call.
    const direct = store.db.updateTable('subscriptions').set({ format: 'json' }).where('project_id', '=', 'p1').where('id', 'in', ['a']).compile();
    const shaped = upd({ format: 'json' }, ['a']);
    expect([shaped.sql, shaped.parameters]).toEqual([direct.sql, direct.parameters]);
  });

  it('refuses a shape that does not bind each of its values', () => {
    const shapes = new Shapes(store.db);
    expect(() => shapes.query('bad', ['x', 'y'], (db, arg) => db.selectFrom('subscriptions').select('id').where('id', '=', arg(0)))).toThrow(/does not bind/);
    expect(() => insertRows(shapes, 'subscriptions', [{ id: 'a' }, { id: 'b', url: 'u' }])).toThrow(/different columns/);
  });
});
