// A large session written straight into the store (no engine, no cloud): what a session of N hosts
// looks like half-way through the default workflow, for reading it back through the API at scale.
// Rows are inserted in chunks, so thousands of hosts take about a second.
import type { Kysely } from 'kysely';
import type { Store } from '../../src/ports/store.js';
import type { DB } from '../../src/store/schema.js';

export interface BigSessionOptions {
  id: string;
  hosts: number;
  instancesPerHost: number;
  projects: number;
  /** Timeline entries per host (the engine writes about this many). */
  timelinePerHost?: number;
  /** ms epoch of the session's creation; everything else is later. */
  at?: number;
}

export interface BigSession {
  hosts: string[];
  instances: string[];
  projects: string[];
  /** Rows per list as written. */
  counts: { hosts: number; projects: number; instances: number; operations: number; plugin_runs: number; deliveries: number; timeline: number; replies: number };
}

const pad = (n: number, w = 5): string => String(n).padStart(w, '0');

async function insertChunked<T extends keyof DB & string>(db: Kysely<DB>, table: T, rows: readonly Record<string, unknown>[]): Promise<void> {
  // A chunk's placeholders stay below SQLite's and PostgreSQL's parameter limits.
  const per = Math.max(1, Math.floor(20_000 / Math.max(1, Object.keys(rows[0] ?? {}).length)));
  for (let i = 0; i < rows.length; i += per) await db.insertInto(table).values(rows.slice(i, i + per) as never).execute();
}

/**
 * The first half of the hosts maintained (their instances moved, one move op each, a plug-in run
 * each), the next one being emptied with two moves in flight, the rest pending; every project
 * notified four times, the even ones awaiting PLANNED_MAINTENANCE with no reply; replies stored.
 * wake_at is null and no lease is held, so an engine never picks the session up.
 */
