// What a workflow decides in one step: state changes and effects as data. The engine persists all of
// it in one transaction, then executes the new intents. Deciding again on the result adds nothing.
import type {
  NewEvent,
  NewOp,
  Phase,
  SessionHost,
  SessionInstance,
  SessionProject,
  TimelineEntry,
} from './model.js';
import type { SessionState } from './states.js';

export interface SessionPatch {
  state?: SessionState;
  phase?: Phase;
  reason?: string | null;
  percentDone?: number;
  paused?: boolean;
  pausedAt?: number | null;
  /** Clear the admin command once applied. */
  control?: null;
}

export type HostPatch = Pick<SessionHost, 'name'> & Partial<Omit<SessionHost, 'sessionId' | 'name'>>;
export type ProjectPatch = Pick<SessionProject, 'projectId'> & Partial<Omit<SessionProject, 'sessionId' | 'projectId'>>;
/** Upsert: a full row for a new instance, or a patch of a known one. */
export type InstancePatch = Pick<SessionInstance, 'instanceId'> & Partial<Omit<SessionInstance, 'sessionId' | 'instanceId'>>;

export interface Decision {
  session?: SessionPatch;
  hosts?: HostPatch[];
  projects?: ProjectPatch[];
  instances?: InstancePatch[];
  ops?: NewOp[];
  events?: NewEvent[];
  timeline?: TimelineEntry[];
  /** When to decide again if nothing else happens first (null: only on a nudge). */
  wakeAt?: number | null;
}

export const hasEffects = (d: Decision): boolean =>
  Boolean(
    d.session ||
      d.hosts?.length ||
      d.projects?.length ||
      d.instances?.length ||
      d.ops?.length ||
      d.events?.length ||
      d.timeline?.length,
  );

/**
 * Merge decisions of sub-steps in order; later patches of the same row win field by field.
 * O(total size): a step may merge thousands of small parts (one per host or finished move).
 */
export function merge(...ds: Decision[]): Decision {
  const out: Decision = {};
  for (const d of ds) {
    if (d.session) out.session = { ...out.session, ...d.session, phase: d.session.phase ?? out.session?.phase };
    if (out.session && out.session.phase === undefined) delete out.session.phase;
    for (const k of ['hosts', 'projects', 'instances', 'ops', 'events', 'timeline'] as const) {
      const v = d[k] as unknown[] | undefined;
      if (!v?.length) continue;
      // A fresh list (never an input's), appended to in place.
      const l = (out[k] as unknown[] | undefined) ?? ((out[k] as unknown[]) = []);
      for (const x of v) l.push(x);
    }
    if (d.wakeAt !== undefined) out.wakeAt = minWake(out.wakeAt, d.wakeAt);
  }
  return out;
}

export function minWake(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a == null) return b ?? null;
  if (b == null) return a;
  return Math.min(a, b);
}
