// Project replies over Kysely: what a reply answers (pure), and the repeats of a recorded reply,
// which are counted without a write transaction of their own.
//
// Application managers repeat replies: a retry after a timeout, Tacker's ACK after every move it is
// told of, a load test. A repeat changes only its reply row's count and the project's last reply
// time, nothing the engine acts on. Writing that per request put every repeat behind SQLite's one
// writer (the engine's thread holds it during a step, and a waiting writer sleeps in whole
// milliseconds with its event loop stopped). So a repeat is recognised by reads alone (WAL readers
// never wait) and its count is added to a tally written once a second, and before any read that
// shows counts. A crash loses at most that second of repeat counts, never a reply that changed
// anything: those are written at once, in their own transaction.
import { createHash } from 'node:crypto';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { ReplyInput } from '../ports/store.js';
import { compiledOnce } from './compiled.js';
import type { ReadCache } from './read-cache.js';
import type { DB } from './schema.js';

type Db = Kysely<DB> | Transaction<DB>;

/** What a reply answers, given the project's row and its instances awaiting the answered state. */
export interface ReplyEffect {
  /** Instances whose own ask (vnf / k8s) the reply answers. */
  perInstance: string[];
  /** The project's own ask is answered. */
  projectAccepted: boolean;
  accepted: boolean;
}

export function replyEffect(r: ReplyInput, awaiting: string | null, awaitingIds: ReadonlySet<string>): ReplyEffect {
  // Per-instance asks this reply answers: the path's instance, else the listed ones, else (no list,
  // and no project-level ask of this state) every instance awaiting it.
  const listed = [...r.instanceActions.keys()];
  const perInstance =
    r.instanceId !== undefined
      ? awaitingIds.has(r.instanceId)
        ? [r.instanceId]
        : []
      : listed.length
        ? listed.filter((iid) => awaitingIds.has(iid))
        : awaiting === r.answers
          ? []
          : [...awaitingIds].sort();
  const projectAccepted = perInstance.length === 0 && awaiting !== null && awaiting === r.answers;
  return { perInstance, projectAccepted, accepted: projectAccepted || perInstance.length > 0 };
}

const digestOf = (kept: readonly (readonly [string, string])[]): string => createHash('sha256').update(JSON.stringify(kept)).digest('hex');
/** Most replies name no instance (a plain ACK): their digest, computed once. */
const NO_ACTIONS_DIGEST = digestOf([]);

/** The reply row's key: one row per project, instance, reply, outcome and set of actions (its columns, as a filter: `eb.and(key)`). */
export function replyKey(r: ReplyInput, accepted: boolean, kept: readonly (readonly [string, string])[]) {
  const digest = kept.length ? digestOf(kept) : NO_ACTIONS_DIGEST;
  return { session_id: r.sessionId, project_id: r.projectId, instance_id: r.instanceId ?? '', reply: r.reply, accepted: accepted ? 1 : 0, digest };
}
export type ReplyKey = ReturnType<typeof replyKey>;

export const sortedActions = (r: ReplyInput): [string, string][] => [...r.instanceActions].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

