// 0009: a vnf / k8s session's plan in a row of its own. In the session row's `phase` it made every
// read of the session (each GET, each change-feed read of the engine) and every write of its phase
// carry the whole plan: 3.9 MB of JSON at 10,000 hosts. It is written once per plan and read when
// the engine loads the session or someone asks for the plan.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('session_plans')
    .addColumn('session_id', 'varchar(64)', (c) => c.primaryKey().references('sessions.id').onDelete('cascade'))
    .addColumn('plan_key', 'varchar(64)', (c) => c.notNull())
    .addColumn('plan', 'text', (c) => c.notNull())
    .execute();
  const d = db as Kysely<{ sessions: { id: string; phase: string }; session_plans: { session_id: string; plan_key: string; plan: string } }>;
  for (const s of await d.selectFrom('sessions').select(['id', 'phase']).where('phase', 'like', '%"plan":{%').execute()) {
    const { plan, ...rest } = JSON.parse(s.phase) as { plan?: { at: number; attempt?: number } | null };
    if (!plan) continue;
    await d.insertInto('session_plans').values({ session_id: s.id, plan_key: planKey(plan), plan: JSON.stringify(plan) }).execute();
    await d.updateTable('sessions').set({ phase: JSON.stringify(rest) }).where('id', '=', s.id).execute();
  }
}

/** A plan is made once per attempt and never changed: when and for which attempt name it. */
export const planKey = (p: { at: number; attempt?: number }): string => `${p.attempt ?? 0}:${p.at}`;
