// The Store port over Kysely: one implementation for every SQL dialect. Dialect-specific setup
// (connections, pragmas, type parsers) lives in sqlite/ and postgres/.
import { randomUUID } from 'node:crypto';
import { Migrator, sql, type Kysely, type Transaction } from 'kysely';
import { ownedConstraints, type GroupConstraint, type InstanceConstraint } from '../domain/constraints.js';
import type { Decision } from '../domain/decision.js';
import type {
  OutboxRow,
  SessionControl,
  SessionRow,
  TimelineEntry,
} from '../domain/model.js';
import type { EventType } from '../domain/states.js';
import type { Lease, NewSession, ReplyInput, ReplyOutcome, Store, StoredSnapshot } from '../ports/store.js';
import type { Subscription } from '../ports/transport.js';
import { CAPABILITIES } from './migrations/dialect.js';
import { migrationProvider } from './migrations/index.js';
import type { DB } from './schema.js';
import * as row from './rows.js';

class FenceLost extends Error {}

/** Advisory lock key serializing session creation on PostgreSQL ('fenix' in ASCII). */
const CREATE_LOCK = 0x66656e6978;

/**
 * A relay's claim on an outbox row: longer than one delivery attempt (webhook timeout 10 s), short
 * enough that the rows of a relay that died are sent by another soon after.
 */
const CLAIM_TTL_MS = 15_000;

