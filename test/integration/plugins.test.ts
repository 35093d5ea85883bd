// Issue 12: the built-in plug-ins for real (a script, a playbook through Debian's ansible with
// ansible_connection=local, HTTP jobs answered by callback and by polling, a command over ssh to a
// loopback sshd), verify actions and the error budget, timeouts, abort, --plugins-dir, windows.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { demoScenario } from '../../src/drivers/simulated/index.js';
import type { Service } from '../../src/main/service.js';
import { startService } from '../../src/main/service.js';
import { DEFAULT_CONFIG } from '../../src/config/config.js';
import { api, quietLogger, startTestService, waitFor, waitForSession } from '../helpers/harness.js';
import { wholeDetail } from '../helpers/detail.js';
import { startSshd, type TestSshd } from '../helpers/sshd.js';
import { freePort, startFenix, type FenixProcess } from '../helpers/process.js';

const fast = { migrate_s: 0.05, live_migrate_s: 0.05, host_maintenance_s: 0.05 };
/** The demo cloud (a controller, four computes, two projects), with quick moves. */
const demo = () => ({ ...demoScenario(), timings: fast });
const small = {
  hosts: [0, 1, 2].map((i) => ({ name: `c${i}`, type: 'compute', vcpus: 4 })),
  instances: [
    { id: 'i-a', name: 'a', project_id: 'p1', host: 'c0', vcpus: 1 },
    { id: 'i-b', name: 'b', project_id: 'p1', host: 'c1', vcpus: 1 },
  ],
  timings: fast,
};

const done = (s: { state: string }) => s.state === 'MAINTENANCE_DONE' || s.state === 'MAINTENANCE_FAILED';

