// Mapping between table rows (snake_case, 0/1, JSON text) and domain objects.
import type { HostPatch, InstancePatch, ProjectPatch } from '../domain/decision.js';
import type {
  NewOp,
  Op,
  OutboxRow,
  SessionHost,
  SessionInstance,
  SessionProject,
  SessionRow,
  TimelineEntry,
} from '../domain/model.js';
import type { Subscription } from '../ports/transport.js';
import type { GroupConstraint, InstanceConstraint } from '../domain/constraints.js';
import type {
  InstanceConstraintsTable,
  InstanceGroupConstraintsTable,
  OpsTable,
  OutboxTable,
  SessionHostsTable,
  SessionInstancesTable,
  SessionProjectsTable,
  SessionsTable,
  SubscriptionsTable,
  TimelineTable,
} from './schema.js';
import type { Selectable, Updateable } from 'kysely';

const num = (v: unknown): number => Number(v);
const numOrNull = (v: unknown): number | null => (v == null ? null : Number(v));
const boolOrNull = (v: unknown): boolean | null => (v == null ? null : Number(v) === 1);
const bit = (b: boolean): number => (b ? 1 : 0);

export const session = (r: Selectable<SessionsTable>): SessionRow => ({
  id: r.id,
  state: r.state as SessionRow['state'],
  workflow: r.workflow as SessionRow['workflow'],
  maintenanceAt: num(r.maintenance_at),
  metadata: JSON.parse(r.metadata),
  actions: JSON.parse(r.actions),
  download: JSON.parse(r.download),
  options: JSON.parse(r.options),
  phase: JSON.parse(r.phase),
  reason: r.reason,
  paused: num(r.paused) === 1,
  deleting: num(r.deleting) === 1,
  pausedAt: numOrNull(r.paused_at),
  control: r.control == null ? null : JSON.parse(r.control),
  wakeAt: numOrNull(r.wake_at),
  createdAt: num(r.created_at),
  updatedAt: num(r.updated_at),
  percentDone: num(r.percent_done),
});

export const host = (r: Selectable<SessionHostsTable>): SessionHost => ({
  sessionId: r.session_id,
  name: r.name,
  type: r.type as SessionHost['type'],
  status: r.status as SessionHost['status'],
  originalEnabled: boolOrNull(r.original_enabled),
  disabledByUs: num(r.disabled_by_us) === 1,
  maintainedAt: numOrNull(r.maintained_at),
});

export const project = (r: Selectable<SessionProjectsTable>): SessionProject => ({
  sessionId: r.session_id,
  projectId: r.project_id,
  interacting: num(r.interacting) === 1,
  awaiting: r.awaiting as SessionProject['awaiting'],
  askKey: r.ask_key,
  notifiedAt: numOrNull(r.notified_at),
  replyAt: numOrNull(r.reply_at),
  reply: r.reply,
  repliedAt: numOrNull(r.replied_at),
  lastReply: r.last_reply,
  lastReplyAt: numOrNull(r.last_reply_at),
  unreachable: num(r.unreachable) === 1,
});

export const instance = (r: Selectable<SessionInstancesTable>): SessionInstance => ({
  sessionId: r.session_id,
  instanceId: r.instance_id,
  projectId: r.project_id,
  name: r.name,
  host: r.host,
  originHost: r.origin_host,
  vcpus: num(r.vcpus),
  floatingIp: num(r.floating_ip) === 1,
  liveMigratable: num(r.live_migratable) === 1,
  action: r.action as SessionInstance['action'],
  status: r.status as SessionInstance['status'],
  moves: num(r.moves),
  error: r.error,
  askState: r.ask_state as SessionInstance['askState'],
  askKey: r.ask_key,
  notifiedAt: numOrNull(r.notified_at),
  replyAt: numOrNull(r.reply_at),
  reply: r.reply,
  repliedAt: numOrNull(r.replied_at),
});

/** An op as commitDecision inserts it: pending, from its intent. */
export const newOp = (id: number, sessionId: string, o: NewOp, now: number): Op => ({
  id,
  sessionId,
  key: o.key,
  kind: o.kind,
  subject: o.subject,
  args: o.args ?? {},
  status: 'pending',
  ref: null,
  result: null,
  error: null,
  attempts: 0,
  createdAt: now,
  startedAt: null,
  finishedAt: null,
  pollAt: null,
});

