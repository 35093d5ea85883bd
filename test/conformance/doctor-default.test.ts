// Conformance: the OPNFV Doctor "maintenance" test case with the default workflow (spec §6, §7,
// §9), replayed over real HTTP. The Doctor admin creates a session over all hosts with
// maintenance_at a little ahead, the Doctor sample application manager (src/cli/vnfm.ts) answers
// every notification through the project API, the Doctor inspector consumes maintenance.host,
// and the admin polls GET until MAINTENANCE_DONE and deletes the session.
//
// The cloud is full: no compute host is empty and the free capacity cannot hold any host's
// instances, so the engine has to go through SCALE_IN before it can empty the first host.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startSampleVnfm, type SampleVnfm } from '../../src/cli/vnfm.js';
import type { Service } from '../../src/main/service.js';
import { api, aodhTraits, startReceiver, startTestService, waitFor, type Received } from '../helpers/harness.js';
import { wholeDetail } from '../helpers/detail.js';

const PROJECT = 'doctor';
const HOSTS = ['compute-0', 'compute-1', 'compute-2'];
const INSTANCES = 11; // of 12 vCPUs: one free
const SCALE_IN = 3; // leaves 8 used: exactly one host's worth of room (4) on the others

const instanceId = (i: number): string => `d0c70000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;

// Round-robin placement (4 + 4 + 3): the sample VNFM scales in the highest-numbered names
// (doctor_app_10, _9, _8), one on each host, so no host becomes empty by scaling in and the
// engine has to PREPARE (empty) a host first.
const scenario = {
  description: 'Doctor maintenance test case: three full compute hosts, one project',
  hosts: HOSTS.map((name) => ({ name, type: 'compute', vcpus: 4 })),
  instances: Array.from({ length: INSTANCES }, (_, i) => ({
    id: instanceId(i),
    name: `doctor_app_${i}`,
    project_id: PROJECT,
    host: HOSTS[i % HOSTS.length]!,
    vcpus: 1,
  })),
  timings: { migrate_s: 0.05, live_migrate_s: 0.05, host_maintenance_s: 0.05 },
};

/** "YYYY-MM-DD HH:MM:SS" (UTC, no zone): the format the Doctor admin sends. */
const doctorTime = (ms: number): string => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
/** An AODH dtype-4 trait value (UTC without zone) to ms. */
const traitTime = (v: string): number => Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(v) ? v : `${v}Z`);

/** A webhook body as the harness records it (parsed JSON, untyped). */
type Body = Received['body'];
type Trait = [string, number, unknown];
const traitsOf = (body: Body): Trait[] => body.reason_data.event.traits as Trait[];
const trait = (body: Body, name: string): Trait | undefined => traitsOf(body).find((t) => t[0] === name);
const messageId = (body: Body): string => body.reason_data.event.message_id as string;

/** Received webhooks without redeliveries (delivery is at least once; message_id dedupes). */
function unique(list: Received[], id: (b: Body) => string): Received[] {
  const seen = new Set<string>();
  return list.filter((r) => {
    const k = id(r.body);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** Records the raw webhook bodies sent to the sample VNFM (which only keeps decoded events) and forwards them. */
async function startRecordingProxy() {
  const received: Received[] = [];
  let target = '';
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        /* keep the text */
      }
      received.push({ at: Date.now(), body, headers: req.headers });
      fetch(target, { method: req.method, headers: { 'content-type': 'application/json' }, body: text })
        .then(async (r) => {
          res.writeHead(r.status, { 'content-type': 'application/json' }).end(await r.text());
        })
        .catch(() => res.writeHead(502).end());
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/maintenance`,
    received,
    forwardTo(url: string) {
      target = url;
    },
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

const AODH_KEYS = ['alarm_id', 'alarm_name', 'current', 'previous', 'reason', 'reason_data', 'severity'];
const EVENT_KEYS = ['event_type', 'generated', 'message_id', 'message_signature', 'raw', 'traits'];

