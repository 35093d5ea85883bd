// 0001: sessions, their hosts / projects / instances, intents (ops), timeline, subscriptions, outbox.
// Written with Kysely's schema builder so one migration serves SQLite and PostgreSQL alike.
// Times are integer milliseconds (bigint), booleans integers 0/1, JSON documents text.
import type { Kysely } from 'kysely';
import { serialId, serialIdOpts } from './dialect.js';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('sessions')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('state', 'varchar(32)', (c) => c.notNull())
    .addColumn('workflow', 'varchar(16)', (c) => c.notNull())
    .addColumn('maintenance_at', 'bigint', (c) => c.notNull())
    .addColumn('metadata', 'text', (c) => c.notNull())
    .addColumn('actions', 'text', (c) => c.notNull())
    .addColumn('download', 'text', (c) => c.notNull())
    .addColumn('options', 'text', (c) => c.notNull())
    .addColumn('phase', 'text', (c) => c.notNull())
    .addColumn('reason', 'text')
    .addColumn('paused', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('deleting', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('wake_at', 'bigint')
    .addColumn('percent_done', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addColumn('lease_owner', 'varchar(128)')
    .addColumn('lease_expires_at', 'bigint')
    .addColumn('fence', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.createIndex('sessions_wake').on('sessions').column('wake_at').execute();

  await db.schema
    .createTable('session_hosts')
    .addColumn('session_id', 'varchar(64)', (c) => c.notNull().references('sessions.id').onDelete('cascade'))
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addColumn('type', 'varchar(16)', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('original_enabled', 'integer')
    .addColumn('disabled_by_us', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('maintained_at', 'bigint')
    .addColumn('position', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('session_hosts_pk', ['session_id', 'name'])
    .execute();

  await db.schema
    .createTable('session_projects')
    .addColumn('session_id', 'varchar(64)', (c) => c.notNull().references('sessions.id').onDelete('cascade'))
    .addColumn('project_id', 'varchar(255)', (c) => c.notNull())
    .addColumn('interacting', 'integer', (c) => c.notNull())
    .addColumn('awaiting', 'varchar(32)')
    .addColumn('ask_key', 'varchar(300)')
    .addColumn('notified_at', 'bigint')
    .addColumn('reply_at', 'bigint')
    .addColumn('reply', 'varchar(64)')
    .addColumn('replied_at', 'bigint')
    .addColumn('last_reply', 'varchar(64)')
    .addColumn('last_reply_at', 'bigint')
    .addColumn('unreachable', 'integer', (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('session_projects_pk', ['session_id', 'project_id'])
    .execute();

  await db.schema
    .createTable('session_instances')
    .addColumn('session_id', 'varchar(64)', (c) => c.notNull().references('sessions.id').onDelete('cascade'))
    .addColumn('instance_id', 'varchar(255)', (c) => c.notNull())
    .addColumn('project_id', 'varchar(255)', (c) => c.notNull())
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addColumn('host', 'varchar(255)', (c) => c.notNull())
    .addColumn('origin_host', 'varchar(255)', (c) => c.notNull())
    .addColumn('vcpus', 'integer', (c) => c.notNull())
    .addColumn('floating_ip', 'integer', (c) => c.notNull())
    .addColumn('live_migratable', 'integer', (c) => c.notNull())
    .addColumn('action', 'varchar(32)')
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('moves', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('error', 'text')
    .addPrimaryKeyConstraint('session_instances_pk', ['session_id', 'instance_id'])
    .execute();

  await db.schema
    .createTable('ops')
    .addColumn('id', serialId(db), (c) => serialIdOpts(db, c))
    .addColumn('session_id', 'varchar(64)', (c) => c.notNull().references('sessions.id').onDelete('cascade'))
    .addColumn('key', 'varchar(400)', (c) => c.notNull())
    .addColumn('kind', 'varchar(32)', (c) => c.notNull())
    .addColumn('subject', 'varchar(255)', (c) => c.notNull())
    .addColumn('args', 'text', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('ref', 'varchar(255)')
    .addColumn('result', 'text')
    .addColumn('error', 'text')
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('started_at', 'bigint')
    .addColumn('finished_at', 'bigint')
    .addColumn('poll_at', 'bigint')
    .execute();
  await db.schema.createIndex('ops_key').unique().on('ops').columns(['session_id', 'key']).execute();

  await db.schema
    .createTable('timeline')
    .addColumn('id', serialId(db), (c) => serialIdOpts(db, c))
    .addColumn('session_id', 'varchar(64)', (c) => c.notNull().references('sessions.id').onDelete('cascade'))
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('kind', 'varchar(64)', (c) => c.notNull())
    .addColumn('message', 'text', (c) => c.notNull())
    .addColumn('data', 'text')
    .execute();
  await db.schema.createIndex('timeline_session').on('timeline').columns(['session_id', 'id']).execute();

  // Every event a session decided to send, whoever is subscribed: decisions stay idempotent.
  await db.schema
    .createTable('session_events')
    .addColumn('session_id', 'varchar(64)', (c) => c.notNull().references('sessions.id').onDelete('cascade'))
    .addColumn('key', 'varchar(400)', (c) => c.notNull())
    .addColumn('event_type', 'varchar(64)', (c) => c.notNull())
    .addColumn('project_id', 'varchar(255)')
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('session_events_pk', ['session_id', 'key'])
    .execute();

  await db.schema
    .createTable('subscriptions')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('project_id', 'varchar(255)')
    .addColumn('url', 'text', (c) => c.notNull())
    .addColumn('event_types', 'text', (c) => c.notNull())
    .addColumn('format', 'varchar(16)', (c) => c.notNull())
    .addColumn('secret', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('delivered', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();

  // Outbox rows are not tied to the session by a foreign key: deliveries outlive a deleted session
  // (the final maintenance.session event is sent after the rows are purged).
  await db.schema
    .createTable('outbox')
    .addColumn('id', serialId(db), (c) => serialIdOpts(db, c))
    .addColumn('message_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('event_key', 'varchar(400)', (c) => c.notNull())
    .addColumn('session_id', 'varchar(64)')
    .addColumn('subscription_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('event_type', 'varchar(64)', (c) => c.notNull())
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
    .addColumn('last_error', 'text')
    .addColumn('last_status', 'integer')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('delivered_at', 'bigint')
    .execute();
  await db.schema.createIndex('outbox_event').unique().on('outbox').columns(['event_key', 'subscription_id']).execute();
  await db.schema.createIndex('outbox_due').on('outbox').columns(['status', 'next_attempt_at']).execute();
  await db.schema.createIndex('outbox_session').on('outbox').column('session_id').execute();
}
