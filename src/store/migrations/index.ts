// Numbered, forward-only migrations. Never edit one that has landed; add the next number.
import type { Migration, MigrationProvider } from 'kysely';
import * as m0001 from './0001_initial.js';
import * as m0002 from './0002_constraints.js';
import * as m0003 from './0003_session_control.js';
import * as m0004 from './0004_outbox_claims.js';
import * as m0005 from './0005_change_feed.js';
import * as m0006 from './0006_simulator_state.js';
import * as m0007 from './0007_detail_indexes.js';
import * as m0008 from './0008_project_instances_order.js';
import * as m0009 from './0009_session_plans.js';
import * as m0010 from './0010_plugin_callbacks.js';
import * as m0011 from './0011_fenced_commit.js';

const MIGRATIONS: Record<string, Migration> = {
  '0001_initial': m0001,
  '0002_constraints': m0002,
  '0003_session_control': m0003,
  '0004_outbox_claims': m0004,
  '0005_change_feed': m0005,
  '0006_simulator_state': m0006,
  '0007_detail_indexes': m0007,
  '0008_project_instances_order': m0008,
  '0009_session_plans': m0009,
  '0010_plugin_callbacks': m0010,
  '0011_fenced_commit': m0011,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => MIGRATIONS,
};
