// PostgreSQL: a transaction's statements in one round trip. The engine's commit is a dozen small
// statements; sent one by one, each waits for the server's answer before the next goes out, and on
// a loaded machine the waits (two context switches each) cost far more than the statements. A
// simple-protocol query may hold several statements, which the server runs as one transaction
// (atomic: the first error rolls back all of them) and answers together. That protocol takes no
// bound parameters, so each statement's parameters are written into its text as literals, escaped
// by node-postgres's own `escapeLiteral`. A very large commit goes out in parts, in one explicit
// transaction.
//
// Written in as literals, a statement is parsed and planned again on every commit: that was about
// half of what the server spent on the engine's commits. So a statement text that comes back on a
// connection (the store's statements are compiled once per shape) is prepared there once, and the
// script then says `EXECUTE name(literals…)`, which the server neither parses nor plans again.
import type { CompiledQuery } from 'kysely';
import pg from 'pg';

/**
 * A statement of a script: SQL text as it is, a compiled query (its parameters written in, or
 * executed prepared), or a function that writes the text when its part of the script is sent (a bulk
 * write: the caller holds its rows anyway, so its text never has to be held with the others').
 */
export type ScriptStatement = string | CompiledQuery | (() => string);

/** Runs statements as one transaction, in one round trip (a very large script in parts); their results, in order. */
export type ScriptRunner = (statements: readonly ScriptStatement[]) => Promise<pg.QueryResult[]>;

/** Statement texts prepared on one connection at most; past it, texts are written in as before. */
const MAX_PREPARED = 256;
/** Longer texts are written in: a shape that large comes once (a session's first inventory). */
const MAX_PREPARED_CHARS = 16_384;
/**
 * A statement with more values is a bulk write (a step's thousand new moves): its text is written
 * at once, as it is added, so its values are not held until the script runs, and planning it again
 * costs little against what it writes. (The largest, a session's first 80,000 instances, come as
 * functions and are written only as their part is sent.)
 */
const MAX_PREPARED_PARAMS = 256;

/** A compiled query as a script holds it until it runs: itself when it may be prepared, else its text now. */
export const scriptStatement = (q: CompiledQuery): ScriptStatement => (q.parameters.length > MAX_PREPARED_PARAMS ? inlineParameters(q) : q);

/** What one connection has prepared, and the texts it has seen once (prepared when seen again). */
interface Prepared {
  names: Map<string, string>;
  seen: Set<string>;
  /** Texts the server could not prepare (a parameter whose type it cannot infer): always written in. */
  refused: Set<string>;
}
const preparedOn = new WeakMap<pg.PoolClient, Prepared>();
let nextName = 0;

/**
 * SQL text sent in one round trip at most. A commit is a few kB; the first step of a 10,000-host
 * session writes 80,000 instance rows (tens of MB of text), which goes out in parts of this size
 * inside an explicit transaction, so no single string or buffer of the whole is ever built.
 */
export const SCRIPT_PART_CHARS = 1 << 20;

export function scriptRunner(pool: pg.Pool, partChars = SCRIPT_PART_CHARS): ScriptRunner {
  return async (statements) => {
    if (!statements.length) return [];
    const client = await pool.connect();
    let broken: Error | undefined;
    try {
      // Texts are written a part at a time: a large commit's text never exists whole.
      const parts = partsOf(await texts(client, statements), partChars);
      const first = parts.next().value!;
      let next = parts.next();
      if (next.done) return results(await client.query(first.join(';\n')));
      await client.query('begin');
      try {
        const out = results(await client.query(first.join(';\n')));
        for (; !next.done; next = parts.next()) out.push(...results(await client.query(next.value.join(';\n'))));
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

/**
 * The statements as text for this connection: a compiled query it has prepared as `EXECUTE`, any
 * other written in. A text seen for the second time is prepared first, in its own query outside the
 * script (one more round trip, once per text and connection), so that a text the server refuses to
 * prepare fails nothing but its preparation.
 */
async function texts(client: pg.PoolClient, statements: readonly ScriptStatement[]): Promise<Iterable<string>> {
  let p = preparedOn.get(client);
  if (!p) preparedOn.set(client, (p = { names: new Map(), seen: new Set(), refused: new Set() }));
  for (const st of statements) {
    if (typeof st !== 'object' || !st.parameters.length || p.names.has(st.sql) || p.refused.has(st.sql)) continue;
    if (!p.seen.has(st.sql)) {
      if (st.sql.length <= MAX_PREPARED_CHARS && p.seen.size < 4 * MAX_PREPARED) p.seen.add(st.sql);
      continue;
    }
    if (p.names.size >= MAX_PREPARED) continue;
    const name = `fenix_s${++nextName}`;
    try {
      await client.query(`prepare ${name} as ${st.sql}`);
      p.names.set(st.sql, name);
    } catch {
      p.refused.add(st.sql);
    }
  }
  const names = p.names;
  return (function* () {
    for (const st of statements) {
      if (typeof st === 'string') yield st;
      else if (typeof st === 'function') yield st();
      else {
        const name = names.get(st.sql);
        yield name ? `execute ${name}(${st.parameters.map(literal).join(', ')})` : inlineParameters(st);
      }
    }
  })();
}

/** Consecutive statements grouped up to `max` characters a group (a longer statement alone), lazily. */
function* partsOf(statements: Iterable<string>, max: number): Generator<string[]> {
  let part: string[] = [];
  let size = 0;
  for (const st of statements) {
    if (part.length && size + st.length > max) {
      yield part;
      part = [];
      size = 0;
    }
    part.push(st);
    size += st.length + 2;
  }
  if (part.length) yield part;
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
