// Run the real `fenix serve` as a child process (for restart and crash tests).
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { waitFor } from './harness.js';

const BIN = fileURLToPath(new URL('../../bin/fenix.js', import.meta.url));

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
    s.on('error', reject);
  });
}

export interface FenixProcess {
  child: ChildProcess;
  url: string;
  output: () => string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export async function startFenix(
  args: string[],
  port: number,
  env: NodeJS.ProcessEnv = {},
  command: 'serve' | 'api' | 'engine' = 'serve',
): Promise<FenixProcess> {
  let out = '';
  const child = spawn(process.execPath, [BIN, command, '--port', String(port), ...args], {
    env: { ...process.env, FENIX_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(
      async () => child.exitCode === null && (command === 'engine' ? out.includes('Fenix engine running') : (await fetch(`${url}/healthz`)).ok),
      `fenix ${command} on ${url}`,
      20_000,
    );
  } catch (e) {
    child.kill('SIGKILL');
    throw new Error(`${(e as Error).message}; exit ${child.exitCode}; output:\n${out}`);
  }
  return {
    child,
    url,
    output: () => out,
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill(signal);
      await exited;
    },
  };
}
