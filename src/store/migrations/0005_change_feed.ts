// 0005: what other processes write reaches the engine incrementally, and replies are stored once.
//
// - sessions.change_seq + session_changes: every write to a session by someone other than its
//   engine (a reply, an admin flag, a delivery outcome) bumps the session's counter under its row
//   lock and names what it touched. Per-session numbers are handed out in commit order (the row
//   lock serialises the writers), so an engine that has read up to N never misses a change below N.
// - change_counters + global_changes: the same for what is not one session's (subscriptions,
//   constraints).
// - session_replies: a reply is a row, counted when repeated, so replaying one costs no storage.
// - indexes for the API's reads by project and by host.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('sessions').addColumn('change_seq', 'bigint', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema
    .createTable('session_changes')
    .addColumn('session_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .addColumn('kind', 'varchar(16)', (c) => c.notNull())
    .addColumn('subject', 'varchar(512)')
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('session_changes_pk', ['session_id', 'seq'])
    .execute();

  await db.schema
    .createTable('change_counters')
    .addColumn('name', 'varchar(32)', (c) => c.primaryKey())
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .execute();
  await db.insertInto('change_counters' as never).values({ name: 'global', seq: 0 } as never).execute();
  await db.schema
    .createTable('global_changes')
    .addColumn('seq', 'bigint', (c) => c.primaryKey())
    .addColumn('kind', 'varchar(16)', (c) => c.notNull())
    .addColumn('subject', 'varchar(512)')
    .addColumn('at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('session_replies')
    .addColumn('session_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('project_id', 'varchar(255)', (c) => c.notNull())
    /** '' for a reply to the project URL. */
    .addColumn('instance_id', 'varchar(255)', (c) => c.notNull())
    .addColumn('reply', 'varchar(64)', (c) => c.notNull())
    .addColumn('accepted', 'integer', (c) => c.notNull())
    /** Digest of the reply's instance actions (own instances only): same digest, same reply. */
    .addColumn('digest', 'varchar(64)', (c) => c.notNull())
    .addColumn('instance_actions', 'text')
    .addColumn('count', 'integer', (c) => c.notNull())
    .addColumn('first_at', 'bigint', (c) => c.notNull())
    .addColumn('last_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('session_replies_pk', ['session_id', 'project_id', 'instance_id', 'reply', 'accepted', 'digest'])
    .execute();

  await db.schema.createIndex('session_instances_project').on('session_instances').columns(['session_id', 'project_id']).execute();
  await db.schema.createIndex('session_instances_host').on('session_instances').columns(['session_id', 'host']).execute();
  await db.schema.createIndex('outbox_session_id').on('outbox').columns(['session_id', 'id']).execute();
  await db.schema.createIndex('ops_session_id').on('ops').columns(['session_id', 'id']).execute();
}
