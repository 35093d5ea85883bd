// `npm start` stops everything it started when npm is stopped by its PID: SIGTERM and SIGINT (npm
// forwards them; the script execs node so no shell swallows them) and SIGKILL (npm forwards
// nothing: the service sees it has lost its npm and stops). The port is closed and no process left.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/harness.js';
import { freePort } from '../helpers/process.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Every process under `pid` (Linux /proc), deepest last. */
function descendants(pid: number): number[] {
  const out: number[] = [];
  let tasks: string[] = [];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const t of tasks) {
    let children = '';
    try {
      children = readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8');
    } catch {
      continue;
    }
    for (const c of children.split(' ').filter(Boolean).map(Number)) out.push(c, ...descendants(c));
  }
  return out;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    // A zombie (exited, not yet reaped by its parent) is gone for our purposes.
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

const portOpen = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });

let npm: ChildProcess | undefined;
let started: number[] = [];

afterEach(() => {
  // A failed test must not leave a service behind.
  for (const pid of [npm?.pid, ...started]) if (pid && alive(pid)) process.kill(pid, 'SIGKILL');
  npm = undefined;
  started = [];
});

async function npmStart(): Promise<{ port: number; output: () => string }> {
  const port = await freePort();
  let out = '';
  npm = spawn('npm', ['start'], {
    cwd: ROOT,
    env: { ...process.env, FENIX_PORT: String(port), FENIX_DB: ':memory:', FENIX_LOG_FORMAT: 'json' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  npm.stdout!.on('data', (d) => (out += d));
  npm.stderr!.on('data', (d) => (out += d));
  // Started: the API answers and the banner (logged once the demo's managers are attached) is out.
  await waitFor(async () => npm!.exitCode === null && out.includes('Fenix maintenance API on') && (await fetch(`http://127.0.0.1:${port}/healthz`)).ok, `npm start on :${port}`, 30_000).catch((e: Error) => {
    throw new Error(`${e.message}\n${out}`);
  });
  started = descendants(npm.pid!);
  expect(started.length).toBeGreaterThan(0);
  return { port, output: () => out };
}

describe('npm start', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal} to the npm process stops the service it started`, async () => {
      const { port, output } = await npmStart();
      const exited = new Promise((r) => npm!.once('exit', r));
      process.kill(npm!.pid!, signal);
      await exited;
      await waitFor(async () => !(await portOpen(port)) && started.every((p) => !alive(p)), `port ${port} closed and ${started.join(', ')} gone`, 20_000).catch(
        (e: Error) => {
          throw new Error(`${e.message}\n${output()}`);
        },
      );
    });
  }

  it('SIGKILL to the npm process (nothing forwarded): the service notices and stops', async () => {
    const { port, output } = await npmStart();
    process.kill(npm!.pid!, 'SIGKILL');
    await waitFor(async () => !(await portOpen(port)) && started.every((p) => !alive(p)), `port ${port} closed and ${started.join(', ')} gone`, 20_000).catch((e: Error) => {
      throw new Error(`${e.message}\n${output()}`);
    });
  });
});
