// The outbound URL policy (SSRF guard): every forbidden address form is refused at registration and
// at delivery; delivery checks the address actually connected to (a resolver stub plays DNS
// rebinding). No traffic leaves loopback: names resolve only through stubs, the receiver is on 127.0.0.1.
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock/manual.js';
import { loadConfig } from '../../src/config/config.js';
import { FenixError } from '../../src/domain/errors.js';
import type { OutboxRow } from '../../src/domain/model.js';
import { httpDownloader } from '../../src/main/download.js';
import { urlPolicyOf } from '../../src/main/service.js';
import { Relay, type RelayStore } from '../../src/notifier/relay.js';
import { parseCidr, parseCidrList, redactText, redactUrl, UrlPolicy, type ResolvedAddress, type Resolver } from '../../src/notifier/url-policy.js';
import { WebhookTransport } from '../../src/notifier/webhook.js';
import type { Notification, Subscription } from '../../src/ports/transport.js';

const v4 = (address: string): ResolvedAddress => ({ address, family: 4 });
const v6 = (address: string): ResolvedAddress => ({ address, family: 6 });

/** A resolver over a fixed table; unknown names fail like DNS does. Never the real DNS. */
function stubResolver(table: Record<string, ResolvedAddress[] | (() => ResolvedAddress[])>): Resolver & { calls: string[] } {
  const calls: string[] = [];
  const fn = async (host: string) => {
    calls.push(host);
    const e = table[host];
    if (!e) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return typeof e === 'function' ? e() : e;
  };
  return Object.assign(fn, { calls });
}

const NAMES = {
  'meta.evil.test': [v4('169.254.169.254')],
  'loop.evil.test': [v4('10.0.0.8'), v4('127.0.0.1')], // one bad address among good ones
  'mapped.evil.test': [v6('::ffff:169.254.169.254')],
  'v6loop.evil.test': [v6('::1')],
  'zone.evil.test': [v6('fe80::1%eth0')],
  'vnfm.internal.test': [v4('10.1.2.3')],
  'vnfm6.internal.test': [v6('fd12:3456::10')],
};

const strict = (over: ConstructorParameters<typeof UrlPolicy>[0] = {}) => new UrlPolicy({ resolve: stubResolver(NAMES), ...over });

async function refusal(policy: UrlPolicy, url: string): Promise<FenixError | null> {
  try {
    await policy.checkRegistration(url);
    return null;
  } catch (e) {
    if (!(e instanceof FenixError)) throw e;
    return e;
  }
}

