// The persisted model of a maintenance session. Times are ms since the epoch.
import type {
  EventType,
  HostType,
  InstanceAction,
  PluginType,
  ReplyState,
  SessionState,
  WorkflowName,
} from './states.js';
import type { PersistedPlan, PlanEstimates } from './constraints.js';
import type { MaintenanceWindows } from './windows.js';

export interface ActionSpec {
  plugin: string;
  type: PluginType;
  metadata: Record<string, unknown>;
  /** Actions of a type run by `order` (absent: 0), then as listed. */
  order?: number;
}

/** Per-session policy; the API's extensions (spec §3) land here with their defaults. */
export interface SessionOptions {
  /** Seconds a project has to answer MAINTENANCE / PREPARE_MAINTENANCE / PLANNED_MAINTENANCE. */
  replyWindowS: number;
  /** Seconds a project has to answer SCALE_IN / MAINTENANCE_COMPLETE. */
  scaleInReplyWindowS: number;
  /** What happens to a project with no subscription: act on its behalf, or fail the session. */
  noSubscription: 'act' | 'fail';
  /** Seconds to wait for OWN_ACTION instances to leave a host. */
  ownActionTimeoutS: number;
  /** Upper limit of hosts in maintenance at once (workflows may use fewer). */
  maxParallelHosts: number;
  /** vnf / k8s: durations the planner assumes (defaults: the engine's, else DEFAULT_ESTIMATES). */
  estimates?: Partial<PlanEstimates>;
  /** Error budget: hosts that may fail their `verify` actions before the session fails (absent: 0). */
  maxFailedHosts?: number;
  /** When new hosts may be taken down (absent: any time). */
  windows?: MaintenanceWindows;
}

export interface SessionRow {
  id: string;
  state: SessionState;
  workflow: WorkflowName;
  maintenanceAt: number;
  metadata: Record<string, unknown>;
  actions: ActionSpec[];
  download: string[];
  options: SessionOptions;
  /** Workflow-private progress (persisted so a restart continues with the same choices). */
  phase: Phase;
  reason: string | null;
  paused: boolean;
  /** Set by DELETE; the engine restores hosts, then removes the rows. */
  deleting: boolean;
  pausedAt: number | null;
  /** An admin command waiting for the engine (continue / resume / abort). */
  control: SessionControl | null;
  wakeAt: number | null;
  createdAt: number;
  updatedAt: number;
  percentDone: number;
}

export type SessionControl =
  | { action: 'continue'; state: SessionState; at: number }
  | { action: 'resume'; at: number }
  | { action: 'abort'; at: number };

export interface Phase {
  /** Instance inventory of the session's hosts has been taken. */
  inventoried?: boolean;
  /** Host currently being emptied (PREPARE / PLANNED). */
  host?: string | null;
  /** Number of SCALE_IN rounds asked so far. */
  scaleInRounds?: number;
  /** Free vCPUs seen when the last SCALE_IN was asked (to detect a scale-in that freed nothing). */
  scaleInFreeBefore?: number;
  /** Compute hosts have had scheduling disabled (first START_MAINTENANCE round). */
  computesDisabled?: boolean;
  /** When the acknowledged actions for `host` started (OWN_ACTION timeout). */
  actionsSince?: number | null;
  /** State the session failed in (PUT continue goes back there). */
  failedIn?: SessionState | null;
  /** Hosts were restored after a failure / abort. */
  restored?: boolean;
  /** Session transitions so far (keys the maintenance.session events). */
  transitions?: number;
  /** Continue attempts after MAINTENANCE_FAILED (prefixes intent keys). */
  attempt?: number;
  /** The admin aborted the session. */
  aborted?: boolean;
  /** vnf / k8s: the plan the session follows (null: to be made). */
  plan?: PersistedPlan | null;
  /** vnf / k8s: projects asked to scale in, by round. */
  scaleInAsked?: string[];
  /** Hosts that failed a `verify` action: left disabled on purpose, counted against max_failed_hosts. */
  failedHosts?: FailedHost[];
  /** The last window wait noted in the timeline (so it is noted once per wait). */
  windowWait?: number | null;
}