export class KyselyStore implements Store {
  constructor(
    readonly db: Kysely<DB>,
    readonly dialect: 'sqlite' | 'postgres',
    /** PostgreSQL: the schema holding the tables (and the migrator's own). */
    readonly schema?: string,
  ) {}

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
      if (n.hosts.length)
        await trx
          .insertInto('session_hosts')
          .values(
            n.hosts.map((h, i) => ({
              session_id: s.id,
              name: h.name,
              type: h.type,
              status: 'pending',
              original_enabled: null,
              disabled_by_us: 0,
              maintained_at: null,
              position: i,
            })),
          )
          .execute();
      for (const e of n.timeline) await insertTimeline(trx, s.id, e);
      return { busy: [] };
    });
  }

  async getSession(id: string): Promise<SessionRow | undefined> {
    const r = await this.db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst();
    return r && row.session(r);
  }

  async listSessions(): Promise<SessionRow[]> {
    const rs = await this.db.selectFrom('sessions').selectAll().orderBy('created_at').orderBy('id').execute();
    return rs.map(row.session);
  }

  async activeSessionsOnHosts(hosts: string[]): Promise<{ id: string; hosts: string[] }[]> {
    return activeOnHosts(this.db, hosts);
  }


  async loadSnapshot(id: string): Promise<StoredSnapshot | undefined> {
    // Repeatable read: every query below sees the same snapshot on PostgreSQL (SQLite always does).
    return this.db.transaction().setIsolationLevel('repeatable read').execute(async (trx) => {
      const s = await trx.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst();
      if (!s) return undefined;
      // One query at a time: a transaction is one connection (pg@8 warns on queued queries, pg@9 refuses).
      const hosts = await trx.selectFrom('session_hosts').selectAll().where('session_id', '=', id).orderBy('position').execute();
      const projects = await trx.selectFrom('session_projects').selectAll().where('session_id', '=', id).orderBy('project_id').execute();
      const instances = await trx.selectFrom('session_instances').selectAll().where('session_id', '=', id).orderBy('instance_id').execute();
      const ops = await trx.selectFrom('ops').selectAll().where('session_id', '=', id).orderBy('id').execute();
      const subs = await trx
        .selectFrom('subscriptions')
        .select(['project_id', 'event_types'])
        .where('project_id', 'is not', null)
        .execute();
      const deliveries = await trx
        .selectFrom('outbox')
        .select(['event_key', 'status'])
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('session_id', '=', id)
        .where('event_type', '=', 'maintenance.scheduled')
        .groupBy(['event_key', 'status'])
        .execute();
      const events = await trx.selectFrom('session_events').select('key').where('session_id', '=', id).execute();
      // Only the constraint-driven workflows read constraints (the default one ignores them).
      const projectIds = s.workflow === 'default' ? [] : projects.map((p) => p.project_id);
      const instanceConstraints = projectIds.length
        ? await trx.selectFrom('instance_constraints').selectAll().where('project_id', 'in', projectIds).orderBy('instance_id').execute()
        : [];
      const groupConstraints = projectIds.length
        ? await trx.selectFrom('instance_group_constraints').selectAll().where('project_id', 'in', projectIds).orderBy('group_id').execute()
        : [];
      const owners = new Map(instances.map((i) => [i.instance_id, i.project_id]));
      const subscribed = new Set<string>();
      for (const sub of subs)
        if (sub.project_id && (JSON.parse(sub.event_types) as string[]).includes('maintenance.scheduled'))
          subscribed.add(sub.project_id);
      const del: StoredSnapshot['deliveries'] = {};
      for (const d of deliveries) {
        const key = d.event_key.slice(id.length + 1);
        const e = (del[key] ??= { delivered: 0, pending: 0, dead: 0 });
        e[d.status as 'delivered' | 'pending' | 'dead'] += Number(d.n);
      }
      return {
        session: row.session(s),
        hosts: hosts.map(row.host),
        projects: projects.map(row.project),
        instances: instances.map(row.instance),
        ops: ops.map(row.op),
        subscribedProjects: [...subscribed].sort(),
        deliveries: del,
        eventKeys: events.map((e) => e.key),
        constraints: ownedConstraints(
          { instances: instanceConstraints.map(row.instanceConstraint), groups: groupConstraints.map(row.groupConstraint) },
          (iid) => owners.get(iid),
        ),
      };
    });
  }

  async applyDecision(id: string, fence: number, d: Decision, now: number): Promise<boolean> {
    try {
      await this.db.transaction().execute(async (trx) => {
        const s = d.session;
        const res = await trx
          .updateTable('sessions')
          .set({
            updated_at: now,
            ...(s?.state !== undefined && { state: s.state }),
            ...(s?.phase !== undefined && { phase: JSON.stringify(s.phase) }),
            ...(s?.reason !== undefined && { reason: s.reason }),
            ...(s?.percentDone !== undefined && { percent_done: Math.round(s.percentDone) }),
            ...(s?.paused !== undefined && { paused: s.paused ? 1 : 0 }),
            ...(s?.pausedAt !== undefined && { paused_at: s.pausedAt }),
            ...(s?.control !== undefined && { control: null }),
            ...(d.wakeAt !== undefined && { wake_at: d.wakeAt }),
          })
          .where('id', '=', id)
          .where('fence', '=', fence)
          .executeTakeFirst();
        if (Number(res.numUpdatedRows) !== 1) throw new FenceLost();

        for (const h of d.hosts ?? []) {
          const set = row.hostPatch(h);
          if (Object.keys(set).length)
            await trx.updateTable('session_hosts').set(set).where('session_id', '=', id).where('name', '=', h.name).execute();
        }
        for (const p of d.projects ?? []) {
          const set = row.projectPatch(p);
          const upd = Object.keys(set).length
            ? await trx
                .updateTable('session_projects')
                .set(set)
                .where('session_id', '=', id)
                .where('project_id', '=', p.projectId)
                .executeTakeFirst()
            : { numUpdatedRows: 0n };
          if (Number(upd.numUpdatedRows) === 0)
            await trx
              .insertInto('session_projects')
              .values({ ...row.newProject(id, p), ...set })
              .onConflict((oc) => oc.doNothing())
              .execute();
        }
        for (const i of d.instances ?? []) {
          const set = row.instancePatch(i);
          const upd = Object.keys(set).length
            ? await trx
                .updateTable('session_instances')
                .set(set)
                .where('session_id', '=', id)
                .where('instance_id', '=', i.instanceId)
                .executeTakeFirst()
            : { numUpdatedRows: 0n };
          if (Number(upd.numUpdatedRows) === 0 && i.projectId !== undefined && i.host !== undefined)
            await trx
              .insertInto('session_instances')
              .values(row.newInstance(id, i))
              .onConflict((oc) => oc.doNothing())
              .execute();
        }
        for (const op of d.ops ?? [])
          await trx
            .insertInto('ops')
            .values({
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
            })
            .onConflict((oc) => oc.columns(['session_id', 'key']).doNothing())
            .execute();
        for (const ev of d.events ?? []) {
          const ins = await trx
            .insertInto('session_events')
            .values({
              session_id: id,
              key: ev.key,
              event_type: ev.eventType,
              project_id: ev.projectId,
              payload: JSON.stringify(ev.payload),
              created_at: now,
            })
            .onConflict((oc) => oc.columns(['session_id', 'key']).doNothing())
            .executeTakeFirst();
          if (Number(ins.numInsertedOrUpdatedRows ?? 0) === 0) continue; // decided before: already fanned out
          for (const sub of await subscriptionsFor(trx, ev.eventType, ev.projectId))
            await trx
              .insertInto('outbox')
              .values({
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
              })
              .onConflict((oc) => oc.columns(['event_key', 'subscription_id']).doNothing())
              .execute();
        }
        for (const e of d.timeline ?? []) await insertTimeline(trx, id, e);
      });
      return true;
    } catch (e) {
      if (e instanceof FenceLost) return false;
      throw e;
    }
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
    await this.db
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
  }

  async purgeSession(id: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      for (const t of ['timeline', 'session_events', 'ops', 'session_instances', 'session_projects', 'session_hosts'] as const)
        await trx.deleteFrom(t).where('session_id', '=', id).execute();
      await trx.deleteFrom('sessions').where('id', '=', id).execute();
    });
  }

  async recordReply(r: ReplyInput, instanceIds: string[]): Promise<ReplyOutcome> {
    return this.db.transaction().execute(async (trx) => {
      const p = await trx
        .selectFrom('session_projects')
        .selectAll()
        .where('session_id', '=', r.sessionId)
        .where('project_id', '=', r.projectId)
        .$if(CAPABILITIES[this.dialect].rowLocks, (q) => q.forUpdate()) // `awaiting` cannot change under us
        .executeTakeFirst();
      if (!p) return { accepted: false };
      // Per-instance asks (vnf / k8s) this reply answers: the path's instance, else the listed ones,
      // else (no list, and no project-level ask of this state) every instance awaiting it.
      const own = new Set(instanceIds);
      const awaitingIds = new Set(
        (
          await trx
            .selectFrom('session_instances')
            .select('instance_id')
            .where('session_id', '=', r.sessionId)
            .where('project_id', '=', r.projectId)
            .where('ask_state', '=', r.answers)
            .execute()
        ).map((x) => x.instance_id),
      );
      const listed = Object.keys(r.instanceActions).filter((iid) => own.has(iid));
      const perInstance =
        r.instanceId !== undefined
          ? awaitingIds.has(r.instanceId)
            ? [r.instanceId]
            : []
          : listed.length
            ? listed.filter((iid) => awaitingIds.has(iid))
            : p.awaiting === r.answers
              ? []
              : [...awaitingIds].sort();
      for (const iid of perInstance) {
        const action = r.instanceActions[iid];
        await trx
          .updateTable('session_instances')
          .set({ reply: r.reply, replied_at: r.at, ...(action !== undefined && { action }) })
          .where('session_id', '=', r.sessionId)
          .where('instance_id', '=', iid)
          .execute();
      }
      const projectAccepted = perInstance.length === 0 && p.awaiting !== null && p.awaiting === r.answers;
      const accepted = projectAccepted || perInstance.length > 0;
      await trx
        .updateTable('session_projects')
        .set({
          last_reply: r.reply,
          last_reply_at: r.at,
          ...(projectAccepted && { reply: r.reply, replied_at: r.at }),
        })
        .where('session_id', '=', r.sessionId)
        .where('project_id', '=', r.projectId)
        .execute();
      if (perInstance.length) await trx.updateTable('sessions').set({ wake_at: r.at }).where('id', '=', r.sessionId).execute();
      if (projectAccepted) {
        for (const [iid, action] of Object.entries(r.instanceActions)) {
          if (!own.has(iid)) continue;
          await trx
            .updateTable('session_instances')
            .set({ action })
            .where('session_id', '=', r.sessionId)
            .where('instance_id', '=', iid)
            .where('status', 'in', ['present', 'moved'])
            .execute();
        }
        await trx.updateTable('sessions').set({ wake_at: r.at }).where('id', '=', r.sessionId).execute();
      }
      await insertTimeline(trx, r.sessionId, {
        at: r.at,
        kind: accepted ? 'reply' : 'reply_ignored',
        message: perInstance.length
          ? `${r.projectId} replied ${r.reply} for ${perInstance.join(', ')}`
          : accepted
            ? `${r.projectId} replied ${r.reply}`
            : `${r.projectId} replied ${r.reply}${r.instanceId !== undefined ? ` for ${r.instanceId}` : ''} while ${p.awaiting ? `${p.awaiting} was awaited` : 'no reply was awaited'}; recorded, no effect`,
        data: Object.keys(r.instanceActions).length ? { instance_actions: r.instanceActions } : undefined,
      });
      return { accepted };
    });
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
    await insertTimeline(this.db, id, e);
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
      .returning(['fence', 'lease_expires_at'])
      .executeTakeFirst();
    if (!r) return undefined;
    return { sessionId: id, owner, fence: Number(r.fence), expiresAt: Number(r.lease_expires_at) };
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
    await this.db
      .insertInto('instance_constraints')
      .values(row.instanceConstraintRow(c))
      .onConflict((oc) => oc.column('instance_id').doUpdateSet(update))
      .execute();
    return (await this.getInstanceConstraint(c.instanceId))!;
  }

  async getInstanceConstraint(instanceId: string): Promise<InstanceConstraint | undefined> {
    const r = await this.db.selectFrom('instance_constraints').selectAll().where('instance_id', '=', instanceId).executeTakeFirst();
    return r && row.instanceConstraint(r);
  }

  async deleteInstanceConstraint(instanceId: string): Promise<boolean> {
    const r = await this.db.deleteFrom('instance_constraints').where('instance_id', '=', instanceId).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async listInstanceConstraints(filter: { projectId?: string } = {}): Promise<InstanceConstraint[]> {
    let q = this.db.selectFrom('instance_constraints').selectAll().orderBy('project_id').orderBy('instance_id');
    if (filter.projectId !== undefined) q = q.where('project_id', '=', filter.projectId);
    return (await q.execute()).map(row.instanceConstraint);
  }

  async putGroupConstraint(g: GroupConstraint): Promise<GroupConstraint> {
    const { created_at: _created, group_id: _id, ...update } = row.groupConstraintRow(g);
    await this.db
      .insertInto('instance_group_constraints')
      .values(row.groupConstraintRow(g))
      .onConflict((oc) => oc.column('group_id').doUpdateSet(update))
      .execute();
    return (await this.getGroupConstraint(g.groupId))!;
  }

  async getGroupConstraint(groupId: string): Promise<GroupConstraint | undefined> {
    const r = await this.db.selectFrom('instance_group_constraints').selectAll().where('group_id', '=', groupId).executeTakeFirst();
    return r && row.groupConstraint(r);
  }

  async deleteGroupConstraint(groupId: string): Promise<boolean> {
    const r = await this.db.deleteFrom('instance_group_constraints').where('group_id', '=', groupId).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async listGroupConstraints(filter: { projectId?: string } = {}): Promise<GroupConstraint[]> {
    let q = this.db.selectFrom('instance_group_constraints').selectAll().orderBy('project_id').orderBy('group_id');
    if (filter.projectId !== undefined) q = q.where('project_id', '=', filter.projectId);
    return (await q.execute()).map(row.groupConstraint);
  }

  // ---- subscriptions --------------------------------------------------------------------------

  async createSubscription(s: Subscription): Promise<void> {
    await this.db
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
    const r = await this.db.deleteFrom('subscriptions').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
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
      await trx
        .updateTable('outbox')
        .set((eb) => ({ status: 'delivered', delivered_at: now, last_status: status, attempts: eb('attempts', '+', 1), claimed_by: null, claimed_until: null }))
        .where('id', '=', id)
        .execute();
      await trx
        .updateTable('subscriptions')
        .set((eb) => ({ delivered: eb('delivered', '+', 1) }))
        .where('id', '=', subscriptionId)
        .execute();
    });
  }

  async markFailed(id: number, _now: number, error: string, status: number | null, nextAttemptAt: number | null): Promise<void> {
    await this.db
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
      .execute();
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


}

