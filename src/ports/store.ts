// The store port: everything the engine, services and relay need from persistence. One contract
// suite runs against every implementation (SQLite now, PostgreSQL next).
import type { Constraints, GroupConstraint, InstanceConstraint, PersistedPlan } from '../domain/constraints.js';
import type { Decision } from '../domain/decision.js';
import type { SessionData } from '../domain/snapshot.js';
import type {
  Op,
  SessionControl,
  OutboxRow,
  SessionHost,
  SessionInstance,
  SessionProject,
  SessionRow,
  TimelineEntry,
} from '../domain/model.js';
import type { EventType } from '../domain/states.js';
import type { Subscription } from './transport.js';
import type { DetailQuery, SessionDetail } from './detail-reads.js';

export type StoredSnapshot = SessionData;

export interface NewSession {
  session: Omit<SessionRow, 'updatedAt' | 'wakeAt' | 'percentDone' | 'paused' | 'deleting' | 'reason' | 'pausedAt' | 'control'>;
  hosts: Pick<SessionHost, 'name' | 'type'>[];
  timeline: TimelineEntry[];
}

/** Which of a project's instances: all, those on `host`, those of `ids`; `present` leaves out the ones gone. */
export interface InstanceFilter {
  host?: string;
  ids?: readonly string[];
  present?: boolean;
}

export interface ReplyInput {
  sessionId: string;
  projectId: string;
  /** Raw reply state, e.g. ACK_PLANNED_MAINTENANCE. */
  reply: string;
  /** The state the reply answers (reply minus ACK_/NACK_); '' when the session has ended (it answers nothing). */
  answers: string;
  /** Actions for the replying project's OWN instances in the session (the caller filtered them). */
  instanceActions: ReadonlyMap<string, string>;
  /** Sent to the per-instance reply URL (vnf / k8s): answers that instance's own ask. */
  instanceId?: string;
  at: number;
}

export interface ReplyOutcome {
  /** The reply answered the state the project was asked; false = recorded, no effect. */
  accepted: boolean;
  /** The same reply was stored before: only its count went up. */
  duplicate?: boolean;
  /** False: nothing the engine acts on changed (a repeat of what is recorded): no need to wake it. */
  changed?: boolean;
  /** The project takes no part in the session: nothing was recorded. */
  missing?: boolean;
  /** The project's own ask as the reply was recorded against it (null: none), so a reply with no effect can say what is awaited without reading it again. */
  awaiting?: string | null;
}

/** What a committed decision produced, for the engine's in-memory copy of the session. */
export interface Applied {
  /** The ops the decision added (known keys are not in here), with their ids. */
  ops: Op[];
  /** Per event key the decision added: how many outbox rows (subscriptions) it fanned out to. */
  fanout: Map<string, number>;
  /** The session's change number now: above what the engine has read means someone else wrote. */
  changeSeq: number;
}

/** A loaded session, with where its change feeds stood when it was read. */
export type LoadedSnapshot = StoredSnapshot & { changeSeq: number; globalSeq: number };

/** What others wrote to a session since the engine last looked (rows re-read whole). */
export interface SessionChanges {
  changeSeq: number;
  globalSeq: number;
  /** Re-read when an admin flag or command changed. */
  session?: SessionRow;
  projects: SessionProject[];
  instances: SessionInstance[];
  /** Delivery counts of the event keys whose outbox rows changed. */
  deliveries: StoredSnapshot['deliveries'];
  /** Re-read when subscriptions changed. */
  subscribedProjects?: string[];
  /** Re-read when constraints of the session's projects changed (constraint workflows only). */
  constraints?: StoredSnapshot['constraints'];
}

/** Stored replies and the timeline are bounded (docs/security.md). */
export const STORAGE_LIMITS = {
  /** Entries a session's timeline keeps: the newest. */
  timelineEntries: 50_000,
  /** Instance actions kept with a stored reply. */
  replyActions: 200,
} as const;

