// The Store port over Kysely: one implementation for every SQL dialect. Dialect-specific setup
// (connections, pragmas, type parsers) lives in sqlite/ and postgres/.
import { randomUUID } from 'node:crypto';
import { Migrator, sql, type CompiledQuery, type Kysely, type Selectable, type Transaction } from 'kysely';
import { ownedConstraints, type Constraints, type GroupConstraint, type InstanceConstraint, type PersistedPlan } from '../domain/constraints.js';
import type { Decision } from '../domain/decision.js';
import type {
  OutboxRow,
  Phase,
  SessionControl,
  SessionHost,
  SessionRow,
  TimelineEntry,
} from '../domain/model.js';
import type { EventType } from '../domain/states.js';
import {
  STORAGE_LIMITS,
  type Applied,
  type Lease,
  type LoadedSnapshot,
  type NewSession,
  type OpPatch,
  type PluginCallbackInput,
  type PluginCallbackOutcome,
  type InstanceFilter,
  type ReplyInput,
  type ReplyOutcome,
  type SessionChanges,
  type Store,
  type StoredPluginCallback,
  type StoredSnapshot,
} from '../ports/store.js';
import type { Subscription } from '../ports/transport.js';
import { CAPABILITIES } from './migrations/dialect.js';
import { migrationProvider } from './migrations/index.js';
import { planKey } from './migrations/0009_session_plans.js';
import { FENCE_LOST_SQLSTATE } from './migrations/0011_fenced_commit.js';
import { inlineParameters, scriptStatement, type ScriptRunner, type ScriptStatement } from './postgres/script.js';
import type { DB } from './schema.js';
import * as row from './rows.js';
import { readDetail } from './detail-reads.js';
import { pluginCallback, recordPluginCallback } from './plugin-callbacks.js';
import { TableGrowth } from './table-stats.js';
import { RepeatTally, replyEffect, replyKey, replyReads, sortedActions } from './replies.js';
import { ReadCache, type ReadVersion } from './read-cache.js';
import { compiledOnce, Shapes } from './compiled.js';
import { insertRows, updateFromValues, updateWhere } from './shaped-writes.js';
import type { DetailQuery, SessionDetail } from '../ports/detail-reads.js';

class FenceLost extends Error {}

/** PostgreSQL types of the op columns an outcome patches (casts for UPDATE … FROM (VALUES …)). */
const OP_COLUMN_TYPES = {
  status: 'varchar',
  ref: 'varchar',
  result: 'text',
  error: 'text',
  attempts: 'integer',
  started_at: 'bigint',
  finished_at: 'bigint',
  poll_at: 'bigint',
} as const;

/** Advisory lock key serializing session creation on PostgreSQL ('fenix' in ASCII). */
const CREATE_LOCK = 0x66656e6978;

/**
 * A relay's claim on an outbox row: longer than one delivery attempt (webhook timeout 10 s), short
 * enough that the rows of a relay that died are sent by another soon after.
 */
const CLAIM_TTL_MS = 15_000;

/** The tables a session fills in bulk and then updates row by row (see table-stats.ts). */
type GrowingTable = 'session_hosts' | 'session_instances' | 'session_projects' | 'ops';

export class KyselyStore implements Store {
  /** PostgreSQL: rows inserted per table, to ANALYZE a table once it has grown (table-stats.ts). */
  private readonly growth = new TableGrowth<GrowingTable>();

  constructor(
    readonly db: Kysely<DB>,
    readonly dialect: 'sqlite' | 'postgres',
    opts: {
      /** PostgreSQL: the schema holding the tables (and the migrator's own). */
      schema?: string;
      /** PostgreSQL: runs a script of statements in one round trip (the engine's commits). */
      script?: ScriptRunner;
      /** SQLite: a number that moves whenever what this connection reads may have changed; the hot reads are then kept between changes (read-cache.ts). */
      readVersion?: ReadVersion;
    } = {},
  ) {
    this.schema = opts.schema;
    this.script = opts.script;
    const cache = opts.readVersion && new ReadCache(opts.readVersion);
    this.tally = new RepeatTally(db, (err) => console.error('writing counted reply repeats failed', err));
    this.replies = replyReads(db, cache);
    this.hot = hotReads(db, cache);
    this.shapes = new Shapes(db);
  }

  readonly schema: string | undefined;
  private readonly script: ScriptRunner | undefined;

  /** The commit's statements, compiled once per shape (shaped-writes.ts). */
  private readonly shapes: Shapes;

  /** The API's hottest reads, compiled once (compiled.ts). */
  private readonly hot: ReturnType<typeof hotReads>;
  private readonly replies: ReturnType<typeof replyReads>;

  /** Repeated replies, counted and written once a second (replies.ts). */
  private readonly tally: RepeatTally;

  async migrate(): Promise<void> {
    const { error, results } = await new Migrator({
      db: this.db,
      provider: migrationProvider,
      // Numbers were reserved by parallel work (0002 landed after 0003); each migration stands alone.
      allowUnorderedMigrations: true,
      ...(this.schema !== undefined && { migrationTableSchema: this.schema }),
    }).migrateToLatest();
    const failed = results?.find((r) => r.status === 'Error');
    if (error || failed) throw new Error(`migration ${failed?.migrationName ?? ''} failed: ${String(error)}`);
  }

  async close(): Promise<void> {
    await this.tally.flush().catch(() => {});
    await this.db.destroy();
  }

  // ---- sessions -------------------------------------------------------------------------------

  async createSession(n: NewSession): Promise<{ busy: { id: string; hosts: string[] }[] }> {
    const s = n.session;
    return this.db.transaction().execute(async (trx) => {
      // Two creates over the same hosts must not both pass the busy check: on PostgreSQL they are
      // serialized by a transaction-scoped advisory lock; SQLite runs one write transaction at a time.
      if (CAPABILITIES[this.dialect].rowLocks) await sql`select pg_advisory_xact_lock(${CREATE_LOCK})`.execute(trx);
      const busy = await activeOnHosts(trx, n.hosts.map((h) => h.name));
      if (busy.length) return { busy };
      await trx
        .insertInto('sessions')
        .values({
          id: s.id,
          state: s.state,
          workflow: s.workflow,
          maintenance_at: s.maintenanceAt,
          metadata: JSON.stringify(s.metadata),
          actions: JSON.stringify(s.actions),
          download: JSON.stringify(s.download),
          options: JSON.stringify(s.options),
          phase: JSON.stringify(s.phase),
          reason: null,
          paused: 0,
          deleting: 0,
          wake_at: s.createdAt,
          percent_done: 0,
          created_at: s.createdAt,
          updated_at: s.createdAt,
          lease_owner: null,
          lease_expires_at: null,
          paused_at: null,
          control: null,
        })
        .execute();
      // Chunked: a statement holds at most a few thousand parameters (SQLite 32,766, PostgreSQL 65,535).
      for (const [c, chunk] of chunks(n.hosts, 500).entries())
        await trx
          .insertInto('session_hosts')
          .values(
            chunk.map((h, j) => ({
              session_id: s.id,
              name: h.name,
              type: h.type,
              status: 'pending',
              original_enabled: null,
              disabled_by_us: 0,
              maintained_at: null,
              position: c * 500 + j,
            })),
          )
          .execute();
      await insertTimeline(this.shapes, trx, s.id, n.timeline);
      this.growth.note('session_hosts', n.hosts.length);
      return { busy: [] };
    }).finally(() => this.analyzeGrown());
  }

  /**
   * PostgreSQL: ANALYZE the tables that have grown enough since this process last did (outside any
   * transaction, after the commit that grew them). A failure (say, a role that does not own the
   * tables) only leaves the planner to autovacuum's statistics, as before.
   */
  private async analyzeGrown(): Promise<void> {
    if (this.dialect !== 'postgres') return;
    for (const t of this.growth.take()) await sql`analyze ${sql.table(t)}`.execute(this.db).catch(() => {});
  }

  async getSession(id: string): Promise<SessionRow | undefined> {
    const r = (await this.hot.session(this.db, id)).rows[0];
    return r && row.session(r);
  }

  async sessionPlan(id: string): Promise<PersistedPlan | null> {
    const r = await this.db.selectFrom('session_plans').select('plan').where('session_id', '=', id).executeTakeFirst();
    return r ? (JSON.parse(r.plan) as PersistedPlan) : null;
  }

