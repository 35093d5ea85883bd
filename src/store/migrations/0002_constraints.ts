// 0002: instance and instance-group constraints (spec §5), and per-instance asks of the vnf / k8s
// workflows (PREPARE/PLANNED_MAINTENANCE per instance, answered on the per-instance reply URL).
// One ALTER per column: SQLite adds a single column per statement.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('instance_constraints')
    .addColumn('instance_id', 'varchar(255)', (c) => c.primaryKey())
    .addColumn('project_id', 'varchar(255)', (c) => c.notNull())
    .addColumn('group_id', 'varchar(255)')
    .addColumn('instance_name', 'varchar(255)')
    .addColumn('max_interruption_time', 'double precision')
    .addColumn('migration_type', 'varchar(32)')
    .addColumn('resource_mitigation', 'integer')
    .addColumn('lead_time', 'double precision')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('instance_constraints_project').on('instance_constraints').column('project_id').execute();

  await db.schema
    .createTable('instance_group_constraints')
    .addColumn('group_id', 'varchar(255)', (c) => c.primaryKey())
    .addColumn('project_id', 'varchar(255)', (c) => c.notNull())
    .addColumn('group_name', 'varchar(255)')
    .addColumn('anti_affinity_group', 'integer')
    .addColumn('max_instances_per_host', 'integer')
    .addColumn('max_impacted_members', 'integer')
    .addColumn('recovery_time', 'double precision')
    .addColumn('resource_mitigation', 'integer')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('instance_group_constraints_project').on('instance_group_constraints').column('project_id').execute();

  // Per-instance ask (same meaning as the session_projects columns of the same names).
  for (const [name, type] of [
    ['ask_state', 'varchar(32)'],
    ['ask_key', 'varchar(400)'],
    ['notified_at', 'bigint'],
    ['reply_at', 'bigint'],
    ['reply', 'varchar(64)'],
    ['replied_at', 'bigint'],
  ] as const)
    await db.schema.alterTable('session_instances').addColumn(name, type).execute();
}
