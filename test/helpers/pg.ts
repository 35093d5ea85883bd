// PostgreSQL for tests: the server CI starts (.ci/run), a fresh schema per store, and a clear failure
// (never a skip) when the server is not there.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const TEST_PG_URL = process.env.FENIX_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Schemas made by one test process share this prefix. */
export const RUN_PREFIX = `fenix_test_${process.pid}_${randomBytes(3).toString('hex')}`;

let n = 0;
export const freshSchema = (): string => `${RUN_PREFIX}_${n++}`;

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Throws, saying how to fix it, when PostgreSQL is unreachable: the suite must fail, not skip. */
export async function requirePostgres(url = TEST_PG_URL): Promise<void> {
  try {
    await withClient(url, (c) => c.query('select 1'));
  } catch (e) {
    throw new Error(
      `PostgreSQL is not reachable at ${url} (${String(e)}). Start it (bash .ci/run does: ` +
        `pg_ctlcluster --skip-systemctl-redirect <version> main start) or point FENIX_TEST_PG at one.`,
    );
  }
}

export async function dropSchema(schema: string, url = TEST_PG_URL): Promise<void> {
  await withClient(url, (c) => c.query(`drop schema if exists "${schema}" cascade`));
}

export async function schemaExists(schema: string, url = TEST_PG_URL): Promise<boolean> {
  return withClient(url, async (c) => (await c.query('select 1 from pg_namespace where nspname = $1', [schema])).rowCount === 1);
}
