// The project side of a session (spec §4): which instances concern a project now, and its replies.
import { FenixError } from '../domain/errors.js';
import type { SessionInstance } from '../domain/model.js';
import type { SessionData } from '../domain/snapshot.js';
import { isInstanceAction, parseReplyState } from '../domain/states.js';
import type { Clock } from '../ports/clock.js';
import type { Store } from '../ports/store.js';
import { requireProject, type Principal } from './principal.js';

export interface ReplyBody {
  state?: unknown;
  instance_actions?: unknown;
  instance_action?: unknown;
  instance_ids?: unknown;
}

export interface ProjectDeps {
  store: Store;
  clock: Clock;
  nudge: (sessionId: string) => void;
}

export class ProjectService {
  constructor(private readonly deps: ProjectDeps) {}

  private async load(who: Principal, sessionId: string, projectId: string): Promise<SessionData> {
    requireProject(who, projectId);
    const data = await this.deps.store.loadSnapshot(sessionId);
    if (!data || data.session.deleting) throw new FenixError('SESSION_NOT_FOUND', `no maintenance session ${sessionId}`);
    if (!data.projects.some((p) => p.projectId === projectId))
      throw new FenixError('PROJECT_NOT_IN_SESSION', `project ${projectId} has no instances in session ${sessionId}`);
    return data;
  }

  /** The project's instances the current state concerns; never another project's. */
  async instances(who: Principal, sessionId: string, projectId: string): Promise<string[]> {
    return concerned(await this.load(who, sessionId, projectId), projectId).map((i) => i.instanceId);
  }

  async reply(who: Principal, sessionId: string, projectId: string, body: ReplyBody, instanceId?: string): Promise<{ accepted: boolean }> {
    if (typeof body.state !== 'string') throw new FenixError('INVALID_REPLY_STATE', 'state is required: "ACK_<STATE>" or "NACK_<STATE>"');
    const parsed = parseReplyState(body.state);
    if (!parsed) throw new FenixError('INVALID_REPLY_STATE', `state ${JSON.stringify(body.state)} is not ACK_<STATE> or NACK_<STATE>`);

    const actions: Record<string, string> = {};
    if (body.instance_actions !== undefined && body.instance_actions !== null) {
      if (typeof body.instance_actions !== 'object' || Array.isArray(body.instance_actions))
        throw new FenixError('VALIDATION_FAILED', 'instance_actions must be an object of instance id → action');
      for (const [id, a] of Object.entries(body.instance_actions)) {
        if (!isInstanceAction(a)) throw new FenixError('UNKNOWN_INSTANCE_ACTION', `unknown action ${JSON.stringify(a)} for ${id}`);
        actions[id] = a;
      }
    }
    const data = await this.load(who, sessionId, projectId);
    const own = data.instances.filter((i) => i.projectId === projectId);
    if (instanceId !== undefined && !own.some((i) => i.instanceId === instanceId))
      throw new FenixError('INSTANCE_NOT_FOUND', `instance ${instanceId} is not one of project ${projectId}'s in this session`);
    if (body.instance_action !== undefined && body.instance_action !== null) {
      if (!isInstanceAction(body.instance_action))
        throw new FenixError('UNKNOWN_INSTANCE_ACTION', `unknown instance_action ${JSON.stringify(body.instance_action)}`);
      // One action for the listed instances: the path's instance, else the ids in the body, else the concerned ones.
      const ids =
        instanceId !== undefined
          ? [instanceId]
          : Array.isArray(body.instance_ids)
            ? body.instance_ids.filter((x): x is string => typeof x === 'string')
            : concerned(data, projectId).map((i) => i.instanceId);
      for (const id of ids) actions[id] ??= body.instance_action;
    }
    const out = await this.deps.store.recordReply(
      { sessionId, projectId, reply: body.state, answers: parsed.state, instanceActions: actions, at: this.deps.clock.now(), ...(instanceId !== undefined && { instanceId }) },
      own.map((i) => i.instanceId),
    );
    if (out.accepted) this.deps.nudge(sessionId);
    return out;
  }
}

/** For PREPARE/PLANNED: the project's instances on the host being emptied; otherwise all it has. */
export function concerned(data: SessionData, projectId: string): SessionInstance[] {
  const mine = data.instances.filter((i) => i.projectId === projectId && i.status !== 'gone');
  const host = data.session.phase.host;
  if (host && (data.session.state === 'PREPARE_MAINTENANCE' || data.session.state === 'PLANNED_MAINTENANCE')) {
    const there = mine.filter((i) => i.host === host);
    if (there.length) return there;
  }
  return mine;
}
