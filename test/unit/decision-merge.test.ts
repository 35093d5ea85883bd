// merge(): sub-step decisions combined in order, inputs left alone, linear in the parts' size.
import { describe, expect, it } from 'vitest';
import { merge, type Decision } from '../../src/domain/decision.js';

describe('merge(...decisions)', () => {
  it('keeps every list in order, later session fields win, the earliest wake-up is kept', () => {
    const a: Decision = { hosts: [{ name: 'h1', status: 'emptying' }], timeline: [{ at: 1, kind: 'x', message: 'a' }], wakeAt: 50 };
    const b: Decision = { session: { state: 'PLANNED_MAINTENANCE', phase: { inventoried: true } }, timeline: [{ at: 2, kind: 'x', message: 'b' }], wakeAt: 20 };
    const c: Decision = { session: { percentDone: 10 }, hosts: [{ name: 'h2', status: 'maintained' }], wakeAt: null };
    const d = merge(a, b, c);
    expect(d.hosts?.map((h) => h.name)).toEqual(['h1', 'h2']);
    expect(d.timeline?.map((t) => t.message)).toEqual(['a', 'b']);
    expect(d.session).toEqual({ state: 'PLANNED_MAINTENANCE', phase: { inventoried: true }, percentDone: 10 });
    expect(d.wakeAt).toBe(20);
    expect(merge({ session: { percentDone: 1 } }).session).toEqual({ percentDone: 1 });
  });

  it('never changes or hands out an input list', () => {
    const a: Decision = { ops: [{ key: 'k1', kind: 'move', subject: 'i1' }] };
    const b: Decision = { ops: [{ key: 'k2', kind: 'move', subject: 'i2' }] };
    const d = merge(a, b);
    expect(d.ops).not.toBe(a.ops);
    expect(a.ops).toHaveLength(1);
    expect(merge(a).ops).not.toBe(a.ops);
    expect(merge(d, { ops: [{ key: 'k3', kind: 'move', subject: 'i3' }] }).ops).toHaveLength(3);
    expect(d.ops).toHaveLength(2);
  });

  it('merges many parts (one per host of a large batch) in one pass', () => {
    const parts: Decision[] = Array.from({ length: 50_000 }, (_, k) => ({ hosts: [{ name: `h${k}` }], timeline: [{ at: k, kind: 'host', message: `h${k}` }] }));
    const d = merge(...parts);
    expect(d.hosts).toHaveLength(50_000);
    expect(d.timeline?.at(-1)?.message).toBe('h49999');
  });
});