/** What an op's outcome changes. */
export type OpPatch = Partial<Pick<Op, 'status' | 'ref' | 'result' | 'error' | 'attempts' | 'startedAt' | 'finishedAt' | 'pollAt'>>;

/** What an external job reported for a plug-in run (PUT /v1/maintenance/{session_id}/{host}/{plugin}). */
export interface PluginCallbackInput {
  sessionId: string;
  /** The run's host; null for a pre / post run. */
  host: string | null;
  plugin: string;
  state: 'DONE' | 'FAILED';
  output: string | null;
  at: number;
}

export type PluginCallbackOutcome =
  | { result: 'accepted' | 'duplicate'; opId: number }
  /** The run has an outcome already, another one. */
  | { result: 'conflict'; opId: number; state: 'DONE' | 'FAILED' }
  /** No such session, or no run of that plug-in on that host is going on. */
  | { result: 'no_session' | 'no_run' };

export interface StoredPluginCallback {
  state: 'DONE' | 'FAILED';
  output: string | null;
  at: number;
}

export interface Lease {
  sessionId: string;
  owner: string;
  fence: number;
  expiresAt: number;
  /** The session's change number when the lease was taken or renewed. */
  changeSeq: number;
}

export interface Store {
  readonly dialect: 'sqlite' | 'postgres';
  migrate(): Promise<void>;
  close(): Promise<void>;

  // sessions
  /** Creates the session unless one of its hosts is in another running session (then returns those, writing nothing). */
  createSession(s: NewSession): Promise<{ busy: { id: string; hosts: string[] }[] }>;
  /** The session row; its `phase` holds no plan (a vnf plan can be megabytes: sessionPlan reads it). */
  getSession(id: string): Promise<SessionRow | undefined>;
  /** A vnf / k8s session's plan (null: none made yet, or the default workflow). */
  sessionPlan(id: string): Promise<PersistedPlan | null>;
  /** Each host of the session and its status, in the session's order. */
  sessionHostStatuses(id: string): Promise<Pick<SessionHost, 'name' | 'status'>[]>;
  listSessions(): Promise<SessionRow[]>;
  /** Sessions not terminal-and-clean whose hosts overlap `hosts`. */
  activeSessionsOnHosts(hosts: string[]): Promise<{ id: string; hosts: string[] }[]>;
  loadSnapshot(id: string): Promise<LoadedSnapshot | undefined>;
  /** Rows others changed since `changeSeq` / `globalSeq` (O(changes)); undefined when the session is gone. */
  changesSince(id: string, changeSeq: number, globalSeq: number): Promise<SessionChanges | undefined>;
  /**
   * Persist a decision in one transaction: patches, new ops (ignoring known keys), events fanned
   * out to matching subscriptions as outbox rows (ignoring known keys), timeline, wake_at.
   * Returns false without writing when `fence` is no longer the session's current fence.
   */
  applyDecision(id: string, fence: number, d: Decision, now: number): Promise<boolean>;
  /**
   * applyDecision, answering what was written (null: fence lost). Writes only what the decision
   * changes, in multi-row statements; `consumedSeq` lets the store drop change rows already read.
   */
  commitDecision(id: string, fence: number, d: Decision, now: number, consumedSeq?: number, opPatches?: ReadonlyMap<number, OpPatch>): Promise<Applied | null>;
  updateOp(id: number, fence: number, patch: OpPatch): Promise<boolean>;
  /** API-side flags: paused (sets paused_at), deleting, an admin command for the engine, a nudge via wake_at. */
  setSessionFlags(
    id: string,
    flags: { paused?: boolean; deleting?: boolean; wakeAt?: number | null; control?: SessionControl | null },
    now: number,
  ): Promise<void>;
  /** Remove a session and everything of it (after cleanup). */
  purgeSession(id: string): Promise<void>;
  /** Store a job's report for the running run of `plugin` on `host` (the first one counts). */
  recordPluginCallback(c: PluginCallbackInput): Promise<PluginCallbackOutcome>;
  /** The report stored for a run (an op id), if any. */
  pluginCallback(opId: number): Promise<StoredPluginCallback | undefined>;
  /** Store a reply (once; repeats are counted) and, when it answers what was asked, its effect. */
  recordReply(r: ReplyInput): Promise<ReplyOutcome>;
  /** Stored constraints of these projects (instance and group), as stored. */
  constraintsFor(projectIds: readonly string[]): Promise<Constraints>;
  /** One project of a session (indexed). */
  sessionProject(sessionId: string, projectId: string): Promise<SessionProject | undefined>;
  /**
   * A project's instances in a session, by index: all of them, or those on `host`, or those of
   * `ids`; `present` leaves out the ones gone. Cost: the rows answered.
   */
  projectInstances(sessionId: string, projectId: string, filter?: InstanceFilter): Promise<SessionInstance[]>;
  /** The same, ids only (sorted): what a project's GET and its replies need. */
  projectInstanceIds(sessionId: string, projectId: string, filter?: InstanceFilter): Promise<string[]>;
  /** Sessions whose wake_at has come and that no other live engine holds. */
  dueSessions(now: number, limit: number, owner: string): Promise<string[]>;
  /** Earliest wake_at of any session, for the engine's sleep. */
  nextWakeAt(): Promise<number | null>;
  timeline(id: string): Promise<TimelineEntry[]>;
  appendTimeline(id: string, e: TimelineEntry): Promise<void>;

