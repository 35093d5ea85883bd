// PostgreSQL plans each statement from the statistics ANALYZE gathers, and autovacuum gathers them at
// most once a minute (autovacuum_naptime), after 10 % of a table changed. A session fills its tables
// in bulk within seconds (1,000 hosts: 8,000 instances in one step, then 11,000 ops), so for its
// whole run the planner would think them empty: it then updates 8 instances by scanning the
// session's 8,000 through any index that starts with session_id (measured: 38 million index entries
// read for one 1,000-host session, ~40 % of its time). So the store analyzes a table itself once it
// has grown enough since it last did.
//
// Cost: ANALYZE reads a fixed-size sample (30,000 rows at the default statistics target), and a
// table is analyzed when the rows this process inserted since the last time reach the rows it had
// inserted before (at least MIN_ROWS): log2(n / MIN_ROWS) times for n rows, tens of ms each.

/** Rows inserted into a table before its first ANALYZE. */
const MIN_ROWS = 100;

export class TableGrowth<T extends string> {
  /** Rows inserted by this process, per table: since start, and up to the last ANALYZE. */
  private readonly inserted = new Map<T, number>();
  private readonly analyzedAt = new Map<T, number>();

  /** `rows` were inserted into `table` (by a committed or pending transaction; either way, growth). */
  note(table: T, rows: number): void {
    if (rows > 0) this.inserted.set(table, (this.inserted.get(table) ?? 0) + rows);
  }

  /** The tables due for ANALYZE now; they count as analyzed from here on (at most one attempt each). */
  take(): T[] {
    const due: T[] = [];
    for (const [table, n] of this.inserted) {
      const before = this.analyzedAt.get(table) ?? 0;
      if (n - before >= Math.max(MIN_ROWS, before)) {
        due.push(table);
        this.analyzedAt.set(table, n);
      }
    }
    return due;
  }
}