  async sessionHostStatuses(id: string): Promise<Pick<SessionHost, 'name' | 'status'>[]> {
    const rows = await this.db.selectFrom('session_hosts').select(['name', 'status']).where('session_id', '=', id).orderBy('position').execute();
    return rows.map((r) => ({ name: r.name, status: r.status as SessionHost['status'] }));
  }

  async listSessions(): Promise<SessionRow[]> {
    const rs = await this.db.selectFrom('sessions').selectAll().orderBy('created_at').orderBy('id').execute();
    return rs.map(row.session);
  }

  async activeSessionsOnHosts(hosts: string[]): Promise<{ id: string; hosts: string[] }[]> {
    return activeOnHosts(this.db, hosts);
  }


  async loadSnapshot(id: string): Promise<LoadedSnapshot | undefined> {
    // Repeatable read: every query below sees the same snapshot on PostgreSQL (SQLite always does).
    return this.db.transaction().setIsolationLevel('repeatable read').execute(async (trx) => {
      const s = await trx.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst();
      if (!s) return undefined;
      // One query at a time: a transaction is one connection (pg@8 warns on queued queries, pg@9 refuses).
      const hosts = await trx.selectFrom('session_hosts').selectAll().where('session_id', '=', id).orderBy('position').execute();
      const projects = await trx.selectFrom('session_projects').selectAll().where('session_id', '=', id).orderBy('project_id').execute();
      const instances = await trx.selectFrom('session_instances').selectAll().where('session_id', '=', id).orderBy('instance_id').execute();
      const ops = await trx.selectFrom('ops').selectAll().where('session_id', '=', id).orderBy('id').execute();
      const del = deliveryCounts(id, await deliveryRows(trx, id));
      const events = await trx.selectFrom('session_events').select('key').where('session_id', '=', id).execute();
      // Only the constraint-driven workflows read constraints (the default one ignores them).
      const constraints = s.workflow === 'default' ? { instances: [], groups: [] } : await sessionConstraints(trx, id);
      const owners = new Map(instances.map((i) => [i.instance_id, i.project_id]));
      const subscribed = await subscribedProjects(trx);
      const g = await trx.selectFrom('change_counters').select('seq').where('name', '=', 'global').executeTakeFirst();
      const session = row.session(s);
      const plan = await trx.selectFrom('session_plans').select('plan').where('session_id', '=', id).executeTakeFirst();
      if (plan) session.phase.plan = JSON.parse(plan.plan) as PersistedPlan;
      return {
        changeSeq: Number(s.change_seq),
        globalSeq: Number(g?.seq ?? 0),
        session,
        hosts: hosts.map(row.host),
        projects: projects.map(row.project),
        instances: instances.map(row.instance),
        ops: ops.map(row.op),
        subscribedProjects: subscribed,
        deliveries: del,
        eventKeys: events.map((e) => e.key),
        constraints: ownedConstraints(constraints, (iid) => owners.get(iid)),
      };
    });
  }

  async applyDecision(id: string, fence: number, d: Decision, now: number): Promise<boolean> {
    return (await this.commitDecision(id, fence, d, now)) !== null;
  }

  /**
   * One transaction, fenced; cost O(what the decision changes): patches grouped into one statement
   * per distinct change, new rows in multi-row INSERTs. SQLite runs the statements one by one in a
   * transaction (in-process: nothing to save); PostgreSQL sends them as one script, one round trip
   * for the whole commit (postgres/script.ts), so no statement of it may depend on what an earlier one
   * read: rows are upserted rather than looked up first, and the fan-out of new events to their
   * subscriptions is one statement.
   */
  async commitDecision(id: string, fence: number, d: Decision, now: number, consumedSeq?: number, opPatches?: ReadonlyMap<number, OpPatch>): Promise<Applied | null> {
    const phase = d.session?.phase;
    // Read before the transaction: only the holder of the session's lease writes its plan.
    const plan = phase && 'plan' in phase ? await this.planWrite(id, phase.plan ?? null) : null;
    const timelineIds: number[] = [];
    try {
      let applied: Applied;
      if (this.script) {
        const w = new Script(this.db);
        const result = await this.writeDecision(w, id, fence, d, now, consumedSeq, opPatches, plan, timelineIds);
        await w.run(this.script);
        applied = result();
      } else {
        applied = await this.db.transaction().execute(async (trx) => {
          const result = await this.writeDecision(new RunNow(trx), id, fence, d, now, consumedSeq, opPatches, plan, timelineIds);
          return result();
        });
      }
      if (timelineIds.length) await trimTimeline(this.db, id, timelineIds);
      return applied;
    } catch (e) {
      if (e instanceof FenceLost || (e as { code?: unknown }).code === FENCE_LOST_SQLSTATE) return null;
      throw e;
    } finally {
      await this.analyzeGrown();
    }
  }

  /**
   * The statements of a commit, in order, given to `w`, which may run each as it comes (SQLite), so
   * a large commit's statements are built one at a time, never all held at once; answers a function
   * that reads what was written once they ran. The first one is the fenced update of the session
   * row: if it matches no row (another engine holds the session), nothing after it is applied.
   */
  private async writeDecision(
    w: Statements,
    id: string,
    fence: number,
    d: Decision,
    now: number,
    consumedSeq: number | undefined,
    opPatches: ReadonlyMap<number, OpPatch> | undefined,
    plan: CompiledQuery | null,
    timelineIds: number[],
  ): Promise<() => Applied> {
    const k = w.k;
    const s = d.session;
    let changeSeq: number | undefined;
    const set = {
      updated_at: now,
      ...(s?.state !== undefined && { state: s.state }),
      ...(s?.phase !== undefined && { phase: phaseWithoutPlan(s.phase) }),
      ...(s?.reason !== undefined && { reason: s.reason }),
      ...(s?.percentDone !== undefined && { percent_done: Math.round(s.percentDone) }),
      ...(s?.paused !== undefined && { paused: s.paused ? 1 : 0 }),
      ...(s?.pausedAt !== undefined && { paused_at: s.pausedAt }),
      ...(s?.control !== undefined && { control: null }),
      ...(d.wakeAt !== undefined && { wake_at: d.wakeAt }),
    };
    const seen = (rows: { change_seq: number | bigint | null }[]) => {
      if (rows[0]?.change_seq == null) throw new FenceLost();
      changeSeq = Number(rows[0].change_seq);
    };
    if (w instanceof Script) {
      // fenix_fenced raises when the update matched no row, which stops and rolls back the script.
      const cols = Object.keys(set) as (keyof typeof set)[];
      const q = this.shapes.query<{ change_seq: number }>(`fenced|${cols.join(',')}`, [...cols.map((c) => set[c]), id, fence], (db, arg) =>
        db
          .with('fenced', (qc) =>
            qc
              .updateTable('sessions')
              .set(Object.fromEntries(cols.map((c, i) => [c, arg(i)])))
              .where('id', '=', arg(cols.length))
              .where('fence', '=', arg(cols.length + 1))
              .returning('change_seq'),
          )
          .selectNoFrom(sql<number>`fenix_fenced((select change_seq from fenced))`.as('change_seq')),
      );
      await w.add(q, seen);
      // A decision without new intents is re-derived if lost; one with intents must be on disk
      // before the engine carries them out (never leave a host disabled without the record).
      if (!d.ops?.length) await w.add(k.selectNoFrom(sql`set_config('synchronous_commit', 'off', true)`.as('relaxed')).compile());
    } else await w.add(updateWhere<{ change_seq: number }>(this.shapes, 'sessions', set, { id, fence }, { returning: 'change_seq' }), seen);

    if (plan) await w.add(plan);
    // Outcomes of the ops the engine carried out since its last write (same fence, same transaction).
    if (opPatches?.size) for (const q of this.opPatchWrites(id, opPatches)) await w.add(q);
    if (consumedSeq !== undefined && consumedSeq > 0)
      await w.add(k.deleteFrom('session_changes').where('session_id', '=', id).where('seq', '<=', consumedSeq).compile());
    for (const [patch, names] of sameChanges(mergedBy(d.hosts ?? [], (h) => h.name), (h) => h.name, row.hostPatch))
      await w.add(updateWhere(this.shapes, 'session_hosts', patch, { session_id: id }, { in: { col: 'name', values: names } }));
    await this.projectWrites(w, id, d.projects ?? []);
    await this.instanceWrites(w, id, d.instances ?? []);

    const ops: Applied['ops'] = [];
    for (const chunk of chunks(uniqueBy(d.ops ?? [], (o) => o.key), 200)) {
      const rows = chunk.map((op) => ({
        session_id: id,
        key: op.key,
        kind: op.kind,
        subject: op.subject,
        args: JSON.stringify(op.args ?? {}),
        status: 'pending',
        ref: null,
        result: null,
        error: null,
        attempts: 0,
        created_at: now,
        started_at: null,
        finished_at: null,
        poll_at: null,
      }));
      const q = insertRows<{ id: number; key: string }>(this.shapes, 'ops', rows, { conflict: { cols: ['session_id', 'key'] }, returning: ['id', 'key'] });
      // The rows just written, built from the intents rather than read back: the engine keeps
      // them in memory, and the intent's strings (host names, ids, kinds) are shared, not copied.
      await w.add(q, (rows) => {
        const byKey = new Map(chunk.map((o) => [o.key, o]));
        for (const r of rows) ops.push(row.newOp(Number(r.id), id, byKey.get(r.key)!, now));
      });
    }

    const fanout = new Map<string, number>();
    const events = uniqueBy(d.events ?? [], (e) => e.key);
    if (events.length && w instanceof Script)
      for (const chunk of chunks(events, 500)) await w.add(eventsWithFanout(id, chunk, now).compile(k), (rows) => rows.forEach((r) => fanout.set(r.key, Number(r.n))));
    else if (events.length && w instanceof RunNow) await this.fanOut(w.k, id, events, now, fanout);

    for (const q of timelineWrites(this.shapes, id, d.timeline ?? [])) await w.add(q, (rows) => timelineIds.push(...rows.map((r) => Number(r.id))));
    return () => {
      this.growth.note('ops', ops.length);
      ops.sort((a, b) => a.id - b.id);
      return { ops, fanout, changeSeq: changeSeq! };
    };
  }

