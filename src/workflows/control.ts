// Admin commands (spec §3 PUT), applied by the engine under the session's lease so they never race
// a running tick: continue a failed session, resume a paused one (deadlines move by the pause),
// abort (hosts back as found, projects told the maintenance is over).
import type { Decision } from '../domain/decision.js';
import { merge } from '../domain/decision.js';
import type { SessionControl } from '../domain/model.js';
import type { Snapshot } from '../domain/snapshot.js';
import { isTerminal, type SessionState } from '../domain/states.js';
import { iso, projectUrl, transition } from './common.js';

/** Where a failed session may be continued from. */
export const CONTINUABLE: SessionState[] = [
  'MAINTENANCE',
  'SCALE_IN',
  'PREPARE_MAINTENANCE',
  'START_MAINTENANCE',
  'PLANNED_MAINTENANCE',
  'MAINTENANCE_COMPLETE',
];

/** Why a command makes no sense in this state, or null when it does. */
export function controlConflict(s: { state: SessionState; paused: boolean; deleting: boolean }, c: SessionControl['action'] | 'pause', target?: string): string | null {
  if (s.deleting) return 'the session is being deleted';
  switch (c) {
    case 'continue':
      if (s.state !== 'MAINTENANCE_FAILED') return `only a MAINTENANCE_FAILED session can be continued; this one is ${s.state}`;
      if (!target || !CONTINUABLE.includes(target as SessionState)) return `continue needs a state among ${CONTINUABLE.join(', ')}`;
      return null;
    case 'pause':
      if (isTerminal(s.state)) return `a ${s.state} session cannot be paused`;
      return s.paused ? 'the session is already paused' : null;
    case 'resume':
      return s.paused ? null : 'the session is not paused';
    case 'abort':
      return isTerminal(s.state) ? `the session is already ${s.state}` : null;
  }
}

export function applyControl(s: Snapshot, now: number, c: SessionControl): Decision {
  const clear: Decision = { session: { control: null }, wakeAt: now };
  if (controlConflict(s.session, c.action, c.action === 'continue' ? c.state : undefined))
    return merge(clear, { timeline: [{ at: now, kind: 'control', message: `${c.action} ignored: no longer applicable` }] });
  switch (c.action) {
    case 'resume': {
      const pausedFor = Math.max(0, now - (s.session.pausedAt ?? now));
      const phase = { ...s.session.phase };
      if (phase.actionsSince != null) phase.actionsSince += pausedFor;
      return merge(clear, {
        session: { paused: false, pausedAt: null, phase },
        projects: s.projects
          .filter((p) => p.awaiting && p.replyAt !== null)
          .map((p) => ({ projectId: p.projectId, replyAt: p.replyAt! + pausedFor })),
        timeline: [{ at: now, kind: 'control', message: `resumed after ${Math.round(pausedFor / 1000)}s; deadlines moved by as much` }],
      });
    }
    case 'abort': {
      const told = s.projects.filter((p) => p.interacting);
      return merge(
        clear,
        { session: { paused: false, pausedAt: null } },
        transition(s, now, 'MAINTENANCE_FAILED', 'aborted by the admin', {
          session: { reason: 'aborted by the admin', phase: { ...s.session.phase, aborted: true, failedIn: s.session.state } },
          projects: s.projects.filter((p) => p.awaiting).map((p) => ({ projectId: p.projectId, awaiting: null })),
          events: told.map((p) => ({
            key: `abort:${p.projectId}:${now}`,
            eventType: 'maintenance.scheduled' as const,
            projectId: p.projectId,
            payload: {
              service: 'fenix',
              project_id: p.projectId,
              session_id: s.session.id,
              state: 'MAINTENANCE_COMPLETE',
              instance_ids: projectUrl(s, p.projectId),
              allowed_actions: [],
              reply_url: projectUrl(s, p.projectId),
              actions_at: iso(now),
              reply_at: iso(now + s.session.options.scaleInReplyWindowS * 1000),
              metadata: { ...s.session.metadata, aborted: true },
            },
          })),
        }),
      );
    }
    case 'continue': {
      const phase = {
        ...s.session.phase,
        attempt: (s.session.phase.attempt ?? 0) + 1,
        restored: false,
        computesDisabled: false,
        failedIn: null,
        aborted: false,
        actionsSince: null,
        // The admin fixed what failed: hosts that failed their verify actions are maintained again.
        failedHosts: [],
        windowWait: null,
        host: c.state === 'PREPARE_MAINTENANCE' || c.state === 'PLANNED_MAINTENANCE' ? (s.session.phase.host ?? null) : null,
      };
      return merge(
        clear,
        transition(s, now, c.state, `continued by the admin (attempt ${phase.attempt})`, {
          session: { reason: null, phase },
          hosts: s.hosts.filter((h) => h.status === 'maintaining' || h.status === 'emptying' || h.status === 'failed').map((h) => ({ name: h.name, status: 'pending' as const })),
          instances: s.instances
            .filter((i) => i.status === 'failed' || i.status === 'moving')
            .map((i) => ({ instanceId: i.instanceId, status: 'present' as const, action: null, error: null })),
          projects: s.projects.map((p) => ({ projectId: p.projectId, awaiting: null })),
        }),
      );
    }
  }
}
