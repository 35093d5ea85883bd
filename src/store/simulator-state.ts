// The simulated cloud's state in the service's own database (migration 0006), on SQLite and
// PostgreSQL alike: one row per host, instance, operation, idempotency key and meta entry, so a
// change writes only the rows it touched (ports/simulator-state.ts).
import { sql, type Kysely, type RawBuilder } from 'kysely';
import { emptySimulatorRows, SIMULATOR_TABLES, type SimulatorRows, type SimulatorStateStore, type SimulatorTable } from '../ports/simulator-state.js';
import { isPg, relaxedCommit } from './migrations/dialect.js';
import type { DB } from './schema.js';
import { Shapes } from './compiled.js';
import { insertRows } from './shaped-writes.js';

const TABLE = {
  hosts: 'simulator_hosts',
  instances: 'simulator_instances',
  ops: 'simulator_ops',
  keys: 'simulator_keys',
  meta: 'simulator_meta',
} as const satisfies Record<SimulatorTable, keyof DB>;

/**
 * Rows per statement: 2 bound values each, far below SQLite's limit of bound values per statement
 * (32766) and PostgreSQL's (65535); only the first save of a large cloud needs more than one.
 */
const CHUNK = 500;

function* chunks<T>(xs: T[]): Generator<T[]> {
  for (let i = 0; i < xs.length; i += CHUNK) yield xs.slice(i, i + CHUNK);
}

export class KyselySimulatorState implements SimulatorStateStore {
  /** The database of a KyselyStore (`store.db`); the store owns and closes it. */
  constructor(private readonly db: Kysely<DB>) {
    this.shapes = new Shapes(db);
  }

  /** Upserts of a few rows each, the same shapes over and over (compiled.ts). */
  private readonly shapes: Shapes;

  async load(): Promise<SimulatorRows> {
    const out = emptySimulatorRows();
    for (const t of SIMULATOR_TABLES) {
      // Each table by its own name: the union of table names does not narrow in Kysely's types.
      const rows = await this.db.selectFrom(TABLE[t] as 'simulator_hosts').select(['id', 'data']).orderBy('id').execute();
      for (const r of rows) out[t].set(r.id, JSON.parse(r.data));
    }
    return out;
  }

  async get(table: SimulatorTable, key: string): Promise<unknown> {
    const row = await this.db.selectFrom(TABLE[table] as 'simulator_hosts').select('data').where('id', '=', key).executeTakeFirst();
    return row === undefined ? undefined : JSON.parse(row.data);
  }

  async apply(changes: SimulatorRows): Promise<void> {
    if (SIMULATOR_TABLES.every((t) => changes[t].size === 0)) return;
    if (isPg(this.db as unknown as Kysely<unknown>) && SIMULATOR_TABLES.every((t) => changes[t].size <= CHUNK)) return this.applyAsOneStatement(changes);
    await this.db.transaction().execute(async (trx) => {
      // The simulated cloud is a test cloud: survives our crashes, need not wait for the disk.
      await relaxedCommit(trx);
      for (const t of SIMULATOR_TABLES) {
        const table = TABLE[t] as 'simulator_hosts';
        const upserts: { id: string; data: string }[] = [];
        const deletes: string[] = [];
        for (const [id, value] of changes[t]) {
          if (value === null) deletes.push(id);
          else upserts.push({ id, data: JSON.stringify(value) });
        }
        for (const part of chunks(upserts)) await trx.executeQuery(insertRows(this.shapes, table, part, { conflict: { cols: ['id'], update: ['data'] } }));
        for (const part of chunks(deletes)) await trx.deleteFrom(table).where('id', 'in', part).execute();
      }
    });
  }

  /**
   * PostgreSQL, a change of a few rows (every driver call of the engine): one statement, so one
   * round trip instead of six (begin, set, the upserts, commit), with every write a data-modifying
   * CTE. A single statement is its own transaction, so it stays atomic; `set_config(…, true)` is
   * local to that transaction: the relaxed commit of the transaction path.
   */
  private async applyAsOneStatement(changes: SimulatorRows): Promise<void> {
    const writes: RawBuilder<unknown>[] = [];
    for (const t of SIMULATOR_TABLES) {
      const table = sql.table(TABLE[t]);
      const upserts: RawBuilder<unknown>[] = [];
      const deletes: string[] = [];
      for (const [id, value] of changes[t]) {
        if (value === null) deletes.push(id);
        else upserts.push(sql`(${id}, ${JSON.stringify(value)})`);
      }
      const name = (kind: string) => sql.id(`${kind}_${t}`);
      if (upserts.length)
        writes.push(sql`${name('up')} as (insert into ${table} (id, data) values ${sql.join(upserts)} on conflict (id) do update set data = excluded.data)`);
      if (deletes.length) writes.push(sql`${name('del')} as (delete from ${table} where id in (${sql.join(deletes)}))`);
    }
    await sql`with ${sql.join(writes)} select set_config('synchronous_commit', 'off', true)`.execute(this.db);
  }
}
