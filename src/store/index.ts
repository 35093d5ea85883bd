// Opens the store a `--db` value names: a postgres:// or postgresql:// URL → PostgreSQL, anything else
// a SQLite file path (or `:memory:`). Each dialect's driver is loaded only when it is used.
import type { KyselyStore } from './kysely-store.js';

export const isPostgresUrl = (db: string): boolean => /^postgres(ql)?:\/\//i.test(db);

export interface OpenStoreOptions {
  /** PostgreSQL only: keep every table in this schema (created if missing). */
  schema?: string;
  /** PostgreSQL only: an idle pooled connection failed (the pool has dropped it); e.g. log it. */
  onError?: (e: Error) => void;
}

export async function openStore(db: string, opts: OpenStoreOptions = {}): Promise<KyselyStore> {
  if (isPostgresUrl(db)) {
    const { openPostgresStore } = await import('./postgres/index.js');
    return openPostgresStore(db, opts);
  }
  if (opts.schema !== undefined) throw new Error('a schema applies to PostgreSQL only');
  const { openSqliteStore } = await import('./sqlite/index.js');
  return openSqliteStore(db);
}
