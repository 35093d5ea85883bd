// Fast-lane unit tests of the OpenStack pieces (no cloud needed): credentials, Keystone session
// against a fake Keystone, move refs, oslo envelope and routing, keystone auth cache, AODH sync.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keystoneAuth } from '../../src/api/keystone-auth.js';
import { loadConfig } from '../../src/config/config.js';
import {
  AodhSubscriptionSync,
  credentialsFromEnv,
  decodeMoveRef,
  encodeMoveRef,
  eventTypeMatches,
  identityV3Url,
  KeystoneSession,
} from '../../src/drivers/openstack/index.js';
import { amqpUrlOf, isOsloSubscription, OsloTransport, osloSubscriptionUrl, RoutingTransport } from '../../src/notifier/oslo-transport.js';
import type { DeliveryResult, Subscription, Transport } from '../../src/ports/transport.js';

const req = (tok?: string) => ({ headers: tok ? { 'x-auth-token': tok } : {} }) as never;

describe('OpenStack credentials and URLs', () => {
  it('reads an openrc from OS_* with flags winning, and says what is missing', () => {
    const env = {
      OS_AUTH_URL: 'http://ks:5000',
      OS_USERNAME: 'admin',
      OS_PASSWORD: 'pw',
      OS_PROJECT_NAME: 'admin',
      OS_USER_DOMAIN_NAME: 'Default',
      OS_REGION_NAME: 'RegionOne',
      OS_INTERFACE: 'internalURL',
    };
    expect(credentialsFromEnv(env, { username: 'fenix' })).toMatchObject({ username: 'fenix', password: 'pw', interface: 'internal', regionName: 'RegionOne' });
    expect(() => credentialsFromEnv({ OS_AUTH_URL: 'http://ks' })).toThrow(/OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME/);
    expect(() => credentialsFromEnv({ ...env, OS_INTERFACE: 'weird' })).toThrow(/OS_INTERFACE/);
    expect(identityV3Url('http://ks:5000/')).toBe('http://ks:5000/v3');
    expect(identityV3Url('http://ks:5000/v3/')).toBe('http://ks:5000/v3');
    expect(identityV3Url('http://ks/identity/v2.0')).toBe('http://ks/identity/v3');
  });

  it('config: --driver openstack, --auth keystone, and --aodh only with --notify-amqp', () => {
    expect(loadConfig({ driver: 'openstack', auth: 'keystone' }, {})).toMatchObject({ driver: 'openstack', auth: 'keystone', osloExchange: 'openstack' });
    expect(() => loadConfig({ aodh: true }, {})).toThrow(/--notify-amqp/);
    expect(loadConfig({}, { FENIX_NOTIFY_AMQP: 'rabbit://guest:guest@127.0.0.1:5672/', FENIX_AODH: '1' })).toMatchObject({ aodh: true });
  });

  it('encodes what getOperation needs in a move ref', () => {
    const r = { kind: 'LIVE_MIGRATE' as const, instanceId: '6f30d63b-0336-42f0-b3a1-8880169a356c', t: 1_700_000_000_000, keyHash: 'abcdef012345', src: 'compute-1.example:x' };
    expect(decodeMoveRef(encodeMoveRef(r))).toEqual(r);
    expect(decodeMoveRef('nova-host:compute1')).toBeNull();
    expect(decodeMoveRef('garbage')).toBeNull();
  });
});

