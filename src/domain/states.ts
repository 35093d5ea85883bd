// Session, project and host states of the Fenix contract (spec §2), and the closed sets around them.

export const SESSION_STATES = [
  'MAINTENANCE',
  'SCALE_IN',
  'PREPARE_MAINTENANCE',
  'START_MAINTENANCE',
  'PLANNED_MAINTENANCE',
  'MAINTENANCE_COMPLETE',
  'MAINTENANCE_DONE',
  'MAINTENANCE_FAILED',
] as const;
export type SessionState = (typeof SESSION_STATES)[number];

export const TERMINAL_STATES: readonly SessionState[] = ['MAINTENANCE_DONE', 'MAINTENANCE_FAILED'];
export const isTerminal = (s: SessionState): boolean => TERMINAL_STATES.includes(s);

/** States a project is asked to answer (each expects ACK_/NACK_). */
export const REPLY_STATES = [
  'MAINTENANCE',
  'SCALE_IN',
  'PREPARE_MAINTENANCE',
  'PLANNED_MAINTENANCE',
  'MAINTENANCE_COMPLETE',
] as const;
export type ReplyState = (typeof REPLY_STATES)[number];

export type ProjectEventState = ReplyState | 'INSTANCE_ACTION_DONE';

export const INSTANCE_ACTIONS = ['MIGRATE', 'LIVE_MIGRATE', 'OWN_ACTION', 'EVICTION'] as const;
export type InstanceAction = (typeof INSTANCE_ACTIONS)[number];
export const isInstanceAction = (a: unknown): a is InstanceAction =>
  typeof a === 'string' && (INSTANCE_ACTIONS as readonly string[]).includes(a);

export const HOST_TYPES = ['compute', 'controller', 'other'] as const;
export type HostType = (typeof HOST_TYPES)[number];

export const WORKFLOWS = ['default', 'vnf', 'k8s'] as const;
export type WorkflowName = (typeof WORKFLOWS)[number];

/** `verify`: health gates, run per host after its maintenance and before it is enabled again. */
export const PLUGIN_TYPES = ['pre', 'host', 'compute', 'controller', 'verify', 'post'] as const;
export type PluginType = (typeof PLUGIN_TYPES)[number];

export const EVENT_TYPES = ['maintenance.scheduled', 'maintenance.host', 'maintenance.session'] as const;
export type EventType = (typeof EVENT_TYPES)[number];
/** Events that go to admins / infrastructure services rather than to one project. */
export const ADMIN_EVENT_TYPES: readonly EventType[] = ['maintenance.host', 'maintenance.session'];

export type HostEventState = 'IN_MAINTENANCE' | 'MAINTENANCE_COMPLETE';

/** A parsed project reply: `ACK_PLANNED_MAINTENANCE` → { ack: true, state: 'PLANNED_MAINTENANCE' }. */
export interface ParsedReply {
  ack: boolean;
  state: string;
}

export function parseReplyState(raw: string): ParsedReply | null {
  const m = /^(ACK|NACK)_([A-Z][A-Z_]*)$/.exec(raw);
  if (!m) return null;
  return { ack: m[1] === 'ACK', state: m[2]! };
}

/**
 * `ACK_<state>` as one shared string per state: a workflow that acknowledges on behalf of tens of
 * thousands of instances would otherwise hold as many copies.
 */
const ACKS = new Map<string, string>();
export function ackOf(state: string): string {
  let a = ACKS.get(state);
  if (a === undefined) ACKS.set(state, (a = `ACK_${state}`));
  return a;
}