/** The hot reads of a reply, compiled once (compiled.ts). */
export function replyReads(db: Kysely<DB>, cache?: ReadCache) {
  const awaiting = compiledOnce(db, 3, (d, sessionId: string, projectId: string, state: string) =>
    d.selectFrom('session_instances').select('instance_id').where('session_id', '=', sessionId).where('project_id', '=', projectId).where('ask_state', '=', state),
  );
  // One statement, so one snapshot (and one read lock) without a transaction: the project's row, once
  // per instance of it awaiting the answered state (by index: session, project, ask state), each row
  // carrying whether the reply row is known, accepted or not (by its primary key).
  const repeatRows = compiledOnce(db, 6, (d, sessionId: string, projectId: string, state: string, instanceId: string, reply: string, digest: string) =>
    d
      .selectFrom('session_projects as p')
      .leftJoin('session_instances as i', (j) => j.onRef('i.session_id', '=', 'p.session_id').onRef('i.project_id', '=', 'p.project_id').on('i.ask_state', '=', state))
      .select(['p.awaiting', 'p.reply', 'i.instance_id'])
      .select((eb) => {
        const known = (accepted: number) =>
          eb
            .selectFrom('session_replies as r')
            .select('r.count')
            .whereRef('r.session_id', '=', 'p.session_id')
            .whereRef('r.project_id', '=', 'p.project_id')
            .where((w) => w.and({ 'r.instance_id': instanceId, 'r.reply': reply, 'r.accepted': accepted, 'r.digest': digest }));
        return [known(1).as('known_accepted'), known(0).as('known_ignored')];
      })
      .where('p.session_id', '=', sessionId)
      .where('p.project_id', '=', projectId),
    cache,
  );

  /** The instances of a project awaiting the answered state (by index: session, project, ask state). */
  const awaitingInstances = async (on: Db, r: ReplyInput): Promise<Set<string>> =>
    new Set((await awaiting(on, r.sessionId, r.projectId, r.answers)).rows.map((x) => x.instance_id));

  /**
   * A repeat the store has seen before and that changes nothing the engine reads: a repeat that
   * answers nothing, or of the project's recorded answer. One read statement, no transaction.
   * Null: not a repeat, or it changes something (the caller writes it in a transaction).
   */
  const readRepeat = async (r: ReplyInput): Promise<{ key: ReplyKey; accepted: boolean; project: boolean; awaiting: string | null } | null> => {
    const probe = replyKey(r, false, sortedActions(r));
    const rows = (await repeatRows(db, r.sessionId, r.projectId, r.answers, probe.instance_id, r.reply, probe.digest)).rows;
    const p = rows[0];
    if (!p) return null;
    const e = replyEffect(r, p.awaiting, new Set(rows.flatMap((x) => (x.instance_id === null ? [] : [x.instance_id]))));
    const recordedAnswer = e.perInstance.length === 0 && e.projectAccepted && p.reply === r.reply;
    if (e.accepted && !recordedAnswer) return null;
    const known = (e.accepted ? p.known_accepted : p.known_ignored) !== null;
    return known ? { key: { ...probe, accepted: e.accepted ? 1 : 0 }, accepted: e.accepted, project: recordedAnswer, awaiting: p.awaiting } : null;
  };

  return { awaitingInstances, readRepeat };
}

/** How often counted repeats are written (and at the latest when a read shows counts, or at close). */
export const TALLY_FLUSH_MS = 1000;

interface Counted {
  key: ReplyKey;
  n: number;
  lastAt: number;
  /** A repeat of the project's recorded answer: the project's last reply time moves too. */
  project: boolean;
}

/** Repeats counted in memory, written in one transaction: O(distinct repeats) per flush. */
export class RepeatTally {
  private pending = new Map<string, Counted>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | null = null;

  constructor(
    private readonly db: Kysely<DB>,
    private readonly onError: (err: unknown) => void,
  ) {}

  add(key: ReplyKey, at: number, project: boolean): void {
    const id = JSON.stringify([key.session_id, key.project_id, key.instance_id, key.reply, key.accepted, key.digest]);
    const c = this.pending.get(id);
    if (c) {
      c.n++;
      c.lastAt = Math.max(c.lastAt, at);
      c.project ||= project;
    } else this.pending.set(id, { key, n: 1, lastAt: at, project });
    this.timer ??= setTimeout(() => void this.flush().catch(this.onError), TALLY_FLUSH_MS).unref();
  }

  /** Write what is counted (reads that show counts call this first). */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (!this.pending.size) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = [...this.pending.values()];
    this.pending = new Map();
    this.flushing = this.write(batch).finally(() => (this.flushing = null));
    await this.flushing;
  }

  private async write(batch: Counted[]): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      for (const { key, n, lastAt, project } of batch) {
        await trx
          .updateTable('session_replies')
          .set((eb) => ({ count: eb('count', '+', n), last_at: sql<number>`case when last_at < ${lastAt} then ${lastAt} else last_at end` }))
          .where((eb) => eb.and(key))
          .execute();
        if (project)
          await trx
            .updateTable('session_projects')
            .set({ last_reply: key.reply, last_reply_at: lastAt })
            .where('session_id', '=', key.session_id)
            .where('project_id', '=', key.project_id)
            .where((eb) => eb.or([eb('last_reply_at', 'is', null), eb('last_reply_at', '<=', lastAt)]))
            .execute();
      }
    });
  }
}
