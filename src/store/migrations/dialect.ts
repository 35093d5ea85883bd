// The few places where SQLite and PostgreSQL DDL differ, as a capability table instead of scattered ifs.
import { PostgresAdapter, type ColumnDefinitionBuilder, type Kysely } from 'kysely';

const isPg = (db: Kysely<unknown>): boolean => db.getExecutor().adapter instanceof PostgresAdapter;

/** Auto-incrementing integer id column type. */
export const serialId = (db: Kysely<unknown>) => (isPg(db) ? 'bigserial' : 'integer') as 'integer';

export const serialIdOpts = (db: Kysely<unknown>, c: ColumnDefinitionBuilder): ColumnDefinitionBuilder =>
  isPg(db) ? c.primaryKey() : c.primaryKey().autoIncrement();