describe('registration: every forbidden form is refused (strict)', () => {
  const FORBIDDEN: [url: string, reason: RegExp][] = [
    ['http://127.0.0.1/', /loopback/],
    ['http://127.1/', /loopback/],
    ['http://2130706433/', /loopback/], // decimal
    ['http://0x7f000001/', /loopback/], // hex
    ['http://0177.0.0.1/', /loopback/], // octal
    ['http://127.255.255.254:6379/', /loopback/],
    ['http://169.254.169.254/latest/meta-data/', /link-local/],
    ['http://0xa9fea9fe/', /link-local/],
    ['http://0251.0376.0251.0376/', /link-local/],
    ['http://[::1]/', /loopback/],
    ['http://[::]/', /unspecified/],
    ['http://0.0.0.0/', /unspecified/],
    ['http://0/', /unspecified/],
    ['http://[::ffff:127.0.0.1]/', /loopback/],
    ['http://[::ffff:169.254.169.254]/', /link-local/],
    ['http://[::ffff:a9fe:a9fe]/', /link-local/],
    ['http://[0:0:0:0:0:ffff:7f00:1]/', /loopback/],
    ['http://[64:ff9b::169.254.169.254]/', /link-local/], // NAT64
    ['http://[::127.0.0.1]/', /loopback/], // deprecated IPv4-compatible
    ['http://[fe80::1]/', /link-local/],
    ['http://[FE80::abcd:1]/', /link-local/],
    ['http://224.0.0.1/', /multicast/],
    ['http://239.255.255.250:1900/', /multicast/],
    ['http://[ff02::1]/', /multicast/],
    ['http://255.255.255.255/', /broadcast/],
    ['http://[fd00:ec2::254]/', /metadata/],
    ['http://100.100.100.200/', /metadata/],
    ['http://localhost:8080/', /loopback/],
    ['http://LOCALHOST./', /loopback/],
    ['http://foo.localhost/', /loopback/],
    ['http://metadata.google.internal/computeMetadata/v1/', /link-local/],
    ['http://metadata/', /link-local/],
    ['http://meta.evil.test/', /resolves to 169\.254\.169\.254, a link-local/],
    ['http://loop.evil.test/', /resolves to 127\.0\.0\.1, a loopback/],
    ['http://mapped.evil.test/', /link-local/],
    ['http://v6loop.evil.test/', /loopback/],
    ['http://zone.evil.test/', /link-local/],
    ['https://169.254.169.254/', /link-local/],
  ];
  for (const [url, reason] of FORBIDDEN)
    it(`${url} → URL_FORBIDDEN`, async () => {
      const e = await refusal(strict(), url);
      expect(e?.code).toBe('URL_FORBIDDEN');
      expect(e?.status).toBe(400);
      expect(e?.message).toMatch(reason);
    });

  const ALLOWED = [
    'http://10.0.0.5:8080/hook',
    'http://192.168.1.10/hook',
    'http://172.16.0.1/hook',
    'http://172.31.255.255/hook',
    'http://203.0.113.5/hook',
    'https://[2001:db8::5]/hook',
    'http://[fd12::1]/hook',
    'http://100.64.0.1/hook',
    'http://vnfm.internal.test:9000/hook',
    'http://vnfm6.internal.test/hook',
    'http://not-up-yet.test/hook', // does not resolve now: allowed, delivery checks it
    'http://localhost.example.org/hook', // only *.localhost is special
  ];
  const resolve = stubResolver({ ...NAMES, 'localhost.example.org': [v4('10.9.9.9')] });
  for (const url of ALLOWED) it(`${url} → allowed`, async () => expect(await refusal(new UrlPolicy({ resolve }), url)).toBeNull());

  it('a resolver that hangs does not hold registration: allowed after the timeout', async () => {
    const policy = new UrlPolicy({ resolve: () => new Promise(() => {}), resolveTimeoutMs: 30 });
    expect(await refusal(policy, 'http://slow.test/')).toBeNull();
  });

  it('not an http(s) URL → VALIDATION_FAILED; messages never carry credentials', async () => {
    expect((await refusal(strict(), 'ftp://10.0.0.1/x'))?.code).toBe('VALIDATION_FAILED');
    const bad = await refusal(strict(), 'http://user:hunter2@[::1');
    expect(bad?.code).toBe('VALIDATION_FAILED');
    expect(bad?.message).not.toContain('hunter2');
    for (const url of ['http://user:hunter2@127.0.0.1/x', 'http://user:hunter2@meta.evil.test/x', 'http://user:hunter2@localhost/x']) {
      const e = await refusal(strict(), url);
      expect(e?.code).toBe('URL_FORBIDDEN');
      expect(e?.message).not.toContain('hunter2');
      expect(e?.message).toContain('***');
    }
  });
});