  /**
   * A phase patch that names a plan: null drops it; a plan is written only when it is another plan
   * than the stored one (a plan never changes once made, so the key tells), so the phase writes of
   * the steps that follow cost a key lookup, not the plan's megabytes.
   */
  private async planWrite(id: string, plan: PersistedPlan | null): Promise<CompiledQuery | null> {
    if (!plan) return this.db.deleteFrom('session_plans').where('session_id', '=', id).compile();
    const key = planKey(plan);
    const stored = await this.db.selectFrom('session_plans').select('plan_key').where('session_id', '=', id).executeTakeFirst();
    if (stored?.plan_key === key) return null;
    return this.db
      .insertInto('session_plans')
      .values({ session_id: id, plan_key: key, plan: JSON.stringify(plan) })
      .onConflict((oc) => oc.column('session_id').doUpdateSet((eb) => ({ plan_key: eb.ref('excluded.plan_key'), plan: eb.ref('excluded.plan') })))
      .compile();
  }

  /**
   * SQLite: the events of a decision, and each new one fanned out to the subscriptions it matches
   * (decided before: already fanned out). One read of the subscriptions per decision.
   */
  private async fanOut(trx: Transaction<DB>, id: string, events: NonNullable<Decision['events']>, now: number, fanout: Map<string, number>): Promise<void> {
    const fresh = new Set<string>();
    for (const chunk of chunks(events, 200)) {
      const rows = chunk.map((ev) => ({ session_id: id, key: ev.key, event_type: ev.eventType, project_id: ev.projectId, payload: JSON.stringify(ev.payload), created_at: now }));
      const q = insertRows<{ key: string }>(this.shapes, 'session_events', rows, { conflict: { cols: ['session_id', 'key'] }, returning: ['key'] });
      for (const r of (await trx.executeQuery(q)).rows) fresh.add(r.key);
    }
    if (!fresh.size) return;
    const all = this.shapes.query<Selectable<DB['subscriptions']>>('subscriptions|all', [], (db) => db.selectFrom('subscriptions').selectAll().orderBy('created_at').orderBy('id'));
    const subs = (await trx.executeQuery(all)).rows.map(row.subscription);
    const outbox = [];
    for (const ev of events) {
      if (!fresh.has(ev.key)) continue;
      const to = subs.filter((sub) => sub.eventTypes.includes(ev.eventType) && sub.projectId === ev.projectId);
      fanout.set(ev.key, to.length);
      for (const sub of to)
        outbox.push({
          message_id: randomUUID(),
          event_key: `${id}:${ev.key}`,
          session_id: id,
          subscription_id: sub.id,
          event_type: ev.eventType,
          payload: JSON.stringify(ev.payload),
          status: 'pending',
          attempts: 0,
          next_attempt_at: now,
          last_error: null,
          last_status: null,
          created_at: now,
          delivered_at: null,
        });
    }
    for (const chunk of chunks(outbox, 200)) await trx.executeQuery(insertRows(this.shapes, 'outbox', chunk, { conflict: { cols: ['event_key', 'subscription_id'] } }));
  }

  /**
   * Op outcomes. SQLite: an UPDATE per op (no round trips to save). PostgreSQL: one UPDATE … FROM
   * (VALUES …) per set of columns patched (a step's outcomes share two or three).
   */
  private *opPatchWrites(id: string, opPatches: ReadonlyMap<number, OpPatch>): Generator<CompiledQuery> {
    const bySet = new Map<string, { cols: (keyof typeof OP_COLUMN_TYPES)[]; rows: [number, Record<string, unknown>][] }>();
    for (const [opId, patch] of opPatches) {
      const set = row.opPatch(patch) as Record<string, unknown>;
      const cols = Object.keys(set).sort() as (keyof typeof OP_COLUMN_TYPES)[];
      if (!cols.length) continue;
      if (this.dialect === 'sqlite') {
        yield updateWhere(this.shapes, 'ops', set, { id: opId, session_id: id });
        continue;
      }
      const sig = cols.join(',');
      const group = bySet.get(sig) ?? { cols, rows: [] };
      group.rows.push([opId, set]);
      bySet.set(sig, group);
    }
    for (const { cols, rows } of bySet.values()) {
      const typed = cols.map((c) => [c, OP_COLUMN_TYPES[c]] as const);
      for (const part of chunks(rows, 500))
        yield updateFromValues(this.shapes, 'ops', ['id', 'bigint'], typed, part.map(([opId, set]) => [opId, ...cols.map((c) => set[c])]), { session_id: id });
    }
  }

  /**
   * Project patches merged per project, then one upsert per set of columns patched: a new project
   * gets its defaults and the patch, a known one only the patched columns (no read first).
   */
  private async projectWrites(w: Statements, id: string, patches: NonNullable<Decision['projects']>): Promise<void> {
    for (const [cols, merged] of byColumns(mergedBy(patches, (p) => p.projectId), row.projectPatch)) {
      const rows = merged.map((p) => Object.assign(row.newProject(id, p), row.projectPatch(p)));
      await this.growing(w, 'session_projects', rows, { cols: ['session_id', 'project_id'], update: cols });
    }
  }

  /**
   * Instance patches likewise. A patch naming the project and host may be of a new instance: an
   * upsert; any other patches an existing row. SQLite: an UPDATE per distinct change (each runs as
   * it comes). PostgreSQL: an UPDATE … FROM (VALUES …) per set of columns and 100 rows: a
   * maintenance round gives each instance its own ask key, and an UPDATE per distinct change was
   * then one per instance (80,000 of them held in one script at 10,000 hosts).
   */
  private async instanceWrites(w: Statements, id: string, patches: NonNullable<Decision['instances']>): Promise<void> {
    const merged = mergedBy(patches, (i) => i.instanceId);
    const creates = merged.filter((i) => i.projectId !== undefined && i.host !== undefined);
    for (const [cols, part] of byColumns(creates, row.instancePatch))
      await this.growing(w, 'session_instances', later(part, () => part.map((i) => row.newInstance(id, i))), { cols: ['session_id', 'instance_id'], update: cols });
    const updates = merged.filter((i) => i.projectId === undefined || i.host === undefined);
    if (this.dialect === 'sqlite') {
      for (const [set, iids] of sameChanges(updates, (i) => i.instanceId, row.instancePatch))
        await w.add(updateWhere(this.shapes, 'session_instances', set, { session_id: id }, { in: { col: 'instance_id', values: iids } }));
      return;
    }
    for (const [cols, part] of byColumns(updates, row.instancePatch)) {
      if (!cols.length) continue;
      const spec = cols.map((c) => row.INSTANCE_UPDATES.find((u) => u[1] === c)!);
      const typed = spec.map(([, c, type]) => [c, type] as const);
      await w.add(later(part, () => updateFromValues(this.shapes, 'session_instances', ['instance_id', 'varchar'], typed, part.map((p) => [p.instanceId, ...spec.map(([f]) => p[f])]), { session_id: id })));
    }
  }

