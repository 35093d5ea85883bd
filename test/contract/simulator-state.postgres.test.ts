// The simulator state contract against PostgreSQL: a fresh schema per test, dropped afterwards
// unless the test failed. An unreachable server fails the suite; it never skips.
import type { KyselyStore } from '../../src/store/kysely-store.js';
import { openPostgresStore } from '../../src/store/postgres/index.js';
import { KyselySimulatorState } from '../../src/store/simulator-state.js';
import { dropSchema, freshSchema, requirePostgres, TEST_PG_URL } from '../helpers/pg.js';
import { describeSimulatorStateContract } from './simulator-state.contract.js';

describeSimulatorStateContract('postgres', () => {
  const schema = freshSchema();
  const opened: KyselyStore[] = [];
  return {
    async open() {
      await requirePostgres();
      const store = await openPostgresStore(TEST_PG_URL, { schema });
      opened.push(store);
      return new KyselySimulatorState(store.db);
    },
    async cleanup(failed) {
      for (const s of opened) await s.close().catch(() => {});
      if (failed) console.warn(`simulator state contract: kept the failed test's schema ${schema} in ${TEST_PG_URL}`);
      else await dropSchema(schema);
    },
  };
});
