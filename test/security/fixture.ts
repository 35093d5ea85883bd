// Shared by the security suites: a service with --auth token and two projects, the callers an
// attacker can be, and a digest of the whole database (to prove a refused request changed nothing).
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import type { Config } from '../../src/config/config.js';
import type { Service, ServiceOverrides } from '../../src/main/service.js';
import type { KyselyStore } from '../../src/store/kysely-store.js';
import { startTestService } from '../helpers/harness.js';

export const ADMIN = 'sec-admin-token-0123456789';
export const P1 = 'sec-p1-token-0123456789';
export const P2 = 'sec-p2-token-0123456789';
/** Long enough to pass the length checks, in no table. */
export const WRONG = 'sec-wrong-token-0123456789';

/** Every name a plain-object token table would have "found" (finding 1 of issue 8). */
export const PROTO_TOKENS: readonly string[] = [...new Set([...Object.getOwnPropertyNames(Object.prototype), '__proto__', 'prototype', 'toJSON'])];

/**
 * c1-c3 hold both projects' instances; c3 has p2-b and p1-d (the group-race test moves membership
 * of one of them into p1's group); c4-c6 are empty, for sessions of their own. p1-victim and
 * p1-gone exist to be deleted.
 */
export const SCENARIO = {
  hosts: ['c1', 'c2', 'c3', 'c4', 'c5', 'c6'].map((name) => ({ name, type: 'compute', vcpus: 8 })),
  instances: [
    { id: 'p1-a', name: 'p1-a', project_id: 'p1', host: 'c1', vcpus: 1 },
    { id: 'p1-b', name: 'p1-b', project_id: 'p1', host: 'c2', vcpus: 1 },
    { id: 'p1-c', name: 'p1-c', project_id: 'p1', host: 'c2', vcpus: 1 },
    { id: 'p1-d', name: 'p1-d', project_id: 'p1', host: 'c3', vcpus: 1 },
    { id: 'p1-victim', name: 'p1-victim', project_id: 'p1', host: 'c1', vcpus: 1 },
    { id: 'p1-gone', name: 'p1-gone', project_id: 'p1', host: 'c1', vcpus: 1 },
    { id: 'p2-a', name: 'p2-a', project_id: 'p2', host: 'c1', vcpus: 1 },
    { id: 'p2-b', name: 'p2-b', project_id: 'p2', host: 'c3', vcpus: 1 },
  ],
  timings: { migrate_s: 0.01, live_migrate_s: 0.01, host_maintenance_s: 0.01 },
};

/** A time far enough ahead that a session waits in MAINTENANCE for the whole test. */
export const farFuture = (): string => new Date(Date.now() + 24 * 3_600_000).toISOString();

export interface Answer {
  status: number;
  text: string;
  json: any;
}

/** One HTTP request; `token` undefined sends no X-Auth-Token header at all ('' sends an empty one). */
export async function call(base: string, method: string, path: string, body?: unknown, token?: string): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token !== undefined) headers['x-auth-token'] = token;
  const res = await fetch(base + path, { method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json };
}

export interface SecuredService {
  svc: Service;
  stop(): Promise<void>;
}

/** A real service with --auth token (admin, p1, p2) over SQLite in memory (or PostgreSQL, per the harness). */
export async function startSecured(o: { config?: Partial<Config>; scenario?: unknown } & Omit<ServiceOverrides, 'scenario'> = {}): Promise<SecuredService> {
  const dir = mkdtempSync(join(tmpdir(), 'fenix-sec-'));
  const tokens = join(dir, 'tokens.json');
  writeFileSync(
    tokens,
    JSON.stringify({ [ADMIN]: { role: 'admin' }, [P1]: { role: 'project', project_id: 'p1' }, [P2]: { role: 'project', project_id: 'p2' } }),
  );
  // Webhook receivers in these tests are never started: a loopback URL only has to be accepted.
  const svc = await startTestService({ scenario: SCENARIO, ...o, config: { auth: 'token', tokens, webhookAllow: '127.0.0.0/8', ...o.config } });
  return {
    svc,
    async stop() {
      await svc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * SHA-256 over every row of every table (rows sorted by their JSON text, so no primary key is
 * needed): equal digests mean the database holds exactly the same data.
 */
export async function storeDigest(svc: Service): Promise<string> {
  const store = svc.store as KyselyStore;
  const tables =
    store.dialect === 'sqlite'
      ? (await sql<{ name: string }>`select name from sqlite_master where type = 'table' and name not like 'sqlite_%' order by name`.execute(store.db)).rows
      : (await sql<{ name: string }>`select table_name as name from information_schema.tables where table_schema = current_schema() order by table_name`.execute(store.db))
          .rows;
  const h = createHash('sha256');
  for (const { name } of tables) {
    const rows = (await sql<Record<string, unknown>>`select * from ${sql.table(name)}`.execute(store.db)).rows;
    const lines = rows.map((r) => JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))).sort();
    h.update(`${name}\n${lines.join('\n')}\n`);
  }
  return h.digest('hex');
}
