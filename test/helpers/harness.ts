// Test harness: a real service on an ephemeral port, receivers that record webhooks, and waits
// for facts (never fixed sleeps).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import pino from 'pino';
import { DEFAULT_CONFIG, type Config } from '../../src/config/config.js';
import { startService, type Service, type ServiceOverrides } from '../../src/main/service.js';
import { TEST_PG_URL } from './pg.js';

export const quietLogger = () => pino({ level: process.env.TEST_LOG ?? 'silent' });

/**
 * A service on an ephemeral port. Its store is SQLite in memory, or, with FENIX_TEST_STORE=postgres
 * (the PostgreSQL pass of .ci/run), a fresh PostgreSQL database dropped when the service stops.
 */
export async function startTestService(
  opts: { config?: Partial<Config>; scenario?: unknown } & Omit<ServiceOverrides, 'scenario'> = {},
): Promise<Service> {
  let db = ':memory:';
  let drop: (() => Promise<void>) | undefined;
  if (process.env.FENIX_TEST_STORE === 'postgres' && opts.config?.db === undefined) {
    const name = `fenix_it_${process.pid}_${dbSeq++}`;
    await pgAdmin(`drop database if exists ${name}`);
    await pgAdmin(`create database ${name}`);
    db = TEST_PG_URL.replace(/\/[^/]*$/, `/${name}`);
    drop = () => pgAdmin(`drop database if exists ${name} with (force)`);
  }
  const config: Config = { ...DEFAULT_CONFIG, db, port: 0, ...opts.config };
  const svc = await startService(config, { logger: quietLogger(), ...opts, scenario: opts.scenario });
  if (!drop) return svc;
  const stop = svc.stop.bind(svc);
  return { ...svc, stop: async () => { await stop(); await drop!().catch(() => {}); } };
}

let dbSeq = 0;

/** One statement on the test server's admin database (create / drop test databases). */
export async function pgAdmin(text: string): Promise<void> {
  const c = new pg.Client({ connectionString: TEST_PG_URL });
  await c.connect();
  try {
    await c.query(text);
  } finally {
    await c.end();
  }
}

export async function waitFor<T>(fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, what = 'condition', timeoutMs = 30_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function api(base: string, method: string, path: string, body?: unknown, token?: string) {
  const res = await fetch(base + path, {
    method,
    headers: { ...(body !== undefined && { 'content-type': 'application/json' }), ...(token && { 'x-auth-token': token }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown = undefined;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = text;
  }
  return { status: res.status, body: json as any, headers: res.headers };
}

export async function waitForSession(base: string, id: string, pred: (s: { state: string; [k: string]: unknown }) => boolean, timeoutMs = 30_000, token?: string) {
  return waitFor(async () => {
    const r = await api(base, 'GET', `/v1/maintenance/${id}`, undefined, token);
    return r.status === 200 && pred(r.body) ? r.body : undefined;
  }, `session ${id}`, timeoutMs);
}

export interface Received {
  at: number;
  body: any;
  headers: IncomingMessage['headers'];
}

/** A webhook receiver; `mode` decides how it answers (200, an error status, or never). */
export async function startReceiver(mode: { status?: number; hang?: boolean } = {}) {
  const received: Received[] = [];
  const hanging: ServerResponse[] = [];
  const server = createServer((req, res) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => {
      let body: unknown = data;
      try {
        body = JSON.parse(data);
      } catch {
        /* keep text */
      }
      received.push({ at: Date.now(), body, headers: req.headers });
      if (mode.hang) return void hanging.push(res);
      res.writeHead(mode.status ?? 200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    mode,
    async close() {
      for (const r of hanging) r.destroy();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/** The payload of an AODH alarm body as a plain object (traits decoded only as text). */
export function aodhTraits(body: any): Record<string, unknown> {
  const traits = body?.reason_data?.event?.traits as [string, number, unknown][];
  return Object.fromEntries(traits.map(([k, , v]) => [k, v]));
}
