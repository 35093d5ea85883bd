// Engine benchmarks of issue 3, printed as a table and written to bench-results/engine.json:
//  1. takeover: a second `fenix engine` process takes over a session after the first is SIGKILLed
//     (lease TTL 3 s), measured from the kill to the new owner's first write; and
//  2. overhead: the engine's wall-clock time per maintained host when the infrastructure is
//     instant (zero timings, projects without subscriptions), on SQLite and PostgreSQL.
// Medians over several runs; compare figures from one run only (these machines are noisy).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import pino from 'pino';
import { DEFAULT_CONFIG } from '../config/config.js';
import { startService } from '../main/service.js';
import { startSimulatorServer } from '../main/simulator.js';

const BIN = fileURLToPath(new URL('../../bin/fenix.js', import.meta.url));
const PG = process.env.FENIX_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const LEASE_TTL_S = 3;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

async function sql<T>(url: string, text: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(text, params)).rows as T[];
  } finally {
    await c.end();
  }
}

async function until<T>(f: () => Promise<T | undefined | false>, ms = 60_000, every = 10): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f().catch(() => undefined);
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out');
    await sleep(every);
  }
}

/**
 * A `fenix api|engine` process, ready once it logs its start line. That line is logged at info
 * level, so the process runs at info (at warn it never comes and the benchmark would wait forever);
 * only the output's tail is kept, and a process that neither starts nor exits within 60 s fails.
 */
function spawnFenix(cmd: string, args: string[]): { child: ChildProcess; ready: Promise<void> } {
  const child = spawn(process.execPath, [BIN, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FENIX_LOG_LEVEL: 'info' } });
  let out = '';
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${cmd} did not start within 60 s: ${out}`)), 60_000);
    const keep = (d: Buffer) => {
      out = (out + d.toString()).slice(-8000);
      if (out.includes('Fenix engine running') || out.includes('Fenix maintenance API on')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep); // drained too: a full pipe would block the process
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${cmd} exited ${code}: ${out}`));
    });
  });
  return { child, ready };
}

const json = async (url: string, method = 'GET', body?: unknown) =>
  (await fetch(url, { method, headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined })).json() as Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** One takeover: ms from SIGKILL of the owning engine to the other engine's first write. */
async function takeoverOnce(i: number): Promise<number> {
  const name = `fenix_bench_takeover_${process.pid}_${i}`;
  await sql(PG, `drop database if exists ${name}`);
  await sql(PG, `create database ${name}`);
  const db = PG.replace(/\/[^/]*$/, `/${name}`);
  const sim = await startSimulatorServer({
    scenario: {
      hosts: [0, 1, 2].map((h) => ({ name: `c${h}`, type: 'compute', vcpus: 4 })),
      instances: [0, 1].map((n) => ({ id: `vm-${n}`, name: `vm-${n}`, project_id: 'p', host: `c${n}`, vcpus: 1 })),
      // Long host maintenance: the session is mid-work when its engine dies.
      timings: { migrate_s: 0.2, live_migrate_s: 0.2, host_maintenance_s: 30 },
    },
  });
  const apiPort = await freePort();
  const api = `http://127.0.0.1:${apiPort}`;
  const common = ['--db', db, '--simulator-url', sim.url, '--lease-ttl', String(LEASE_TTL_S)];
  const procs: ChildProcess[] = [];
  try {
    const a = spawnFenix('api', [...common, '--port', String(apiPort)]);
    procs.push(a.child);
    await a.ready;
    const engines = [0, 1].map(() => spawnFenix('engine', [...common, '--public-url', api]));
    procs.push(...engines.map((e) => e.child));
    await Promise.all(engines.map((e) => e.ready));
    const id = (await json(`${api}/v1/maintenance`, 'POST', {})).session_id as string;
    const owner = await until(async () => {
      const [r] = await sql<{ lease_owner: string | null; state: string }>(db, 'select lease_owner, state from sessions where id = $1', [id]);
      return r?.state === 'START_MAINTENANCE' && r.lease_owner ? r.lease_owner : undefined;
    });
    const victim = engines.find((e) => owner.includes(`:${e.child.pid}:`))!.child;
    const killed = Date.now();
    victim.kill('SIGKILL');
    await until(async () => {
      const [r] = await sql<{ lease_owner: string | null }>(db, 'select lease_owner from sessions where id = $1', [id]);
      return r?.lease_owner && r.lease_owner !== owner;
    }, 60_000, 5);
    return Date.now() - killed;
  } finally {
    for (const p of procs) p.kill('SIGKILL');
    await sim.close();
    await sql(PG, `drop database if exists ${name} with (force)`).catch(() => {});
  }
}

