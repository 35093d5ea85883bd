import { describe, expect, it } from 'vitest';
import { TableGrowth } from '../../src/store/table-stats.js';

describe('TableGrowth (when the PostgreSQL store runs ANALYZE)', () => {
  it('names a table once it has grown by as much as it had, at least 100 rows: log2(n) times in all', () => {
    const g = new TableGrowth<'ops' | 'session_instances'>();
    g.note('ops', 99);
    expect(g.take()).toEqual([]);
    g.note('ops', 1);
    g.note('session_instances', 8000);
    expect(g.take().sort()).toEqual(['ops', 'session_instances']);
    expect(g.take()).toEqual([]); // taken: not again until it grows again
    g.note('ops', 99);
    expect(g.take()).toEqual([]);
    g.note('ops', 1); // 200 = twice what it had when analyzed
    expect(g.take()).toEqual(['ops']);
    let analyses = 0;
    for (let i = 0; i < 10_000; i++) {
      g.note('ops', 8);
      analyses += g.take().length;
    }
    expect(analyses).toBeLessThanOrEqual(Math.ceil(Math.log2(80_200 / 200)));
    g.note('ops', 0);
    expect(g.take()).toEqual([]);
  });
});