  /**
   * An upsert into a table that grows (`update`: the columns a known row takes from the new one;
   * none: it is left as it is); PostgreSQL counts the rows it inserted (to ANALYZE in time). Rows
   * given as a function: a bulk write, built when it runs (Deferred).
   */
  private async growing(w: Statements, table: GrowingTable, rows: Record<string, unknown>[] | (() => Record<string, unknown>[]), conflict: { cols: string[]; update: string[] }): Promise<void> {
    const fresh = this.dialect === 'postgres';
    const build = () => insertRows<{ fresh: boolean }>(this.shapes, table, typeof rows === 'function' ? rows() : rows, { conflict, fresh });
    const then = fresh ? (r: { fresh: boolean }[]) => this.growth.note(table, r.filter((x) => x.fresh).length) : undefined;
    return w.add(typeof rows === 'function' ? build : build(), then);
  }

  async changesSince(id: string, changeSeq: number, globalSeq: number): Promise<SessionChanges | undefined> {
    return this.db.transaction().setIsolationLevel('repeatable read').execute(async (trx) => {
      const s = await trx.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst();
      if (!s) return undefined;
      const g = Number((await trx.selectFrom('change_counters').select('seq').where('name', '=', 'global').executeTakeFirst())?.seq ?? 0);
      const out: SessionChanges = { changeSeq: Number(s.change_seq), globalSeq: g, projects: [], instances: [], deliveries: {} };
      if (out.changeSeq > changeSeq) {
        const changes = await trx.selectFrom('session_changes').selectAll().where('session_id', '=', id).where('seq', '>', changeSeq).orderBy('seq').execute();
        const pick = (kind: string) => [...new Set(changes.filter((c) => c.kind === kind).map((c) => c.subject ?? ''))];
        // The session row is read anyway: always hand it over (a reply also moves wake_at).
        out.session = row.session(s);
        for (const chunk of chunks(pick('project'), 500))
          out.projects.push(...(await trx.selectFrom('session_projects').selectAll().where('session_id', '=', id).where('project_id', 'in', chunk).execute()).map(row.project));
        for (const chunk of chunks(pick('instance'), 500))
          out.instances.push(...(await trx.selectFrom('session_instances').selectAll().where('session_id', '=', id).where('instance_id', 'in', chunk).execute()).map(row.instance));
        for (const chunk of chunks(pick('delivery').map((k) => `${id}:${k}`), 200))
          Object.assign(out.deliveries, deliveryCounts(id, await deliveryRows(trx, id, chunk)));
      }
      if (g > globalSeq) {
        const kinds = new Set((await trx.selectFrom('global_changes').select('kind').where('seq', '>', globalSeq).execute()).map((r) => r.kind));
        const lost = kinds.size === 0; // trimmed before we read them: re-read both
        if (lost || kinds.has('subscriptions')) out.subscribedProjects = await subscribedProjects(trx);
        if ((lost || kinds.has('constraints')) && s.workflow !== 'default') out.constraints = await sessionConstraints(trx, id);
      }
      return out;
    });
  }

