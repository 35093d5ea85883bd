// 0007: indexes for the session detail's paged reads (GET /v1/maintenance/{id}/detail), so a page,
// a list's count and the "waiting for" line cost what they read, whatever the session's size:
// - hosts page by position;
// - plug-in runs by (kind, id), and an instance's moves by subject (the page's instances only);
// - ops in flight by status, projects awaiting a reply, per-instance asks (the "waiting for" line).
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('session_hosts_position').on('session_hosts').columns(['session_id', 'position']).execute();
  await db.schema.createIndex('ops_session_kind').on('ops').columns(['session_id', 'kind', 'id']).execute();
  await db.schema.createIndex('ops_session_subject').on('ops').columns(['session_id', 'subject']).execute();
  await db.schema.createIndex('ops_session_status').on('ops').columns(['session_id', 'status']).execute();
  await db.schema.createIndex('session_projects_awaiting').on('session_projects').columns(['session_id', 'awaiting']).execute();
  await db.schema.createIndex('session_instances_ask').on('session_instances').columns(['session_id', 'ask_state']).execute();
}