export interface FailedHost {
  host: string;
  reason: string;
  at: number;
}

/** `failed`: its `verify` actions failed; it stays disabled (never enabled by the session again). */
export type HostStatus = 'pending' | 'emptying' | 'maintaining' | 'maintained' | 'failed';

export interface SessionHost {
  sessionId: string;
  name: string;
  type: HostType;
  status: HostStatus;
  /** Scheduling state found before the session first touched the host (null: not touched yet). */
  originalEnabled: boolean | null;
  /** The session has disabled scheduling and not yet put it back. */
  disabledByUs: boolean;
  maintainedAt: number | null;
}

export interface SessionProject {
  sessionId: string;
  projectId: string;
  /** Has an application manager (a maintenance.scheduled subscription) when first seen. */
  interacting: boolean;
  /** State awaited from this project, or null. */
  awaiting: ReplyState | null;
  /** Distinguishes repeated asks of the same state (e.g. `PLANNED_MAINTENANCE:compute-1`). */
  askKey: string | null;
  notifiedAt: number | null;
  replyAt: number | null;
  /** Last reply received for the current ask (`ACK_…`/`NACK_…`), null until one arrives. */
  reply: string | null;
  repliedAt: number | null;
  /** Last reply of any kind, for the detail view. */
  lastReply: string | null;
  lastReplyAt: number | null;
  /** The project's notification could not be delivered and it got the default behaviour. */
  unreachable: boolean;
}

export type InstanceStatus = 'present' | 'moving' | 'moved' | 'failed' | 'gone';

export interface SessionInstance {
  sessionId: string;
  instanceId: string;
  projectId: string;
  name: string;
  /** Last known host. */
  host: string;
  originHost: string;
  vcpus: number;
  floatingIp: boolean;
  liveMigratable: boolean;
  /** Action asked for (reply) or chosen (default behaviour) for the current move. */
  action: InstanceAction | null;
  status: InstanceStatus;
  moves: number;
  error: string | null;
  /** vnf / k8s: state asked of this instance alone (per-instance PREPARE/PLANNED_MAINTENANCE). */
  askState?: ReplyState | null;
  askKey?: string | null;
  notifiedAt?: number | null;
  replyAt?: number | null;
  /** Reply to the current per-instance ask (`ACK_…`/`NACK_…`). */
  reply?: string | null;
  repliedAt?: number | null;
}

export type OpKind = 'scheduling' | 'move' | 'host_maintenance' | 'plugin' | 'download';
export type OpStatusValue = 'pending' | 'started' | 'done' | 'failed';

/** An intent: a side effect written down before it happens, keyed so it happens once. */
export interface Op {
  id: number;
  sessionId: string;
  key: string;
  kind: OpKind;
  /** Instance id, host name or plug-in name. */
  subject: string;
  args: Record<string, unknown>;
  status: OpStatusValue;
  /** Driver's reference for polling. */
  ref: string | null;
  result: Record<string, unknown> | null;
  error: string | null;
  attempts: number;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  /** Next time to poll a started operation. */
  pollAt: number | null;
}

export type NewOp = Pick<Op, 'key' | 'kind' | 'subject'> & { args?: Record<string, unknown> };

export interface NewEvent {
  eventType: EventType;
  /** Target project for maintenance.scheduled; null for admin events. */
  projectId: string | null;
  payload: Record<string, unknown>;
  /** Idempotency key: the same event is written once per session. */
  key: string;
}

export interface TimelineEntry {
  at: number;
  kind: string;
  message: string;
  data?: Record<string, unknown>;
}

export type OutboxStatus = 'pending' | 'delivered' | 'dead';

export interface OutboxRow {
  id: number;
  messageId: string;
  sessionId: string | null;
  subscriptionId: string;
  eventType: EventType;
  payload: Record<string, unknown>;
  status: OutboxStatus;
  attempts: number;
  nextAttemptAt: number;
  lastError: string | null;
  lastStatus: number | null;
  createdAt: number;
  deliveredAt: number | null;
}
