// The project side of a session (spec §4): which instances concern a project now, and its replies.
// Every read is by index (the session row, the project's row, the project's instances): a request
// costs what it reads, whatever the size of the session.
import { FenixError } from '../domain/errors.js';
import type { SessionRow } from '../domain/model.js';
import { isInstanceAction, isTerminal, parseReplyState, REPLY_STATES, type InstanceAction } from '../domain/states.js';
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

/**
 * Why a well-formed reply had no effect (`reason_code` is stable, `reason` is for people):
 * - `UNKNOWN_STATE`: it answers a state no project is ever asked (`ACK_FOO`);
 * - `NO_REPLY_EXPECTED`: it answers INSTANCE_ACTION_DONE, which is informational;
 * - `NOT_AWAITED`: the project (or the instance of the URL) is asked another state, named in `expected`;
 * - `NOTHING_AWAITED`: nothing is asked of it now (an ask already answered and closed, or none yet);
 * - `SESSION_ENDED`: the session is over: nothing is asked any more (until an admin continues it).
 * The spec (§4) wants 200 for any well-formed ACK_/NACK_ (a client retries anything else and then
 * gives up), so these are answers, not errors.
 */
export const NOT_ACCEPTED_CODES = ['UNKNOWN_STATE', 'NO_REPLY_EXPECTED', 'NOT_AWAITED', 'NOTHING_AWAITED', 'SESSION_ENDED'] as const;
export type NotAcceptedCode = (typeof NOT_ACCEPTED_CODES)[number];

export interface ReplyAnswer {
  accepted: boolean;
  /** Only when not accepted: why, and the reply awaited now (`ACK_<STATE>`; null: none). */
  reason_code?: NotAcceptedCode;
  reason?: string;
  expected?: string | null;
}

const notInSession = (sessionId: string, projectId: string) =>
  new FenixError('PROJECT_NOT_IN_SESSION', `project ${projectId} has no instances in session ${sessionId}`);

/** Most instance ids one reply may name (a reply body is at most 1 MiB anyway). */
const MAX_REPLY_IDS = 100_000;

export class ProjectService {
  constructor(private readonly deps: ProjectDeps) {}

  /** The session, if the project takes part in it (`checkProject` false: the caller's next read checks). */
  private async session(who: Principal, sessionId: string, projectId: string, checkProject = true): Promise<SessionRow> {
    requireProject(who, projectId);
    const { store } = this.deps;
    const s = await store.getSession(sessionId);
    if (!s || s.deleting) throw new FenixError('SESSION_NOT_FOUND', `no maintenance session ${sessionId}`);
    if (checkProject && !(await store.sessionProject(sessionId, projectId))) throw notInSession(sessionId, projectId);
    return s;
  }

  /** For PREPARE/PLANNED: the ids of the project's instances on the host being emptied; otherwise of all it has. */
  private async concerned(s: SessionRow, projectId: string): Promise<string[]> {
    const host = s.phase.host;
    if (host && (s.state === 'PREPARE_MAINTENANCE' || s.state === 'PLANNED_MAINTENANCE')) {
      const there = await this.deps.store.projectInstanceIds(s.id, projectId, { host, present: true });
      if (there.length) return there;
    }
    return this.deps.store.projectInstanceIds(s.id, projectId, { present: true });
  }

  /** The project's instances the current state concerns; never another project's. */
  async instances(who: Principal, sessionId: string, projectId: string): Promise<string[]> {
    const s = await this.session(who, sessionId, projectId);
    return this.concerned(s, projectId);
  }

