// The outbound URL policy through the API: with --auth token forbidden webhook and download targets
// are 400 URL_FORBIDDEN and nothing is stored; --webhook-allow lifts the refusal for its CIDRs;
// --auth none stays open. Credentials in a webhook URL never come back in answers or the logs.
// Only literals and reserved names are used: nothing here asks a real DNS server.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Service } from '../../src/main/service.js';
import { api, startTestService, waitFor } from '../helpers/harness.js';

const ADMIN = 'admin-token-0123456789';
const P1 = 'p1-token-0123456789';

const SCENARIO = {
  hosts: [
    { name: 'c1', type: 'compute', vcpus: 8 },
    { name: 'c2', type: 'compute', vcpus: 8 },
  ],
  instances: [{ id: 'p1-a', name: 'p1-a', project_id: 'p1', host: 'c1', vcpus: 1 }],
  timings: { migrate_s: 0.01, live_migrate_s: 0.01, host_maintenance_s: 0.01 },
};

const FORBIDDEN = [
  'http://169.254.169.254/latest/meta-data/',
  'http://0xa9fea9fe/',
  'http://[::ffff:169.254.169.254]/',
  'http://127.0.0.1:6379/',
  'http://2130706433/',
  'http://0177.0.0.1/',
  'http://[::1]/',
  'http://0.0.0.0/',
  'http://[fe80::1]/',
  'http://224.0.0.1/',
  'http://localhost/',
  'http://foo.localhost/',
  'http://metadata.google.internal/computeMetadata/v1/',
  'http://user:hunter2@127.0.0.1/hook',
];

let dir: string;
let tokens: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'fenix-urlpolicy-'));
  tokens = join(dir, 'tokens.json');
  writeFileSync(tokens, JSON.stringify({ [ADMIN]: { role: 'admin' }, [P1]: { role: 'project', project_id: 'p1' } }));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let svc: Service | undefined;
afterEach(async () => {
  await svc?.stop();
  svc = undefined;
});

const subscribe = (url: string, token?: string) =>
  api(svc!.url, 'POST', '/v1/subscriptions', { project_id: 'p1', url, event_types: ['maintenance.scheduled'] }, token);

describe('--auth token: strict by default', () => {
  it('every forbidden webhook URL → 400 URL_FORBIDDEN, nothing stored, no credentials echoed', async () => {
    svc = await startTestService({ config: { auth: 'token', tokens }, scenario: SCENARIO });
    for (const url of FORBIDDEN) {
      const r = await subscribe(url, P1);
      expect({ url, status: r.status, code: r.body?.error?.code }).toEqual({ url, status: 400, code: 'URL_FORBIDDEN' });
      expect(r.body.error.message).not.toContain('hunter2');
    }
    expect((await api(svc.url, 'GET', '/v1/subscriptions', undefined, ADMIN)).body.subscriptions).toEqual([]);
    // Private ranges are where VNF managers live: allowed.
    expect((await subscribe('http://10.20.30.40:8080/hook', P1)).status).toBe(201);
  });

  it('a session whose download list has a forbidden URL → 400 URL_FORBIDDEN, no session created', async () => {
    svc = await startTestService({ config: { auth: 'token', tokens }, scenario: SCENARIO });
    for (const url of ['http://169.254.169.254/latest/user-data', 'http://[::ffff:127.0.0.1]:8080/patch.tgz', 'http://localhost/patch.tgz']) {
      const r = await api(svc.url, 'POST', '/v1/maintenance', { download: ['http://10.0.0.9/ok.tgz', url] }, ADMIN);
      expect({ url, status: r.status, code: r.body?.error?.code }).toEqual({ url, status: 400, code: 'URL_FORBIDDEN' });
      expect(r.body.error.message).toMatch(/^download URL /);
    }
    const bad = await api(svc.url, 'POST', '/v1/maintenance', { download: ['ftp://10.0.0.9/x'] }, ADMIN);
    expect(bad.body.error.code).toBe('VALIDATION_FAILED');
    expect((await api(svc.url, 'GET', '/v1/maintenance', undefined, ADMIN)).body.sessions).toEqual([]);
  });

  it('--webhook-allow 127.0.0.0/8 lifts the refusal for loopback only; --webhook-deny refuses a private range', async () => {
    svc = await startTestService({ config: { auth: 'token', tokens, webhookAllow: '127.0.0.0/8', webhookDeny: '10.66.0.0/16' }, scenario: SCENARIO });
    expect((await subscribe('http://127.0.0.1:9/hook', P1)).status).toBe(201);
    expect((await subscribe('http://0x7f000001:9/hook', P1)).status).toBe(201);
    expect((await subscribe('http://169.254.169.254/', P1)).body.error.code).toBe('URL_FORBIDDEN');
    expect((await subscribe('http://[::1]:9/hook', P1)).body.error.code).toBe('URL_FORBIDDEN');
    const denied = await subscribe('http://10.66.1.1/hook', P1);
    expect(denied.body.error).toMatchObject({ code: 'URL_FORBIDDEN', message: expect.stringMatching(/--webhook-deny/) });
  });
});

describe('--auth none (loopback development): open', () => {
  it('loopback receivers are accepted; credentials are masked in answers and in the relay log', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'debug' }, new Writable({ write: (chunk, _enc, cb) => (lines.push(String(chunk)), cb()) }));
    svc = await startTestService({ config: { replyWindow: 30 }, scenario: SCENARIO, logger });
    // Port 9 on loopback is closed: the delivery fails and the relay logs it.
    const r = await subscribe('http://alice:hunter2@127.0.0.1:9/hook');
    expect(r.status).toBe(201);
    expect(r.body.url).toBe('http://***:***@127.0.0.1:9/hook');
    expect(JSON.stringify((await api(svc.url, 'GET', '/v1/subscriptions')).body)).not.toContain('hunter2');
    expect((await subscribe('http://localhost:9/hook')).status).toBe(201);

    const sid = (await api(svc.url, 'POST', '/v1/maintenance', {})).body.session_id as string;
    await waitFor(() => lines.some((l) => l.includes('notification delivery failed')), 'a failed delivery logged');
    const failure = JSON.parse(lines.find((l) => l.includes('notification delivery failed') && l.includes(r.body.subscription_id))!);
    expect(failure.url).toBe('http://***:***@127.0.0.1:9/hook');
    expect(lines.join('\n')).not.toContain('hunter2');
    const detail = await api(svc.url, 'GET', `/v1/maintenance/${sid}/detail`);
    expect(JSON.stringify(detail.body)).not.toContain('hunter2');
    await api(svc.url, 'DELETE', `/v1/maintenance/${sid}`);
  });
});