describe('oslo.messaging transport pieces', () => {
  it('turns oslo transport_urls into AMQP URLs', () => {
    expect(amqpUrlOf('rabbit://guest:guest@h1:5672,guest:guest@h2:5672/nova')).toBe('amqp://guest:guest@h1:5672/nova');
    expect(amqpUrlOf('amqp://u:p@h')).toBe('amqp://u:p@h/');
    expect(() => amqpUrlOf('http://x')).toThrow(/AMQP/);
  });

  it('builds the 2.0 envelope with oslo’s _unique_id', () => {
    const body = JSON.parse(
      OsloTransport.body({ messageId: '11111111-2222-3333-4444-555555555555', eventType: 'maintenance.host', generated: Date.UTC(2026, 0, 1), payload: { host: 'h' } }),
    );
    expect(Object.keys(body).sort()).toEqual(['oslo.message', 'oslo.version']);
    expect(body['oslo.version']).toBe('2.0');
    expect(JSON.parse(body['oslo.message'])).toEqual({
      message_id: '11111111-2222-3333-4444-555555555555',
      publisher_id: 'fenix',
      event_type: 'maintenance.host',
      priority: 'INFO',
      payload: { host: 'h' },
      timestamp: '2026-01-01 00:00:00.000000',
      _unique_id: '11111111222233334444555555555555',
    });
  });

  it('routes oslo: subscriptions to the bus and the rest to webhooks', async () => {
    const seen: string[] = [];
    const fake = (name: string): Transport => ({ deliver: async (s) => (seen.push(`${name}:${s.id}`), { ok: true }) as DeliveryResult });
    const sub = (id: string, url: string): Subscription => ({ id, url, projectId: null, eventTypes: [], format: 'json', secret: null, createdAt: 0, delivered: 0 });
    const n = { messageId: 'm', eventType: 'maintenance.host' as const, generated: 0, payload: {} };
    const rt = new RoutingTransport(fake('web'), fake('oslo'));
    await rt.deliver(sub('a', osloSubscriptionUrl()), n, new AbortController().signal);
    await rt.deliver(sub('b', 'http://x/hook'), n, new AbortController().signal);
    expect(seen).toEqual(['oslo:a', 'web:b']);
    expect(isOsloSubscription({ url: 'oslo://openstack/notifications.info' })).toBe(true);
    const none = await new RoutingTransport(fake('web'), null).deliver(sub('c', osloSubscriptionUrl()), n, new AbortController().signal);
    expect(none).toMatchObject({ ok: false, error: expect.stringMatching(/--notify-amqp/) });
  });
});

describe('keystone auth', () => {
  it('maps roles to principals, caches answers, and refuses bad or unscoped tokens', async () => {
    let now = 1_000_000;
    const calls: string[] = [];
    const tokens: Record<string, { projectId: string | null; roles: string[]; expiresAt: number } | null> = {
      adm: { projectId: 'p-admin', roles: ['reader', 'Admin'], expiresAt: now + 3_600_000 },
      mem: { projectId: 'p1', roles: ['member'], expiresAt: now + 10_000 },
      uns: { projectId: null, roles: [], expiresAt: now + 3_600_000 },
      bad: null,
    };
    const auth = keystoneAuth({ validate: async (t) => (calls.push(t), tokens[t] ?? null), now: () => now, cacheMs: 30_000 });
    expect(await auth(req('adm'))).toEqual({ role: 'admin' });
    expect(await auth(req('mem'))).toEqual({ role: 'project', projectId: 'p1' });
    await expect(auth(req('uns'))).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(auth(req('bad'))).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(auth(req())).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(await auth(req('adm'))).toEqual({ role: 'admin' });
    expect(calls.filter((c) => c === 'adm')).toHaveLength(1);
    now += 11_000; // past mem's expiry, within the cache window: asked again
    tokens.mem = null;
    await expect(auth(req('mem'))).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    const down = keystoneAuth({ validate: async () => Promise.reject(new Error('ECONNREFUSED')) });
    await expect(down(req('x'))).rejects.toMatchObject({ code: 'INFRASTRUCTURE_UNAVAILABLE' });
  });
});

