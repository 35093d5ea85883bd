// A session's `download` list is fetched into its work directory before the `pre` plug-ins run; a
// download that fails fails the session with the cause (and hosts stay as found).
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Service } from '../../src/main/service.js';
import { api, startTestService, waitForSession } from '../helpers/harness.js';

const scenario = {
  hosts: [0, 1].map((i) => ({ name: `c${i}`, type: 'compute', vcpus: 4 })),
  instances: [{ id: 'i-a', name: 'a', project_id: 'p1', host: 'c0', vcpus: 1 }],
  timings: { migrate_s: 0.05, live_migrate_s: 0.05, host_maintenance_s: 0.05 },
};

describe('session download', () => {
  let svc: Service | undefined;
  const closers: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of closers.splice(0)) await c();
    await svc?.stop();
  });

  it('fetches each URL into the session work directory before pre plug-ins; a 404 fails the session', async () => {
    const files = createServer((req, res) => (req.url === '/patch.tgz' ? res.end('PATCH-BYTES') : res.writeHead(404).end()));
    await new Promise<void>((r) => files.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise((r) => files.close(r)));
    const base = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
    const workDir = mkdtempSync(join(tmpdir(), 'fenix-work-'));
    svc = await startTestService({ scenario, config: { workDir } });

    const ok = (await api(svc.url, 'POST', '/v1/maintenance', { download: [`${base}/patch.tgz`], actions: [{ plugin: 'dummy', type: 'pre' }] })).body.session_id;
    const done = await waitForSession(svc.url, ok, (s) => s.state === 'MAINTENANCE_DONE' || s.state === 'MAINTENANCE_FAILED');
    expect(done.state, String(done.reason)).toBe('MAINTENANCE_DONE');
    expect(readFileSync(join(workDir, ok, 'patch.tgz'), 'utf8')).toBe('PATCH-BYTES');
    const ops = (await api(svc.url, 'GET', `/v1/maintenance/${ok}/detail`)).body.operations as { kind: string; created_at: string }[];
    const dl = ops.findIndex((o) => o.kind === 'download');
    const pre = ops.findIndex((o) => o.kind === 'plugin');
    expect(dl).toBeGreaterThanOrEqual(0);
    expect(dl).toBeLessThan(pre);
    await api(svc.url, 'DELETE', `/v1/maintenance/${ok}`);

    const bad = (await api(svc.url, 'POST', '/v1/maintenance', { download: [`${base}/missing.tgz`] })).body.session_id;
    const failed = await waitForSession(svc.url, bad, (s) => s.state === 'MAINTENANCE_FAILED' || s.state === 'MAINTENANCE_DONE');
    expect(failed.state).toBe('MAINTENANCE_FAILED');
    expect(failed.reason).toMatch(/missing\.tgz failed: HTTP 404/);
    expect(existsSync(join(workDir, bad, 'missing.tgz'))).toBe(false);
    expect((await api(svc.url, 'GET', '/v1/simulator/hosts')).body.hosts.every((h: { enabled: boolean }) => h.enabled)).toBe(true);
  });
});