  // leases (fencing tokens): a stale owner's writes are refused
  acquireLease(id: string, owner: string, now: number, ttlMs: number): Promise<Lease | undefined>;
  releaseLease(id: string, owner: string): Promise<void>;
  /** Drop every lease and outbox claim (a single-engine database after a restart: the old owner is gone). */
  releaseAllLeases(): Promise<void>;

  // constraints (spec §5): upserts return the stored row; deletes say whether a row was removed
  putInstanceConstraint(c: InstanceConstraint): Promise<InstanceConstraint>;
  getInstanceConstraint(instanceId: string): Promise<InstanceConstraint | undefined>;
  deleteInstanceConstraint(instanceId: string): Promise<boolean>;
  listInstanceConstraints(filter?: { projectId?: string }): Promise<InstanceConstraint[]>;
  putGroupConstraint(g: GroupConstraint): Promise<GroupConstraint>;
  getGroupConstraint(groupId: string): Promise<GroupConstraint | undefined>;
  deleteGroupConstraint(groupId: string): Promise<boolean>;
  listGroupConstraints(filter?: { projectId?: string }): Promise<GroupConstraint[]>;

  // subscriptions
  createSubscription(s: Subscription): Promise<void>;
  getSubscription(id: string): Promise<Subscription | undefined>;
  listSubscriptions(filter?: { projectId?: string | null }): Promise<Subscription[]>;
  deleteSubscription(id: string): Promise<boolean>;
  subscriptionsFor(eventType: EventType, projectId: string | null): Promise<Subscription[]>;

  // outbox
  /** Oldest due pending row of each subscription (head-of-line per receiver, so order is kept). */
  dueDeliveries(now: number, limit: number, exclude: string[], owner?: string): Promise<OutboxRow[]>;
  markDelivered(id: number, subscriptionId: string, now: number, status: number): Promise<void>;
  markFailed(id: number, now: number, error: string, status: number | null, nextAttemptAt: number | null): Promise<void>;
  outboxFor(sessionId: string): Promise<OutboxRow[]>;
  /** Earliest next_attempt_at of the head rows of subscriptions not in `exclude` (in flight), for the relay's sleep. */
  nextDeliveryAt(exclude?: string[], now?: number, owner?: string): Promise<number | null>;

  // detail reads (ports/detail-reads.ts): the session detail a page at a time, by index
  /** One consistent read of a session's detail: the asked pages with their totals, and what it waits for. */
  readDetail(id: string, q: DetailQuery): Promise<SessionDetail | undefined>;
}
