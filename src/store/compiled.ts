// Queries built and compiled once. Kysely builds an operation tree and compiles it to SQL on every
// call, which on SQLite costs about as much as running a small indexed read (a fifth of a reply
// PUT's time at 1,000 hosts). The API's hottest reads are compiled once with placeholders; each
// call binds its own values to the same SQL (and SQLite's kept prepared statement).
import { CompiledQuery, type Compilable, type Kysely, type QueryResult, type Transaction } from 'kysely';
import type { ReadCache } from './read-cache.js';
import type { DB } from './schema.js';

type Db = Kysely<DB> | Transaction<DB>;

/** A placeholder that stands for argument `i` while the query is compiled. */
const slot = (i: number): string => `\u0000fenix-arg-${i}\u0000`;

/** A compiled query kept as raw SQL, and where each of its bound parameters comes from. */
interface Bound {
  compiled: CompiledQuery;
  /** An argument (by index) or a constant of the query. */
  bind: ({ arg: number } | { value: unknown })[];
}

/**
 * Compile what `build` made with `arity` placeholders standing for the arguments. Kept as raw SQL:
 * the operation tree of a 200-row insert is thousands of nodes, and running a compiled query needs
 * only its text (db.executeQuery, the PostgreSQL script). Throws when an argument is not bound.
 */
function bindOnce(q: Compilable<unknown>, arity: number, what: string): Bound {
  const compiled = q.compile();
  const slots = new Map(Array.from({ length: arity }, (_, i) => [slot(i), i]));
  const bind = compiled.parameters.map((p) => {
    const i = typeof p === 'string' ? slots.get(p) : undefined;
    return i === undefined ? { value: p } : { arg: i };
  });
  if (new Set(bind.flatMap((b) => ('arg' in b ? [b.arg] : []))).size !== arity) throw new Error(`${what} does not bind each of its ${arity} values: an argument is not a bound parameter`);
  return { compiled: CompiledQuery.raw(compiled.sql), bind };
}

/**
 * The query of `b` with these values bound. Written out, not `{ ...b.compiled, parameters }`: V8
 * (Node 20) gives each object made by a spread plus a field a hidden class of its own, and this
 * runs for every statement.
 */
function withValues<R>(b: Bound, values: readonly unknown[]): CompiledQuery<R> {
  const { query, queryId, sql } = b.compiled;
  return { query, queryId, sql, parameters: b.bind.map((x) => ('arg' in x ? values[x.arg] : x.value)) } as CompiledQuery<R>;
}

/** Numbers the cached queries: their entries' keys start with it. */
let cachedQueries = 0;

/**
 * `build` receives placeholders (typed as the arguments, so it reads like any query) and must use
 * each only as a bound value, never to choose the query's shape. Returns a runner taking the
 * database or transaction to run on and the values. With a `cache`, its runs on `db` itself (not in
 * a transaction) are answered from it while the database is unchanged (read-cache.ts).
 */
export function compiledOnce<A extends unknown[], R>(db: Kysely<DB>, arity: A['length'], build: (db: Kysely<DB>, ...args: A) => Compilable<R>, cache?: ReadCache) {
  const bound = bindOnce(build(db, ...(Array.from({ length: arity }, (_, i) => slot(i)) as A)), arity, 'compiledOnce: the query');
  const run = (on: Db, values: A): Promise<QueryResult<R>> => on.executeQuery<R>(withValues<R>(bound, values));
  if (!cache) return (on: Db, ...values: A): Promise<QueryResult<R>> => run(on, values);
  // Outside a transaction only; the key is unambiguous whatever the values hold (JSON).
  const query = `${++cachedQueries}:`;
  return (on: Db, ...values: A): Promise<QueryResult<R>> => (on === db ? cache.get(query + JSON.stringify(values), () => run(on, values)) : run(on, values));
}

/**
 * Statements whose shape varies with the data (the columns a patch sets, the rows of a multi-row
 * insert) but repeats: each shape is built and compiled by Kysely once, then each call binds its
 * values to the same SQL. A commit writes a few dozen such statements per host, and building them
 * cost more than SQLite took to run them.
 *
 * `key` must name everything that decides the shape (table, columns, row count, clauses); `build`
 * receives `arg(i)` placeholders for `values[i]` and must use each only as a bound value.
 */
export class Shapes {
  private readonly shapes = new Map<string, Bound>();

  constructor(
    private readonly db: Kysely<DB>,
    /** Shapes kept (most recently made last); the oldest are dropped beyond it. */
    private readonly max = 2_000,
  ) {}

  query<R>(key: string, values: readonly unknown[], build: (db: Kysely<DB>, arg: (i: number) => never) => Compilable<R>): CompiledQuery<R> {
    let shape = this.shapes.get(key);
    if (!shape) {
      shape = bindOnce(build(this.db, (i) => slot(i) as never), values.length, `Shapes: shape ${key}`);
      this.shapes.set(key, shape);
      if (this.shapes.size > this.max) this.shapes.delete(this.shapes.keys().next().value!);
    }
    return withValues<R>(shape, values);
  }
}