export const op = (r: Selectable<OpsTable>): Op => ({
  id: num(r.id),
  sessionId: r.session_id,
  key: r.key,
  kind: r.kind as Op['kind'],
  subject: r.subject,
  args: JSON.parse(r.args),
  status: r.status as Op['status'],
  ref: r.ref,
  result: r.result == null ? null : JSON.parse(r.result),
  error: r.error,
  attempts: num(r.attempts),
  createdAt: num(r.created_at),
  startedAt: numOrNull(r.started_at),
  finishedAt: numOrNull(r.finished_at),
  pollAt: numOrNull(r.poll_at),
});

export const timeline = (r: Selectable<TimelineTable>): TimelineEntry => ({
  at: num(r.at),
  kind: r.kind,
  message: r.message,
  ...(r.data != null && { data: JSON.parse(r.data) }),
});

export const subscription = (r: Selectable<SubscriptionsTable>): Subscription => ({
  id: r.id,
  projectId: r.project_id,
  url: r.url,
  eventTypes: JSON.parse(r.event_types),
  format: r.format as Subscription['format'],
  secret: r.secret,
  createdAt: num(r.created_at),
  delivered: num(r.delivered),
});

export const outbox = (r: Selectable<OutboxTable>): OutboxRow => ({
  id: num(r.id),
  messageId: r.message_id,
  sessionId: r.session_id,
  subscriptionId: r.subscription_id,
  eventType: r.event_type as OutboxRow['eventType'],
  payload: JSON.parse(r.payload),
  status: r.status as OutboxRow['status'],
  attempts: num(r.attempts),
  nextAttemptAt: num(r.next_attempt_at),
  lastError: r.last_error,
  lastStatus: numOrNull(r.last_status),
  createdAt: num(r.created_at),
  deliveredAt: numOrNull(r.delivered_at),
});

export function hostPatch(h: HostPatch): Updateable<SessionHostsTable> {
  return {
    ...(h.type !== undefined && { type: h.type }),
    ...(h.status !== undefined && { status: h.status }),
    ...(h.originalEnabled !== undefined && { original_enabled: h.originalEnabled === null ? null : bit(h.originalEnabled) }),
    ...(h.disabledByUs !== undefined && { disabled_by_us: bit(h.disabledByUs) }),
    ...(h.maintainedAt !== undefined && { maintained_at: h.maintainedAt }),
  };
}

export function projectPatch(p: ProjectPatch): Updateable<SessionProjectsTable> {
  return {
    ...(p.interacting !== undefined && { interacting: bit(p.interacting) }),
    ...(p.awaiting !== undefined && { awaiting: p.awaiting }),
    ...(p.askKey !== undefined && { ask_key: p.askKey }),
    ...(p.notifiedAt !== undefined && { notified_at: p.notifiedAt }),
    ...(p.replyAt !== undefined && { reply_at: p.replyAt }),
    ...(p.reply !== undefined && { reply: p.reply }),
    ...(p.repliedAt !== undefined && { replied_at: p.repliedAt }),
    ...(p.lastReply !== undefined && { last_reply: p.lastReply }),
    ...(p.lastReplyAt !== undefined && { last_reply_at: p.lastReplyAt }),
    ...(p.unreachable !== undefined && { unreachable: bit(p.unreachable) }),
  };
}

export const newProject = (sessionId: string, p: ProjectPatch): Selectable<SessionProjectsTable> => ({
  session_id: sessionId,
  project_id: p.projectId,
  interacting: bit(p.interacting ?? false),
  awaiting: null,
  ask_key: null,
  notified_at: null,
  reply_at: null,
  reply: null,
  replied_at: null,
  last_reply: null,
  last_reply_at: null,
  unreachable: 0,
});

/**
 * The instance fields a patch may change on an existing row: field, column, and the column's type in
 * PostgreSQL (a bulk UPDATE … FROM (VALUES …) casts its values to it).
 */
export const INSTANCE_UPDATES = [
  ['projectId', 'project_id', 'varchar'],
  ['name', 'name', 'varchar'],
  ['host', 'host', 'varchar'],
  ['vcpus', 'vcpus', 'integer'],
  ['action', 'action', 'varchar'],
  ['status', 'status', 'varchar'],
  ['moves', 'moves', 'integer'],
  ['error', 'error', 'text'],
  ['askState', 'ask_state', 'varchar'],
  ['askKey', 'ask_key', 'varchar'],
  ['notifiedAt', 'notified_at', 'bigint'],
  ['replyAt', 'reply_at', 'bigint'],
  ['reply', 'reply', 'varchar'],
  ['repliedAt', 'replied_at', 'bigint'],
] as const satisfies readonly (readonly [keyof InstancePatch, keyof SessionInstancesTable, string])[];