  async reply(who: Principal, sessionId: string, projectId: string, body: ReplyBody, instanceId?: string): Promise<ReplyAnswer> {
    if (typeof body.state !== 'string') throw new FenixError('INVALID_REPLY_STATE', 'state is required: "ACK_<STATE>" or "NACK_<STATE>"');
    const parsed = parseReplyState(body.state);
    if (!parsed) throw new FenixError('INVALID_REPLY_STATE', `state ${JSON.stringify(body.state)} is not ACK_<STATE> or NACK_<STATE>`);

    // Caller-named instance ids go in a Map, never as keys of a plain object.
    const actions = new Map<string, InstanceAction>();
    if (body.instance_actions !== undefined && body.instance_actions !== null) {
      if (typeof body.instance_actions !== 'object' || Array.isArray(body.instance_actions))
        throw new FenixError('VALIDATION_FAILED', 'instance_actions must be an object of instance id → action');
      const entries = Object.entries(body.instance_actions);
      if (entries.length > MAX_REPLY_IDS) throw new FenixError('VALIDATION_FAILED', `instance_actions names more than ${MAX_REPLY_IDS} instances`);
      for (const [id, a] of entries) {
        if (!isInstanceAction(a)) throw new FenixError('UNKNOWN_INSTANCE_ACTION', `unknown action ${JSON.stringify(a)} for ${id}`);
        actions.set(id, a);
      }
    }
    let one: InstanceAction | undefined;
    if (body.instance_action !== undefined && body.instance_action !== null) {
      if (!isInstanceAction(body.instance_action))
        throw new FenixError('UNKNOWN_INSTANCE_ACTION', `unknown instance_action ${JSON.stringify(body.instance_action)}`);
      one = body.instance_action;
    }
    // A plain reply (no instance named): recordReply reads the project's row anyway, and says when
    // there is none, so it is not read twice (the common request, an application manager's ACK).
    const plain = instanceId === undefined && one === undefined && actions.size === 0;
    const s = await this.session(who, sessionId, projectId, !plain);
    const { store } = this.deps;
    if (instanceId !== undefined && !(await store.projectInstanceIds(sessionId, projectId, { ids: [instanceId] })).length)
      throw new FenixError('INSTANCE_NOT_FOUND', `instance ${instanceId} is not one of project ${projectId}'s in this session`);
    if (one !== undefined) {
      // One action for the listed instances: the path's instance, else the ids in the body, else the concerned ones.
      const ids =
        instanceId !== undefined
          ? [instanceId]
          : Array.isArray(body.instance_ids)
            ? body.instance_ids.filter((x): x is string => typeof x === 'string').slice(0, MAX_REPLY_IDS)
            : await this.concerned(s, projectId);
      for (const id of ids) if (!actions.has(id)) actions.set(id, one);
    }
    // Only the project's own instances are kept: an id of another project's is dropped, not stored.
    const own = new Set(actions.size ? await store.projectInstanceIds(sessionId, projectId, { ids: [...actions.keys()] }) : []);
    const mine = new Map([...actions].filter(([id]) => own.has(id)));
    // An ended session awaits nothing, whatever its rows say (a failed one keeps the ask it failed
    // in until it is continued): the reply is recorded as answering no state, so it has no effect.
    const ended = isTerminal(s.state);
    const out = await store.recordReply({
      sessionId,
      projectId,
      reply: body.state,
      answers: ended ? '' : parsed.state,
      instanceActions: mine,
      at: this.deps.clock.now(),
      ...(instanceId !== undefined && { instanceId }),
    });
    if (out.missing) throw notInSession(sessionId, projectId);
    if (out.accepted && out.changed !== false) this.deps.nudge(sessionId);
    if (out.accepted) return { accepted: true };
    return { accepted: false, ...(await this.whyNot(s, projectId, parsed.state, instanceId, out.awaiting)) };
  }

  /**
   * Why a recorded reply had no effect and what is awaited now. Only a reply that had no effect pays
   * for it, one or two reads by index (the instance of the URL, the project's row), never a list:
   * Tacker sends ACK_INSTANCE_ACTION_DONE after every move it is told of.
   */
  private async whyNot(s: SessionRow, projectId: string, answered: string, instanceId?: string, projectAwaiting?: string | null): Promise<Required<Omit<ReplyAnswer, 'accepted'>>> {
    const { store } = this.deps;
    const known = (REPLY_STATES as readonly string[]).includes(answered);
    const about =
      answered === 'INSTANCE_ACTION_DONE'
        ? { code: 'NO_REPLY_EXPECTED' as const, text: 'INSTANCE_ACTION_DONE is informational: it expects no reply' }
        : known
          ? null
          : { code: 'UNKNOWN_STATE' as const, text: `${answered} is not a state a project is asked to answer (${REPLY_STATES.join(', ')})` };
    if (isTerminal(s.state)) {
      const ended = `the session is ${s.state}: nothing is awaited any more`;
      return { reason_code: about?.code ?? 'SESSION_ENDED', reason: about ? `${about.text}; ${ended}` : ended, expected: null };
    }
    // The instance's own ask (vnf / k8s per-instance URL) comes first, as it does when the reply is recorded.
    const instance = instanceId === undefined ? undefined : (await store.projectInstances(s.id, projectId, { ids: [instanceId] }))[0];
    // The project's ask as the reply was recorded against it, when the store said (no second read).
    const project = projectAwaiting !== undefined ? projectAwaiting : ((await store.sessionProject(s.id, projectId))?.awaiting ?? null);
    const awaited = instance?.askState ?? project;
    const who = instanceId === undefined ? `project ${projectId}` : `instance ${instanceId} of project ${projectId}`;
    const expected = awaited === null ? null : `ACK_${awaited}`;
    const now = awaited === null ? `nothing is awaited from ${who} now` : `${who} is asked ${awaited} now: reply ${expected} or NACK_${awaited}`;
    if (about) return { reason_code: about.code, reason: `${about.text}; ${now}`, expected };
    if (awaited === null) return { reason_code: 'NOTHING_AWAITED', reason: `${answered} is not awaited: ${now}`, expected };
    // The ask came between the reply's write and this read: the same reply now counts.
    if (awaited === answered) return { reason_code: 'NOT_AWAITED', reason: `${answered} was not awaited when this reply arrived, it is now: send it again`, expected };
    return { reason_code: 'NOT_AWAITED', reason: `${answered} is not the state awaited: ${now}`, expected };
  }
}
