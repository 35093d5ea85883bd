// The API's hot reads kept between changes (src/store/read-cache.ts): exact, bounded, shared read-only.
import { describe, expect, it } from 'vitest';
import { ReadCache } from '../../src/store/read-cache.js';

/** A database stand-in: a version that moves on each change, and a read that counts its runs. */
function fake(rowsOf: (key: string) => unknown[] = (key) => [{ key }]) {
  const db = { version: 1, runs: 0 };
  const read = (key: string) => async () => {
    db.runs++;
    return { rows: rowsOf(key) };
  };
  return { db, read, cache: (maxRows?: number) => new ReadCache(() => db.version, maxRows) };
}

describe('ReadCache', () => {
  it('answers from memory while the version stands, and reads again once it moves', async () => {
    const { db, read, cache } = fake();
    const c = cache();
    expect((await c.get('a', read('a'))).rows).toEqual([{ key: 'a' }]);
    await c.get('a', read('a'));
    await c.get('b', read('b'));
    expect(db.runs).toBe(2);
    db.version++;
    await c.get('a', read('a'));
    await c.get('a', read('a'));
    expect(db.runs).toBe(3);
  });

  it('does not keep an answer read while the version moved (the version is taken before the read)', async () => {
    const { db, cache } = fake();
    const c = cache();
    let version = 0;
    const racing = async () => {
      db.runs++;
      db.version++; // another connection commits while the read runs
      version = db.version;
      return { rows: [{ at: version }] };
    };
    // The first lookup saw version 1 and its read ran under version 2: its answer is returned, not kept.
    expect((await c.get('k', racing)).rows).toEqual([{ at: 2 }]);
    // A lookup under version 2 that moved nothing meanwhile is kept.
    const steady = async () => ({ rows: [{ at: db.version }] });
    expect((await c.get('k', steady)).rows).toEqual([{ at: 2 }]);
    expect((await c.get('k', racing)).rows).toEqual([{ at: 2 }]);
    expect(db.runs).toBe(1);
  });

  it('shares frozen rows: a caller cannot change what the next one reads', async () => {
    const { read, cache } = fake();
    const c = cache();
    const r = await c.get('a', read('a'));
    expect(Object.isFrozen(r.rows)).toBe(true);
    expect(() => ((r.rows[0] as { key: string }).key = 'b')).toThrow(TypeError);
    expect(() => (r.rows as unknown[]).push({})).toThrow(TypeError);
    expect((await c.get('a', read('a'))).rows).toEqual([{ key: 'a' }]);
  });

  it('holds at most maxRows rows, the oldest entries leaving first; an empty answer counts one', async () => {
    const { db, read, cache } = fake((key) => (key === 'none' ? [] : key === 'big' ? Array.from({ length: 5 }, (_, i) => ({ i })) : [{ key }, { key }]));
    const c = cache(4);
    await c.get('a', read('a')); // 2 rows
    await c.get('none', read('none')); // counts 1
    await c.get('b', read('b')); // 2 more: 'a' leaves
    expect(db.runs).toBe(3);
    await c.get('none', read('none'));
    await c.get('b', read('b'));
    expect(db.runs).toBe(3);
    await c.get('a', read('a'));
    expect(db.runs).toBe(4);
    // An answer larger than the whole cache is returned, never kept.
    await c.get('big', read('big'));
    await c.get('big', read('big'));
    expect(db.runs).toBe(6);
  });
});
