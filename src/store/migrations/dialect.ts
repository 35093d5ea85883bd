// The few places where SQLite and PostgreSQL differ, as a capability table instead of scattered ifs.
import { PostgresAdapter, type ColumnDefinitionBuilder, type Kysely } from 'kysely';

const isPg = (db: Kysely<unknown>): boolean => db.getExecutor().adapter instanceof PostgresAdapter;

/** Auto-incrementing integer id column type. */
export const serialId = (db: Kysely<unknown>) => (isPg(db) ? 'bigserial' : 'integer') as 'integer';

export const serialIdOpts = (db: Kysely<unknown>, c: ColumnDefinitionBuilder): ColumnDefinitionBuilder =>
  isPg(db) ? c.primaryKey() : c.primaryKey().autoIncrement();

export interface Capabilities {
  /**
   * `SELECT ... FOR UPDATE / FOR SHARE`. PostgreSQL runs transactions concurrently (READ COMMITTED),
   * so a read that a write depends on (the fence before updating an op, the awaited state before
   * accepting a reply) must lock its row. SQLite has no row locks and needs none: it runs one write
   * transaction at a time.
   */
  rowLocks: boolean;
}

export const CAPABILITIES: Record<'sqlite' | 'postgres', Capabilities> = {
  sqlite: { rowLocks: false },
  postgres: { rowLocks: true },
};
