// SQLite (better-sqlite3) behind the Store port: the embedded default.
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { KyselyStore } from '../kysely-store.js';
import type { DB } from '../schema.js';

export async function openSqliteStore(path: string): Promise<KyselyStore> {
  const sqlite = new Database(path);
  // WAL lets readers (the API) proceed while the engine writes; NORMAL sync is durable in WAL mode
  // against process crashes, which is what a restart must survive.
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  const store = new KyselyStore(new Kysely<DB>({ dialect: new SqliteDialect({ database: sqlite }) }), 'sqlite');
  await store.migrate();
  return store;
}
