// The store port: everything the engine, services and relay need from persistence. One contract
// suite runs against every implementation (SQLite now, PostgreSQL next).
import type { GroupConstraint, InstanceConstraint } from '../domain/constraints.js';
import type { Decision } from '../domain/decision.js';
import type { SessionData } from '../domain/snapshot.js';
import type {
  Op,
  SessionControl,
  OutboxRow,
  SessionHost,
  SessionRow,
  TimelineEntry,
} from '../domain/model.js';
import type { EventType } from '../domain/states.js';
import type { Subscription } from './transport.js';

export type StoredSnapshot = SessionData;

export interface NewSession {
  session: Omit<SessionRow, 'updatedAt' | 'wakeAt' | 'percentDone' | 'paused' | 'deleting' | 'reason' | 'pausedAt' | 'control'>;
  hosts: Pick<SessionHost, 'name' | 'type'>[];
  timeline: TimelineEntry[];
}

export interface ReplyInput {
  sessionId: string;
  projectId: string;
  /** Raw reply state, e.g. ACK_PLANNED_MAINTENANCE. */
  reply: string;
  /** The state the reply answers (reply minus ACK_/NACK_). */
  answers: string;
  instanceActions: Record<string, string>;
  /** Sent to the per-instance reply URL (vnf / k8s): answers that instance's own ask. */
  instanceId?: string;
  at: number;
}

export interface ReplyOutcome {
  /** The reply answered the state the project was asked; false = recorded, no effect. */
  accepted: boolean;
}

export interface Lease {
  sessionId: string;
  owner: string;
  fence: number;
  expiresAt: number;
}

export interface Store {
  readonly dialect: 'sqlite' | 'postgres';
  migrate(): Promise<void>;
  close(): Promise<void>;

  // sessions
  /** Creates the session unless one of its hosts is in another running session (then returns those, writing nothing). */
  createSession(s: NewSession): Promise<{ busy: { id: string; hosts: string[] }[] }>;
  getSession(id: string): Promise<SessionRow | undefined>;
  listSessions(): Promise<SessionRow[]>;
  /** Sessions not terminal-and-clean whose hosts overlap `hosts`. */
  activeSessionsOnHosts(hosts: string[]): Promise<{ id: string; hosts: string[] }[]>;
  loadSnapshot(id: string): Promise<StoredSnapshot | undefined>;
  /**
   * Persist a decision in one transaction: patches, new ops (ignoring known keys), events fanned
   * out to matching subscriptions as outbox rows (ignoring known keys), timeline, wake_at.
   * Returns false without writing when `fence` is no longer the session's current fence.
   */
  applyDecision(id: string, fence: number, d: Decision, now: number): Promise<boolean>;
  updateOp(id: number, fence: number, patch: Partial<Pick<Op, 'status' | 'ref' | 'result' | 'error' | 'attempts' | 'startedAt' | 'finishedAt' | 'pollAt'>>): Promise<boolean>;
  /** API-side flags: paused (sets paused_at), deleting, an admin command for the engine, a nudge via wake_at. */
  setSessionFlags(
    id: string,
    flags: { paused?: boolean; deleting?: boolean; wakeAt?: number | null; control?: SessionControl | null },
    now: number,
  ): Promise<void>;
  /** Remove a session and everything of it (after cleanup). */
  purgeSession(id: string): Promise<void>;
  recordReply(r: ReplyInput, instanceIds: string[]): Promise<ReplyOutcome>;
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
}
