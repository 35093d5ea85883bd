// The planner's indexes against the plain computations they replace: HostPool.bestFit against
// Placement.bestFit over the same hosts in the same order, SortedList against a sorted array,
// EventQueue against (time, push order). Random operations from a fixed seed.
import { describe, expect, it } from 'vitest';
import { prng } from '../../src/bench/cloud.js';
import type { GroupRules } from '../../src/domain/constraints.js';
import { EventQueue } from '../../src/planner/heap.js';
import { Placement, type Placeable } from '../../src/planner/placement.js';
import { SortedList } from '../../src/domain/sorted-list.js';

describe('HostPool', () => {
  it('answers best fit as Placement.bestFit does over its hosts in insertion order, as hosts fill, empty, join and leave', () => {
    const rnd = prng(3);
    const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)]!;
    const names = Array.from({ length: 60 }, (_, k) => `h${String(k).padStart(2, '0')}`);
    const placement = new Placement(names.map((name, k) => ({ name, capacity: k % 3 === 0 ? 16 : 8 })));
    const groups: GroupRules[] = [
      { groupId: 'anti', antiAffinity: true, maxPerHost: 1, maxImpacted: 1, recoveryS: 0 },
      { groupId: 'two', antiAffinity: false, maxPerHost: 2, maxImpacted: 1, recoveryS: 0 },
    ];
    const pool = placement.pool(names.filter(() => rnd() < 0.5));
    const order = [...pool];
    const placed: [Placeable, string][] = [];
    let n = 0;
    for (let step = 0; step < 3000; step++) {
      const r = rnd();
      if (r < 0.1) {
        const h = pick(names);
        if (!pool.has(h)) {
          pool.add(h);
          order.push(h);
        }
      } else if (r < 0.2 && order.length) {
        const h = pick(order);
        pool.delete(h);
        order.splice(order.indexOf(h), 1);
      } else if (r < 0.45 && placed.length) {
        const [p, h] = placed.splice(Math.floor(rnd() * placed.length), 1)[0]!;
        placement.remove(p, h);
      } else {
        const inst: Placeable = { id: `i${n++}`, vcpus: pick([1, 2, 2, 4]), group: rnd() < 0.4 ? pick(groups) : null };
        const skip = pick(names);
        const exclude = rnd() < 0.3 ? (h: string) => h === skip : undefined;
        const want = placement.bestFit(inst, order, exclude);
        expect(pool.bestFit(inst, exclude)).toBe(want);
        const h = want ?? (rnd() < 0.2 ? pick(names) : null); // sometimes overcommit a host
        if (h) {
          placement.add(inst, h);
          placed.push([inst, h]);
        }
      }
      expect([...pool]).toEqual(order);
      expect(pool.freeVcpus).toBe(order.reduce((s, h) => s + Math.max(0, placement.free(h)), 0));
    }
  });
});

describe('SortedList', () => {
  it('keeps the order of a sorted array through inserts, deletes and shifts, across chunk splits', () => {
    const rnd = prng(5);
    const list = new SortedList<number>((a, b) => a - b);
    let ref: number[] = [];
    for (let step = 0; step < 5000; step++) {
      const r = rnd();
      if (r < 0.55) {
        const x = Math.floor(rnd() * 100_000);
        if (ref.includes(x)) continue;
        list.insert(x);
        ref = [...ref, x].sort((a, b) => a - b);
      } else if (r < 0.9) {
        const x = ref.length && rnd() < 0.8 ? ref[Math.floor(rnd() * ref.length)]! : -1;
        expect(list.delete(x)).toBe(ref.includes(x));
        ref = ref.filter((y) => y !== x);
      } else {
        expect(list.shift()).toBe(ref.shift());
      }
      expect(list.size).toBe(ref.length);
      expect(list.first()).toBe(ref[0]);
    }
    expect([...list]).toEqual(ref);
    expect(list.find((x) => x % 7 === 3)).toBe(ref.find((x) => x % 7 === 3));
  });
});

describe('EventQueue', () => {
  it('pops by time, then in push order, including events pushed for the time being popped', () => {
    const rnd = prng(9);
    const q = new EventQueue<{ t: number; seq: number }>();
    const all: { t: number; seq: number }[] = [];
    let seq = 0;
    const push = (t: number) => {
      const e = { t, seq: seq++ };
      all.push(e);
      q.push(t, e);
    };
    for (let k = 0; k < 500; k++) push(Math.floor(rnd() * 50));
    const got: { t: number; seq: number }[] = [];
    let now = -1;
    for (let e = q.pop(); e; e = q.pop()) {
      expect(e.t).toBeGreaterThanOrEqual(now);
      now = e.t;
      got.push(e);
      if (got.length < 300 && rnd() < 0.3) push(now + (rnd() < 0.5 ? 0 : Math.floor(rnd() * 5)));
    }
    expect(q.peekTime()).toBeUndefined();
    expect(got).toEqual([...all].sort((a, b) => a.t - b.t || a.seq - b.seq));
  });
});