/** Wall-clock ms per maintained host with instant infrastructure. */
async function overheadOnce(db: string, hosts: number): Promise<number> {
  const scenario = {
    hosts: Array.from({ length: hosts }, (_, h) => ({ name: `c${h}`, type: 'compute', vcpus: 8 })),
    instances: Array.from({ length: hosts * 2 }, (_, n) => ({ id: `vm-${n}`, name: `vm-${n}`, project_id: `p${n % 5}`, host: `c${n % (hosts - 1)}`, vcpus: 1 })),
    timings: { migrate_s: 0, live_migrate_s: 0, host_maintenance_s: 0 },
  };
  const svc = await startService({ ...DEFAULT_CONFIG, db, port: 0 }, { scenario, logger: pino({ level: 'silent' }) });
  try {
    const t0 = performance.now();
    const id = (await json(`${svc.url}/v1/maintenance`, 'POST', {})).session_id as string;
    await until(async () => (await json(`${svc.url}/v1/maintenance/${id}`)).state === 'MAINTENANCE_DONE', 120_000, 2);
    return (performance.now() - t0) / hosts;
  } finally {
    await svc.stop();
  }
}

export async function runEngineBench(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'fenix-bench-'));
  const HOSTS = 20;
  const takeover: number[] = [];
  for (let i = 0; i < RUNS; i++) takeover.push(await takeoverOnce(i));
  const sqlite: number[] = [];
  const postgres: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    sqlite.push(await overheadOnce(join(dir, `o${i}.db`), HOSTS));
    const name = `fenix_bench_overhead_${process.pid}_${i}`;
    await sql(PG, `drop database if exists ${name}`);
    await sql(PG, `create database ${name}`);
    postgres.push(await overheadOnce(PG.replace(/\/[^/]*$/, `/${name}`), HOSTS));
    await sql(PG, `drop database if exists ${name} with (force)`);
  }
  const result = {
    runs: RUNS,
    takeover_ms: { median: Math.round(median(takeover)), all: takeover, lease_ttl_s: LEASE_TTL_S },
    overhead_ms_per_host: {
      hosts: HOSTS,
      sqlite: { median: +median(sqlite).toFixed(1), all: sqlite.map((x) => +x.toFixed(1)) },
      postgres: { median: +median(postgres).toFixed(1), all: postgres.map((x) => +x.toFixed(1)) },
    },
  };
  console.log('\nEngine (issue 3), medians of', RUNS, 'runs');
  console.table({
    [`takeover after SIGKILL (lease TTL ${LEASE_TTL_S}s)`]: { ms: result.takeover_ms.median },
    [`overhead per host, SQLite (${HOSTS} hosts, instant cloud)`]: { ms: result.overhead_ms_per_host.sqlite.median },
    [`overhead per host, PostgreSQL (${HOSTS} hosts, instant cloud)`]: { ms: result.overhead_ms_per_host.postgres.median },
  });
  mkdirSync('bench-results', { recursive: true });
  writeFileSync('bench-results/engine.json', JSON.stringify(result, null, 2));
  return result;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runEngineBench().then(
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
