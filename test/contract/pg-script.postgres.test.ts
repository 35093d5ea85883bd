// PostgreSQL scripts (src/store/postgres/script.ts): the engine's commit goes out as one
// simple-protocol query with its parameters written in as literals. What a value becomes must read
// back as exactly that value, whatever it holds; a failing statement must roll back the script. A
// statement seen again on a connection is prepared there and executed, with the same answers.
import { CompiledQuery } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inlineParameters, literal, scriptRunner } from '../../src/store/postgres/script.js';
import { requirePostgres, TEST_PG_URL } from '../helpers/pg.js';

const q = (text: string, ...parameters: unknown[]) => CompiledQuery.raw(text, parameters);

describe('literals', () => {
  it('writes each parameter where its placeholder is, $10 not mistaken for $1', () => {
    const params = Array.from({ length: 11 }, (_, i) => i + 1);
    expect(inlineParameters(q('select $1, $10, $11', ...params))).toBe('select 1, 10, 11');
  });

  it('leaves placeholders inside quoted strings and identifiers alone', () => {
    expect(inlineParameters(q(`select '$1', "a$1""$2", $1`, 'x'))).toBe(`select '$1', "a$1""$2", 'x'`);
    expect(inlineParameters(q(`select 'it''s $1', $1`, 7))).toBe(`select 'it''s $1', 7`);
  });

  it('quotes strings (quotes doubled, backslashes in an E string) and puts negative numbers in parentheses', () => {
    expect(literal("o'neil")).toBe("'o''neil'");
    expect(literal('a\\b')).toBe(" E'a\\\\b'");
    expect(literal(-1)).toBe('(-1)');
    expect(literal(-0)).toBe('(0)');
    expect(literal(2.5)).toBe('2.5');
    expect(literal(-3n)).toBe('(-3)');
    expect(literal(true)).toBe('true');
    expect(literal(null)).toBe('null');
    // "x - -1" would turn the rest of the line into a comment.
    expect(inlineParameters(q('select 5 - $1', -1))).toBe('select 5 - (-1)');
  });

  it('refuses what it cannot write exactly, and a placeholder without a parameter', () => {
    expect(() => literal(Number.NaN)).toThrow(TypeError);
    expect(() => literal(Infinity)).toThrow(TypeError);
    expect(() => literal({ a: 1 })).toThrow(TypeError);
    expect(() => literal(new Date())).toThrow(TypeError);
    expect(() => inlineParameters(q('select $2', 1))).toThrow(/\$2 has no parameter/);
    expect(() => inlineParameters(q("select 'no end, $1", 1))).toThrow(/unterminated/);
  });
});

describe('scripts on PostgreSQL', () => {
  let pool: pg.Pool;
  beforeAll(async () => {
    await requirePostgres();
    pool = new pg.Pool({ connectionString: TEST_PG_URL, max: 2 });
  });
  afterAll(async () => {
    await pool?.end();
  });

  it('reads back every string as it was written, whatever it holds', async () => {
    const hostile = [
      "'; drop table sessions; --",
      "\\'; select 1; --",
      'back\\slash \\\\ and \\x41 and \\n',
      '$1 $$ $tag$ dollar',
      '"double" and \'single\' quotes',
      'line\nbreak\ttab\r',
      'ünïcödé ✓ 🚀 𝄞',
      '/* comment */ -- comment',
      '',
    ];
    const run = scriptRunner(pool);
    const results = await run(hostile.map((s) => inlineParameters(q('select $1::text as v, $2::bigint as n, $3::float8 as f', s, -42, -1.5))));
    expect(results.map((r) => r.rows[0].v)).toEqual(hostile);
    expect(results.every((r) => Number(r.rows[0].n) === -42 && Number(r.rows[0].f) === -1.5)).toBe(true);
  });

  it('runs the statements as one transaction: a failing one rolls back the ones before it', async () => {
    const table = `script_test_${process.pid}`;
    await pool.query(`create table ${table} (id integer primary key)`);
    try {
      const run = scriptRunner(pool);
      await expect(run([`insert into ${table} values (1)`, `insert into ${table} values (2)`, `insert into ${table} values (1)`])).rejects.toThrow(/duplicate key/);
      expect((await pool.query(`select count(*)::int as n from ${table}`)).rows[0].n).toBe(0);
      const ok = await run([`insert into ${table} values (1)`, `select count(*)::int as n from ${table}`]);
      expect(ok[1]!.rows[0].n).toBe(1);
      // A script larger than a part goes out in parts, still one transaction, results in order.
      const parted = scriptRunner(pool, 40);
      const inserts = [2, 3, 4, 5].map((i) => `insert into ${table} values (${i}) returning id`);
      await expect(parted([...inserts, `insert into ${table} values (1)`])).rejects.toThrow(/duplicate key/);
      expect((await pool.query(`select count(*)::int as n from ${table}`)).rows[0].n).toBe(1);
      const rows = await parted([...inserts, `select count(*)::int as n from ${table}`]);
      expect(rows.map((r) => r.rows[0].id ?? r.rows[0].n)).toEqual([2, 3, 4, 5, 5]);
    } finally {
      await pool.query(`drop table ${table}`);
    }
  });

  it('prepares a statement seen again on a connection and executes it: same answers, hostile values included', async () => {
    const one = new pg.Pool({ connectionString: TEST_PG_URL, max: 1 }); // one connection: what it prepared stays
    try {
      const run = scriptRunner(one);
      const shape = 'select $1::text as v, $2::bigint as n';
      const prepared = async () => (await one.query(`select statement from pg_prepared_statements`)).rows.map((r) => String(r.statement));
      const values = ["'; drop table sessions; --", '$1 $$ \\ ünï', ''];
      for (let round = 0; round < 3; round++) {
        const r = await run(values.map((v, i) => q(shape, v, -1 - i)));
        expect(r.map((x) => [x.rows[0].v, Number(x.rows[0].n)])).toEqual(values.map((v, i) => [v, -1 - i]));
      }
      expect((await prepared()).filter((t) => t.includes(shape))).toHaveLength(1);
      // The server cannot tell the type of $1 here: not prepared, still run (written in), every time.
      for (let round = 0; round < 3; round++) expect((await run([q('select $1 + $2 as v', 2, 3)]))[0]!.rows[0].v).toBe(5);
      expect((await prepared()).some((t) => t.includes('select $1 + $2'))).toBe(false);
      // A failing script leaves what was prepared usable.
      await expect(run([q(shape, 'a', 1), q('select 1 / $1::int as x', 0)])).rejects.toThrow(/division by zero/);
      expect((await run([q(shape, 'b', 2)]))[0]!.rows[0]).toEqual({ v: 'b', n: '2' });
    } finally {
      await one.end();
    }
  });
});