export async function seedBigSession(store: Store, o: BigSessionOptions): Promise<BigSession> {
  const db = (store as unknown as { db: Kysely<DB> }).db;
  const t0 = o.at ?? Date.UTC(2026, 0, 1, 10);
  const hosts = Array.from({ length: o.hosts }, (_, i) => `h${pad(i)}`);
  const projects = Array.from({ length: o.projects }, (_, i) => `p${pad(i, 4)}`);
  const half = Math.floor(o.hosts / 2);
  const current = hosts[half];
  await db
    .insertInto('sessions')
    .values({
      id: o.id,
      state: 'PLANNED_MAINTENANCE',
      workflow: 'default',
      maintenance_at: t0,
      metadata: '{}',
      actions: JSON.stringify([{ plugin: 'dummy', type: 'host', metadata: {} }]),
      download: '[]',
      options: JSON.stringify({ replyWindowS: 40, scaleInReplyWindowS: 60, noSubscription: 'act', ownActionTimeoutS: 600, maxParallelHosts: 0 }),
      phase: JSON.stringify({ inventoried: true, host: current ?? null, computesDisabled: true, transitions: 3 }),
      reason: null,
      paused: 0,
      deleting: 0,
      wake_at: null,
      percent_done: Math.floor((100 * half) / Math.max(1, o.hosts)),
      created_at: t0,
      updated_at: t0,
      lease_owner: null,
      lease_expires_at: null,
      paused_at: null,
      control: null,
    })
    .execute();
  await insertChunked(
    db,
    'session_hosts',
    hosts.map((name, i) => ({
      session_id: o.id,
      name,
      type: 'compute',
      status: i < half ? 'maintained' : i === half ? 'emptying' : 'pending',
      original_enabled: 1,
      disabled_by_us: i <= half ? 0 : 1,
      maintained_at: i < half ? t0 + 60_000 * (i + 1) : null,
      position: i,
    })),
  );
  await insertChunked(
    db,
    'session_projects',
    projects.map((p, i) => ({
      session_id: o.id,
      project_id: p,
      interacting: 1,
      awaiting: i % 2 === 0 ? 'PLANNED_MAINTENANCE' : null,
      ask_key: i % 2 === 0 ? `PLANNED_MAINTENANCE:${current}` : null,
      notified_at: t0 + 1000,
      reply_at: i % 2 === 0 ? t0 + 3_600_000 + i * 1000 : null,
      reply: null,
      replied_at: null,
      last_reply: 'ACK_PREPARE_MAINTENANCE',
      last_reply_at: t0 + 2000,
      unreachable: 0,
    })),
  );
  const instances: Record<string, unknown>[] = [];
  const ops: Record<string, unknown>[] = [];
  hosts.forEach((h, hi) => {
    for (let k = 0; k < o.instancesPerHost; k++) {
      const id = `i-${h}-${k}`;
      const moved = hi < half;
      const moving = hi === half && k < 2;
      const target = hosts[(hi + 1) % hosts.length]!;
      instances.push({
        session_id: o.id,
        instance_id: id,
        project_id: projects[(hi * o.instancesPerHost + k) % projects.length],
        name: `vm-${h}-${k}`,
        host: moved ? target : h,
        origin_host: h,
        vcpus: 2,
        floating_ip: 0,
        live_migratable: 1,
        action: moved || moving ? 'MIGRATE' : null,
        status: moved ? 'moved' : moving ? 'moving' : 'present',
        moves: moved ? 1 : 0,
        error: null,
        ask_state: null,
        ask_key: null,
        notified_at: null,
        reply_at: null,
        reply: null,
        replied_at: null,
      });
      if (moved || moving) {
        ops.push({
          session_id: o.id,
          key: `move:0:${id}:${h}`,
          kind: 'move',
          subject: id,
          args: JSON.stringify({ kind: 'MIGRATE', from: h }),
          status: moving ? 'started' : 'done',
          ref: `ref-${id}`,
          result: null,
          error: null,
          attempts: 1,
          created_at: t0 + 60_000 * hi + 10,
          started_at: t0 + 60_000 * hi + 20,
          finished_at: moving ? null : t0 + 60_000 * hi + 30,
          poll_at: moving ? t0 + 60_000 * hi + 40 : null,
        });
      }
    }
    if (hi < half) {
      ops.push({
        session_id: o.id,
        key: `plugin:0:host:dummy:${h}`,
        kind: 'plugin',
        subject: 'dummy',
        args: JSON.stringify({ type: 'host', host: h }),
        status: 'done',
        ref: null,
        result: JSON.stringify({ output: `dummy ran on ${h}` }),
        error: null,
        attempts: 1,
        created_at: t0 + 60_000 * hi + 40,
        started_at: t0 + 60_000 * hi + 41,
        finished_at: t0 + 60_000 * hi + 42,
        poll_at: null,
      });
      ops.push({
        session_id: o.id,
        key: `hm:0:${h}`,
        kind: 'host_maintenance',
        subject: h,
        args: '{}',
        status: 'done',
        ref: null,
        result: null,
        error: null,
        attempts: 1,
        created_at: t0 + 60_000 * hi + 43,
        started_at: t0 + 60_000 * hi + 44,
        finished_at: t0 + 60_000 * hi + 50,
        poll_at: null,
      });
    }
  });
  await insertChunked(db, 'session_instances', instances);
  await insertChunked(db, 'ops', ops);

  const outbox: Record<string, unknown>[] = [];
  projects.forEach((p, pi) => {
    for (const [n, state] of ['MAINTENANCE', 'PREPARE_MAINTENANCE', 'PLANNED_MAINTENANCE', 'PLANNED_MAINTENANCE'].entries())
      outbox.push({
        message_id: `m-${p}-${n}`,
        event_key: `${o.id}:ask:${state}:${n}:${p}`,
        session_id: o.id,
        subscription_id: `sub-${p}`,
        event_type: 'maintenance.scheduled',
        payload: JSON.stringify({ state, project_id: p, session_id: o.id }),
        status: n < 3 ? 'delivered' : pi % 7 === 0 ? 'pending' : 'delivered',
        attempts: 1,
        next_attempt_at: t0 + 1000 * n,
        last_error: null,
        last_status: 200,
        created_at: t0 + 1000 * n,
        delivered_at: t0 + 1000 * n + 5,
        claimed_by: null,
        claimed_until: null,
      });
  });
  hosts.slice(0, half).forEach((h, hi) =>
    outbox.push({
      message_id: `m-${h}`,
      event_key: `${o.id}:host:${h}`,
      session_id: o.id,
      subscription_id: 'sub-admin',
      event_type: 'maintenance.host',
      payload: JSON.stringify({ host: h, state: 'IN_MAINTENANCE', session_id: o.id }),
      status: 'delivered',
      attempts: 1,
      next_attempt_at: t0 + 60_000 * hi,
      last_error: null,
      last_status: 200,
      created_at: t0 + 60_000 * hi,
      delivered_at: t0 + 60_000 * hi + 5,
      claimed_by: null,
      claimed_until: null,
    }),
  );
  await insertChunked(db, 'outbox', outbox);

  const timeline: Record<string, unknown>[] = [];
  const perHost = o.timelinePerHost ?? 6;
  hosts.slice(0, half + 1).forEach((h, hi) => {
    for (let k = 0; k < perHost; k++)
      timeline.push({
        session_id: o.id,
        at: t0 + 60_000 * hi + k,
        kind: k === 0 ? 'host' : 'instance',
        message: k === 0 ? `${h} in maintenance` : `i-${h}-${k} moved from ${h}`,
        data: k === 0 ? null : JSON.stringify({ from: h, to: hosts[(hi + 1) % hosts.length] }),
      });
  });
  await insertChunked(db, 'timeline', timeline);

  const replies = projects.flatMap((p, pi) =>
    ['ACK_MAINTENANCE', 'ACK_PREPARE_MAINTENANCE'].map((reply, n) => ({
      session_id: o.id,
      project_id: p,
      instance_id: '',
      reply,
      accepted: 1,
      digest: `d${n}`.padEnd(64, '0'),
      instance_actions: null,
      count: 1 + (pi % 3),
      first_at: t0 + 1000 * n + 500,
      last_at: t0 + 1000 * n + 900,
    })),
  );
  await insertChunked(db, 'session_replies', replies);

  return {
    hosts,
    instances: instances.map((i) => i.instance_id as string),
    projects,
    counts: {
      hosts: hosts.length,
      projects: projects.length,
      instances: instances.length,
      operations: ops.length,
      plugin_runs: ops.filter((x) => x.kind === 'plugin').length,
      deliveries: outbox.length,
      timeline: timeline.length,
      replies: replies.length,
    },
  };
}
