// 0010: outcomes that external jobs report for a plug-in run (PUT /v1/maintenance/{session_id}/{host}/{plugin},
// Fenix 2020's plug-in callback). One per run (the op), kept apart from the op row, which only the
// session's engine writes (under its fence); the run reads it by the op's id.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('plugin_callbacks')
    .addColumn('op_id', 'bigint', (c) => c.primaryKey().references('ops.id').onDelete('cascade'))
    .addColumn('session_id', 'varchar(64)', (c) => c.notNull().references('sessions.id').onDelete('cascade'))
    .addColumn('state', 'varchar(16)', (c) => c.notNull())
    .addColumn('output', 'text')
    .addColumn('at', 'bigint', (c) => c.notNull())
    .execute();
}