/** The exact AODH event-alarm shape (spec §7) plus `previous` by position in the subscription's stream. */
function expectAodhShape(r: Received, eventType: string, first: boolean): void {
  const b = r.body;
  expect(Object.keys(b).sort()).toEqual(AODH_KEYS);
  expect(typeof b.alarm_name).toBe('string');
  expect(typeof b.alarm_id).toBe('string');
  expect(typeof b.reason).toBe('string');
  expect(b.severity).toBe('low');
  expect(b.current).toBe('alarm');
  expect(b.previous).toBe(first ? 'insufficient data' : 'alarm');
  expect(Object.keys(b.reason_data).sort()).toEqual(['event', 'type']);
  expect(b.reason_data.type).toBe('event');
  const ev = b.reason_data.event;
  expect(Object.keys(ev).sort()).toEqual(EVENT_KEYS);
  expect(ev.event_type).toBe(eventType);
  expect(ev.message_id).toMatch(/^[0-9a-f-]{36}$/);
  expect(ev.generated).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
  expect(ev.raw).toEqual({});
  expect(ev.message_signature).toMatch(/^[0-9a-f]{64}$/);
  expect(Array.isArray(ev.traits)).toBe(true);
  for (const t of ev.traits as Trait[]) {
    expect(t).toHaveLength(3);
    expect(typeof t[0]).toBe('string');
    expect([1, 2, 3, 4]).toContain(t[1]);
  }
}

