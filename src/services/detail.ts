// Read models: the session as clients see it, and the detail an operator reads when a session is
// stuck (spec §3 detail): it names who or what the session waits for, and until when.
import type { OutboxRow, SessionRow, TimelineEntry } from '../domain/model.js';
import type { SessionData } from '../domain/snapshot.js';
import { isTerminal } from '../domain/states.js';

const iso = (t: number | null | undefined): string | null => (t == null ? null : new Date(t).toISOString());

export function sessionView(s: SessionRow) {
  return {
    session_id: s.id,
    state: s.state,
    workflow: s.workflow,
    maintenance_at: new Date(s.maintenanceAt).toISOString(),
    percent_done: s.percentDone,
    paused: s.paused,
    reason: s.reason,
    metadata: s.metadata,
    created_at: new Date(s.createdAt).toISOString(),
    updated_at: new Date(s.updatedAt).toISOString(),
  };
}

export function waitingFor(d: SessionData, now: number): { what: string; until: string | null } {
  const s = d.session;
  if (s.deleting) return { what: 'restoring hosts before the session is removed', until: null };
  if (s.state === 'MAINTENANCE_DONE') return { what: 'nothing: the session is done', until: null };
  if (s.state === 'MAINTENANCE_FAILED')
    return { what: `the admin: the session failed (${s.reason ?? 'unknown reason'}); fix the cause and PUT {"state": "${s.phase.failedIn ?? 'MAINTENANCE'}"} to continue, or DELETE`, until: null };
  if (s.paused) return { what: 'the admin: the session is paused', until: null };
  const silent = d.projects.filter((p) => p.awaiting && !p.reply);
  if (silent.length) {
    const until = Math.min(...silent.map((p) => p.replyAt ?? Infinity));
    return {
      what: `replies to ${silent[0]!.awaiting} from ${silent.map((p) => p.projectId).join(', ')}`,
      until: Number.isFinite(until) ? iso(until) : null,
    };
  }
  // vnf / k8s: per-instance asks not answered yet.
  const silentInstances = d.instances.filter((i) => i.askState && !i.reply && i.status !== 'gone');
  if (silentInstances.length) {
    const until = Math.min(...silentInstances.map((i) => i.replyAt ?? Infinity));
    const names = silentInstances.slice(0, 5).map((i) => `${i.projectId}/${i.instanceId}`);
    return {
      what: `replies to ${silentInstances[0]!.askState} for ${names.join(', ')}${silentInstances.length > 5 ? ` and ${silentInstances.length - 5} more` : ''}`,
      until: Number.isFinite(until) ? iso(until) : null,
    };
  }
  const running = d.ops.filter((o) => o.status === 'started' || o.status === 'pending');
  if (running.length) {
    const names = running.map((o) => `${o.kind} ${o.subject}`).slice(0, 5);
    return { what: `${names.join(', ')}${running.length > 5 ? ` and ${running.length - 5} more` : ''} to finish`, until: null };
  }
  if (now < s.maintenanceAt) return { what: 'maintenance_at', until: iso(s.maintenanceAt) };
  if (s.wakeAt !== null && s.wakeAt > now) return { what: 'its next check', until: iso(s.wakeAt) };
  return { what: isTerminal(s.state) ? 'nothing' : 'the engine (working)', until: null };
}

export function detailView(d: SessionData, outbox: OutboxRow[], timeline: TimelineEntry[], now: number) {
  const s = d.session;
  const moves = d.ops.filter((o) => o.kind === 'move');
  return {
    session: { ...sessionView(s), options: s.options, actions: s.actions, current_host: s.phase.host ?? null, failed_in: s.phase.failedIn ?? null },
    percent_done: s.percentDone,
    waiting_for: waitingFor(d, now),
    hosts: d.hosts.map((h) => ({
      name: h.name,
      type: h.type,
      status: h.status,
      maintained: h.status === 'maintained',
      maintained_at: iso(h.maintainedAt),
      disabled_by_us: h.disabledByUs,
      original_enabled: h.originalEnabled,
      current: s.phase.host === h.name || h.status === 'maintaining',
    })),
    projects: d.projects.map((p) => ({
      project_id: p.projectId,
      interacting: p.interacting,
      unreachable: p.unreachable,
      awaiting: p.awaiting,
      reply_at: iso(p.replyAt),
      answered: p.awaiting ? p.reply !== null : null,
      reply: p.reply,
      last_reply: p.lastReply,
      last_reply_at: iso(p.lastReplyAt),
    })),
    instances: d.instances.map((i) => ({
      instance_id: i.instanceId,
      name: i.name,
      project_id: i.projectId,
      host: i.host,
      origin_host: i.originHost,
      vcpus: i.vcpus,
      action: i.action,
      status: i.status,
      moves: i.moves,
      error: i.error,
      operations: moves
        .filter((o) => o.subject === i.instanceId)
        .map((o) => ({ action: o.args.kind, from: o.args.from, status: o.status, error: o.error, started_at: iso(o.startedAt), finished_at: iso(o.finishedAt) })),
    })),
    plugin_runs: d.ops
      .filter((o) => o.kind === 'plugin')
      .map((o) => ({
        plugin: o.subject,
        type: o.args.type,
        host: o.args.host ?? null,
        status: o.status,
        output: (o.result?.output as string | undefined) ?? null,
        error: o.error,
        started_at: iso(o.startedAt),
        finished_at: iso(o.finishedAt),
      })),
    operations: d.ops.map((o) => ({
      key: o.key,
      kind: o.kind,
      subject: o.subject,
      status: o.status,
      attempts: o.attempts,
      error: o.error,
      created_at: iso(o.createdAt),
      finished_at: iso(o.finishedAt),
    })),
    deliveries: outbox.map((r) => ({
      message_id: r.messageId,
      event_type: r.eventType,
      subscription_id: r.subscriptionId,
      state: (r.payload.state as string | undefined) ?? null,
      project_id: (r.payload.project_id as string | undefined) ?? null,
      status: r.status,
      attempts: r.attempts,
      last_error: r.lastError,
      last_status: r.lastStatus,
      created_at: iso(r.createdAt),
      delivered_at: iso(r.deliveredAt),
      next_attempt_at: r.status === 'pending' ? iso(r.nextAttemptAt) : null,
    })),
    timeline: timeline.map((t) => ({ at: iso(t.at), kind: t.kind, message: t.message, ...(t.data && { data: t.data }) })),
  };
}
