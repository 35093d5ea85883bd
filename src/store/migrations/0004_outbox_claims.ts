// 0004: outbox claims. With several engines (each with a relay) on one database, a relay claims the
// head row of a subscription before delivering it, so two relays never send the same row at once
// and a receiver still sees its notifications in order.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('outbox').addColumn('claimed_by', 'varchar(128)').execute();
  await db.schema.alterTable('outbox').addColumn('claimed_until', 'bigint').execute();
}