describe('allow and deny lists, open mode', () => {
  it('--webhook-allow lifts the built-in refusal for the covered addresses only', async () => {
    const p = strict({ allow: ['127.0.0.0/8', '169.254.169.254/32'] });
    for (const url of ['http://127.0.0.1:9/', 'http://127.1/', 'http://[::ffff:127.0.0.1]/', 'http://169.254.169.254/', 'http://meta.evil.test/'])
      expect(await refusal(p, url), url).toBeNull();
    for (const url of ['http://[::1]/', 'http://169.254.0.1/', 'http://localhost/' /* ::1 too */, 'http://v6loop.evil.test/'])
      expect((await refusal(p, url))?.code, url).toBe('URL_FORBIDDEN');
  });

  it('--webhook-deny refuses more, beats --webhook-allow, and applies in open mode too', async () => {
    const p = strict({ allow: ['10.0.0.0/8'], deny: ['10.1.0.0/16', '2001:db8::/32'] });
    expect(await refusal(p, 'http://10.2.0.1/')).toBeNull();
    expect((await refusal(p, 'http://10.1.0.1/'))?.message).toMatch(/--webhook-deny/);
    expect((await refusal(p, 'http://vnfm.internal.test/'))?.message).toMatch(/10\.1\.2\.3, in --webhook-deny/);
    expect((await refusal(p, 'http://[::ffff:10.1.0.1]/'))?.code).toBe('URL_FORBIDDEN');
    expect((await refusal(p, 'http://[2001:db8::1]/'))?.code).toBe('URL_FORBIDDEN');
    const open = strict({ mode: 'open', deny: ['10.1.0.0/16'] });
    expect((await refusal(open, 'http://10.1.0.1/'))?.code).toBe('URL_FORBIDDEN');
    expect(await refusal(open, 'http://127.0.0.1/')).toBeNull();
  });

  it('open mode (--auth none) allows every form and resolves nothing', async () => {
    const resolve = stubResolver(NAMES);
    const open = new UrlPolicy({ mode: 'open', resolve });
    for (const url of ['http://127.0.0.1/', 'http://0xa9fea9fe/', 'http://[::1]/', 'http://localhost/', 'http://metadata.google.internal/', 'http://meta.evil.test/'])
      expect(await refusal(open, url), url).toBeNull();
    expect(resolve.calls).toEqual([]);
  });

  it('CIDR parsing: bad entries are errors; the config refuses them at start', () => {
    expect(parseCidr('10.0.0.0/8')).toEqual({ address: '10.0.0.0', prefix: 8, type: 'ipv4' });
    expect(parseCidr('fd00::/8')).toEqual({ address: 'fd00::', prefix: 8, type: 'ipv6' });
    expect(parseCidr('127.0.0.1').prefix).toBe(32);
    for (const bad of ['abc', '10.0.0.0/33', '10.0.0.0/8/1', '::/129', '10.0.0.0/-1', '10.0.0/8', '10.0.0.0/', 'localhost/8'])
      expect(() => parseCidr(bad), bad).toThrow(/not a CIDR/);
    expect(parseCidrList(' 10.0.0.0/8, ::1 ,')).toEqual(['10.0.0.0/8', '::1']);
    expect(parseCidrList(null)).toEqual([]);
    expect(loadConfig({ webhookAllow: '127.0.0.0/8, fd00::/8' }, {}).webhookAllow).toBe('127.0.0.0/8,fd00::/8');
    expect(() => loadConfig({ webhookDeny: '10.0.0.0/99' }, {})).toThrow(/--webhook-deny.*not a CIDR/);
    expect(() => loadConfig({}, { FENIX_WEBHOOK_ALLOW: 'nope' })).toThrow(/--webhook-allow/);
  });

  it('the service is strict unless --auth none without either flag', () => {
    expect(urlPolicyOf({ auth: 'none', webhookAllow: null, webhookDeny: null }).mode).toBe('open');
    expect(urlPolicyOf({ auth: 'none', webhookAllow: '10.0.0.0/8', webhookDeny: null }).mode).toBe('strict');
    expect(urlPolicyOf({ auth: 'token', webhookAllow: null, webhookDeny: null }).mode).toBe('strict');
    expect(urlPolicyOf({ auth: 'keystone', webhookAllow: null, webhookDeny: null }).mode).toBe('strict');
  });
});

