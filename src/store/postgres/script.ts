// PostgreSQL: a transaction's statements in one round trip. The engine's commit is a dozen small
// statements; sent one by one, each waits for the server's answer before the next goes out, and on
// a loaded machine the waits (two context switches each) cost far more than the statements. A
// simple-protocol query may hold several statements, which the server runs as one transaction
// (atomic: the first error rolls back all of them) and answers together. That protocol takes no
// bound parameters, so each statement's parameters are written into its text as literals, escaped
// by node-postgres's own `escapeLiteral`.
import type { CompiledQuery } from 'kysely';
import pg from 'pg';

/** Runs statements as one transaction in one round trip; their results, in order. */
export type ScriptRunner = (statements: readonly string[]) => Promise<pg.QueryResult[]>;

export function scriptRunner(pool: pg.Pool): ScriptRunner {
  return async (statements) => {
    if (!statements.length) return [];
    const client = await pool.connect();
    try {
      const res = (await client.query(statements.join(';\n'))) as pg.QueryResult | pg.QueryResult[];
      return Array.isArray(res) ? res : [res];
    } finally {
      client.release();
    }
  };
}

/**
 * A compiled query's text with its `$n` placeholders replaced by literals. Placeholders inside
 * quoted strings or identifiers are left alone (Kysely writes none there, but its text is not ours).
 */
export function inlineParameters(q: CompiledQuery): string {
  const params = q.parameters;
  const text = q.sql;
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === "'" || c === '"') {
      // A quoted run, with doubled quotes inside it.
      let j = i + 1;
      for (; j < text.length; j++) if (text[j] === c) {
        if (text[j + 1] === c) j++;
        else break;
      }
      out += text.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    if (c === '$' && /[0-9]/.test(text[i + 1] ?? '')) {
      let j = i + 1;
      while (j < text.length && /[0-9]/.test(text[j]!)) j++;
      const n = Number(text.slice(i + 1, j));
      if (n < 1 || n > params.length) throw new Error(`placeholder $${n} has no parameter (${params.length} given)`);
      out += literal(params[n - 1]);
      i = j;
      continue;
    }
    out += c;
    i++;
  }
  return out;
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
