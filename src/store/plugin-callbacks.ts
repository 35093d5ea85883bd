// Plug-in callbacks (0010) over Kysely: the API stores what a job reported for a running plug-in
// run; the engine's run reads it by the op's id. Each costs a lookup by index: the session's runs of
// that plug-in (ops_session_subject) with their reports, then the run's one row.
import type { Kysely } from 'kysely';
import type { PluginCallbackInput, PluginCallbackOutcome, StoredPluginCallback } from '../ports/store.js';
import type { DB } from './schema.js';

export async function recordPluginCallback(db: Kysely<DB>, c: PluginCallbackInput): Promise<PluginCallbackOutcome> {
  return db.transaction().execute(async (trx) => {
    const session = await trx.selectFrom('sessions').select(['id', 'deleting']).where('id', '=', c.sessionId).executeTakeFirst();
    if (!session || Number(session.deleting) === 1) return { result: 'no_session' };
    const runs = await trx
      .selectFrom('ops')
      .leftJoin('plugin_callbacks', 'plugin_callbacks.op_id', 'ops.id')
      .select(['ops.id as id', 'ops.args as args', 'ops.status as status', 'plugin_callbacks.state as reported'])
      .where('ops.session_id', '=', c.sessionId)
      .where('ops.subject', '=', c.plugin)
      .where('ops.kind', '=', 'plugin')
      .execute();
    // A run of a host (host, compute, controller, verify) names it; pre and post runs have none.
    const mine = runs.filter((r) => ((JSON.parse(r.args) as { host?: string }).host ?? null) === c.host);
    const run = mine.find((r) => r.status === 'started');
    if (!run) {
      // Over already: the same report again is answered as before (a job system retries), another one is not.
      const last = mine.filter((r) => r.reported !== null).sort((a, b) => Number(b.id) - Number(a.id))[0];
      if (!last) return { result: 'no_run' };
      return last.reported === c.state ? { result: 'duplicate', opId: Number(last.id) } : { result: 'conflict', opId: Number(last.id), state: last.reported as 'DONE' | 'FAILED' };
    }
    const opId = Number(run.id);
    const inserted = await trx
      .insertInto('plugin_callbacks')
      .values({ op_id: opId, session_id: c.sessionId, state: c.state, output: c.output, at: c.at })
      .onConflict((oc) => oc.column('op_id').doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0) return { result: 'accepted', opId };
    const stored = await trx.selectFrom('plugin_callbacks').select(['state']).where('op_id', '=', opId).executeTakeFirstOrThrow();
    return stored.state === c.state ? { result: 'duplicate', opId } : { result: 'conflict', opId, state: stored.state as 'DONE' | 'FAILED' };
  });
}

export async function pluginCallback(db: Kysely<DB>, opId: number): Promise<StoredPluginCallback | undefined> {
  const r = await db.selectFrom('plugin_callbacks').selectAll().where('op_id', '=', opId).executeTakeFirst();
  return r ? { state: r.state as 'DONE' | 'FAILED', output: r.output, at: Number(r.at) } : undefined;
}
