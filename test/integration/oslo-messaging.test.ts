// oslo.messaging notifications proven with a real peer: a notification listener written with
// Debian's python3-oslo.messaging (test/integration/oslo-listener.py, the way Ceilometer listens)
// consumes what OsloTransport publishes on RabbitMQ, and what a whole service publishes with
// --notify-amqp. Runs in the real-OpenStack lane (FENIX_OPENSTACK_LANE=1; the lane installs
// python3-oslo.messaging and uses the machine's RabbitMQ); skipped otherwise.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OsloTransport, OSLO_ADMIN_SUBSCRIPTION_ID } from '../../src/notifier/oslo-transport.js';
import type { Notification, Subscription } from '../../src/ports/transport.js';
import { api, startTestService, waitFor, waitForSession } from '../helpers/harness.js';

const LANE = process.env.FENIX_OPENSTACK_LANE === '1';
const AMQP = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672/';
const LISTENER = fileURLToPath(new URL('./oslo-listener.py', import.meta.url));

interface Heard {
  priority: string;
  publisher_id: string;
  event_type: string;
  payload: Record<string, unknown>;
  metadata: { message_id: string; timestamp: string };
}

async function startListener(url: string, exchange = 'openstack'): Promise<{ heard: Heard[]; child: ChildProcess; stop(): Promise<void> }> {
  const heard: Heard[] = [];
  let err = '';
  const child = spawn('/usr/bin/python3', [LISTENER, url.replace(/^amqp:/, 'rabbit:'), exchange], { stdio: ['pipe', 'pipe', 'pipe'] });
  let buf = '';
  let ready = false;
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (line === 'READY') ready = true;
      else if (line.startsWith('{')) heard.push(JSON.parse(line) as Heard);
    }
  });
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  await waitFor(() => ready || child.exitCode !== null, 'oslo listener ready', 30_000);
  if (!ready) throw new Error(`oslo listener failed: ${err}`);
  return {
    heard,
    child,
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.stdin!.end();
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      await exited;
    },
  };
}

const sub: Subscription = {
  id: 's-oslo',
  projectId: null,
  url: 'oslo://openstack/notifications.info',
  eventTypes: ['maintenance.host'],
  format: 'json',
  secret: null,
  createdAt: 0,
  delivered: 0,
};

describe.skipIf(!LANE)('oslo.messaging notifications (real python3-oslo.messaging listener)', () => {
  let listener: Awaited<ReturnType<typeof startListener>>;
  beforeAll(async () => {
    listener = await startListener(AMQP);
  });
  afterAll(async () => {
    await listener?.stop();
  });

  it('a listener decodes every event with its payload, message id and timestamp; redeliveries are dropped', async () => {
    const t = new OsloTransport({ url: AMQP });
    const sid = randomUUID();
    const ns: Notification[] = [
      {
        messageId: randomUUID(),
        eventType: 'maintenance.scheduled',
        generated: Date.UTC(2026, 0, 2, 3, 4, 5, 678),
        payload: {
          service: 'fenix',
          project_id: 'p1',
          session_id: sid,
          state: 'PREPARE_MAINTENANCE',
          instance_ids: 'http://127.0.0.1:12347/v1/maintenance/x/p1',
          allowed_actions: ['MIGRATE', 'LIVE_MIGRATE', 'OWN_ACTION'],
          reply_url: 'http://127.0.0.1:12347/v1/maintenance/x/p1',
          actions_at: '2026-01-02T03:05:00Z',
          reply_at: '2026-01-02T03:04:45Z',
          metadata: { openstack_version: 'Zed', nested: { ok: true, n: null } },
        },
      },
      { messageId: randomUUID(), eventType: 'maintenance.host', generated: Date.now(), payload: { host: 'compute1', state: 'IN_MAINTENANCE', session_id: sid, project_id: 'admin' } },
      { messageId: randomUUID(), eventType: 'maintenance.session', generated: Date.now(), payload: { session_id: sid, state: 'MAINTENANCE_DONE', percent_done: 100 } },
    ];
    try {
      for (const n of ns) expect(await t.deliver(sub, n, new AbortController().signal)).toMatchObject({ ok: true });
      // at-least-once: the relay may deliver the same row again; oslo's listener drops it by _unique_id
      expect((await t.deliver(sub, ns[1]!, new AbortController().signal)).ok).toBe(true);
      const mine = () => listener.heard.filter((h) => h.payload.session_id === sid);
      await waitFor(() => mine().length >= 3, 'three notifications', 20_000);
      await new Promise((r) => setTimeout(r, 500)); // a duplicate would arrive right behind
      const got = mine();
      expect(got.map((h) => h.event_type)).toEqual(['maintenance.scheduled', 'maintenance.host', 'maintenance.session']);
      for (const [i, h] of got.entries()) {
        expect(h.priority).toBe('info');
        expect(h.publisher_id).toBe('fenix');
        expect(h.payload).toEqual(ns[i]!.payload);
        expect(h.metadata.message_id).toBe(ns[i]!.messageId);
      }
      expect(got[0]!.metadata.timestamp).toBe('2026-01-02 03:04:05.678000');
    } finally {
      await t.close();
    }
  });

  it('reports a broker it cannot reach as a failed delivery (the relay retries)', async () => {
    const t = new OsloTransport({ url: 'amqp://guest:guest@127.0.0.1:1/', timeoutMs: 2000 });
    const r = await t.deliver(sub, { messageId: randomUUID(), eventType: 'maintenance.host', generated: Date.now(), payload: {} }, new AbortController().signal);
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/oslo\.messaging publish/);
    await t.close();
  });

  it('a service with --notify-amqp publishes its maintenance.session and maintenance.host events on the bus', async () => {
    const svc = await startTestService({ config: { notifyAmqp: AMQP.replace(/^amqp:/, 'rabbit:') } });
    try {
      const subs = await api(svc.url, 'GET', '/v1/subscriptions');
      expect(JSON.stringify(subs.body)).toContain(OSLO_ADMIN_SUBSCRIPTION_ID);
      const hosts = (await svc.infra.listHosts()).filter((h) => h.type === 'compute').map((h) => h.name);
      const empty = hosts.find(() => true)!;
      const created = await api(svc.url, 'POST', '/v1/maintenance', { hosts: [empty], workflow: 'default' });
      expect(created.status).toBe(200);
      const sid = created.body.session_id as string;
      await waitForSession(svc.url, sid, (s) => s.state === 'MAINTENANCE_DONE' || s.state === 'MAINTENANCE_FAILED', 60_000);
      const mine = () => listener.heard.filter((h) => h.payload.session_id === sid);
      await waitFor(() => mine().some((h) => h.event_type === 'maintenance.session' && h.payload.state === 'MAINTENANCE_DONE'), 'MAINTENANCE_DONE on the bus', 30_000);
      const hostEvents = mine().filter((h) => h.event_type === 'maintenance.host');
      expect(hostEvents.map((h) => h.payload.state)).toEqual(expect.arrayContaining(['IN_MAINTENANCE', 'MAINTENANCE_COMPLETE']));
      expect(hostEvents[0]!.payload.host).toBe(empty);
      for (const h of mine()) expect(h.publisher_id).toBe('fenix');
    } finally {
      await svc.stop();
    }
  });
});
