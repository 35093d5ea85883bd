// bench:nova's pure judgement of Nova's own records: a vnf move counts as on plan only when Nova's
// migration of that server, in order, went to the host the session planned.
import { describe, expect, it } from 'vitest';
import { offPlan, violations, type SessionMove } from '../../src/bench/nova.js';

const S1 = '11111111-aaaa-4aaa-8aaa-000000000001';
const S2 = '22222222-bbbb-4bbb-8bbb-000000000002';
const mig = (instance: string, source: string, dest: string, created: number, status = 'confirmed') => ({
  instance, type: 'migration', status, source, dest, created, updated: created + 3000,
});
const move = (instance: string, target: string | null, started: number, status = 'done'): SessionMove => ({ instance, target, host: target, status, started });

describe('bench:nova offPlan', () => {
  it('passes moves that went where they were planned, in order', () => {
    const nova = [mig(S1, 'c1', 'c2', 1000), mig(S2, 'c2', 'c1', 2000), mig(S1, 'c2', 'c3', 9000)];
    expect(offPlan([move(S1, 'c3', 8000), move(S1, 'c2', 500), move(S2, 'c1', 1500)], nova)).toEqual([]);
  });

  it('reports a move Nova sent elsewhere, and a server whose move counts differ', () => {
    const nova = [mig(S1, 'c1', 'c3', 1000), mig(S2, 'c2', 'c1', 2000), mig(S2, 'c1', 'c3', 5000, 'error')];
    expect(offPlan([move(S1, 'c2', 500), move(S2, 'c1', 1500), move(S2, 'c3', 4000)], nova)).toEqual([
      '11111111: planned on c2, Nova moved it to c3',
      '22222222: 2 moves done in the session, 1 finished migrations in Nova',
    ]);
  });

  it('leaves the scheduler its choice where nothing was planned', () => {
    expect(offPlan([move(S1, null, 500)], [mig(S1, 'c1', 'c3', 1000)])).toEqual([]);
  });
});

describe('bench:nova violations', () => {
  it('sees two anti-affinity members on one host', () => {
    const v = violations([{ id: S1, host: 'c1' }, { id: S2, host: 'c2' }], [mig(S1, 'c1', 'c2', 1000)]);
    expect(v.length).toBeGreaterThan(0);
  });
});
