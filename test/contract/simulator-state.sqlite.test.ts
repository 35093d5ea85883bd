// The simulator state contract against a SQLite file (WAL, the way `fenix serve --db path` runs).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KyselyStore } from '../../src/store/kysely-store.js';
import { KyselySimulatorState } from '../../src/store/simulator-state.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { describeSimulatorStateContract } from './simulator-state.contract.js';

describeSimulatorStateContract('sqlite file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fenix-simstate-'));
  const path = join(dir, 'fenix.db');
  const opened: KyselyStore[] = [];
  return {
    async open() {
      const store = await openSqliteStore(path);
      opened.push(store);
      return new KyselySimulatorState(store.db);
    },
    async cleanup(failed) {
      for (const s of opened) await s.close().catch(() => {});
      if (failed) console.warn(`simulator state contract: kept the failed test's database ${path}`);
      else rmSync(dir, { recursive: true, force: true });
    },
  };
});
