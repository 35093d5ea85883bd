// PostgreSQL: a transaction's statements in one round trip. The engine's commit is a dozen small
// statements; sent one by one, each waits for the server's answer before the next goes out, and on
// a loaded machine the waits (two context switches each) cost far more than the statements. A
// simple-protocol query may hold several statements, which the server runs as one transaction
// (atomic: the first error rolls back all of them) and answers together. That protocol takes no
// bound parameters, so each statement's parameters are written into its text as literals, escaped
// by node-postgres's own `escapeLiteral`. A very large commit goes out in parts, in one explicit
// transaction.
import type { CompiledQuery } from 'kysely';
import pg from 'pg';

/** Runs statements as one transaction, in one round trip (a very large script in parts); their results, in order. */
export type ScriptRunner = (statements: readonly string[]) => Promise<pg.QueryResult[]>;

/**
 * SQL text sent in one round trip at most. A commit is a few kB; the first step of a 10,000-host
 * session writes 80,000 instance rows (tens of MB of text), which goes out in parts of this size
 * inside an explicit transaction, so no single string or buffer of the whole is ever built.
 */
export const SCRIPT_PART_CHARS = 1 << 20;

export function scriptRunner(pool: pg.Pool, partChars = SCRIPT_PART_CHARS): ScriptRunner {
  return async (statements) => {
    if (!statements.length) return [];
    const parts = partsOf(statements, partChars);
    const client = await pool.connect();
    let broken: Error | undefined;
    try {
      if (parts.length === 1) return results(await client.query(parts[0]!.join(';\n')));
      await client.query('begin');
      try {
        const out: pg.QueryResult[] = [];
        for (const part of parts) out.push(...results(await client.query(part.join(';\n'))));
        await client.query('commit');
        return out;
      } catch (e) {
        await client.query('rollback').catch((err: Error) => (broken = err));
        throw e;
      }
    } finally {
      client.release(broken);
    }
  };
}

const results = (r: pg.QueryResult | pg.QueryResult[]): pg.QueryResult[] => (Array.isArray(r) ? r : [r]);

/** Consecutive statements grouped up to `max` characters a group (a longer statement alone). */
function partsOf(statements: readonly string[], max: number): string[][] {
  const parts: string[][] = [];
  let size = Infinity;
  for (const st of statements) {
    if (size + st.length > max) {
      parts.push([]);
      size = 0;
    }
    parts.at(-1)!.push(st);
    size += st.length + 2;
  }
  return parts;
}

/**
 * A compiled query's text with its `$n` placeholders replaced by literals. Placeholders inside
 * quoted strings or identifiers are left alone (Kysely writes none there, but its text is not ours).
 */
export function inlineParameters(q: CompiledQuery): string {
  const params = q.parameters;
  const text = q.sql;
  // Copied in slices between placeholders (a string built a character at a time would be a rope of
  // millions of nodes for the 80,000 rows of a large session's first step).
  const out: string[] = [];
  const special = /['"]|\$(\d+)/g;
  let from = 0;
  for (let m = special.exec(text); m; m = special.exec(text)) {
    if (m[1] === undefined) {
      // A quoted run ('…' or "…", the quote doubled inside): copied as it is.
      const quote = m[0];
      let j = m.index + 1;
      for (;;) {
        j = text.indexOf(quote, j);
        if (j < 0) throw new Error(`unterminated ${quote} in: ${text.slice(m.index, m.index + 40)}`);
        if (text[j + 1] !== quote) break;
        j += 2;
      }
      special.lastIndex = j + 1;
      continue;
    }
    const n = Number(m[1]);
    if (n < 1 || n > params.length) throw new Error(`placeholder $${n} has no parameter (${params.length} given)`);
    out.push(text.slice(from, m.index), literal(params[n - 1]));
    from = m.index + m[0].length;
  }
  out.push(text.slice(from));
  return out.join('');
}

/** A value as a PostgreSQL literal: the types the store binds (its JSON is already text). */
export function literal(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  switch (typeof v) {
    case 'string':
      return pg.escapeLiteral(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'bigint':
      return v < 0n ? `(${v})` : String(v);
    case 'number':
      if (!Number.isFinite(v)) throw new TypeError(`cannot write ${v} as a literal`);
      // In parentheses when negative: "x - -1" would start a comment ("--").
      return v < 0 || Object.is(v, -0) ? `(${v})` : String(v);
    default:
      throw new TypeError(`cannot write a ${typeof v} as a literal`);
  }
}