  async updateOp(id: number, fence: number, patch: Parameters<Store['updateOp']>[2]): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const op = await trx.selectFrom('ops').select('session_id').where('id', '=', id).executeTakeFirst();
      if (!op) return false;
      const s = await trx
        .selectFrom('sessions')
        .select('fence')
        .where('id', '=', op.session_id)
        .where('fence', '=', fence)
        .$if(CAPABILITIES[this.dialect].rowLocks, (q) => q.forShare()) // a takeover waits for this commit
        .executeTakeFirst();
      if (!s) return false;
      await trx.updateTable('ops').set(row.opPatch(patch)).where('id', '=', id).execute();
      return true;
    });
  }

  async setSessionFlags(
    id: string,
    f: { paused?: boolean; deleting?: boolean; wakeAt?: number | null; control?: SessionControl | null },
    now: number,
  ): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('sessions')
        .set({
          updated_at: now,
          ...(f.paused !== undefined && { paused: f.paused ? 1 : 0, paused_at: f.paused ? now : null }),
          ...(f.control !== undefined && { control: f.control === null ? null : JSON.stringify(f.control) }),
          ...(f.deleting !== undefined && { deleting: f.deleting ? 1 : 0 }),
          ...(f.wakeAt !== undefined && { wake_at: f.wakeAt }),
        })
        .where('id', '=', id)
        .execute();
      await bumpSession(trx, id, now, [['session', null]]);
    });
  }

  recordPluginCallback(c: PluginCallbackInput): Promise<PluginCallbackOutcome> {
    return recordPluginCallback(this.db, c);
  }

  pluginCallback(opId: number): Promise<StoredPluginCallback | undefined> {
    return pluginCallback(this.db, opId);
  }

  async purgeSession(id: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      for (const t of ['timeline', 'session_events', 'ops', 'session_instances', 'session_projects', 'session_hosts', 'session_changes', 'session_replies'] as const)
        await trx.deleteFrom(t).where('session_id', '=', id).execute();
      await trx.deleteFrom('sessions').where('id', '=', id).execute();
    });
  }

  /**
   * A reply: a repeat that changes nothing the engine reads is recognised by reads and counted
   * (replies.ts, RepeatTally); anything else in one transaction, by index: the project row (locked on
   * PostgreSQL: `awaiting` cannot change under us), the instances awaiting this state, the reply row.
   * Only a new reply gets a timeline entry.
   */
  async recordReply(r: ReplyInput): Promise<ReplyOutcome> {
    const repeat = await this.replies.readRepeat(r);
    if (repeat) {
      this.tally.add(repeat.key, r.at, repeat.project);
      return { accepted: repeat.accepted, duplicate: true, changed: false, awaiting: repeat.awaiting };
    }
    return this.db.transaction().execute(async (trx) => {
      const p = await trx
        .selectFrom('session_projects')
        .selectAll()
        .where('session_id', '=', r.sessionId)
        .where('project_id', '=', r.projectId)
        .$if(CAPABILITIES[this.dialect].rowLocks, (q) => q.forUpdate())
        .executeTakeFirst();
      if (!p) return { accepted: false, missing: true };
      const { perInstance, projectAccepted, accepted } = replyEffect(r, p.awaiting, await this.replies.awaitingInstances(trx, r));

      // The reply row: stored once, counted when repeated.
      const kept = sortedActions(r);
      const actionsJson = kept.length ? JSON.stringify(Object.fromEntries(kept.slice(0, STORAGE_LIMITS.replyActions))) : null;
      const key = replyKey(r, accepted, kept);
      const seen = await trx
        .updateTable('session_replies')
        .set((eb) => ({ count: eb('count', '+', 1), last_at: r.at }))
        .where((eb) => eb.and(key))
        .executeTakeFirst();
      const duplicate = Number(seen.numUpdatedRows) > 0;
      if (!duplicate)
        await trx.insertInto('session_replies').values({ ...key, instance_actions: actionsJson, count: 1, first_at: r.at, last_at: r.at }).execute();
      // A repeat that answers nothing changes nothing more (one that raced readRepeat's snapshot).
      if (duplicate && !accepted) return { accepted, duplicate, changed: false, awaiting: p.awaiting };
      // A repeat of the project's recorded answer: its count and the project's last reply time.
      if (duplicate && perInstance.length === 0 && projectAccepted && p.reply === r.reply) {
        await trx
          .updateTable('session_projects')
          .set({ last_reply: r.reply, last_reply_at: r.at })
          .where('session_id', '=', r.sessionId)
          .where('project_id', '=', r.projectId)
          .execute();
        return { accepted, duplicate, changed: false };
      }

      const touched: string[] = [];
      for (const iid of perInstance) {
        const action = r.instanceActions.get(iid);
        await trx
          .updateTable('session_instances')
          .set({ reply: r.reply, replied_at: r.at, ...(action !== undefined && { action }) })
          .where('session_id', '=', r.sessionId)
          .where('instance_id', '=', iid)
          .execute();
        touched.push(iid);
      }
      await trx
        .updateTable('session_projects')
        .set({ last_reply: r.reply, last_reply_at: r.at, ...(projectAccepted && { reply: r.reply, replied_at: r.at }) })
        .where('session_id', '=', r.sessionId)
        .where('project_id', '=', r.projectId)
        .execute();
      if (projectAccepted)
        for (const [iid, action] of r.instanceActions) {
          const u = await trx
            .updateTable('session_instances')
            .set({ action })
            .where('session_id', '=', r.sessionId)
            .where('instance_id', '=', iid)
            .where('status', 'in', ['present', 'moved'])
            .executeTakeFirst();
          if (Number(u.numUpdatedRows)) touched.push(iid);
        }
      await bumpSession(trx, r.sessionId, r.at, [['project', r.projectId], ...touched.map((iid) => ['instance', iid] as const)], accepted);
      if (!duplicate) {
        const what = perInstance.length ? ` for ${perInstance.join(', ')}` : r.instanceId !== undefined ? ` for ${r.instanceId}` : '';
        await insertTimeline(this.shapes, trx, r.sessionId, [
          {
            at: r.at,
            kind: accepted ? 'reply' : 'reply_ignored',
            message: accepted
              ? `${r.projectId} replied ${r.reply}${what}`
              : `${r.projectId} replied ${r.reply}${what} while ${r.answers === '' ? 'the session had ended' : p.awaiting ? `${p.awaiting} was awaited` : 'no reply was awaited'}; recorded, no effect`,
            data: actionsJson ? { instance_actions: JSON.parse(actionsJson) as Record<string, string>, ...(kept.length > STORAGE_LIMITS.replyActions && { instance_actions_total: kept.length }) } : undefined,
          },
        ]);
      }
      return { accepted, duplicate, awaiting: p.awaiting };
    });
  }

  async constraintsFor(projectIds: readonly string[]): Promise<Constraints> {
    return this.db.transaction().setIsolationLevel('repeatable read').execute((trx) => constraintsOf(trx, projectIds));
  }

  async sessionProject(sessionId: string, projectId: string) {
    const r = (await this.hot.project(this.db, sessionId, projectId)).rows[0];
    return r && row.project(r);
  }

  async projectInstances(sessionId: string, projectId: string, f: InstanceFilter = {}) {
    const out = [];
    for (const q of this.projectInstancesQueries(sessionId, projectId, f)) out.push(...(await q.selectAll().execute()).map(row.instance));
    return f.ids === undefined ? out : out.sort((a, b) => cmp(a.instanceId, b.instanceId));
  }

  /** The ids alone: a project's GET and its replies need no more, and whole rows cost six times as much to read. */
  async projectInstanceIds(sessionId: string, projectId: string, f: InstanceFilter = {}) {
    // A project's GET: its present instances, or those on the host being emptied.
    if (f.ids === undefined && f.present)
      return (await (f.host === undefined ? this.hot.presentIds(this.db, sessionId, projectId) : this.hot.presentIdsOn(this.db, sessionId, projectId, f.host))).rows.map(
        (r) => r.instance_id,
      );
    const out: string[] = [];
    for (const q of this.projectInstancesQueries(sessionId, projectId, f)) out.push(...(await q.select('instance_id').execute()).map((r) => r.instance_id));
    return f.ids === undefined ? out : out.sort(cmp);
  }

  /** One query, or one per 500 `ids`: by the index on (session, project, instance). */
  private projectInstancesQueries(sessionId: string, projectId: string, f: InstanceFilter) {
    const q = () => {
      let q = this.db.selectFrom('session_instances').where('session_id', '=', sessionId).where('project_id', '=', projectId);
      if (f.host !== undefined) q = q.where('host', '=', f.host);
      if (f.present) q = q.where('status', '!=', 'gone');
      return q.orderBy('instance_id');
    };
    return f.ids === undefined ? [q()] : chunks([...new Set(f.ids)], 500).map((chunk) => q().where('instance_id', 'in', chunk));
  }

  async dueSessions(now: number, limit: number, owner: string): Promise<string[]> {
    const rs = await this.db
      .selectFrom('sessions')
      .select('id')
      .where('wake_at', 'is not', null)
      .where('wake_at', '<=', now)
      .where((eb) => eb.or([eb('lease_owner', 'is', null), eb('lease_owner', '=', owner), eb('lease_expires_at', '<', now)]))
      .orderBy('wake_at')
      .limit(limit)
      .execute();
    return rs.map((r) => r.id);
  }

  async nextWakeAt(): Promise<number | null> {
    const r = await this.db
      .selectFrom('sessions')
      .select((eb) => eb.fn.min('wake_at').as('w'))
      .executeTakeFirst();
    return r?.w == null ? null : Number(r.w);
  }

  async timeline(id: string): Promise<TimelineEntry[]> {
    const rs = await this.db.selectFrom('timeline').selectAll().where('session_id', '=', id).orderBy('id').execute();
    return rs.map(row.timeline);
  }

  async appendTimeline(id: string, e: TimelineEntry): Promise<void> {
    await insertTimeline(this.shapes, this.db, id, [e]);
  }

  // ---- leases ---------------------------------------------------------------------------------

  async acquireLease(id: string, owner: string, now: number, ttlMs: number): Promise<Lease | undefined> {
    const r = await this.db
      .updateTable('sessions')
      .set((eb) => ({
        lease_owner: owner,
        lease_expires_at: now + ttlMs,
        // A new owner (or an owner whose lease lapsed) gets a new fencing token.
        fence: eb
          .case()
          .when(eb.and([eb('lease_owner', '=', owner), eb('lease_expires_at', '>=', now)]))
          .then(eb.ref('fence'))
          .else(sql<number>`fence + 1`)
          .end(),
      }))
      .where('id', '=', id)
      .where((eb) => eb.or([eb('lease_owner', 'is', null), eb('lease_owner', '=', owner), eb('lease_expires_at', '<', now)]))
      .returning(['fence', 'lease_expires_at', 'change_seq'])
      .executeTakeFirst();
    if (!r) return undefined;
    return { sessionId: id, owner, fence: Number(r.fence), expiresAt: Number(r.lease_expires_at), changeSeq: Number(r.change_seq) };
  }

  async releaseLease(id: string, owner: string): Promise<void> {
    await this.db
      .updateTable('sessions')
      .set({ lease_owner: null, lease_expires_at: null })
      .where('id', '=', id)
      .where('lease_owner', '=', owner)
      .execute();
  }

  async releaseAllLeases(): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('sessions').set({ lease_owner: null, lease_expires_at: null }).execute();
      await trx.updateTable('outbox').set({ claimed_by: null, claimed_until: null }).where('claimed_by', 'is not', null).execute();
    });
  }

  // ---- constraints (spec §5) -------------------------------------------------------------------

  async putInstanceConstraint(c: InstanceConstraint): Promise<InstanceConstraint> {
    const { created_at: _created, instance_id: _id, ...update } = row.instanceConstraintRow(c);
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('instance_constraints')
        .values(row.instanceConstraintRow(c))
        .onConflict((oc) => oc.column('instance_id').doUpdateSet(update))
        .execute();
      await bumpGlobal(trx, 'constraints', c.projectId, c.updatedAt);
    });
    return (await this.getInstanceConstraint(c.instanceId))!;
  }

  async getInstanceConstraint(instanceId: string): Promise<InstanceConstraint | undefined> {
    const r = await this.db.selectFrom('instance_constraints').selectAll().where('instance_id', '=', instanceId).executeTakeFirst();
    return r && row.instanceConstraint(r);
  }

  async deleteInstanceConstraint(instanceId: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const r = await trx.deleteFrom('instance_constraints').where('instance_id', '=', instanceId).returning('project_id').executeTakeFirst();
      if (r) await bumpGlobal(trx, 'constraints', r.project_id, Date.now());
      return r !== undefined;
    });
  }

  async listInstanceConstraints(filter: { projectId?: string } = {}): Promise<InstanceConstraint[]> {
    let q = this.db.selectFrom('instance_constraints').selectAll().orderBy('project_id').orderBy('instance_id');
    if (filter.projectId !== undefined) q = q.where('project_id', '=', filter.projectId);
    return (await q.execute()).map(row.instanceConstraint);
  }

  async putGroupConstraint(g: GroupConstraint): Promise<GroupConstraint> {
    const { created_at: _created, group_id: _id, ...update } = row.groupConstraintRow(g);
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('instance_group_constraints')
        .values(row.groupConstraintRow(g))
        .onConflict((oc) => oc.column('group_id').doUpdateSet(update))
        .execute();
      await bumpGlobal(trx, 'constraints', g.projectId, g.updatedAt);
    });
    return (await this.getGroupConstraint(g.groupId))!;
  }

  async getGroupConstraint(groupId: string): Promise<GroupConstraint | undefined> {
    const r = await this.db.selectFrom('instance_group_constraints').selectAll().where('group_id', '=', groupId).executeTakeFirst();
    return r && row.groupConstraint(r);
  }

  async deleteGroupConstraint(groupId: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const r = await trx.deleteFrom('instance_group_constraints').where('group_id', '=', groupId).returning('project_id').executeTakeFirst();
      if (r) await bumpGlobal(trx, 'constraints', r.project_id, Date.now());
      return r !== undefined;
    });
  }

  async listGroupConstraints(filter: { projectId?: string } = {}): Promise<GroupConstraint[]> {
    let q = this.db.selectFrom('instance_group_constraints').selectAll().orderBy('project_id').orderBy('group_id');
    if (filter.projectId !== undefined) q = q.where('project_id', '=', filter.projectId);
    return (await q.execute()).map(row.groupConstraint);
  }

  // ---- subscriptions --------------------------------------------------------------------------

  async createSubscription(s: Subscription): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await this.insertSubscription(trx, s);
      await bumpGlobal(trx, 'subscriptions', s.projectId, s.createdAt);
    });
  }

  private async insertSubscription(trx: Transaction<DB>, s: Subscription): Promise<void> {
    await trx
      .insertInto('subscriptions')
      .values({
        id: s.id,
        project_id: s.projectId,
        url: s.url,
        event_types: JSON.stringify(s.eventTypes),
        format: s.format,
        secret: s.secret,
        created_at: s.createdAt,
        delivered: s.delivered,
      })
      .execute();
  }

  async getSubscription(id: string): Promise<Subscription | undefined> {
    const r = await this.db.selectFrom('subscriptions').selectAll().where('id', '=', id).executeTakeFirst();
    return r && row.subscription(r);
  }

  async listSubscriptions(filter?: { projectId?: string | null }): Promise<Subscription[]> {
    let q = this.db.selectFrom('subscriptions').selectAll().orderBy('created_at').orderBy('id');
    if (filter?.projectId !== undefined)
      q = filter.projectId === null ? q.where('project_id', 'is', null) : q.where('project_id', '=', filter.projectId);
    return (await q.execute()).map(row.subscription);
  }

  async deleteSubscription(id: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const r = await trx.deleteFrom('subscriptions').where('id', '=', id).returning('project_id').executeTakeFirst();
      if (r) await bumpGlobal(trx, 'subscriptions', r.project_id, Date.now());
      return r !== undefined;
    });
  }

  async subscriptionsFor(eventType: EventType, projectId: string | null): Promise<Subscription[]> {
    return subscriptionsFor(this.db, eventType, projectId);
  }

  // ---- outbox ---------------------------------------------------------------------------------

  /**
   * Head of line per subscription: the oldest pending row of each receiver. Rows of a paused
   * session wait (a paused session sends nothing); other sessions' rows go on.
   */
  private heads() {
    return this.db
      .selectFrom('outbox')
      .select((eb) => ['subscription_id', eb.fn.min('id').as('head')])
      .where('status', '=', 'pending')
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom('sessions')
              .select('sessions.id')
              .whereRef('sessions.id', '=', 'outbox.session_id')
              .where('sessions.paused', '=', 1),
          ),
        ),
      )
      .groupBy('subscription_id');
  }

  /**
   * Claim and return the due head rows (see heads()) for `owner`. A row claimed by another relay is
   * skipped until its claim lapses (a relay that died mid-delivery), so no row is sent twice at once.
   */
  async dueDeliveries(now: number, limit: number, exclude: string[], owner = 'relay'): Promise<OutboxRow[]> {
    return this.db.transaction().execute(async (trx) => {
      let q = trx
        .selectFrom('outbox')
        .innerJoin(this.heads().as('h'), 'h.head', 'outbox.id')
        .select('outbox.id')
        .where('outbox.next_attempt_at', '<=', now)
        .where((eb) => eb.or([eb('outbox.claimed_until', 'is', null), eb('outbox.claimed_until', '<', now), eb('outbox.claimed_by', '=', owner)]))
        .orderBy('outbox.id')
        .limit(limit);
      if (exclude.length) q = q.where('outbox.subscription_id', 'not in', exclude);
      const ids = (await q.execute()).map((r) => r.id);
      if (!ids.length) return [];
      const rows = await trx
        .updateTable('outbox')
        .set({ claimed_by: owner, claimed_until: now + CLAIM_TTL_MS })
        .where('id', 'in', ids)
        .where((eb) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<', now), eb('claimed_by', '=', owner)]))
        .returningAll()
        .execute();
      return rows.map(row.outbox).sort((a, b) => a.id - b.id);
    });
  }

  async markDelivered(id: number, subscriptionId: string, now: number, status: number): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const r = await trx
        .updateTable('outbox')
        .set((eb) => ({ status: 'delivered', delivered_at: now, last_status: status, attempts: eb('attempts', '+', 1), claimed_by: null, claimed_until: null }))
        .where('id', '=', id)
        .returning(['session_id', 'event_key'])
        .executeTakeFirst();
      await trx
        .updateTable('subscriptions')
        .set((eb) => ({ delivered: eb('delivered', '+', 1) }))
        .where('id', '=', subscriptionId)
        .execute();
      if (r?.session_id) await bumpSession(trx, r.session_id, now, [['delivery', r.event_key.slice(r.session_id.length + 1)]]);
    });
  }

  async markFailed(id: number, now: number, error: string, status: number | null, nextAttemptAt: number | null): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const r = await trx
        .updateTable('outbox')
        .set((eb) => ({
          attempts: eb('attempts', '+', 1),
          last_error: error.slice(0, 1000),
          last_status: status,
          claimed_by: null,
          claimed_until: null,
          ...(nextAttemptAt === null ? { status: 'dead' } : { next_attempt_at: nextAttemptAt }),
        }))
        .where('id', '=', id)
        .returning(['session_id', 'event_key'])
        .executeTakeFirst();
      // Only a dead letter changes what a session sees (delivered / pending / dead counts).
      if (r?.session_id && nextAttemptAt === null) await bumpSession(trx, r.session_id, now, [['delivery', r.event_key.slice(r.session_id.length + 1)]]);
    });
  }

  async outboxFor(sessionId: string): Promise<OutboxRow[]> {
    const rs = await this.db.selectFrom('outbox').selectAll().where('session_id', '=', sessionId).orderBy('id').execute();
    return rs.map(row.outbox);
  }

  async nextDeliveryAt(exclude: string[] = [], now?: number, owner?: string): Promise<number | null> {
    // Only heads count: a row queued behind its subscription's head is not due before the head.
    // A head claimed by another relay is not ours before its claim lapses.
    let q = this.db
      .selectFrom('outbox')
      .innerJoin(this.heads().as('h'), 'h.head', 'outbox.id')
      .select(['outbox.next_attempt_at as t', 'outbox.claimed_by as by', 'outbox.claimed_until as until']);
    if (exclude.length) q = q.where('outbox.subscription_id', 'not in', exclude);
    let next: number | null = null;
    for (const r of await q.execute()) {
      const claimedByOther = now !== undefined && r.by !== null && r.by !== owner && r.until !== null && Number(r.until) >= now;
      const t = claimedByOther ? Number(r.until) + 1 : Number(r.t);
      next = next === null ? t : Math.min(next, t);
    }
    return next;
  }

  // ---- detail reads -----------------------------------------------------------------------------
  // GET /v1/maintenance/{id}/detail a page at a time; the queries live in detail-reads.ts.

  async readDetail(id: string, q: DetailQuery): Promise<SessionDetail | undefined> {
    if (q.lists.includes('replies') || q.lists.includes('projects')) await this.tally.flush(); // their counts and last reply times
    return readDetail(this.db, id, q);
  }

  // ---- end of detail reads ----------------------------------------------------------------------
}