function script(dir: string, name: string, body: string): string {
  const f = join(dir, name);
  writeFileSync(f, `#!/bin/sh\n${body}\n`);
  chmodSync(f, 0o755);
  return f;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** An external job system: POST starts a job; it calls back, or is polled at the URL it answers. */
async function startJobServer() {
  const jobs: { id: number; path: string; body: any; polls: number; callback?: number }[] = [];
  const readBody = (req: IncomingMessage) =>
    new Promise<string>((resolve) => {
      let d = '';
      req.on('data', (c) => (d += c));
      req.on('end', () => resolve(d));
    });
  const server: Server = createServer(async (req, res) => {
    const text = await readBody(req);
    const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
      res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
    if (req.method === 'POST' && req.url === '/callback-job') {
      const job = { id: jobs.length + 1, path: req.url, body: JSON.parse(text), polls: 0, headers: req.headers };
      jobs.push(job);
      json(202, { id: job.id, status: 'pending' });
      // The job runs a moment, then reports to the URL it was given (as an AWX notification would).
      setTimeout(async () => {
        const r = await fetch(job.body.callback_url, {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ state: job.body.host === 'fail-me' ? 'FAILED' : 'DONE', output: `job ${job.id} upgraded ${job.body.host}` }),
        });
        (job as { callback?: number }).callback = r.status;
      }, 50);
      return;
    }
    if (req.method === 'POST' && req.url === '/poll-job') {
      const job = { id: jobs.length + 1, path: req.url, body: JSON.parse(text), polls: 0 };
      jobs.push(job);
      return json(201, { id: job.id, url: `/jobs/${job.id}/`, status: 'pending' });
    }
    const m = /^\/jobs\/(\d+)\/$/.exec(req.url ?? '');
    if (req.method === 'GET' && m) {
      const job = jobs[Number(m[1]) - 1]!;
      job.polls++;
      return json(200, { id: job.id, status: job.polls < 2 ? 'running' : 'successful', host: job.body.host });
    }
    json(404, {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    jobs,
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}

describe('action plug-ins, for real', () => {
  let svc: Service | undefined;
  let sshd: TestSshd;
  const closers: (() => Promise<unknown>)[] = [];
  beforeAll(async () => {
    sshd = await startSshd();
  });
  afterAll(async () => {
    await sshd?.close();
  });
  afterEach(async () => {
    for (const c of closers.splice(0)) await c().catch(() => {});
    await svc?.stop();
    svc = undefined;
  });

  const start = async (scenario: unknown, config: Record<string, unknown> = {}) => {
    const work = mkdtempSync(join(tmpdir(), 'fenix-plugins-work-'));
    svc = await startTestService({
      scenario,
      config: { workDir: work, sshUser: sshd.user, sshKey: sshd.key, sshKnownHosts: sshd.knownHosts, ...config },
    });
    return svc;
  };

  it('shell, ansible, http (callback and polled) and ssh on every host of the demo cloud: MAINTENANCE_DONE with each host\'s output in /detail', { timeout: 180_000 }, async () => {
    const out = mkdtempSync(join(tmpdir(), 'fenix-plugins-out-'));
    const jobs = await startJobServer();
    closers.push(jobs.close);
    await start(demo());
    const record = script(out, 'record.sh', 'set -eu\necho "$FENIX_HOST $FENIX_PLUGIN_TYPE attempt=$FENIX_ATTEMPT" >> "$OUT/$FENIX_HOST.shell"\necho "shell on $FENIX_HOST: $1"\necho "to stderr" >&2');
    const verify = script(out, 'verify.sh', 'test -s "$OUT/$FENIX_HOST.ssh" && echo "$FENIX_HOST healthy"');
    writeFileSync(
      join(out, 'site.yml'),
      [
        '- hosts: all',
        '  gather_facts: false',
        '  tasks:',
        '    - name: mark the host upgraded',
        '      ansible.builtin.copy:',
        '        content: "{{ inventory_hostname }} {{ openstack_version }} {{ fenix_plugin_type }}\\n"',
        '        dest: "{{ out_dir }}/{{ inventory_hostname }}.ansible"',
        '',
      ].join('\n'),
    );
    const hosts = demo().hosts.map((h) => h.name);
    const inventory = {
      all: {
        hosts: Object.fromEntries(hosts.map((h) => [h, { ansible_connection: 'local', ansible_python_interpreter: '/usr/bin/python3' }])),
        vars: { out_dir: out },
      },
    };
    const body = {
      metadata: { openstack_version: 'Zed' },
      actions: [
        { plugin: 'shell', type: 'host', metadata: { command: [record, "an 'argument' with $HOME; and `backticks`"], env: { OUT: out }, timeout_s: 60 } },
        { plugin: 'ansible', type: 'host', metadata: { playbook: join(out, 'site.yml'), inventory } },
        { plugin: 'http', type: 'host', metadata: { url: `${jobs.url}/callback-job`, wait: 'callback', timeout_s: 60 } },
        { plugin: 'http', type: 'host', metadata: { url: `${jobs.url}/poll-job`, wait: 'poll', poll_interval_s: 1, body: { target: '{host}', extra: { attempt: '{attempt}' } } } },
        { plugin: 'ssh', type: 'host', metadata: { command: ['sh', '-c', 'echo "ssh $FENIX_HOST" > "$OUT/$FENIX_HOST.ssh"; echo ssh-ok'], env: { OUT: out }, address: '127.0.0.1', port: sshd.port } },
        { plugin: 'shell', type: 'verify', metadata: { command: [verify], env: { OUT: out } } },
      ],
    };
    const created = await api(svc!.url, 'POST', '/v1/maintenance', body);
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    const id = created.body.session_id;
    const end = await waitForSession(svc!.url, id, done, 150_000);
    const detail = await wholeDetail(svc!.url, id);
    expect(end.state, `${end.reason} ${JSON.stringify(detail.waiting_for)}`).toBe('MAINTENANCE_DONE');

    for (const h of hosts) {
      expect(readFileSync(join(out, `${h}.shell`), 'utf8'), h).toBe(`${h} host attempt=1\n`);
      expect(readFileSync(join(out, `${h}.ansible`), 'utf8'), h).toBe(`${h} Zed host\n`);
      expect(readFileSync(join(out, `${h}.ssh`), 'utf8'), h).toBe(`ssh ${h}\n`);
    }
    const callbackJobs = jobs.jobs.filter((j) => j.path === '/callback-job');
    const pollJobs = jobs.jobs.filter((j) => j.path === '/poll-job');
    expect(callbackJobs.map((j) => j.body.host).sort()).toEqual([...hosts].sort());
    expect(callbackJobs.every((j) => j.callback === 200)).toBe(true);
    expect(pollJobs.map((j) => j.body.target).sort()).toEqual([...hosts].sort());
    expect(pollJobs.every((j) => j.body.extra.attempt === '1' && j.polls >= 2)).toBe(true);

    // Every run of every host, with its output.
    const runs = detail.plugin_runs as { plugin: string; type: string; host: string; status: string; output: string; attempts: number }[];
    expect(runs).toHaveLength(hosts.length * 6);
    expect(runs.every((r) => r.status === 'done' && r.attempts === 1)).toBe(true);
    for (const h of hosts) {
      const of = (plugin: string, type = 'host') => runs.filter((r) => r.host === h && r.plugin === plugin && r.type === type);
      expect(of('shell')[0]!.output).toBe(`shell on ${h}: an 'argument' with $HOME; and \`backticks\`\nto stderr\n`);
      expect(of('ansible')[0]!.output).toMatch(new RegExp(`${h}\\s+: ok=1\\s+changed=1`));
      expect(of('http').map((r) => r.output).join('\n')).toMatch(new RegExp(`callback: DONE\\njob \\d+ upgraded ${h}`));
      expect(of('http').map((r) => r.output).join('\n')).toMatch(/status successful/);
      expect(of('ssh')[0]!.output).toBe('ssh-ok\n');
      expect(of('shell', 'verify')[0]!.output).toBe(`${h} healthy\n`);
    }
    // Runs of a type follow the order of the actions.
    const first = runs.filter((r) => r.host === 'compute-0').map((r) => `${r.type}:${r.plugin}`);
    expect(first).toEqual(['host:shell', 'host:ansible', 'host:http', 'host:http', 'host:ssh', 'verify:shell']);
    expect((await api(svc!.url, 'GET', '/v1/simulator/hosts')).body.hosts.every((h: { enabled: boolean }) => h.enabled)).toBe(true);
  });

  it('a failed verify under max_failed_hosts: MAINTENANCE_DONE, that host left disabled and named; with 0 the session fails; PUT continues after a fix', { timeout: 90_000 }, async () => {
    const out = mkdtempSync(join(tmpdir(), 'fenix-verify-'));
    await start(small);
    const check = script(out, 'check.sh', 'if [ "$FENIX_HOST" = c1 ] && [ ! -e "$OUT/fixed" ]; then echo "c1: nova-compute is down"; exit 3; fi\necho ok');
    const actions = [{ plugin: 'shell', type: 'verify', metadata: { command: [check], env: { OUT: out } } }];

    const lenient = (await api(svc!.url, 'POST', '/v1/maintenance', { actions, max_failed_hosts: 1 })).body.session_id;
    const end = await waitForSession(svc!.url, lenient, done, 60_000);
    expect(end.state).toBe('MAINTENANCE_DONE');
    expect(end.reason).toBe('1 host(s) failed their verify actions and stay disabled: c1');
    await waitFor(async () => (await api(svc!.url, 'GET', `/v1/maintenance/${lenient}/detail`)).body.waiting_for.what.startsWith('nothing'), 'settled');
    let d = await wholeDetail(svc!.url, lenient);
    expect(d.session.max_failed_hosts).toBe(1);
    expect(d.session.failed_hosts).toMatchObject([{ host: 'c1', reason: expect.stringMatching(/plug-in shell on c1 failed: c1: nova-compute is down/) }]);
    expect(d.hosts.find((h: { name: string }) => h.name === 'c1')).toMatchObject({ status: 'failed', left_disabled: true, disabled_by_us: true, failure: expect.stringMatching(/nova-compute is down/) });
    const enabled = async () => Object.fromEntries((await api(svc!.url, 'GET', '/v1/simulator/hosts')).body.hosts.map((h: { name: string; enabled: boolean }) => [h.name, h.enabled]));
    expect(await enabled()).toEqual({ c0: true, c1: false, c2: true });
    expect(d.timeline.some((t: { message: string }) => /c1 failed its verify actions and stays disabled/.test(t.message))).toBe(true);
    // The host is the admin's to look at: put it back by hand before the next session.
    await api(svc!.url, 'DELETE', `/v1/maintenance/${lenient}`);
    await waitFor(async () => (await api(svc!.url, 'GET', `/v1/maintenance/${lenient}`)).status === 404, 'deleted');
    expect((await enabled()).c1).toBe(false); // deleting the session does not enable it either
    await svc!.infra.setHostScheduling('c1', true, 'the admin looked at it');
    await waitFor(async () => (await enabled()).c1 === true, 'c1 enabled by the admin');

    const strict = (await api(svc!.url, 'POST', '/v1/maintenance', { actions })).body.session_id;
    const failed = await waitForSession(svc!.url, strict, done, 60_000);
    expect(failed.state).toBe('MAINTENANCE_FAILED');
    expect(failed.reason).toMatch(/^plug-in shell on c1 failed: c1: nova-compute is down\n\[the command ended with exit code 3\] \(host c1 stays disabled\); 1 host\(s\) failed their verify actions \(c1\), more than max_failed_hosts 0$/);
    await waitFor(async () => (await api(svc!.url, 'GET', `/v1/maintenance/${strict}/detail`)).body.waiting_for.what.startsWith('the admin'), 'settled');
    await waitFor(async () => JSON.stringify(await enabled()) === JSON.stringify({ c0: true, c1: false, c2: true }), 'c1 alone left disabled');

    // Fixed: continue from where it failed; c1 is maintained again and passes its check.
    writeFileSync(join(out, 'fixed'), '');
    d = await wholeDetail(svc!.url, strict);
    expect((await api(svc!.url, 'PUT', `/v1/maintenance/${strict}`, { state: d.session.failed_in })).status).toBe(200);
    const again = await waitForSession(svc!.url, strict, (s) => s.state === 'MAINTENANCE_DONE' || (s.state === 'MAINTENANCE_FAILED' && s.reason !== failed.reason), 60_000);
    expect(again.state, again.reason as string).toBe('MAINTENANCE_DONE');
    await waitFor(async () => Object.values(await enabled()).every(Boolean), 'every host enabled');
  });

  it('vnf: hosts maintained in parallel pass their health gates; one that fails under the budget is skipped and left disabled', { timeout: 60_000 }, async () => {
    const out = mkdtempSync(join(tmpdir(), 'fenix-vnf-verify-'));
    await start({ ...small, hosts: [0, 1, 2, 3].map((i) => ({ name: `c${i}`, type: 'compute', vcpus: 4 })) });
    const check = script(out, 'check.sh', 'echo "$FENIX_HOST" >> "$OUT/checked"\n[ "$FENIX_HOST" != c2 ] || { echo "c2: kernel did not come back"; exit 1; }');
    const id = (
      await api(svc!.url, 'POST', '/v1/maintenance', {
        workflow: 'vnf',
        max_parallel_hosts: 2,
        max_failed_hosts: 1,
        actions: [{ plugin: 'shell', type: 'verify', metadata: { command: [check], env: { OUT: out } } }],
      })
    ).body.session_id;
    const end = await waitForSession(svc!.url, id, done, 45_000);
    expect(end.state, String(end.reason)).toBe('MAINTENANCE_DONE');
    expect(end.reason).toBe('1 host(s) failed their verify actions and stay disabled: c2');
    expect(readFileSync(join(out, 'checked'), 'utf8').trim().split('\n').sort()).toEqual(['c0', 'c1', 'c2', 'c3']);
    await waitFor(async () => {
      const hosts = (await api(svc!.url, 'GET', '/v1/simulator/hosts')).body.hosts as { name: string; enabled: boolean }[];
      return hosts.every((h) => h.enabled === (h.name !== 'c2'));
    }, 'c2 alone disabled');
  });

  it('a failed plug-in fails the session with its output in the reason and the detail; PUT MAINTENANCE continues it after a fix', { timeout: 60_000 }, async () => {
    const out = mkdtempSync(join(tmpdir(), 'fenix-fail-'));
    await start(small);
    const upgrade = script(out, 'upgrade.sh', 'echo "upgrading $FENIX_HOST"\nif [ ! -e "$OUT/space" ]; then echo "E: You don\'t have enough free space in /var/cache/apt/archives/." >&2; exit 100; fi\necho upgraded');
    const id = (await api(svc!.url, 'POST', '/v1/maintenance', { actions: [{ plugin: 'shell', type: 'host', metadata: { command: [upgrade], env: { OUT: out } } }] })).body.session_id;
    const failed = await waitForSession(svc!.url, id, done, 30_000);
    expect(failed.state).toBe('MAINTENANCE_FAILED');
    expect(failed.reason).toMatch(/maintenance of c\d failed: plug-in shell on c\d failed: upgrading c\d\nE: You don't have enough free space in \/var\/cache\/apt\/archives\/.\n\[the command ended with exit code 100\]/);
    const d = await wholeDetail(svc!.url, id);
    const run = d.plugin_runs.find((r: { status: string }) => r.status === 'failed');
    expect(run.output).toMatch(/enough free space/);
    expect(run.error).toMatch(/exit code 100/);

    writeFileSync(join(out, 'space'), '');
    expect((await api(svc!.url, 'PUT', `/v1/maintenance/${id}`, { state: 'MAINTENANCE' })).status).toBe(200);
    const end = await waitForSession(svc!.url, id, (s) => s.state === 'MAINTENANCE_DONE', 30_000);
    expect(end.state).toBe('MAINTENANCE_DONE');
  });

  it('a run past its timeout_s fails, and its programs are gone', { timeout: 60_000 }, async () => {
    const out = mkdtempSync(join(tmpdir(), 'fenix-timeout-'));
    await start(small);
    const slow = script(out, 'slow.sh', 'echo $$ > "$OUT/pid"\nsleep 600 &\necho $! > "$OUT/child"\necho started\nwait');
    const id = (await api(svc!.url, 'POST', '/v1/maintenance', { actions: [{ plugin: 'shell', type: 'pre', metadata: { command: [slow], env: { OUT: out }, timeout_s: 1 } }] })).body.session_id;
    const failed = await waitForSession(svc!.url, id, done, 30_000);
    expect(failed.state).toBe('MAINTENANCE_FAILED');
    expect(failed.reason).toMatch(/plug-in shell timed out after 1s: started/);
    const pids = ['pid', 'child'].map((f) => Number(readFileSync(join(out, f), 'utf8')));
    await waitFor(() => pids.every((p) => !alive(p)), 'the script and its child killed');
  });

  it('an aborted session kills the running plug-in\'s process group, then puts the hosts back', { timeout: 60_000 }, async () => {
    const out = mkdtempSync(join(tmpdir(), 'fenix-abort-'));
    await start(small);
    const long = script(out, 'long.sh', 'echo $$ > "$OUT/pid.$FENIX_HOST"\nsleep 600 &\necho $! > "$OUT/child.$FENIX_HOST"\nwait');
    const id = (await api(svc!.url, 'POST', '/v1/maintenance', { actions: [{ plugin: 'shell', type: 'host', metadata: { command: [long], env: { OUT: out } } }] })).body.session_id;
    const host = await waitFor(() => ['c0', 'c1', 'c2'].find((h) => existsSync(join(out, `child.${h}`)) && readFileSync(join(out, `child.${h}`), 'utf8').trim()), 'the plug-in running', 30_000);
    const pids = ['pid', 'child'].map((f) => Number(readFileSync(join(out, `${f}.${host}`), 'utf8')));
    expect(pids.every(alive)).toBe(true);
    expect((await api(svc!.url, 'PUT', `/v1/maintenance/${id}`, { action: 'abort' })).status).toBe(200);
    await waitFor(() => pids.every((p) => !alive(p)), 'process group killed', 15_000);
    await waitFor(async () => (await api(svc!.url, 'GET', `/v1/maintenance/${id}/detail`)).body.waiting_for.what.startsWith('the admin'), 'settled', 15_000);
    const d = await wholeDetail(svc!.url, id);
    expect(d.plugin_runs.find((r: { host: string }) => r.host === host)).toMatchObject({ status: 'failed', error: expect.stringMatching(/cancelled: the session was aborted/) });
    expect((await api(svc!.url, 'GET', '/v1/simulator/hosts')).body.hosts.every((h: { enabled: boolean }) => h.enabled)).toBe(true);
  });

  it('ssh never accepts a host key it does not know', { timeout: 60_000 }, async () => {
    await start(small, { sshKnownHosts: sshd.wrongKnownHosts });
    const id = (
      await api(svc!.url, 'POST', '/v1/maintenance', {
        actions: [{ plugin: 'ssh', type: 'host', metadata: { command: ['true'], address: '127.0.0.1', port: sshd.port } }],
      })
    ).body.session_id;
    const failed = await waitForSession(svc!.url, id, done, 30_000);
    expect(failed.state).toBe('MAINTENANCE_FAILED');
    expect(failed.reason).toMatch(/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
  });

  it('operators\' plug-ins from --plugins-dir: listed by GET /v1/plugins and run like the built-ins', { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fenix-plugins-dir-'));
    writeFileSync(
      join(dir, 'drain-lb.mjs'),
      [
        'export default {',
        "  name: 'drain-lb',",
        "  description: 'takes the host out of the load balancer',",
        '  idempotent: true,',
        "  validate: (m) => (typeof m.pool === 'string' ? null : 'pool must name the load balancer pool'),",
        '  async run(ctx) {',
        '    return { ok: true, output: `removed ${ctx.host} from ${ctx.metadata.pool} (attempt ${ctx.attempt})` };',
        '  },',
        '};',
      ].join('\n'),
    );
    await start(small, { pluginsDir: dir });
    const list = (await api(svc!.url, 'GET', '/v1/plugins')).body.plugins;
    expect(list.map((p: { name: string }) => p.name)).toEqual(['ansible', 'drain-lb', 'dummy', 'http', 'shell', 'ssh']);
    expect(list.find((p: { name: string }) => p.name === 'drain-lb')).toEqual({ name: 'drain-lb', description: 'takes the host out of the load balancer', source: join(dir, 'drain-lb.mjs'), idempotent: true });
    expect(list.find((p: { name: string }) => p.name === 'http')).toMatchObject({ source: 'built-in', idempotent: false });

    const bad = await api(svc!.url, 'POST', '/v1/maintenance', { actions: [{ plugin: 'drain-lb', type: 'host', metadata: {} }] });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'INVALID_PLUGIN_METADATA', message: 'actions[0] (drain-lb, host): pool must name the load balancer pool' });
    const id = (await api(svc!.url, 'POST', '/v1/maintenance', { actions: [{ plugin: 'drain-lb', type: 'host', metadata: { pool: 'web' } }] })).body.session_id;
    expect((await waitForSession(svc!.url, id, done, 30_000)).state).toBe('MAINTENANCE_DONE');
    const d = await wholeDetail(svc!.url, id);
    expect(d.plugin_runs.map((r: { output: string }) => r.output).sort()).toEqual(['c0', 'c1', 'c2'].map((h) => `removed ${h} from web (attempt 1)`));

    // A file that exports no plug-in stops the start, naming it.
    writeFileSync(join(dir, 'broken.js'), 'export const nothing = 1;\n');
    await expect(startService({ ...DEFAULT_CONFIG, db: ':memory:', port: 0, pluginsDir: dir }, { logger: quietLogger(), manual: true })).rejects.toThrow(/broken\.js exports no plug-in/);
  });

  it('refuses action metadata its plug-in cannot run with, with a clear 400', async () => {
    await start(small);
    const post = (actions: unknown, extra: Record<string, unknown> = {}) => api(svc!.url, 'POST', '/v1/maintenance', { actions, ...extra });
    const cases: [unknown, RegExp][] = [
      [[{ plugin: 'shell', type: 'host', metadata: { command: 'reboot now' } }], /actions\[0\] \(shell, host\): command must be a list .* nothing is run through a shell/],
      [[{ plugin: 'shell', type: 'host', metadata: { command: ['x'], env: { FENIX_HOST: 'x' } } }], /FENIX_\* variables are set by the engine/],
      [[{ plugin: 'shell', type: 'host', metadata: { command: ['x'], timeout_s: 0 } }], /timeout_s must be a number of seconds/],
      [[{ plugin: 'ansible', type: 'host', metadata: { inventory: 'hosts' } }], /playbook must be a non-empty string/],
      [[{ plugin: 'ansible', type: 'host', metadata: { playbook: 'a.yml', inventory: 'h', options: ['--limit', 'all'] } }], /--limit is set by the plug-in/],
      [[{ plugin: 'http', type: 'host', metadata: { url: 'ftp://x/' } }], /url must be an http\(s\) URL/],
      [[{ plugin: 'http', type: 'host', metadata: { url: 'http://x/', headers: { Authorization: { env: 'FENIX_DB' } } } }], /FENIX_SECRET_/],
      [[{ plugin: 'ssh', type: 'pre', metadata: { command: ['true'] } }], /ssh runs on the host being maintained/],
    ];
    for (const [actions, msg] of cases) {
      const r = await post(actions);
      expect(r.status, JSON.stringify(actions)).toBe(400);
      expect(r.body.error.code).toBe('INVALID_PLUGIN_METADATA');
      expect(r.body.error.message).toMatch(msg);
    }
    expect((await post([], { max_failed_hosts: -1 })).status).toBe(400);
    const w = await post([], { windows: { weekly: [{ days: ['mon'], start: '09:00', end: '09:00' }] } });
    expect(w.body.error).toMatchObject({ code: 'VALIDATION_FAILED', message: expect.stringMatching(/start and end are equal/) });
    expect((await api(svc!.url, 'GET', '/v1/maintenance')).body.sessions).toEqual([]);
  });

  it('maintenance windows: outside one no host is taken down and the detail says when the next opens; the dry-run plan waits for it', { timeout: 60_000 }, async () => {
    await start(small);
    const day = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'][new Date(Date.now() + 3 * 86_400_000).getUTCDay()]!;
    const opens = new Date(Date.now() + 3 * 86_400_000).toISOString().slice(0, 10) + 'T00:00:00.000Z';
    const windows = { time_zone: 'UTC', weekly: [{ days: [day], start: '00:00', end: '24:00' }] };
    const id = (await api(svc!.url, 'POST', '/v1/maintenance', { windows })).body.session_id;
    const d = await waitFor(async () => {
      const x = (await api(svc!.url, 'GET', `/v1/maintenance/${id}/detail`)).body;
      return /maintenance window/.test(x.waiting_for.what) && x;
    }, 'waiting for the window');
    expect(d.waiting_for).toEqual({ what: 'the next maintenance window (outside the windows no new host is taken down)', until: opens });
    expect(d.session.state).toBe('MAINTENANCE');
    expect(d.timeline.some((t: { kind: string }) => t.kind === 'window')).toBe(true);
    expect((await api(svc!.url, 'GET', '/v1/simulator/hosts')).body.hosts.every((h: { enabled: boolean }) => h.enabled)).toBe(true);

    const plain = (await api(svc!.url, 'POST', '/v1/maintenance/plan', { workflow: 'vnf' })).body;
    const waited = (await api(svc!.url, 'POST', '/v1/maintenance/plan', { workflow: 'vnf', windows })).body;
    expect(plain.window_wait_s).toBeUndefined();
    expect(waited.window_wait_s).toBeGreaterThan(2 * 86_400);
    expect(Date.parse(waited.expected_end)).toBeGreaterThanOrEqual(Date.parse(opens));
    expect(waited.batches[0].start_s).toBeGreaterThanOrEqual(waited.window_wait_s);
  });
});

describe('the plug-in callback with --auth token', () => {
  let svc: Service | undefined;
  afterEach(async () => {
    await svc?.stop();
    svc = undefined;
  });

  it('PUT /v1/maintenance/{session_id}/{host}/{plugin} needs an admin token; the run takes the first report', { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fenix-cb-auth-'));
    const tokens = join(dir, 'tokens.json');
    const admin = 'admin-token-0123456789';
    const project = 'project-token-0123456789';
    writeFileSync(tokens, JSON.stringify({ [admin]: { role: 'admin' }, [project]: { role: 'project', project_id: 'c0' } }));
    // A job system that never calls back by itself: the test plays it.
    const started: any[] = [];
    const server = createServer((req, res) => {
      let d = '';
      req.on('data', (c) => (d += c));
      req.on('end', () => {
        started.push({ body: JSON.parse(d), headers: req.headers });
        res.writeHead(202).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const jobUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/launch`;
    try {
      svc = await startTestService({ scenario: small, config: { auth: 'token', tokens, webhookAllow: '127.0.0.1' } });
      const id = (
        await api(svc.url, 'POST', '/v1/maintenance', { hosts: ['c2'], actions: [{ plugin: 'http', type: 'host', metadata: { url: jobUrl, headers: { 'X-Job': 'upgrade' } } }] }, admin)
      ).body.session_id;
      const job = await waitFor(() => started[0], 'the job started', 30_000);
      expect(job.body).toMatchObject({ session_id: id, host: 'c2', type: 'host', attempt: 1 });
      expect(job.body.callback_url).toBe(`${svc.url}/v1/maintenance/${id}/c2/http`);
      expect(job.headers['idempotency-key']).toBe(`${id}:plugin:a0:host:http:c2`);
      expect(job.headers['x-job']).toBe('upgrade');

      const path = `/v1/maintenance/${id}/c2/http`;
      expect((await api(svc.url, 'PUT', path, { state: 'DONE' })).status).toBe(401);
      // A project token, even one whose project is named like the host, is not enough.
      const asProject = await api(svc.url, 'PUT', `/v1/maintenance/${id}/c0/http`, { state: 'DONE' }, project);
      expect(asProject.status).toBe(403);
      expect((await api(svc.url, 'PUT', path, { state: 'MAYBE' }, admin)).body.error.code).toBe('VALIDATION_FAILED');
      expect((await api(svc.url, 'PUT', `/v1/maintenance/${id}/c1/http`, { state: 'DONE' }, admin)).body.error.code).toBe('STATE_CONFLICT');
      const ok = await api(svc.url, 'PUT', path, { state: 'DONE', output: 'AWX job 42 successful' }, admin);
      expect(ok.status).toBe(200);
      expect(ok.body).toEqual({ accepted: true });
      expect((await api(svc.url, 'PUT', path, { state: 'DONE' }, admin)).body).toMatchObject({ accepted: true });
      expect((await waitForSession(svc.url, id, done, 30_000, admin)).state).toBe('MAINTENANCE_DONE');
      const d = (await api(svc.url, 'GET', `/v1/maintenance/${id}/detail`, undefined, admin)).body;
      expect(d.plugin_runs[0].output).toMatch(/callback: DONE\nAWX job 42 successful/);
      expect(d.session.actions[0].metadata.headers['X-Job']).toBe('***');
      // The run is over: a late report is refused.
      expect((await api(svc.url, 'PUT', path, { state: 'FAILED' }, admin)).status).toBe(409);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});

describe('the http plug-in across an engine crash', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => {});
  });

  it('the next engine follows the job the crashed one started (attempt 2), and starts no second one', { timeout: 90_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fenix-http-crash-'));
    let posts = 0;
    let gets = 0;
    let status = 'running';
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (req.method === 'POST') {
          posts++;
          return res.writeHead(201, { location: '/job/1' }).end();
        }
        gets++;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ job: { state: status } }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise((r) => (server.closeAllConnections(), server.close(r))));
    writeFileSync(join(dir, 'scenario.json'), JSON.stringify({ ...small, hosts: [{ name: 'c0', type: 'compute', vcpus: 4 }], instances: [] }));
    const port = await freePort();
    const args = ['--db', join(dir, 'fenix.db'), '--scenario', join(dir, 'scenario.json'), '--simulator-state', join(dir, 'sim.json'), '--work-dir', join(dir, 'work')];
    let fenix: FenixProcess = await startFenix(args, port);
    cleanup.push(() => fenix.kill());
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/launch`;
    const id = (
      await api(fenix.url, 'POST', '/v1/maintenance', {
        actions: [{ plugin: 'http', type: 'host', metadata: { url, wait: 'poll', poll_interval_s: 1, status_field: 'job.state', success: ['ok'] } }],
      })
    ).body.session_id;
    // Polled: the run saved where its job is before it went on to follow it.
    await waitFor(() => posts === 1 && gets >= 1, 'the job started and followed', 30_000);
    await fenix.kill('SIGKILL');
    fenix = await startFenix(args, port);
    status = 'ok';
    const end = await waitForSession(fenix.url, id, done, 60_000);
    expect(end.state, String(end.reason)).toBe('MAINTENANCE_DONE');
    expect(posts).toBe(1);
    const run = (await wholeDetail(fenix.url, id)).plugin_runs[0];
    expect(run).toMatchObject({ status: 'done', attempts: 2 });
    expect(run.output).toMatch(/^attempt 2: following the job an earlier attempt started \(http:\/\/127\.0\.0\.1:\d+\/job\/1\)\nGET .*: job\.state ok/);
  });
});
