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
