// 0008: a project's instances of a session in instance order straight from one index. With only
// (session_id, project_id), SQLite preferred the primary key (session_id, instance_id) to avoid the
// sort, and read every instance of the session to answer one project's GET.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('session_instances_project_order').on('session_instances').columns(['session_id', 'project_id', 'instance_id']).execute();
}
