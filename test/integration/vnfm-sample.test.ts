// The Doctor sample application manager (src/cli/vnfm.ts) against a fake Fenix API that records
// every request: subscription, replies per state, scale-in / scale-out through the simulator API.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Command } from 'commander';
import { registerVnfmCommand, startSampleVnfm, type SampleVnfm } from '../../src/cli/vnfm.js';

interface Recorded {
  method: string;
  url: string;
  token: string | undefined;
  body: unknown;
}

interface SimInstance {
  id: string;
  name: string;
  project_id: string;
  host: string;
  vcpus: number;
}

class FakeFenix {
  readonly requests: Recorded[] = [];
  instances: SimInstance[] = [];
  /** Instance ids the project URL lists. */
  projectInstanceIds: string[] = [];
  /** Status codes to answer the next reply PUTs with before 200. */
  replyFailures: number[] = [];
  /** Milliseconds before answering a reply PUT. */
  replyLatencyMs = 0;
  /** Free vCPUs for POST /v1/simulator/instances (409 when exceeded). */
  freeVcpus = 100;
  private nextId = 100;
  private server!: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const body = text ? (JSON.parse(text) as unknown) : undefined;
        const header = req.headers['x-auth-token'];
        this.requests.push({ method: req.method!, url: req.url!, token: typeof header === 'string' ? header : undefined, body });
        const send = (status: number, b?: unknown): void => {
          if (b === undefined) {
            res.writeHead(status);
            res.end();
            return;
          }
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(b));
        };
        void this.route(req.method!, req.url!, body, send);
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private async route(method: string, url: string, body: unknown, send: (s: number, b?: unknown) => void): Promise<void> {
    const path = url.split('?')[0]!;
    const b = body as Record<string, unknown> | undefined;
    if (method === 'POST' && path === '/v1/subscriptions') return send(201, { subscription_id: 'sub-1', ...b });
    if (method === 'DELETE' && path === '/v1/subscriptions/sub-1') return send(204);
    if (method === 'GET' && path === '/v1/maintenance/s1/p1') return send(200, { instance_ids: this.projectInstanceIds });
    if (method === 'PUT' && path.startsWith('/v1/maintenance/s1/p1')) {
      if (this.replyLatencyMs) await new Promise((r) => setTimeout(r, this.replyLatencyMs));
      const fail = this.replyFailures.shift();
      if (fail) return send(fail, { error: { code: 'INTERNAL', message: 'try again' } });
      return send(200, {});
    }
    if (method === 'GET' && path === '/v1/simulator/instances') {
      const pid = new URL(url, 'http://x').searchParams.get('project_id');
      return send(200, { instances: this.instances.filter((i) => !pid || i.project_id === pid) });
    }
    if (method === 'POST' && path === '/v1/simulator/instances') {
      const vcpus = Number(b?.vcpus ?? 1);
      if (vcpus > this.freeVcpus) return send(409, { error: { code: 'NO_CAPACITY', message: 'no room' } });
      this.freeVcpus -= vcpus;
      const inst = { id: `i-${this.nextId++}`, name: String(b?.name), project_id: String(b?.project_id), host: 'h1', vcpus };
      this.instances.push(inst);
      return send(201, inst);
    }
    const del = /^\/v1\/simulator\/instances\/([^/]+)$/.exec(path);
    if (method === 'DELETE' && del) {
      const i = this.instances.findIndex((x) => x.id === del[1]);
      if (i < 0) return send(404, { error: { code: 'INSTANCE_NOT_FOUND', message: 'gone' } });
      this.freeVcpus += this.instances[i]!.vcpus;
      this.instances.splice(i, 1);
      return send(204);
    }
    send(404, { error: { code: 'NOT_FOUND', message: `${method} ${path}` } });
  }

  /** Requests other than the subscription calls. */
  calls(method?: string): Recorded[] {
    return this.requests.filter((r) => !r.url.startsWith('/v1/subscriptions') && (!method || r.method === method));
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => {
      this.server.close(() => r());
      this.server.closeAllConnections();
    });
  }
}