describe('redaction', () => {
  it('redactUrl masks user and password, leaves everything else as given', () => {
    expect(redactUrl('http://user:pass@h.example:8080/x?y=1#z')).toBe('http://***:***@h.example:8080/x?y=1#z');
    expect(redactUrl('https://token@h.example/')).toBe('https://***@h.example/');
    expect(redactUrl('http://10.0.0.1:9/hook')).toBe('http://10.0.0.1:9/hook');
    expect(redactUrl('oslo://openstack/notifications.info')).toBe('oslo://openstack/notifications.info');
    expect(redactUrl('http://u:p@ss@[bad')).not.toMatch(/p@ss|\bu:/);
  });
  it('redactText scrubs userinfo anywhere in a message', () => {
    expect(redactText('POST http://user:hunter2@10.0.0.1/x failed; retry amqp://guest:guest@mq:5672/')).toBe(
      'POST http://***@10.0.0.1/x failed; retry amqp://***@mq:5672/',
    );
    expect(redactText('connect ECONNREFUSED 10.0.0.1:80')).toBe('connect ECONNREFUSED 10.0.0.1:80');
  });
});

// --- delivery: the check on the address actually connected to ------------------------------------

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/** A receiver on 127.0.0.1 that records every request it gets. */
async function receiver(): Promise<{ port: number; hits: string[] }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  servers.push(server);
  return { port: (server.address() as AddressInfo).port, hits };
}

const sub = (url: string): Subscription => ({
  id: 'sub-1',
  projectId: 'p1',
  url,
  eventTypes: ['maintenance.scheduled'],
  format: 'json',
  secret: null,
  createdAt: 0,
  delivered: 0,
});
const note: Notification = { messageId: 'm-1', eventType: 'maintenance.scheduled', generated: 0, payload: { project_id: 'p1', state: 'MAINTENANCE' } };

