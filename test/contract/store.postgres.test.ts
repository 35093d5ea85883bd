// The store contract against PostgreSQL (FENIX_TEST_PG, default the local server CI starts): every
// test gets a fresh schema, dropped afterwards unless the test failed. An unreachable server fails
// the suite; it never skips.
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.js';
import type { KyselyStore } from '../../src/store/kysely-store.js';
import { openPostgresStore } from '../../src/store/postgres/index.js';
import { dropSchema, freshSchema, requirePostgres, schemaExists, TEST_PG_URL } from '../helpers/pg.js';
import { describeStoreContract } from './store.contract.js';

// Checked once; every test that needs the server awaits it, so each one fails (not skips) with the
// reason when PostgreSQL is down.
const reachable = requirePostgres();
reachable.catch(() => {});
const pgStore = async (schema?: string) => {
  await reachable;
  return openPostgresStore(TEST_PG_URL, schema === undefined ? {} : { schema });
};

describeStoreContract(
  'postgres',
  () => pgStore(freshSchema()),
  async (store, failed) => {
    const schema = (store as KyselyStore).schema!;
    if (failed) console.warn(`store contract: kept the failed test's schema ${schema} in ${TEST_PG_URL}`);
    else await dropSchema(schema);
  },
);

describe('PostgreSQL store setup', () => {
  const opened: KyselyStore[] = [];
  const schemas: string[] = [];
  const open = async (schema = freshSchema()) => {
    schemas.push(schema);
    const s = await pgStore(schema);
    opened.push(s);
    return s;
  };
  afterAll(async () => {
    for (const s of opened) await s.close().catch(() => {});
    for (const s of new Set(schemas)) await dropSchema(s);
  });

  it('is chosen by openStore for postgres:// and postgresql:// URLs', async () => {
    for (const url of [TEST_PG_URL, TEST_PG_URL.replace(/^postgres(ql)?:/, 'postgresql:')]) {
      const schema = freshSchema();
      schemas.push(schema);
      await reachable;
      const s = await openStore(url, { schema });
      opened.push(s);
      expect(s.dialect).toBe('postgres');
      expect(await schemaExists(schema)).toBe(true);
    }
  });

  it('migrates safely when several processes open the same new schema at once', async () => {
    const schema = freshSchema();
    const stores = await Promise.all([1, 2, 3, 4].map(() => open(schema)));
    await stores[0]!.createSession({
      session: {
        id: 's1', state: 'MAINTENANCE', workflow: 'default', maintenanceAt: 1, metadata: {}, actions: [], download: [],
        options: { replyWindowS: 1, scaleInReplyWindowS: 1, noSubscription: 'act', ownActionTimeoutS: 1, maxParallelHosts: 1 },
        phase: {}, createdAt: 1,
      },
      hosts: [{ name: 'h', type: 'compute' }],
      timeline: [],
    });
    for (const s of stores) expect((await s.listSessions()).map((x) => x.id)).toEqual(['s1']);
    const { rows } = await sql(`select name from "${schema}".kysely_migration order by name`);
    expect(rows.map((r) => r.name)).toEqual(expect.arrayContaining(['0001_initial']));
    expect(new Set(rows.map((r) => r.name)).size).toBe(rows.length);
  });

  it('keeps schemas apart and finds its own migrations beside other schemas', async () => {
    const a = await open();
    const b = await open();
    await a.createSubscription({ id: 'only-a', projectId: null, url: 'http://x', eventTypes: ['maintenance.session'], format: 'json', secret: null, createdAt: 1, delivered: 0 });
    expect(await a.listSubscriptions()).toHaveLength(1);
    expect(await b.listSubscriptions()).toHaveLength(0);
  });

  it('parses int8 as numbers in its own pool only, leaving pg global parsers alone', async () => {
    const s = await open();
    expect(pg.types.getTypeParser(20)('12')).toBe('12');
    const c = new pg.Client({ connectionString: TEST_PG_URL });
    await c.connect();
    try {
      expect((await c.query('select 12::int8 as n')).rows[0].n).toBe('12');
    } finally {
      await c.end();
    }
    await s.createSession({
      session: {
        id: 'big', state: 'MAINTENANCE', workflow: 'default', maintenanceAt: 4_102_444_800_000, metadata: {}, actions: [], download: [],
        options: { replyWindowS: 1, scaleInReplyWindowS: 1, noSubscription: 'act', ownActionTimeoutS: 1, maxParallelHosts: 1 },
        phase: {}, createdAt: 4_102_444_800_000,
      },
      hosts: [],
      timeline: [],
    });
    const got = (await s.getSession('big'))!;
    expect(got.maintenanceAt).toBe(4_102_444_800_000);
    expect(await s.nextWakeAt()).toBe(4_102_444_800_000);
  });

  it('fails to open when the server is unreachable', async () => {
    await reachable;
    const url = new URL(TEST_PG_URL);
    url.port = '1';
    await expect(openPostgresStore(url.toString())).rejects.toThrow();
  });

  it('refuses a schema name it would have to quote', async () => {
    await expect(openPostgresStore(TEST_PG_URL, { schema: 'a"; drop table x; --' })).rejects.toThrow(/invalid schema name/);
  });
});

async function sql(text: string): Promise<pg.QueryResult> {
  const c = new pg.Client({ connectionString: TEST_PG_URL });
  await c.connect();
  try {
    return await c.query(text);
  } finally {
    await c.end();
  }
}