describe('conformance: Doctor maintenance test case, default workflow', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
    cleanup.length = 0;
  });

  it('scales in, empties and maintains every host once, and ends in MAINTENANCE_DONE', async () => {
    const svc: Service = await startTestService({ config: { replyWindow: 20, scaleInReplyWindow: 20 }, scenario });
    cleanup.push(() => svc.stop());

    // Doctor inspector (maintenance.host, AODH) and an admin watching maintenance.session (JSON).
    const inspector = await startReceiver();
    cleanup.push(() => inspector.close());
    const admin = await startReceiver();
    cleanup.push(() => admin.close());
    expect((await api(svc.url, 'POST', '/v1/subscriptions', { url: inspector.url, event_types: ['maintenance.host'], format: 'aodh' })).status).toBe(201);
    expect((await api(svc.url, 'POST', '/v1/subscriptions', { url: admin.url, event_types: ['maintenance.session'], format: 'json' })).status).toBe(201);

    // The sample application manager, behind a proxy that keeps the raw AODH bodies.
    const proxy = await startRecordingProxy();
    cleanup.push(() => proxy.close());
    const vnfm: SampleVnfm = await startSampleVnfm({ projectId: PROJECT, api: svc.url, scaleIn: SCALE_IN, publicUrl: proxy.url, log: () => {} });
    proxy.forwardTo(vnfm.localUrl);
    cleanup.push(() => vnfm.close());

    // ---- the Doctor admin flow ----
    const maintenanceAt = Math.ceil((Date.now() + 2000) / 1000) * 1000;
    const t0 = Date.now();
    const created = await api(svc.url, 'POST', '/v1/maintenance', {
      hosts: [],
      state: 'MAINTENANCE',
      maintenance_at: doctorTime(maintenanceAt),
      metadata: { openstack_version: 'Train' },
      workflow: 'default',
    });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    const sid = created.body.session_id as string;
    expect(sid).toMatch(/^[0-9a-f-]{36}$/);
    expect((await api(svc.url, 'GET', '/v1/maintenance')).body.sessions).toContain(sid);

    const final = await waitFor(
      async () => {
        const r = await api(svc.url, 'GET', `/v1/maintenance/${sid}`);
        expect(r.status).toBe(200);
        expect(r.body.session_id).toBe(sid);
        if (r.body.state === 'MAINTENANCE_FAILED') {
          const d = await api(svc.url, 'GET', `/v1/maintenance/${sid}/detail`);
          throw new Error(
            `session failed: ${r.body.reason}\nwaiting_for: ${JSON.stringify(d.body.waiting_for)}\ntimeline:\n` +
              (d.body.timeline as { at: string; kind: string; message: string }[]).map((t) => `  ${t.at} ${t.kind} ${t.message}`).join('\n'),
          );
        }
        return r.body.state === 'MAINTENANCE_DONE' ? r.body : undefined;
      },
      'MAINTENANCE_DONE',
      45_000,
    ).catch(async (err: unknown) => {
      if (err instanceof Error && err.message.includes('session failed')) throw err;
      const d = await api(svc.url, 'GET', `/v1/maintenance/${sid}/detail`);
      throw new Error(`${String(err)}\nwaiting_for: ${JSON.stringify(d.body?.waiting_for)}\ntimeline: ${JSON.stringify(d.body?.timeline, null, 1)}`);
    });
    const tDone = Date.now();
    const duration = tDone - t0;
    console.log(
      `Doctor default session: create -> MAINTENANCE_DONE ${(duration / 1000).toFixed(2)} s ` +
        `(${((tDone - maintenanceAt) / 1000).toFixed(2)} s after maintenance_at, ${((maintenanceAt - t0) / 1000).toFixed(2)} s of notice)`,
    );
    expect(final.percent_done).toBe(100);

    // ---- what the application manager received (raw AODH bodies, via the proxy) ----
    await vnfm.idle();
    await waitFor(() => vnfm.replies.some((r) => r.state === 'ACK_MAINTENANCE_COMPLETE'), 'last VNFM reply');
    const raw = unique(proxy.received, messageId);
    raw.forEach((r, i) => expectAodhShape(r, 'maintenance.scheduled', i === 0));
    expect(proxy.received[0]!.body.previous).toBe('insufficient data');
    for (const r of proxy.received.slice(1)) expect(r.body.previous).toBe('alarm');

    const projectUrl = `${svc.url}/v1/maintenance/${sid}/${PROJECT}`;
    const asks = raw.filter((r) => aodhTraits(r.body).state !== 'INSTANCE_ACTION_DONE');
    const states = asks.map((r) => aodhTraits(r.body).state as string);
    expect(states.slice(0, 3)).toEqual(['MAINTENANCE', 'SCALE_IN', 'PREPARE_MAINTENANCE']);
    expect(states.at(-1)).toBe('MAINTENANCE_COMPLETE');
    const planned = states.slice(3, -1);
    expect(planned.length).toBeGreaterThanOrEqual(1);
    expect(new Set(planned)).toEqual(new Set(['PLANNED_MAINTENANCE']));

    for (const r of asks) {
      const t = aodhTraits(r.body);
      const st = t.state as string;
      expect(trait(r.body, 'service')).toEqual(['service', 1, 'fenix']);
      expect(trait(r.body, 'project_id')).toEqual(['project_id', 1, PROJECT]);
      expect(trait(r.body, 'session_id')).toEqual(['session_id', 1, sid]);
      expect(trait(r.body, 'state')).toEqual(['state', 1, st]);
      expect(trait(r.body, 'instance_ids')).toEqual(['instance_ids', 1, projectUrl]);
      expect(trait(r.body, 'reply_url')).toEqual(['reply_url', 1, projectUrl]);
      expect(trait(r.body, 'metadata')).toEqual(['metadata', 1, "{'openstack_version': 'Train'}"]);
      const allowed = trait(r.body, 'allowed_actions');
      expect(allowed?.[1]).toBe(1);
      if (st === 'PREPARE_MAINTENANCE' || st === 'PLANNED_MAINTENANCE') {
        expect(allowed?.[2]).toMatch(/^\['[A-Z_]+'(, '[A-Z_]+')*\]$/);
        expect(allowed?.[2]).toContain("'MIGRATE'");
      } else {
        expect(allowed?.[2]).toBe('[]');
      }
      const replyAt = trait(r.body, 'reply_at');
      const actionsAt = trait(r.body, 'actions_at');
      expect(replyAt?.[1], `${st} reply_at`).toBe(4);
      expect(actionsAt?.[1], `${st} actions_at`).toBe(4);
      expect(replyAt?.[2]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
      expect(actionsAt?.[2]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
      // In the future when it was sent (the original computed now - window).
      expect(traitTime(replyAt![2] as string), `${st} reply_at ${String(replyAt![2])} vs receipt`).toBeGreaterThan(r.at);
      if (st === 'MAINTENANCE') expect(traitTime(actionsAt![2] as string)).toBe(maintenanceAt);
    }
    // INSTANCE_ACTION_DONE: informational, a list of ids, no reply expected.
    for (const r of raw.filter((x) => aodhTraits(x.body).state === 'INSTANCE_ACTION_DONE')) {
      expect(trait(r.body, 'instance_ids')?.[2]).toMatch(/^\['[0-9a-f-]{36}'\]$/);
      expect(trait(r.body, 'reply_at')).toBeUndefined();
    }
    // The decoded view the VNFM acted on matches what was sent.
    expect(vnfm.received.filter((e) => e.state !== 'INSTANCE_ACTION_DONE').map((e) => e.state)).toEqual(states);

    // ---- the VNFM's replies: exactly the Doctor sample's, all answered 200 at once ----
    const replies = vnfm.replies;
    expect(replies.map((r) => r.state)).toEqual(states.map((s) => `ACK_${s}`));
    for (const r of replies) {
      expect(r, JSON.stringify(r)).toMatchObject({ ok: true, status: 200, attempts: 1, url: projectUrl });
    }
    const allIds = scenario.instances.map((i) => i.id).sort();
    expect(replies[0]!.body).toEqual({ instance_ids: expect.any(Array), session_id: sid, state: 'ACK_MAINTENANCE' });
    expect([...(replies[0]!.body.instance_ids as string[])].sort()).toEqual(allIds);
    expect(replies[1]!.body).toEqual({ session_id: sid, state: 'ACK_SCALE_IN' });
    expect(replies.at(-1)!.body).toEqual({ session_id: sid, state: 'ACK_MAINTENANCE_COMPLETE' });
    const moveReplies = replies.slice(2, -1);
    for (const r of moveReplies) {
      expect(Object.keys(r.body).sort()).toEqual(['instance_actions', 'session_id', 'state']);
      expect(r.body.session_id).toBe(sid);
      const acts = r.body.instance_actions as Record<string, string>;
      expect(Object.keys(acts).length).toBeGreaterThan(0);
      for (const [id, a] of Object.entries(acts)) {
        expect(allIds).toContain(id);
        expect(a).toBe('MIGRATE');
      }
    }
    // Scaled in on SCALE_IN, scaled back out on MAINTENANCE_COMPLETE.
    expect(vnfm.scaledIn).toEqual([]);

    // ---- the inspector: IN_MAINTENANCE then MAINTENANCE_COMPLETE, once per host ----
    await waitFor(
      () => unique(inspector.received, messageId).filter((r) => aodhTraits(r.body).state === 'MAINTENANCE_COMPLETE').length >= HOSTS.length,
      'every host event',
    );
    const hostEvents = unique(inspector.received, messageId);
    hostEvents.forEach((r, i) => expectAodhShape(r, 'maintenance.host', i === 0));
    expect(hostEvents).toHaveLength(2 * HOSTS.length);
    for (const r of hostEvents) {
      expect(trait(r.body, 'project_id')).toEqual(['project_id', 1, 'admin']);
      expect(trait(r.body, 'session_id')).toEqual(['session_id', 1, sid]);
      expect(trait(r.body, 'host')?.[1]).toBe(1);
      expect(trait(r.body, 'state')?.[1]).toBe(1);
    }
    for (const h of HOSTS) {
      const seq = hostEvents.map((r) => aodhTraits(r.body)).filter((t) => t.host === h).map((t) => t.state);
      expect(seq, h).toEqual(['IN_MAINTENANCE', 'MAINTENANCE_COMPLETE']);
    }
    // One host at a time: each IN_MAINTENANCE is followed by the same host's MAINTENANCE_COMPLETE.
    const flat = hostEvents.map((r) => aodhTraits(r.body));
    for (let i = 0; i < flat.length; i += 2) {
      expect(flat[i]!.state).toBe('IN_MAINTENANCE');
      expect(flat[i + 1]).toMatchObject({ host: flat[i]!.host, state: 'MAINTENANCE_COMPLETE' });
    }

    // ---- maintenance.session: ends with MAINTENANCE_DONE at 100 % ----
    await waitFor(() => admin.received.some((r) => r.body?.payload?.state === 'MAINTENANCE_DONE'), 'MAINTENANCE_DONE event');
    const sessionEvents = unique(admin.received, (b) => b.message_id as string).map((r) => r.body);
    for (const e of sessionEvents) {
      expect(e.event_type).toBe('maintenance.session');
      expect(e.payload.session_id).toBe(sid);
    }
    const done = sessionEvents.filter((e) => e.payload.state === 'MAINTENANCE_DONE');
    expect(done).toHaveLength(1);
    expect(done[0].payload.percent_done).toBe(100);
    expect(sessionEvents.at(-1).payload.state).toBe('MAINTENANCE_DONE');
    expect(sessionEvents.map((e) => e.payload.state)).toEqual(expect.arrayContaining(['SCALE_IN', 'PREPARE_MAINTENANCE', 'START_MAINTENANCE', 'PLANNED_MAINTENANCE', 'MAINTENANCE_COMPLETE']));
    expect(sessionEvents.some((e) => e.payload.state === 'MAINTENANCE_FAILED')).toBe(false);
    const percents = sessionEvents.map((e) => e.payload.percent_done as number);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));

    // ---- the session detail ----
    const d = await wholeDetail(svc.url, sid);
    expect(d.session.state).toBe('MAINTENANCE_DONE');
    expect(d.percent_done).toBe(100);
    expect(d.hosts.map((h: { name: string }) => h.name).sort()).toEqual(HOSTS);
    for (const h of d.hosts) expect(h, h.name).toMatchObject({ maintained: true, disabled_by_us: false });
    // Only the doctor project's instances, none moved more than twice (the cloud is full, so an
    // instance may land on a host that is emptied later; never more than that).
    expect(d.instances.length).toBeGreaterThan(0);
    for (const i of d.instances) {
      expect(i.project_id).toBe(PROJECT);
      expect(i.moves, i.instance_id).toBeLessThanOrEqual(2);
      expect(i.operations.filter((o: { status: string }) => o.status === 'done').length, i.instance_id).toBeLessThanOrEqual(2);
      for (const o of i.operations) expect(o).toMatchObject({ action: 'MIGRATE', status: 'done' });
    }
    // Each PREPARE/PLANNED reply listed exactly the instances moved off the host being emptied.
    type Inst = { instance_id: string; operations: { from: string }[] };
    const movedFrom = (host: string): string[] =>
      (d.instances as Inst[]).filter((i) => i.operations.some((o) => o.from === host)).map((i) => i.instance_id).sort();
    const emptied = new Set<string>();
    for (const r of moveReplies) {
      const ids = Object.keys(r.body.instance_actions as Record<string, string>).sort();
      const host = HOSTS.find((h) => !emptied.has(h) && ids.every((id) => movedFrom(h).includes(id)));
      expect(host, `host of ${r.state} ${ids.join(',')}`).toBeDefined();
      emptied.add(host!);
      expect(ids).toEqual(movedFrom(host!));
    }
    // Every instance that is still there from the start moved at least once (every host was emptied).
    const scaledInIds = new Set(
      (d.instances as { instance_id: string; status: string }[]).filter((i) => i.status === 'gone').map((i) => i.instance_id),
    );
    expect(scaledInIds.size).toBe(SCALE_IN);
    for (const id of allIds) {
      if (scaledInIds.has(id)) continue;
      expect(d.instances.find((i: Inst) => i.instance_id === id).operations.length, id).toBeGreaterThanOrEqual(1);
    }

    // ---- the cloud afterwards: every host enabled, the project back at full size ----
    console.log(
      `  notifications: ${states.join(' > ')}; moves per instance: ${(d.instances as { moves: number }[]).map((i) => i.moves).join(',')}; ` +
        `host order: ${flat.filter((t) => t.state === 'IN_MAINTENANCE').map((t) => t.host).join(', ')}`,
    );
    const sim = await api(svc.url, 'GET', '/v1/simulator/hosts');
    expect(sim.status).toBe(200);
    expect(sim.body.hosts.map((h: { name: string }) => h.name).sort()).toEqual(HOSTS);
    for (const h of sim.body.hosts) expect(h.enabled, h.name).toBe(true);
    const inst = await api(svc.url, 'GET', `/v1/simulator/instances?project_id=${PROJECT}`);
    expect(inst.body.instances).toHaveLength(INSTANCES);

    // ---- the Doctor admin deletes the session at the end ----
    const del = await api(svc.url, 'DELETE', `/v1/maintenance/${sid}`);
    expect(del.status).toBe(200);
    await waitFor(async () => (await api(svc.url, 'GET', `/v1/maintenance/${sid}`)).status === 404, 'session gone');
    expect((await api(svc.url, 'GET', '/v1/maintenance')).body.sessions).not.toContain(sid);
    for (const h of (await api(svc.url, 'GET', '/v1/simulator/hosts')).body.hosts) expect(h.enabled, h.name).toBe(true);
  });
});
