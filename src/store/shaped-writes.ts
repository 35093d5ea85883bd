// The commit's hot statements (UPDATE … SET the patched columns, multi-row INSERT … ON CONFLICT)
// through Shapes (compiled.ts): Kysely writes each shape's SQL once, each call binds its values.
// The key names all that decides the SQL: table, columns, row count, clauses.
import { sql, type CompiledQuery, type Kysely } from 'kysely';
import type { Shapes } from './compiled.js';
import type { DB } from './schema.js';

// Tables and columns come from the store's own code, never from callers' data: Kysely's types
// cannot follow a table chosen at run time, so the builders below are untyped.
/* eslint-disable @typescript-eslint/no-explicit-any */
type Db = Kysely<any>;
type Row = Record<string, unknown>;

/**
 * `UPDATE table SET <set> WHERE <eq, all => [AND col IN (<in>)] [RETURNING col]`. Columns in the
 * order given (the caller's patch object); a column of `set` whose value is undefined is an error.
 */
export function updateWhere<R = unknown>(
  shapes: Shapes,
  table: keyof DB,
  set: Row,
  eq: Row,
  opts: { in?: { col: string; values: readonly unknown[] }; returning?: string } = {},
): CompiledQuery<R> {
  const setCols = Object.keys(set);
  const eqCols = Object.keys(eq);
  const list = opts.in?.values ?? [];
  const key = `u|${table}|${setCols.join(',')}|${eqCols.join(',')}|${opts.in ? `${opts.in.col}:${list.length}` : ''}|${opts.returning ?? ''}`;
  const values = [...setCols.map((c) => set[c]), ...eqCols.map((c) => eq[c]), ...list];
  return shapes.query<R>(key, values, (db, arg) => {
    let q: any = (db as Db).updateTable(table).set(Object.fromEntries(setCols.map((c, i) => [c, arg(i)])));
    eqCols.forEach((c, i) => (q = q.where(c, '=', arg(setCols.length + i))));
    if (opts.in) q = q.where(opts.in.col, 'in', list.map((_, i) => arg(setCols.length + eqCols.length + i)));
    if (opts.returning) q = q.returning(opts.returning);
    return q;
  });
}

/**
 * PostgreSQL: `UPDATE table AS t SET c = v.c, … FROM (VALUES (<key>, <c>, …), …) AS v(<key>, <c>, …)
 * WHERE t.<eq> = … AND t.<key> = v.<key>`: rows that set the same columns, each to its own values.
 * A VALUES list types its columns from its casts, so the key and each column come with their
 * PostgreSQL type. Each row is its key's value, then its columns' values, in order.
 */
export function updateFromValues(
  shapes: Shapes,
  table: keyof DB,
  key: readonly [col: string, type: string],
  cols: readonly (readonly [col: string, type: string])[],
  rows: readonly (readonly unknown[])[],
  eq: Row,
): CompiledQuery {
  const eqCols = Object.keys(eq);
  const width = cols.length + 1;
  const values = [...eqCols.map((c) => eq[c]), ...rows.flat()];
  const shape = `uv|${table}|${key.join(':')}|${cols.map((c) => c.join(':')).join(',')}|${eqCols.join(',')}|${rows.length}`;
  return shapes.query(shape, values, (db, arg) => {
    const at = (r: number, j: number) => arg(eqCols.length + r * width + j);
    const typed = [key, ...cols];
    const list = rows.map((_, r) => sql`(${sql.join(typed.map(([, type], j) => sql`${at(r, j)}::${sql.raw(type)}`))})`);
    const q = sql`update ${sql.table(table)} as t set ${sql.join(cols.map(([c]) => sql`${sql.id(c)} = v.${sql.id(c)}`))}
      from (values ${sql.join(list)}) as v(${sql.join(typed.map(([c]) => sql.id(c)))})
      where ${sql.join(eqCols.map((c, i) => sql`t.${sql.id(c)} = ${arg(i)}`), sql` and `)} and t.${sql.id(key[0])} = v.${sql.id(key[0])}`;
    return { compile: () => q.compile(db as Db) };
  });
}

/**
 * `INSERT INTO table (<the first row's columns>) VALUES …` for rows that all have those columns,
 * `ON CONFLICT (<cols>) DO NOTHING` or `DO UPDATE SET c = excluded.c` for the columns named, and
 * `RETURNING` the columns named, and (PostgreSQL) whether each row was inserted as `fresh`.
 */
export function insertRows<R = unknown>(
  shapes: Shapes,
  table: keyof DB,
  rows: readonly Row[],
  opts: { conflict?: { cols: readonly string[]; update?: readonly string[] }; returning?: readonly string[]; fresh?: boolean } = {},
): CompiledQuery<R> {
  const cols = Object.keys(rows[0]!);
  const values: unknown[] = [];
  for (const r of rows) {
    if (Object.keys(r).length !== cols.length) throw new Error(`insertRows(${table}): rows with different columns`);
    for (const c of cols) values.push(r[c]);
  }
  const c = opts.conflict;
  const key = `i|${table}|${cols.join(',')}|${rows.length}|${c ? `${c.cols.join(',')}:${c.update?.join(',') ?? ''}` : ''}|${opts.returning?.join(',') ?? ''}|${opts.fresh ? 'fresh' : ''}`;
  return shapes.query<R>(key, values, (db, arg) => {
    let q: any = (db as Db).insertInto(table).values(rows.map((_, r) => Object.fromEntries(cols.map((col, j) => [col, arg(r * cols.length + j)]))));
    if (c)
      q = q.onConflict((oc: any) =>
        c.update?.length ? oc.columns(c.cols).doUpdateSet(Object.fromEntries(c.update.map((u) => [u, sql.ref(`excluded.${u}`)]))) : oc.columns(c.cols).doNothing(),
      );
    if (opts.returning?.length) q = q.returning(opts.returning);
    // PostgreSQL: xmax is 0 on a row version no transaction has locked or updated: the row was inserted.
    if (opts.fresh) q = q.returning(sql<boolean>`xmax = 0`.as('fresh'));
    return q;
  });
}
