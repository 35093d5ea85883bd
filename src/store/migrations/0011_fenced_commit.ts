// 0011: PostgreSQL sends the engine's commit as one script (postgres/script.ts), so the fence check
// must stop the script by itself: `fenix_fenced` passes the session's change number on and raises
// FX001 when there is none (the fenced UPDATE matched no row: another engine holds the session),
// which rolls the whole script back. SQLite checks the fence between statements and needs nothing.
import { sql, type Kysely } from 'kysely';
import { isPg } from './dialect.js';

/** The SQLSTATE `fenix_fenced` raises. */
export const FENCE_LOST_SQLSTATE = 'FX001';

export async function up(db: Kysely<unknown>): Promise<void> {
  if (!isPg(db)) return;
  await sql`create or replace function fenix_fenced(change_seq bigint) returns bigint language plpgsql as $$
begin
  if change_seq is null then
    raise exception 'the session is held under another fence' using errcode = 'FX001';
  end if;
  return change_seq;
end $$`.execute(db);
}