async function activeOnHosts(db: Kysely<DB> | Transaction<DB>, hosts: string[]): Promise<{ id: string; hosts: string[] }[]> {
  if (!hosts.length) return [];
  const rs = await db
    .selectFrom('session_hosts')
    .innerJoin('sessions', 'sessions.id', 'session_hosts.session_id')
    .select(['sessions.id as id', 'session_hosts.name as name'])
    .where('session_hosts.name', 'in', hosts)
    .where('sessions.state', 'not in', ['MAINTENANCE_DONE', 'MAINTENANCE_FAILED'])
    .where('sessions.deleting', '=', 0)
    .execute();
  const by = new Map<string, string[]>();
  for (const r of rs) by.set(r.id, [...(by.get(r.id) ?? []), r.name]);
  return [...by].map(([id, hs]) => ({ id, hosts: hs }));
}

async function insertTimeline(db: Kysely<DB> | Transaction<DB>, sessionId: string, e: TimelineEntry): Promise<void> {
  await db
    .insertInto('timeline')
    .values({ session_id: sessionId, at: e.at, kind: e.kind, message: e.message, data: e.data ? JSON.stringify(e.data) : null })
    .execute();
}

async function subscriptionsFor(db: Kysely<DB> | Transaction<DB>, eventType: EventType, projectId: string | null): Promise<Subscription[]> {
  let q = db.selectFrom('subscriptions').selectAll().orderBy('created_at').orderBy('id');
  q = projectId === null ? q.where('project_id', 'is', null) : q.where('project_id', '=', projectId);
  return (await q.execute()).map(row.subscription).filter((s) => s.eventTypes.includes(eventType));
}