describe('delivery-time enforcement (DNS rebinding)', () => {
  it('a name fine at registration that now resolves to loopback: refused, no connection made', async () => {
    const rx = await receiver();
    let answer = [v4('10.0.0.7')];
    const resolve = stubResolver({ 'hooks.rebind.test': () => answer });
    const policy = new UrlPolicy({ resolve });
    const url = `http://hooks.rebind.test:${rx.port}/hook`;
    await policy.checkRegistration(url); // 10.0.0.7 then: fine
    answer = [v4('127.0.0.1')]; // rebound
    const dispatcher = policy.dispatcher();
    try {
      const res = await new WebhookTransport({ dispatcher, timeoutMs: 5000 }).deliver(sub(url), note, new AbortController().signal);
      expect(res.ok).toBe(false);
      expect(res.error).toMatch(/hooks\.rebind\.test resolves to 127\.0\.0\.1, a loopback address: refused by the URL policy/);
      expect(rx.hits).toEqual([]);
      expect(resolve.calls).toEqual(['hooks.rebind.test', 'hooks.rebind.test']);
    } finally {
      await dispatcher.close();
    }
  });

  it('the same delivery goes through when --webhook-allow covers 127.0.0.0/8 explicitly', async () => {
    const rx = await receiver();
    const policy = new UrlPolicy({ allow: ['127.0.0.0/8'], resolve: stubResolver({ 'hooks.rebind.test': [v4('127.0.0.1')] }) });
    const dispatcher = policy.dispatcher();
    try {
      const res = await new WebhookTransport({ dispatcher, timeoutMs: 5000 }).deliver(sub(`http://hooks.rebind.test:${rx.port}/hook`), note, new AbortController().signal);
      expect(res).toMatchObject({ ok: true, status: 200 });
      expect(rx.hits).toEqual(['POST /hook']);
    } finally {
      await dispatcher.close();
    }
  });

  it('IP literals and reserved names are refused before the request (no lookup happens for them)', async () => {
    const rx = await receiver();
    const resolve = stubResolver({});
    const dispatcher = new UrlPolicy({ resolve }).dispatcher();
    const t = new WebhookTransport({ dispatcher, timeoutMs: 5000 });
    try {
      for (const host of ['127.0.0.1', '2130706433', '[::ffff:127.0.0.1]', '[::ffff:7f00:1]', 'localhost', 'user:hunter2@127.0.0.1']) {
        const res = await t.deliver(sub(`http://${host}:${rx.port}/hook`), note, new AbortController().signal);
        expect(res.ok, host).toBe(false);
        expect(res.error, host).toMatch(/URL_FORBIDDEN|refused: .*loopback/);
        expect(res.error).not.toContain('hunter2');
      }
      expect(rx.hits).toEqual([]);
      expect(resolve.calls).toEqual([]);
    } finally {
      await dispatcher.close();
    }
  });

  it('the lookup answers in the shape net asks for and filters by family', async () => {
    const policy = new UrlPolicy({ resolve: stubResolver({ 'dual.test': [v6('fd00::5'), v4('10.0.0.5')] }) });
    const ask = (opts: object) =>
      new Promise<unknown[]>((resolve) => policy.lookup('dual.test', opts, (err, address, family) => resolve([err?.message ?? null, address, family])));
    expect(await ask({ all: true })).toEqual([null, [v6('fd00::5'), v4('10.0.0.5')], undefined]);
    expect(await ask({ family: 4 })).toEqual([null, '10.0.0.5', 4]);
    expect(await ask({})).toEqual([null, 'fd00::5', 6]);
    expect((await ask({ all: true, family: 4 }))[1]).toEqual([v4('10.0.0.5')]);
    const missing = await new Promise<NodeJS.ErrnoException | null>((r) => policy.lookup('nope.test', { all: true }, (err) => r(err)));
    expect(missing?.code).toBe('ENOTFOUND');
  });

  it('downloads go through the same policy: a rebound name fails the download, nothing fetched', async () => {
    const rx = await receiver();
    const root = mkdtempSync(join(tmpdir(), 'fenix-dl-'));
    const dispatcher = new UrlPolicy({ resolve: stubResolver({ 'files.rebind.test': [v4('127.0.0.1')] }) }).dispatcher();
    try {
      const download = httpDownloader(root, { dispatcher });
      await expect(download(`http://user:hunter2@files.rebind.test:${rx.port}/patch.tgz`, 's1', new AbortController().signal)).rejects.toThrow(
        /^download http:\/\/\*\*\*:\*\*\*@files\.rebind\.test:\d+\/patch\.tgz failed: .*loopback/,
      );
      await expect(download(`http://127.0.0.1:${rx.port}/patch.tgz`, 's1', new AbortController().signal)).rejects.toThrow(/loopback/);
      expect(rx.hits).toEqual([]);
    } finally {
      await dispatcher.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('the relay never logs or stores credentials', () => {
  it('a failed delivery: url masked in the log, error scrubbed in the log and the outbox row', async () => {
    const row: OutboxRow = {
      id: 1,
      messageId: 'm1',
      sessionId: 's1',
      subscriptionId: 'sub-1',
      eventType: 'maintenance.scheduled',
      payload: {},
      status: 'pending',
      attempts: 0,
      nextAttemptAt: 0,
      lastError: null,
      lastStatus: null,
      createdAt: 0,
      deliveredAt: null,
    };
    const failed: string[] = [];
    const store: RelayStore = {
      dueDeliveries: async () => (row.status === 'pending' && !failed.length ? [row] : []),
      markDelivered: async () => {},
      markFailed: async (_id, _now, error) => void failed.push(error),
      nextDeliveryAt: async () => null,
      getSubscription: async () => sub('http://user:hunter2@10.0.0.1/hook'),
    };
    const logged: object[] = [];
    const log = { info: () => {}, debug: () => {}, error: () => {}, warn: (o: object) => void logged.push(o) };
    const transport = { deliver: async () => ({ ok: false, error: 'request to http://user:hunter2@10.0.0.1/hook failed' }) };
    await new Relay({ store, transport, clock: new ManualClock(0), log }).runOnce();
    expect(failed).toEqual(['request to http://***@10.0.0.1/hook failed']);
    expect(JSON.stringify(logged)).not.toContain('hunter2');
    expect(logged[0]).toMatchObject({ url: 'http://***:***@10.0.0.1/hook' });
  });
});