async function activeOnHosts(db: Kysely<DB> | Transaction<DB>, hosts: string[]): Promise<{ id: string; hosts: string[] }[]> {
  const by = new Map<string, string[]>();
  for (const chunk of chunks(hosts, 1000)) {
    const rs = await db
      .selectFrom('session_hosts')
      .innerJoin('sessions', 'sessions.id', 'session_hosts.session_id')
      .select(['sessions.id as id', 'session_hosts.name as name'])
      .where('session_hosts.name', 'in', chunk)
      .where('sessions.state', 'not in', ['MAINTENANCE_DONE', 'MAINTENANCE_FAILED'])
      .where('sessions.deleting', '=', 0)
      .execute();
    for (const r of rs) {
      const l = by.get(r.id);
      if (l) l.push(r.name);
      else by.set(r.id, [r.name]);
    }
  }
  return [...by].map(([id, hs]) => ({ id, hosts: hs }));
}

/**
 * Record that someone other than the session's engine wrote to it: the session's change number goes
 * up under its row lock (so numbers are handed out in commit order) and each touched row is named.
 * `wake` also makes the session due now.
 */
async function bumpSession(trx: Transaction<DB>, id: string, at: number, touched: readonly (readonly [string, string | null])[], wake = false): Promise<void> {
  if (!touched.length) return;
  const r = await trx
    .updateTable('sessions')
    .set((eb) => ({ change_seq: eb('change_seq', '+', touched.length), ...(wake && { wake_at: at }) }))
    .where('id', '=', id)
    .returning('change_seq')
    .executeTakeFirst();
  if (!r) return;
  const first = Number(r.change_seq) - touched.length + 1;
  const rows = touched.map(([kind, subject], i) => ({ session_id: id, seq: first + i, kind, subject, at }));
  for (const chunk of chunks(rows, 500)) await trx.insertInto('session_changes').values(chunk).execute();
}

