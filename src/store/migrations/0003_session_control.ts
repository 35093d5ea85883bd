// 0003: session control. `paused_at` lets resume extend deadlines by the pause; `control` holds an
// admin command (continue / resume / abort) for the engine to apply under its lease.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('sessions').addColumn('paused_at', 'bigint').execute();
  await db.schema.alterTable('sessions').addColumn('control', 'text').execute();
}
