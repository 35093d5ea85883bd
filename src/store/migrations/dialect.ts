// The few places where SQLite and PostgreSQL differ, as a capability table instead of scattered ifs.
import { PostgresAdapter, sql, type ColumnDefinitionBuilder, type Kysely, type Transaction } from 'kysely';

export const isPg = (db: Kysely<unknown>): boolean => db.getExecutor().adapter instanceof PostgresAdapter;

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

/**
 * PostgreSQL: let this transaction commit without waiting for its WAL flush (`synchronous_commit =
 * off`, this transaction only). It is still atomic and survives any crash of our processes; only a
 * crash of the database server itself can lose it, in the last fraction of a second. Use it only
 * for writes that are re-derived if lost (the engine decides again, the simulator is a test cloud),
 * never before an external effect (an intent the engine then carries out) or for what a client was
 * told is stored (a reply). SQLite: nothing to do (WAL with synchronous=NORMAL).
 */
export async function relaxedCommit<T>(trx: Transaction<T>): Promise<void> {
  const t = trx as unknown as Kysely<unknown>;
  if (isPg(t)) await sql`set local synchronous_commit = off`.execute(t);
}