let msg = 0;
function aodh(traits: Record<string, string>, messageId = `m-${++msg}`): Record<string, unknown> {
  return {
    alarm_name: 'maintenance',
    alarm_id: 'a1',
    severity: 'low',
    previous: 'alarm',
    current: 'alarm',
    reason: 'event',
    reason_data: {
      type: 'event',
      event: {
        message_id: messageId,
        event_type: 'maintenance.scheduled',
        generated: '2026-01-01T09:00:00',
        traits: Object.entries(traits).map(([k, v]) => [k, k.endsWith('_at') ? 4 : 1, v]),
        raw: {},
        message_signature: 'abc',
      },
    },
  };
}

describe('sample VNFM (Doctor app manager)', () => {
  let api: FakeFenix;
  let vnfm: SampleVnfm;
  const lines: string[] = [];
  let base: Record<string, string>;

  const post = async (body: unknown): Promise<Response> =>
    fetch(vnfm.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  const notify = async (traits: Record<string, string>, messageId?: string): Promise<void> => {
    const res = await post(aodh({ ...base, ...traits }, messageId));
    expect(res.status).toBe(200);
    await vnfm.idle();
  };

  beforeEach(async () => {
    api = new FakeFenix();
    await api.start();
    base = {
      project_id: 'p1',
      session_id: 's1',
      instance_ids: `${api.url}/v1/maintenance/s1/p1`,
      reply_url: `${api.url}/v1/maintenance/s1/p1`,
      allowed_actions: '[]',
      actions_at: '2026-01-01T10:00:00',
      reply_at: '2026-01-01T09:59:00',
      metadata: "{'openstack_version': 'Train'}",
      service: 'fenix',
    };
    lines.length = 0;
    vnfm = await startSampleVnfm({
      projectId: 'p1',
      api: api.url,
      token: 'tok',
      scaleIn: 2,
      retryDelayMs: 10,
      log: (l) => lines.push(l),
    });
  });

  afterEach(async () => {
    await vnfm.close();
    await api.stop();
  });

  it('subscribes on start and unsubscribes on close', async () => {
    expect(vnfm.subscriptionId).toBe('sub-1');
    expect(vnfm.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/maintenance$/);
    expect(api.requests[0]).toEqual({
      method: 'POST',
      url: '/v1/subscriptions',
      token: 'tok',
      body: { project_id: 'p1', url: vnfm.url, event_types: ['maintenance.scheduled'], format: 'aodh' },
    });
    await vnfm.close();
    await vnfm.close(); // idempotent
    expect(api.requests.filter((r) => r.method === 'DELETE')).toEqual([
      { method: 'DELETE', url: '/v1/subscriptions/sub-1', token: 'tok', body: undefined },
    ]);
    await expect(post(aodh({ ...base, state: 'MAINTENANCE' }))).rejects.toThrow();
  });

  it('MAINTENANCE: reads the project URL and ACKs with the instance ids', async () => {
    api.projectInstanceIds = ['i-1', 'i-2'];
    await notify({ state: 'MAINTENANCE' });
    expect(api.calls().map((r) => [r.method, r.url, r.body])).toEqual([
      ['GET', '/v1/maintenance/s1/p1', undefined],
      ['PUT', '/v1/maintenance/s1/p1', { instance_ids: ['i-1', 'i-2'], session_id: 's1', state: 'ACK_MAINTENANCE' }],
    ]);
    expect(api.calls('PUT')[0]!.token).toBe('tok');
    expect(vnfm.replies).toMatchObject([
      { url: `${api.url}/v1/maintenance/s1/p1`, state: 'ACK_MAINTENANCE', status: 200, attempts: 1, ok: true },
    ]);
    expect(vnfm.received).toMatchObject([
      {
        state: 'MAINTENANCE',
        sessionId: 's1',
        projectId: 'p1',
        format: 'aodh',
        allowedActions: [],
        metadata: { openstack_version: 'Train' },
      },
    ]);
  });

  it('SCALE_IN deletes the newest instances, MAINTENANCE_COMPLETE re-creates them', async () => {
    api.instances = [
      { id: 'i-1', name: 'app_2', project_id: 'p1', host: 'h1', vcpus: 1 },
      { id: 'i-2', name: 'app_10', project_id: 'p1', host: 'h1', vcpus: 2 },
      { id: 'i-3', name: 'app_1', project_id: 'p1', host: 'h2', vcpus: 1 },
      { id: 'i-9', name: 'zzz_other', project_id: 'p2', host: 'h2', vcpus: 1 },
    ];
    await notify({ state: 'SCALE_IN' });
    expect(api.calls().map((r) => [r.method, r.url, r.body])).toEqual([
      ['GET', '/v1/simulator/instances?project_id=p1', undefined],
      ['DELETE', '/v1/simulator/instances/i-2', undefined],
      ['DELETE', '/v1/simulator/instances/i-1', undefined],
      ['PUT', '/v1/maintenance/s1/p1', { session_id: 's1', state: 'ACK_SCALE_IN' }],
    ]);
    expect(api.instances.map((i) => i.id)).toEqual(['i-3', 'i-9']);
    expect(vnfm.scaledIn).toEqual([
      { id: 'i-2', name: 'app_10', vcpus: 2 },
      { id: 'i-1', name: 'app_2', vcpus: 1 },
    ]);

    api.requests.length = 0;
    await notify({ state: 'MAINTENANCE_COMPLETE' });
    expect(api.calls().map((r) => [r.method, r.url, r.body])).toEqual([
      ['POST', '/v1/simulator/instances', { name: 'app_10', project_id: 'p1', vcpus: 2 }],
      ['POST', '/v1/simulator/instances', { name: 'app_2', project_id: 'p1', vcpus: 1 }],
      ['PUT', '/v1/maintenance/s1/p1', { session_id: 's1', state: 'ACK_MAINTENANCE_COMPLETE' }],
    ]);
    expect(api.instances.map((i) => i.name).sort()).toEqual(['app_1', 'app_10', 'app_2', 'zzz_other']);
    expect(vnfm.scaledIn).toEqual([]);
  });

  it('MAINTENANCE_COMPLETE still ACKs when there is no room to scale out', async () => {
    api.instances = [{ id: 'i-1', name: 'app_1', project_id: 'p1', host: 'h1', vcpus: 4 }];
    await notify({ state: 'SCALE_IN' });
    api.freeVcpus = 0;
    api.requests.length = 0;
    await notify({ state: 'MAINTENANCE_COMPLETE' });
    expect(api.calls().map((r) => [r.method, r.url, r.body])).toEqual([
      ['POST', '/v1/simulator/instances', { name: 'app_1', project_id: 'p1', vcpus: 4 }],
      ['PUT', '/v1/maintenance/s1/p1', { session_id: 's1', state: 'ACK_MAINTENANCE_COMPLETE' }],
    ]);
    expect(vnfm.scaledIn).toEqual([{ id: 'i-1', name: 'app_1', vcpus: 4 }]);
    expect(lines.some((l) => l.includes('NO_CAPACITY'))).toBe(true);
  });

  it('PREPARE_MAINTENANCE: MIGRATE for every instance the project URL lists', async () => {
    api.projectInstanceIds = ['i-1', 'i-2'];
    await notify({ state: 'PREPARE_MAINTENANCE', allowed_actions: "['MIGRATE', 'LIVE_MIGRATE', 'OWN_ACTION']" });
    expect(api.calls().map((r) => [r.method, r.url, r.body])).toEqual([
      ['GET', '/v1/maintenance/s1/p1', undefined],
      [
        'PUT',
        '/v1/maintenance/s1/p1',
        { instance_actions: { 'i-1': 'MIGRATE', 'i-2': 'MIGRATE' }, session_id: 's1', state: 'ACK_PREPARE_MAINTENANCE' },
      ],
    ]);
  });

  it('PLANNED_MAINTENANCE per instance: uses the listed ids and the per-instance reply_url', async () => {
    await notify({
      state: 'PLANNED_MAINTENANCE',
      allowed_actions: "['MIGRATE', 'LIVE_MIGRATE', 'OWN_ACTION']",
      instance_ids: "['i-7']",
      reply_url: `${api.url}/v1/maintenance/s1/p1/i-7`,
    });
    expect(api.calls().map((r) => [r.method, r.url, r.body])).toEqual([
      [
        'PUT',
        '/v1/maintenance/s1/p1/i-7',
        { instance_actions: { 'i-7': 'MIGRATE' }, session_id: 's1', state: 'ACK_PLANNED_MAINTENANCE' },
      ],
    ]);
    expect(vnfm.received[0]!.instanceIds).toEqual(['i-7']);
  });

  it('answers EVICTION where MIGRATE is not offered (k8s sessions: pods)', async () => {
    await notify({
      state: 'PLANNED_MAINTENANCE',
      allowed_actions: "['EVICTION', 'OWN_ACTION']",
      instance_ids: "['pod-1']",
      reply_url: `${api.url}/v1/maintenance/s1/p1/pod-1`,
    });
    expect(api.calls().map((r) => [r.method, r.url, r.body])).toEqual([
      ['PUT', '/v1/maintenance/s1/p1/pod-1', { instance_actions: { 'pod-1': 'EVICTION' }, session_id: 's1', state: 'ACK_PLANNED_MAINTENANCE' }],
    ]);
  });

  it('NACKs PREPARE_MAINTENANCE / PLANNED_MAINTENANCE without MIGRATE or EVICTION', async () => {
    await notify({ state: 'PREPARE_MAINTENANCE', allowed_actions: "['OWN_ACTION']" });
    await notify({ state: 'PLANNED_MAINTENANCE', allowed_actions: '[]' });
    expect(api.calls().map((r) => [r.method, r.url, r.body])).toEqual([
      ['PUT', '/v1/maintenance/s1/p1', { session_id: 's1', state: 'NACK_PREPARE_MAINTENANCE' }],
      ['PUT', '/v1/maintenance/s1/p1', { session_id: 's1', state: 'NACK_PLANNED_MAINTENANCE' }],
    ]);
  });

  it('INSTANCE_ACTION_DONE is recorded without a reply', async () => {
    await notify({ state: 'INSTANCE_ACTION_DONE', instance_ids: "['i-1']", allowed_actions: "['MIGRATE']" });
    expect(api.calls()).toEqual([]);
    expect(vnfm.replies).toEqual([]);
    expect(vnfm.received).toMatchObject([{ state: 'INSTANCE_ACTION_DONE', instanceIds: ['i-1'], allowedActions: ['MIGRATE'] }]);
  });

  it('drops duplicates by message_id and notifications for other projects', async () => {
    api.projectInstanceIds = ['i-1'];
    await notify({ state: 'MAINTENANCE' }, 'dup-1');
    await notify({ state: 'MAINTENANCE' }, 'dup-1');
    await notify({ state: 'MAINTENANCE', project_id: 'p2' });
    expect(api.calls('PUT')).toHaveLength(1);
    expect(vnfm.received).toHaveLength(1);
  });

  it('retries a reply PUT until it gets 200, and gives up after 5 retries', async () => {
    api.replyFailures = [500, 503];
    await notify({ state: 'SCALE_IN' });
    expect(api.calls('PUT')).toHaveLength(3);
    expect(vnfm.replies).toMatchObject([{ state: 'ACK_SCALE_IN', status: 200, attempts: 3, ok: true }]);

    api.requests.length = 0;
    api.replyFailures = [500, 500, 500, 500, 500, 500, 500];
    await notify({ state: 'MAINTENANCE_COMPLETE' });
    expect(api.calls('PUT')).toHaveLength(6);
    expect(vnfm.replies[1]).toMatchObject({ state: 'ACK_MAINTENANCE_COMPLETE', status: 500, attempts: 6, ok: false });
  });

  it('retries as often as its attempts allow (a service that restarts slowly)', async () => {
    await vnfm.close();
    vnfm = await startSampleVnfm({ projectId: 'p1', api: api.url, token: 'tok', retryDelayMs: 10, attempts: 9, log: (l) => lines.push(l) });
    api.replyFailures = [500, 500, 500, 500, 500, 500, 500];
    await notify({ state: 'SCALE_IN' });
    expect(vnfm.replies).toMatchObject([{ state: 'ACK_SCALE_IN', status: 200, attempts: 8, ok: true }]);
  });

  it('answers the webhook before the reply is sent', async () => {
    api.replyLatencyMs = 300;
    api.projectInstanceIds = ['i-1'];
    const t0 = Date.now();
    const res = await post(aodh({ ...base, state: 'MAINTENANCE' }));
    expect(res.status).toBe(200);
    expect(Date.now() - t0).toBeLessThan(250);
    expect(vnfm.replies).toEqual([]);
    await vi.waitFor(() => expect(vnfm.replies).toHaveLength(1), { timeout: 5000 });
  });

  it('answers 400 to a body it cannot read', async () => {
    const res = await fetch(vnfm.url, { method: 'POST', body: 'not json' });
    expect(res.status).toBe(400);
    const res2 = await post({ hello: 'world' });
    expect(res2.status).toBe(400);
    expect(vnfm.received).toEqual([]);
  });
});

describe('sample VNFM with the JSON format', () => {
  it('subscribes with format json and handles JSON notifications', async () => {
    const api = new FakeFenix();
    await api.start();
    const vnfm = await startSampleVnfm({
      projectId: 'p1',
      api: api.url,
      format: 'json',
      replyDelayMs: 20,
      publicUrl: 'http://vnfm.example:9000/hook',
      log: () => undefined,
    });
    try {
      expect(vnfm.url).toBe('http://vnfm.example:9000/hook');
      expect(api.requests[0]!.body).toMatchObject({ format: 'json', url: 'http://vnfm.example:9000/hook' });
      expect(api.requests[0]!.token).toBeUndefined();
      api.projectInstanceIds = ['i-1', 'i-2'];
      expect(vnfm.localUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/maintenance$/);
      const res = await fetch(vnfm.localUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          event_type: 'maintenance.scheduled',
          message_id: 'j1',
          generated: '2026-01-01T09:00:00Z',
          payload: {
            service: 'fenix',
            project_id: 'p1',
            session_id: 's1',
            state: 'PREPARE_MAINTENANCE',
            instance_ids: `${api.url}/v1/maintenance/s1/p1`,
            allowed_actions: ['MIGRATE', 'LIVE_MIGRATE', 'OWN_ACTION'],
            reply_url: `${api.url}/v1/maintenance/s1/p1`,
            metadata: {},
          },
        }),
      });
      expect(res.status).toBe(200);
      await vnfm.idle();
      expect(api.calls('PUT').map((r) => r.body)).toEqual([
        { instance_actions: { 'i-1': 'MIGRATE', 'i-2': 'MIGRATE' }, session_id: 's1', state: 'ACK_PREPARE_MAINTENANCE' },
      ]);
      expect(vnfm.received[0]!.format).toBe('json');
    } finally {
      await vnfm.close();
      await api.stop();
    }
  });
});

