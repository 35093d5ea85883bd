// Time and size of GET /v1/maintenance/{id}/detail on a large session written straight into the
// store (test/helpers/big-session.ts). Not a test: run it by hand, e.g.
//   npx vite-node test/perf/detail-measure.ts -- --hosts 2000 --per-host 8 --projects 200
//   FENIX_TEST_STORE=postgres npx vite-node test/perf/detail-measure.ts -- --hosts 2000 [--vacuum]
// It prints one JSON line per measured request.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { sql, type Kysely } from 'kysely';
import { seedBigSession } from '../helpers/big-session.js';
import { startTestService } from '../helpers/harness.js';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const hosts = arg('hosts', 2000);
const perHost = arg('per-host', 8);
const projects = arg('projects', 200);
const runs = arg('runs', 5);
const query = process.argv.includes('--query') ? process.argv[process.argv.indexOf('--query') + 1]! : '';

const dir = mkdtempSync(join(tmpdir(), 'fenix-detail-'));
const pgStore = process.env.FENIX_TEST_STORE === 'postgres';
const svc = await startTestService({ manual: true, config: pgStore ? {} : { db: join(dir, 'fenix.db') } });
try {
  const t = performance.now();
  const seeded = await seedBigSession(svc.store, { id: 'big', hosts, instancesPerHost: perHost, projects });
  // --vacuum (PostgreSQL): what autovacuum leaves a while later (statistics, visibility map for index-only counts).
  if (pgStore && process.argv.includes('--vacuum')) await sql`vacuum analyze`.execute((svc.store as unknown as { db: Kysely<unknown> }).db);
  console.log(JSON.stringify({ seeded: seeded.counts, store: svc.store.dialect, seed_ms: Math.round(performance.now() - t) }));
  for (let i = 0; i < runs; i++) {
    const cpu = process.cpuUsage();
    const t1 = performance.now();
    const res = await fetch(`${svc.url}/v1/maintenance/big/detail${query}`);
    const text = await res.text();
    const ms = performance.now() - t1;
    const c = process.cpuUsage(cpu);
    console.log(JSON.stringify({ run: i + 1, status: res.status, ms: Math.round(ms * 10) / 10, cpu_ms: Math.round((c.user + c.system) / 100) / 10, bytes: Buffer.byteLength(text), rss_mb: Math.round(process.memoryUsage().rss / 1e6) }));
  }
} finally {
  await svc.stop();
  rmSync(dir, { recursive: true, force: true });
}
