// Everything a workflow decides over: the stored session plus the observed infrastructure.
import type { Constraints, PlanEstimates } from './constraints.js';
import type { HostInfo, InstanceInfo } from './infra.js';
import type { Op, SessionHost, SessionInstance, SessionProject, SessionRow } from './model.js';
import type { ObservedIndex, SessionIndex } from './session-index.js';

export interface SessionData {
  session: SessionRow;
  hosts: SessionHost[];
  projects: SessionProject[];
  instances: SessionInstance[];
  ops: Op[];
  /** Projects that have a maintenance.scheduled subscription. */
  subscribedProjects: string[];
  /** Per event key: delivery status of this session's maintenance.scheduled outbox rows. */
  deliveries: Record<string, { delivered: number; pending: number; dead: number }>;
  /** Keys of every event the session has decided to send. */
  eventKeys: string[];
  /** Constraints (spec §5) of the session's projects. */
  constraints?: Constraints;
}

export interface WorkflowContext {
  /** Base of URLs sent in notifications (reply_url, instance_ids). */
  publicUrl: string;
  /** project_id carried by maintenance.host events. */
  adminProject: string;
  /** Plug-ins the engine knows (an unknown one fails the session when its turn comes). */
  plugins: string[];
  /** Durations the vnf / k8s planner assumes (e.g. the simulated driver's timings). */
  estimates?: Partial<PlanEstimates>;
  /** vnf / k8s: moves one step starts at most (default 1,000; the rest start in the next steps). */
  maxMovesPerStep?: number;
}

/** The infrastructure as last observed. */
export interface ObservedWorld {
  hosts: HostInfo[];
  instances: InstanceInfo[];
  /** The same, indexed (the engine keeps one; built on first use when absent). */
  index?: ObservedIndex;
  /**
   * Ids of instances whose observation, or whose record in the session, may have changed since the
   * session's inventory was last brought up to date. Absent: look at everything.
   */
  changed?: ReadonlySet<string>;
}

export interface Snapshot extends SessionData {
  observed: ObservedWorld;
  ctx: WorkflowContext;
  /** The session's rows indexed (kept by the engine; built on first use when absent, e.g. in tests). */
  index?: SessionIndex;
}