export function instancePatch(i: InstancePatch): Updateable<SessionInstancesTable> {
  const out: Record<string, unknown> = {};
  for (const [field, col] of INSTANCE_UPDATES) if (i[field] !== undefined) out[col] = i[field];
  return out as Updateable<SessionInstancesTable>;
}

export const newInstance = (sessionId: string, i: InstancePatch): Selectable<SessionInstancesTable> => ({
  session_id: sessionId,
  instance_id: i.instanceId,
  project_id: i.projectId!,
  name: i.name ?? i.instanceId,
  host: i.host!,
  origin_host: i.originHost ?? i.host!,
  vcpus: i.vcpus ?? 0,
  floating_ip: bit(i.floatingIp ?? false),
  live_migratable: bit(i.liveMigratable ?? false),
  action: i.action ?? null,
  status: i.status ?? 'present',
  moves: i.moves ?? 0,
  error: i.error ?? null,
  ask_state: i.askState ?? null,
  ask_key: i.askKey ?? null,
  notified_at: i.notifiedAt ?? null,
  reply_at: i.replyAt ?? null,
  reply: i.reply ?? null,
  replied_at: i.repliedAt ?? null,
});

export const instanceConstraint = (r: Selectable<InstanceConstraintsTable>): InstanceConstraint => ({
  instanceId: r.instance_id,
  projectId: r.project_id,
  groupId: r.group_id,
  instanceName: r.instance_name,
  maxInterruptionTime: r.max_interruption_time == null ? null : Number(r.max_interruption_time),
  migrationType: r.migration_type as InstanceConstraint['migrationType'],
  resourceMitigation: boolOrNull(r.resource_mitigation),
  leadTime: r.lead_time == null ? null : Number(r.lead_time),
  createdAt: num(r.created_at),
  updatedAt: num(r.updated_at),
});

export const instanceConstraintRow = (c: InstanceConstraint): Selectable<InstanceConstraintsTable> => ({
  instance_id: c.instanceId,
  project_id: c.projectId,
  group_id: c.groupId,
  instance_name: c.instanceName,
  max_interruption_time: c.maxInterruptionTime,
  migration_type: c.migrationType,
  resource_mitigation: c.resourceMitigation === null ? null : bit(c.resourceMitigation),
  lead_time: c.leadTime,
  created_at: c.createdAt,
  updated_at: c.updatedAt,
});

export const groupConstraint = (r: Selectable<InstanceGroupConstraintsTable>): GroupConstraint => ({
  groupId: r.group_id,
  projectId: r.project_id,
  groupName: r.group_name,
  antiAffinityGroup: boolOrNull(r.anti_affinity_group),
  maxInstancesPerHost: numOrNull(r.max_instances_per_host),
  maxImpactedMembers: numOrNull(r.max_impacted_members),
  recoveryTime: r.recovery_time == null ? null : Number(r.recovery_time),
  resourceMitigation: boolOrNull(r.resource_mitigation),
  createdAt: num(r.created_at),
  updatedAt: num(r.updated_at),
});

export const groupConstraintRow = (g: GroupConstraint): Selectable<InstanceGroupConstraintsTable> => ({
  group_id: g.groupId,
  project_id: g.projectId,
  group_name: g.groupName,
  anti_affinity_group: g.antiAffinityGroup === null ? null : bit(g.antiAffinityGroup),
  max_instances_per_host: g.maxInstancesPerHost,
  max_impacted_members: g.maxImpactedMembers,
  recovery_time: g.recoveryTime,
  resource_mitigation: g.resourceMitigation === null ? null : bit(g.resourceMitigation),
  created_at: g.createdAt,
  updated_at: g.updatedAt,
});

export function opPatch(p: Partial<Op>): Updateable<OpsTable> {
  return {
    ...(p.status !== undefined && { status: p.status }),
    ...(p.ref !== undefined && { ref: p.ref }),
    ...(p.result !== undefined && { result: p.result === null ? null : JSON.stringify(p.result) }),
    ...(p.error !== undefined && { error: p.error }),
    ...(p.attempts !== undefined && { attempts: p.attempts }),
    ...(p.startedAt !== undefined && { started_at: p.startedAt }),
    ...(p.finishedAt !== undefined && { finished_at: p.finishedAt }),
    ...(p.pollAt !== undefined && { poll_at: p.pollAt }),
  };
}