/** A change that concerns every session (subscriptions, constraints); older rows than the last thousand go. */
async function bumpGlobal(trx: Transaction<DB>, kind: 'subscriptions' | 'constraints', subject: string | null, at: number): Promise<void> {
  const r = await trx
    .updateTable('change_counters')
    .set((eb) => ({ seq: eb('seq', '+', 1) }))
    .where('name', '=', 'global')
    .returning('seq')
    .executeTakeFirstOrThrow();
  const seq = Number(r.seq);
  await trx.insertInto('global_changes').values({ seq, kind, subject, at }).execute();
  if (seq % 100 === 0) await trx.deleteFrom('global_changes').where('seq', '<', seq - 1000).execute();
}

/**
 * Timeline entries in multi-row INSERTs (500 a statement: the parameter limit). The timeline keeps the newest STORAGE_LIMITS.timelineEntries
 * entries of a session: whenever an insert crosses a multiple of TRIM_EVERY ids, older ones go
 * (amortised O(1) per entry; the index on (session_id, id) finds the cut).
 */
async function insertTimeline(shapes: Shapes, db: Kysely<DB> | Transaction<DB>, sessionId: string, entries: readonly TimelineEntry[]): Promise<void> {
  const ids: number[] = [];
  for (const q of timelineWrites(shapes, sessionId, entries)) ids.push(...(await db.executeQuery(q)).rows.map((r) => Number(r.id)));
  await trimTimeline(db, sessionId, ids);
}

function timelineWrites(shapes: Shapes, sessionId: string, entries: readonly TimelineEntry[]): CompiledQuery<{ id: number }>[] {
  return chunks(entries, 500).map((chunk) =>
    insertRows<{ id: number }>(
      shapes,
      'timeline',
      chunk.map((e) => ({ session_id: sessionId, at: e.at, kind: e.kind, message: e.message, data: e.data ? JSON.stringify(e.data) : null })),
      { returning: ['id'] },
    ),
  );
}

/** After entries got these ids: when they crossed a multiple of TRIM_EVERY, the oldest go. */
async function trimTimeline(db: Kysely<DB>, sessionId: string, ids: readonly number[]): Promise<void> {
  if (!ids.length) return;
  let first = Infinity;
  let last = -Infinity;
  for (const id of ids) [first, last] = [Math.min(first, id), Math.max(last, id)];
  if (Math.floor(first / TRIM_EVERY) === Math.floor(last / TRIM_EVERY) && first % TRIM_EVERY !== 0) return;
  const cut = await db
    .selectFrom('timeline')
    .select('id')
    .where('session_id', '=', sessionId)
    .orderBy('id', 'desc')
    .offset(STORAGE_LIMITS.timelineEntries)
    .limit(1)
    .executeTakeFirst();
  if (cut) await db.deleteFrom('timeline').where('session_id', '=', sessionId).where('id', '<=', cut.id).execute();
}

const TRIM_EVERY = 1000;

/** Outbox rows of a session by event key and status (maintenance.scheduled only: what asks wait on). */
async function deliveryRows(trx: Transaction<DB>, id: string, eventKeys?: string[]) {
  let q = trx
    .selectFrom('outbox')
    .select(['event_key', 'status'])
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('session_id', '=', id)
    .where('event_type', '=', 'maintenance.scheduled');
  if (eventKeys) q = q.where('event_key', 'in', eventKeys);
  return q.groupBy(['event_key', 'status']).execute();
}

function deliveryCounts(id: string, rows: { event_key: string; status: string; n: number }[]): StoredSnapshot['deliveries'] {
  const del: StoredSnapshot['deliveries'] = {};
  for (const d of rows) {
    const key = d.event_key.slice(id.length + 1);
    const e = (del[key] ??= { delivered: 0, pending: 0, dead: 0 });
    e[d.status as 'delivered' | 'pending' | 'dead'] += Number(d.n);
  }
  return del;
}

/** The session row's phase: the plan lives in session_plans (migration 0009). */
function phaseWithoutPlan(phase: Phase): string {
  const { plan: _plan, ...rest } = phase;
  return JSON.stringify(rest);
}

/** Projects with a maintenance.scheduled subscription, sorted. */
async function subscribedProjects(trx: Transaction<DB>): Promise<string[]> {
  const subs = await trx.selectFrom('subscriptions').select(['project_id', 'event_types']).where('project_id', 'is not', null).execute();
  const out = new Set<string>();
  for (const sub of subs) if (sub.project_id && (JSON.parse(sub.event_types) as string[]).includes('maintenance.scheduled')) out.add(sub.project_id);
  return [...out].sort();
}

/** Constraints of the session's projects, as stored (ownedConstraints filters them against the instances). */
async function sessionConstraints(trx: Transaction<DB>, id: string): Promise<Constraints> {
  const projectIds = (await trx.selectFrom('session_projects').select('project_id').where('session_id', '=', id).execute()).map((p) => p.project_id);
  return constraintsOf(trx, projectIds);
}

