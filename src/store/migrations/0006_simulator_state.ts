// 0006: the in-process simulated cloud's state, row by row (ports/simulator-state.ts), so that a
// restarted `fenix serve` (any store, PostgreSQL included) finds its moves and idempotency keys, and
// one change writes one row instead of the whole cloud. Each table: a key and a JSON document.
// Keys are text: instance ids and idempotency keys (session id + op key) have no fixed bound.
import type { Kysely } from 'kysely';

export const SIMULATOR_STATE_TABLES = ['simulator_hosts', 'simulator_instances', 'simulator_ops', 'simulator_keys', 'simulator_meta'] as const;

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const t of SIMULATOR_STATE_TABLES)
    await db.schema
      .createTable(t)
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('data', 'text', (c) => c.notNull())
      .execute();
}
