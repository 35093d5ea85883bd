// Numbered, forward-only migrations. Never edit one that has landed; add the next number.
import type { Migration, MigrationProvider } from 'kysely';
import * as m0001 from './0001_initial.js';

const MIGRATIONS: Record<string, Migration> = {
  '0001_initial': m0001,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => MIGRATIONS,
};