describe('fenix vnfm command', () => {
  it('subscribes with its options and unsubscribes on SIGINT', async () => {
    const api = new FakeFenix();
    await api.start();
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      const program = new Command('fenix').exitOverride();
      registerVnfmCommand(program);
      const done = program.parseAsync([
        'node', 'fenix', 'vnfm', '--project', 'p7', '--api', api.url, '--token', 'T',
        '--format', 'json', '--public-url', 'http://me:1/hook', '--scale-in', '2',
      ]);
      await vi.waitFor(() => expect(api.requests).toHaveLength(1), { timeout: 5000 });
      expect(api.requests[0]).toEqual({
        method: 'POST',
        url: '/v1/subscriptions',
        token: 'T',
        body: { project_id: 'p7', url: 'http://me:1/hook', event_types: ['maintenance.scheduled'], format: 'json' },
      });
      await vi.waitFor(() => expect(process.listenerCount('SIGINT')).toBeGreaterThan(0));
      process.emit('SIGINT');
      await done;
      expect(api.requests[1]).toMatchObject({ method: 'DELETE', url: '/v1/subscriptions/sub-1' });
      expect(write.mock.calls.map((c) => String(c[0])).join('')).toContain('vnfm[p7] listening on 127.0.0.1:');
    } finally {
      write.mockRestore();
      await api.stop();
    }
  });

  it('rejects a bad --format', async () => {
    const program = new Command('fenix').exitOverride().configureOutput({ writeErr: () => undefined });
    registerVnfmCommand(program);
    await expect(program.parseAsync(['node', 'fenix', 'vnfm', '--project', 'p', '--format', 'xml'])).rejects.toThrow(/format/);
  });
});
