// Table types for Kysely: the columns exactly as migrations create them.
import type { Generated } from 'kysely';

type Int = number;
/** bigint columns: SQLite returns numbers; the PostgreSQL store parses int8 into numbers too. */
type Ms = number;

/** A vnf / k8s session's plan (PersistedPlan JSON), apart from the session row (migration 0009). */
export interface SessionPlansTable {
  session_id: string;
  /** planKey(plan): which plan this is (a plan is never changed, a new one has a new key). */
  plan_key: string;
  plan: string;
}

/** 0010: what an external job reported for a plug-in run (the plug-in callback). */
export interface PluginCallbacksTable {
  op_id: Int;
  session_id: string;
  /** DONE | FAILED */
  state: string;
  output: string | null;
  at: Ms;
}

export interface SessionsTable {
  id: string;
  state: string;
  workflow: string;
  maintenance_at: Ms;
  metadata: string;
  actions: string;
  download: string;
  options: string;
  phase: string;
  reason: string | null;
  paused: Int;
  deleting: Int;
  wake_at: Ms | null;
  percent_done: Int;
  created_at: Ms;
  updated_at: Ms;
  lease_owner: string | null;
  lease_expires_at: Ms | null;
  fence: Generated<Int>;
  paused_at: Ms | null;
  control: string | null;
  /** 0005: bumped by every write to the session from outside its engine (see session_changes). */
  change_seq: Generated<Ms>;
}

export interface SessionHostsTable {
  session_id: string;
  name: string;
  type: string;
  status: string;
  original_enabled: Int | null;
  disabled_by_us: Int;
  maintained_at: Ms | null;
  position: Int;
}

export interface SessionProjectsTable {
  session_id: string;
  project_id: string;
  interacting: Int;
  awaiting: string | null;
  ask_key: string | null;
  notified_at: Ms | null;
  reply_at: Ms | null;
  reply: string | null;
  replied_at: Ms | null;
  last_reply: string | null;
  last_reply_at: Ms | null;
  unreachable: Int;
}

export interface SessionInstancesTable {
  session_id: string;
  instance_id: string;
  project_id: string;
  name: string;
  host: string;
  origin_host: string;
  vcpus: Int;
  floating_ip: Int;
  live_migratable: Int;
  action: string | null;
  status: string;
  moves: Int;
  error: string | null;
  // 0002: per-instance ask (vnf / k8s workflows)
  ask_state: string | null;
  ask_key: string | null;
  notified_at: Ms | null;
  reply_at: Ms | null;
  reply: string | null;
  replied_at: Ms | null;
}

export interface OpsTable {
  id: Generated<Int>;
  session_id: string;
  key: string;
  kind: string;
  subject: string;
  args: string;
  status: string;
  ref: string | null;
  result: string | null;
  error: string | null;
  attempts: Int;
  created_at: Ms;
  started_at: Ms | null;
  finished_at: Ms | null;
  poll_at: Ms | null;
}

export interface TimelineTable {
  id: Generated<Int>;
  session_id: string;
  at: Ms;
  kind: string;
  message: string;
  data: string | null;
}

export interface SubscriptionsTable {
  id: string;
  project_id: string | null;
  url: string;
  event_types: string;
  format: string;
  secret: string | null;
  created_at: Ms;
  delivered: Int;
}

export interface OutboxTable {
  id: Generated<Int>;
  message_id: string;
  event_key: string;
  session_id: string | null;
  subscription_id: string;
  event_type: string;
  payload: string;
  status: string;
  attempts: Int;
  next_attempt_at: Ms;
  last_error: string | null;
  last_status: Int | null;
  created_at: Ms;
  delivered_at: Ms | null;
  claimed_by: string | null;
  claimed_until: Ms | null;
}

export interface SessionEventsTable {
  session_id: string;
  key: string;
  event_type: string;
  project_id: string | null;
  payload: string;
  created_at: Ms;
}

/** 0002: spec §5 instance constraints. */
export interface InstanceConstraintsTable {
  instance_id: string;
  project_id: string;
  group_id: string | null;
  instance_name: string | null;
  max_interruption_time: number | null;
  migration_type: string | null;
  resource_mitigation: Int | null;
  lead_time: number | null;
  created_at: Ms;
  updated_at: Ms;
}

/** 0002: spec §5 instance-group constraints. */
export interface InstanceGroupConstraintsTable {
  group_id: string;
  project_id: string;
  group_name: string | null;
  anti_affinity_group: Int | null;
  max_instances_per_host: Int | null;
  max_impacted_members: Int | null;
  recovery_time: number | null;
  resource_mitigation: Int | null;
  created_at: Ms;
  updated_at: Ms;
}

/** 0006: the simulated cloud's rows (ports/simulator-state.ts): a key and a JSON document. */
export interface SimulatorStateTable {
  id: string;
  data: string;
}

/** 0005: what a write from outside the engine touched, numbered per session. */
export interface SessionChangesTable {
  session_id: string;
  seq: Ms;
  /** session | project | instance | delivery */
  kind: string;
  subject: string | null;
  at: Ms;
}

export interface ChangeCountersTable {
  name: string;
  seq: Ms;
}

/** 0005: changes that concern every session (subscriptions, constraints). */
export interface GlobalChangesTable {
  seq: Ms;
  /** subscriptions | constraints */
  kind: string;
  subject: string | null;
  at: Ms;
}

/** 0005: a reply, stored once and counted when repeated. */
export interface SessionRepliesTable {
  session_id: string;
  project_id: string;
  instance_id: string;
  reply: string;
  accepted: Int;
  digest: string;
  instance_actions: string | null;
  count: Int;
  first_at: Ms;
  last_at: Ms;
}

export interface DB {
  session_changes: SessionChangesTable;
  change_counters: ChangeCountersTable;
  global_changes: GlobalChangesTable;
  session_replies: SessionRepliesTable;
  instance_constraints: InstanceConstraintsTable;
  instance_group_constraints: InstanceGroupConstraintsTable;
  session_events: SessionEventsTable;
  sessions: SessionsTable;
  session_plans: SessionPlansTable;
  plugin_callbacks: PluginCallbacksTable;
  session_hosts: SessionHostsTable;
  session_projects: SessionProjectsTable;
  session_instances: SessionInstancesTable;
  ops: OpsTable;
  timeline: TimelineTable;
  subscriptions: SubscriptionsTable;
  outbox: OutboxTable;
  simulator_hosts: SimulatorStateTable;
  simulator_instances: SimulatorStateTable;
  simulator_ops: SimulatorStateTable;
  simulator_keys: SimulatorStateTable;
  simulator_meta: SimulatorStateTable;
}
