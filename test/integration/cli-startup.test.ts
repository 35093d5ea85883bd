// The real `fenix` binary on a first run's mistakes: each is one line `error CODE: message` naming
// what to fix, a non-zero exit code, no stack; and the quick commands answer without loading the service.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../bin/fenix.js', import.meta.url));

function fenix(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const r = spawnSync(process.execPath, [BIN, ...args], { env, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('fenix start-up errors', () => {
  it('--scenario that does not exist: the flag and the path, exit 2', () => {
    for (const cmd of [['serve', '--db', ':memory:'], ['serve'], ['simulator']]) {
      const r = fenix([...cmd, '--port', '0', '--scenario', '/nonexistent.json']);
      expect(r.err).toBe('error CONFIG_INVALID: --scenario /nonexistent.json: no such file\n');
      expect(r.code).toBe(2);
    }
  });

  it('a postgres:// URL without a user: the form to write, exit 2', () => {
    const env = { ...process.env };
    delete env.USER;
    delete env.PGUSER;
    const r = fenix(['serve', '--port', '0', '--db', 'postgres://127.0.0.1/fenix'], env);
    expect(r.err).toBe('error CONFIG_INVALID: --db postgres://127.0.0.1/fenix names no user; write postgres://USER:PASSWORD@HOST:5432/DATABASE (or set PGUSER)\n');
    expect(r.code).toBe(2);
  });

  it('--version, and serve --help without "default null"', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(fenix(['--version'])).toMatchObject({ code: 0, out: `${pkg.version}\n` });
    const help = fenix(['serve', '--help']);
    expect(help.code).toBe(0);
    expect(help.out).toContain('--log-format <value>');
    expect(help.out).not.toMatch(/default\s+null/);
  });

  it('the client commands do not load the service', () => {
    // The service's modules (Fastify, Kysely, the drivers) cost most of a start; a client needs none.
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', `await import(${JSON.stringify(new URL('../../dist/cli/main.js', import.meta.url).href)}); const { createRequire } = await import('node:module'); console.log(JSON.stringify(Object.keys(createRequire(import.meta.url).cache)))`], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).not.toMatch(/fastify|better-sqlite3|pino|pg-pool/); // CommonJS packages the service loads (ESM ones are not in this cache)
  });
});
