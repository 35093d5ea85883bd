// PostgreSQL (node-postgres pool) behind the Store port: one database shared by any number of API and
// engine processes. The queries are the same KyselyStore as SQLite; this file only sets up the pool.
//
// Migrations at open are safe when several processes start at once: Kysely's Migrator, on
// PostgreSQL, takes a session-level `pg_advisory_lock(3853314791062309107)` on one connection
// (lock_timeout 1 h), runs the pending migrations in one transaction (DDL is transactional), then
// unlocks; a second process waits for the lock and then finds nothing left to do. The lock id is
// per database, so stores in different schemas migrate one after the other, which is harmless.
import { CompiledQuery, Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { KyselyStore } from '../kysely-store.js';
import type { DB } from '../schema.js';
import { scriptRunner } from './script.js';

export interface PostgresStoreOptions {
  /**
   * Put every table in this schema (created if missing) by setting each connection's search_path,
   * e.g. a fresh schema per test run. Default: the server's search_path (normally `public`).
   */
  schema?: string;
  /** Connections in the pool (default 10). */
  max?: number;
  /** An idle pooled connection failed (server restart, network); the pool has already dropped it. */
  onError?: (e: Error) => void;
}

const INT8_OID = 20;

/**
 * bigint columns hold ms timestamps and ids, all far below 2^53: return them as numbers like SQLite
 * does (pg's default is a string). Refuse, rather than round, a value a number cannot hold.
 */
function parseInt8(v: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new RangeError(`int8 value ${v} is outside the safe integer range`);
  return n;
}

/** Type parsers for this pool only (pg.types.setTypeParser would change every pool in the process). */
const types = {
  getTypeParser: (oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary' ? parseInt8 : pg.types.getTypeParser(oid, format),
} as pg.CustomTypesConfig;

const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

export async function openPostgresStore(url: string, opts: PostgresStoreOptions = {}): Promise<KyselyStore> {
  const { schema } = opts;
  if (schema !== undefined && !SCHEMA_NAME.test(schema))
    throw new Error(`invalid schema name ${JSON.stringify(schema)}: use letters, digits and _ (at most 63)`);
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max ?? 10,
    types,
    application_name: 'fenix',
  });
  pool.on('error', opts.onError ?? (() => {}));
  const db = new Kysely<DB>({
    dialect: new PostgresDialect({
      pool,
      // Once per new connection (not per checkout); the name is validated above.
      ...(schema !== undefined && {
        onCreateConnection: async (c) => {
          await c.executeQuery(CompiledQuery.raw(`set search_path to "${schema}"`));
        },
      }),
    }),
  });
  try {
    if (schema !== undefined) await createSchema(db, schema);
    const current = await sql<{ s: string | null }>`select current_schema() as s`.execute(db);
    const migrationSchema = current.rows[0]?.s;
    if (!migrationSchema) throw new Error('no schema to create tables in: the search_path names no existing schema');
    // The migrator must look for its own tables in this schema only: by default it would take a
    // kysely_migration table in any other schema of the database as its own.
    const store = new KyselyStore(db, 'postgres', { schema: migrationSchema, script: scriptRunner(pool) });
    await store.migrate();
    return store;
  } catch (e) {
    await db.destroy();
    throw e;
  }
}

async function createSchema(db: Kysely<DB>, schema: string): Promise<void> {
  try {
    await db.schema.createSchema(schema).ifNotExists().execute();
  } catch (e) {
    // Two processes creating it at once: `if not exists` can still fail on the catalog's unique index.
    const r = await sql<{ n: number }>`select count(*) as n from pg_namespace where nspname = ${schema}`.execute(db);
    if (Number(r.rows[0]?.n) !== 1) throw e;
  }
}