// A fake Keystone (+ AODH) good enough for the session logic.
describe('KeystoneSession and AODH sync against a fake Keystone', () => {
  let server: Server;
  let base: string;
  let issued = 0;
  let lifetimeMs = 3_600_000;
  let alarms: unknown[] = [];
  const valid = new Set<string>();
  beforeAll(async () => {
    server = createServer((rq, rs) => {
      let body = '';
      rq.on('data', (c) => (body += c));
      rq.on('end', () => {
        const json = (status: number, v: unknown, h: Record<string, string> = {}) => {
          rs.writeHead(status, { 'content-type': 'application/json', ...h });
          rs.end(JSON.stringify(v));
        };
        const url = rq.url ?? '';
        if (rq.method === 'POST' && url === '/v3/auth/tokens') {
          const tok = `tok-${++issued}`;
          valid.add(tok);
          const catalog = [
            { type: 'compute', endpoints: [
              { interface: 'public', region_id: 'R1', url: `${base}/compute-r1/` },
              { interface: 'internal', region_id: 'R2', url: `${base}/compute-r2-int` },
            ] },
            { type: 'alarming', endpoints: [{ interface: 'public', region_id: 'R1', url: `${base}/aodh` }] },
          ];
          return json(201, { token: { expires_at: new Date(Date.now() + lifetimeMs).toISOString(), user: { id: 'u' }, project: { id: 'svc' }, roles: [{ id: '1', name: 'admin' }], catalog } }, { 'x-subject-token': tok });
        }
        if (!valid.has(String(rq.headers['x-auth-token']))) return json(401, { error: { code: 401, message: 'The request you have made requires authentication.' } });
        if (rq.method === 'GET' && url.startsWith('/v3/auth/tokens')) {
          const subj = String(rq.headers['x-subject-token']);
          if (subj !== 'user-tok') return json(404, { error: { code: 404, message: 'Could not find token' } });
          return json(200, { token: { expires_at: new Date(Date.now() + 60_000).toISOString(), user: { id: 'x' }, project: { id: 'p9' }, roles: [{ id: '2', name: 'member' }] } });
        }
        if (url.startsWith('/aodh/v2/alarms')) return json(200, alarms);
        if (url.startsWith('/compute-r1/ping')) return json(200, { ok: true });
        json(404, { itemNotFound: { code: 404, message: 'nope' } });
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const creds = (o: object = {}) => ({ authUrl: base, username: 'fenix', password: 'pw', projectName: 'service', regionName: 'R1', ...o });

  it('caches the token, renews it before expiry, retries once on 401, and picks endpoints by interface and region', async () => {
    issued = 0;
    let now = Date.now();
    const ks = new KeystoneSession(creds(), { now: () => now, renewBeforeMs: 300_000 });
    const [a, b] = await Promise.all([ks.token(), ks.token()]);
    expect(a).toBe(b);
    expect(ks.authCount).toBe(1);
    expect(await ks.endpoint('compute')).toBe(`${base}/compute-r1`);
    await expect(ks.endpoint('image')).rejects.toThrow(/no public endpoint of service type image/);
    const internal = new KeystoneSession(creds({ regionName: 'R2', interface: 'internal' }));
    expect(await internal.endpoint('compute')).toBe(`${base}/compute-r2-int`);
    now += 3_600_000 - 299_000; // inside the renewal margin
    expect(await ks.token()).not.toBe(a);
    valid.clear(); // Keystone forgot every token: the next request gets 401, renews, succeeds
    expect((await ks.request<{ ok: boolean }>('compute', '/ping')).body).toEqual({ ok: true });
    expect(await ks.validateToken('user-tok')).toMatchObject({ projectId: 'p9', roles: ['member'] });
    expect(await ks.validateToken('nope')).toBeNull();
    lifetimeMs = 3_600_000;
  });

  it('AODH mode: one oslo-bus subscription per project with an event alarm on maintenance.scheduled', async () => {
    const subs = new Map<string, Subscription>();
    const store = {
      listSubscriptions: async () => [...subs.values()],
      createSubscription: async (s: Subscription) => void subs.set(s.id, s),
      deleteSubscription: async (id: string) => subs.delete(id),
    };
    subs.set('web-1', { id: 'web-1', projectId: 'p1', url: 'http://x', eventTypes: ['maintenance.scheduled'], format: 'aodh', secret: null, createdAt: 0, delivered: 0 });
    const sync = new AodhSubscriptionSync({ keystone: new KeystoneSession(creds()), store, subscriptionUrl: osloSubscriptionUrl(), now: () => 5 });
    alarms = [
      { alarm_id: 'a1', project_id: 'p1', type: 'event', event_rule: { event_type: 'maintenance.scheduled' } },
      { alarm_id: 'a2', project_id: 'p2', type: 'event', event_rule: { event_type: 'maintenance.*' } },
      { alarm_id: 'a3', project_id: 'p3', type: 'event', enabled: false, event_rule: { event_type: 'maintenance.scheduled' } },
      { alarm_id: 'a4', project_id: 'p4', type: 'threshold' },
      { alarm_id: 'a5', project_id: 'p5', type: 'event', event_rule: { event_type: 'compute.instance.*' } },
    ];
    expect(await sync.syncOnce()).toEqual({ added: ['p1', 'p2'], removed: [] });
    expect(subs.get('aodh:p2')).toMatchObject({ projectId: 'p2', url: 'oslo://openstack/notifications.info', eventTypes: ['maintenance.scheduled'] });
    expect(await sync.syncOnce()).toEqual({ added: [], removed: [] });
    alarms = alarms.slice(1);
    expect(await sync.syncOnce()).toEqual({ added: [], removed: ['p1'] });
    expect([...subs.keys()].sort()).toEqual(['aodh:p2', 'web-1']);
    expect(eventTypeMatches('maintenance.*', 'maintenance.scheduled')).toBe(true);
    expect(eventTypeMatches('maintenance.host', 'maintenance.scheduled')).toBe(false);
  });
});