async function constraintsOf(trx: Transaction<DB>, projectIds: readonly string[]): Promise<Constraints> {
  const instances: InstanceConstraint[] = [];
  const groups: GroupConstraint[] = [];
  for (const chunk of chunks(projectIds, 500)) {
    instances.push(...(await trx.selectFrom('instance_constraints').selectAll().where('project_id', 'in', chunk).execute()).map(row.instanceConstraint));
    groups.push(...(await trx.selectFrom('instance_group_constraints').selectAll().where('project_id', 'in', chunk).execute()).map(row.groupConstraint));
  }
  instances.sort((a, b) => cmp(a.instanceId, b.instanceId));
  groups.sort((a, b) => cmp(a.groupId, b.groupId));
  return { instances, groups };
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export function chunks<T>(xs: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

/** The first of each key, in order (a decision may name a row twice; the store writes it once). */
function uniqueBy<T>(xs: readonly T[], key: (x: T) => string): T[] {
  const seen = new Set<string>();
  return xs.filter((x) => !seen.has(key(x)) && (seen.add(key(x)), true));
}

/**
 * Patches (merged per row) whose rows get the same change grouped, so a decision touching many rows
 * the same way is one UPDATE … WHERE key IN (…).
 */
function sameChanges<P extends object, S extends object>(patches: readonly P[], key: (p: P) => string, toSet: (p: P) => S): [S, string[]][] {
  const bySet = new Map<string, [S, string[]]>();
  for (const p of patches) {
    const set = toSet(p);
    if (!Object.keys(set).length) continue;
    const k = key(p);
    const sig = JSON.stringify(set);
    const g = bySet.get(sig);
    if (g) g[1].push(k);
    else bySet.set(sig, [set, [k]]);
  }
  return [...bySet.values()].flatMap(([set, keys]) => chunks(keys, 500).map((c) => [set, c] as [S, string[]]));
}

async function subscriptionsFor(db: Kysely<DB> | Transaction<DB>, eventType: EventType, projectId: string | null): Promise<Subscription[]> {
  let q = db.selectFrom('subscriptions').selectAll().orderBy('created_at').orderBy('id');
  q = projectId === null ? q.where('project_id', 'is', null) : q.where('project_id', '=', projectId);
  return (await q.execute()).map(row.subscription).filter((s) => s.eventTypes.includes(eventType));
}

/** Reads every API request makes (the session, a project's row, its instance ids), compiled once, kept between changes when the dialect can tell. */
function hotReads(db: Kysely<DB>, cache: ReadCache | undefined) {
  const presentIds = (d: Kysely<DB>, sessionId: string, projectId: string) =>
    d.selectFrom('session_instances').select('instance_id').where('session_id', '=', sessionId).where('project_id', '=', projectId).where('status', '!=', 'gone');
  return {
    session: compiledOnce(db, 1, (d, id: string) => d.selectFrom('sessions').selectAll().where('id', '=', id), cache),
    project: compiledOnce(db, 2, (d, sessionId: string, projectId: string) =>
      d.selectFrom('session_projects').selectAll().where('session_id', '=', sessionId).where('project_id', '=', projectId),
      cache,
    ),
    presentIds: compiledOnce(db, 2, (d, sessionId: string, projectId: string) => presentIds(d, sessionId, projectId).orderBy('instance_id'), cache),
    presentIdsOn: compiledOnce(db, 3, (d, sessionId: string, projectId: string, host: string) =>
      presentIds(d, sessionId, projectId).where('host', '=', host).orderBy('instance_id'),
      cache,
    ),
  };
}

// ---- a commit's statements ------------------------------------------------------------------

/**
 * Where a commit's statements go, in order; `then` sees a statement's rows once it has run. The
 * writer awaits each `add` before it builds the next statement.
 */
/**
 * A bulk statement built only when it runs (a function of what the caller holds anyway): in
 * PostgreSQL's script its text exists one part at a time, never for the whole commit. Never prepared.
 */
type Deferred<R> = () => CompiledQuery<R>;

/**
 * Writes of more rows than this are Deferred: large and rare, their text is not worth holding;
 * smaller ones come back step after step, and PostgreSQL's script prepares them.
 */
const LATER_ROWS = 16;
/** What `build` makes, now, or, for a large part, `build` itself, called when the statement runs. */
const later = <T>(part: readonly unknown[], build: () => T): T | (() => T) => (part.length > LATER_ROWS ? build : build());

interface Statements {
  /** Builds the statements. */
  readonly k: Kysely<DB>;
  add<R>(q: CompiledQuery<R> | Deferred<R>, then?: (rows: R[]) => void): Promise<void>;
}

/**
 * SQLite: each statement runs in the transaction as it comes (in-process: no round trip to save),
 * so a large session's first step (800 inserts of 100 rows) holds one statement at a time.
 */
class RunNow implements Statements {
  constructor(readonly k: Transaction<DB>) {}
  async add<R>(q: CompiledQuery<R> | Deferred<R>, then?: (rows: R[]) => void): Promise<void> {
    // Run first, then call back: `then?.(await …)` would skip the statement when there is no `then`.
    const { rows } = await this.k.executeQuery<R>(typeof q === 'function' ? q() : q);
    then?.(rows);
  }
}

/** PostgreSQL: the statements gathered into one script, one transaction in one round trip. */
class Script implements Statements {
  private readonly parts: { q: ScriptStatement; then?: (rows: never[]) => void }[] = [];
  constructor(readonly k: Kysely<DB>) {}
  async add<R>(q: CompiledQuery<R> | Deferred<R>, then?: (rows: R[]) => void): Promise<void> {
    this.parts.push({ q: typeof q === 'function' ? () => inlineParameters(q()) : scriptStatement(q), ...(then && { then: then as (rows: never[]) => void }) });
  }
  async run(runner: ScriptRunner): Promise<void> {
    const results = await runner(this.parts.map((p) => p.q));
    this.parts.forEach((p, i) => p.then?.(results[i]!.rows as never[]));
  }
}

/** Patches merged per row: later fields win, fields a patch leaves undefined keep the earlier value. */
function mergedBy<P extends object>(patches: readonly P[], key: (p: P) => string): P[] {
  const out = new Map<string, P>();
  for (const p of patches) {
    const prev = out.get(key(p));
    if (!prev) out.set(key(p), p);
    else {
      // Object.assign onto {}, not a spread: V8 gives each spread copy that then gains fields a
      // map (hidden class) of its own, some 400 bytes an object (80,000 asks merged with the
      // inventory: 30 MB), where copies made field by field share one.
      const next = Object.assign({}, prev) as Record<string, unknown>;
      for (const [f, v] of Object.entries(p)) if (v !== undefined) next[f] = v;
      out.set(key(p), next as P);
    }
  }
  return [...out.values()];
}

/** Patches (merged per row) grouped by the columns they set, 100 to a group (one statement each). */
function byColumns<P extends object>(patches: readonly P[], toSet: (p: P) => object): [string[], P[]][] {
  const groups = new Map<string, [string[], P[]]>();
  for (const p of patches) {
    const cols = Object.keys(toSet(p)).sort();
    const sig = cols.join(',');
    const g = groups.get(sig);
    if (g) g[1].push(p);
    else groups.set(sig, [cols, [p]]);
  }
  return [...groups.values()].flatMap(([cols, ps]) => chunks(ps, 100).map((c) => [cols, c] as [string[], P[]]));
}


/**
 * PostgreSQL: a decision's events written, and each new one (decided before: already fanned out)
 * fanned out to every subscription of its type and project, in one statement that answers how many
 * outbox rows each new event got. Outbox ids follow the events' order, then the subscriptions'
 * (created_at, id), as the relay delivers each subscription's rows in id order.
 */
function eventsWithFanout(id: string, events: NonNullable<Decision['events']>, now: number) {
  const rows = events.map((ev, ord) => sql`(${ord}::integer, ${ev.key}::text, ${ev.eventType}::text, ${ev.projectId}::text, ${JSON.stringify(ev.payload)}::text)`);
  return sql<{ key: string; n: number }>`with ev (ord, key, event_type, project_id, payload) as (values ${sql.join(rows)}),
    fresh as (
      insert into session_events (session_id, key, event_type, project_id, payload, created_at)
      select ${id}, key, event_type, project_id, payload, ${now}::bigint from ev order by ord
      on conflict (session_id, key) do nothing returning key),
    sent as (
      insert into outbox (message_id, event_key, session_id, subscription_id, event_type, payload, status, attempts, next_attempt_at, created_at)
      select gen_random_uuid()::text, ${id} || ':' || ev.key, ${id}, s.id, ev.event_type, ev.payload, 'pending', 0, ${now}::bigint, ${now}::bigint
      from ev join fresh on fresh.key = ev.key
      join subscriptions s on s.project_id is not distinct from ev.project_id and s.event_types::jsonb @> jsonb_build_array(ev.event_type)
      order by ev.ord, s.created_at, s.id
      on conflict (event_key, subscription_id) do nothing returning event_key)
    select fresh.key, count(sent.event_key)::integer as n from fresh left join sent on sent.event_key = ${id} || ':' || fresh.key group by fresh.key`;
}
