// The API's hottest reads, kept while the database has not changed: exact, never stale.
//
// Application managers poll their project's URL and repeat their replies; at 1,000 hosts, SQLite
// executing the same three indexed reads was half of a project GET's time. A database that can say
// cheaply whether anything changed since a read (SQLite: `pragma data_version`, which sees every
// other connection's commits, in any process, plus this connection's own writes, counted by the
// dialect) lets those reads be answered from memory until it changes. Each lookup asks the version
// first, so a cached answer is never older than the request: a change committed before the request
// started is always seen. Reads inside a transaction never come here (they want its snapshot).
import type { QueryResult } from 'kysely';

/**
 * What this connection sees of the database, as a number that changes whenever that may change
 * (another connection's commit, this connection's write). Synchronous: read before every lookup.
 */
export type ReadVersion = () => number;

/** Rows kept at most, over all entries (an entry of no rows counts one). */
const MAX_ROWS = 50_000;

export class ReadCache {
  private readonly entries = new Map<string, QueryResult<unknown>>();
  private rows = 0;
  private version = Number.NaN;

  constructor(
    private readonly current: ReadVersion,
    private readonly maxRows = MAX_ROWS,
  ) {}

  /**
   * `read`'s result for `key`, from memory when the database is as it was when it was read. The
   * version is taken before `read` runs: a change that lands while it runs makes the next lookup
   * read again, never keeps an older answer. Rows are frozen: callers share them.
   */
  async get<R>(key: string, read: () => Promise<QueryResult<R>>): Promise<QueryResult<R>> {
    const v = this.current();
    if (v !== this.version) {
      this.entries.clear();
      this.rows = 0;
      this.version = v;
    }
    const kept = this.entries.get(key);
    if (kept) return kept as QueryResult<R>;
    const got = await read();
    // The answer belongs to version v; keep it only if nothing changed meanwhile (another lookup
    // may have moved the cache on: its entries are not this one's).
    if (this.version !== v) return got;
    const raced = this.entries.get(key); // the same read, run twice at once
    if (raced) return raced as QueryResult<R>;
    for (const r of got.rows) Object.freeze(r);
    const result: QueryResult<R> = Object.freeze({ rows: Object.freeze(got.rows) as R[] });
    const weight = Math.max(1, got.rows.length);
    if (weight > this.maxRows) return result;
    while (this.rows + weight > this.maxRows) this.evictOldest();
    this.entries.set(key, result);
    this.rows += weight;
    return result;
  }

  private evictOldest(): void {
    const [key, r] = this.entries.entries().next().value!;
    this.entries.delete(key);
    this.rows -= Math.max(1, r.rows.length);
  }
}
