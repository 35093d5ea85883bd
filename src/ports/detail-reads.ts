// What the store answers for a session's detail (GET /v1/maintenance/{id}/detail): each long list
// a page at a time by keyset (the key of the previous page's last row), its size, and the few rows
// the "waiting for" line names. Every read goes through an index, so the cost is the rows answered.
import type { Op, OutboxRow, SessionHost, SessionInstance, SessionProject, SessionRow, TimelineEntry } from '../domain/model.js';

export const DETAIL_LISTS = ['hosts', 'projects', 'instances', 'plugin_runs', 'operations', 'deliveries', 'timeline', 'replies'] as const;
export type DetailList = (typeof DETAIL_LISTS)[number];

export const DETAIL_PAGE = {
  /** Rows per list when the caller names no limit. */
  default: 100,
  /** The largest page a caller may ask for. */
  max: 1000,
  /** Rows of each kind the "waiting for" line may name (it counts the rest). */
  waitingNames: 20,
} as const;

/** A stored reply's identity (the table's key): project, instance ('' = the project URL), reply, accepted 0/1, digest. */
export type ReplyKey = readonly [projectId: string, instanceId: string, reply: string, accepted: number, digest: string];

/**
 * The key each list is ordered and paged by. The timeline goes newest first: its pages go back in
 * time (each page's rows are still in time order).
 */
export interface DetailKeys {
  hosts: number;
  projects: string;
  instances: string;
  plugin_runs: number;
  operations: number;
  deliveries: number;
  timeline: number;
  replies: ReplyKey;
}

export interface StoredReply {
  projectId: string;
  /** null: a reply to the project URL. */
  instanceId: string | null;
  reply: string;
  accepted: boolean;
  /** Times the same reply was received. */
  count: number;
  firstAt: number;
  lastAt: number;
}

export interface DetailRows {
  hosts: SessionHost;
  projects: SessionProject;
  /** With the move operations of that instance, oldest first. */
  instances: SessionInstance & { moveOps: Op[] };
  plugin_runs: Op;
  operations: Op;
  deliveries: OutboxRow;
  timeline: TimelineEntry;
  replies: StoredReply;
}

export interface Page<T, K> {
  rows: T[];
  /** Rows in the whole list. */
  total: number;
  /** Key to pass as `after` for the next page; null on the last page. */
  next: K | null;
}

export type DetailPages = { [L in DetailList]: Page<DetailRows[L], DetailKeys[L]> };

export interface DetailQuery {
  /** The lists to read (the others are left out). */
  lists: readonly DetailList[];
  /** Rows per list, 1..DETAIL_PAGE.max. */
  limit: number;
  /** Per list: the page after this key (absent: the first page). */
  after: Partial<DetailKeys>;
}

/** The first few rows of a kind (in key order), how many there are, and the earliest deadline among all. */
export interface Waiting<T> {
  first: T[];
  count: number;
  /** Earliest reply_at among all of them (null: none has one). */
  until?: number | null;
}

/** What a running session may be waiting for, read by index. */
export interface WaitingFacts {
  /** Projects asked (awaiting) that have not replied, by project id. */
  silentProjects: Waiting<{ projectId: string; awaiting: string }>;
  /** vnf / k8s: per-instance asks not answered, instances not gone, by instance id. */
  silentInstances: Waiting<{ projectId: string; instanceId: string; askState: string }>;
  /**
   * Ops pending or started: those whose start is being retried after an error first (a
   * PodDisruptionBudget refusing an eviction says which and why), then by id.
   */
  inFlight: Waiting<{ kind: string; subject: string; status: string; error: string | null }>;
}

export interface SessionDetail {
  session: SessionRow;
  waiting: WaitingFacts;
  pages: Partial<DetailPages>;
}

export interface DetailReads {
  /** One consistent read (one snapshot) of a session's detail; undefined when there is no such session. */
  readDetail(id: string, q: DetailQuery): Promise<SessionDetail | undefined>;
}
