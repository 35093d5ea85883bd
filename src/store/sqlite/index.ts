// SQLite (better-sqlite3) behind the Store port: the embedded default.
import Database from 'better-sqlite3';
import { CompiledQuery, Kysely, SqliteDialect, SqliteDriver, type DatabaseConnection, type Driver, type SqliteDatabase, type SqliteDialectConfig, type TransactionSettings } from 'kysely';
import { KyselyStore } from '../kysely-store.js';
import type { DB } from '../schema.js';

/** Pages the write-ahead log may hold before a commit copies it into the database (see below). */
const WAL_CHECKPOINT_PAGES = 10_000;

export async function openSqliteStore(path: string): Promise<KyselyStore> {
  const sqlite = new Database(path);
  // WAL lets readers (the API) proceed while the engine writes; NORMAL sync is durable in WAL mode
  // against process crashes, which is what a restart must survive.
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  // In WAL mode with NORMAL sync, a commit only appends to the log; the checkpoint that copies the
  // log into the database is what waits for the disk, and SQLite runs one inside whichever commit
  // takes the log past `wal_autocheckpoint` pages (1,000 by default, about 4 MB). The engine commits
  // a few small transactions per host, so with the default a large session spent about half of its
  // commit time checkpointing, and copied the same hot pages (sessions, ops' indexes) again each time.
  // Ten times fewer, larger checkpoints: the log may reach about 40 MB between them.
  sqlite.pragma(`wal_autocheckpoint = ${WAL_CHECKPOINT_PAGES}`);
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  const seen = changesSeen(sqlite);
  const store = new KyselyStore(new Kysely<DB>({ dialect: new WritersFirstSqliteDialect({ database: withStatementCache(sqlite, seen.wrote) }) }), 'sqlite', {
    readVersion: seen.version,
  });
  await store.migrate();
  return store;
}

/**
 * Kysely prepares every query it runs; preparing costs as much as running a small one. The engine
 * and the API run the same few hundred statements over and over, so the prepared statements are
 * kept, the most recently used STATEMENT_CACHE of them (multi-row inserts of varying length come and
 * go). Safe: one connection runs one statement at a time (Kysely's mutex), and SQLite re-prepares a
 * kept statement by itself when the schema changes.
 */
const STATEMENT_CACHE = 500;

function withStatementCache(db: Database.Database, wrote: () => void): SqliteDatabase {
  const kept = new Map<string, Database.Statement>();
  return {
    close: () => db.close(),
    prepare(sql: string) {
      let st = kept.get(sql);
      if (st) kept.delete(sql); // re-inserted below: most recently used last
      else st = db.prepare(sql);
      kept.set(sql, st);
      if (kept.size > STATEMENT_CACHE) kept.delete(kept.keys().next().value!);
      // Also counts this connection's writes for the read version (changesSeen): Kysely prepares
      // each statement right before it runs it, in the same synchronous call.
      if (!st.readonly) wrote();
      return st;
    },
  };
}

/**
 * The store's read version (read-cache.ts): a number that moves whenever what this connection
 * reads may have changed. `pragma data_version` changes when another connection (this process's
 * other thread, or another process) commits; it does not see this connection's own writes, which
 * the statement cache reports (`wrote`: every statement SQLite calls not read-only). A read costs
 * one pragma: a read lock on the write-ahead log's index and an `fstat`, about 4 µs alone and 15 µs
 * in a loaded service (docs/bench-history.md, tenth session), against three reads of 50–150 µs it saves.
 */
function changesSeen(db: Database.Database): { version: () => number; wrote: () => void } {
  const dataVersion = db.prepare('pragma data_version').pluck();
  let version = 0;
  let last: unknown;
  return {
    version() {
      const v = dataVersion.get();
      if (v !== last) {
        last = v;
        version++;
      }
      return version;
    },
    wrote: () => void version++,
  };
}

/**
 * Two connections write one file when `fenix serve` runs its engine in a thread. A deferred
 * transaction (SQLite's `begin`) that reads and then writes fails at once with SQLITE_BUSY when the
 * other connection wrote in between (its snapshot is stale; the busy timeout does not apply). So a
 * transaction takes the write lock when it begins (`begin immediate`, which waits up to
 * busy_timeout), except one that asks for an isolation level: the store's read snapshots
 * (`repeatable read`), which stay deferred so the API's reads never wait for the engine's writes.
 */
class WritersFirstSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection, settings?: TransactionSettings): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(settings?.isolationLevel ? 'begin' : 'begin immediate'));
  }
}

class WritersFirstSqliteDialect extends SqliteDialect {
  constructor(private readonly config: SqliteDialectConfig) {
    super(config);
  }

  override createDriver(): Driver {
    return new WritersFirstSqliteDriver(this.config);
  }
}
