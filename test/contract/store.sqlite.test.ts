// The store contract against SQLite: in memory, and in a file (WAL, the way `--db path` runs).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/ports/store.js';
import { openStore } from '../../src/store/index.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { describeStoreContract } from './store.contract.js';

describeStoreContract('sqlite :memory:', () => openSqliteStore(':memory:'));

const dir = mkdtempSync(join(tmpdir(), 'fenix-store-'));
const paths = new WeakMap<Store, string>();
let n = 0;
let keep = false;
describeStoreContract(
  'sqlite file',
  async () => {
    const path = join(dir, `store-${n++}.db`);
    const store = await openSqliteStore(path);
    paths.set(store, path);
    return store;
  },
  async (store, failed) => {
    if (!failed) return;
    keep = true;
    console.warn(`store contract: kept the failed test's database ${paths.get(store)}`);
  },
);
afterAll(() => {
  if (!keep) rmSync(dir, { recursive: true, force: true });
});

describe('openStore (SQLite)', () => {
  it('opens a path or :memory: as SQLite', async () => {
    const mem = await openStore(':memory:');
    expect(mem.dialect).toBe('sqlite');
    await mem.close();
    const file = await openStore(join(dir, 'open-store.db'));
    expect(file.dialect).toBe('sqlite');
    await file.close();
  });

  it('refuses a schema for SQLite', async () => {
    await expect(openStore(':memory:', { schema: 'x' })).rejects.toThrow(/PostgreSQL only/);
  });
});

describe('SQLite: the API\'s hot reads kept between changes (read-cache.ts), two connections on one file', () => {
  // The way `fenix serve` runs: the API's connection reads, the engine thread's writes.
  const T0 = 1_700_000_000_000;
  const session = (id: string) => ({
    session: {
      id,
      state: 'MAINTENANCE' as const,
      workflow: 'default' as const,
      maintenanceAt: T0,
      metadata: {},
      actions: [],
      download: [],
      options: { replyWindowS: 300, scaleInReplyWindowS: 600, noSubscription: 'act' as const, ownActionTimeoutS: 900, maxParallelHosts: 1 },
      phase: { inventoried: false, host: null, transitions: 0 },
      createdAt: T0,
    },
    hosts: [{ name: 'compute-0', type: 'compute' as const }],
    timeline: [],
  });

  it('sees every commit of the other connection, and its own writes, at the next read', async () => {
    const path = join(dir, 'two-connections.db');
    const api = await openSqliteStore(path);
    const engine = await openSqliteStore(path);
    try {
      await engine.createSession(session('s1'));
      const fence = (await engine.acquireLease('s1', 'engine-a', T0, 30_000))!.fence;
      await engine.applyDecision(
        's1',
        fence,
        {
          projects: [{ projectId: 'p1', interacting: true, awaiting: 'MAINTENANCE', askKey: 'MAINTENANCE' }],
          instances: [
            { instanceId: 'i1', projectId: 'p1', host: 'compute-0' },
            { instanceId: 'i2', projectId: 'p1', host: 'compute-0' },
          ],
        },
        T0,
      );
      // Read twice: the second answer may come from memory.
      for (let i = 0; i < 2; i++) {
        expect((await api.getSession('s1'))!.paused).toBe(false);
        expect((await api.sessionProject('s1', 'p1'))!.awaiting).toBe('MAINTENANCE');
        expect(await api.projectInstanceIds('s1', 'p1', { present: true })).toEqual(['i1', 'i2']);
      }
      // The other connection commits: the next read sees it.
      await engine.setSessionFlags('s1', { paused: true }, T0 + 1);
      await engine.applyDecision(
        's1',
        fence,
        { projects: [{ projectId: 'p1', interacting: true, awaiting: 'PLANNED_MAINTENANCE', askKey: 'PLANNED_MAINTENANCE:compute-0' }], instances: [{ instanceId: 'i2', projectId: 'p1', host: 'compute-0', status: 'gone' }] },
        T0 + 2,
      );
      expect((await api.getSession('s1'))!.paused).toBe(true);
      expect((await api.sessionProject('s1', 'p1'))!.awaiting).toBe('PLANNED_MAINTENANCE');
      expect(await api.projectInstanceIds('s1', 'p1', { present: true })).toEqual(['i1']);
      // Its own writes, too (not counted by SQLite's data_version).
      await api.setSessionFlags('s1', { paused: false }, T0 + 3);
      expect((await api.getSession('s1'))!.paused).toBe(false);
      const reply = { sessionId: 's1', projectId: 'p1', reply: 'ACK_PLANNED_MAINTENANCE', answers: 'PLANNED_MAINTENANCE', instanceActions: new Map(), at: T0 + 4 };
      expect(await api.recordReply(reply)).toMatchObject({ accepted: true, duplicate: false });
      expect(await api.recordReply({ ...reply, at: T0 + 5 })).toMatchObject({ accepted: true, duplicate: true, changed: false });
      // The engine asks the next state: the same reply no longer answers it.
      await engine.applyDecision('s1', fence, { projects: [{ projectId: 'p1', interacting: true, awaiting: 'MAINTENANCE_COMPLETE', askKey: 'MAINTENANCE_COMPLETE' }] }, T0 + 6);
      expect(await api.recordReply({ ...reply, at: T0 + 7 })).toMatchObject({ accepted: false, awaiting: 'MAINTENANCE_COMPLETE' });
    } finally {
      await api.close();
      await engine.close();
    }
  });
});
